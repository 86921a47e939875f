"""Record types and validation: each rule gives its code, names the record and the field,
and carries both languages."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from skillguard.core.testing import make_id_number
from skillguard.ingest.records import RECORD_TYPES, json_schema
from skillguard.ingest.tests.test_pipeline import checkin, client_of, session_of
from skillguard.ingest.validation import validate_records

pytestmark = pytest.mark.django_db


def problems_of(world, records, record_type="checkin", first_line=1):
    valid, problems = validate_records(client_of(world.a), record_type, records, first_line)
    return valid, {i: [p.as_dict() for p in ps] for i, ps in problems}


def only(problems, index=0):
    assert len(problems[index]) == 1, problems[index]
    p = problems[index][0]
    assert p["message_zh"] and p["message_en"]
    return p


def test_every_type_publishes_a_bilingual_schema():
    for name in RECORD_TYPES:
        schema = json_schema(name)
        assert schema["properties"]["external_id"]["maxLength"] == 64
        assert " / " in schema["properties"]["external_id"]["description"]


def test_valid_checkin_passes(world):
    valid, problems = problems_of(world, [checkin(world.a)])
    assert problems == {} and valid[0].refs["session_id"] == session_of(world.a).pk


@pytest.mark.parametrize("change, field, code", [
    ({"kind": None}, "kind", "missing_field"),
    ({"colour": "red"}, "colour", "extra_field"),
    ({"session_sequence": "first"}, "session_sequence", "wrong_type"),
    ({"occurred_at": "2026-01-01T09:00:00"}, "occurred_at", "wrong_type"),
    ({"method": "palm"}, "method", "invalid_code"),
    ({"ip": "999.1.1.1"}, "ip", "wrong_type"),
    ({"external_id": ""}, "external_id", "invalid_value"),
    ({"trainee_id_number": "310104199002010001"}, "trainee_id_number", "invalid_id_number"),
    ({"class_code": "K2000000000000"}, "class_code", "unknown_reference"),
    ({"session_sequence": 9}, "session_sequence", "unknown_reference"),
    ({"class_code": None, "session_sequence": None}, "session_external_id", "missing_field"),
])
def test_rule(world, change, field, code):
    rec = checkin(world.a)
    for k, v in change.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    valid, problems = problems_of(world, [rec], first_line=7)
    assert valid == []
    p = only(problems)
    assert (p["field"], p["code"]) == (field, code)
    assert "#7" in p["record"]


def test_outside_session_window_and_future(world):
    late = checkin(world.a, 1, minutes=3 * 60 + 31)
    edge = checkin(world.a, 2, minutes=3 * 60 + 29)
    early = checkin(world.a, 3, minutes=-31)
    future = checkin(world.a, 4, occurred_at=(timezone.now() + dt.timedelta(minutes=6))
                     .isoformat())
    valid, problems = problems_of(world, [late, edge, early, future])
    assert [v.external_id for v in valid] == ["CI-2"]
    assert only(problems, 0)["code"] == "outside_session_window"
    assert only(problems, 0)["field"] == "occurred_at"
    assert only(problems, 2)["code"] == "outside_session_window"
    codes = {p["code"] for p in problems[3]}
    assert "future_time" in codes


def test_enrolment_scope_and_duplicates(world):
    from skillguard.registry import services
    from skillguard.registry.models import TraineeCategory

    stranger_id = make_id_number("310104", dt.date(1991, 3, 3), 555)
    services.register_trainee(None, name="路人", id_number=stranger_id,
                              category=TraineeCategory.OTHER, institution=world.a.institution)
    recs = [checkin(world.a, 1, trainee_id_number=stranger_id),
            checkin(world.a, 2, trainee=world.b.trainees[0]),
            checkin(world.a, 3), checkin(world.a, 3)]
    valid, problems = problems_of(world, recs)
    assert only(problems, 0)["code"] == "not_enrolled"
    # another institution's trainee: refused like a missing one
    assert (only(problems, 1)["code"], only(problems, 1)["field"]) == \
        ("unknown_reference", "trainee_id_number")
    assert only(problems, 3)["code"] == "duplicate_in_submission"
    assert [v.external_id for v in valid] == ["CI-3"]


def test_trainee_record_rules(world):
    recs = [{"external_id": "T-1", "name": "甲", "id_number": "31010419900201000X",
             "category": "pirate", "residence_district": "999999", "phone": "123"}]
    _valid, problems = problems_of(world, recs, "trainee")
    got = {(p["field"], p["code"]) for p in problems[0]}
    assert ("category", "invalid_code") in got
    recs[0]["category"] = "student"
    _valid, problems = problems_of(world, recs, "trainee")
    got = {(p["field"], p["code"]) for p in problems[0]}
    assert got == {("id_number", "invalid_id_number"), ("phone", "invalid_phone"),
                   ("residence_district", "invalid_code")}


def test_unknown_type(world):
    _valid, problems = problems_of(world, [{"external_id": "x"}], "spaceship")
    assert only(problems)["code"] == "unknown_record_type"

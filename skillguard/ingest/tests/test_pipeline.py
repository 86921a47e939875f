"""The record pipeline: idempotency, versioning, facts by COPY, scope, atomicity."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from skillguard.attendance.models import CheckIn
from skillguard.audit.models import AuditEvent
from skillguard.ingest import pipeline
from skillguard.ingest.models import QuarantinedRecord, RecordIdentity, RecordVersion
from skillguard.ingest.pipeline import ingest_records
from skillguard.ingest.services import store_submission
from skillguard.registry.models import Enrolment, Session, Trainee
from skillguard.trust.testing import docking_client_for

pytestmark = pytest.mark.django_db


# ----------------------------------------------------------------- helpers (used by others)

def client_of(side):
    return docking_client_for(side.institution)


def submit(client, record_type, records, **kw):
    body = json.dumps({"records": records}, default=str).encode()
    ref = store_submission(client, {"key_id": "test", "signature_input": "sg=()",
                                    "signature": "sg=:x:"}, "POST",
                           f"/api/docking/v1/records/{record_type}", "application/json", body,
                           len(records))
    return ref, ingest_records(client, ref, record_type, records, **kw)


def session_of(side) -> Session:
    return side.approved_class.sessions.get(sequence=1)


def id_number_of(trainee) -> str:
    from skillguard.core.crypto import unseal

    return unseal(trainee.id_number_enc)


def checkin(side, n=1, *, minutes=5, trainee=None, **over):
    s = session_of(side)
    rec = {"external_id": f"CI-{n}", "class_code": side.approved_class.code,
           "session_sequence": 1, "trainee_id_number": id_number_of(trainee or side.trainees[0]),
           "kind": "in", "method": "face",
           "occurred_at": (s.starts_at + dt.timedelta(minutes=minutes)).isoformat(),
           "device_id": "dev-1", "latitude": "31.200000", "longitude": "121.400000",
           "ip": "10.0.0.1"}
    rec.update(over)
    return rec


def counts():
    return (CheckIn.objects.count(), RecordIdentity.objects.count(),
            QuarantinedRecord.objects.count(), RecordVersion.objects.count())


# ----------------------------------------------------------------- tests

def test_checkins_are_copied_and_resending_changes_nothing(world):
    client = client_of(world.a)
    records = [checkin(world.a, k, trainee=t) for k, t in enumerate(world.a.trainees)]
    ref, out = submit(client, "checkin", records)
    assert (out.accepted, out.unchanged, out.rejected) == (3, 0, 0)
    assert [r.status for r in out.results] == ["accepted"] * 3
    rows = list(CheckIn.objects.order_by("external_id"))
    assert len(rows) == 3 and rows[0].submission_id == ref.id
    assert rows[0].session_id == session_of(world.a).pk
    assert rows[0].enrolment_id == Enrolment.objects.get(
        training_class=world.a.approved_class, trainee=world.a.trainees[0]).pk
    ident = RecordIdentity.objects.get(external_id="CI-0")
    assert ident.target == f"attendance_checkin:{rows[0].id}" and ident.version == 1
    before = counts()
    _ref2, again = submit(client, "checkin", records)
    assert (again.accepted, again.unchanged, again.rejected) == (0, 3, 0)
    assert counts() == before
    # one summary audit event per call, not one per record
    assert AuditEvent.objects.filter(object_type="ingest.submission").count() == 2


def test_changed_checkin_becomes_version_two(world):
    client = client_of(world.a)
    ref1, _ = submit(client, "checkin", [checkin(world.a, minutes=5)])
    ref2, out = submit(client, "checkin", [checkin(world.a, minutes=7)])
    assert out.results[0].status == "updated" and out.results[0].version == 2
    rows = list(CheckIn.objects.order_by("version"))
    assert [(r.version, r.superseded) for r in rows] == [(1, True), (2, False)]
    ident = RecordIdentity.objects.get()
    assert ident.version == 2 and ident.first_submission_id == ref1.id
    assert ident.last_submission_id == ref2.id
    old = RecordVersion.objects.get()
    assert old.version == 1 and old.submission_id == ref1.id
    assert old.payload["occurred_at"] == checkin(world.a, minutes=5)["occurred_at"]


def test_out_of_scope_session_is_unknown_and_nothing_written(world):
    client = client_of(world.a)
    before = CheckIn.objects.count(), RecordIdentity.objects.count()
    _ref, out = submit(client, "checkin", [checkin(world.b)])
    assert out.rejected == 1
    problems = out.results[0].problems
    assert problems[0]["code"] == "unknown_reference"
    assert problems[0]["field"] == "class_code"
    assert (CheckIn.objects.count(), RecordIdentity.objects.count()) == before
    assert QuarantinedRecord.objects.get().problems == problems


def test_exception_mid_pipeline_leaves_nothing(world, monkeypatch):
    client = client_of(world.a)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_copy", boom)
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(client, "checkin", [checkin(world.a)])
    assert CheckIn.objects.count() == 0
    assert RecordIdentity.objects.count() == 0
    assert QuarantinedRecord.objects.count() == 0


def test_exception_inside_callers_transaction_rolls_back_only_the_chunk(world, monkeypatch):
    client = client_of(world.a)
    submit(client, "checkin", [checkin(world.a, 1)])
    monkeypatch.setattr(pipeline, "_copy", lambda *a: (_ for _ in ()).throw(RuntimeError()))
    with pytest.raises(RuntimeError):
        submit(client, "checkin", [checkin(world.a, 2)])
    assert list(RecordIdentity.objects.values_list("external_id", flat=True)) == ["CI-1"]
    assert CheckIn.objects.count() == 1


def test_registry_records_go_through_services(world):
    from skillguard.core.testing import make_id_number

    client = client_of(world.a)
    new_id = make_id_number("310104", dt.date(1995, 5, 5), 321)
    _ref, out = submit(client, "trainee", [{
        "external_id": "T-1", "name": "新学员", "id_number": new_id, "phone": "13800000001",
        "category": "unemployed", "residence_district": "310104"}])
    assert out.results[0].status == "accepted", out.results[0].problems
    trainee = Trainee.objects.get(registered_by=world.a.institution, name="新学员")
    assert RecordIdentity.objects.get(external_id="T-1").target == \
        f"registry_trainee:{trainee.pk}"
    _ref, out = submit(client, "roster", [{
        "external_id": "R-1", "class_code": world.a.draft_class.code,
        "trainee_id_number": new_id, "trainee_name": "新学员"}])
    assert out.results[0].status == "accepted", out.results[0].problems
    assert Enrolment.objects.filter(training_class=world.a.draft_class, trainee=trainee).exists()
    # The approved class is no longer editable: the service refuses, the record is quarantined.
    _ref, out = submit(client, "roster", [{
        "external_id": "R-2", "class_code": world.a.approved_class.code,
        "trainee_id_number": new_id, "trainee_name": "新学员"}])
    assert out.results[0].status == "rejected"
    assert out.results[0].problems[0]["code"] == "not_editable"
    assert not RecordIdentity.objects.filter(external_id="R-2").exists()
    assert QuarantinedRecord.objects.filter(external_id="R-2", status="open").exists()


def test_session_record_and_checkin_by_session_external_id(world):
    client = client_of(world.a)
    cls = world.a.draft_class
    start = timezone.make_aware(dt.datetime.combine(cls.start_date, dt.time(14)))
    _ref, out = submit(client, "session", [{
        "external_id": "S-2", "class_code": cls.code, "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=3)).isoformat(),
        "teacher_id_number": id_number_of(world.a.teacher), "room": "101"}])
    assert out.results[0].status == "accepted", out.results[0].problems
    session = Session.objects.get(training_class=cls, sequence=2)
    assert session.room_id == world.a.room.pk
    # a check-in naming that session by its external id resolves; in the future → refused
    rec = checkin(world.a, 9, session_external_id="S-2", class_code=None, session_sequence=None,
                  occurred_at=(start + dt.timedelta(minutes=1)).isoformat())
    _ref, out = submit(client, "checkin", [rec])
    codes = {p["code"] for p in out.results[0].problems}
    assert codes == {"future_time"}


def test_partitions_exist_for_checkin_month(world):
    client = client_of(world.a)
    submit(client, "checkin", [checkin(world.a)])
    month = timezone.localtime(session_of(world.a).starts_at).strftime("%Y%m")
    with connection.cursor() as cur:
        cur.execute(f"select count(*) from attendance_checkin_{month}")
        assert cur.fetchone()[0] == 1

"""The bulk check-in path (ingest.fastpath) against the pipeline it stands in for.

Property: whatever a record looks like, the fast path either declines it (it then goes the
pipeline's way) or gives exactly the schema's verdict, values and canonical hash.
Behaviour: a batch mixing every kind of good, bad and odd record gives the same counters,
quarantine, identities, versions and fact rows with the fast path on and off."""
from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from skillguard.core.testing import make_id_number
from skillguard.ingest import batches, fastpath
from skillguard.ingest.models import QuarantinedRecord, RecordIdentity, RecordVersion
from skillguard.ingest.records import CheckInRecord
from skillguard.ingest.tests.batch_helpers import VERIFIED, jsonl, make_client, trainee_ids
from skillguard.ingest.validation import canonical

VALID_ID = make_id_number("310104", dt.date(1990, 2, 1), 100)
PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
ODD_TEXT = st.one_of(
    st.text(PRINTABLE, max_size=70), st.text(max_size=12),  # any unicode, controls included
    st.sampled_from(["", " x", "x ", "\tx", "x\n", "a\"b", "a\\b", "签到机", "\u3000x",
                     "\x7f", "é"]))
ZONES = [dt.timezone(dt.timedelta(hours=8)), dt.timezone.utc,
         dt.timezone(dt.timedelta(hours=-5, minutes=-30)), dt.timezone(dt.timedelta(hours=14)),
         dt.timezone(dt.timedelta(hours=15)), dt.timezone(dt.timedelta(hours=23, minutes=59)),
         dt.timezone(dt.timedelta(seconds=30)), None]


@st.composite
def times(draw):
    when = draw(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                             timezones=st.sampled_from(ZONES)))
    form = draw(st.sampled_from(["iso", "iso", "z", "space", "seconds", "micro", "lower", "text",
                                 "number", "date"]))
    if form == "z" and when.tzinfo is not None:
        return when.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat() \
            .replace("+00:00", "Z")
    if form == "space":
        return when.replace(microsecond=0).isoformat(sep=" ")
    if form == "micro":
        return when.isoformat()
    if form == "lower":
        return when.replace(microsecond=0).isoformat().lower()
    if form == "text":
        return draw(st.text(PRINTABLE, min_size=20, max_size=25))
    if form == "number":
        return draw(st.one_of(st.integers(), st.floats()))
    if form == "date":
        return when.date().isoformat()
    return when.replace(microsecond=0).isoformat()


COORDINATE = st.one_of(
    st.none(), st.floats(min_value=-200, max_value=200), st.floats(), st.integers(-200, 200),
    st.decimals(min_value=-200, max_value=200, places=7, allow_nan=False).map(str),
    st.booleans(), st.sampled_from([31.230416, 121.4737, 0.00001, 90.0, -180.0, 1e-7, 1e20]),
    st.sampled_from([[31.2], {"lat": 31.2}]))
IP = st.one_of(st.none(), st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
               st.sampled_from(["010.0.0.1", "10.0.0.256", "::ffff:10.0.0.1", " 10.0.0.1",
                                "1.2.3"]), ODD_TEXT, st.integers(), st.just(["10.0.0.1"]))
OPTIONAL = {"class_code": st.one_of(st.none(), st.just("K2026310104000012"), ODD_TEXT),
            "session_sequence": st.one_of(st.none(), st.integers(-3, 2**40), st.booleans(),
                                          st.floats(0, 5), st.just("2")),
            "session_external_id": st.one_of(st.none(), st.just("s-1"), ODD_TEXT),
            "device_id": st.one_of(st.just("dev-1"), ODD_TEXT, st.none(), st.integers()),
            "latitude": COORDINATE, "longitude": COORDINATE, "ip": IP}


PLAIN_VALUES = {
    "external_id": st.text(PRINTABLE, min_size=1, max_size=64).map(str.strip).filter(bool),
    "trainee_id_number": st.just(VALID_ID), "kind": st.sampled_from(["in", "out"]),
    "method": st.sampled_from(["face", "qr", "gps", "card"]),
    "class_code": st.one_of(st.none(), st.just("K2026310104000012")),
    "session_sequence": st.one_of(st.none(), st.integers(1, 10_000)),
    "session_external_id": st.one_of(st.none(), st.just("s-1")),
    "device_id": st.text(PRINTABLE, max_size=64).map(str.strip),
    "latitude": st.one_of(st.none(), st.just(31.230416)),
    "longitude": st.one_of(st.none(), st.just(121.4737)),
    "ip": st.one_of(st.none(), st.ip_addresses(v=4).map(str))}
ODD_VALUES = {"external_id": st.one_of(ODD_TEXT, st.integers()),
              "trainee_id_number": st.one_of(ODD_TEXT, st.just(VALID_ID[:17] + "x")),
              "kind": st.sampled_from(["IN", "", 1, None, ["in"], {"in": 1}]),
              "method": st.sampled_from(["palm", "Face", None, ["face"]]), **OPTIONAL}


@st.composite
def checkins(draw):
    """Mostly plain records with a few fields made odd: the fast path must be right on both
    sides of its boundary."""
    record = {name: draw(values) for name, values in PLAIN_VALUES.items()}
    record["occurred_at"] = draw(times())
    for name in draw(st.lists(st.sampled_from(sorted(ODD_VALUES)), max_size=2)):
        record[name] = draw(ODD_VALUES[name])
    for name in list(record):
        if record[name] is None and draw(st.booleans()):
            del record[name]  # absent rather than null
    if draw(st.integers(0, 19)) == 0:
        del record[draw(st.sampled_from(sorted(record)))]
    if draw(st.integers(0, 19)) == 0:
        record["unexpected"] = 1
    return record


def _schema(raw):
    try:
        return CheckInRecord.model_validate(raw)
    except ValidationError:
        return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(checkins())
def test_a_plain_record_has_the_schemas_verdict_values_and_hash(raw):
    found = fastpath.plain(raw)
    model = _schema(raw)
    if found is None:
        return  # declined: the pipeline decides
    event("plain")
    assert model is not None, "the fast path took a record the schema refuses"
    ext, code, seq, session_ext, tid, kind, method, when, device, extras, payload, sha = found
    dumped = model.model_dump(mode="json")
    assert payload == dumped
    assert sha == canonical(dumped)[1]
    assert (ext, code, seq, session_ext, tid, kind, method, device) == (
        model.external_id, model.class_code, model.session_sequence, model.session_external_id,
        model.trainee_id_number, model.kind, model.method, model.device_id)
    assert when == model.occurred_at and when.utcoffset() == model.occurred_at.utcoffset()
    assert extras == (model.latitude, model.longitude, model.ip)


@settings(max_examples=300, deadline=None)
@given(when=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 1, 1),
                         timezones=st.sampled_from(ZONES[:4])),
       seq=st.integers(1, 10_000), device=st.text(PRINTABLE, max_size=64).map(str.strip),
       gps=st.booleans(), ip=st.ip_addresses(v=4))
def test_the_records_clients_send_are_plain(when, seq, device, gps, ip):
    """The fast path must not decline ordinary records (else it is never used)."""
    when = when.replace(microsecond=0)
    text = when.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    raw = {"external_id": f"c-{seq}", "class_code": "K2026310104000012",
           "session_sequence": seq, "trainee_id_number": VALID_ID, "kind": "in",
           "method": "gps" if gps else "face", "occurred_at": text, "device_id": device,
           "ip": str(ip)}
    if gps:
        raw.update(latitude=31.230416, longitude=121.4737)
    found = fastpath.plain(raw)
    assert found is not None
    assert found[-1] == canonical(CheckInRecord.model_validate(raw).model_dump(mode="json"))[1]


def test_odd_forms_are_declined_and_left_to_the_pipeline():
    base = {"external_id": "c-1", "class_code": "K1", "session_sequence": 1,
            "trainee_id_number": VALID_ID, "kind": "in", "method": "face",
            "occurred_at": "2026-11-21T09:00:00+08:00"}
    assert fastpath.plain(base) is not None
    for change in ({"occurred_at": "2026-11-21T01:00:00+00:00"},  # the schema writes Z
                   {"occurred_at": "2026-11-21 09:00:00+08:00"},
                   {"occurred_at": "2026-11-21T09:00:00.5+08:00"},
                   {"external_id": " c-1"}, {"device_id": "签到机"}, {"session_sequence": True},
                   {"session_sequence": 2.0}, {"latitude": 91}, {"ip": "not an ip"},
                   {"extra": 1}):
        assert fastpath.plain({**base, **change}) is None, change
    assert fastpath.plain({**base, "ip": "10.0.0.1"})[9][2] == ipaddress.IPv4Address("10.0.0.1")


# ----------------------------------------------------------------- the two paths, end to end


def _mixed_records(world):
    """Every kind of record a check-in batch meets, each kind several times."""
    from skillguard.registry import services

    session = world.a.approved_class.sessions.order_by("sequence").first()
    start = dt.datetime.fromisoformat(session.starts_at.isoformat()).astimezone(
        dt.timezone(dt.timedelta(hours=8)))
    ids = trainee_ids(world)
    stranger_id = make_id_number("310104", dt.date(1991, 3, 3), 300)
    stranger, _ = services.register_trainee(
        None, name="未报名学员", id_number=stranger_id,
        phone="13700009999", category="unemployed", residence_district=world.a.district,
        institution=world.a.institution)
    services.enrol_trainee(None, world.a.draft_class, stranger)  # known, not in this class
    future = world.a.draft_class.sessions.order_by("sequence").first()
    code, seq = world.a.approved_class.code, session.sequence
    out = []
    for i in range(12):
        at = (start + dt.timedelta(minutes=i)).isoformat()
        good = {"external_id": f"g{i}", "class_code": code, "session_sequence": seq,
                "trainee_id_number": ids[i % 3], "kind": "in", "method": "face",
                "occurred_at": at, "device_id": "dev-1"}
        out += [
            good,
            {**good, "external_id": f"gps{i}", "method": "gps",
             "latitude": round(31.2 + i / 1000, 6), "longitude": 121.4, "ip": f"10.0.0.{i + 1}"},
            {**good, "external_id": f" sp{i} "},  # valid, not plain: spaces stripped
            {**good, "external_id": f"utc{i}", "occurred_at": (
                start + dt.timedelta(minutes=i)).astimezone(dt.timezone.utc).isoformat()},
            {**good, "external_id": f"bad{i}", "method": "palm"},  # schema
            {**good, "external_id": f"arr{i}", "kind": ["in"], "latitude": [31]},  # not scalars
            {**good, "external_id": f"seq{i}", "session_sequence": 99},  # unknown session
            {**good, "external_id": f"id{i}", "trainee_id_number": ids[0][:17] + (
                "0" if ids[0][17] != "0" else "1")},  # checksum
            {**good, "external_id": f"who{i}",
             "trainee_id_number": make_id_number("310104", dt.date(1992, 4, 4), 400 + i)},
            {**good, "external_id": f"enr{i}", "trainee_id_number": stranger_id},
            {**good, "external_id": f"win{i}",
             "occurred_at": (start - dt.timedelta(hours=3)).isoformat()},  # outside window
            {**good, "external_id": f"fut{i}", "session_sequence": future.sequence,
             "class_code": world.a.draft_class.code,
             "occurred_at": future.starts_at.isoformat()},  # in the future
            {**good, "external_id": f"ext{i}", "class_code": None, "session_sequence": None,
             "session_external_id": "nobody"},
        ]
    return out


def _run(client, records, path="/t"):
    batch, error = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                        jsonl(records), path=path, enqueue=False)
    assert error is None
    assert batches.run_batch(batch.pk, chunk_lines=25) == "done"
    batch.refresh_from_db()
    return batch


def _state(client, batch):
    from django.db import connection

    quarantine = sorted(
        (q.line_number, q.external_id, tuple(sorted(p["code"] for p in q.problems)))
        for q in QuarantinedRecord.objects.filter(batch=batch))
    identities = sorted(RecordIdentity.objects.filter(client=client).values_list(
        "external_id", "version", "payload_sha256", "district_id", "institution_id"))
    versions = sorted(RecordVersion.objects.filter(identity__client=client).values_list(
        "identity__external_id", "version"))
    with connection.cursor() as cur:
        cur.execute("SELECT external_id, district_id, occurred_at, kind, method, session_id, "
                    "training_class_id, institution_id, enrolment_id, trainee_id, device_id, "
                    "latitude, longitude, host(ip), version, superseded FROM attendance_checkin "
                    "WHERE source_client_id = %s ORDER BY external_id, version", [client.pk])
        facts = cur.fetchall()
    counters = (batch.accepted, batch.unchanged, batch.rejected, batch.processed, batch.cursor)
    return counters, quarantine, identities, versions, facts


@pytest.mark.django_db
def test_both_paths_give_the_same_counters_quarantine_identities_and_rows(world, monkeypatch):
    records = _mixed_records(world)
    changed = [{**r, "device_id": "dev-2"} if i % 5 == 0 else r for i, r in enumerate(records)]
    results = {}
    for on in ("1", "0"):
        monkeypatch.setenv("SKILLGUARD_INGEST_FAST_PATH", on)
        client = make_client(world, name=f"签到系统{on}")
        results[on] = [
            _state(client, _run(client, records)),
            _state(client, _run(client, records, "/again")),  # idempotent: nothing new
            _state(client, _run(client, changed, "/changed"))]  # changes become versions
    fast, slow = results["1"], results["0"]
    for name, f, s in zip(("first", "again", "changed"), fast, slow):
        assert f == s, name
    counters, quarantine, identities, versions, facts = fast[0]
    assert counters[:3] == (4 * 12, 0, 9 * 12) and len(quarantine) == 9 * 12
    codes = {c for _line, _ext, cs in quarantine for c in cs}
    assert codes == {"invalid_code", "wrong_type", "unknown_reference", "invalid_id_number",
                     "not_enrolled", "outside_session_window", "future_time"}
    assert fast[1][0][:3] == (0, 4 * 12, 9 * 12)
    assert fast[2][0][0] > 0 and fast[2][3]  # some updated, with versions kept


@pytest.mark.django_db
def test_duplicates_in_a_chunk_go_the_pipelines_way_whole(world):
    records = _mixed_records(world)[:6]
    client = make_client(world)
    batch = _run(client, records + [records[0]])
    assert (batch.accepted, batch.rejected) == (4, 3)  # 2 invalid + the duplicate
    problems = QuarantinedRecord.objects.get(batch=batch, line_number=7).problems
    assert [p["code"] for p in problems] == ["duplicate_in_submission"]

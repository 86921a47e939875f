"""Personal data at rest in the docking tables: sealed bodies and payloads, masked on
screen, revealed only with a logged read, still verifiable (non-repudiation), rotatable."""
from __future__ import annotations

import base64
import json
import os
import secrets

import pytest
from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.crypto import lookup_hash
from skillguard.core.testing import make_id_number
from skillguard.ingest import batches, sealing
from skillguard.ingest.models import QuarantinedRecord, RecordVersion, Submission
from skillguard.ingest.tests.batch_helpers import (
    VERIFIED,
    checkin_counts,
    checkin_records,
    jsonl,
    make_client,
    trainee_ids,
)
from skillguard.ingest.tests.test_pipeline import checkin, client_of, submit
from skillguard.registry.models import Trainee
from skillguard.trust.testing import Signer, add_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(sealing, "SEGMENT", 512)
    monkeypatch.setattr(sealing, "SEALED_SEGMENT", 512 + sealing.OVERHEAD)


def test_body_is_sealed_in_segments_that_cannot_be_moved_or_cut(small_segments):
    body = os.urandom(1300)
    key_id, sealed = sealing.seal_body(body)
    assert len(sealed) == 1300 + 3 * sealing.OVERHEAD
    assert sealing.plain_size(key_id, len(sealed)) == 1300
    assert sealing.open_body(key_id, sealed) == body
    seg = sealing.SEALED_SEGMENT
    swapped = sealed[seg:2 * seg] + sealed[:seg] + sealed[2 * seg:]
    with pytest.raises(InvalidTag):
        sealing.open_body(key_id, swapped)
    with pytest.raises(InvalidTag):  # dropping the last segment is noticed too
        sealing.open_body(key_id, sealed[:2 * seg])
    key_id, empty = sealing.seal_body(b"")
    assert sealing.open_body(key_id, empty) == b"" and sealing.plain_size(key_id, len(empty)) == 0
    assert sealing.open_body("", b"legacy") == b"legacy"  # stored before sealing


def test_batch_worker_reads_a_sealed_body_segment_by_segment(world, small_segments):
    client = make_client(world)
    records = checkin_records(world, 40, bad_every=8)
    body = jsonl(records)
    batch, error = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                        body, path="/test", enqueue=False)
    assert error is None and batch.total == 40
    from skillguard.ingest.bodies import stored_body

    stored = stored_body(Submission.objects.get(id=batch.submission_id))
    assert len(stored) > 4 * sealing.SEALED_SEGMENT  # several segments
    for id_number in trainee_ids(world):
        assert id_number.encode() not in stored
    assert batches.run_batch(batch.pk, chunk_lines=7) == "done"
    batch.refresh_from_db()
    assert (batch.processed, batch.accepted, batch.rejected) == (40, 35, 5)
    assert checkin_counts(client) == (35, 35)


def test_quarantined_payload_is_masked_and_sealed(world):
    client = client_of(world.a)
    full_id = trainee_ids(world)[0]
    record = checkin(world.a, method="telepathy", trainee_id_number=full_id)
    submit(client, "checkin", [record])
    entry = QuarantinedRecord.objects.get()
    assert entry.payload["trainee_id_number"] == full_id[:3] + "*" * 11 + full_id[-4:]
    assert full_id not in json.dumps(entry.payload) and full_id not in entry.payload_enc
    assert sealing.full_payload(entry) == record


def _trainee_record(world, **over) -> dict:
    rec = {"external_id": "T-1", "name": "王小明",
           "id_number": make_id_number(world.a.district.code, __import__("datetime").date(
               1991, 3, 4), 321), "phone": "13912345678", "category": "pirate"}
    rec.update(over)
    return rec


def test_ui_shows_masked_reveals_with_a_logged_read_and_corrects_without_revealing(
        world, login):
    client = client_of(world.a)
    bad = _trainee_record(world)
    submit(client, "trainee", [bad])
    entry = QuarantinedRecord.objects.get()
    url = reverse("ingest:quarantine_detail", args=[entry.pk])
    http = login(world.a.users["institution_admin"])
    page = http.get(url).content.decode()
    masked_id = bad["id_number"][:3] + "*" * 11 + bad["id_number"][-4:]
    assert masked_id in page and bad["id_number"] not in page
    assert "139****5678" in page and bad["phone"] not in page

    reads = AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL,
                                      object_type="ingest.quarantinedrecord")
    assert not reads.exists()
    revealed = http.post(url, {"reveal": "1"})
    assert revealed.status_code == 200
    assert bad["id_number"] in revealed.content.decode()
    assert reads.filter(object_id=str(entry.pk)).count() == 1
    # correct only the category; the masked ID number and phone are sent back as shown
    form = {"external_id": "T-1", "name": bad["name"], "id_number": masked_id,
            "phone": "139****5678", "category": "student"}
    res = http.post(url, form)
    assert res.status_code == 302, res.content.decode()[-2000:]
    entry.refresh_from_db()
    assert entry.status == "resubmitted"
    trainee = Trainee.objects.get(id_number_hash=lookup_hash(bad["id_number"]))
    assert trainee.phone_hash == lookup_hash(bad["phone"]) and trainee.category == "student"
    # the UI submission is sealed like any other
    ui = Submission.objects.get(id=entry.resolved_by_submission_id)
    assert bad["id_number"].encode() not in bytes(ui.body)
    assert json.loads(sealing.submission_body(ui))["records"][0]["id_number"] == bad["id_number"]

    # a district supervisor may look (masked) but not reveal
    sup = login(world.a.users["district_supervisor"])
    assert bad["id_number"] not in sup.get(url).content.decode()
    assert sup.post(url, {"reveal": "1"}).status_code == 403
    assert reads.count() == 1


def test_a_changed_value_is_not_replaced_by_the_original():
    original = {"id_number": "310104199001011234", "phone": "13912345678",
                "teacher_id_numbers": ["310104199001011234", "310104199001015678"]}
    masked = sealing.mask_payload(original)
    assert masked["teacher_id_numbers"] == ["310***********1234", "310***********5678"]
    assert sealing.restore_masked(masked, original) == original
    edited = {**masked, "phone": "13800001111",
              "teacher_id_numbers": [masked["teacher_id_numbers"][0], "3101041990010199"]}
    assert sealing.restore_masked(edited, original) == {
        **original, "phone": "13800001111",
        "teacher_id_numbers": ["310104199001011234", "3101041990010199"]}


def test_earlier_versions_are_masked_and_sealed(world):
    client = client_of(world.a)
    first = checkin(world.a, minutes=5)
    submit(client, "checkin", [first])
    submit(client, "checkin", [checkin(world.a, minutes=6)])
    version = RecordVersion.objects.get()
    assert version.payload["trainee_id_number"].count("*") == 11
    assert first["trainee_id_number"] not in version.payload_enc
    assert sealing.full_payload(version) == first


@pytest.fixture
def signer(world, client):
    key, private = add_key(client_of(world.a))
    return Signer(client, key.key_id, private)


def test_stored_submission_still_proves_what_was_signed(world, signer):
    res = signer.request("POST", "/api/docking/v1/records/checkin",
                         json={"records": [checkin(world.a)]})
    assert res.status_code == 200
    stored = Submission.objects.get(id=res.json()["submission_id"])
    assert sealing.verify_submission(stored) == {"digest_ok": True, "signature_ok": True}
    info = signer.request("GET", f"/api/docking/v1/submissions/{stored.id}").json()
    assert info["body_size"] == len(sealing.submission_body(stored))
    # a body swapped for another sealed body (same key) no longer matches what was signed
    _key, other = sealing.seal_body(json.dumps({"records": []}).encode())
    stored.body = other
    assert sealing.verify_submission(stored) == {"digest_ok": False, "signature_ok": False}


def test_rotation_reseals_bodies_and_payloads(world):
    client = client_of(world.a)
    submit(client, "checkin", [checkin(world.a, method="telepathy")])
    submit(client, "checkin", [checkin(world.a, 2, minutes=5)])
    submit(client, "checkin", [checkin(world.a, 2, minutes=6)])
    bodies = {s.id: sealing.submission_body(s) for s in Submission.objects.all()}
    payloads = {q.pk: sealing.full_payload(q) for q in QuarantinedRecord.objects.all()}
    versions = {v.pk: sealing.full_payload(v) for v in RecordVersion.objects.all()}
    assert bodies and payloads and versions
    new_key = base64.b64encode(secrets.token_bytes(32)).decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=f"{settings.FIELD_ENCRYPTION_KEYS},"
                                                 f"dock2:{new_key}"):
        call_command("rotate_field_keys", stdout=open(os.devnull, "w"))
    with override_settings(FIELD_ENCRYPTION_KEYS=f"dock2:{new_key}"):  # the old key removed
        assert {s.id: s.body_key for s in Submission.objects.all()} == \
            {pk: "dock2" for pk in bodies}
        assert {s.id: sealing.submission_body(s) for s in Submission.objects.all()} == bodies
        assert {q.pk: sealing.full_payload(q) for q in QuarantinedRecord.objects.all()} == \
            payloads
        assert {v.pk: sealing.full_payload(v) for v in RecordVersion.objects.all()} == versions



def test_rows_stored_before_sealing_are_sealed_by_the_migration_step(world):
    """What migration 0002 runs (``sealing.rotate``): clear payloads and bodies get sealed."""
    import uuid

    from django.db import connection
    from django.utils import timezone

    client = client_of(world.a)
    plain = {"external_id": "OLD-1", "trainee_id_number": "310104199001011234",
             "phone": "13912345678"}
    entry = QuarantinedRecord.objects.create(
        client=client, district_id=client.district_key, institution_id=client.institution_id,
        record_type="checkin", external_id="OLD-1", submission_id=uuid.uuid4(), payload=plain,
        problems=[])
    body = json.dumps({"records": [plain]}).encode()
    with connection.cursor() as cur:
        cur.execute("INSERT INTO ingest_submission (id, district_id, received_at, client_id, "
                    "key_id, method, path, content_type, body, body_sha256, signature_input, "
                    "signature) VALUES (%s, 0, %s, %s, 'old', 'POST', '/x', 'application/json', "
                    "%s, '', '', '')", [uuid.uuid4(), timezone.now(), client.pk, body])
    assert sealing.rotate() == 2
    entry.refresh_from_db()
    assert entry.payload["trainee_id_number"] == "310***********1234"
    assert entry.payload["phone"] == "139****5678"
    assert sealing.full_payload(entry) == plain
    stored = Submission.objects.get(key_id="old")
    assert stored.body_key and b"310104199001011234" not in bytes(stored.body)
    assert sealing.submission_body(stored) == body
    assert sealing.rotate() == 0  # idempotent


@pytest.fixture
def small_parts(small_segments, monkeypatch):
    """Parts of 3 sealed segments of 512 bytes: a few KB make a many-part body."""
    from skillguard.ingest import bodies

    monkeypatch.setattr(bodies, "PART_SEGMENTS", 3)
    return bodies


def test_large_body_is_stored_in_parts_and_read_back_whole(world, small_parts):
    """A body larger than one part goes to ingest_submissionpart rows (PostgreSQL cannot
    take a single bytea of a few hundred MB); the batch worker, verification, the previous
    payloads of a correction and key rotation all read it back exactly."""
    from django.db import connection

    client = make_client(world)
    records = checkin_records(world, 60, bad_every=9)
    body = jsonl(records)
    batch, error = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                        body, path="/test", enqueue=False)
    assert error is None and batch.total == 60
    stored = Submission.objects.get(id=batch.submission_id)
    sealed_size = sealing.plain_size(stored.body_key, stored.body_stored_size)
    assert sealed_size == len(body)
    assert bytes(stored.body) == b"" and stored.body_parts > 3
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), sum(octet_length(data)) FROM ingest_submissionpart "
                    "WHERE submission_id = %s", [stored.id])
        parts, size = cur.fetchone()
        cur.execute("SELECT string_agg(encode(data, 'escape'), '') FROM ingest_submissionpart "
                    "WHERE submission_id = %s", [stored.id])
        stored_text = cur.fetchone()[0]
    assert (parts, size) == (stored.body_parts, stored.body_stored_size)
    for id_number in trainee_ids(world):  # sealed in the parts too
        assert id_number not in stored_text
    assert sealing.submission_body(stored) == body
    assert sealing.verify_submission(stored)["digest_ok"] is True
    # The worker reads it segment by segment across the parts.
    assert batches.run_batch(batch.pk, chunk_lines=11) == "done"
    batch.refresh_from_db()
    assert (batch.processed, batch.accepted, batch.rejected) == (60, 54, 6)  # every 9th bad
    assert checkin_counts(client) == (54, 54)
    # Rotation re-seals every part with the new key; the body reads back the same.
    new_key = base64.b64encode(secrets.token_bytes(32)).decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=f"{settings.FIELD_ENCRYPTION_KEYS},"
                                                 f"dock3:{new_key}"):
        assert sealing.rotate() >= 1
    with override_settings(FIELD_ENCRYPTION_KEYS=f"dock3:{new_key}"):
        again = Submission.objects.get(id=batch.submission_id)
        assert again.body_key == "dock3" and again.body_parts == stored.body_parts
        assert sealing.submission_body(again) == body


def test_small_body_stays_inline(world, small_parts):
    client = make_client(world)
    body = jsonl(checkin_records(world, 1))
    batch, error = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                        body, path="/test", enqueue=False)
    assert error is None
    stored = Submission.objects.get(id=batch.submission_id)
    assert stored.body_parts == 0 and len(bytes(stored.body)) == stored.body_stored_size
    assert sealing.submission_body(stored) == body

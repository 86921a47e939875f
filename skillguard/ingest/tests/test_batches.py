"""Large uploads: file checks, chunked processing, counters, quarantine, pages."""
from __future__ import annotations

import csv
import io

import pytest

from skillguard.ingest import batches
from skillguard.ingest.models import BatchStatus, IngestBatch, QuarantinedRecord
from skillguard.ingest.tests.batch_helpers import (
    VERIFIED,
    checkin_counts,
    checkin_records,
    jsonl,
    make_client,
)

pytestmark = pytest.mark.django_db


def _create(client, body, content_type="application/x-ndjson", record_type="checkin"):
    return batches.create_batch(client, VERIFIED, record_type, content_type, body,
                                path="/test", enqueue=False)


def _csv_body(records, encoding="utf-8", chinese=False):
    fields = list(records[0])
    words = {v: k for k, v in batches.header_words("checkin").items()}
    out = io.StringIO()
    writer = csv.writer(out)
    if chinese:
        from skillguard.ingest.records import CheckInRecord

        writer.writerow([CheckInRecord.model_fields[f].description.rsplit(" / ", 1)[1]
                         for f in fields])
    else:
        writer.writerow(fields)
    for r in records:
        writer.writerow([r[f] for f in fields])
    assert words  # header words are built
    return out.getvalue().encode(encoding)


def test_jsonl_batch_processed_in_chunks_with_exact_counters(world):
    client = make_client(world)
    records = checkin_records(world, 23, bad_every=5)
    body = jsonl(records[:10]) + b"\n" + jsonl(records[10:])  # a blank line in the middle
    batch, error = _create(client, body)
    assert error is None and batch.status == BatchStatus.QUEUED and batch.total == 23
    seen = []
    assert batches.run_batch(batch.pk, chunk_lines=4,
                             on_chunk=lambda b, n: seen.append(n)) == "done"
    batch.refresh_from_db()
    assert seen == [1, 2, 3, 4, 5, 6]
    assert (batch.status, batch.processed, batch.rejected) == (BatchStatus.DONE, 23, 4)
    assert batch.accepted + batch.rejected + batch.unchanged == batch.total
    assert batch.cursor == 24  # physical lines, the blank one included
    assert checkin_counts(client) == (19, 19)
    lines = sorted(QuarantinedRecord.objects.filter(batch=batch).values_list("line_number",
                                                                             flat=True))
    assert lines == [5, 10, 16, 21]  # records 5, 10, 15, 20 (after the blank line: +1)
    # Idempotent: a finished batch is not redone.
    assert batches.run_batch(batch.pk) == "finished"
    # The same file again: nothing new.
    again, _ = _create(client, body)
    batches.run_batch(again.pk)
    again.refresh_from_db()
    assert (again.accepted, again.unchanged, again.rejected) == (0, 19, 4)
    assert checkin_counts(client) == (19, 19)


@pytest.mark.parametrize("encoding,chinese", [("utf-8-sig", False), ("gb18030", True)])
def test_csv_batch_in_utf8_and_gbk(world, encoding, chinese):
    client = make_client(world)
    body = _csv_body(checkin_records(world, 7), encoding, chinese)
    batch, error = _create(client, body, "text/csv; charset=whatever")
    assert error is None, error
    batches.run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.accepted, batch.rejected) == (BatchStatus.DONE, 7, 0), \
        list(QuarantinedRecord.objects.values_list("problems", flat=True))
    assert checkin_counts(client) == (7, 7)


def test_changed_csv_record_keeps_the_payload_it_replaces(world, monkeypatch):
    """A CSV batch re-sent with one record changed: version 2 is written and version 1's
    payload is read back from the earlier CSV body (masked and sealed), unless that body
    is larger than PREVIOUS_BODY_MAX, when the version names its submission instead of
    re-parsing it for every chunk."""
    from skillguard.ingest import pipeline, sealing
    from skillguard.ingest.models import RecordVersion

    client = make_client(world)
    records = checkin_records(world, 4)
    first, _ = _create(client, _csv_body(records), "text/csv")
    batches.run_batch(first.pk)
    changed = [dict(r) for r in records]
    changed[1]["device_id"] = "dev-2"
    second, _ = _create(client, _csv_body(changed), "text/csv")
    batches.run_batch(second.pk)
    second.refresh_from_db()
    assert (second.accepted, second.unchanged) == (1, 3)
    version = RecordVersion.objects.get(identity__external_id=records[1]["external_id"])
    assert version.version == 1 and version.submission_id == first.submission_id
    assert sealing.full_payload(version)["device_id"] == "dev-1"
    # The same change against an earlier body over the limit: referenced, not re-read.
    monkeypatch.setattr(pipeline, "PREVIOUS_BODY_MAX", 10)
    changed[2]["device_id"] = "dev-3"
    third, _ = _create(client, _csv_body(changed), "text/csv")
    batches.run_batch(third.pk)
    version = RecordVersion.objects.get(identity__external_id=records[2]["external_id"])
    assert version.payload["unavailable"] is True
    assert version.submission_id == first.submission_id


def test_xlsx_batch(world):
    from openpyxl import Workbook

    client = make_client(world)
    records = checkin_records(world, 5)
    wb = Workbook()
    ws = wb.active
    ws.append(list(records[0]))
    for r in records:
        ws.append(list(r.values()))
    out = io.BytesIO()
    wb.save(out)
    batch, error = _create(client, out.getvalue(), "application/vnd.openxmlformats-"
                           "officedocument.spreadsheetml.sheet")
    assert error is None
    batches.run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.accepted, batch.rejected, batch.cursor) == (5, 0, 6)


@pytest.mark.parametrize("body,content_type,code,line", [
    (b'{"external_id": "a"}\n{"external_id": \n', "application/x-ndjson", "malformed_jsonl", 2),
    (b'{"external_id": "a"}\n[1, 2]\n', "application/x-ndjson", "malformed_jsonl", 2),
    (b'{"external_id": "a"}\n{"external_id": "\xff\xfe"}\n', "application/x-ndjson",
     "bad_encoding", 2),
    (b"external_id,kind\na,in\n\x81\x30\xff\n", "text/csv", "bad_encoding", None),
    (b"external_id,colour\na,red\n", "text/csv", "unknown_columns", 1),
    (b"", "application/x-ndjson", "empty_file", None),
    (b"PK\x03\x04 not really",
     ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
     "malformed_xlsx", None),
    (b"hello", "application/pdf", "unsupported_format", None),
])
def test_malformed_file_fails_the_batch_and_writes_nothing(world, body, content_type, code,
                                                          line):
    client = make_client(world)
    batch, error = _create(client, body, content_type)
    assert error is not None and error.code == code
    if line is not None:
        assert error.line == line
    assert batch.status == BatchStatus.FAILED
    assert batches.parse_error(batch)["code"] == code
    assert batches.run_batch(batch.pk) == "finished"
    assert checkin_counts(client) == (0, 0)
    assert not QuarantinedRecord.objects.exists()


def test_too_large(world, settings):
    settings.SKILLGUARD_BATCH_MAX_BYTES = 100
    client = make_client(world)
    batch, error = _create(client, jsonl(checkin_records(world, 3)))
    assert error.code == "batch_too_large" and batch.status == BatchStatus.FAILED


def test_create_enqueues_in_the_same_transaction(world):
    from procrastinate.contrib.django.models import ProcrastinateJob

    client = make_client(world)
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                    jsonl(checkin_records(world, 2)), path="/t")
    jobs = ProcrastinateJob.objects.filter(task_name="ingest.process_batch")
    assert [j.args for j in jobs] == [{"batch_id": str(batch.pk)}]
    assert jobs[0].queue_name == "ingest"
    # A batch waiting in the queue is not queued twice by the stale-batch sweep.
    assert batches.requeue_stale() == 0


def test_stale_processing_batch_is_requeued(world):
    from procrastinate.contrib.django.models import ProcrastinateJob

    client = make_client(world)
    batch, _ = _create(client, jsonl(checkin_records(world, 2)))
    IngestBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.PROCESSING)
    assert batches.stale_batches() == [batch.pk]
    assert batches.requeue_stale() == 1
    assert ProcrastinateJob.objects.filter(task_name="ingest.process_batch").count() == 1


def test_progress_pages_follow_scope(world, login):
    client = make_client(world)
    batch, _ = _create(client, jsonl(checkin_records(world, 4, bad_every=2)))
    batches.run_batch(batch.pk)
    ok = login(world.a.users["district_supervisor"])
    page = ok.get(f"/docking/batches/{batch.pk}/")
    assert page.status_code == 200
    assert b"rejected-lines" in page.content
    assert ok.get("/docking/batches/").status_code == 200
    fragment = ok.get(f"/docking/batches/{batch.pk}/progress/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and fragment["HX-Refresh"] == "true"
    other = login(world.b.users["district_supervisor"])
    assert other.get(f"/docking/batches/{batch.pk}/").status_code == 404


def _signed(django_client, key, key_id, method, path, body=b"", content_type=""):
    from skillguard.trust.client import sign_request

    path_only, _, query = path.partition("?")
    headers = sign_request(method, path_only, query, body, content_type, key_id, key, "ed25519")
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()
             if k != "Content-Type"}
    if method == "POST":
        return django_client.post(path, body, content_type=content_type, **extra)
    return django_client.get(path, **extra)


def test_api_upload_status_and_problems(world, client, settings):
    from skillguard.trust import services as trust
    from skillguard.trust.client import generate_key, private_key_pem

    docking = make_client(world)
    private, public_pem = generate_key("ed25519")
    key = trust.add_key(docking, algorithm="ed25519", public_key_pem=public_pem)
    pem = private_key_pem(private)
    body = jsonl(checkin_records(world, 6, bad_every=3))
    url = "/api/docking/v1/batches/checkin"
    response = _signed(client, pem, key.key_id, "POST", url, body, "application/x-ndjson")
    assert response.status_code == 202, response.content
    data = response.json()
    batch_id = data["batch_id"]
    assert data["status"] == "queued" and data["status_url"].endswith(f"/batches/{batch_id}")
    batches.run_batch(batch_id)  # what the worker would do
    status = _signed(client, pem, key.key_id, "GET", data["status_url"]).json()
    assert (status["status"], status["accepted"], status["rejected"], status["percent"]) == \
        ("done", 4, 2, 100.0)
    problems = _signed(client, pem, key.key_id, "GET",
                       status["problems_url"] + "?page_size=1").json()
    assert problems["count"] == 2 and problems["items"][0]["line"] == 3
    assert problems["items"][0]["problems"] and problems["next"]
    bad = _signed(client, pem, key.key_id, "POST", url, b'{"a": 1}\n{oops\n',
                  "application/x-ndjson")
    assert bad.status_code == 422 and bad.json()["code"] == "malformed_jsonl"
    assert bad.json()["line"] == 2
    settings.SKILLGUARD_BATCH_MAX_BYTES = 10
    big = _signed(client, pem, key.key_id, "POST", url, body, "application/x-ndjson")
    assert big.status_code == 413 and big.json()["errors"][0]["code"] == "batch_too_large"

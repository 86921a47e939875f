"""Crash recovery of batches: a crash mid-batch leaves whole chunks only; the batch resumes
with exact counts, no duplicates, and resending changes nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from skillguard.ingest import batches
from skillguard.ingest.models import BatchStatus, IngestBatch, QuarantinedRecord
from skillguard.ingest.tests.batch_helpers import (
    VERIFIED,
    checkin_counts,
    checkin_records,
    jsonl,
    make_client,
)

ROOT = Path(__file__).resolve().parents[3]


def _assert_exact(client, batch, accepted, rejected):
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert (batch.accepted, batch.rejected, batch.unchanged) == (accepted, rejected, 0)
    assert batch.accepted + batch.rejected + batch.unchanged == batch.total == batch.processed
    assert checkin_counts(client) == (accepted, accepted)  # rows == accepted, no duplicates
    assert QuarantinedRecord.objects.filter(batch=batch).count() == rejected
    assert QuarantinedRecord.objects.filter(batch=batch).values("line_number").distinct() \
        .count() == rejected


def _resend_changes_nothing(client, body, accepted, rejected):
    again, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson", body,
                                    path="/again", enqueue=False)
    batches.run_batch(again.pk)
    again.refresh_from_db()
    assert (again.accepted, again.unchanged, again.rejected) == (0, accepted, rejected)
    assert checkin_counts(client) == (accepted, accepted)


class Crash(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_crash_inside_chunk_then_resume(world):
    client = make_client(world)
    body = jsonl(checkin_records(world, 50, bad_every=7))
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson", body,
                                    path="/t", enqueue=False)
    real = batches._commit_chunk

    def crash_in_third(pipeline, client_, ref, batch_, chunk, **kw):
        if chunk[0][0] == 21:  # chunk 3: write its records, then die before the commit
            with pytest.raises(Crash), batches.transaction.atomic():
                pipeline.ingest_records(client_, ref, "checkin", [r for _, r in chunk],
                                        first_line=chunk[0][0], batch=batch_)
                raise Crash
            raise Crash
        return real(pipeline, client_, ref, batch_, chunk, **kw)

    batches._commit_chunk = crash_in_third
    try:
        with pytest.raises(Crash):
            batches.run_batch(batch.pk, chunk_lines=10)
    finally:
        batches._commit_chunk = real
    batch.refresh_from_db()
    assert (batch.status, batch.cursor, batch.processed) == (BatchStatus.PROCESSING, 20, 20)
    assert checkin_counts(client)[0] == batch.accepted  # whole chunks only
    assert batches.stale_batches() == [batch.pk]  # no worker holds it: the sweep requeues
    assert batches.run_batch(batch.pk, chunk_lines=10) == "done"
    _assert_exact(client, batch, 43, 7)
    _resend_changes_nothing(client, body, 43, 7)


def test_a_batch_that_kills_its_worker_every_time_fails_as_stalled(world):
    """A batch whose processing dies at the same line run after run (a poison record, the
    worker killed for memory) is failed with "stalled" after MAX_STALLED_RUNS runs, keeping
    what was committed before, instead of being re-queued every minute for ever."""
    client = make_client(world)
    body = jsonl(checkin_records(world, 30))
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson", body,
                                    path="/t", enqueue=False)
    real = batches._commit_chunk

    def die_at_line_11(pipeline, client_, ref, batch_, chunk, **kw):
        if chunk[0][0] == 11:
            raise MemoryError("worker killed")
        return real(pipeline, client_, ref, batch_, chunk, **kw)

    batches._commit_chunk = die_at_line_11
    try:
        with pytest.raises(MemoryError):  # the first run commits lines 1–10, then dies
            batches.run_batch(batch.pk, chunk_lines=10)
        batch.refresh_from_db()
        assert (batch.cursor, batch.stalled_runs) == (10, 0)
        for attempt in range(batches.MAX_STALLED_RUNS):  # runs that start at line 11 and die
            with pytest.raises(MemoryError):
                batches.run_batch(batch.pk, chunk_lines=10)
            batch.refresh_from_db()
            assert (batch.status, batch.cursor, batch.stalled_runs) == \
                (BatchStatus.PROCESSING, 10, attempt + 1)
            assert "MemoryError" in batches.parse_error(batch)["detail"]
            assert batches.stale_batches() == [batch.pk]  # still retried meanwhile
        assert batches.run_batch(batch.pk, chunk_lines=10) == "failed"
    finally:
        batches._commit_chunk = real
    batch.refresh_from_db()
    error = batches.parse_error(batch)
    assert batch.status == BatchStatus.FAILED and error["code"] == "stalled"
    assert error["line"] == 11 and "MemoryError" in error["detail"]
    assert checkin_counts(client)[0] == batch.accepted == 10  # the first chunk is kept
    assert batches.stale_batches() == []


def test_progress_resets_the_stalled_count(world):
    client = make_client(world)
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                    jsonl(checkin_records(world, 30)), path="/t", enqueue=False)
    real, calls = batches._commit_chunk, []

    def die_once_per_chunk(pipeline, client_, ref, batch_, chunk, **kw):
        if chunk[0][0] not in calls:  # every chunk fails once, then succeeds
            calls.append(chunk[0][0])
            raise RuntimeError("flaky")
        return real(pipeline, client_, ref, batch_, chunk, **kw)

    batches._commit_chunk = die_once_per_chunk
    try:
        for _ in range(10):
            try:
                if batches.run_batch(batch.pk, chunk_lines=10) == "done":
                    break
            except RuntimeError:
                continue
    finally:
        batches._commit_chunk = real
    batch.refresh_from_db()
    assert (batch.status, batch.accepted) == (BatchStatus.DONE, 30)


def _database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "localhost"
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host_part = quote(host, safe="") if host.startswith("/") else host
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgresql://{auth}@{host_part}{port}/{s['NAME']}"


def _worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "skillguard.cli", "worker"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait(predicate, seconds: float, what: str, proc=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}) before {what}: "
                        f"{proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_sigkill_the_real_worker_mid_batch(world):
    client = make_client(world)
    body = jsonl(checkin_records(world, 3000, bad_every=11))
    rejected = 3000 // 11
    accepted = 3000 - rejected
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson", body,
                                    path="/t")  # enqueued, committed
    env = {**os.environ, "DATABASE_URL": _database_url(),
           "SKILLGUARD_BATCH_CHUNK_LINES": "50", "PYTHONPATH": str(ROOT)}
    worker = _worker(env)
    try:
        def midway():
            b = IngestBatch.objects.get(pk=batch.pk)
            return 0 < b.cursor and b.processed < b.total // 2
        _wait(midway, 120, "the first chunks", worker)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PROCESSING and 0 < batch.processed < batch.total
    assert batch.processed == batch.cursor  # no blank lines: cursor counts records
    assert checkin_counts(client) == (batch.accepted, batch.accepted)  # whole chunks only
    # The killed worker's connection is gone, and its lock with it: the sweep re-enqueues.
    _wait(lambda: batches.requeue_stale() == 1, 30, "the lock to be released")
    worker = _worker({**env, "PROCRASTINATE_WORKER_WAIT": "0"})
    try:
        _wait(lambda: IngestBatch.objects.get(pk=batch.pk).status == BatchStatus.DONE, 300,
              "the resumed batch", None)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    _assert_exact(client, batch, accepted, rejected)
    _resend_changes_nothing(client, body, accepted, rejected)


@pytest.mark.django_db(transaction=True)
def test_hung_worker_connection_is_ended_and_the_batch_resumes(world, settings):
    """A worker alive but stuck inside a chunk (a lock wait, a dead NFS mount…) keeps its
    advisory lock for ever; after SKILLGUARD_BATCH_HUNG_MINUTES without progress the sweep
    ends its connection, its open chunk rolls back, and another run finishes exactly."""
    import json
    import threading

    from django.db import connections
    from django.db.models import F
    from django.utils import timezone

    settings.SKILLGUARD_BATCH_HUNG_MINUTES = 15
    client = make_client(world)
    body = jsonl(checkin_records(world, 40, bad_every=9))
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson", body,
                                    path="/t", enqueue=False)
    real = batches._commit_chunk
    stuck, release, outcome = threading.Event(), threading.Event(), {}

    def hang_in_second(pipeline, client_, ref, batch_, chunk, **kw):
        if chunk[0][0] == 11:  # chunk 2: write its records, then hang before the commit
            with batches.transaction.atomic():
                pipeline.ingest_records(client_, ref, "checkin", [r for _, r in chunk],
                                        first_line=chunk[0][0], batch=batch_)
                stuck.set()
                release.wait(60)
                with batches.connection.cursor() as cur:
                    cur.execute("SELECT 1")  # the connection was ended meanwhile
        return real(pipeline, client_, ref, batch_, chunk, **kw)

    def hung_worker():
        try:
            outcome["result"] = batches.run_batch(batch.pk, chunk_lines=10)
        except Exception as exc:  # the ended connection
            outcome["error"] = exc
        finally:
            try:
                connections.close_all()
            except Exception:
                pass

    batches._commit_chunk = hang_in_second
    thread = threading.Thread(target=hung_worker)
    thread.start()
    try:
        assert stuck.wait(60)
        holder = batches.lock_holder(batch.pk)
        assert holder is not None
        # Still inside the lease: nothing is touched.
        assert batches.reclaim_hung() == [] and batches.lock_holder(batch.pk) == holder
        assert batches.stale_batches() == []
        # Sixteen minutes without progress.
        IngestBatch.objects.filter(pk=batch.pk).update(
            progress_at=F("progress_at") - timezone.timedelta(minutes=16))
        assert batches.reclaim_hung() == [batch.pk]
        _wait(lambda: batches.lock_holder(batch.pk) is None, 30, "the hung connection to end")
    finally:
        release.set()
        thread.join(60)
        batches._commit_chunk = real
    assert "error" in outcome  # the hung run did not finish
    batch.refresh_from_db()
    assert (batch.status, batch.cursor) == (BatchStatus.PROCESSING, 10)  # chunk 2 rolled back
    assert json.loads(batch.error)["code"] == "hung"
    assert checkin_counts(client)[0] == batch.accepted  # whole chunks only
    assert batches.stale_batches() == [batch.pk]
    assert batches.run_batch(batch.pk, chunk_lines=10) == "done"
    _assert_exact(client, batch, 40 - 40 // 9, 40 // 9)
    _resend_changes_nothing(client, body, 40 - 40 // 9, 40 // 9)


@pytest.mark.django_db(transaction=True)
def test_read_ahead_prepares_in_its_own_thread_and_hands_errors_back_in_order(world, monkeypatch):
    """Check-in chunks are prepared one ahead in a thread of their own (outside a
    transaction); a failure there reaches the run after the chunks before it are committed,
    and the thread is gone afterwards."""
    import json
    import threading

    from skillguard.ingest import fastpath

    monkeypatch.setenv("SKILLGUARD_BATCH_READ_AHEAD", "1")
    client = make_client(world)
    body = jsonl(checkin_records(world, 45, bad_every=8))
    batch, _ = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson", body,
                                    path="/t", enqueue=False)
    real, threads, fail = fastpath.prepare_checkins, [], {"at": 21}

    def watched(client_, ref, chunk):
        threads.append(threading.current_thread().name)
        if chunk[0][0] == fail["at"]:
            raise RuntimeError("prepare failed")
        return real(client_, ref, chunk)

    monkeypatch.setattr(fastpath, "prepare_checkins", watched)
    interval = sys.getswitchinterval()
    with pytest.raises(RuntimeError, match="prepare failed"):
        batches.run_batch(batch.pk, chunk_lines=10)
    batch.refresh_from_db()
    assert (batch.status, batch.cursor, batch.processed) == (BatchStatus.PROCESSING, 20, 20)
    assert json.loads(batch.error)["line"] == 21
    assert checkin_counts(client)[0] == batch.accepted  # whole chunks only
    assert set(threads) == {"batch-read-ahead"}
    assert not any(t.name == "batch-read-ahead" for t in threading.enumerate())
    assert sys.getswitchinterval() == interval
    fail["at"] = None
    assert batches.run_batch(batch.pk, chunk_lines=10) == "done"
    _assert_exact(client, batch, 45 - 45 // 8, 45 // 8)
    _resend_changes_nothing(client, body, 45 - 45 // 8, 45 // 8)

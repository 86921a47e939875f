"""load_history: a historical export by month, in parallel, resumable after a crash."""
from __future__ import annotations

import gzip

import pytest
from django.core.management import CommandError, call_command

from skillguard.ingest import batches
from skillguard.ingest.models import BatchStatus, IngestBatch
from skillguard.ingest.tests.batch_helpers import (
    checkin_counts,
    checkin_records,
    jsonl,
    make_client,
)


def _export(world, tmp_path):
    records = checkin_records(world, 60, bad_every=10)
    (tmp_path / "checkins-2025-01.jsonl").write_bytes(jsonl(records[:20]))
    (tmp_path / "checkins-2025-02.jsonl.gz").write_bytes(gzip.compress(jsonl(records[20:40])))
    (tmp_path / "checkins-2025-03.jsonl").write_bytes(jsonl(records[40:]))
    (tmp_path / "README.txt").write_text("not an export file")
    return records


@pytest.mark.django_db(transaction=True)
def test_load_history_parallel_months_and_rerun(world, tmp_path, capsys):
    client = make_client(world, name="历史系统")
    _export(world, tmp_path)
    call_command("load_history", str(tmp_path), client="历史系统", workers=2)
    done = IngestBatch.objects.filter(client=client)
    assert done.count() == 3 and set(done.values_list("status", flat=True)) == {"done"}
    assert checkin_counts(client) == (54, 54)
    assert sum(done.values_list("rejected", flat=True)) == 6
    # A rerun skips finished files: no new batch, nothing written.
    call_command("load_history", str(tmp_path), client="历史系统")
    assert IngestBatch.objects.filter(client=client).count() == 3
    assert checkin_counts(client) == (54, 54)


@pytest.mark.django_db(transaction=True)
def test_load_history_months_filter_and_resume(world, tmp_path, monkeypatch):
    client = make_client(world, name="历史系统")
    _export(world, tmp_path)
    real = batches._commit_chunk
    calls = []

    def crash_second(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(*args, **kw)

    monkeypatch.setenv("SKILLGUARD_BATCH_CHUNK_LINES", "5")
    monkeypatch.setattr(batches, "_commit_chunk", crash_second)
    with pytest.raises(RuntimeError):
        call_command("load_history", str(tmp_path), client="历史系统",
                     months="2025-02..2025-03")
    monkeypatch.setattr(batches, "_commit_chunk", real)
    first = IngestBatch.objects.get(client=client)
    assert (first.status, first.cursor) == (BatchStatus.PROCESSING, 5)
    call_command("load_history", str(tmp_path), client="历史系统", months="2025-02..2025-03")
    loaded = IngestBatch.objects.filter(client=client)
    assert loaded.count() == 2 and {b.status for b in loaded} == {"done"}
    assert checkin_counts(client) == (36, 36)
    first.refresh_from_db()
    assert first.accepted + first.rejected == first.total == 20


@pytest.mark.django_db
def test_load_history_refuses_unknown_client(tmp_path):
    with pytest.raises(CommandError):
        call_command("load_history", str(tmp_path), client="nobody")

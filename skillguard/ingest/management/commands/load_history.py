"""Load a historical export (历史数据迁移): files per month, validated like any submission.

    skillguard manage load_history DIR --client NAME [--months 2025-01..2025-12] [--workers N]

Files are named ``<record type>-YYYY-MM.<jsonl|csv|xlsx>[.gz]`` (e.g. checkins-2025-03.jsonl.gz;
``checkins`` and ``checkin`` both mean the type ``checkin``). Months are loaded N at a time in
separate processes. Each file becomes a stored submission and an ``IngestBatch``; a rerun
skips finished files and resumes unfinished ones after their cursor, so a crash costs at
most one chunk per file in flight.
"""
from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

FILE_RE = re.compile(r"^(?P<type>[a-z_]+)-(?P<month>\d{4}-\d{2})\.(?P<fmt>jsonl|ndjson|csv|xlsx)"
                     r"(?P<gz>\.gz)?$")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "ndjson": "application/x-ndjson",
                 "csv": "text/csv",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _month_range(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    first, _, last = text.partition("..")
    for part in (first, last or first):
        if not re.fullmatch(r"\d{4}-\d{2}", part):
            raise CommandError(f"--months: expected YYYY-MM..YYYY-MM, got {text!r}")
    return first, last or first


def history_files(directory: Path, months: tuple[str, str] | None) -> dict[str, list]:
    """month → [(path, record type, format)] of the export, in name order."""
    from skillguard.ingest.records import RECORD_TYPES

    by_month: dict[str, list] = {}
    for path in sorted(directory.iterdir()):
        m = FILE_RE.match(path.name)
        if not m:
            continue
        record_type = m["type"]
        for plural in ("es", "s"):  # checkins → checkin, classes → class
            if record_type not in RECORD_TYPES and record_type.endswith(plural) and \
                    record_type[:-len(plural)] in RECORD_TYPES:
                record_type = record_type[:-len(plural)]
        if record_type not in RECORD_TYPES:
            raise CommandError(f"{path.name}: unknown record type {m['type']!r}")
        if months and not (months[0] <= m["month"] <= months[1]):
            continue
        by_month.setdefault(m["month"], []).append((str(path), record_type, m["fmt"]))
    return by_month


def load_file(client_id: int, path: str, record_type: str, fmt: str) -> dict:
    """Load one file (or resume it); returns the batch's figures."""
    from skillguard.ingest import batches
    from skillguard.ingest.models import (
        BatchStatus,
        DockingClient,
        IngestBatch,
        Submission,
    )

    client = DockingClient.objects.get(pk=client_id)
    raw = Path(path).read_bytes()
    body = gzip.decompress(raw) if path.endswith(".gz") else raw
    del raw
    digest = hashlib.sha256(body).hexdigest()
    name = f"load_history/{Path(path).name}"
    submissions = Submission.objects.filter(client_id=client.pk, path=name, body_sha256=digest)
    batch = IngestBatch.objects.filter(
        client=client, submission_id__in=submissions.values("id")).order_by("created_at").first()
    if batch is None:
        batch, _error = batches.create_batch(
            client, {"key_id": "load_history", "signature_input": "", "signature": "history"},
            record_type, CONTENT_TYPES[fmt], body, method="LOAD", path=name, enqueue=False)
    del body
    if batch.status not in (BatchStatus.DONE, BatchStatus.FAILED):
        batches.run_batch(batch.pk)
        batch.refresh_from_db()
    return {"file": Path(path).name, "batch": str(batch.pk), "status": batch.status,
            "total": batch.total, "accepted": batch.accepted, "unchanged": batch.unchanged,
            "rejected": batch.rejected, "error": batch.error}


def load_month(client_id: int, files: list) -> list[dict]:
    return [load_file(client_id, *item) for item in files]


def _child_init() -> None:
    connections.close_all()  # never share the parent's connection


class Command(BaseCommand):
    help = "Load a historical export (files per month), resumable, N months in parallel."

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--client", required=True, help="name of the docking client")
        parser.add_argument("--months", help="YYYY-MM..YYYY-MM (default: every month)")
        parser.add_argument("--workers", type=int, default=1, help="months loaded at once")

    def handle(self, *args, directory, client, months, workers, **options):
        from skillguard.ingest.models import DockingClient

        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{directory}: not a directory")
        found = DockingClient.objects.filter(name=client).first()
        if found is None:
            raise CommandError(f"no docking client named {client!r}")
        by_month = history_files(folder, _month_range(months))
        if not by_month:
            raise CommandError("no export files (<type>-YYYY-MM.jsonl|csv|xlsx[.gz]) found")
        jobs = [(found.pk, by_month[m]) for m in sorted(by_month)]
        if workers <= 1 or len(jobs) == 1:
            results = [load_month(*job) for job in jobs]
        else:
            # Concurrent CREATE TABLE … PARTITION OF races: make today's submission
            # partition before the months start in parallel.
            from django.utils import timezone

            from skillguard.core.partitions import ensure_monthly_partitions

            today = timezone.localdate()
            ensure_monthly_partitions("ingest_submission", today, today)
            connections.close_all()
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(workers, len(jobs)), initializer=_child_init) as pool:
                results = pool.starmap(load_month, jobs)
        failed = 0
        for month_results in results:
            for r in month_results:
                failed += r["status"] != "done"
                self.stdout.write(f"{r['file']}: {r['status']} total={r['total']} "
                                  f"accepted={r['accepted']} unchanged={r['unchanged']} "
                                  f"rejected={r['rejected']}"
                                  + (f" error={r['error']}" if r["error"] else ""))
        if failed:
            raise CommandError(f"{failed} file(s) not loaded")

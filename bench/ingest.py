#!/usr/bin/env python3
"""Benchmark: check-in batches through the worker path, against raw COPY measured in the same run.

    .venv/bin/python bench/ingest.py                    # 5,000,000 check-ins
    .venv/bin/python bench/ingest.py --records 500000
    .venv/bin/python bench/ingest.py --quick            # 100,000

Builds into a fresh database of its own (see bench/README.md). A minimal world (the test
world: two institutions, a class with a session and three enrolled trainees), then a JSON
Lines file of N valid check-ins, streamed to disk. Measures:

(a) end to end: ``ingest.batches.run_batch`` (what the worker runs) over stored
    submissions — streaming the stored bytes, JSON parsing, schema and reference validation,
    deduplication through RecordIdentity, COPY of the facts, counters — records/s, and the
    RSS sampled after every chunk, for a small batch and for the largest batch, and the
    worker's CPU time as a share of the wall time (the rest it spends waiting, mostly for
    PostgreSQL), and the CPU time per record of the worker, of its PostgreSQL backend (when
    the server runs on this machine) and of the whole machine;
(b) raw binary COPY of N check-in rows (values precomputed by a trivial loop) into the same
    partitioned table with its indexes (truncated first) — rows/s;
(c) Django ORM ``bulk_create`` of a subset (200,000) — rows/s.
Prints (a)/(b), (a)/(c) and (d), the database floor (identity + check-in COPY alone);
``--profile`` prints a cProfile of one chunk. Last line:
``RESULT {json}``.

A stored submission is a bytea (PostgreSQL's limit is 1 GiB, the docking limit 512 MiB), so
N records are sent as several batches of at most ``--batch-lines`` (default 1,500,000).
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_city import _fresh_database, _peak_rss_mib, _rss_mib

VERIFIED = {"key_id": "bench", "signature_input": "", "signature": "bench"}


def _backend_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) of the PostgreSQL backend serving this process, when it
    runs on this machine and /proc shows it; else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> tuple[float, int] | None:
    """(CPU seconds spent busy on all cores, number of cores) since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK"), os.cpu_count() or 1


def write_records(path: Path, n: int, world) -> None:
    """N valid check-ins as JSON Lines, written as they are made."""
    from django.utils import timezone

    from skillguard.ingest.tests.batch_helpers import trainee_ids

    session = world.a.approved_class.sessions.order_by("sequence").first()
    start = timezone.localtime(session.starts_at)
    span = int((session.ends_at - session.starts_at).total_seconds())
    code, seq = world.a.approved_class.code, session.sequence
    ids = trainee_ids(world)
    stamps = [(start + dt.timedelta(seconds=s)).isoformat() for s in range(span)]
    head = f'{{"class_code":"{code}","session_sequence":{seq},"method":"face","device_id":"d1",'
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as f:
        f.writelines(f'{head}"external_id":"b{i:09d}","trainee_id_number":"{ids[i % 3]}",'
                    f'"kind":"{"in" if i & 1 else "out"}","occurred_at":"{stamps[i % span]}"}}\n' for i in range(n))


def make_batches(client, path: Path, sizes: list[int]) -> list:
    """Store the file as submissions of the given line counts, each with its batch."""
    from skillguard.ingest import services
    from skillguard.ingest.models import IngestBatch

    out = []
    with open(path, "rb") as f:
        for size in sizes:
            body = b"".join(f.readline() for _ in range(size))
            ref = services.store_submission(client, VERIFIED, "POST", "/bench",
                                            "application/x-ndjson", body, size)
            del body
            out.append(IngestBatch.objects.create(
                client=client, district_id=ref.district_id,
                institution_id=client.institution_id, submission_id=ref.id,
                submission_received_at=ref.received_at, record_type="checkin",
                file_format="jsonl", total=size))
    return out


def raw_copy(n: int, world) -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    session = world.a.approved_class.sessions.order_by("sequence").first()
    start = session.starts_at
    span = int((session.ends_at - session.starts_at).total_seconds())
    stamps = [start + dt.timedelta(seconds=s) for s in range(span)]
    now = timezone.now()
    d, c, inst = world.a.district.pk, world.a.approved_class.pk, world.a.institution.pk
    tr = [t.pk for t in world.a.trainees]
    with connection.cursor() as cur:
        cur.execute("TRUNCATE attendance_checkin")
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c_, c_.connection.cursor() as cur, \
            cur.copy(
                "COPY attendance_checkin (district_id, occurred_at, kind, method, session_id,"
                " training_class_id, institution_id, enrolment_id, trainee_id, device_id,"
                " source_client_id, external_id, received_at) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(["int8", "timestamptz", "varchar", "varchar", "int8", "int8", "int8",
                      "int8", "int8", "varchar", "int8", "varchar", "timestamptz"])
        for i in range(n):
            cp.write_row((d, stamps[i % span], "in", "face", session.pk, c, inst, i % 3 + 1,
                          tr[i % 3], "d1", 1, f"b{i:09d}", now))
    return time.perf_counter() - t0


def database_floor(n: int, world, client, chunk: int = 20_000) -> float:
    """The writes no ingest can avoid, alone: per chunk of ``chunk`` records (one
    transaction each, as the worker commits), one binary COPY of the record identities and
    one of the check-ins, values precomputed — no reading, parsing, validation or
    deduplication. Seconds for N records. Done from one thread, each row encoded as it is
    sent; the worker (a) prepares the next chunk meanwhile, so it may pass this figure."""
    import uuid

    from django.db import connection, transaction
    from django.utils import timezone

    session = world.a.approved_class.sessions.order_by("sequence").first()
    start = session.starts_at
    span = int((session.ends_at - session.starts_at).total_seconds())
    now, sub = timezone.now(), uuid.uuid4()
    d, c, inst = world.a.district.pk, world.a.approved_class.pk, world.a.institution.pk
    tr = [t.pk for t in world.a.trainees]
    identity_cols = ("client_id, record_type, external_id, version, payload_sha256, target, "
                     "district_id, institution_id, first_submission_id, last_submission_id, "
                     "created_at, updated_at")
    seconds = 0.0
    for lo in range(0, n, chunk):
        size = min(chunk, n - lo)
        with connection.cursor() as cur:
            cur.execute("SELECT nextval('attendance_checkin_id_seq') FROM generate_series(1, %s)",
                        [size])
            ids = [r[0] for r in cur.fetchall()]
        identities = [(client.pk, "checkin", f"f{lo + k:09d}", 1, "0" * 64,
                       f"attendance_checkin:{pk}", d, inst, sub, sub, now, now)
                      for k, pk in enumerate(ids)]
        facts = [(pk, d, start + dt.timedelta(seconds=(lo + k) % span), "in", "face", session.pk,
                  c, inst, (lo + k) % 3 + 1, tr[(lo + k) % 3], "d1", client.pk, f"f{lo + k:09d}",
                  sub, now) for k, pk in enumerate(ids)]
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as c_, c_.connection.cursor() as cur:
            with cur.copy(f"COPY ingest_recordidentity ({identity_cols}) FROM STDIN "
                          "(FORMAT BINARY)") as cp:
                cp.set_types(["int8", "text", "text", "int4", "text", "text", "int8", "int8",
                              "uuid", "uuid", "timestamptz", "timestamptz"])
                for row in identities:
                    cp.write_row(row)
            with cur.copy("COPY attendance_checkin (id, district_id, occurred_at, kind, method,"
                          " session_id, training_class_id, institution_id, enrolment_id,"
                          " trainee_id, device_id, source_client_id, external_id, submission_id,"
                          " received_at) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int8", "int8", "timestamptz", "varchar", "varchar", "int8",
                              "int8", "int8", "int8", "int8", "varchar", "int8", "varchar",
                              "uuid", "timestamptz"])
                for row in facts:
                    cp.write_row(row)
        seconds += time.perf_counter() - t0
    return seconds


def orm_bulk(n: int, world) -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    from skillguard.attendance.models import CheckIn

    session = world.a.approved_class.sessions.order_by("sequence").first()
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE attendance_checkin")
    t0 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT nextval('attendance_checkin_id_seq') FROM generate_series(1, %s)",
                        [n])
            ids = [r[0] for r in cur.fetchall()]
        for lo in range(0, n, 5000):
            CheckIn.objects.bulk_create([CheckIn(
                id=ids[i], district_id=world.a.district.pk,
                occurred_at=session.starts_at + dt.timedelta(seconds=i % 3600), kind="in",
                method="face", session_id=session.pk,
                training_class_id=world.a.approved_class.pk,
                institution_id=world.a.institution.pk, enrolment_id=1,
                trainee_id=world.a.trainees[i % 3].pk, device_id="d1", source_client_id=1,
                external_id=f"o{i:09d}", received_at=now) for i in range(lo, min(n, lo + 5000))])
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--batch-lines", type=int, default=1_500_000)
    parser.add_argument("--small-batch", type=int, default=500_000)
    parser.add_argument("--orm", type=int, default=200_000, help="rows for the ORM path")
    parser.add_argument("--profile", action="store_true", help="cProfile one chunk")
    parser.add_argument("--profile-batch", action="store_true",
                        help="cProfile the whole first batch (reading, parsing, chunks)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    n = 100_000 if args.quick else args.records
    small = min(args.small_batch, max(1, n // 5))
    sizes, left = [small], n - small
    while left > 0:
        sizes.append(min(args.batch_lines, left))
        left -= sizes[-1]
    orm_n = min(args.orm, n)

    cleanup, where = _fresh_database(args.keep)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillguard.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    from skillguard.core.testing import build_world
    from skillguard.ingest import batches
    from skillguard.ingest.tests.batch_helpers import make_client
    from skillguard.registry.seed import ensure_districts

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        call_command("migrate", verbosity=0, interactive=False)
        ensure_districts()
        world = build_world()
        client = make_client(world)
        print(f"ingest benchmark — {n:,} check-ins in {len(sizes)} batches {sizes}, {where}")
        t0 = time.perf_counter()
        path = tmp / "checkins.jsonl"
        write_records(path, n, world)
        print(f"  generated {path.stat().st_size / 2**20:,.0f} MiB of JSON Lines in "
              f"{time.perf_counter() - t0:.1f} s (not counted)")
        t0 = time.perf_counter()
        todo = make_batches(client, path, sizes)
        print(f"  stored {len(todo)} submissions in {time.perf_counter() - t0:.1f} s "
              "(not counted)")

        if args.profile:
            profiler = cProfile.Profile()
            real = batches._commit_chunk
            state = {"n": 0}

            def profiled(*a, **k):
                state["n"] += 1
                if state["n"] == 2:
                    profiler.enable()
                    try:
                        return real(*a, **k)
                    finally:
                        profiler.disable()
                return real(*a, **k)
            batches._commit_chunk = profiled

        # (a) end to end through the worker's function
        per_batch = []
        total_s = total_cpu = 0.0
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
        backend0, machine0 = _backend_cpu_s(backend), _machine_busy_s()
        for batch in todo:
            rss = []
            t0, cpu0 = time.perf_counter(), time.process_time()
            if args.profile_batch and batch is todo[0]:
                whole = cProfile.Profile()
                whole.enable()
            batches.run_batch(batch.pk, on_chunk=lambda b, k, rss=rss: rss.append(_rss_mib()))
            secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            if args.profile_batch and batch is todo[0]:
                whole.disable()
                print("  cProfile of the first batch (top 30 by internal time):")
                pstats.Stats(whole).sort_stats("tottime").print_stats(30)
            total_s += secs
            total_cpu += cpu
            batch.refresh_from_db()
            assert batch.status == "done", batch.error
            assert batch.accepted == batch.total, (batch.accepted, batch.rejected, batch.total)
            per_batch.append({"lines": batch.total, "seconds": secs, "cpu_seconds": cpu,
                              "rss_max_mib": max(rss), "rss_first_mib": rss[0]})
            print(f"  (a) batch of {batch.total:>9,} lines: {secs:7.1f} s = "
                  f"{batch.total / secs:>9,.0f} records/s; RSS first chunk {rss[0]:.0f} MiB, "
                  f"max {max(rss):.0f} MiB; worker CPU {cpu:.1f} s ({cpu / secs:.0%} of wall)")
        if args.profile:
            batches._commit_chunk = real
            print("  cProfile of one chunk (top 20 by cumulative time):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
        a_rate = n / total_s
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM attendance_checkin")
            rows = cur.fetchone()[0]
        assert rows == n, (rows, n)
        backend1, machine1 = _backend_cpu_s(backend), _machine_busy_s()
        print(f"  (a) end to end: {n:,} records in {total_s:.1f} s = {a_rate:,.0f} records/s; "
              f"worker CPU {total_cpu:.1f} s ({total_cpu / total_s:.0%} of wall: the rest is "
              "waiting, mostly for PostgreSQL)")
        cpu = {"worker_us": total_cpu / n * 1e6}
        if backend0 is not None and backend1 is not None:
            cpu["backend_us"] = (backend1 - backend0) / n * 1e6
        if machine0 and machine1:
            cpu["machine_us"] = (machine1[0] - machine0[0]) / n * 1e6
            cpu["machine_busy"] = (machine1[0] - machine0[0]) / (total_s * machine0[1])
        print("  (a) CPU per record: worker {worker_us:.1f} µs".format(**cpu)
              + (", its PostgreSQL backend {backend_us:.1f} µs".format(**cpu)
                 if "backend_us" in cpu else "")
              + (", whole machine {machine_us:.1f} µs (cores {machine_busy:.0%} busy)"
                 .format(**cpu) if "machine_us" in cpu else ""))

        # (d) the database floor: identities + facts by COPY, nothing else
        d_s = database_floor(n, world, client)
        d_rate = n / d_s
        # (b) raw binary COPY
        b_s = raw_copy(n, world)
        b_rate = n / b_s
        print(f"  (b) raw binary COPY into attendance_checkin: {b_s:.1f} s = {b_rate:,.0f} rows/s")
        print(f"  (d) database floor (identity + check-in COPY per 20,000-record transaction, no "
              f"validation): {d_s:.1f} s = {d_rate:,.0f} records/s = {d_rate / b_rate:.2f} of (b), "
              f"the identity and check-in writes sent from one thread (the worker overlaps them "
              f"with preparing the next chunk); (a) = {a_rate / d_rate:.2f} of it")
        # (c) ORM
        c_s = orm_bulk(orm_n, world)
        c_rate = orm_n / c_s
        print(f"  (c) ORM bulk_create of {orm_n:,}: {c_s:.1f} s = {c_rate:,.0f} rows/s")
        print(f"  ratio (a)/(b) = {a_rate / b_rate:.3f} (target ≥ 0.5); "
              f"(a)/(c) = {a_rate / c_rate:.2f}")
        small_b, big_b = per_batch[0], max(per_batch, key=lambda p: p["lines"])
        print(f"  memory: RSS max {small_b['rss_max_mib']:.0f} MiB at {small_b['lines']:,} "
              f"lines, {big_b['rss_max_mib']:.0f} MiB at {big_b['lines']:,} lines; "
              f"process peak {_peak_rss_mib():.0f} MiB (includes storing the submissions)")
        result = {"bench": "ingest", "records": n, "seconds": total_s,
                  "records_per_s": a_rate,
                  "worker_cpu_share": total_cpu / total_s, "cpu_per_record": cpu,
                  "raw_copy_rows_per_s": b_rate,
                  "orm_rows_per_s": c_rate, "ratio_copy": a_rate / b_rate,
                  "ratio_orm": a_rate / c_rate, "floor_records_per_s": d_rate,
                  "floor_ratio_copy": d_rate / b_rate, "batches": per_batch,
                  "peak_rss_mib": _peak_rss_mib()}
        print("RESULT " + json.dumps(result))
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

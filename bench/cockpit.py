#!/usr/bin/env python3
"""Benchmark: the data cockpit over a long history, against direct SQL over the raw facts.

    .venv/bin/python bench/cockpit.py --enrolments 350000 --years 5   # ≈ 50 M check-ins
    .venv/bin/python bench/cockpit.py --enrolments 60000 --years 3    # a try-out
    .venv/bin/python bench/cockpit.py --quick                         # 20,000 enrolments, 2 years

Builds into a fresh database of its own (see bench/README.md):

1. the demo registry (``demo.generator.build_city``) at the scale giving ``--enrolments``;
   its sessions are repeated ``--years`` − 1 times, 52 weeks apart, into earlier years (the
   same classes, trainees and teachers: a history of that many years);
2. the facts, month by month with ``INSERT … SELECT`` (no Python loop): two check-ins (in and
   out) per held (session, enrolment) pair attended — about 90 % — into the monthly
   partitions of ``attendance_checkin``, and the derived ``attendance_sessionattendance``
   row of every held pair (present with the scheduled class hours as valid hours, or
   absent). Timed (rows/s);
3. the rollups: ``cockpit.rollups.refresh(full=True)`` (timed), and one incremental refresh
   after one day's attendance is recomputed (timed);
4. p50 / p95 of each cockpit page (city, a district, an institution; one year and one
   month) through the Django test client, ``--requests`` (20) requests each, and of the
   main statistical table (district × occupation × month over the last year) read from the
   rollup;
5. the same aggregates by direct SQL over the raw facts (sessions, attendance rows and
   check-ins joined to class and course, as the rollup itself aggregates them):
   ``--raw-runs`` (3) runs each, p50 / p95, and the ratio raw ÷ cockpit. The first check
   asserts that both give the same totals.

Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_city import _fresh_database, _peak_rss_mib

TZ = "Asia/Shanghai"

HISTORY_SESSIONS = """
INSERT INTO registry_session (training_class_id, district_id, sequence, starts_at, ends_at,
                              room_id, teacher_id, topic)
SELECT training_class_id, district_id, sequence + 10000 * %(k)s,
       starts_at - make_interval(days => 364 * %(k)s),
       ends_at - make_interval(days => 364 * %(k)s), room_id, teacher_id, topic
FROM registry_session WHERE sequence < 10000
"""

# (session, enrolment) pairs held in one month; attended when the hash says so (~90 %)
PAIRS = """
SELECT s.id AS sid, s.district_id, s.starts_at, s.ends_at, s.training_class_id AS cid,
       e.institution_id, e.id AS eid, e.trainee_id,
       (hashtext(s.id::text || ':' || e.id::text) & 1023) AS h
FROM registry_session s
JOIN registry_enrolment e ON e.training_class_id = s.training_class_id
WHERE s.starts_at >= %(m0)s AND s.starts_at < %(m1)s AND s.ends_at <= %(now)s
"""

CHECKINS = f"""
INSERT INTO attendance_checkin (id, district_id, occurred_at, kind, method, session_id,
    training_class_id, institution_id, enrolment_id, trainee_id, device_id, external_id,
    received_at, version, superseded)
SELECT nextval('attendance_checkin_id_seq'), p.district_id,
       CASE WHEN k.kind = 'in' THEN p.starts_at - make_interval(secs => 60 + p.h %% 600)
            ELSE p.ends_at + make_interval(secs => 30 + p.h %% 300) END,
       k.kind, (ARRAY['face', 'qr', 'gps', 'card'])[1 + p.h %% 4], p.sid, p.cid,
       p.institution_id, p.eid, p.trainee_id, 'bench-' || (p.h %% 97), '',
       CASE WHEN k.kind = 'in' THEN p.starts_at ELSE p.ends_at END
         + make_interval(secs => 90), 1, false
FROM ({PAIRS}) p CROSS JOIN (VALUES ('in'), ('out')) k(kind)
WHERE p.h < 922
"""

ATTENDANCE = f"""
INSERT INTO attendance_sessionattendance (district_id, session_id, enrolment_id, trainee_id,
    institution_id, training_class_id, starts_at, ends_at, first_in, last_out,
    attended_minutes, scheduled_hours, valid_hours, excluded_hours, status, flags,
    evidence_count, computed_at)
SELECT p.district_id, p.sid, p.eid, p.trainee_id, p.institution_id, p.cid, p.starts_at,
       p.ends_at,
       CASE WHEN p.h < 922 THEN p.starts_at END, CASE WHEN p.h < 922 THEN p.ends_at END,
       CASE WHEN p.h < 922 THEN extract(epoch FROM p.ends_at - p.starts_at)::int / 60 ELSE 0 END,
       round((extract(epoch FROM p.ends_at - p.starts_at) / 2700)::numeric, 2),
       CASE WHEN p.h < 922 THEN round((extract(epoch FROM p.ends_at - p.starts_at) / 2700)
                                      ::numeric, 2) ELSE 0 END,
       0, CASE WHEN p.h < 922 THEN 'present' ELSE 'absent' END, '{{}}',
       CASE WHEN p.h < 922 THEN 2 ELSE 0 END, p.ends_at + interval '1 hour'
FROM ({PAIRS}) p
"""

# The main statistical table: district × occupation × month, from the rollups (the monthly
# one for whole months, as reports.statistics reads it; the daily one for comparison) ...
TABLE_ROLLUP = """
SELECT district_id, occupation_id, date_trunc('month', day)::date AS month,
       sum(sessions_scheduled), sum(classes_running), sum(trainees_present), sum(checkins),
       sum(valid_hours), sum(scheduled_hours), sum(enrolments)
FROM {table} WHERE day BETWEEN %(a)s AND %(b)s
GROUP BY 1, 2, 3
"""
TABLE_MONTHLY = TABLE_ROLLUP.format(table="cockpit_monthlytraining")
TABLE_DAILY = TABLE_ROLLUP.format(table="cockpit_dailytraining")


def raw_inner_sql() -> str:
    """The rollup's own aggregation over the raw facts, its columns named like the rollup's."""
    from skillguard.cockpit.rollups import TRAINING_SQL

    inner = TRAINING_SQL[TRAINING_SQL.index("SELECT day,"):TRAINING_SQL.index("ON CONFLICT")]
    return _rename(inner)


def raw_table_sql() -> str:
    """... and the same table from the raw facts."""
    return f"""
SELECT district_id, occupation_id, date_trunc('month', day)::date AS month,
       sum(sessions_scheduled), sum(classes_running), sum(trainees_present), sum(checkins),
       sum(valid_hours), sum(scheduled_hours), sum(enrolments)
FROM ({raw_inner_sql()}) y
GROUP BY 1, 2, 3
"""


def _rename(inner: str) -> str:
    # the rollup's SELECT names its sums positionally; name them like the rollup's columns
    assert "sum(sessions), sum(classes)" in inner
    return inner.replace(
        "sum(sessions), sum(classes), sum(present), sum(due), sum(checkins),\n"
        "       sum(valid), sum(scheduled), sum(enrolments)",
        "sum(sessions) AS sessions_scheduled, sum(classes) AS classes_running, "
        "sum(present) AS trainees_present, sum(due) AS attendances, sum(checkins) AS checkins, "
        "sum(valid) AS valid_hours, sum(scheduled) AS scheduled_hours, "
        "sum(enrolments) AS enrolments")


def _count(sql: str, params=None) -> int:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(sql, params or {})
        return c.fetchone()[0]


def _months(first: dt.date, last: dt.date):
    m = first.replace(day=1)
    while m <= last:
        nxt = (m + dt.timedelta(days=32)).replace(day=1)
        yield m, nxt
        m = nxt


def build_facts(years: int) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from skillguard.core.partitions import ensure_monthly_partitions

    now = timezone.now()
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        for k in range(1, years):
            c.execute(HISTORY_SESSIONS, {"k": k})
        # a history: classes last changed when they started, not when the bench built them
        c.execute("""UPDATE registry_trainingclass
                     SET updated_at = least(updated_at, start_date::timestamptz)""")
        c.execute("ANALYZE registry_session")
    history_s = time.perf_counter() - t0
    with connection.cursor() as c:
        c.execute(f"""SELECT (min(starts_at) AT TIME ZONE '{TZ}')::date,
                             (max(starts_at) AT TIME ZONE '{TZ}')::date FROM registry_session
                      WHERE ends_at <= %s""", [now])
        first, last = c.fetchone()
    checkins = attendance = 0
    t_checkins = t_attendance = 0.0
    tz = timezone.get_current_timezone()
    for m0, m1 in _months(first, last):
        p = {"m0": dt.datetime.combine(m0, dt.time(), tzinfo=tz),
             "m1": dt.datetime.combine(m1, dt.time(), tzinfo=tz), "now": now}
        with transaction.atomic():
            ensure_monthly_partitions("attendance_checkin", m0, m0)
            with connection.cursor() as c:
                c.execute("SET LOCAL synchronous_commit TO OFF")
                t = time.perf_counter()
                c.execute(CHECKINS, p)
                checkins += c.rowcount
                t_checkins += time.perf_counter() - t
                t = time.perf_counter()
                c.execute(ATTENDANCE, p)
                attendance += c.rowcount
                t_attendance += time.perf_counter() - t
        print(f"    {m0:%Y-%m}: {checkins:,} check-ins, {attendance:,} attendance rows so far",
              flush=True)
    t = time.perf_counter()
    with connection.cursor() as c:
        c.execute("ANALYZE attendance_checkin")
        c.execute("ANALYZE attendance_sessionattendance")
    analyze_s = time.perf_counter() - t
    return {"first": first, "last": last, "checkins": checkins, "attendance": attendance,
            "history_sessions_s": history_s, "checkins_s": t_checkins,
            "attendance_s": t_attendance, "analyze_s": analyze_s}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def timed(fn, n: int) -> dict:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return {"n": n, "p50_ms": round(pct(out, 50), 1), "p95_ms": round(pct(out, 95), 1),
            "max_ms": round(max(out), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enrolments", type=int, default=350_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 enrolments, 2 years")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    enrolments, years = (20_000, 2) if args.quick else (args.enrolments, args.years)

    cleanup, where = _fresh_database(args.keep)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillguard.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    logging.getLogger("skillguard.cockpit.rollups").setLevel(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["*"]
    setup_test_environment()
    try:
        call_command("migrate", verbosity=0, interactive=False)
        print(f"cockpit benchmark — {enrolments:,} enrolments, {years} years, {where}")
        from skillguard.demo.generator import build_city, scale_for_enrolments

        t0 = time.perf_counter()
        report = build_city(scale=scale_for_enrolments(enrolments), seed=args.seed)
        city_s = time.perf_counter() - t0
        print(f"  registry: scale {report.scale:.2f} built in {city_s:.1f} s (not counted)")
        t0 = time.perf_counter()
        facts = build_facts(years)
        facts_s = time.perf_counter() - t0
        fact_rows = facts["checkins"] + facts["attendance"]
        sessions = _count("SELECT count(*) FROM registry_session")
        print(f"  facts: {facts['checkins']:,} check-ins in {facts['checkins_s']:.1f} s "
              f"({facts['checkins'] / facts['checkins_s']:,.0f}/s), {facts['attendance']:,} "
              f"attendance rows in {facts['attendance_s']:.1f} s "
              f"({facts['attendance'] / facts['attendance_s']:,.0f}/s); {sessions:,} sessions "
              f"({years} years, history copied in {facts['history_sessions_s']:.1f} s); "
              f"ANALYZE {facts['analyze_s']:.1f} s; {fact_rows:,} fact rows in {facts_s:.1f} s "
              f"({facts['first']} – {facts['last']})")

        from skillguard.cockpit import rollups

        t0 = time.perf_counter()
        rollups.refresh(full=True)
        full_s = time.perf_counter() - t0
        rollup_rows = _count("SELECT count(*) FROM cockpit_dailytraining")
        with connection.cursor() as c:
            c.execute("ANALYZE cockpit_dailytraining")
        print(f"  rollups: full rebuild in {full_s:.1f} s → {rollup_rows:,} daily training "
              f"rows ({fact_rows / max(rollup_rows, 1):,.0f} fact rows per rollup row)")
        # one day's attendance recomputed: the incremental refresh re-aggregates that day only
        day = facts["last"] - dt.timedelta(days=3)
        with connection.cursor() as c:
            c.execute(f"""UPDATE attendance_sessionattendance SET computed_at = now()
                          WHERE (starts_at AT TIME ZONE '{TZ}')::date = %s""", [day])
            touched = c.rowcount
        t0 = time.perf_counter()
        days = rollups.refresh(names=["training"])
        incr_s = time.perf_counter() - t0
        print(f"  incremental refresh after {touched:,} attendance rows of {day} were "
              f"recomputed: {incr_s:.2f} s ({days['training']} days re-aggregated)")

        # the same totals either way
        # the twelve whole months before the last day of the facts
        b = facts["last"].replace(day=1) - dt.timedelta(days=1)
        a = (b.replace(day=1) - dt.timedelta(days=320)).replace(day=1)
        raw_sql = raw_table_sql()
        lo = timezone.make_aware(dt.datetime.combine(a, dt.time()))
        hi = timezone.make_aware(dt.datetime.combine(b + dt.timedelta(days=1), dt.time()))
        params = {"a": a, "b": b, "lo": lo, "hi": hi}

        def run(sql):
            with connection.cursor() as c:
                c.execute(sql, params)
                return c.fetchall()

        rolled = run(TABLE_MONTHLY)
        raw = run(raw_sql)

        def key(r):
            return r[0], r[1], r[2]

        assert sorted(rolled, key=key) == sorted(raw, key=key), "rollup differs from raw SQL"
        assert sorted(run(TABLE_DAILY), key=key) == sorted(raw, key=key)
        print(f"  check: district × occupation × month table {a} – {b}: {len(rolled):,} cells, "
              "identical from the rollup and from the raw facts")

        # pages
        from skillguard.accounts.models import User
        from skillguard.accounts.roles import Role

        district_id = _count("SELECT district_id FROM registry_session GROUP BY 1 "
                             "ORDER BY count(*) DESC LIMIT 1")
        institution_id = _count("SELECT institution_id FROM registry_trainingclass GROUP BY 1 "
                                "ORDER BY count(*) DESC LIMIT 1")
        users = {
            "city": User.objects.create_user("bench_city", password="x",
                                             role=Role.CITY_SUPERVISOR),
            "district": User.objects.create_user("bench_district", password="x",
                                                 role=Role.DISTRICT_SUPERVISOR,
                                                 district_id=district_id),
            "institution": User.objects.create_user("bench_inst", password="x",
                                                    role=Role.INSTITUTION_ADMIN,
                                                    institution_id=institution_id),
        }
        anchor = b.isoformat()
        pages = {
            "city (year)": ("city", "/cockpit/city/", f"?period=year&day={anchor}"),
            "city (month)": ("city", "/cockpit/city/", f"?period=month&day={anchor}"),
            "district (year)": ("district", f"/cockpit/districts/{district_id}/",
                                f"?period=year&day={anchor}"),
            "institution (year)": ("institution", f"/cockpit/institutions/{institution_id}/",
                                   f"?period=year&day={anchor}"),
            "city (5 years)": ("city", "/cockpit/city/",
                               f"?period=custom&from={b - dt.timedelta(days=5 * 365)}&to={b}"),
            "API figures (city year)": ("city", "/api/cockpit/figures",
                                        f"?from={a}&to={b}"),
        }
        results = {}
        print(f"  pages ({args.requests} requests each, Django test client, after one "
              "warm-up request):")
        for name, (who, path, query) in pages.items():
            client = Client()
            client.force_login(users[who])
            first = client.get(path + query)
            assert first.status_code == 200, (name, first.status_code, first.content[:300])

            def get(client=client, url=path + query):
                r = client.get(url)
                assert r.status_code == 200

            results[name] = timed(get, args.requests)
            r = results[name]
            print(f"    {name:<26} p50 {r['p50_ms']:>8.1f} ms  p95 {r['p95_ms']:>8.1f} ms")

        table = timed(lambda: run(TABLE_MONTHLY), args.requests)
        table_daily = timed(lambda: run(TABLE_DAILY), args.requests)
        raw_table = timed(lambda: run(raw_sql), args.raw_runs)
        ratio_table = raw_table["p50_ms"] / max(table["p50_ms"], 0.001)
        print(f"  statistical table district × occupation × month, {a} – {b}:")
        print(f"    from the monthly rollup   p50 {table['p50_ms']:>8.1f} ms  "
              f"p95 {table['p95_ms']:>8.1f} ms")
        print(f"    from the daily rollup     p50 {table_daily['p50_ms']:>8.1f} ms  "
              f"p95 {table_daily['p95_ms']:>8.1f} ms")
        print(f"    direct SQL on raw facts   p50 {raw_table['p50_ms']:>8.1f} ms  "
              f"p95 {raw_table['p95_ms']:>8.1f} ms  ({args.raw_runs} runs)")
        print(f"    ratio raw ÷ monthly rollup {ratio_table:,.0f}×")

        # the city page's key figures, directly from the facts, vs the whole page
        raw_totals_sql = f"""SELECT sum(sessions_scheduled), sum(trainees_present),
            sum(checkins), sum(valid_hours), sum(scheduled_hours), sum(enrolments)
            FROM ({raw_inner_sql()}) t"""
        raw_city = timed(lambda: run(raw_totals_sql), args.raw_runs)
        page = results["city (year)"]
        ratio_page = raw_city["p50_ms"] / max(page["p50_ms"], 0.001)
        print(f"  city key figures of one year by direct SQL on the raw facts: p50 "
              f"{raw_city['p50_ms']:.1f} ms, p95 {raw_city['p95_ms']:.1f} ms — "
              f"{ratio_page:,.1f}× the whole city cockpit page (p50 {page['p50_ms']:.1f} ms)")
        print(f"  peak RSS {_peak_rss_mib():.0f} MiB")
        print("RESULT " + json.dumps({
            "enrolments": enrolments, "years": years, "sessions": sessions,
            "checkins": facts["checkins"], "attendance_rows": facts["attendance"],
            "fact_rows": fact_rows, "facts_seconds": round(facts_s, 1),
            "checkins_per_s": round(facts["checkins"] / facts["checkins_s"]),
            "rollup_full_s": round(full_s, 1), "rollup_rows": rollup_rows,
            "incremental_s": round(incr_s, 2), "pages": results, "table_rollup": table,
            "table_daily": table_daily,
            "table_raw": raw_table, "table_ratio": round(ratio_table, 1),
            "city_raw": raw_city, "page_ratio": round(ratio_page, 1)}, default=str))
        return 0
    finally:
        cleanup()


if __name__ == "__main__":
    raise SystemExit(main())

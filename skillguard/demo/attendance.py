"""Clean, believable attendance evidence for the demo city (and the benchmark).

``generate_checkins(seed=…)`` writes a check-in and a check-out for every trainee present
at every held session (classes in progress or finished, sessions already over), entirely
in SQL: one ``INSERT … SELECT`` per month of sessions over ``registry_session ×
registry_enrolment``, with pseudo-randomness drawn from ``md5`` of the seed and the ids, so
the same city and seed always give the same evidence, at about a million rows in seconds.

What the evidence looks like, and why it stays clean for the supervision rules:

* each trainee has an attendance probability between 80% and 99%; every finished class
  has at least one absence (its first trainee misses session 2), so no class shows 100%
  attendance with zero variance; withdrawn trainees come only to the first few sessions;
* check-ins arrive from 20 minutes before the start (5% arrive 10–30 minutes late), in
  the order of a per-session shuffle, at least 9 seconds apart — never a burst;
  check-outs follow the end (3% leave 25 minutes early);
* one phone per trainee (``device_id``), two IP addresses per trainee (home and mobile,
  from the carrier-grade NAT range, never shared between trainees);
* methods mixed: face 45%, QR 30%, location 15%, ID card 10%; QR and location check-ins
  carry coordinates inside the venue's geofence;
* ``received_at`` 2–42 seconds after ``occurred_at``; ``source_client_id`` NULL and
  ``external_id`` ``demo-<seed>-<enrolment>-<session>-<in|out>``.
"""
from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from skillguard.core.partitions import (
    ensure_monthly_partitions,
    month_start,
    next_month,
)

TABLE = "attendance_checkin"
COLUMNS = ("id", "district_id", "occurred_at", "kind", "method", "session_id",
           "training_class_id", "institution_id", "enrolment_id", "trainee_id", "device_id",
           "latitude", "longitude", "ip", "source_client_id", "external_id", "submission_id",
           "received_at", "version", "superseded")


def u(column: str, k: int) -> str:
    """A uniform number in [0, 1) from 8 hex digits of an md5 column, starting at ``k``."""
    return f"(('x' || substr({column}, {k}, 8))::bit(32)::bigint / 4294967296.0)"


INSERT = f"""
INSERT INTO {TABLE} ({", ".join(COLUMNS)})
WITH held AS (
    SELECT s.id AS sid, s.district_id, s.starts_at, s.ends_at, s.sequence, c.id AS cid,
           c.institution_id, c.status AS class_status, v.latitude::float8 AS vlat,
           v.longitude::float8 AS vlon, v.geofence_radius_m AS radius
    FROM registry_session s
    JOIN registry_trainingclass c ON c.id = s.training_class_id
    LEFT JOIN registry_room r ON r.id = s.room_id
    LEFT JOIN registry_venue v ON v.id = COALESCE(c.venue_id, r.venue_id)
    WHERE c.status IN ('in_progress', 'finished') AND c.mode <> 'online'
      AND s.starts_at >= %(m0)s AND s.starts_at < %(m1)s AND s.ends_at <= %(until)s
), pairs AS (
    SELECT h.*, e.id AS eid, e.trainee_id, e.status AS enrolment_status,
           md5(%(seed)s || ':' || e.id || ':' || h.sid) AS hx,
           md5(%(seed)s || ':t:' || e.trainee_id) AS ht,
           min(e.id) FILTER (WHERE e.status <> 'withdrawn')
               OVER (PARTITION BY e.training_class_id) AS first_eid
    FROM held h JOIN registry_enrolment e ON e.training_class_id = h.cid
), present AS (
    SELECT p.*, row_number() OVER (PARTITION BY p.sid ORDER BY p.hx) AS rk
    FROM pairs p
    WHERE CASE
        WHEN p.enrolment_status = 'withdrawn' THEN p.sequence <= 1 + floor({u("p.ht", 9)} * 4)
        WHEN p.eid = p.first_eid AND p.sequence = 2 THEN false
        WHEN p.class_status = 'finished' AND p.enrolment_status = 'enrolled'
            THEN {u("p.hx", 1)} < 0.55
        ELSE {u("p.hx", 1)} < 0.80 + 0.19 * {u("p.ht", 1)}
    END
), shaped AS (
    SELECT p.*, k.kind,
           CASE WHEN {u("p.hx", 9)} < 0.45 THEN 'face' WHEN {u("p.hx", 9)} < 0.75 THEN 'qr'
                WHEN {u("p.hx", 9)} < 0.90 THEN 'gps' ELSE 'card' END AS method,
           CASE WHEN k.kind = 'in' THEN
                    p.starts_at + make_interval(secs => p.rk * 29 + floor({u("p.hx", 17)} * 20)
                        + CASE WHEN {u("p.hx", 25)} < 0.05 THEN 600 ELSE -1200 END)
                ELSE p.ends_at + make_interval(secs => p.rk * 17 + floor({u("p.hx", 17)} * 40)
                        + CASE WHEN {u("p.hx", 25)} > 0.97 THEN -1500 ELSE 60 END)
           END AS at,
           {u("p.hx", 3)} * 0.6 * p.radius AS d, {u("p.hx", 11)} * 2 * pi() AS theta
    FROM present p CROSS JOIN (VALUES ('in'), ('out')) k(kind)
)
SELECT nextval('{TABLE}_id_seq'), x.district_id, x.at, x.kind, x.method, x.sid, x.cid,
       x.institution_id, x.eid, x.trainee_id, 'demo-' || substr(x.ht, 1, 16),
       CASE WHEN x.method IN ('qr', 'gps') AND x.vlat IS NOT NULL
            THEN round((x.vlat + x.d * cos(x.theta) / 111320)::numeric, 6) END,
       CASE WHEN x.method IN ('qr', 'gps') AND x.vlat IS NOT NULL
            THEN round((x.vlon + x.d * sin(x.theta)
                        / (111320 * cos(radians(x.vlat))))::numeric, 6) END,
       '100.64.0.0'::inet + ((x.trainee_id * 2 + ({u("x.hx", 29)} < 0.5)::int) %% 4194304),
       NULL, 'demo-' || %(seed)s || '-' || x.eid || '-' || x.sid || '-' || x.kind, NULL,
       x.at + make_interval(secs => 2 + floor({u("x.hx", 21)} * 40)), 1, false
FROM shaped x
"""


def demo_checkins_exist() -> bool:
    with connection.cursor() as c:
        c.execute(f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE source_client_id IS NULL "
                  "AND external_id LIKE 'demo-%%')")
        return c.fetchone()[0]


def delete_demo_checkins() -> int:
    with connection.cursor() as c:
        c.execute(f"DELETE FROM {TABLE} WHERE source_client_id IS NULL "
                  "AND external_id LIKE 'demo-%%'")
        return c.rowcount


def generate_checkins(*, seed: int, until: dt.datetime | None = None, stdout=None,
                      analyze: bool = True) -> int:
    """Write the demo city's check-ins (replacing earlier demo check-ins); return how many.

    Month by month of session start, one transaction each; ``until`` (default now) bounds
    the sessions that count as held."""
    started = time.perf_counter()
    until = until or timezone.now()
    tz = ZoneInfo(settings.TIME_ZONE)
    with connection.cursor() as c:
        c.execute("""SELECT min(s.starts_at) FROM registry_session s
                     JOIN registry_trainingclass c ON c.id = s.training_class_id
                     WHERE c.status IN ('in_progress', 'finished') AND s.ends_at <= %s""",
                  [until])
        first = c.fetchone()[0]
    if delete_demo_checkins() and stdout:
        stdout.write("  earlier demo check-ins removed\n")
    if first is None:
        return 0
    total = 0
    month = month_start(first.astimezone(tz).date())
    last = until.astimezone(tz).date()
    while month <= last:
        m0 = dt.datetime.combine(month, dt.time(), tzinfo=tz)
        m1 = dt.datetime.combine(next_month(month), dt.time(), tzinfo=tz)
        with transaction.atomic():
            ensure_monthly_partitions(TABLE, month, month)
            with connection.cursor() as c:
                c.execute("SET LOCAL synchronous_commit TO OFF")
                c.execute(INSERT, {"m0": m0, "m1": m1, "until": until, "seed": str(seed)})
                total += c.rowcount
        if stdout:
            stdout.write(f"  check-ins {month:%Y-%m}: {total:,} so far\n")
        month = next_month(month)
    if analyze:  # fresh statistics, or the planner picks nested loops over millions of rows
        with connection.cursor() as c:
            c.execute(f"ANALYZE {TABLE}")
    if stdout:
        stdout.write(f"Check-ins written: {total:,} in {time.perf_counter() - started:.1f} s "
                     "/ 已生成签到记录\n")
    return total


def populate_evidence(*, seed: int, fraud: bool = True, stdout=None,
                      now: dt.datetime | None = None) -> dict:
    """The demo city's evidence after ``build_city``: clean check-ins, then (unless
    ``fraud`` is false) the labelled fraud patterns of ``demo.fraud``, then the learning
    hours (``attendance.services.recompute_all``) and one run of every rule over the
    city's whole period, so the demo opens with its hours and its warnings."""
    from skillguard.demo.fraud import inject_fraud

    now = now or timezone.now()
    result = {"checkins": generate_checkins(seed=seed, until=now, stdout=stdout),
              "labels": []}
    if fraud:
        result["labels"] = inject_fraud(seed=seed, now=now, stdout=stdout)
    t0 = time.perf_counter()
    from skillguard.attendance.services import recompute_all

    result["hours"] = recompute_all(now=now)
    if stdout:
        stdout.write(f"Learning hours computed in {time.perf_counter() - t0:.1f} s "
                     "/ 已认定学时\n")
    t0 = time.perf_counter()
    from skillguard.supervision.engine import run_rules
    from skillguard.supervision.models import RunMode

    with connection.cursor() as c:
        c.execute("SELECT min(starts_at) FROM registry_session")
        first = c.fetchone()[0] or now
    runs = run_rules(RunMode.SWEEP, window_start=first - dt.timedelta(days=400),
                     window_end=now + dt.timedelta(days=400), now=now)
    result["warnings"] = sum(r.new_warnings for r in runs)
    result["failed_rules"] = [r.rule.code for r in runs if r.status == "failed"]
    if stdout:
        stdout.write(f"Warning rules run in {time.perf_counter() - t0:.1f} s: "
                     f"{result['warnings']} warnings / 已运行预警规则\n")
        if result["failed_rules"]:
            stdout.write(f"  rules that failed: {', '.join(result['failed_rules'])}\n")
    from skillguard.cockpit.rollups import refresh as refresh_rollups  # cockpit figures

    result["rollups"] = refresh_rollups(full=True)
    result["cameras"] = __import__("skillguard.demo.cameras").demo.cameras.populate_cameras(seed, stdout=stdout, now=now)  # noqa: E501 camera estate
    return result

"""Refresh of the cockpit rollups (``cockpit.models``): set-based SQL per day range.

``refresh(full=False)`` finds, per rollup, the local days touched since its high-water mark,
deletes their rows and re-aggregates them from the sources in one
``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` per contiguous day range (a full
rebuild goes month by month, so the partitions of the evidence are pruned). Idempotent: run
it twice and nothing changes.

What marks a day as touched:

* training — ``attendance.SessionAttendance.computed_at`` (the hours engine rewrites the rows
  of every session whose evidence changed: the evidence outbox ends there), new sessions
  (id above the mark) and classes changed (``updated_at``: their sessions' days), new
  enrolments (``enrolled_at``);
* warnings — ``last_seen_at`` (raised or seen again), new ids, and warnings linked to a case
  or whose case changed (``cases.Case.updated_at``: status in case / closed);
* cases — ``updated_at`` (every step, and ``cases.escalate_overdue`` marking overdue);
* subsidies — ``subsidies.SubsidyVerdict.computed_at`` (their classes' end dates);
* quality — the ingest timestamps ``Submission.received_at``, ``RecordIdentity.created_at``,
  ``RecordVersion.replaced_at`` and ``QuarantinedRecord.created_at``, plus, for every version
  replaced since the mark, the day that version had been accepted (its "corrected" count
  changes). The SQL is ``distribution.quality.QUALITY_SQL``, the one the page runs live.

Days are local (Asia/Shanghai). The sources are read with their true values: valid hours come
from ``SessionAttendance`` (computed by ``attendance.hours``), never from client totals.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from skillguard.cockpit.models import RollupState
from skillguard.distribution.quality import QUALITY_SQL

log = logging.getLogger(__name__)

TZ = "Asia/Shanghai"
ROLLUPS = ("training", "warnings", "cases", "subsidies", "quality")
# margin for transactions that committed late with an earlier timestamp
SAFETY = dt.timedelta(minutes=5)
ACTIVE_CLASS = ("approved", "in_progress", "finished")

# --------------------------------------------------------------------------- SQL

TRAINING_SQL = f"""
INSERT INTO cockpit_dailytraining (day, district_id, institution_id, occupation_id, level,
    category, sessions_scheduled, classes_running, trainees_present, attendances, checkins,
    valid_hours, scheduled_hours, enrolments)
SELECT day, district_id, institution_id, occupation_id, level, category,
       sum(sessions), sum(classes), sum(present), sum(due), sum(checkins),
       sum(valid), sum(scheduled), sum(enrolments)
FROM (
  -- class-level measures: the row without a trainee category
  SELECT (s.starts_at AT TIME ZONE '{TZ}')::date AS day, s.district_id, tc.institution_id,
         c.occupation_id, coalesce(c.level, 0) AS level, ''::varchar AS category,
         count(*) AS sessions, count(DISTINCT s.training_class_id) AS classes,
         0 AS present, 0 AS due, 0 AS checkins, 0::numeric AS valid, 0::numeric AS scheduled,
         0 AS enrolments
  FROM registry_session s
  JOIN registry_trainingclass tc ON tc.id = s.training_class_id
  JOIN registry_course c ON c.id = tc.course_id
  WHERE s.starts_at >= %(lo)s AND s.starts_at < %(hi)s
  GROUP BY 1, 2, 3, 4, 5
  UNION ALL
  -- attendance and hours as the server computed them (attendance.hours)
  SELECT (a.starts_at AT TIME ZONE '{TZ}')::date, a.district_id, a.institution_id,
         c.occupation_id, coalesce(c.level, 0), t.category,
         0, 0, count(DISTINCT a.trainee_id) FILTER (WHERE a.status IN ('present', 'partial')),
         count(*), 0, sum(a.valid_hours), sum(a.scheduled_hours), 0
  FROM attendance_sessionattendance a
  JOIN registry_trainingclass tc ON tc.id = a.training_class_id
  JOIN registry_course c ON c.id = tc.course_id
  JOIN registry_trainee t ON t.id = a.trainee_id
  WHERE a.starts_at >= %(lo)s AND a.starts_at < %(hi)s
  GROUP BY 1, 2, 3, 4, 5, 6
  UNION ALL
  -- check-ins (the evidence itself: current versions of check-ins, not check-outs)
  SELECT (k.occurred_at AT TIME ZONE '{TZ}')::date, k.district_id, k.institution_id,
         c.occupation_id, coalesce(c.level, 0), t.category,
         0, 0, 0, 0, count(*), 0, 0, 0
  FROM attendance_checkin k
  JOIN registry_trainingclass tc ON tc.id = k.training_class_id
  JOIN registry_course c ON c.id = tc.course_id
  JOIN registry_trainee t ON t.id = k.trainee_id
  WHERE k.occurred_at >= %(lo)s AND k.occurred_at < %(hi)s AND k.kind = 'in'
    AND NOT k.superseded
  GROUP BY 1, 2, 3, 4, 5, 6
  UNION ALL
  SELECT (e.enrolled_at AT TIME ZONE '{TZ}')::date, e.district_id, e.institution_id,
         c.occupation_id, coalesce(c.level, 0), t.category,
         0, 0, 0, 0, 0, 0, 0, count(*)
  FROM registry_enrolment e
  JOIN registry_trainingclass tc ON tc.id = e.training_class_id
  JOIN registry_course c ON c.id = tc.course_id
  JOIN registry_trainee t ON t.id = e.trainee_id
  WHERE e.enrolled_at >= %(lo)s AND e.enrolled_at < %(hi)s
  GROUP BY 1, 2, 3, 4, 5, 6
) parts
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (day, district_id, institution_id, occupation_id, level, category) DO UPDATE SET
  sessions_scheduled = EXCLUDED.sessions_scheduled, classes_running = EXCLUDED.classes_running,
  trainees_present = EXCLUDED.trainees_present, attendances = EXCLUDED.attendances,
  checkins = EXCLUDED.checkins, valid_hours = EXCLUDED.valid_hours,
  scheduled_hours = EXCLUDED.scheduled_hours, enrolments = EXCLUDED.enrolments
"""

WARNINGS_SQL = f"""
INSERT INTO cockpit_warningdaily (day, district_id, institution_id, severity, status, warnings)
SELECT (w.first_seen_at AT TIME ZONE '{TZ}')::date, w.district_id,
       coalesce(w.institution_id, 0), w.severity, w.status, count(*)
FROM supervision_warning w
WHERE w.first_seen_at >= %(lo)s AND w.first_seen_at < %(hi)s
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (day, district_id, institution_id, severity, status) DO UPDATE SET
  warnings = EXCLUDED.warnings
"""

CASES_SQL = f"""
INSERT INTO cockpit_casedaily (day, district_id, institution_id, dispatched_to_id, severity,
                               state, cases, overdue, closed_on_time)
SELECT (k.opened_at AT TIME ZONE '{TZ}')::date, k.district_id, coalesce(k.institution_id, 0),
       coalesce(k.dispatched_to_id, 0), k.severity, k.state, count(*),
       count(*) FILTER (WHERE k.state <> 'closed' AND (k.overdue OR k.deadline < %(now)s)),
       count(*) FILTER (WHERE k.state = 'closed' AND k.closed_at <= k.deadline)
FROM cases_case k
WHERE k.opened_at >= %(lo)s AND k.opened_at < %(hi)s
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (day, district_id, institution_id, dispatched_to_id, severity, state) DO UPDATE SET
  cases = EXCLUDED.cases, overdue = EXCLUDED.overdue, closed_on_time = EXCLUDED.closed_on_time
"""

SUBSIDIES_SQL = """
INSERT INTO cockpit_subsidydaily (day, district_id, institution_id, occupation_id, level,
                                  category, verdict, verdicts, amount, withheld)
SELECT tc.end_date, v.district_id, v.institution_id, c.occupation_id, coalesce(c.level, 0),
       t.category, v.verdict, count(*),
       coalesce(sum(v.amount) FILTER (WHERE v.verdict = 'eligible'), 0),
       coalesce(sum(c.subsidy_amount) FILTER (WHERE v.verdict = 'not_eligible'), 0)
FROM subsidies_subsidyverdict v
JOIN registry_trainingclass tc ON tc.id = v.training_class_id
JOIN registry_course c ON c.id = tc.course_id
JOIN registry_trainee t ON t.id = v.trainee_id
WHERE tc.end_date >= %(lo_day)s AND tc.end_date < %(hi_day)s
GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (day, district_id, institution_id, occupation_id, level, category, verdict)
DO UPDATE SET verdicts = EXCLUDED.verdicts, amount = EXCLUDED.amount,
              withheld = EXCLUDED.withheld
"""

QUALITY_ROLLUP_SQL = f"""
INSERT INTO cockpit_qualitydaily (client_id, day, district_id, institution_id, received,
                                  accepted, rejected, corrected, rejected_by_code)
SELECT q.client_id, q.day, coalesce(c.district_id, inst.district_id, 0),
       coalesce(c.institution_id, 0), q.received, q.accepted, q.rejected, q.corrected,
       q.rejected_by_code
FROM ({QUALITY_SQL}) q
LEFT JOIN ingest_dockingclient c ON c.id = q.client_id
LEFT JOIN registry_institution inst ON inst.id = c.institution_id
ON CONFLICT (client_id, day) DO UPDATE SET
  district_id = EXCLUDED.district_id, institution_id = EXCLUDED.institution_id,
  received = EXCLUDED.received, accepted = EXCLUDED.accepted, rejected = EXCLUDED.rejected,
  corrected = EXCLUDED.corrected, rejected_by_code = EXCLUDED.rejected_by_code
"""

MONTHLY_SQL = """
INSERT INTO cockpit_monthlytraining (day, district_id, institution_id, occupation_id, level,
    category, sessions_scheduled, classes_running, trainees_present, attendances, checkins,
    valid_hours, scheduled_hours, enrolments)
SELECT date_trunc('month', day)::date, district_id, institution_id, occupation_id, level,
       category, sum(sessions_scheduled), sum(classes_running), sum(trainees_present),
       sum(attendances), sum(checkins), sum(valid_hours), sum(scheduled_hours), sum(enrolments)
FROM cockpit_dailytraining
WHERE day >= %(lo_day)s AND day < %(hi_day)s
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (day, district_id, institution_id, occupation_id, level, category) DO UPDATE SET
  sessions_scheduled = EXCLUDED.sessions_scheduled, classes_running = EXCLUDED.classes_running,
  trainees_present = EXCLUDED.trainees_present, attendances = EXCLUDED.attendances,
  checkins = EXCLUDED.checkins, valid_hours = EXCLUDED.valid_hours,
  scheduled_hours = EXCLUDED.scheduled_hours, enrolments = EXCLUDED.enrolments
"""

SPECS = {
    "training": ("cockpit_dailytraining", TRAINING_SQL),
    "warnings": ("cockpit_warningdaily", WARNINGS_SQL),
    "cases": ("cockpit_casedaily", CASES_SQL),
    "subsidies": ("cockpit_subsidydaily", SUBSIDIES_SQL),
    "quality": ("cockpit_qualitydaily", QUALITY_ROLLUP_SQL),
}

# the whole span of each source, for a full rebuild
SPAN_SQL = {
    "training": f"""SELECT min(d), max(d) FROM (
        SELECT (min(starts_at) AT TIME ZONE '{TZ}')::date d FROM registry_session UNION ALL
        SELECT (max(starts_at) AT TIME ZONE '{TZ}')::date FROM registry_session UNION ALL
        SELECT (min(starts_at) AT TIME ZONE '{TZ}')::date FROM attendance_sessionattendance
        UNION ALL
        SELECT (max(starts_at) AT TIME ZONE '{TZ}')::date FROM attendance_sessionattendance
        UNION ALL
        SELECT (min(occurred_at) AT TIME ZONE '{TZ}')::date FROM attendance_checkin UNION ALL
        SELECT (max(occurred_at) AT TIME ZONE '{TZ}')::date FROM attendance_checkin UNION ALL
        SELECT (min(enrolled_at) AT TIME ZONE '{TZ}')::date FROM registry_enrolment UNION ALL
        SELECT (max(enrolled_at) AT TIME ZONE '{TZ}')::date FROM registry_enrolment) x""",
    "warnings": f"""SELECT (min(first_seen_at) AT TIME ZONE '{TZ}')::date,
                           (max(first_seen_at) AT TIME ZONE '{TZ}')::date
                    FROM supervision_warning""",
    "cases": f"""SELECT (min(opened_at) AT TIME ZONE '{TZ}')::date,
                        (max(opened_at) AT TIME ZONE '{TZ}')::date FROM cases_case""",
    "subsidies": """SELECT min(tc.end_date), max(tc.end_date) FROM subsidies_subsidyverdict v
                    JOIN registry_trainingclass tc ON tc.id = v.training_class_id""",
    "quality": f"""SELECT (min(t) AT TIME ZONE '{TZ}')::date, (max(t) AT TIME ZONE '{TZ}')::date
        FROM (SELECT min(received_at) t FROM ingest_submission UNION ALL
              SELECT max(received_at) FROM ingest_submission UNION ALL
              SELECT min(created_at) FROM ingest_recordidentity UNION ALL
              SELECT max(created_at) FROM ingest_recordidentity UNION ALL
              SELECT min(replaced_at) FROM ingest_recordversion UNION ALL
              SELECT max(replaced_at) FROM ingest_recordversion UNION ALL
              SELECT min(created_at) FROM ingest_quarantinedrecord UNION ALL
              SELECT max(created_at) FROM ingest_quarantinedrecord) x""",
}

# days touched since the marks (%(since)s: the high-water time; id marks by name)
TOUCHED_SQL = {
    "training": f"""
        SELECT DISTINCT (starts_at AT TIME ZONE '{TZ}')::date FROM attendance_sessionattendance
        WHERE computed_at >= %(since)s
        UNION
        SELECT DISTINCT (starts_at AT TIME ZONE '{TZ}')::date FROM registry_session
        WHERE id > %(session_id)s
        UNION
        SELECT DISTINCT (starts_at AT TIME ZONE '{TZ}')::date FROM registry_session
        WHERE training_class_id IN (SELECT id FROM registry_trainingclass
                                    WHERE updated_at >= %(since)s)
        UNION
        SELECT DISTINCT (enrolled_at AT TIME ZONE '{TZ}')::date FROM registry_enrolment
        WHERE id > %(enrolment_id)s""",
    "warnings": f"""
        SELECT DISTINCT (w.first_seen_at AT TIME ZONE '{TZ}')::date FROM supervision_warning w
        WHERE w.last_seen_at >= %(since)s OR w.id > %(warning_id)s
           OR w.id IN (SELECT l.warning_id FROM cases_casewarning l
                       JOIN cases_case k ON k.id = l.case_id
                       WHERE l.linked_at >= %(since)s OR k.updated_at >= %(since)s)""",
    "cases": f"""
        SELECT DISTINCT (opened_at AT TIME ZONE '{TZ}')::date FROM cases_case
        WHERE updated_at >= %(since)s OR id > %(case_id)s""",
    "subsidies": """
        SELECT DISTINCT tc.end_date FROM subsidies_subsidyverdict v
        JOIN registry_trainingclass tc ON tc.id = v.training_class_id
        WHERE v.computed_at >= %(since)s
        UNION
        SELECT DISTINCT end_date FROM registry_trainingclass WHERE updated_at >= %(since)s""",
    "quality": f"""
        SELECT DISTINCT (received_at AT TIME ZONE '{TZ}')::date FROM ingest_submission
        WHERE received_at >= %(since)s
        UNION
        SELECT DISTINCT (created_at AT TIME ZONE '{TZ}')::date FROM ingest_recordidentity
        WHERE created_at >= %(since)s
        UNION
        SELECT DISTINCT (replaced_at AT TIME ZONE '{TZ}')::date FROM ingest_recordversion
        WHERE replaced_at >= %(since)s
        UNION
        SELECT DISTINCT (created_at AT TIME ZONE '{TZ}')::date FROM ingest_quarantinedrecord
        WHERE created_at >= %(since)s
        UNION
        -- a version replaced since the mark is corrected: the day it had been accepted
        SELECT DISTINCT (coalesce(prev.replaced_at, i.created_at) AT TIME ZONE '{TZ}')::date
        FROM ingest_recordversion rv
        JOIN ingest_recordidentity i ON i.id = rv.identity_id
        LEFT JOIN ingest_recordversion prev
          ON prev.identity_id = rv.identity_id AND prev.version = rv.version - 1
        WHERE rv.replaced_at >= %(since)s""",
}

MARKS_SQL = {
    "training": {"session_id": "SELECT coalesce(max(id), 0) FROM registry_session",
                 "enrolment_id": "SELECT coalesce(max(id), 0) FROM registry_enrolment"},
    "warnings": {"warning_id": "SELECT coalesce(max(id), 0) FROM supervision_warning"},
    "cases": {"case_id": "SELECT coalesce(max(id), 0) FROM cases_case"},
    "subsidies": {},
    "quality": {},
}


# --------------------------------------------------------------------------- helpers


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def day_ranges(days: Iterable[dt.date], max_days: int = 31) -> list[tuple[dt.date, dt.date]]:
    """Contiguous [first, last] ranges of these days, none longer than ``max_days``."""
    out: list[list[dt.date]] = []
    for d in sorted(set(days)):
        if out and d == out[-1][1] + dt.timedelta(days=1) and \
                (d - out[-1][0]).days < max_days:
            out[-1][1] = d
        else:
            out.append([d, d])
    return [(a, b) for a, b in out]


def _month_ranges(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    out = []
    start = first
    while start <= last:
        nxt = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        out.append((start, min(last, nxt - dt.timedelta(days=1))))
        start = nxt
    return out


def _aggregate(cur, name: str, first: dt.date, last: dt.date, now) -> None:
    table, sql = SPECS[name]
    cur.execute(f"DELETE FROM {table} WHERE day >= %s AND day <= %s", [first, last])
    hi = last + dt.timedelta(days=1)
    cur.execute(sql, {"lo": _midnight(first), "hi": _midnight(hi), "lo_day": first,
                      "hi_day": hi, "now": now, "tz": TZ, "all_clients": True, "clients": []})


def _monthly(cur, months: set[dt.date]) -> None:
    """Re-sum the months (first days) from the daily training rows."""
    for m in sorted(months):
        nxt = (m + dt.timedelta(days=32)).replace(day=1)
        cur.execute("DELETE FROM cockpit_monthlytraining WHERE day = %s", [m])
        cur.execute(MONTHLY_SQL, {"lo_day": m, "hi_day": nxt})


def _marks(cur, name: str) -> dict:
    out = {}
    for key, sql in MARKS_SQL[name].items():
        cur.execute(sql)
        out[key] = cur.fetchone()[0]
    return out


# --------------------------------------------------------------------------- refresh


def refresh_one(name: str, *, full: bool = False, now=None) -> int:
    """Refresh one rollup; returns how many days were re-aggregated."""
    now = now or timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(name=name)
        with connection.cursor() as cur:
            marks = _marks(cur, name)  # taken first: what arrives during the run is next
            if full or state.high_water is None:
                cur.execute(SPAN_SQL[name])
                first, last = cur.fetchone()
                table = SPECS[name][0]
                cur.execute(f"DELETE FROM {table}")
                ranges = _month_ranges(first, last) if first else []
                days = (last - first).days + 1 if first else 0
                state.full_at = now
            else:
                params = {"since": state.high_water - SAFETY,
                          **{k: state.marks.get(k, 0) for k in MARKS_SQL[name]}}
                cur.execute(TOUCHED_SQL[name], params)
                touched = [r[0] for r in cur.fetchall() if r[0] is not None]
                ranges = day_ranges(touched)
                days = len(set(touched))
            for first_day, last_day in ranges:
                _aggregate(cur, name, first_day, last_day, now)
            if name == "training":
                if full or state.high_water is None:
                    cur.execute("DELETE FROM cockpit_monthlytraining")
                _monthly(cur, {m for a, b in ranges for m, _n in _months_between(a, b)})
        state.refreshed_at = timezone.now()
        state.high_water = now
        state.marks = marks
        state.days_refreshed = days
        state.duration_ms = int((time.perf_counter() - started) * 1000)
        state.save()
    log.info("rollup %s: %d days in %d ms", name, days, state.duration_ms)
    return days


def refresh(*, full: bool = False, now=None, names: Iterable[str] = ROLLUPS) -> dict[str, int]:
    """Refresh every rollup (incrementally unless ``full``); returns days per rollup."""
    return {name: refresh_one(name, full=full, now=now) for name in names}


def _months_between(first: dt.date, last: dt.date):
    m = first.replace(day=1)
    while m <= last:
        yield m, None
        m = (m + dt.timedelta(days=32)).replace(day=1)


def refresh_days(first: dt.date, last: dt.date, *, names: Iterable[str] = ROLLUPS,
                 now=None) -> None:
    """Re-aggregate an explicit day range (repairs, tests)."""
    now = now or timezone.now()
    names = tuple(names)
    with transaction.atomic(), connection.cursor() as cur:
        for name in names:
            for a, b in day_ranges(_all_days(first, last)):
                _aggregate(cur, name, a, b, now)
        if "training" in names:
            _monthly(cur, {m for m, _n in _months_between(first, last)})


def _all_days(first: dt.date, last: dt.date):
    d = first
    while d <= last:
        yield d
        d += dt.timedelta(days=1)


def freshness() -> dict[str, dt.datetime | None]:
    """When each rollup was last refreshed (None: never)."""
    out = {name: None for name in ROLLUPS}
    for state in RollupState.objects.all():
        out[state.name] = state.refreshed_at
    return out

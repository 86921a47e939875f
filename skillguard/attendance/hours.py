"""Learning hours from evidence (学时认定): the set-based computation.

One SQL statement per batch of sessions writes ``SessionAttendance`` (INSERT … SELECT …
ON CONFLICT DO UPDATE); one more writes the ``EnrolmentHours`` totals of the enrolments
concerned. Nothing here trusts a client total: only check-in / check-out evidence counts.

The rules (tolerances are settings; defaults in brackets):

* only current evidence (``superseded = false``);
* clock skew: evidence whose ``occurred_at`` lies more than
  ``SKILLGUARD_HOURS_CLOCK_SKEW_MIN`` [5] minutes after its ``received_at`` is flagged
  ``clock_skew`` and not counted (a device clock ahead of the server);
* geofence: evidence with a location farther (haversine) from the session's venue (the
  room's venue, else the class's venue) than the venue's ``geofence_radius_m`` is flagged
  ``outside_geofence`` and not counted;
* window: a check-in counts from ``SKILLGUARD_HOURS_CHECKIN_EARLY_MIN`` [30] minutes before
  the start until the end; a check-out from the start until
  ``SKILLGUARD_HOURS_CHECKOUT_LATE_MIN`` [60] minutes after the end; anything else is
  flagged ``outside_window`` and not counted;
* attended minutes = min(last valid check-out, end) − max(first valid check-in, start),
  never negative; 0 without a valid check-out (flag ``missing_checkout``) or check-in
  (``missing_checkin``);
* valid class hours = floor((attended + ``SKILLGUARD_HOURS_GRACE_MIN`` [5]) / 45), capped at
  the session's scheduled class hours (``Session.class_hours``: minutes / 45, 2 decimals);
  a trainee present for the whole session (attended + grace ≥ its length) earns all of its
  scheduled class hours, so a 150-minute session fully attended counts 3.33, not 3;
* evidence that arrives twice counts once: only the min / max of valid evidence is used;
* a pair excluded by a confirmed case (``HoursExclusion``) counts 0 valid hours, keeps what
  it would have counted in ``excluded_hours`` and is flagged ``excluded_by_case``;
* status: ``pending`` while no valid check-out exists and the check-out window is still
  open; else ``absent`` (no attended minutes), ``present`` (valid hours reach the scheduled
  hours) or ``partial``.

Online classes have no check-ins: their hours will come from online learning records
(the online-supervision issue); until then their completion stays ``pending``.

Rows whose figures did not change are not rewritten (``computed_at`` is when they last
changed) and are not returned: only enrolments whose sessions changed get new totals, and
only trainees whose totals changed get new subsidy verdicts, which keeps the real-time path
proportional to what actually changed.

Totals per enrolment: scheduled hours of the sessions held (status not pending), valid and
excluded hours, attendance rate = valid / scheduled, and completion: ``qualifies`` once the
class is finished (status finished, or its end date has passed) and valid hours ≥ planned
hours × ``min_attendance_rate``; ``not_qualified`` when finished without it (or withdrawn);
``pending`` before.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.utils import timezone

CLASS_HOUR_MINUTES = 45
SESSION_BATCH = 500  # sessions per statement
ENROLMENT_BATCH = 5000


def tolerances() -> dict[str, int]:
    """Minutes; overridable in settings (see the module docstring)."""
    return {
        "skew": int(getattr(settings, "SKILLGUARD_HOURS_CLOCK_SKEW_MIN", 5)),
        "early": int(getattr(settings, "SKILLGUARD_HOURS_CHECKIN_EARLY_MIN", 30)),
        "late": int(getattr(settings, "SKILLGUARD_HOURS_CHECKOUT_LATE_MIN", 60)),
        "grace": int(getattr(settings, "SKILLGUARD_HOURS_GRACE_MIN", 5)),
    }


# Per evidence row: the three reasons not to count it (shared with the explanation query).
EVIDENCE_CHECKS = """
  (c.occurred_at > c.received_at + make_interval(mins => %(skew)s)) AS skewed,
  (c.latitude IS NOT NULL AND c.longitude IS NOT NULL AND v.latitude IS NOT NULL AND
   2 * 6371000 * asin(sqrt(
     power(sin(radians((c.latitude - v.latitude)::float8) / 2), 2)
     + cos(radians(v.latitude::float8)) * cos(radians(c.latitude::float8))
       * power(sin(radians((c.longitude - v.longitude)::float8) / 2), 2)))
   > v.geofence_radius_m) AS outside_geofence,
  (CASE WHEN c.kind = 'in'
        THEN c.occurred_at < s.starts_at - make_interval(mins => %(early)s)
             OR c.occurred_at > s.ends_at
        ELSE c.occurred_at < s.starts_at
             OR c.occurred_at > s.ends_at + make_interval(mins => %(late)s) END)
    AS outside_window"""

VENUE_JOIN = """
  JOIN registry_trainingclass tc ON tc.id = s.training_class_id
  LEFT JOIN registry_room r ON r.id = s.room_id
  LEFT JOIN registry_venue v ON v.id = coalesce(r.venue_id, tc.venue_id)"""

SESSIONS_SQL = f"""
WITH s AS (
  SELECT s.id, s.district_id, s.starts_at, s.ends_at, s.training_class_id, s.room_id,
         tc.institution_id, extract(epoch FROM s.ends_at - s.starts_at) / 60 AS session_minutes,
         round((extract(epoch FROM s.ends_at - s.starts_at) / 60 / {CLASS_HOUR_MINUTES})::numeric,
               2) AS class_hours
  FROM registry_session s JOIN registry_trainingclass tc ON tc.id = s.training_class_id
  WHERE s.id = ANY(%(sessions)s) AND s.starts_at <= %(now)s
),
pairs AS (
  SELECT s.*, e.id AS enrolment_id, e.trainee_id
  FROM s JOIN registry_enrolment e ON e.training_class_id = s.training_class_id
),
ev AS (
  SELECT c.session_id, c.enrolment_id, c.kind, c.occurred_at, {EVIDENCE_CHECKS}
  FROM attendance_checkin c
  JOIN s ON s.id = c.session_id
  {VENUE_JOIN}
  WHERE c.session_id = ANY(%(sessions)s) AND NOT c.superseded
    AND c.occurred_at >= %(low)s AND c.occurred_at < %(high)s
),
agg AS (
  SELECT session_id, enrolment_id, count(*) AS evidence_count,
         min(occurred_at) FILTER (WHERE kind = 'in' AND NOT (skewed OR outside_geofence
                                                             OR outside_window)) AS first_in,
         max(occurred_at) FILTER (WHERE kind = 'out' AND NOT (skewed OR outside_geofence
                                                              OR outside_window)) AS last_out,
         bool_or(skewed) AS skewed, bool_or(outside_geofence) AS outside_geofence,
         bool_or(outside_window) AS outside_window
  FROM ev GROUP BY session_id, enrolment_id
),
excluded AS (
  SELECT DISTINCT enrolment_id, session_id FROM attendance_hoursexclusion
  WHERE session_id = ANY(%(sessions)s) AND restored_at IS NULL
),
computed AS (
  SELECT p.*, a.first_in, a.last_out, coalesce(a.evidence_count, 0) AS evidence_count,
         coalesce(a.skewed, false) AS skewed,
         coalesce(a.outside_geofence, false) AS outside_geofence,
         coalesce(a.outside_window, false) AS outside_window,
         (x.enrolment_id IS NOT NULL) AS excluded,
         CASE WHEN a.first_in IS NULL OR a.last_out IS NULL THEN 0
              ELSE greatest(0, floor(extract(epoch FROM
                     least(a.last_out, p.ends_at) - greatest(a.first_in, p.starts_at)) / 60))
         END::int AS minutes,
         (a.last_out IS NULL AND %(now)s < p.ends_at + make_interval(mins => %(late)s))
           AS pending
  FROM pairs p
  LEFT JOIN agg a ON a.session_id = p.id AND a.enrolment_id = p.enrolment_id
  LEFT JOIN excluded x ON x.session_id = p.id AND x.enrolment_id = p.enrolment_id
),
hours AS (
  SELECT c.*, CASE WHEN c.minutes + %(grace)s >= c.session_minutes THEN c.class_hours
                   ELSE least(floor((c.minutes + %(grace)s)::numeric / {CLASS_HOUR_MINUTES}),
                              c.class_hours) END AS earned
  FROM computed c
)
INSERT INTO attendance_sessionattendance AS t (
  district_id, session_id, enrolment_id, trainee_id, institution_id, training_class_id,
  starts_at, ends_at, first_in, last_out, attended_minutes, scheduled_hours, valid_hours,
  excluded_hours, status, flags, evidence_count, computed_at)
SELECT district_id, id, enrolment_id, trainee_id, institution_id, training_class_id,
       starts_at, ends_at, first_in, last_out, minutes, class_hours,
       CASE WHEN excluded THEN 0 ELSE earned END,
       CASE WHEN excluded THEN earned ELSE 0 END,
       CASE WHEN pending THEN 'pending' WHEN minutes = 0 THEN 'absent'
            WHEN earned >= class_hours THEN 'present' ELSE 'partial' END,
       array_remove(ARRAY[
         CASE WHEN skewed THEN 'clock_skew' END,
         CASE WHEN outside_geofence THEN 'outside_geofence' END,
         CASE WHEN outside_window THEN 'outside_window' END,
         CASE WHEN first_in IS NOT NULL AND last_out IS NULL AND NOT pending
              THEN 'missing_checkout' END,
         CASE WHEN first_in IS NULL AND last_out IS NOT NULL THEN 'missing_checkin' END,
         CASE WHEN excluded THEN 'excluded_by_case' END]::varchar[], NULL),
       evidence_count, %(now)s
FROM hours
ON CONFLICT (enrolment_id, session_id) DO UPDATE SET
  district_id = EXCLUDED.district_id, trainee_id = EXCLUDED.trainee_id,
  institution_id = EXCLUDED.institution_id, training_class_id = EXCLUDED.training_class_id,
  starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, first_in = EXCLUDED.first_in,
  last_out = EXCLUDED.last_out, attended_minutes = EXCLUDED.attended_minutes,
  scheduled_hours = EXCLUDED.scheduled_hours, valid_hours = EXCLUDED.valid_hours,
  excluded_hours = EXCLUDED.excluded_hours, status = EXCLUDED.status, flags = EXCLUDED.flags,
  evidence_count = EXCLUDED.evidence_count, computed_at = EXCLUDED.computed_at
WHERE (t.district_id, t.trainee_id, t.institution_id, t.training_class_id, t.starts_at,
       t.ends_at, t.first_in, t.last_out, t.attended_minutes, t.scheduled_hours, t.valid_hours,
       t.excluded_hours, t.status, t.flags, t.evidence_count)
  IS DISTINCT FROM
      (EXCLUDED.district_id, EXCLUDED.trainee_id, EXCLUDED.institution_id,
       EXCLUDED.training_class_id, EXCLUDED.starts_at, EXCLUDED.ends_at, EXCLUDED.first_in,
       EXCLUDED.last_out, EXCLUDED.attended_minutes, EXCLUDED.scheduled_hours,
       EXCLUDED.valid_hours, EXCLUDED.excluded_hours, EXCLUDED.status, EXCLUDED.flags,
       EXCLUDED.evidence_count)
RETURNING enrolment_id
"""

# Rows of sessions in the batch that no longer apply: the session was deleted or moved to
# the future, or the enrolment is gone.
STALE_SQL = """
DELETE FROM attendance_sessionattendance t
WHERE t.session_id = ANY(%(sessions)s) AND NOT EXISTS (
  SELECT 1 FROM registry_session s JOIN registry_enrolment e
    ON e.training_class_id = s.training_class_id
  WHERE s.id = t.session_id AND e.id = t.enrolment_id AND s.starts_at <= %(now)s)
RETURNING t.enrolment_id
"""

TOTALS_SQL = """
WITH h AS (
  SELECT enrolment_id,
         sum(scheduled_hours) FILTER (WHERE status <> 'pending') AS scheduled,
         sum(valid_hours) AS valid, sum(excluded_hours) AS excluded,
         count(*) FILTER (WHERE valid_hours > 0) AS attended,
         count(*) FILTER (WHERE status <> 'pending') AS held
  FROM attendance_sessionattendance
  WHERE enrolment_id = ANY(%(enrolments)s)
  GROUP BY enrolment_id
),
e AS (
  SELECT e.id, e.district_id, e.institution_id, e.trainee_id, e.training_class_id, e.status,
         tc.planned_hours, round(tc.planned_hours * tc.min_attendance_rate, 2) AS required,
         tc.mode = 'online' AS online,
         (tc.status = 'finished' OR (tc.end_date < %(today)s
                                     AND tc.status IN ('approved', 'in_progress'))) AS finished,
         coalesce(h.scheduled, 0) AS scheduled, coalesce(h.valid, 0) AS valid,
         coalesce(h.excluded, 0) AS excluded, coalesce(h.attended, 0) AS attended,
         coalesce(h.held, 0) AS held
  FROM registry_enrolment e JOIN registry_trainingclass tc ON tc.id = e.training_class_id
  LEFT JOIN h ON h.enrolment_id = e.id
  WHERE e.id = ANY(%(enrolments)s)
)
INSERT INTO attendance_enrolmenthours AS t (
  enrolment_id, district_id, institution_id, trainee_id, training_class_id, planned_hours,
  required_hours, scheduled_hours, valid_hours, excluded_hours, attendance_rate,
  sessions_attended, sessions_held, completion, computed_at)
SELECT id, district_id, institution_id, trainee_id, training_class_id, planned_hours,
       required, scheduled, valid, excluded,
       CASE WHEN scheduled > 0 THEN round(valid / scheduled, 4) END,
       attended, held,
       CASE WHEN status = 'withdrawn' THEN 'not_qualified'
            WHEN NOT finished OR online THEN 'pending'
            WHEN valid >= required THEN 'qualifies' ELSE 'not_qualified' END,
       %(now)s
FROM e
ON CONFLICT (enrolment_id) DO UPDATE SET
  district_id = EXCLUDED.district_id, institution_id = EXCLUDED.institution_id,
  trainee_id = EXCLUDED.trainee_id, training_class_id = EXCLUDED.training_class_id,
  planned_hours = EXCLUDED.planned_hours, required_hours = EXCLUDED.required_hours,
  scheduled_hours = EXCLUDED.scheduled_hours, valid_hours = EXCLUDED.valid_hours,
  excluded_hours = EXCLUDED.excluded_hours, attendance_rate = EXCLUDED.attendance_rate,
  sessions_attended = EXCLUDED.sessions_attended, sessions_held = EXCLUDED.sessions_held,
  completion = EXCLUDED.completion, computed_at = EXCLUDED.computed_at
WHERE (t.district_id, t.institution_id, t.trainee_id, t.training_class_id, t.planned_hours,
       t.required_hours, t.scheduled_hours, t.valid_hours, t.excluded_hours, t.attendance_rate,
       t.sessions_attended, t.sessions_held, t.completion)
  IS DISTINCT FROM
      (EXCLUDED.district_id, EXCLUDED.institution_id, EXCLUDED.trainee_id,
       EXCLUDED.training_class_id, EXCLUDED.planned_hours, EXCLUDED.required_hours,
       EXCLUDED.scheduled_hours, EXCLUDED.valid_hours, EXCLUDED.excluded_hours,
       EXCLUDED.attendance_rate, EXCLUDED.sessions_attended, EXCLUDED.sessions_held,
       EXCLUDED.completion)
RETURNING trainee_id
"""


def _chunks(ids: list, size: int):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _params(now=None) -> dict:
    now = now or timezone.now()
    return {**tolerances(), "now": now, "today": timezone.localtime(now).date()}


def recompute_sessions(session_ids: Iterable[int], *, now=None) -> set[int]:
    """Recompute the attendance of every enrolment at these sessions, then the totals of
    the enrolments concerned. Returns the ids of the trainees whose totals were written."""
    ids = sorted({int(i) for i in session_ids if i})
    if not ids:
        return set()
    params = _params(now)
    enrolments: set[int] = set()
    with connection.cursor() as cur:
        # time-local batches: partitions of the evidence are pruned by occurred_at
        cur.execute("SELECT id FROM registry_session WHERE id = ANY(%s) ORDER BY starts_at, id",
                    [ids])
        ordered = [r[0] for r in cur.fetchall()]
        missing = sorted(set(ids) - set(ordered))
        for batch in _chunks(ordered, SESSION_BATCH):
            cur.execute("SELECT min(starts_at), max(ends_at) FROM registry_session "
                        "WHERE id = ANY(%s)", [batch])
            low, high = cur.fetchone()
            # evidence the window rules flag is still read (and explained) a day either side
            p = {**params, "sessions": batch, "low": low - dt.timedelta(days=1),
                 "high": high + dt.timedelta(days=1)}
            cur.execute(STALE_SQL, p)
            enrolments.update(r[0] for r in cur.fetchall())
            cur.execute(SESSIONS_SQL, p)
            enrolments.update(r[0] for r in cur.fetchall())
        if missing:  # deleted sessions: drop their rows
            cur.execute(STALE_SQL, {**params, "sessions": missing})
            enrolments.update(r[0] for r in cur.fetchall())
    return recompute_enrolments(enrolments, now=now)


def recompute_enrolments(enrolment_ids: Iterable[int], *, now=None) -> set[int]:
    """Write the totals of these enrolments from their session rows; returns trainee ids."""
    ids = sorted({int(i) for i in enrolment_ids if i})
    trainees: set[int] = set()
    if not ids:
        return trainees
    params = _params(now)
    with connection.cursor() as cur:
        for batch in _chunks(ids, ENROLMENT_BATCH):
            cur.execute(TOTALS_SQL, {**params, "enrolments": batch})
            trainees.update(r[0] for r in cur.fetchall())
    return trainees


def recompute_trainees(trainee_ids: Iterable[int], *, now=None) -> set[int]:
    """Totals of every enrolment of these trainees (enrolment or class changes)."""
    ids = sorted({int(i) for i in trainee_ids if i})
    if not ids:
        return set()
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM registry_enrolment WHERE trainee_id = ANY(%s)", [ids])
        enrolments = [r[0] for r in cur.fetchall()]
    return recompute_enrolments(enrolments, now=now) | set(ids)


# --------------------------------------------------------------------------- explanation

EVIDENCE_SQL = f"""
SELECT c.id, c.session_id, c.enrolment_id, c.kind, c.method, c.occurred_at, c.received_at,
       c.device_id, c.ip, c.latitude, c.longitude, c.superseded, c.version,
       CASE WHEN c.latitude IS NULL OR c.longitude IS NULL OR v.latitude IS NULL THEN NULL
            ELSE round((2 * 6371000 * asin(sqrt(
              power(sin(radians((c.latitude - v.latitude)::float8) / 2), 2)
              + cos(radians(v.latitude::float8)) * cos(radians(c.latitude::float8))
                * power(sin(radians((c.longitude - v.longitude)::float8) / 2), 2))))::numeric)
       END AS distance_m,
       v.geofence_radius_m, {EVIDENCE_CHECKS}
FROM attendance_checkin c
JOIN registry_session s ON s.id = c.session_id
{VENUE_JOIN}
WHERE c.enrolment_id = ANY(%(enrolments)s)
ORDER BY c.session_id, c.occurred_at, c.id
"""


def evidence_rows(enrolment_ids: Iterable[int]) -> list[dict]:
    """Every check-in / check-out of these enrolments, with why it counted or not."""
    ids = sorted({int(i) for i in enrolment_ids})
    if not ids:
        return []
    with connection.cursor() as cur:
        cur.execute(EVIDENCE_SQL, {**tolerances(), "enrolments": ids})
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
    for row in rows:
        reasons = [code for code in ("skewed", "outside_geofence", "outside_window")
                   if row[code]]
        if row["superseded"]:
            reasons.insert(0, "superseded")
        row["not_counted"] = reasons
        row["counts"] = not reasons
    return rows

"""Schedule rules (重复性): one trainee, teacher or room in two places at once."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

from .base import Finding, Param, Period, RuleLevel, Severity, Trigger, register
from .common import HELD, Query, SQLRule, pairs

OVERLAP = Param(15, _("Minimum overlap"), _("Sessions that overlap by less are ignored "
                                            "(a class running a few minutes late)."),
                minimum=1, maximum=240, unit="min")


@register
class TraineeOverlap(SQLRule):
    code = "TRAINEE_OVERLAP"
    name = _("Trainee in overlapping classes")
    description = _("The same trainee is enrolled in two classes whose sessions overlap in "
                    "time, at the same or another institution, in any district. One of the "
                    "two attendances cannot be real.")
    severity = Severity.HIGH
    level = RuleLevel.CITY
    period = Period.REALTIME
    params = {"min_overlap_minutes": OVERLAP}
    triggers = frozenset({Trigger.SESSION, Trigger.ENROLMENT, Trigger.CHECKIN})

    def find(self, ctx):
        q = Query(ctx, overlap=ctx.params["min_overlap_minutes"])
        scope = q.scope(sessions=("s1.id", "s2.id"), trainees=("e1.trainee_id",),
                        institutions=("c1.institution_id", "c2.institution_id"))
        rows = q.rows(f"""
            SELECT e1.trainee_id, t.name AS trainee_name, c1.id AS class_a, c2.id AS class_b,
                   c1.code AS code_a, c2.code AS code_b, c1.district_id AS district_a,
                   c2.district_id AS district_b, c1.institution_id AS institution_a,
                   c2.institution_id AS institution_b, e1.id AS enrolment_a,
                   e2.id AS enrolment_b, min(GREATEST(s1.starts_at, s2.starts_at)) AS at,
                   count(*) AS overlaps,
                   array_agg(DISTINCT s1.id) AS sessions_a, array_agg(DISTINCT s2.id) AS sessions_b
            FROM registry_enrolment e1
            JOIN registry_enrolment e2 ON e2.trainee_id = e1.trainee_id
                 AND e2.training_class_id > e1.training_class_id AND e2.status <> 'withdrawn'
            JOIN registry_trainingclass c1 ON c1.id = e1.training_class_id
            JOIN registry_trainingclass c2 ON c2.id = e2.training_class_id
            JOIN registry_session s1 ON s1.training_class_id = c1.id
            JOIN registry_session s2 ON s2.training_class_id = c2.id
                 AND s2.starts_at < s1.ends_at AND s1.starts_at < s2.ends_at
            JOIN registry_trainee t ON t.id = e1.trainee_id
            WHERE e1.status <> 'withdrawn' AND c1.status IN {HELD} AND c2.status IN {HELD}
              AND c1.start_date <= c2.end_date AND c2.start_date <= c1.end_date
              AND LEAST(s1.ends_at, s2.ends_at) - GREATEST(s1.starts_at, s2.starts_at)
                  >= make_interval(mins => %(overlap)s)
              AND GREATEST(s1.starts_at, s2.starts_at) >= %(ws)s
              AND (%(ahead)s OR GREATEST(s1.starts_at, s2.starts_at) < %(we)s)
              AND {scope}
            GROUP BY e1.trainee_id, t.name, c1.id, c2.id, e1.id, e2.id
            ORDER BY e1.trainee_id, c1.id, c2.id""")
        for r in rows:
            hours = [(r["enrolment_a"], s) for s in r["sessions_a"]] + [
                (r["enrolment_b"], s) for s in r["sessions_b"]]
            yield Finding(
                subject=f"trainee:{r['trainee_id']}|class:{r['class_a']}|class:{r['class_b']}",
                district_id=r["district_b"], institution_id=r["institution_b"],
                occurred_at=r["at"],
                summary=lazy_format(_("%(trainee)s attends classes %(a)s and %(b)s at the same "
                                      "time (%(n)s overlapping sessions)."),
                                    trainee=r["trainee_name"], a=r["code_a"], b=r["code_b"],
                                    n=r["overlaps"]),
                details={"trainee_id": r["trainee_id"], "classes": [r["class_a"], r["class_b"]],
                         "districts": [r["district_a"], r["district_b"]],
                         "institutions": [r["institution_a"], r["institution_b"]],
                         "overlapping_sessions": r["overlaps"]},
                evidence=(("trainee", r["trainee_id"]), ("class", r["class_a"]),
                          ("class", r["class_b"]), ("enrolment", r["enrolment_a"]),
                          ("enrolment", r["enrolment_b"])),
                affected_hours=pairs(hours))


class _DoubleBooked(SQLRule):
    """Two sessions sharing a teacher (or a room) that overlap in time."""
    column = ""
    kind = ""
    severity = Severity.HIGH
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    params = {"min_overlap_minutes": OVERLAP}
    triggers = frozenset({Trigger.SESSION})

    def find(self, ctx):
        col = self.column
        q = Query(ctx, overlap=ctx.params["min_overlap_minutes"])
        scope = q.scope(sessions=("s1.id", "s2.id"),
                        institutions=("c1.institution_id", "c2.institution_id"))
        # Incremental runs: only the teachers / rooms of the touched sessions (or
        # institutions) are self-joined, not every session from the window on.
        resources = "TRUE"
        if ctx.incremental:
            inner = q.scope(sessions=("x.id",), institutions=("xc.institution_id",))
            resources = (f"s1.{col} IN (SELECT x.{col} FROM registry_session x "
                         f"JOIN registry_trainingclass xc ON xc.id = x.training_class_id "
                         f"WHERE x.{col} IS NOT NULL "
                         f"AND x.starts_at >= %(ws)s - interval '1 day' AND {inner})")
        rows = q.rows(f"""
            SELECT s1.{col} AS resource, s1.id AS session_a, s2.id AS session_b,
                   c1.id AS class_a, c2.id AS class_b, c1.code AS code_a, c2.code AS code_b,
                   s2.district_id, c2.institution_id, c1.institution_id AS institution_a,
                   GREATEST(s1.starts_at, s2.starts_at) AS at,
                   ARRAY(SELECT ARRAY[e.id, s.id] FROM registry_session s
                         JOIN registry_enrolment e ON e.training_class_id = s.training_class_id
                         WHERE s.id IN (s1.id, s2.id) AND e.status <> 'withdrawn') AS hours
            FROM registry_session s1
            JOIN registry_session s2 ON s2.{col} = s1.{col} AND s2.id <> s1.id
                 AND s2.starts_at > s1.starts_at - interval '1 day'
                 AND (s2.starts_at, s2.id) > (s1.starts_at, s1.id)
                 AND s2.starts_at < s1.ends_at
            JOIN registry_trainingclass c1 ON c1.id = s1.training_class_id
            JOIN registry_trainingclass c2 ON c2.id = s2.training_class_id
            WHERE s1.{col} IS NOT NULL AND c1.status IN {HELD} AND c2.status IN {HELD}
              AND LEAST(s1.ends_at, s2.ends_at) - s2.starts_at
                  >= make_interval(mins => %(overlap)s)
              AND s1.starts_at >= %(ws)s - interval '1 day' AND s2.starts_at >= %(ws)s
              AND (%(ahead)s OR s2.starts_at < %(we)s) AND {scope} AND {resources}
            ORDER BY s1.{col}, s1.id, s2.id""")
        for r in rows:
            a, b = sorted((r["session_a"], r["session_b"]))
            yield Finding(
                subject=f"{self.kind}:{r['resource']}|sessions:{a},{b}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"], summary=self.summary(r),
                details={f"{self.kind}_id": r["resource"], "sessions": [a, b],
                         "classes": [r["class_a"], r["class_b"]],
                         "institutions": [r["institution_a"], r["institution_id"]]},
                evidence=((self.kind, r["resource"]), ("session", a), ("session", b),
                          ("class", r["class_a"]), ("class", r["class_b"])),
                affected_hours=pairs(r["hours"]))


@register
class TeacherDoubleBooked(_DoubleBooked):
    code = "TEACHER_DOUBLE_BOOKED"
    name = _("Teacher in two places at once")
    description = _("One teacher is scheduled for two sessions that overlap in time (a "
                    "rented or fictitious teacher). Both sessions are reported.")
    column, kind = "teacher_id", "teacher"

    def summary(self, r):
        return lazy_format(_("Teacher #%(teacher)s teaches classes %(a)s and %(b)s at the "
                             "same time."), teacher=r["resource"], a=r["code_a"],
                           b=r["code_b"])


@register
class RoomDoubleBooked(_DoubleBooked):
    code = "ROOM_DOUBLE_BOOKED"
    name = _("Room booked twice at once")
    description = _("One room is scheduled for two sessions that overlap in time: at most "
                    "one of them can have taken place there.")
    severity = Severity.MEDIUM
    column, kind = "room_id", "room"

    def summary(self, r):
        return lazy_format(_("Room #%(room)s holds classes %(a)s and %(b)s at the same "
                             "time."), room=r["resource"], a=r["code_a"], b=r["code_b"])

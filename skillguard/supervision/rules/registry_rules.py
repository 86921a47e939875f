"""Registry rules (合法性): who may be trained, by whom, in what."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

from .base import Finding, Param, Period, RuleLevel, Severity, Trigger, register
from .common import HELD, Query, SQLRule, pairs

# Class start (a date) as a moment, and "the class starts in the window" (local dates).
CLASS_START = "(c.start_date::timestamp AT TIME ZONE %(tz)s)"
STARTS_IN_WINDOW = ("c.start_date >= (%(ws)s AT TIME ZONE %(tz)s)::date "
                    "AND c.start_date < (%(we)s AT TIME ZONE %(tz)s)::date")
CLASS_HOURS = """ARRAY(SELECT ARRAY[e.id, s.id] FROM registry_enrolment e
                       JOIN registry_session s ON s.training_class_id = e.training_class_id
                       WHERE e.training_class_id = {cls} AND e.status <> 'withdrawn')"""


@register
class IneligibleCategory(SQLRule):
    code = "INELIGIBLE_CATEGORY"
    name = _("Ineligible trainee category")
    description = _("A retired person or a full-time student is enrolled in a class whose "
                    "training is subsidised for the employed and unemployed (skill "
                    "certificate, special ability, entrepreneurship or enterprise online "
                    "training).")
    severity = Severity.HIGH
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.ENROLMENT})
    params = {"retired": Param(True, _("Flag retired people"), kind="bool"),
              "student": Param(True, _("Flag students"), kind="bool")}
    SUBSIDIES = ["skill_certificate", "special_ability", "entrepreneurship", "enterprise_online"]

    def find(self, ctx):
        categories = [c for c in ("retired", "student") if ctx.params[c]]
        if not categories:
            return
        q = Query(ctx, categories=categories, subsidies=self.SUBSIDIES)
        scope = q.scope(classes=("c.id",), trainees=("e.trainee_id",),
                        institutions=("c.institution_id",))
        rows = q.rows(f"""
            SELECT e.id AS enrolment_id, e.trainee_id, t.name, t.category, c.id AS class_id,
                   c.code, c.district_id, c.institution_id, co.subsidy_type, e.enrolled_at,
                   ARRAY(SELECT s.id FROM registry_session s
                         WHERE s.training_class_id = c.id) AS sessions
            FROM registry_enrolment e
            JOIN registry_trainee t ON t.id = e.trainee_id
            JOIN registry_trainingclass c ON c.id = e.training_class_id
            JOIN registry_course co ON co.id = c.course_id
            WHERE e.status <> 'withdrawn' AND c.status IN {HELD}
              AND t.category = ANY(%(categories)s) AND co.subsidy_type = ANY(%(subsidies)s)
              AND (({STARTS_IN_WINDOW})
                   OR (e.enrolled_at >= %(ws)s AND e.enrolled_at < %(we)s))
              AND {scope}
            ORDER BY e.trainee_id, c.id""")
        for r in rows:
            yield Finding(
                subject=f"trainee:{r['trainee_id']}|class:{r['class_id']}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["enrolled_at"],
                summary=lazy_format(_("%(name)s (%(category)s) is enrolled in subsidised class "
                                      "%(code)s."), name=r["name"], category=r["category"],
                                    code=r["code"]),
                details={"trainee_id": r["trainee_id"], "category": r["category"],
                         "subsidy_type": r["subsidy_type"], "class_id": r["class_id"]},
                evidence=(("trainee", r["trainee_id"]), ("enrolment", r["enrolment_id"]),
                          ("class", r["class_id"])),
                affected_hours=tuple((r["enrolment_id"], s) for s in sorted(r["sessions"])))


@register
class UnqualifiedTeacher(SQLRule):
    code = "UNQUALIFIED_TEACHER"
    name = _("Unqualified teacher")
    description = _("Sessions taught by a teacher without a valid qualification for the "
                    "class's occupation at the course's level or higher on the day of the "
                    "session.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.SESSION})
    params = {}

    def find(self, ctx):
        q = Query(ctx)
        scope = q.scope(sessions=("s.id",), institutions=("c.institution_id",))
        rows = q.rows(f"""
            WITH bad AS (
                SELECT s.teacher_id, c.id AS class_id, c.code, c.district_id, c.institution_id,
                       min(s.starts_at) AS at, array_agg(s.id ORDER BY s.id) AS sessions
                FROM registry_session s
                JOIN registry_trainingclass c ON c.id = s.training_class_id
                JOIN registry_course co ON co.id = c.course_id
                WHERE c.status IN {HELD} AND s.starts_at >= %(ws)s
                  AND (%(ahead)s OR s.starts_at < %(we)s)
                  AND {scope}
                  AND NOT EXISTS (
                      SELECT 1 FROM registry_teacherqualification tq
                      WHERE tq.teacher_id = s.teacher_id AND tq.occupation_id = co.occupation_id
                        AND (tq.valid_until IS NULL
                             OR tq.valid_until >= (s.starts_at AT TIME ZONE %(tz)s)::date)
                        AND (co.level IS NULL OR (tq.level IS NOT NULL AND tq.level <= co.level)))
                GROUP BY s.teacher_id, c.id
            )
            SELECT bad.*, te.name AS teacher_name,
                   ARRAY(SELECT ARRAY[e.id, x] FROM unnest(bad.sessions) x
                         JOIN registry_enrolment e ON e.training_class_id = bad.class_id
                         WHERE e.status <> 'withdrawn') AS hours
            FROM bad JOIN registry_teacher te ON te.id = bad.teacher_id
            ORDER BY bad.teacher_id, bad.class_id""")
        for r in rows:
            yield Finding(
                subject=f"teacher:{r['teacher_id']}|class:{r['class_id']}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"],
                summary=lazy_format(_("%(teacher)s teaches %(n)s sessions of class %(code)s "
                                      "without a covering qualification."),
                                    teacher=r["teacher_name"], n=len(r["sessions"]),
                                    code=r["code"]),
                details={"teacher_id": r["teacher_id"], "sessions": r["sessions"]},
                evidence=(("teacher", r["teacher_id"]), ("class", r["class_id"]))
                + tuple(("session", s) for s in r["sessions"][:20]),
                affected_hours=pairs(r["hours"]))


@register
class UnfiledOccupation(SQLRule):
    code = "UNFILED_OCCUPATION"
    name = _("Class outside the institution's filing")
    description = _("A class teaches a catalogue course (occupation and level) that the "
                    "institution had not filed, or whose filing was not valid on the day the "
                    "class started.")
    severity = Severity.HIGH
    level = RuleLevel.DISTRICT
    period = Period.DAILY
    triggers = frozenset({Trigger.SESSION})
    params = {}

    def find(self, ctx):
        q = Query(ctx)
        scope = q.scope(classes=("c.id",), institutions=("c.institution_id",))
        rows = q.rows(f"""
            SELECT c.id, c.code, c.district_id, c.institution_id, c.course_id,
                   {CLASS_START} AS at, {CLASS_HOURS.format(cls="c.id")} AS hours
            FROM registry_trainingclass c
            WHERE c.status IN {HELD} AND {STARTS_IN_WINDOW} AND {scope}
              AND NOT EXISTS (
                  SELECT 1 FROM registry_institutionfiling f
                  WHERE f.institution_id = c.institution_id AND f.course_id = c.course_id
                    AND f.filed_on <= c.start_date
                    AND (f.valid_until IS NULL OR f.valid_until >= c.start_date))
            ORDER BY c.id""")
        for r in rows:
            yield Finding(
                subject=f"class:{r['id']}", district_id=r["district_id"],
                institution_id=r["institution_id"], occurred_at=r["at"],
                summary=lazy_format(_("Class %(code)s teaches a course the institution had not "
                                      "filed when the class started."), code=r["code"]),
                details={"course_id": r["course_id"]},
                evidence=(("class", r["id"]), ("institution", r["institution_id"])),
                affected_hours=pairs(r["hours"]))

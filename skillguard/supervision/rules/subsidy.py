"""Subsidy rules (重复性): the per-person, per-year limits of the brief, on finished classes."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import Problem, lazy_format

from .base import Finding, Param, Period, RuleLevel, Severity, register
from .common import Query, SQLRule, pairs

VIOLATIONS = {
    "same_type": _("the same subsidy type more than allowed in one year"),
    "too_many": _("more subsidised classes in one year than allowed"),
    "same_level": _("the same occupation and level again"),
    "lower_level": _("a lower level after a higher one of the same occupation"),
}


@register
class ExcessSubsidy(SQLRule):
    code = "EXCESS_SUBSIDY"
    name = _("Duplicate or excess subsidy")
    description = _("Per trainee and calendar year (of the class start), on finished classes: "
                    "a subsidy type more often than allowed, more subsidised classes than "
                    "allowed, the same occupation and level a second time, or a lower level "
                    "after a higher one of the same occupation.")
    severity = Severity.HIGH
    level = RuleLevel.CITY
    period = Period.MONTHLY
    params = {
        "max_per_year": Param(3, _("Subsidised classes per year"), minimum=1, maximum=12,
                              unit=_("classes")),
        "max_same_type_per_year": Param(1, _("Of one subsidy type per year"), minimum=1,
                                        maximum=12, unit=_("classes")),
    }

    def check_consistency(self, values):
        if values["max_same_type_per_year"] > values["max_per_year"]:
            return [Problem("max_same_type_per_year", "parameter_inconsistent", lazy_format(
                _("Cannot exceed “%(other)s” (%(value)s)."),
                other=self.params["max_per_year"].label, value=values["max_per_year"]),
                label=self.params["max_same_type_per_year"].label)]
        return []

    def find(self, ctx):
        q = Query(ctx, max_year=ctx.params["max_per_year"],
                  max_type=ctx.params["max_same_type_per_year"])
        scope = q.scope(trainees=("e2.trainee_id",), classes=("c2.id",),
                        institutions=("c2.institution_id",))
        rows = q.rows(f"""
            WITH fin AS (
                SELECT e.id AS eid, e.trainee_id, c.id AS cid, c.code, c.district_id,
                       c.institution_id, c.end_date, extract(year FROM c.start_date)::int AS year,
                       co.subsidy_type, co.occupation_id, co.level,
                       row_number() OVER (PARTITION BY e.trainee_id, extract(year FROM c.start_date)
                                          ORDER BY c.start_date, c.id) AS nth_year,
                       row_number() OVER (PARTITION BY e.trainee_id,
                                          extract(year FROM c.start_date), co.subsidy_type
                                          ORDER BY c.start_date, c.id) AS nth_type,
                       row_number() OVER (PARTITION BY e.trainee_id, co.occupation_id, co.level
                                          ORDER BY c.start_date, c.id) AS nth_same,
                       min(co.level) OVER (PARTITION BY e.trainee_id, co.occupation_id
                                           ORDER BY c.start_date, c.id ROWS BETWEEN
                                           UNBOUNDED PRECEDING AND 1 PRECEDING) AS best_before
                FROM registry_enrolment e
                JOIN registry_trainingclass c ON c.id = e.training_class_id
                JOIN registry_course co ON co.id = c.course_id
                WHERE c.status = 'finished' AND e.status <> 'withdrawn' AND co.subsidy_type <> ''
                  AND e.trainee_id IN (
                      SELECT e2.trainee_id FROM registry_enrolment e2
                      JOIN registry_trainingclass c2 ON c2.id = e2.training_class_id
                      WHERE c2.status = 'finished' AND e2.status <> 'withdrawn'
                        AND c2.end_date >= (%(ws)s AT TIME ZONE %(tz)s)::date
                        AND c2.end_date < (%(we)s AT TIME ZONE %(tz)s)::date AND {scope})
            ), offending AS (
                SELECT 'same_type' AS violation,
                       format('year:%%s|subsidy:%%s', year, subsidy_type) AS key, fin.*
                FROM fin WHERE nth_type > %(max_type)s
                UNION ALL
                SELECT 'too_many', format('year:%%s|classes', year), fin.*
                FROM fin WHERE nth_year > %(max_year)s
                UNION ALL
                SELECT 'same_level',
                       format('occupation:%%s|level:%%s', occupation_id, level), fin.*
                FROM fin WHERE nth_same > 1
                UNION ALL
                SELECT 'lower_level',
                       format('occupation:%%s|lower:%%s', occupation_id, level), fin.*
                FROM fin WHERE level IS NOT NULL AND best_before IS NOT NULL
                  AND level > best_before
            )
            SELECT o.violation, o.trainee_id, o.key,
                   (array_agg(o.district_id ORDER BY o.end_date DESC))[1] AS district_id,
                   (array_agg(o.institution_id ORDER BY o.end_date DESC))[1] AS institution_id,
                   max(o.end_date) AS last_end,
                   max((o.end_date::timestamp + interval '1 day') AT TIME ZONE %(tz)s) AS at,
                   array_agg(o.cid ORDER BY o.cid) AS classes,
                   array_agg(o.code ORDER BY o.cid) AS codes,
                   ARRAY(SELECT ARRAY[e.id, s.id] FROM registry_enrolment e
                         JOIN registry_session s ON s.training_class_id = e.training_class_id
                         WHERE e.id = ANY(array_agg(o.eid))) AS hours
            FROM offending o
            GROUP BY o.violation, o.trainee_id, o.key
            HAVING max(o.end_date) >= (%(ws)s AT TIME ZONE %(tz)s)::date
               AND max(o.end_date) < (%(we)s AT TIME ZONE %(tz)s)::date
            ORDER BY o.trainee_id, o.violation, o.key""")
        for r in rows:
            yield Finding(
                subject=f"trainee:{r['trainee_id']}|{r['key']}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"],
                summary=lazy_format(_("Trainee #%(trainee)s was subsidised for %(what)s "
                                      "(classes %(codes)s)."), trainee=r["trainee_id"],
                                    what=VIOLATIONS[r["violation"]],
                                    codes=", ".join(r["codes"])),
                details={"violation": r["violation"], "classes": r["classes"]},
                evidence=(("trainee", r["trainee_id"]),)
                + tuple(("class", c) for c in r["classes"]),
                affected_hours=pairs(r["hours"]))

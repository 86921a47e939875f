"""Volume rules (规律性): an institution's numbers that jump or look too good."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

from .base import Finding, Param, Period, RuleLevel, Severity, Trigger, register
from .common import HELD, Query, SQLRule


@register
class VolumeSpike(SQLRule):
    code = "VOLUME_SPIKE"
    name = _("Enrolment spike at an institution")
    description = _("An institution's enrolments in one week (in approved, running or "
                    "finished classes) exceed a multiple of its median week over the "
                    "preceding weeks (weeks without enrolments count as zero) and a minimum "
                    "number.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.WEEKLY
    triggers = frozenset({Trigger.ENROLMENT})
    params = {
        "factor": Param(3.0, _("Multiple of the median week"), kind="float", minimum=1.0,
                        maximum=100.0, unit="×"),
        "min_enrolments": Param(120, _("Enrolments in the week at least"), minimum=1,
                                maximum=100000, unit=_("enrolments")),
        "baseline_weeks": Param(8, _("Weeks of history"), minimum=2, maximum=52,
                                unit=_("weeks")),
    }

    def find(self, ctx):
        p = ctx.params
        q = Query(ctx, factor=p["factor"], n=p["min_enrolments"], weeks=p["baseline_weeks"])
        scope = q.scope(institutions=("w.institution_id",),
                        session_institutions=("w.institution_id",),
                        trainees=())
        rows = q.rows(f"""
            WITH weekly AS (
                SELECT e.institution_id,
                       date_trunc('week', e.enrolled_at AT TIME ZONE %(tz)s) AS wk,
                       count(*) AS n, min(e.district_id) AS district_id
                FROM registry_enrolment e
                JOIN registry_trainingclass c ON c.id = e.training_class_id
                WHERE c.status IN {HELD}
                  AND e.enrolled_at >= %(ws)s - make_interval(weeks => %(weeks)s + 1)
                  AND e.enrolled_at < %(we)s + interval '7 days'
                GROUP BY 1, 2
            )
            SELECT w.institution_id, w.district_id, w.n, w.wk::date AS week_start,
                   to_char(w.wk, 'IYYY-"W"IW') AS week, b.median, i.name
            FROM weekly w
            JOIN registry_institution i ON i.id = w.institution_id
            CROSS JOIN LATERAL (
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY COALESCE(h.n, 0)) AS median
                FROM generate_series(w.wk - make_interval(weeks => %(weeks)s),
                                     w.wk - interval '7 days', interval '7 days') g(wk)
                LEFT JOIN weekly h ON h.institution_id = w.institution_id AND h.wk = g.wk) b
            WHERE w.n >= %(n)s AND w.n > %(factor)s * b.median
              AND w.wk + interval '7 days' > (%(ws)s AT TIME ZONE %(tz)s)
              AND w.wk < (%(we)s AT TIME ZONE %(tz)s) AND {scope}
            ORDER BY w.institution_id, w.wk""")
        for r in rows:
            median = float(r["median"])
            yield Finding(
                subject=f"institution:{r['institution_id']}|week:{r['week']}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=_week_moment(r["week_start"]),
                summary=lazy_format(_("%(name)s enrolled %(n)s trainees in week %(week)s "
                                      "(median week before: %(median)s)."), name=r["name"],
                                    n=r["n"], week=r["week"], median=f"{median:g}"),
                details={"enrolments": r["n"], "median": median, "week": r["week"]},
                evidence=(("institution", r["institution_id"]),))


def _week_moment(day):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(settings.TIME_ZONE))


@register
class PerfectPassRate(SQLRule):
    code = "PERFECT_PASS_RATE"
    name = _("100% pass rate")
    description = _("An institution whose assessments in a calendar month all passed, with "
                    "at least a minimum number of assessments.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.MONTHLY
    triggers = frozenset({Trigger.ASSESSMENT})
    params = {"min_assessments": Param(30, _("Assessments in the month at least"), minimum=2,
                                       maximum=100000, unit=_("assessments"))}

    def find(self, ctx):
        q = Query(ctx, n=ctx.params["min_assessments"])
        scope = q.scope(institutions=("a.institution_id",), trainees=("a.trainee_id",),
                        session_institutions=("a.institution_id",))
        rows = q.rows(f"""
            SELECT a.institution_id, to_char(a.taken_at AT TIME ZONE %(tz)s, 'YYYY-MM') AS month,
                   count(*) AS n, min(a.district_id) AS district_id, min(a.taken_at) AS at,
                   count(DISTINCT a.enrolment_id) AS trainees
            FROM learning_assessment a
            WHERE a.taken_at >= %(ws)s AND a.taken_at < %(we)s
            GROUP BY 1, 2
            HAVING count(*) >= %(n)s AND bool_and(a.passed) AND bool_or({scope})
            ORDER BY 1, 2""")
        for r in rows:
            yield Finding(
                subject=f"institution:{r['institution_id']}|month:{r['month']}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"],
                summary=lazy_format(_("All %(n)s assessments of institution #%(institution)s "
                                      "in %(month)s passed."), n=r["n"],
                                    institution=r["institution_id"], month=r["month"]),
                details={"assessments": r["n"], "month": r["month"],
                         "trainees": r["trainees"]},
                evidence=(("institution", r["institution_id"]),))

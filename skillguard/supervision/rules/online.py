"""Online-learning rules (线上培训): what a human learner cannot do."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

from .base import (
    Finding,
    Param,
    Period,
    RuleDefinition,
    RuleLevel,
    Severity,
    Trigger,
    register,
)
from .common import Query, SQLRule


@register
class OnlineConcurrentSessions(SQLRule):
    code = "ONLINE_CONCURRENT_SESSIONS"
    name = _("Concurrent online study sessions")
    description = _("One learner studies in two online sessions at the same time (two "
                    "devices or a study plug-in).")
    severity = Severity.HIGH
    level = RuleLevel.CITY
    period = Period.REALTIME
    triggers = frozenset({Trigger.LEARNING})
    params = {"min_overlap_minutes": Param(5, _("Minimum overlap"), minimum=1, maximum=600,
                                           unit="min")}

    def find(self, ctx):
        q = Query(ctx, overlap=ctx.params["min_overlap_minutes"])
        scope = q.scope(trainees=("l1.trainee_id",),
                        institutions=("l1.institution_id", "l2.institution_id"))
        rows = q.rows(f"""
            SELECT l1.trainee_id, l1.id AS a, l2.id AS b, l2.district_id, l2.institution_id,
                   l2.started_at AS at,
                   extract(epoch FROM LEAST(l1.ended_at, l2.ended_at) - l2.started_at) AS overlap
            FROM learning_learningsession l1
            JOIN learning_learningsession l2 ON l2.trainee_id = l1.trainee_id
                 AND (l2.started_at, l2.id) > (l1.started_at, l1.id)
                 AND l2.started_at > l1.started_at - interval '1 day'
                 AND l2.started_at < l1.ended_at
            WHERE l1.ended_at IS NOT NULL AND l2.ended_at IS NOT NULL
              AND l2.started_at >= %(ws)s AND l2.started_at < %(we)s
              AND LEAST(l1.ended_at, l2.ended_at) - l2.started_at
                  >= make_interval(mins => %(overlap)s)
              AND {scope}
            ORDER BY l1.trainee_id, l1.id, l2.id""")
        for r in rows:
            a, b = sorted((r["a"], r["b"]))
            minutes = round(float(r["overlap"]) / 60)
            yield Finding(
                subject=f"trainee:{r['trainee_id']}|learning_sessions:{a},{b}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"],
                summary=lazy_format(_("Learner #%(trainee)s studied in two sessions at once "
                                      "for %(m)s minutes."), trainee=r["trainee_id"],
                                    m=minutes),
                details={"learning_sessions": [a, b], "overlap_minutes": minutes},
                evidence=(("trainee", r["trainee_id"]), ("learning_session", a),
                          ("learning_session", b)))


@register
class OnlineExcessiveDailyHours(SQLRule):
    code = "ONLINE_EXCESSIVE_DAILY_HOURS"
    name = _("More online hours in a day than humanly possible")
    description = _("A learner's online study sessions started on one day add up to more "
                    "hours than a person can study in a day.")
    severity = Severity.HIGH
    level = RuleLevel.CITY
    period = Period.DAILY
    triggers = frozenset({Trigger.LEARNING})
    params = {"max_hours": Param(12.0, _("Hours per day at most"), kind="float", minimum=1,
                                 maximum=24, unit="h")}

    def find(self, ctx):
        q = Query(ctx, seconds=float(ctx.params["max_hours"]) * 3600)
        scope = q.scope(trainees=("l.trainee_id",), institutions=("l.institution_id",))
        rows = q.rows(f"""
            SELECT l.trainee_id, (l.started_at AT TIME ZONE %(tz)s)::date AS day,
                   sum(extract(epoch FROM l.ended_at - l.started_at)) AS seconds,
                   (array_agg(l.district_id ORDER BY l.started_at))[1] AS district_id,
                   (array_agg(l.institution_id ORDER BY l.started_at))[1] AS institution_id,
                   min(l.started_at) AS at, array_agg(l.id ORDER BY l.id) AS sessions
            FROM learning_learningsession l
            WHERE l.ended_at IS NOT NULL AND l.started_at >= %(ws)s AND l.started_at < %(we)s
            GROUP BY 1, 2
            HAVING sum(extract(epoch FROM l.ended_at - l.started_at)) > %(seconds)s
               AND bool_or({scope})
            ORDER BY 1, 2""")
        for r in rows:
            hours = round(float(r["seconds"]) / 3600, 1)
            yield Finding(
                subject=f"trainee:{r['trainee_id']}|day:{r['day']:%Y-%m-%d}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"],
                summary=lazy_format(_("Learner #%(trainee)s studied online %(h)s hours on "
                                      "%(day)s."), trainee=r["trainee_id"], h=hours,
                                    day=r["day"].isoformat()),
                details={"hours": hours, "learning_sessions": r["sessions"]},
                evidence=(("trainee", r["trainee_id"]),)
                + tuple(("learning_session", s) for s in r["sessions"]))


@register
class OnlineNoHeartbeat(RuleDefinition):
    code = "ONLINE_NO_HEARTBEAT"
    name = _("Online study without heartbeats")
    description = _("Placeholder: online study time without the provider's periodic "
                    "heartbeats. It finds nothing until the online-learning module writes "
                    "heartbeat evidence; then it will flag sessions whose heartbeats stop for "
                    "longer than the gap allowed.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.DAILY
    awaits_source = "online"
    params = {"max_gap_minutes": Param(10, _("Largest gap between heartbeats"), minimum=1,
                                       maximum=120, unit="min")}

    def detect(self, ctx):
        return []

"""Check-in rules (合法性、规律性): where, when and how trainees checked in."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

from .base import Finding, Param, Period, RuleLevel, Severity, Trigger, register
from .common import Query, SQLRule, checkin_ref, pairs

# The check-ins a run looks at: in the window, not replaced by a later version.
IN_WINDOW = "ci.occurred_at >= %(ws)s AND ci.occurred_at < %(we)s AND NOT ci.superseded"


def _refs(ids, districts, times):
    return tuple(("checkin", checkin_ref(d, t, i)) for i, d, t in zip(ids, districts, times))


def _scope(q):
    return q.scope(sessions=("ci.session_id",), trainees=("ci.trainee_id",),
                   institutions=("ci.institution_id",))


class _PerAttendance(SQLRule):
    """Check-ins grouped by (enrolment, session): one finding per attendance."""
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.CHECKIN})

    def condition(self, q) -> tuple[str, str]:
        """(extra joins, WHERE condition) selecting the anomalous check-ins; the SELECT
        may use ``measure`` (a number per check-in, max taken)."""
        raise NotImplementedError

    def find(self, ctx):
        q = Query(ctx)
        joins, condition, measure = self.condition(q)
        rows = q.rows(f"""
            SELECT ci.enrolment_id, ci.session_id, ci.trainee_id,
                   min(ci.district_id) AS district_id, min(ci.institution_id) AS institution_id,
                   min(ci.occurred_at) AS at, max({measure}) AS measure,
                   array_agg(ci.id ORDER BY ci.occurred_at) AS ids,
                   array_agg(ci.district_id ORDER BY ci.occurred_at) AS districts,
                   array_agg(ci.occurred_at ORDER BY ci.occurred_at) AS times,
                   array_agg(ci.kind ORDER BY ci.occurred_at) AS kinds
            FROM attendance_checkin ci {joins}
            WHERE {IN_WINDOW} AND ({condition}) AND {_scope(q)}
            GROUP BY ci.enrolment_id, ci.session_id, ci.trainee_id
            ORDER BY ci.enrolment_id, ci.session_id""")
        for r in rows:
            yield Finding(
                subject=f"enrolment:{r['enrolment_id']}|session:{r['session_id']}",
                district_id=r["district_id"], institution_id=r["institution_id"],
                occurred_at=r["at"], summary=self.summary(r),
                details={"trainee_id": r["trainee_id"], "session_id": r["session_id"],
                         "checks": r["kinds"], self.measure_name: float(r["measure"])},
                evidence=(("session", r["session_id"]), ("enrolment", r["enrolment_id"]),
                          ("trainee", r["trainee_id"]))
                + _refs(r["ids"], r["districts"], r["times"]),
                affected_hours=((r["enrolment_id"], r["session_id"]),))


@register
class CheckinOutsideGeofence(_PerAttendance):
    code = "CHECKIN_OUTSIDE_GEOFENCE"
    name = _("Check-in outside the geofence")
    description = _("A check-in or check-out carries a location farther from the class's "
                    "venue than the venue's geofence radius plus a tolerance.")
    params = {"tolerance_m": Param(100, _("Tolerance"), _("Added to the venue's geofence "
                                                          "radius (GPS inaccuracy)."),
                                   minimum=0, maximum=5000, unit="m")}
    measure_name = "distance_m"

    def condition(self, q):
        q.p("tolerance", q.ctx.params["tolerance_m"])
        joins = """
            JOIN registry_session s ON s.id = ci.session_id
            JOIN registry_trainingclass c ON c.id = s.training_class_id
            LEFT JOIN registry_room r ON r.id = s.room_id
            JOIN registry_venue v ON v.id = COALESCE(c.venue_id, r.venue_id)
            CROSS JOIN LATERAL (SELECT 2 * 6371000 * asin(sqrt(
                power(sin(radians((ci.latitude - v.latitude)::float8) / 2), 2)
                + cos(radians(v.latitude::float8)) * cos(radians(ci.latitude::float8))
                * power(sin(radians((ci.longitude - v.longitude)::float8) / 2), 2)))
                AS metres) d"""
        condition = ("ci.latitude IS NOT NULL AND ci.longitude IS NOT NULL "
                     "AND d.metres > v.geofence_radius_m + %(tolerance)s")
        return joins, condition, "round(d.metres)"

    def summary(self, r):
        return lazy_format(_("Trainee #%(trainee)s checked in %(m)s m from the venue of "
                             "session #%(session)s."), trainee=r["trainee_id"],
                           m=int(r["measure"]), session=r["session_id"])


@register
class CheckinOutsideWindow(_PerAttendance):
    code = "CHECKIN_OUTSIDE_WINDOW"
    name = _("Check-in outside the session time")
    description = _("A check-in or check-out lies outside the scheduled session: earlier "
                    "than its start or later than its end by more than the tolerances.")
    params = {
        "early_minutes": Param(60, _("Allowed before the start"), minimum=0, maximum=720,
                               unit="min"),
        "late_minutes": Param(60, _("Allowed after the end"), minimum=0, maximum=720,
                              unit="min"),
    }
    measure_name = "minutes_outside"

    def condition(self, q):
        q.p("early", q.ctx.params["early_minutes"])
        q.p("late", q.ctx.params["late_minutes"])
        joins = "JOIN registry_session s ON s.id = ci.session_id"
        measure = ("round(extract(epoch FROM GREATEST(s.starts_at - ci.occurred_at, "
                   "ci.occurred_at - s.ends_at)) / 60)")
        condition = ("ci.occurred_at < s.starts_at - make_interval(mins => %(early)s) "
                     "OR ci.occurred_at > s.ends_at + make_interval(mins => %(late)s)")
        return joins, condition, measure

    def summary(self, r):
        return lazy_format(_("Trainee #%(trainee)s checked in %(m)s minutes outside session "
                             "#%(session)s."), trainee=r["trainee_id"], m=int(r["measure"]),
                           session=r["session_id"])


@register
class ClockSkew(SQLRule):
    code = "CLOCK_SKEW"
    name = _("Evidence from the future")
    description = _("Evidence (a check-in or an online-learning event) claims to have "
                    "happened later than the server received it, beyond a tolerance: the "
                    "device's clock is wrong or the time was forged. The record is flagged "
                    "rather than silently used.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.CHECKIN, Trigger.LEARNING})
    params = {"tolerance_minutes": Param(5, _("Tolerance"), minimum=0, maximum=1440,
                                         unit="min")}

    def find(self, ctx):
        q = Query(ctx, tol=ctx.params["tolerance_minutes"])
        ci_scope = _scope(q)
        le_scope = q.scope(trainees=("le.trainee_id",), institutions=("le.institution_id",))
        rows = q.rows(f"""
            SELECT 'checkin' AS kind, ci.enrolment_id AS key, ci.session_id AS session_id,
                   ci.trainee_id, min(ci.district_id) AS district_id,
                   min(ci.institution_id) AS institution_id, min(ci.occurred_at) AS at,
                   max(extract(epoch FROM ci.occurred_at - ci.received_at)) AS skew,
                   array_agg(ci.id ORDER BY ci.id) AS ids,
                   array_agg(ci.district_id ORDER BY ci.id) AS districts,
                   array_agg(ci.occurred_at ORDER BY ci.id) AS times
            FROM attendance_checkin ci
            WHERE {IN_WINDOW} AND ci.occurred_at > ci.received_at + make_interval(mins => %(tol)s)
              AND {ci_scope}
            GROUP BY ci.enrolment_id, ci.session_id, ci.trainee_id
            UNION ALL
            SELECT 'learning', le.learning_session_id, NULL, le.trainee_id,
                   min(le.district_id), min(le.institution_id), min(le.occurred_at),
                   max(extract(epoch FROM le.occurred_at - le.received_at)),
                   array_agg(le.id ORDER BY le.id), array_agg(le.district_id ORDER BY le.id),
                   array_agg(le.occurred_at ORDER BY le.id)
            FROM learning_learningevent le
            WHERE le.occurred_at >= %(ws)s AND le.occurred_at < %(we)s
              AND le.occurred_at > le.received_at + make_interval(mins => %(tol)s)
              AND {le_scope}
            GROUP BY le.learning_session_id, le.trainee_id
            ORDER BY 1, 2, 3""")
        for r in rows:
            minutes = round(float(r["skew"]) / 60)
            if r["kind"] == "checkin":
                subject = f"enrolment:{r['key']}|session:{r['session_id']}"
                evidence = (("session", r["session_id"]), ("enrolment", r["key"]),
                            ("trainee", r["trainee_id"])) + _refs(
                    r["ids"], r["districts"], r["times"])
                hours = ((r["key"], r["session_id"]),)
            else:
                subject = f"learning_session:{r['key']}"
                evidence = (("learning_session", r["key"]), ("trainee", r["trainee_id"]))
                hours = ()
            yield Finding(
                subject=subject, district_id=r["district_id"],
                institution_id=r["institution_id"], occurred_at=r["at"],
                summary=lazy_format(_("Evidence of trainee #%(trainee)s is dated %(m)s minutes "
                                      "after it was received."), trainee=r["trainee_id"],
                                    m=minutes),
                details={"source": r["kind"], "skew_minutes": minutes,
                         "records": len(r["ids"])},
                evidence=evidence, affected_hours=hours)


@register
class ProxyCheckinBurst(SQLRule):
    code = "PROXY_CHECKIN_BURST"
    name = _("Batch check-in (proxy)")
    description = _("Many check-ins of one session within a few seconds of each other "
                    "(identical or sequential timestamps): one person checking in for the "
                    "others.")
    severity = Severity.HIGH
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.CHECKIN})
    params = {
        "min_checkins": Param(5, _("Check-ins in a burst"), minimum=3, maximum=200,
                              unit=_("check-ins")),
        "seconds": Param(10, _("Within"), _("0 means identical timestamps only."),
                         minimum=0, maximum=600, unit="s"),
    }

    def find(self, ctx):
        q = Query(ctx, lead=ctx.params["min_checkins"] - 1, n=ctx.params["min_checkins"])
        q.p("span", f"{int(ctx.params['seconds'])} seconds")
        scope = q.scope(sessions=("ci.session_id",), institutions=("ci.institution_id",),
                        trainees=("ci.trainee_id",))
        sessions_scope = q.scope(sessions=("b.session_id",), trainees=("b.trainee_id",),
                                 institutions=("b.institution_id",))
        # an incremental run looks at the sessions its ids touch (whole sessions: a burst
        # is judged with all of the session's check-ins)
        only = "" if not ctx.incremental else f"""AND ci.session_id IN (
            SELECT ci.session_id FROM attendance_checkin ci WHERE {IN_WINDOW} AND {scope})"""
        rows = q.rows(f"""
            WITH marked AS (
                SELECT ci.*, lead(ci.occurred_at, %(lead)s) OVER w - ci.occurred_at
                             <= %(span)s::interval AS starts_burst
                FROM attendance_checkin ci
                WHERE {IN_WINDOW} AND ci.kind = 'in' {only}
                WINDOW w AS (PARTITION BY ci.session_id ORDER BY ci.occurred_at, ci.id)
            ), members AS (
                SELECT m.*, bool_or(m.starts_burst) OVER (
                    PARTITION BY m.session_id ORDER BY m.occurred_at
                    RANGE BETWEEN %(span)s::interval PRECEDING AND CURRENT ROW) AS in_burst
                FROM marked m
            )
            SELECT b.session_id, min(b.district_id) AS district_id,
                   min(b.institution_id) AS institution_id, min(b.occurred_at) AS at,
                   count(*) AS checkins, count(DISTINCT b.device_id) AS devices,
                   array_agg(ARRAY[b.enrolment_id, b.session_id]) AS hours,
                   array_agg(b.id ORDER BY b.occurred_at) AS ids,
                   array_agg(b.district_id ORDER BY b.occurred_at) AS districts,
                   array_agg(b.occurred_at ORDER BY b.occurred_at) AS times
            FROM members b WHERE b.in_burst
            GROUP BY b.session_id HAVING count(*) >= %(n)s AND bool_or({sessions_scope})
            ORDER BY b.session_id""")
        for r in rows:
            yield Finding(
                subject=f"session:{r['session_id']}", district_id=r["district_id"],
                institution_id=r["institution_id"], occurred_at=r["at"],
                summary=lazy_format(_("%(n)s check-ins of session #%(session)s within "
                                      "seconds of each other."), n=r["checkins"],
                                    session=r["session_id"]),
                details={"checkins": r["checkins"], "devices": r["devices"],
                         "first": r["times"][0].isoformat(),
                         "last": r["times"][-1].isoformat()},
                evidence=(("session", r["session_id"]),)
                + _refs(r["ids"], r["districts"], r["times"]),
                affected_hours=pairs(r["hours"]))


@register
class SharedDevice(SQLRule):
    code = "SHARED_DEVICE"
    name = _("One device or IP for many trainees")
    description = _("One device, or one IP address, was used to check in many different "
                    "trainees within the period of the run.")
    severity = Severity.HIGH
    level = RuleLevel.DISTRICT
    period = Period.DAILY
    triggers = frozenset({Trigger.CHECKIN})
    params = {
        "min_trainees": Param(5, _("Trainees per device"), minimum=2, maximum=1000,
                              unit=_("trainees")),
        "min_trainees_ip": Param(5, _("Trainees per IP address"), _(
            "Raise it where a venue's Wi-Fi is shared by everyone."), minimum=2,
            maximum=100000, unit=_("trainees")),
        "check_ip": Param(True, _("Also check IP addresses"), kind="bool"),
    }

    def find(self, ctx):
        p = ctx.params
        q = Query(ctx, n=p["min_trainees"], n_ip=p["min_trainees_ip"], check_ip=p["check_ip"])
        scope = _scope(q)
        # Incremental runs: only the devices / IPs the new evidence used (a semi-join on
        # the touched rows) are grouped, not every device of the touched days.
        touched = {"device_id": "TRUE", "ip": "TRUE"}
        if ctx.incremental:
            inner = q.scope(sessions=("x.session_id",), trainees=("x.trainee_id",),
                            institutions=("x.institution_id",))
            for col in touched:
                touched[col] = (f"ci.{col} IN (SELECT x.{col} FROM attendance_checkin x "
                                f"WHERE x.occurred_at >= %(ws)s AND x.occurred_at < %(we)s "
                                f"AND NOT x.superseded AND {inner})")
        select = """count(DISTINCT ci.trainee_id) AS trainees,
                   (array_agg(ci.district_id ORDER BY ci.occurred_at))[1] AS district_id,
                   (array_agg(ci.institution_id ORDER BY ci.occurred_at))[1] AS institution_id,
                   min(ci.occurred_at) AS at, max(ci.occurred_at) AS last,
                   count(DISTINCT ci.institution_id) AS institutions,
                   array_agg(DISTINCT ci.trainee_id) AS trainee_ids,
                   array_agg(DISTINCT ARRAY[ci.enrolment_id, ci.session_id]) AS hours"""
        rows = q.rows(f"""
            SELECT 'device' AS kind, ci.device_id AS key, {select}
            FROM attendance_checkin ci
            WHERE {IN_WINDOW} AND ci.device_id <> '' AND {touched["device_id"]}
            GROUP BY ci.device_id
            HAVING count(DISTINCT ci.trainee_id) >= %(n)s AND bool_or({scope})
            UNION ALL
            SELECT 'ip', host(ci.ip), {select}
            FROM attendance_checkin ci
            WHERE %(check_ip)s AND {IN_WINDOW} AND ci.ip IS NOT NULL AND {touched["ip"]}
            GROUP BY ci.ip
            HAVING count(DISTINCT ci.trainee_id) >= %(n_ip)s AND bool_or({scope})
            ORDER BY 1, 2""")
        for r in rows:
            kind = r["kind"]
            yield Finding(
                subject=f"{kind}:{r['key']}", district_id=r["district_id"],
                institution_id=r["institution_id"], occurred_at=r["at"],
                summary=(lazy_format(_("Device %(key)s checked in %(n)s different trainees."),
                                     key=r["key"], n=r["trainees"]) if kind == "device" else
                         lazy_format(_("IP address %(key)s checked in %(n)s different "
                                       "trainees."), key=r["key"], n=r["trainees"])),
                details={kind: r["key"], "trainees": r["trainees"],
                         "trainee_ids": sorted(r["trainee_ids"])[:50],
                         "institutions": r["institutions"], "last": r["last"].isoformat()},
                evidence=((kind, r["key"]),) + tuple(("trainee", t)
                                                     for t in sorted(r["trainee_ids"])[:20]),
                affected_hours=pairs(r["hours"]))


@register
class UniformFullAttendance(SQLRule):
    code = "UNIFORM_FULL_ATTENDANCE"
    name = _("Uniform 100% attendance")
    description = _("A finished class where every trainee checked in at every session: "
                    "100% attendance with zero variance, which real classes do not show. "
                    "Counted from the check-ins themselves.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.WEEKLY
    params = {
        "min_trainees": Param(10, _("Trainees at least"), minimum=2, maximum=500,
                              unit=_("trainees")),
        "min_sessions": Param(3, _("Sessions at least"), minimum=1, maximum=500,
                              unit=_("sessions")),
    }

    def find(self, ctx):
        q = Query(ctx, n=ctx.params["min_trainees"], k=ctx.params["min_sessions"])
        scope = q.scope(classes=("c.id",), institutions=("c.institution_id",))
        rows = q.rows(f"""
            WITH cls AS (
                SELECT c.id, c.code, c.district_id, c.institution_id, c.end_date
                FROM registry_trainingclass c
                WHERE c.status = 'finished'
                  AND c.end_date >= (%(ws)s AT TIME ZONE %(tz)s)::date
                  AND c.end_date < (%(we)s AT TIME ZONE %(tz)s)::date AND {scope}
            ), ses AS (
                SELECT s.training_class_id AS cid, count(*) AS n, max(s.ends_at) AS last
                FROM registry_session s JOIN cls ON cls.id = s.training_class_id GROUP BY 1
            ), enr AS (
                SELECT e.training_class_id AS cid, count(*) AS n
                FROM registry_enrolment e JOIN cls ON cls.id = e.training_class_id
                WHERE e.status <> 'withdrawn' GROUP BY 1
            ), att AS (
                SELECT ci.training_class_id AS cid,
                       count(DISTINCT (ci.enrolment_id, ci.session_id)) AS n
                FROM attendance_checkin ci
                JOIN registry_enrolment e ON e.id = ci.enrolment_id AND e.status <> 'withdrawn'
                WHERE ci.kind = 'in' AND NOT ci.superseded
                  AND ci.session_id IN (SELECT s.id FROM registry_session s
                                        JOIN cls ON cls.id = s.training_class_id)
                GROUP BY 1
            )
            SELECT cls.*, enr.n AS trainees, ses.n AS sessions, ses.last,
                   ARRAY(SELECT ARRAY[e.id, s.id] FROM registry_enrolment e
                         JOIN registry_session s ON s.training_class_id = e.training_class_id
                         WHERE e.training_class_id = cls.id AND e.status <> 'withdrawn')
                   AS hours
            FROM cls JOIN ses ON ses.cid = cls.id JOIN enr ON enr.cid = cls.id
            JOIN att ON att.cid = cls.id
            WHERE enr.n >= %(n)s AND ses.n >= %(k)s AND att.n = enr.n * ses.n
            ORDER BY cls.id""")
        for r in rows:
            yield Finding(
                subject=f"class:{r['id']}", district_id=r["district_id"],
                institution_id=r["institution_id"], occurred_at=r["last"],
                summary=lazy_format(_("Class %(code)s: all %(n)s trainees checked in at all "
                                      "%(k)s sessions."), code=r["code"], n=r["trainees"],
                                    k=r["sessions"]),
                details={"trainees": r["trainees"], "sessions": r["sessions"],
                         "attendance_rate": 1.0},
                evidence=(("class", r["id"]),), affected_hours=pairs(r["hours"]))

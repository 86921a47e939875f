"""The standard statistics tables (统计报表), scoped to the user's districts.

(a) ``training``  district × occupation × month: classes held (a session that month, Asia/
    Shanghai), their enrolments and trainees (distinct, withdrawn enrolments left out),
    sessions, trainees present (person-times), scheduled and valid class hours, attendance
    rate = valid ÷ scheduled class hours, and completions (enrolments that qualify, counted
    in the month their class ends).
(b) ``subsidy``   per district: the training of the range (as in (a)) and the subsidy
    verdicts of the classes that end in the range — eligible / not eligible / pending, the
    eligible amount, and the amount withheld (the catalogue subsidy of the not-eligible).
(c) ``handling``  per district and rule: warnings raised in the range (first raised), those
    still open; cases opened in the range, still open, closed, closed on time (closed before
    their handling deadline) and the on-time rate = closed on time ÷ closed, overdue (open
    past the deadline, or marked overdue), escalated to the city.

Where the cockpit keeps a rollup (``cockpit.models``: training, subsidies) the additive
measures are read from it — the same sums as the cockpit, fast over a long history — and
each table carries the rollup's freshness. Distinct counts (classes, trainees) cannot be
summed from a rollup: they come from the registry (sessions and enrolments, far smaller than
the attendance facts). Warnings and cases by rule (no rollup has the rule) are read from the
sources.

Every table is one set-based SQL query, limited to the districts
the user may see (``allowed_districts``) — the same numbers for the page, the API, the
exports and the PDF. A filter naming a district outside the user's scope answers 404, like
a district that does not exist.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import Problem, Problems
from skillguard.reports.models import ExportJob, TableKind

MAX_MONTHS = 36
FIELD_LABELS = {"month_from": _("First month"), "month_to": _("Last month"),
                "occupation": _("Occupation"), "district": _("District")}


class FilterProblems(Problems):
    """Problems of the statistics filters, labelled with the filter's name."""

    def __init__(self):
        super().__init__(ExportJob, "")

    def add(self, field_name: str, code: str, message) -> None:
        self.items.append(Problem(field=field_name, code=code, message=message,
                                  label=FIELD_LABELS.get(field_name, field_name)))


def max_months() -> int:
    return int(getattr(settings, "REPORTS_MAX_MONTHS", MAX_MONTHS))


# --------------------------------------------------------------------------- scope and filters


def allowed_districts(user) -> list[int] | None:
    """The district ids the user's statistics cover: None for the whole city, [] for none."""
    from skillguard.accounts.roles import CITY_WIDE, Role

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_superuser or user.role in CITY_WIDE:
        return None
    if user.role == Role.DISTRICT_SUPERVISOR and user.district_id:
        return [user.district_id]
    return []


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def parse_month(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return month_start(value)
    text = str(value).strip()
    for fmt in ("%Y-%m", "%Y-%m-%d"):
        try:
            return month_start(dt.datetime.strptime(text, fmt).date())
        except ValueError:
            continue
    raise ValueError(text)


@dataclass
class StatFilters:
    month_from: dt.date
    month_to: dt.date  # inclusive (first day of the last month)
    districts: list[int] | None  # None: the whole city
    district_id: int | None = None  # the one district asked for, if any
    occupation_id: int | None = None

    @property
    def start(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.month_from, dt.time()))

    @property
    def end(self) -> dt.datetime:  # exclusive
        return timezone.make_aware(dt.datetime.combine(add_months(self.month_to, 1), dt.time()))

    @property
    def end_date(self) -> dt.date:  # exclusive
        return add_months(self.month_to, 1)

    def as_json(self) -> dict:
        return {"month_from": f"{self.month_from:%Y-%m}", "month_to": f"{self.month_to:%Y-%m}",
                "district": self.district_id, "occupation": self.occupation_id}

    def describe(self) -> str:
        parts = [f"{self.month_from:%Y-%m}…{self.month_to:%Y-%m}"]
        if self.district_id:
            parts.append(f"district={self.district_id}")
        if self.occupation_id:
            parts.append(f"occupation={self.occupation_id}")
        return "; ".join(parts)


def default_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or timezone.localdate()
    last = month_start(today)
    return add_months(last, -5), last


def _int_or_none(value, name: str):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        if name == "district":
            raise Http404(_("No such record, or you may not see it."))
        problems = FilterProblems()
        problems.add(name, "invalid", _("is not a valid choice"))
        problems.raise_if_any()


def parse_filters(user, *, district=None, occupation=None, month_from=None,
                  month_to=None) -> StatFilters:
    """Validate the filters: a district outside the user's scope (or missing) is a 404; a
    reversed month range or one longer than 36 months is refused with a clear message."""
    from skillguard.registry.models import District, Occupation

    allowed = allowed_districts(user)
    district_id = _int_or_none(district, "district")
    if district_id is not None:
        if (allowed is not None and district_id not in allowed) or \
                not District.objects.filter(pk=district_id).exists():
            raise Http404(_("No such record, or you may not see it."))
    occupation_id = _int_or_none(occupation, "occupation")
    problems = FilterProblems()
    if occupation_id is not None and not Occupation.objects.filter(pk=occupation_id).exists():
        problems.add("occupation", "unknown_reference", _("no such occupation"))
    default_from, default_to = default_range()
    parsed = {}
    for name, value in (("month_from", month_from), ("month_to", month_to)):
        try:
            parsed[name] = parse_month(value)
        except ValueError:
            problems.add(name, "invalid", _("is not a month (YYYY-MM)"))
            parsed[name] = None
    problems.raise_if_any()
    m_from = parsed["month_from"] or (default_from if parsed["month_to"] is None
                                      else add_months(parsed["month_to"], -5))
    m_to = parsed["month_to"] or (default_to if parsed["month_from"] is None
                                  else max(m_from, min(default_to, add_months(m_from, 11))))
    if m_to < m_from:
        problems.add("month_to", "reversed_range",
                     _("the last month is before the first month: swap them"))
    else:
        months = (m_to.year - m_from.year) * 12 + m_to.month - m_from.month + 1
        if months > max_months():
            problems.add("month_to", "range_too_long", _(
                "the range covers more months than allowed (at most 36 months); "
                "choose a shorter range"))
    problems.raise_if_any()
    districts = [district_id] if district_id is not None else allowed
    return StatFilters(m_from, m_to, districts, district_id, occupation_id)


# --------------------------------------------------------------------------- tables


@dataclass
class Column:
    key: str
    label: object
    kind: str = "text"  # text | int | hours | rate | money


@dataclass
class Table:
    kind: str
    title: object
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    totals: dict | None = None
    freshness: dt.datetime | None = None  # of the cockpit rollups it reads (None: never)

    @property
    def empty(self) -> bool:
        return not self.rows

    def cells(self):
        """Rows as (column, value) pairs, for templates."""
        for row in self.rows:
            yield [(c, row.get(c.key)) for c in self.columns]


def _district_clause(filters: StatFilters, column: str, params: dict) -> str:
    if filters.districts is None:
        return ""
    params["districts"] = list(filters.districts) or [0]
    return f" AND {column} = ANY(%(districts)s)"


def _names() -> tuple[dict, dict]:
    from skillguard.registry.models import District, Occupation

    districts = {d.pk: d for d in District.objects.all()}
    occupations = {o.pk: o for o in Occupation.objects.all()}
    return districts, occupations


def _rate(num, den) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num or 0) / Decimal(den)).quantize(Decimal("0.0001"))


def _fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def _tables():
    from skillguard.attendance.models import EnrolmentHours
    from skillguard.cockpit import models as cockpit
    from skillguard.registry.models import Course, Enrolment, Session, TrainingClass

    # the monthly rollup where the cockpit keeps one (the same sums, fewer rows), else daily
    training = getattr(cockpit, "MonthlyTraining", None) or cockpit.DailyTraining
    return {"eh": EnrolmentHours._meta.db_table, "tc": TrainingClass._meta.db_table,
            "course": Course._meta.db_table, "session": Session._meta.db_table,
            "enrolment": Enrolment._meta.db_table, "rollup": training._meta.db_table,
            "subsidy_rollup": cockpit.SubsidyDaily._meta.db_table}


def freshness(*names: str):
    """When the cockpit rollups these figures come from were last refreshed (the oldest)."""
    from skillguard.cockpit.models import RollupState

    found = dict(RollupState.objects.filter(name__in=names).values_list("name",
                                                                         "refreshed_at"))
    values = [found.get(n) for n in names]
    return None if not values or None in values else min(values)


def _held_sql(t: dict, where: str) -> str:
    """Classes held (a session in the month) and their enrolled trainees, from the registry:
    the distinct counts the additive rollups cannot give."""
    return f"""
    held AS (
      SELECT DISTINCT s.district_id, c.occupation_id,
             date_trunc('month', s.starts_at AT TIME ZONE %(tz)s)::date AS month,
             s.training_class_id
        FROM {t['session']} s
        JOIN {t['tc']} tc ON tc.id = s.training_class_id
        JOIN {t['course']} c ON c.id = tc.course_id
       WHERE s.starts_at >= %(start)s AND s.starts_at < %(end)s {where}
    ), held_trainees AS (
      SELECT h.district_id, h.occupation_id, h.month, count(*) AS enrolments,
             count(DISTINCT e.trainee_id) AS trainees
        FROM held h JOIN {t['enrolment']} e ON e.training_class_id = h.training_class_id
       WHERE e.status <> 'withdrawn'
       GROUP BY 1, 2, 3
    )"""


TRAINING_COLUMNS = [
    Column("month", _("Month")), Column("district", _("District")),
    Column("occupation_code", _("Occupation code")), Column("occupation", _("Occupation")),
    Column("classes", _("Classes"), "int"), Column("enrolments", _("Enrolments"), "int"),
    Column("trainees", _("Trainees"), "int"), Column("sessions", _("Sessions"), "int"),
    Column("present", _("Trainees present (person-times)"), "int"),
    Column("scheduled_hours", _("Scheduled class hours"), "hours"),
    Column("valid_hours", _("Valid class hours"), "hours"),
    Column("attendance_rate", _("Attendance rate"), "rate"),
    Column("completions", _("Completions"), "int"),
]


def training_table(filters: StatFilters) -> Table:
    """Sessions, attendances and class hours from the cockpit's training rollup (the same
    sums as the cockpit); classes held and their enrolled trainees (distinct) from the
    registry; completions from the enrolments' totals."""
    t = _tables()
    params = {"tz": settings.TIME_ZONE, "start": filters.start, "end": filters.end,
              "start_date": filters.month_from, "end_date": filters.end_date}
    s_where = _district_clause(filters, "s.district_id", params)
    r_where = _district_clause(filters, "r.district_id", params)
    e_where = _district_clause(filters, "eh.district_id", params)
    if filters.occupation_id:
        params["occupation"] = filters.occupation_id
        s_where += " AND c.occupation_id = %(occupation)s"
        r_where += " AND r.occupation_id = %(occupation)s"
        e_where += " AND c.occupation_id = %(occupation)s"
    sql = f"""
    WITH {_held_sql(t, s_where)}
    SELECT district_id, occupation_id, month, sum(classes) AS classes,
           sum(enrolments) AS enrolments, sum(trainees) AS trainees, sum(sessions) AS sessions,
           sum(present) AS present, sum(scheduled) AS scheduled_hours,
           sum(valid) AS valid_hours, sum(completions) AS completions
    FROM (
      SELECT district_id, occupation_id, month, count(*) AS classes, 0 AS enrolments,
             0 AS trainees, 0 AS sessions, 0 AS present, 0::numeric AS scheduled,
             0::numeric AS valid, 0 AS completions
        FROM held GROUP BY 1, 2, 3
      UNION ALL
      SELECT district_id, occupation_id, month, 0, enrolments, trainees, 0, 0, 0, 0, 0
        FROM held_trainees
      UNION ALL
      SELECT r.district_id, r.occupation_id, date_trunc('month', r.day)::date, 0, 0, 0,
             sum(r.sessions_scheduled), sum(r.trainees_present), sum(r.scheduled_hours),
             sum(r.valid_hours), 0
        FROM {t['rollup']} r
       WHERE r.day >= %(start_date)s AND r.day < %(end_date)s {r_where}
       GROUP BY 1, 2, 3
      UNION ALL
      SELECT eh.district_id, c.occupation_id, date_trunc('month', tc.end_date)::date,
             0, 0, 0, 0, 0, 0, 0, count(*)
        FROM {t['eh']} eh
        JOIN {t['tc']} tc ON tc.id = eh.training_class_id
        JOIN {t['course']} c ON c.id = tc.course_id
       WHERE eh.completion = 'qualifies'
         AND tc.end_date >= %(start_date)s AND tc.end_date < %(end_date)s {e_where}
       GROUP BY 1, 2, 3
    ) parts
    GROUP BY 1, 2, 3
    """
    districts, occupations = _names()
    rows = []
    for r in _fetch(sql, params):
        d, o = districts.get(r["district_id"]), occupations.get(r["occupation_id"])
        sched, valid = Decimal(r["scheduled_hours"] or 0), Decimal(r["valid_hours"] or 0)
        rows.append({
            "month": f"{r['month']:%Y-%m}", "district_id": r["district_id"],
            "district": d.name if d else str(r["district_id"]),
            "occupation_id": r["occupation_id"],
            "occupation_code": o.code if o else "", "occupation": o.name if o else "",
            "classes": int(r["classes"]), "enrolments": int(r["enrolments"]),
            "trainees": int(r["trainees"]), "sessions": int(r["sessions"]),
            "present": int(r["present"]), "scheduled_hours": sched, "valid_hours": valid,
            "attendance_rate": _rate(valid, sched), "completions": int(r["completions"]),
            "_order": (r["month"], d.sort_order if d else 0, r["district_id"],
                       o.code if o else ""),
        })
    rows.sort(key=lambda x: x.pop("_order"))
    totals = None
    if rows:
        sched = sum(r["scheduled_hours"] for r in rows)
        valid = sum(r["valid_hours"] for r in rows)
        totals = {"month": str(_("Total")), "sessions": sum(r["sessions"] for r in rows),
                  "present": sum(r["present"] for r in rows),
                  "scheduled_hours": sched, "valid_hours": valid,
                  "attendance_rate": _rate(valid, sched),
                  "completions": sum(r["completions"] for r in rows)}
    return Table(TableKind.TRAINING, TableKind.TRAINING.label, TRAINING_COLUMNS, rows, totals,
                 freshness("training"))


SUBSIDY_COLUMNS = [
    Column("district", _("District")),
    Column("classes", _("Classes"), "int"), Column("trainees", _("Trainees"), "int"),
    Column("valid_hours", _("Valid class hours"), "hours"),
    Column("attendance_rate", _("Attendance rate"), "rate"),
    Column("eligible", _("Eligible"), "int"), Column("not_eligible", _("Not eligible"), "int"),
    Column("pending", _("Pending evidence"), "int"),
    Column("eligible_amount", _("Eligible amount (CNY)"), "money"),
    Column("withheld_amount", _("Withheld amount (CNY)"), "money"),
]


def subsidy_table(filters: StatFilters) -> Table:
    """Per district: classes held and their trainees (registry, distinct over the range),
    class hours (training rollup) and the verdicts of the classes ending in the range
    (the cockpit's subsidy rollup: counts, eligible amount, withheld amount)."""
    t = _tables()
    params = {"tz": settings.TIME_ZONE, "start": filters.start, "end": filters.end,
              "start_date": filters.month_from, "end_date": filters.end_date}
    s_where = _district_clause(filters, "s.district_id", params)
    r_where = _district_clause(filters, "r.district_id", params)
    v_where = _district_clause(filters, "v.district_id", params)
    if filters.occupation_id:
        params["occupation"] = filters.occupation_id
        s_where += " AND c.occupation_id = %(occupation)s"
        r_where += " AND r.occupation_id = %(occupation)s"
        v_where += " AND v.occupation_id = %(occupation)s"
    sql = f"""
    WITH {_held_sql(t, s_where)}
    SELECT district_id, sum(classes) AS classes, sum(trainees) AS trainees,
           sum(scheduled) AS scheduled_hours, sum(valid) AS valid_hours,
           sum(eligible) AS eligible, sum(not_eligible) AS not_eligible,
           sum(pending) AS pending, sum(amount) AS eligible_amount,
           sum(withheld) AS withheld_amount
    FROM (
      SELECT district_id, count(DISTINCT training_class_id) AS classes, 0 AS trainees,
             0::numeric AS scheduled, 0::numeric AS valid, 0 AS eligible, 0 AS not_eligible,
             0 AS pending, 0::numeric AS amount, 0::numeric AS withheld
        FROM held GROUP BY 1
      UNION ALL
      SELECT h.district_id, 0, count(DISTINCT e.trainee_id), 0, 0, 0, 0, 0, 0, 0
        FROM held h JOIN {t['enrolment']} e ON e.training_class_id = h.training_class_id
       WHERE e.status <> 'withdrawn'
       GROUP BY 1
      UNION ALL
      SELECT r.district_id, 0, 0, sum(r.scheduled_hours), sum(r.valid_hours), 0, 0, 0, 0, 0
        FROM {t['rollup']} r
       WHERE r.day >= %(start_date)s AND r.day < %(end_date)s {r_where}
       GROUP BY 1
      UNION ALL
      SELECT v.district_id, 0, 0, 0, 0,
             coalesce(sum(v.verdicts) FILTER (WHERE v.verdict = 'eligible'), 0),
             coalesce(sum(v.verdicts) FILTER (WHERE v.verdict = 'not_eligible'), 0),
             coalesce(sum(v.verdicts) FILTER (WHERE v.verdict = 'pending_evidence'), 0),
             sum(v.amount), sum(v.withheld)
        FROM {t['subsidy_rollup']} v
       WHERE v.day >= %(start_date)s AND v.day < %(end_date)s {v_where}
       GROUP BY 1
    ) parts
    GROUP BY 1
    """
    districts, _occ = _names()
    rows = []
    for r in _fetch(sql, params):
        d = districts.get(r["district_id"])
        sched, valid = Decimal(r["scheduled_hours"] or 0), Decimal(r["valid_hours"] or 0)
        rows.append({
            "district_id": r["district_id"], "district": d.name if d else str(r["district_id"]),
            "classes": int(r["classes"]), "trainees": int(r["trainees"]),
            "valid_hours": valid, "attendance_rate": _rate(valid, sched),
            "eligible": int(r["eligible"]), "not_eligible": int(r["not_eligible"]),
            "pending": int(r["pending"]),
            "eligible_amount": Decimal(r["eligible_amount"] or 0),
            "withheld_amount": Decimal(r["withheld_amount"] or 0),
            "_order": (d.sort_order if d else 0, r["district_id"]),
        })
    rows.sort(key=lambda x: x.pop("_order"))
    totals = None
    if rows:
        totals = {"district": str(_("Total")),
                  **{k: sum(r[k] for r in rows) for k in (
                      "classes", "trainees", "valid_hours", "eligible", "not_eligible",
                      "pending", "eligible_amount", "withheld_amount")}}
    return Table(TableKind.SUBSIDY, TableKind.SUBSIDY.label, SUBSIDY_COLUMNS, rows, totals,
                 freshness("training", "subsidies"))

HANDLING_COLUMNS = [
    Column("district", _("District")), Column("rule", _("Rule")),
    Column("warnings_raised", _("Warnings raised"), "int"),
    Column("warnings_open", _("Warnings still open"), "int"),
    Column("cases_opened", _("Cases opened"), "int"),
    Column("cases_open", _("Cases open"), "int"),
    Column("cases_closed", _("Cases closed"), "int"),
    Column("closed_on_time", _("Closed on time"), "int"),
    Column("on_time_rate", _("On-time handling rate"), "rate"),
    Column("overdue", _("Overdue"), "int"),
    Column("escalated", _("Escalated"), "int"),
]


def handling_table(filters: StatFilters) -> Table:
    from skillguard.cases.models import Case
    from skillguard.supervision.models import Rule, Warning

    params = {"start": filters.start, "end": filters.end, "now": timezone.now()}
    w_where = _district_clause(filters, "w.district_id", params)
    c_where = _district_clause(filters, "c.district_id", params)
    sql = f"""
    WITH w AS (
      SELECT w.district_id, w.rule_id, count(*) AS raised,
             count(*) FILTER (WHERE w.status = 'open') AS still_open
        FROM {Warning._meta.db_table} w
       WHERE w.first_seen_at >= %(start)s AND w.first_seen_at < %(end)s {w_where}
       GROUP BY 1, 2
    ), c AS (
      SELECT c.district_id, c.rule_id, count(*) AS opened,
             count(*) FILTER (WHERE c.state <> 'closed') AS open,
             count(*) FILTER (WHERE c.state = 'closed') AS closed,
             count(*) FILTER (WHERE c.state = 'closed' AND c.closed_at <= c.deadline)
               AS on_time,
             count(*) FILTER (WHERE c.state <> 'closed'
                              AND (c.overdue OR c.deadline < %(now)s)) AS overdue,
             count(*) FILTER (WHERE c.escalated_at IS NOT NULL) AS escalated
        FROM {Case._meta.db_table} c
       WHERE c.opened_at >= %(start)s AND c.opened_at < %(end)s {c_where}
       GROUP BY 1, 2
    )
    SELECT coalesce(w.district_id, c.district_id) AS district_id,
           coalesce(w.rule_id, c.rule_id) AS rule_id,
           coalesce(w.raised, 0) AS raised, coalesce(w.still_open, 0) AS still_open,
           coalesce(c.opened, 0) AS opened, coalesce(c.open, 0) AS open,
           coalesce(c.closed, 0) AS closed, coalesce(c.on_time, 0) AS on_time,
           coalesce(c.overdue, 0) AS overdue, coalesce(c.escalated, 0) AS escalated
      FROM w FULL OUTER JOIN c
        ON w.district_id = c.district_id AND w.rule_id IS NOT DISTINCT FROM c.rule_id
    """
    districts, _occ = _names()
    rules = dict(Rule.objects.values_list("pk", "code"))
    rows = []
    for r in _fetch(sql, params):
        d = districts.get(r["district_id"])
        rule = rules.get(r["rule_id"]) if r["rule_id"] else ""
        rows.append({
            "district_id": r["district_id"], "district": d.name if d else str(r["district_id"]),
            "rule_id": r["rule_id"], "rule": rule or str(_("(no rule: spot check or by hand)")),
            "warnings_raised": r["raised"], "warnings_open": r["still_open"],
            "cases_opened": r["opened"], "cases_open": r["open"],
            "cases_closed": r["closed"], "closed_on_time": r["on_time"],
            "on_time_rate": _rate(r["on_time"], r["closed"]),
            "overdue": r["overdue"], "escalated": r["escalated"],
            "_order": (d.sort_order if d else 0, r["district_id"], rule or "~"),
        })
    rows.sort(key=lambda x: x.pop("_order"))
    totals = None
    if rows:
        keys = ("warnings_raised", "warnings_open", "cases_opened", "cases_open",
                "cases_closed", "closed_on_time", "overdue", "escalated")
        totals = {"district": str(_("Total")), **{k: sum(r[k] for r in rows) for k in keys}}
        totals["on_time_rate"] = _rate(totals["closed_on_time"], totals["cases_closed"])
    return Table(TableKind.HANDLING, TableKind.HANDLING.label, HANDLING_COLUMNS, rows, totals,
                 timezone.now())  # read from the sources themselves


TABLES = {TableKind.TRAINING: training_table, TableKind.SUBSIDY: subsidy_table,
          TableKind.HANDLING: handling_table}

# The records each table is made of: exporting a table needs the export right on them.
BASE_MODELS = {TableKind.TRAINING: ("attendance", "SessionAttendance"),
               TableKind.SUBSIDY: ("subsidies", "SubsidyVerdict"),
               TableKind.HANDLING: ("cases", "Case")}


def base_model(kind: str):
    from django.apps import apps

    return apps.get_model(*BASE_MODELS[kind])


def table(kind: str, filters: StatFilters) -> Table:
    if kind not in TABLES:
        raise Http404(_("No such table."))
    return TABLES[kind](filters)


def cell_text(column: Column, value) -> str:
    """A cell as exported: rates as percentages with one decimal, amounts with two."""
    if value is None:
        return ""
    if column.kind == "rate":
        return f"{Decimal(value) * 100:.1f}%"
    if column.kind in ("hours", "money"):
        return f"{Decimal(value):.2f}"
    return str(value)

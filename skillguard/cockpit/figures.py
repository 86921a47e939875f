"""The cockpit's figures (数据驾驶舱), read from the rollups (``cockpit.models``).

CONTRACT (the reports helper builds its PDF and statistics on these, so the figures match):

* ``resolve_scope(user, district_id=None, institution_id=None) -> CockpitScope`` — the city,
  a district or an institution the user may see; ``Http404`` (the same as a missing record)
  outside the user's scope. Without ids: the user's own level.
* ``key_figures(scope, day_from, day_to) -> dict[str, Figure]`` — see ``KEY_FIGURES``.
* ``trend(scope, metric, grain, day_from, day_to) -> list[dict]`` — ``{"period", "start",
  "value"}`` per day / week / month / year, every period of the range present (0 if empty).
* ``breakdown(scope, metric, by, day_from, day_to) -> list[dict]`` — ``{"key", "label",
  "value", "url"}`` by district / institution / occupation / level / category / severity.
* ``risk_ranking(scope, limit) -> list[dict]`` — institutions by ``RISK_SCORE`` with reasons.
* ``check_range(day_from, day_to)`` — raises ``RangeError`` (bilingual message) for a
  reversed or too long range.

Every figure carries its freshness (when its rollup was last refreshed; ``None`` if never)
and, where a list page shows the records behind it, a drill-down URL to that list filtered
the same way.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek, TruncYear
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.cockpit.models import (
    CaseDaily,
    DailyTraining,
    MonthlyTraining,
    RollupState,
    SubsidyDaily,
    WarningDaily,
)

MAX_RANGE_DAYS = 5 * 366
GRAINS = ("day", "week", "month", "year")
SEVERITIES = ("critical", "high", "medium", "low")
WARNING_STATES = ("open", "in_case", "closed")


class RangeError(ValueError):
    """A missing, reversed or too long date range: ``field``, ``message_zh``, ``message_en``;
    ``str()`` is both messages."""

    def __init__(self, field: str, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.field, self.message_zh, self.message_en = field, zh, en


@dataclass
class CockpitScope:
    level: str  # "city" | "district" | "institution"
    user: object = None
    district: object = None
    institution: object = None

    @property
    def district_id(self):
        return self.district.pk if self.district is not None else None

    @property
    def institution_id(self):
        return self.institution.pk if self.institution is not None else None

    @property
    def label(self) -> str:
        if self.institution is not None:
            return self.institution.name
        if self.district is not None:
            return self.district.name
        return str(_("Whole city"))

    def params(self) -> dict:
        """Query parameters naming this scope (drill-down links, API)."""
        out = {}
        if self.district_id:
            out["district"] = self.district_id
        if self.institution_id:
            out["institution"] = self.institution_id
        return out

    def filter(self, qs):
        if self.institution_id:
            return qs.filter(institution_id=self.institution_id)
        if self.district_id:
            return qs.filter(district_id=self.district_id)
        return qs


@dataclass
class Figure:
    code: str
    label: str
    value: object
    unit: str = ""
    freshness: dt.datetime | None = None
    url: str | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        value = self.value
        if isinstance(value, Decimal):
            value = float(value)
        return {"code": self.code, "label": str(self.label), "value": value,
                "unit": str(self.unit), "note": str(self.note),
                "freshness": self.freshness.isoformat() if self.freshness else None,
                "url": self.url}


# --------------------------------------------------------------------------- scope


def resolve_scope(user, district_id=None, institution_id=None) -> CockpitScope:
    from skillguard.accounts.roles import CITY_WIDE, Role
    from skillguard.core.scoping import can
    from skillguard.registry.models import District, Institution

    missing = Http404(_("No such record, or you may not see it."))
    if not can(user, "view", DailyTraining):
        raise missing
    city_wide = user.is_superuser or user.role in CITY_WIDE
    try:
        district_id = int(district_id) if district_id not in (None, "") else None
        institution_id = int(institution_id) if institution_id not in (None, "") else None
    except (TypeError, ValueError):
        raise missing
    if institution_id is not None:
        inst = Institution.objects.restrict(user).select_related("district").filter(
            pk=institution_id).first()
        if inst is None or (district_id is not None and inst.district_id != district_id):
            raise missing
        if not city_wide and user.role == Role.DISTRICT_SUPERVISOR and \
                inst.district_id != user.district_id:
            raise missing
        if not city_wide and user.role == Role.INSTITUTION_ADMIN and \
                inst.pk != user.institution_id:
            raise missing
        return CockpitScope("institution", user, inst.district, inst)
    if district_id is not None:
        district = District.objects.filter(pk=district_id).first()
        if district is None:
            raise missing
        if city_wide or (user.role == Role.DISTRICT_SUPERVISOR
                         and user.district_id == district.pk):
            return CockpitScope("district", user, district)
        raise missing
    if city_wide:
        return CockpitScope("city", user)
    if user.role == Role.DISTRICT_SUPERVISOR and user.district_id:
        return CockpitScope("district", user, District.objects.get(pk=user.district_id))
    if user.role == Role.INSTITUTION_ADMIN and user.institution_id:
        inst = Institution.objects.select_related("district").get(pk=user.institution_id)
        return CockpitScope("institution", user, inst.district, inst)
    raise missing


# --------------------------------------------------------------------------- periods


def check_range(day_from: dt.date, day_to: dt.date) -> None:
    if day_from is None or day_to is None:
        raise RangeError("from" if day_from is None else "to",
                         "统计期间：请填写有效的起止日期（YYYY-MM-DD）。",
                         "Period: give a valid first and last day (YYYY-MM-DD).")
    if day_from > day_to:
        raise RangeError("to", f"统计期间：结束日期 {day_to} 早于开始日期 {day_from}。",
                         f"Period: the last day {day_to} is before the first day {day_from}.")
    if (day_to - day_from).days + 1 > MAX_RANGE_DAYS:
        raise RangeError("to", f"统计期间：{day_from} 至 {day_to} 超过五年，请缩短到五年以内。",
                         f"Period: {day_from} to {day_to} is longer than five years; "
                         "choose at most five years.")


def period_bounds(period: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first, last) day of the current day / week / month / year."""
    today = today or timezone.localdate()
    if period == "week":
        first = today - dt.timedelta(days=today.weekday())
        return first, first + dt.timedelta(days=6)
    if period == "month":
        first = today.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    if period == "year":
        return today.replace(month=1, day=1), today.replace(month=12, day=31)
    return today, today


def _fresh() -> dict:
    return {s.name: s.refreshed_at for s in RollupState.objects.all()}


def _url(name: str, **params) -> str | None:
    try:
        base = reverse(name)
    except NoReverseMatch:
        return None
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return base + ("?" + urlencode(clean) if clean else "")


def _training(scope, day_from, day_to):
    return scope.filter(DailyTraining.objects.filter(day__gte=day_from, day__lte=day_to))


def _month_end(m: dt.date) -> dt.date:
    return (m + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def month_split(day_from: dt.date, day_to: dt.date):
    """((first, last) month starts wholly inside the range, or None; the edge day ranges)."""
    first = day_from if day_from.day == 1 else _month_end(day_from) + dt.timedelta(days=1)
    last = None
    m = first
    while _month_end(m) <= day_to:
        last = m
        m = _month_end(m) + dt.timedelta(days=1)
    if last is None:
        return None, [(day_from, day_to)]
    edges = []
    if day_from < first:
        edges.append((day_from, first - dt.timedelta(days=1)))
    if _month_end(last) < day_to:
        edges.append((_month_end(last) + dt.timedelta(days=1), day_to))
    return (first, last), edges


def _training_parts(scope, day_from, day_to, monthly: bool = True) -> list:
    """The rollup rows covering the range: whole months from ``MonthlyTraining`` (unless
    ``monthly`` is false), the days at the edges from ``DailyTraining``."""
    if not monthly:
        return [_training(scope, day_from, day_to)]
    months, edges = month_split(day_from, day_to)
    parts = []
    if months:
        parts.append(scope.filter(MonthlyTraining.objects.filter(day__gte=months[0],
                                                                 day__lte=months[1])))
    parts += [_training(scope, a, b) for a, b in edges]
    return parts


def _merge(parts, group: tuple, aggs: dict, prep=None) -> list[dict]:
    """Run the same grouped aggregate over each part and add the results up."""
    out: dict[tuple, dict] = {}
    for qs in parts:
        if prep is not None:
            qs = prep(qs)
        rows = qs.values(*group).annotate(**aggs) if group else [qs.aggregate(**aggs)]
        for r in rows:
            key = tuple(r[g] for g in group)
            cur = out.setdefault(key, {**{g: r[g] for g in group}, **{k: None for k in aggs}})
            for k in aggs:
                if r[k] is not None:
                    cur[k] = r[k] if cur[k] is None else cur[k] + r[k]
    if not group and not out:
        return [{k: None for k in aggs}]
    return list(out.values())


def _warnings(scope, day_from=None, day_to=None):
    qs = WarningDaily.objects.all()
    if day_from:
        qs = qs.filter(day__gte=day_from, day__lte=day_to)
    return scope.filter(qs)


def _cases(scope, day_from=None, day_to=None):
    qs = CaseDaily.objects.all()
    if day_from:
        qs = qs.filter(day__gte=day_from, day__lte=day_to)
    if scope.institution_id and _is_institution(scope.user):
        # an institution sees the cases dispatched to it, never the others
        return qs.filter(dispatched_to_id=scope.institution_id)
    return scope.filter(qs)


def _is_institution(user) -> bool:
    return user is not None and not user.is_superuser and user.role == "institution_admin"


def may_see(scope, model_name: str) -> bool:
    """Whether the scope's user may view ``model_name`` records at all (figures about
    warnings are for roles that may read warnings, and so on)."""
    from skillguard.accounts.roles import role_allows

    user = scope.user
    if user is None or user.is_superuser:
        return True
    return role_allows(user.role, model_name, "view")


def _subsidies(scope, day_from, day_to):
    return scope.filter(SubsidyDaily.objects.filter(day__gte=day_from, day__lte=day_to))


def reference_day(day_from: dt.date, day_to: dt.date) -> dt.date:
    """The day 'classes running' is counted on: today inside the period, else its last day."""
    today = timezone.localdate()
    return today if day_from <= today <= day_to else day_to


def cameras(scope) -> tuple[int, int, dt.datetime | None] | None:
    """(online, total, freshness) of the scope's cameras; None where video is not there."""
    try:
        from skillguard.video.models import CameraHealth
    except Exception:  # noqa: BLE001 — the video app is optional
        return None
    try:
        qs = scope.filter(CameraHealth.objects.all())
        agg = qs.aggregate(total=Count("pk"), online=Count("pk", filter=Q(online=True)))
    except Exception:  # noqa: BLE001 — table not migrated yet
        return None
    return agg["online"] or 0, agg["total"] or 0, timezone.now()


# --------------------------------------------------------------------------- key figures

KEY_FIGURES = (
    "classes_running", "sessions", "trainees_present", "checkins", "valid_hours",
    "attendance_rate", "enrolments", "warnings", "warnings_critical", "warnings_high",
    "warnings_medium", "warnings_low", "warnings_open", "warnings_in_case", "warnings_closed",
    "cases_opened", "cases_overdue", "cameras_online", "subsidy_eligible", "subsidy_withheld",
)

LABELS = {
    "classes_running": _("Classes running"),
    "sessions": _("Sessions scheduled"),
    "trainees_present": _("Trainees present (person-times)"),
    "checkins": _("Check-ins"),
    "valid_hours": _("Valid class hours"),
    "attendance_rate": _("Attendance rate"),
    "enrolments": _("New enrolments"),
    "warnings": _("Warnings raised"),
    "warnings_critical": _("Critical warnings"),
    "warnings_high": _("High warnings"),
    "warnings_medium": _("Medium warnings"),
    "warnings_low": _("Low warnings"),
    "warnings_open": _("Warnings still open"),
    "warnings_in_case": _("Warnings in a case"),
    "warnings_closed": _("Warnings closed"),
    "cases_opened": _("Cases opened"),
    "cases_overdue": _("Overdue cases (now)"),
    "cameras_online": _("Cameras online"),
    "subsidy_eligible": _("Subsidy eligible (CNY)"),
    "subsidy_withheld": _("Subsidy withheld (CNY)"),
}


def _rate(valid, scheduled) -> Decimal | None:
    if not scheduled:
        return None
    return (Decimal(valid or 0) * 100 / Decimal(scheduled)).quantize(Decimal("0.1"))


def key_figures(scope: CockpitScope, day_from: dt.date, day_to: dt.date) -> dict[str, Figure]:
    check_range(day_from, day_to)
    fresh = _fresh()
    ft, fw, fc, fs = (fresh.get("training"), fresh.get("warnings"), fresh.get("cases"),
                      fresh.get("subsidies"))
    p = scope.params()
    span = {"date_from": day_from.isoformat(), "date_to": day_to.isoformat()}
    wspan = {"period": "custom", "start": day_from.isoformat(), "end": day_to.isoformat()}
    ref = reference_day(day_from, day_to)
    t = _merge(_training_parts(scope, day_from, day_to), (), {
        "sessions": Sum("sessions_scheduled"), "present": Sum("trainees_present"),
        "checkins": Sum("checkins"), "valid": Sum("valid_hours"),
        "scheduled": Sum("scheduled_hours"), "enrolments": Sum("enrolments")})[0]
    running = scope.filter(DailyTraining.objects.filter(day=ref)).aggregate(
        n=Sum("classes_running"))["n"] or 0
    out: dict[str, Figure] = {}

    def add(code, value, unit="", fresh_at=None, url=None, note=""):
        out[code] = Figure(code, LABELS[code], value, unit, fresh_at, url, note)

    add("classes_running", running, _("classes"), ft,
        _url("registry:class_list", running_on=ref.isoformat(), **p),
        note=_("on %(day)s") % {"day": ref.isoformat()})
    add("sessions", t["sessions"] or 0, _("sessions"), ft,
        _url("registry:session_list", **span, **p))
    add("trainees_present", t["present"] or 0, _("person-times"), ft,
        _url("registry:trainee_list", attended_from=day_from.isoformat(),
             attended_to=day_to.isoformat(), training_district=scope.district_id,
             training_institution=scope.institution_id))
    add("checkins", t["checkins"] or 0, _("check-ins"), ft)
    add("valid_hours", (t["valid"] or Decimal(0)).quantize(Decimal("0.01")), _("class hours"),
        ft)
    add("attendance_rate", _rate(t["valid"], t["scheduled"]), "%", ft,
        note=_("valid ÷ scheduled class hours"))
    add("enrolments", t["enrolments"] or 0, _("enrolments"), ft)

    w = _warnings(scope, day_from, day_to).values("severity", "status").annotate(
        n=Sum("warnings")) if may_see(scope, "warning") else None
    by_sev = {s: 0 for s in SEVERITIES}
    by_state = {s: 0 for s in WARNING_STATES}
    for row in w or ():
        by_sev[row["severity"]] = by_sev.get(row["severity"], 0) + row["n"]
        by_state[row["status"]] = by_state.get(row["status"], 0) + row["n"]
    if w is not None:  # roles that may not read warnings get no warning figures
        add("warnings", sum(by_sev.values()), _("warnings"), fw,
            _url("supervision:warning_list", **wspan, **p))
        for sev in SEVERITIES:
            add(f"warnings_{sev}", by_sev[sev], _("warnings"), fw,
                _url("supervision:warning_list", severity=sev, **wspan, **p))
        for st in WARNING_STATES:
            add(f"warnings_{st}", by_state[st], _("warnings"), fw,
                _url("supervision:warning_list", status=st, **wspan, **p))

    if may_see(scope, "case"):
        cp = {} if _is_institution(scope.user) else p  # the case list scopes it already
        opened = _cases(scope, day_from, day_to).aggregate(n=Sum("cases"))["n"] or 0
        add("cases_opened", opened, _("cases"), fc, _url("cases:case_list", **span, **cp))
        overdue = _cases(scope).aggregate(n=Sum("overdue"))["n"] or 0
        add("cases_overdue", overdue, _("cases"), fc,
            _url("cases:case_list", overdue="on", **cp))

    cam = cameras(scope)
    if cam is None:
        add("cameras_online", None, _("cameras"), None, note=_("no camera data"))
    else:
        add("cameras_online", cam[0], _("cameras"), cam[2],
            _url("cameras:camera_list", online="1", **p),
            note=_("of %(total)s") % {"total": cam[1]})
        out["cameras_online"].extra = {"total": cam[1]}

    s = _subsidies(scope, day_from, day_to).aggregate(
        amount=Sum("amount"), withheld=Sum("withheld"),
        eligible=Sum("verdicts", filter=Q(verdict="eligible")),
        refused=Sum("verdicts", filter=Q(verdict="not_eligible")))
    add("subsidy_eligible", (s["amount"] or Decimal(0)).quantize(Decimal("0.01")), "CNY", fs,
        note=_("%(n)s eligible enrolments of classes ending in the period")
        % {"n": s["eligible"] or 0})
    add("subsidy_withheld", (s["withheld"] or Decimal(0)).quantize(Decimal("0.01")), "CNY", fs,
        note=_("%(n)s refused claims (catalogue amount)") % {"n": s["refused"] or 0})
    return out


# --------------------------------------------------------------------------- trends

# metric -> (rollup, aggregate expression builder, rollup name for freshness)
TRAINING_METRICS = {
    "sessions": "sessions_scheduled",
    "classes_running": "classes_running",
    "trainees_present": "trainees_present",
    "checkins": "checkins",
    "valid_hours": "valid_hours",
    "scheduled_hours": "scheduled_hours",
    "enrolments": "enrolments",
}
METRICS = (*TRAINING_METRICS, "attendance_rate", "warnings", "cases_opened",
           "cases_overdue", "subsidy_eligible", "subsidy_withheld")
METRIC_LABELS = {**LABELS, "scheduled_hours": _("Scheduled class hours")}
TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth, "year": TruncYear}


def _metric_qs(scope, metric, day_from, day_to, monthly: bool = True):
    """(parts, aggregates, finisher(row) -> value) of one metric; ``parts`` are querysets
    whose aggregates add up (``_merge``)."""
    one = lambda r: r["v"] or 0
    if metric in TRAINING_METRICS:
        col = TRAINING_METRICS[metric]
        parts = _training_parts(scope, day_from, day_to,
                                monthly and metric != "classes_running")
        return parts, {"v": Sum(col)}, one
    if metric == "attendance_rate":
        return (_training_parts(scope, day_from, day_to, monthly),
                {"a": Sum("valid_hours"), "b": Sum("scheduled_hours")},
                lambda r: _rate(r["a"], r["b"]))
    if metric == "warnings":
        return [_warnings(scope, day_from, day_to)], {"v": Sum("warnings")}, one
    if metric == "cases_opened":
        return [_cases(scope, day_from, day_to)], {"v": Sum("cases")}, one
    if metric == "cases_overdue":
        return [_cases(scope, day_from, day_to)], {"v": Sum("overdue")}, one
    if metric == "subsidy_eligible":
        return [_subsidies(scope, day_from, day_to)], {"v": Sum("amount")}, one
    if metric == "subsidy_withheld":
        return [_subsidies(scope, day_from, day_to)], {"v": Sum("withheld")}, one
    raise ValueError(f"unknown metric {metric!r}")


def _period_start(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    return day


def _next_period(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day + dt.timedelta(days=7)
    if grain == "month":
        return (day + dt.timedelta(days=32)).replace(day=1)
    if grain == "year":
        return day.replace(year=day.year + 1)
    return day + dt.timedelta(days=1)


def _period_label(day: dt.date, grain: str) -> str:
    if grain == "month":
        return day.strftime("%Y-%m")
    if grain == "year":
        return str(day.year)
    if grain == "week":
        return f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
    return day.isoformat()


def _num(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def trend(scope: CockpitScope, metric: str, grain: str, day_from: dt.date,
          day_to: dt.date) -> list[dict]:
    check_range(day_from, day_to)
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    if metric == "warnings" and not may_see(scope, "warning") or \
            metric.startswith("cases") and not may_see(scope, "case"):
        return []
    parts, aggs, finish = _metric_qs(scope, metric, day_from, day_to,
                                     monthly=grain in ("month", "year"))
    if grain == "day":
        found = {r["day"]: finish(r) for r in _merge(parts, ("day",), aggs)}
    else:
        rows = _merge(parts, ("p",), aggs,
                      prep=lambda qs: qs.annotate(p=TRUNC[grain]("day")))
        found = {}
        for r in rows:
            key = r["p"].date() if isinstance(r["p"], dt.datetime) else r["p"]
            found[key] = finish(r)
    out = []
    start = _period_start(day_from, grain)
    while start <= day_to:
        out.append({"period": _period_label(start, grain), "start": start.isoformat(),
                    "value": _num(found.get(start, 0 if metric != "attendance_rate" else None))})
        start = _next_period(start, grain)
    return out


# --------------------------------------------------------------------------- breakdowns

BREAKDOWNS = ("district", "institution", "occupation", "level", "category", "severity")


def _labels(by: str, keys) -> dict:
    from skillguard.registry.models import (
        District,
        Institution,
        Level,
        Occupation,
        TraineeCategory,
    )

    keys = [k for k in keys if k not in (None, "")]
    if by == "district":
        return dict(District.objects.filter(pk__in=keys).values_list("pk", "name"))
    if by == "institution":
        return dict(Institution.objects.filter(pk__in=keys).values_list("pk", "name"))
    if by == "occupation":
        return dict(Occupation.objects.filter(pk__in=keys).values_list("pk", "name"))
    if by == "level":
        return {k: (str(Level(k).label) if k in Level.values else str(_("No level")))
                for k in keys}
    if by == "category":
        return {k: str(TraineeCategory(k).label) if k in TraineeCategory.values else k
                for k in keys}
    if by == "severity":
        from skillguard.supervision.rules.base import Severity

        return {k: str(Severity(k).label) if k in Severity.values else k for k in keys}
    return {}


def breakdown(scope: CockpitScope, metric: str, by: str, day_from: dt.date,
              day_to: dt.date) -> list[dict]:
    check_range(day_from, day_to)
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    if metric == "warnings" and not may_see(scope, "warning") or \
            metric.startswith("cases") and not may_see(scope, "case"):
        return []
    parts, aggs, finish = _metric_qs(scope, metric, day_from, day_to)
    column = {"district": "district_id", "institution": "institution_id",
              "occupation": "occupation_id", "level": "level", "category": "category",
              "severity": "severity"}[by]
    if column not in {f.name for f in parts[0].model._meta.fields}:
        return []
    rows = _merge(parts, (column,), aggs)
    labels = _labels(by, [r[column] for r in rows])
    out = []
    for r in rows:
        key = r[column]
        label = labels.get(key)
        if label is None:
            label = str(_("Class-level (no category)")) if by == "category" and key == "" \
                else str(_("None"))
        out.append({"key": key, "label": label, "value": _num(finish(r)),
                    "url": _breakdown_url(scope, metric, by, key, day_from, day_to)})
    out.sort(key=lambda r: (-(r["value"] or 0), str(r["label"])))
    return out


def _breakdown_url(scope, metric, by, key, day_from, day_to) -> str | None:
    if by == "district" and key:
        try:
            return reverse("cockpit:district", args=[key]) + "?" + urlencode(
                {"from": day_from.isoformat(), "to": day_to.isoformat()})
        except NoReverseMatch:
            return None
    if by == "institution" and key:
        try:
            return reverse("cockpit:institution", args=[key]) + "?" + urlencode(
                {"from": day_from.isoformat(), "to": day_to.isoformat()})
        except NoReverseMatch:
            return None
    if metric == "warnings" and by == "severity":
        return _url("supervision:warning_list", severity=key, period="custom",
                    start=day_from.isoformat(), end=day_to.isoformat(), **scope.params())
    return None


# --------------------------------------------------------------------------- risk ranking

RISK_WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1}
OVERDUE_WEIGHT = 8
ATTENDANCE_FLOOR = Decimal(80)  # % of scheduled class hours over the last 30 days
NO_CAMERA_POINTS = 10
OFFLINE_POINTS = 20
RISK_SCORE = _(
    "Risk score = 10 × open critical + 5 × open high + 2 × open medium + 1 × open low "
    "warnings + 8 × overdue cases + one point per percentage point the attendance rate of "
    "the last 30 days is below 80 % + 20 × the share of cameras offline (10 when the "
    "institution held sessions but has no camera).")


def risk_ranking(scope: CockpitScope, limit: int = 20) -> list[dict]:
    from skillguard.registry.models import Institution
    from skillguard.supervision.rules.base import Severity

    if not may_see(scope, "warning"):  # a supervisors' tool: built on warnings and cases
        return []
    fresh = _fresh()
    scores: dict[int, dict] = {}

    def entry(iid):
        return scores.setdefault(iid, {"institution_id": iid, "score": Decimal(0),
                                       "reasons": [], "components": {}})

    for row in _warnings(scope).filter(status="open").exclude(institution_id=0).values(
            "institution_id", "severity").annotate(n=Sum("warnings")):
        e = entry(row["institution_id"])
        pts = RISK_WEIGHTS.get(row["severity"], 1) * row["n"]
        e["score"] += pts
        e["components"][f"open_{row['severity']}"] = row["n"]
    for row in _cases(scope).exclude(institution_id=0).values("institution_id").annotate(
            n=Sum("overdue")):
        if row["n"]:
            e = entry(row["institution_id"])
            e["score"] += OVERDUE_WEIGHT * row["n"]
            e["components"]["overdue_cases"] = row["n"]
    today = timezone.localdate()
    since = today - dt.timedelta(days=29)
    active = {}
    for row in _training(scope, since, today).values("institution_id").annotate(
            a=Sum("valid_hours"), b=Sum("scheduled_hours"), s=Sum("sessions_scheduled")):
        active[row["institution_id"]] = row["s"] or 0
        rate = _rate(row["a"], row["b"])
        if rate is not None and rate < ATTENDANCE_FLOOR:
            e = entry(row["institution_id"])
            e["score"] += ATTENDANCE_FLOOR - rate
            e["components"]["attendance_rate"] = float(rate)
    try:
        from skillguard.video.models import CameraHealth

        cams = {r["institution_id"]: r for r in scope.filter(CameraHealth.objects.all())
                .values("institution_id").annotate(total=Count("pk"),
                                                   online=Count("pk", filter=Q(online=True)))}
    except Exception:  # noqa: BLE001 — video optional / not migrated
        cams = None
    if cams is not None:
        for iid, sessions in active.items():
            c = cams.get(iid)
            if not sessions:
                continue
            if c is None or not c["total"]:
                e = entry(iid)
                e["score"] += NO_CAMERA_POINTS
                e["components"]["no_camera"] = True
            elif c["online"] < c["total"]:
                e = entry(iid)
                share = Decimal(c["total"] - c["online"]) / Decimal(c["total"])
                e["score"] += (OFFLINE_POINTS * share).quantize(Decimal("0.1"))
                e["components"]["cameras_offline"] = c["total"] - c["online"]
                e["components"]["cameras_total"] = c["total"]
    ranked = sorted(scores.values(), key=lambda e: (-e["score"], e["institution_id"]))
    ranked = [e for e in ranked if e["score"] > 0][:limit]
    insts = {i.pk: i for i in Institution.objects.select_related("district").filter(
        pk__in=[e["institution_id"] for e in ranked])}
    freshness = min([f for f in (fresh.get("warnings"), fresh.get("cases"),
                                 fresh.get("training")) if f] or [None]) \
        if any(fresh.values()) else None
    out = []
    for rank, e in enumerate(ranked, 1):
        inst = insts.get(e["institution_id"])
        c = e["components"]
        reasons = []
        for sev in SEVERITIES:
            if c.get(f"open_{sev}"):
                reasons.append(str(_("%(n)s open warnings of severity %(sev)s")
                                   % {"n": c[f"open_{sev}"], "sev": Severity(sev).label}))
        if c.get("overdue_cases"):
            reasons.append(str(_("%(n)s overdue cases") % {"n": c["overdue_cases"]}))
        if "attendance_rate" in c:
            reasons.append(str(_("attendance rate %(r)s %% (30 days) below 80 %%")
                               % {"r": c["attendance_rate"]}))
        if c.get("no_camera"):
            reasons.append(str(_("sessions held without any camera")))
        if c.get("cameras_offline"):
            reasons.append(str(_("%(off)s of %(total)s cameras offline")
                               % {"off": c["cameras_offline"], "total": c["cameras_total"]}))
        url = None
        try:
            url = reverse("cockpit:institution", args=[e["institution_id"]])
        except NoReverseMatch:
            pass
        out.append({"rank": rank, "institution_id": e["institution_id"],
                    "institution": inst.name if inst else str(e["institution_id"]),
                    "district": inst.district.name if inst else "",
                    "district_id": inst.district_id if inst else None,
                    "score": float(e["score"].quantize(Decimal("0.1"))), "reasons": reasons,
                    "components": c, "url": url,
                    "freshness": freshness.isoformat() if freshness else None})
    return out

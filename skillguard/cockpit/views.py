"""Cockpit pages (数据驾驶舱): the city, a district, an institution — each scoped to the user.

Thin: parse the period, resolve the scope (``figures.resolve_scope``: 404 outside it), read
the figures, render. ``?screen=1`` renders the same figures in the dark full-screen layout
(large screens, auto-refresh)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from skillguard.cockpit import figures
from skillguard.cockpit.figures import RangeError

PERIODS = (("day", _("Day")), ("week", _("Week")), ("month", _("Month")),
           ("year", _("Year")), ("custom", _("Date range")))
SCREEN_REFRESH_S = 300


def _date(value):
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


class Period:
    """The period a page shows, from ``period``, ``from``, ``to`` (and ``day``)."""

    def __init__(self, params):
        self.kind = params.get("period") or ""
        self.error: RangeError | None = None
        raw_from, raw_to = params.get("from"), params.get("to")
        if self.kind not in dict(PERIODS):
            self.kind = "custom" if (raw_from or raw_to) else "month"
        if self.kind == "custom":
            self.first, self.last = _date(raw_from), _date(raw_to)
        else:
            anchor = _date(params.get("day")) or timezone.localdate()
            self.first, self.last = figures.period_bounds(self.kind, anchor)
        self.raw_from = raw_from if self.first is None else self.first.isoformat()
        self.raw_to = raw_to if self.last is None else self.last.isoformat()
        try:
            figures.check_range(self.first, self.last)
        except RangeError as exc:
            self.error = exc

    @property
    def grain(self) -> str:
        days = (self.last - self.first).days + 1
        if self.kind == "year" or 92 < days <= 3 * 366:
            return "month"
        if days > 3 * 366:
            return "year"
        return "day"

    def trend_range(self) -> tuple[dt.date, dt.date]:
        if self.kind == "day" or (self.last - self.first).days < 6:
            return self.last - dt.timedelta(days=29), self.last
        return self.first, self.last


def _scope_url(scope) -> str:
    if scope.level == "institution":
        return reverse("cockpit:institution", args=[scope.institution_id])
    if scope.level == "district":
        return reverse("cockpit:district", args=[scope.district_id])
    return reverse("cockpit:city")


@login_required
@require_safe  # read-only pages: a signed-in POST answers 405
def home(request):
    scope = figures.resolve_scope(request.user)
    url = _scope_url(scope)
    query = request.GET.urlencode()
    return redirect(url + ("?" + query if query else ""))


@login_required
@require_safe  # read-only pages: a signed-in POST answers 405
def city(request):
    scope = figures.resolve_scope(request.user)
    if scope.level != "city":
        raise Http404(_("No such record, or you may not see it."))
    return _page(request, scope)


@login_required
@require_safe  # read-only pages: a signed-in POST answers 405
def district(request, pk):
    return _page(request, figures.resolve_scope(request.user, district_id=pk))


@login_required
@require_safe  # read-only pages: a signed-in POST answers 405
def institution(request, pk):
    return _page(request, figures.resolve_scope(request.user, institution_id=pk))


TREND_METRICS = ("sessions", "trainees_present", "valid_hours", "attendance_rate", "warnings",
                 "subsidy_eligible")


def build(scope, period: Period) -> dict:
    """Everything the page (and its chart script) shows."""
    first, last = period.first, period.last
    key = figures.key_figures(scope, first, last)
    t_first, t_last = period.trend_range()
    grain = period.grain if (t_first, t_last) == (first, last) else "day"
    trends = {m: figures.trend(scope, m, grain, t_first, t_last) for m in TREND_METRICS}
    by_area = "district" if scope.level == "city" else "institution"
    breakdowns = {
        "area": figures.breakdown(scope, "valid_hours", by_area, first, last),
        "occupation": figures.breakdown(scope, "valid_hours", "occupation", first, last)[:12],
        "level": figures.breakdown(scope, "trainees_present", "level", first, last),
        "category": [r for r in figures.breakdown(scope, "trainees_present", "category",
                                                  first, last) if r["key"]],
        "severity": figures.breakdown(scope, "warnings", "severity", first, last),
        "institution": figures.breakdown(scope, "sessions", "institution", first, last)[:15],
    }
    ranking = figures.risk_ranking(scope, limit=15)
    chart = {
        "trends": {m: {"label": str(figures.METRIC_LABELS[m]), "points": trends[m]}
                   for m in TREND_METRICS},
        "breakdowns": {k: [{"label": r["label"], "value": r["value"], "url": r["url"]}
                           for r in v] for k, v in breakdowns.items()},
        "labels": {"area": str(_("Valid class hours by district") if by_area == "district"
                               else _("Valid class hours by institution")),
                   "occupation": str(_("Valid class hours by occupation")),
                   "level": str(_("Trainees present by level")),
                   "category": str(_("Trainees present by category")),
                   "severity": str(_("Warnings by severity")),
                   "institution": str(_("Sessions by institution"))},
    }
    return {"figures": key, "ranking": ranking, "chart": chart, "grain": grain,
            "trend_from": t_first, "trend_to": t_last}


def _page(request, scope):
    period = Period(request.GET)
    screen = request.GET.get("screen") == "1"
    context = {"scope": scope, "period": period, "periods": PERIODS, "screen": screen,
               "refresh_s": SCREEN_REFRESH_S, "risk_score": figures.RISK_SCORE,
               "fresh": figures._fresh(), "self_url": _scope_url(scope),
               "may_warnings": figures.may_see(scope, "warning")}
    if scope.level == "city":
        from skillguard.registry.models import District

        context["districts"] = District.objects.order_by("sort_order", "pk")
    elif scope.level == "district" and (request.user.is_superuser or
                                        request.user.role in _city_roles()):
        context["up_url"] = reverse("cockpit:city")
    if scope.level == "institution" and request.user.role != "institution_admin":
        context["up_url"] = reverse("cockpit:district", args=[scope.district_id])
    if period.error is None:
        context.update(build(scope, period))
    template = "cockpit/screen.html" if screen else "cockpit/cockpit.html"
    return render(request, template, context)


def _city_roles():
    from skillguard.accounts.roles import CITY_WIDE

    return CITY_WIDE

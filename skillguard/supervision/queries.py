"""Scoped reads of the supervision engine: the rule catalogue, versions, runs, warnings.

The catalogue, versions and runs are city-wide (``Scope(public=True)``: every role the
role table lets view them sees all); warnings are scoped by district and institution, and
so are the warning counts shown next to rules and what a back-test found.
"""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, OuterRef, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import access
from skillguard.supervision import engine
from skillguard.supervision.models import Rule, RuleRun, Warning, WarningStatus

NOT_FOUND = _("No such record, or you may not see it.")


def rules(user):
    """The catalogue (rows created for every registered rule first) with the last run and
    the open warnings the user may see."""
    engine.ensure_catalogue()
    last = RuleRun.objects.filter(rule=OuterRef("pk")).exclude(mode="backtest").order_by("-id")
    open_warnings = (Warning.objects.restrict(user, "view")
                     .filter(rule=OuterRef("pk"), status=WarningStatus.OPEN)
                     .order_by().values("rule").annotate(n=Count("pk")).values("n"))
    return (Rule.objects.restrict(user, "view").select_related("current_version")
            .annotate(last_run_id=Subquery(last.values("id")[:1]),
                      last_run_status=Subquery(last.values("status")[:1]),
                      last_run_at=Subquery(last.values("started_at")[:1]),
                      last_run_error=Subquery(last.values("error")[:1]),
                      open_warnings=Subquery(open_warnings[:1]))
            .order_by("code"))


def access_rule(user, code: str, action: str = "view") -> Rule:
    engine.ensure_catalogue([code])
    try:
        return (Rule.objects.restrict(user, action).select_related("current_version")
                .get(code=str(code)))
    except Rule.DoesNotExist:
        raise Http404(NOT_FOUND) from None


def versions(rule: Rule):
    return rule.versions.select_related("created_by").order_by("-number")


def version_changes(rule: Rule) -> list[dict]:
    """Each version with what changed from the previous one (parameters, severity, …)."""
    out, previous = [], None
    for v in reversed(list(versions(rule))):
        changed = []
        if previous is not None:
            for key in sorted(set(v.params) | set(previous.params)):
                if v.params.get(key) != previous.params.get(key):
                    changed.append((key, previous.params.get(key), v.params.get(key)))
            for field in ("severity", "level", "period"):
                if getattr(v, field) != getattr(previous, field):
                    changed.append((field, getattr(previous, field), getattr(v, field)))
        out.append({"version": v, "changes": changed})
        previous = v
    return list(reversed(out))


def runs(user, rule: Rule | None = None, mode: str | None = None):
    qs = RuleRun.objects.restrict(user, "view").select_related("rule", "version",
                                                               "requested_by")
    if rule is not None:
        qs = qs.filter(rule=rule)
    if mode:
        qs = qs.filter(mode=mode)
    return qs.order_by("-id")


def access_run(user, rule: Rule, pk) -> RuleRun:
    return access(RuleRun, user, pk, "view",
                  queryset=RuleRun.objects.filter(rule=rule).select_related("version",
                                                                            "requested_by"))


def visible_results(user, run: RuleRun) -> dict:
    """A back-test's results as the user may see them: a city-wide user everything; a
    district supervisor only the rows of their district (counts recomputed)."""
    results = dict(run.results or {})
    results["sample"] = [_with_time(r) for r in results.get("sample", [])]
    if user.is_superuser or getattr(user, "is_city_wide", False) or not results:
        return results
    district = getattr(user, "district_id", None)
    per_district = [r for r in results.get("per_district", []) if r["district_id"] == district]
    results["per_district"] = per_district
    results["per_institution"] = [r for r in results.get("per_institution", [])
                                  if r["district_id"] == district]
    results["sample"] = [r for r in results.get("sample", []) if r["district_id"] == district]
    results["count"] = sum(r["count"] for r in per_district)
    results.pop("existing", None)
    results.pop("new", None)
    results["scoped"] = True
    return results


def _with_time(row: dict) -> dict:
    try:
        return {**row, "occurred_at": dt.datetime.fromisoformat(row["occurred_at"])}
    except (KeyError, TypeError, ValueError):
        return row


# --------------------------------------------------------------------------- warnings

PERIODS = ("today", "week", "month", "year", "custom")


def period_bounds(period: str, start: dt.date | None = None, end: dt.date | None = None,
                  today: dt.date | None = None):
    """(from, to) aware datetimes of a period of ``first_seen_at`` (local dates)."""
    today = today or timezone.localdate()

    def midnight(d):
        return timezone.make_aware(dt.datetime.combine(d, dt.time()))
    if period == "today":
        return midnight(today), midnight(today + dt.timedelta(days=1))
    if period == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return midnight(monday), midnight(monday + dt.timedelta(days=7))
    if period == "month":
        first = today.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return midnight(first), midnight(nxt)
    if period == "year":
        return midnight(today.replace(month=1, day=1)), midnight(today.replace(
            year=today.year + 1, month=1, day=1))
    if period == "custom":
        return (midnight(start) if start else None,
                midnight(end + dt.timedelta(days=1)) if end else None)
    return None, None


def warnings(user, *, district=None, institution=None, rule=None, severity=None, status=None,
             level=None, period=None, start=None, end=None):
    qs = (Warning.objects.restrict(user, "view")
          .select_related("rule", "district", "institution", "rule_version"))
    if district:
        qs = qs.filter(district_id=getattr(district, "pk", district))
    if institution:
        qs = qs.filter(institution_id=getattr(institution, "pk", institution))
    if rule:
        qs = qs.filter(rule__code=getattr(rule, "code", rule))
    if severity:
        qs = qs.filter(severity=severity)
    if status:
        qs = qs.filter(status=status)
    if level:
        qs = qs.filter(level=level)
    lo, hi = period_bounds(period or "", start, end)
    if lo:
        qs = qs.filter(first_seen_at__gte=lo)
    if hi:
        qs = qs.filter(first_seen_at__lt=hi)
    return qs


def warning_counts(qs) -> dict:
    """Counts per rule and per district of a (filtered, scoped) warning list."""
    base = qs.order_by()
    per_rule = list(base.values("rule__code").annotate(n=Count("pk")).order_by("-n",
                                                                                "rule__code"))
    per_district = list(base.values("district__name", "district_id")
                        .annotate(n=Count("pk")).order_by("-n", "district__name"))
    return {"per_rule": per_rule, "per_district": per_district,
            "open": base.filter(status=WarningStatus.OPEN).count()}


def access_warning(user, pk) -> Warning:
    return access(Warning, user, pk, "view", queryset=Warning.objects.select_related(
        "rule", "rule_version", "district", "institution", "first_run"))


def warning_institutions(user):
    """Institutions the user's visible warnings name (for the filter)."""
    from skillguard.registry.models import Institution

    ids = (Warning.objects.restrict(user, "view").exclude(institution=None).order_by()
           .values("institution_id").distinct())
    return Institution.objects.restrict(user, "view").filter(pk__in=ids).order_by("name")


EVIDENCE_KINDS = {"session": _("Session"), "enrolment": _("Enrolment"), "trainee": _("Trainee"),
                  "teacher": _("Teacher"), "room": _("Room"), "institution": _("Institution"),
                  "class": _("Class"), "checkin": _("Check-in"), "device": _("Device"),
                  "ip": _("IP address"), "learning_session": _("Online learning session")}


def evidence_links(user, warning: Warning) -> list[dict]:
    """The warning's evidence as links to pages that exist and the user may see (one
    scoped query per kind of record)."""
    from django.urls import reverse

    from skillguard.registry.models import Institution, Session, Teacher, Trainee, TrainingClass

    pages = {"trainee": (Trainee, "registry:trainee_detail"),
             "teacher": (Teacher, "registry:teacher_detail"),
             "class": (TrainingClass, "registry:class_detail"),
             "institution": (Institution, "registry:institution_detail")}
    wanted: dict[str, set] = {}
    for item in warning.evidence or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            wanted.setdefault(str(item[0]), set()).add(item[1])
    found: dict[tuple, dict] = {}
    for kind, (model, url) in pages.items():
        ids = [i for i in wanted.get(kind, ()) if isinstance(i, int)]
        if ids:
            for obj in model.objects.restrict(user, "view").filter(pk__in=ids):
                found[(kind, obj.pk)] = {"label": str(obj), "url": reverse(url, args=[obj.pk])}
    session_ids = [i for i in wanted.get("session", ()) if isinstance(i, int)]
    if session_ids:
        for s in (Session.objects.restrict(user, "view").filter(pk__in=session_ids)
                  .select_related("training_class")):
            found[("session", s.pk)] = {
                "label": str(s), "url": reverse("registry:class_detail",
                                                args=[s.training_class_id])}
    out = []
    for item in warning.evidence or []:
        if not (isinstance(item, (list, tuple)) and len(item) == 2):
            continue
        kind, ref = item
        hit = found.get((kind, ref))
        out.append({"kind": kind, "kind_label": EVIDENCE_KINDS.get(kind, kind), "ref": ref,
                    "label": hit["label"] if hit else "",
                    "url": hit["url"] if hit else ""})
    return out


def case_panel(user, warning: Warning):
    """HOOK for the cases app: "the case of this warning". If ``skillguard.cases.hooks``
    defines ``warning_case_panel(user, warning)`` returning ``{"template": …, …}`` (or None),
    the warning page includes that template with the dict as ``panel``. Imported lazily:
    supervision never imports cases at module import time."""
    try:
        from skillguard.cases import hooks
    except ImportError:
        return None
    fn = getattr(hooks, "warning_case_panel", None)
    return fn(user, warning) if fn else None


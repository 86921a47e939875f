"""Scoped reads of cases and spot checks.

An institution admin sees a case only once it has been dispatched to its institution
(``Case.scope``'s institution path is ``dispatched_to``): a case never dispatched answers
404 exactly like a missing one.
"""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from skillguard.cases.models import (
    OPEN_STATES,
    Attachment,
    Case,
    CaseEvent,
    SpotCheck,
    SpotCheckItem,
)
from skillguard.core.scoping import access


def access_case(user, pk, action="view") -> Case:
    return access(Case, user, pk, action, queryset=Case.objects.select_related(
        "district", "institution", "rule", "assignee", "closed_by"))


def cases(user, *, q=None, state=None, district=None, institution=None, rule=None,
          severity=None, origin=None, overdue=None, escalated=None, date_from=None,
          date_to=None, assignee=None) -> QuerySet:
    qs = Case.objects.restrict(user).select_related("district", "institution", "rule",
                                                    "assignee")
    if q:
        q = q.strip()
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q)
                       | Q(institution__name__icontains=q))
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state:
        qs = qs.filter(state=state)
    if district:
        qs = qs.filter(district_id=district)
    if institution:
        qs = qs.filter(institution_id=institution)
    if rule:
        qs = qs.filter(rule_id=rule)
    if severity:
        qs = qs.filter(severity=severity)
    if origin:
        qs = qs.filter(origin=origin)
    if overdue in (True, "1", "true", "yes"):
        qs = qs.filter(Q(overdue=True) | Q(deadline__lt=timezone.now()), state__in=OPEN_STATES)
    if escalated in (True, "1", "true", "yes"):
        qs = qs.filter(escalated_at__isnull=False)
    if assignee:
        qs = qs.filter(assignee_id=assignee)
    if date_from:
        qs = qs.filter(opened_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(opened_at__date__lte=date_to)
    return qs


def counts(qs: QuerySet, *, by_district: bool) -> dict:
    """The counts panel of a (filtered, scoped) case list: by state, by district (city
    users), by severity, overdue and escalated — one aggregate query per breakdown."""
    now = timezone.now()
    overdue = Q(state__in=OPEN_STATES) & (Q(overdue=True) | Q(deadline__lt=now))
    totals = qs.order_by().aggregate(
        total=Count("id"), open=Count("id", filter=Q(state__in=OPEN_STATES)),
        overdue=Count("id", filter=overdue),
        escalated=Count("id", filter=Q(escalated_at__isnull=False, state__in=OPEN_STATES)))
    out = {**totals,
           "by_state": list(qs.order_by().values("state").annotate(n=Count("id"))
                            .order_by("state")),
           "by_severity": list(qs.order_by().values("severity").annotate(n=Count("id"))
                               .order_by("severity"))}
    out["by_period"] = list(
        qs.order_by().annotate(month=TruncMonth("opened_at")).values("month")
        .annotate(n=Count("id"), open=Count("id", filter=Q(state__in=OPEN_STATES)))
        .order_by("-month")[:12])
    out["by_rule"] = list(
        qs.order_by().filter(rule__isnull=False).values("rule__code")
        .annotate(n=Count("id"), open=Count("id", filter=Q(state__in=OPEN_STATES)))
        .order_by("-n", "rule__code")[:10])
    out["by_institution"] = list(
        qs.order_by().filter(institution__isnull=False)
        .values("institution_id", "institution__name")
        .annotate(n=Count("id"), open=Count("id", filter=Q(state__in=OPEN_STATES)))
        .order_by("-n", "institution__name")[:10])
    if by_district:
        out["by_district"] = list(
            qs.order_by().values("district_id", "district__name", "district__sort_order")
            .annotate(n=Count("id"), open=Count("id", filter=Q(state__in=OPEN_STATES)),
                      overdue=Count("id", filter=overdue))
            .order_by("district__sort_order"))
    return out


def history(case) -> QuerySet:
    return CaseEvent.objects.filter(case=case).select_related("actor").order_by("at", "id")


def attachments(case) -> QuerySet:
    return Attachment.objects.filter(case=case).select_related("uploaded_by")


def linked_warnings(case):
    from skillguard.supervision.models import Warning

    return (Warning.objects.filter(case_link__case=case)
            .select_related("rule", "institution", "district").order_by("id"))


def case_of_warning(user, warning_id):
    """The case a warning belongs to, if the user may see it (else None)."""
    return Case.objects.restrict(user).filter(links__warning_id=warning_id).first()


def access_attachment(user, pk) -> Attachment:
    """A file the user may download: through a case or a spot check the user sees."""
    visible = (Q(case__in=Case.objects.restrict(user).values("pk"))
               | Q(item__spot_check__in=SpotCheck.objects.restrict(user).values("pk")))
    return _attachment(user, pk, visible)


def _attachment(user, pk, visible) -> Attachment:
    from django.http import Http404
    from django.utils.translation import gettext_lazy as _

    try:
        return Attachment.objects.filter(visible).get(pk=int(pk))
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such record, or you may not see it."))


# --------------------------------------------------------------------------- spot checks


def access_spot_check(user, pk, action="view") -> SpotCheck:
    return access(SpotCheck, user, pk, action, queryset=SpotCheck.objects.select_related(
        "district", "institution", "occupation", "created_by"))


def spot_checks(user, *, kind=None, district=None, date_from=None, date_to=None) -> QuerySet:
    qs = SpotCheck.objects.restrict(user).select_related("district", "institution",
                                                         "created_by").annotate(
        item_count=Count("items"),
        checked=Count("items", filter=~Q(items__outcome="pending")),
        failed=Count("items", filter=Q(items__outcome="fail")))
    if kind:
        qs = qs.filter(kind=kind)
    if district:
        qs = qs.filter(district_id=district)
    if date_from:
        qs = qs.filter(created_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(created_at__date__lte=date_to)
    return qs


def items(check) -> QuerySet:
    return (SpotCheckItem.objects.filter(spot_check=check)
            .select_related("session__training_class", "institution", "inspector", "case")
            .prefetch_related("attachments").order_by("rank"))


def access_item(user, pk, action="view") -> SpotCheckItem:
    """A spot-check item through its spot check's scope (the same 404 otherwise)."""
    from django.http import Http404
    from django.utils.translation import gettext_lazy as _

    try:
        return (SpotCheckItem.objects.select_related("spot_check", "session", "institution")
                .filter(spot_check__in=SpotCheck.objects.restrict(user, action).values("pk"))
                .get(pk=int(pk)))
    except (SpotCheckItem.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such record, or you may not see it."))

"""Distribution pages (city administration): rules, webhook deliveries, data quality."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from skillguard.core.scoping import can
from skillguard.distribution import forms, queries, services
from skillguard.distribution.models import (
    DeliveryStatus,
    DistributionRule,
    QualitySource,
    Subscriber,
    WebhookDelivery,
)
from skillguard.distribution.quality import THRESHOLD
from skillguard.distribution.quality import freshness as quality_freshness
from skillguard.registry.tables import Column, Table
from skillguard.core.pages import form_page
from skillguard.core.pages import list_page as _list_page
from skillguard.core.pages import require as _require
from skillguard.core.pages import wants_fragment as _wants_fragment


class RuleTable(Table):
    row_template = "distribution/rows/rule.html"
    default_order = ("subscriber__name", "record_type", "pk")
    columns = {
        "subscriber": Column(_("Subscriber"), "subscriber__name"),
        "record_type": Column(_("Record type"), "record_type", "mono"),
        "basis": Column(_("Basis"), "basis"),
        "district": Column(_("District")),
        "active": Column(_("Status"), "active"),
        "version": Column(_("Version"), "version", "num"),
        "changed": Column(_("Last change"), "changed_at"),
        "actions": Column(""),
    }


class DeliveryTable(Table):
    row_template = "distribution/rows/delivery.html"
    default_order = ("-created_at", "-pk")
    columns = {
        "created": Column(_("Created"), "created_at"),
        "subscriber": Column(_("Subscriber"), "subscriber__name"),
        "entries": Column(_("Entries"), "entry_count", "num"),
        "status": Column(_("Status"), "status"),
        "attempts": Column(_("Attempts"), "attempts", "num"),
        "last": Column(_("Last HTTP status / error")),
        "next": Column(_("Next attempt"), "next_attempt_at"),
        "actions": Column(""),
    }


class SubscriberTable(Table):
    row_template = "distribution/rows/subscriber.html"
    default_order = ("name", "pk")
    columns = {
        "name": Column(_("Subscriber"), "name"),
        "district": Column(_("District"), "district__name"),
        "client": Column(_("Docking client")),
        "webhook": Column(_("Webhook URL")),
        "active": Column(_("Status"), "active"),
        "actions": Column(""),
    }


def _form_page(request, form, *, title, save, subtitle="", back="distribution:rule_list"):
    listing = reverse(back)
    return form_page(request, form, title=title, save=save, subtitle=subtitle,
                     success=lambda obj: listing, cancel_url=listing)


@login_required
def rule_list(request):
    user = request.user
    _require(user, "view", DistributionRule)
    actions = []
    if can(user, "add", DistributionRule):
        actions.append({"label": _("New rule"), "url": reverse("distribution:rule_create"),
                        "tone": "primary"})
    if can(user, "view", Subscriber):
        actions.append({"label": _("Subscribers"),
                        "url": reverse("distribution:subscriber_list"), "tone": "secondary"})
    if can(user, "view", WebhookDelivery):
        actions.append({"label": _("Webhook deliveries"),
                        "url": reverse("distribution:delivery_list"), "tone": "secondary"})
    services.ensure_district_subscribers()
    return _list_page(request, title=DistributionRule._meta.verbose_name_plural,
                      table=RuleTable(queries.rules(user), request), actions=actions,
                      intro=_("Which accepted records flow to which district system or "
                              "subscriber (汇集分发). Every change is versioned and audited."))


@login_required
def rule_create(request):
    user = request.user
    _require(user, "add", DistributionRule)
    form = forms.RuleForm(request.POST if request.method == "POST" else None)
    return _form_page(request, form, title=_("New distribution rule"),
                      save=lambda d: services.create_rule(user, **d))


@login_required
def rule_edit(request, pk):
    user = request.user
    rule = queries.access_rule(user, pk, "change")
    initial = {"subscriber": rule.subscriber, "record_type": rule.record_type,
               "basis": rule.basis, "district": rule.district, "active": rule.active}
    form = forms.RuleForm(request.POST if request.method == "POST" else None, initial=initial)
    return _form_page(request, form, title=_("Edit distribution rule"), subtitle=str(rule),
                      save=lambda d: services.update_rule(user, rule, **d))


@login_required
def rule_deactivate(request, pk):
    user = request.user
    rule = queries.access_rule(user, pk, "change")
    form = forms.ReasonForm(request.POST if request.method == "POST" else None)
    return _form_page(request, form, title=_("Deactivate distribution rule"),
                      subtitle=str(rule),
                      save=lambda d: services.deactivate_rule(user, rule, reason=d["reason"]))


@login_required
def subscriber_list(request):
    user = request.user
    _require(user, "view", Subscriber)
    services.ensure_district_subscribers()
    actions = []
    if can(user, "add", Subscriber):
        actions.append({"label": _("New subscriber"),
                        "url": reverse("distribution:subscriber_create"), "tone": "primary"})
    table = SubscriberTable(queries.subscribers(user), request)
    table.may_change = can(user, "change", Subscriber)
    return _list_page(request, title=Subscriber._meta.verbose_name_plural, table=table,
                      actions=actions,
                      intro=_("Who receives the records the distribution rules route: the "
                              "district systems (created with their docking clients) and named "
                              "subscribers. A webhook URL adds signed POSTs to the change "
                              "feed; its secret is shown once when issued."))


@login_required
def subscriber_create(request):
    user = request.user
    _require(user, "add", Subscriber)
    form = forms.SubscriberForm(request.POST if request.method == "POST" else None)
    return _form_page(request, form, title=_("New subscriber"),
                      save=lambda d: services.create_subscriber(user, **d),
                      back="distribution:subscriber_list")


@login_required
def subscriber_edit(request, pk):
    user = request.user
    sub = queries.access_subscriber(user, pk, "change")
    initial = {"name": sub.name, "district": sub.district, "webhook_url": sub.webhook_url,
               "active": sub.active}
    form = forms.SubscriberForm(request.POST if request.method == "POST" else None,
                                initial=initial)
    return _form_page(request, form, title=_("Edit subscriber"), subtitle=str(sub),
                      save=lambda d: services.update_subscriber(user, sub, **d),
                      back="distribution:subscriber_list")


@login_required
@require_POST
def subscriber_secret(request, pk):
    """Issue a new webhook secret and show it once (never stored or logged in clear)."""
    from skillguard.core.errors import BusinessRuleError

    user = request.user
    sub = queries.access_subscriber(user, pk, "change")
    try:
        secret = services.rotate_webhook_secret(user, sub)
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
        return redirect("distribution:subscriber_list")
    response = render(request, "distribution/subscriber_secret.html",
                      {"subscriber": sub, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def delivery_list(request):
    user = request.user
    _require(user, "view", WebhookDelivery)
    qs = queries.deliveries(user)
    status = request.GET.get("status")
    if status in DeliveryStatus.values:
        qs = qs.filter(status=status)
    return _list_page(request, title=WebhookDelivery._meta.verbose_name_plural,
                      table=DeliveryTable(qs, request),
                      intro=_("A delivery that keeps failing is kept here with its last "
                              "error; it is never dropped and can be sent again."))


@login_required
@require_POST
def delivery_redeliver(request, pk):
    user = request.user
    delivery = queries.access_delivery(user, pk, "change")
    services.redeliver(user, delivery)
    messages.success(request, gettext("Delivery queued again."))
    return redirect("distribution:delivery_list")


@login_required
def quality(request):
    user = request.user
    if not can(user, "view", QualitySource):
        raise PermissionDenied
    sources = queries.quality_sources(user)
    form = forms.QualityFilterForm(request.GET or None, sources)
    start, end = form.period()
    source = form.cleaned_data.get("source") if form.is_bound and form.is_valid() else None
    fresh = quality_freshness()
    rows = queries.quality_rows(user, start, end, source.pk if source else None, fresh)
    if form.is_bound and form.is_valid() and form.cleaned_data.get("below"):
        rows = [r for r in rows if r.below_threshold]
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    template = ("distribution/_quality_results.html" if _wants_fragment(request, "results")
                else "distribution/quality.html")
    response = render(request, template, {
        "title": _("Data quality"), "filter_form": form, "page": page, "start": start,
        "end": end, "threshold": THRESHOLD * 100, "fresh": fresh})
    patch_vary_headers(response, ["HX-Request"])
    return response

"""The audit trail page: read-only, scoped through ``AuditEvent.objects.restrict``."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _

from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.scoping import can

PER_PAGE = 50


class CheapPage:
    """A page without COUNT(*): the trail holds years of events, counting them all on each
    page view would be the slowest part of the page. Fetches one row more to know if
    there is a next page."""

    def __init__(self, queryset, number):
        try:
            self.number = max(1, int(number or 1))
        except (TypeError, ValueError):
            self.number = 1
        start = (self.number - 1) * PER_PAGE
        rows = list(queryset[start:start + PER_PAGE + 1])
        self.has_next = len(rows) > PER_PAGE
        self.object_list = rows[:PER_PAGE]
        self.has_previous = self.number > 1
        self.start_index = start + 1 if self.object_list else 0
        self.end_index = start + len(self.object_list)

    def next_page_number(self):
        return self.number + 1

    def previous_page_number(self):
        return self.number - 1


def _record_types():
    """Models that appear in the trail, by verbose name (plus sign-ins)."""
    choices = [("", _("All"))]
    for app_label in ("registry", "accounts", "audit"):
        try:
            config = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in config.get_models():
            choices.append((model._meta.label_lower, model._meta.verbose_name))
    return choices


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilter(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("User name")}))
    action = forms.ChoiceField(label=_("Action"), required=False,
                               choices=[("", _("All"))] + AuditAction.choices)
    object_type = forms.ChoiceField(label=_("Record type"), required=False, choices=())
    object_id = forms.CharField(label=_("Record id"), required=False, max_length=64,
                                widget=forms.TextInput(attrs={"size": 8}))
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = _record_types()

    def apply(self, qs):
        self.is_valid()
        data = self.cleaned_data
        if data.get("actor"):
            qs = qs.filter(actor_name__iexact=data["actor"].strip())
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("object_type"):
            qs = qs.filter(object_type=data["object_type"])
        if data.get("object_id"):
            qs = qs.filter(object_id=data["object_id"].strip())
        # Whole local days: the index on ``at`` is used (no date() cast on the column).
        tz = timezone.get_current_timezone()
        if data.get("date_from"):
            qs = qs.filter(at__gte=dt.datetime.combine(data["date_from"], dt.time.min, tz))
        if data.get("date_to"):
            qs = qs.filter(at__lt=dt.datetime.combine(
                data["date_to"] + dt.timedelta(days=1), dt.time.min, tz))
        return qs


@login_required
def event_list(request):
    if not can(request.user, "view", AuditEvent):
        raise PermissionDenied
    form = AuditFilter(request.GET)
    qs = form.apply(AuditEvent.objects.restrict(request.user))
    page = CheapPage(qs, request.GET.get("page"))
    fragment = (request.headers.get("HX-Request") == "true"
                and not request.headers.get("HX-History-Restore-Request")
                and request.headers.get("HX-Target") == "results")
    response = render(request, "audit/_results.html" if fragment else "audit/event_list.html",
                      {"filter_form": form, "page": page})
    patch_vary_headers(response, ["HX-Request"])
    return response

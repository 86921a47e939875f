"""Quarantine pages (隔离区): list, record with its problems, correct and resubmit.

Reads through ``ingest.queries`` (scoped: institution admins see their institution's,
district supervisors their district's, city roles everything); writes through
``ingest.services``."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from skillguard.accounts.roles import Role
from skillguard.audit.services import record_personal_read
from skillguard.core.errors import BusinessRuleError
from skillguard.core.scoping import can
from skillguard.ingest import forms, queries, sealing, services
from skillguard.ingest.models import QuarantinedRecord, QuarantineStatus


def _require(user, action: str) -> None:
    if not can(user, action, QuarantinedRecord):
        raise PermissionDenied


def _may_correct(user, record) -> bool:
    """Correcting is the sending institution's job: its administrators (or a city admin)."""
    return (record.status == QuarantineStatus.OPEN and can(user, "change", QuarantinedRecord)
            and (user.is_superuser or user.role == Role.CITY_ADMIN
                 or (user.role == Role.INSTITUTION_ADMIN
                     and user.institution_id == record.institution_id)))


def _localised(problems) -> list[dict]:
    key = "message_zh" if translation.get_language().startswith("zh") else "message_en"
    return [{**p, "message": p.get(key) or p.get("message_en", "")} for p in problems or []]


@login_required
def quarantine_list(request):
    _require(request.user, "view")
    filters = forms.QuarantineFilter(request.GET or None,
                                     sources=queries.sources_for(request.user))
    data = filters.cleaned_data if filters.is_valid() else {}
    qs = queries.quarantine_for(request.user, record_type=data.get("record_type", ""),
                                status=data.get("status", ""), source=data.get("source", ""))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "ingest/quarantine_list.html", {
        "title": _("quarantine"), "filter_form": filters, "page": page})


@never_cache
@login_required
def quarantine_detail(request, pk: int):
    """The record as received, personal data masked; "show in full" (POST ``reveal``) is
    for roles that may reveal and is recorded in the audit trail. Correcting a masked
    record leaves the personal values it does not change as they were sent."""
    record = queries.quarantined(request.user, pk)
    may_correct = _may_correct(request.user, record)
    may_reveal = can(request.user, "reveal", QuarantinedRecord)
    revealing = request.method == "POST" and "reveal" in request.POST
    shown = record.payload
    if revealing:
        if not may_reveal:
            raise PermissionDenied
        shown = sealing.full_payload(record)
        record_personal_read(request.user, record, ["payload"],
                             purpose="quarantined record shown in full")
    form = forms.CorrectionForm(record.record_type, shown,
                                request.POST if request.method == "POST" and not revealing
                                else None)
    result_problems = []
    if request.method == "POST" and not revealing:
        if not may_correct:
            raise PermissionDenied
        if form.is_valid():
            try:
                result = services.resubmit_quarantined(request.user, record, form.payload())
            except BusinessRuleError as exc:
                result_problems = exc.as_list()
            else:
                if result.status != "rejected":
                    messages.success(request, _("The corrected record was accepted."))
                    return redirect("ingest:quarantine_detail", pk=record.pk)
                result_problems = result.problems
    return render(request, "ingest/quarantine_detail.html", {
        "title": _("quarantined record"), "record": record,
        "problems": _localised(record.problems), "result_problems": _localised(result_problems),
        "form": form, "may_correct": may_correct, "payload": shown, "revealed": revealing,
        "may_reveal": may_reveal and not revealing})


@login_required
@require_POST
def quarantine_withdraw(request, pk: int):
    record = queries.quarantined(request.user, pk)
    if not _may_correct(request.user, record):
        raise PermissionDenied
    try:
        services.withdraw_quarantined(request.user, record)
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
    return redirect("ingest:quarantine_detail", pk=record.pk)

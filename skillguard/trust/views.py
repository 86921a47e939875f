"""Docking clients and their keys, for the city (register, suspend, revoke) and for
supervisors (read). Thin: queries read, services write."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from skillguard.core.errors import BusinessRuleError
from skillguard.core.scoping import can
from skillguard.ingest import clients as client_services
from skillguard.ingest.models import ClientKind, ClientStatus, DockingClient
from skillguard.registry.forms import ProblemsMixin
from skillguard.registry.models import District, Institution
from skillguard.trust import queries, services


class ClientForm(ProblemsMixin, forms.Form):
    name = forms.CharField(label=_("name"), max_length=128)
    kind = forms.ChoiceField(label=_("type"), choices=ClientKind.choices)
    district = forms.ModelChoiceField(label=_("district"), required=False,
                                      queryset=District.objects.none(),
                                      help_text=_("For a district system"))
    institution = forms.ModelChoiceField(label=_("institution"), required=False,
                                         queryset=Institution.objects.none(),
                                         help_text=_("For an institution or online provider"))
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(
        attrs={"rows": 2}))

    def __init__(self, data=None, *, user):
        super().__init__(data)
        self.fields["district"].queryset = District.objects.restrict(user).order_by("code")
        self.fields["institution"].queryset = Institution.objects.restrict(user).order_by(
            "name")


def _require(user, action, model):
    if not can(user, action, model):
        raise PermissionDenied


@login_required
def client_list(request):
    user = request.user
    _require(user, "view", DockingClient)
    return render(request, "trust/client_list.html", {
        "clients": queries.clients(user), "may_add": can(user, "add", DockingClient)})


@login_required
def client_create(request):
    user = request.user
    _require(user, "add", DockingClient)
    form = ClientForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                client, code = client_services.register_client(user, **form.cleaned_data)
        except BusinessRuleError as err:
            form.add_problems(err)
        else:
            return _show_code(request, client, code)
    return render(request, "registry/form.html", {
        "form": form, "title": _("Register a docking client"),
        "cancel_url": reverse("trust:client_list")},
        status=400 if form.is_bound and form.errors else 200)


def _show_code(request, client, code):
    # Shown once, never stored in plain text: not cached anywhere.
    response = render(request, "trust/enrolment_code.html", {"client": client, "code": code})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def client_detail(request, pk):
    user = request.user
    client = queries.access_client(user, pk)
    return render(request, "trust/client_detail.html", {
        "client": client, "keys": queries.keys_of(user, client),
        "may_change": can(user, "change", DockingClient),
        "statuses": ClientStatus})


@login_required
@require_POST
def client_status(request, pk):
    user = request.user
    client = queries.access_client(user, pk, "change")
    status = request.POST.get("status", "")
    try:
        client_services.set_client_status(user, client, status,
                                          request.POST.get("comment", "")[:500])
    except BusinessRuleError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, gettext("Saved: %(record)s") % {"record": client})
    return redirect("trust:client_detail", pk=client.pk)


@login_required
@require_POST
def client_enrolment_code(request, pk):
    user = request.user
    client = queries.access_client(user, pk, "change")
    _record, code = services.issue_enrolment_code(user, client)
    return _show_code(request, client, code)


@login_required
@require_POST
def key_revoke(request, pk):
    user = request.user
    key = queries.access_key(user, pk, "change")
    services.revoke_key(user, key, comment=request.POST.get("comment", "")[:500])
    messages.success(request, gettext("Key %(key)s revoked.") % {"key": key.key_id})
    return redirect("trust:client_detail", pk=key.client_id)

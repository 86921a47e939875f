"""Shared page helpers of the server-rendered UI: list pages (filters, HTMX table refresh,
CSV export) and form pages (service refusals shown next to the fields they name)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import BusinessRuleError
from skillguard.core.exports import csv_export
from skillguard.core.scoping import can


def require(user, action: str, model) -> None:
    """The role may not do this at all: 403 (object scope is checked by ``access_*``)."""
    if not can(user, action, model):
        raise PermissionDenied


def wants_fragment(request, target: str) -> bool:
    return (request.headers.get("HX-Request") == "true"
            and not request.headers.get("HX-History-Restore-Request")
            and request.headers.get("HX-Target") == target)


def action(label, url, tone="secondary"):
    return {"label": label, "url": url, "tone": tone}


def list_page(request, *, title, table, filter_form=None, actions=(), intro="",
              results_template="registry/_results.html", context=None):
    """A filtered, sorted, paged list with its CSV export (scoped, audited). The part that
    htmx refreshes is ``results_template`` (the table, or e.g. counts above the table, which
    then reads ``context``)."""
    model = table.queryset.model
    may_export = bool(table.export_fields) and can(request.user, "export", model)
    if request.GET.get("export") == "csv":
        if not may_export:
            raise PermissionDenied
        return csv_export(request.user, table.queryset, table.export_fields,
                          model._meta.model_name, filters=request.GET.urlencode())
    if may_export:
        query = request.GET.copy()
        query.pop("page", None)
        query["export"] = "csv"
        actions = [*actions, action(_("Export CSV"), "?" + query.urlencode())]
    page = {**(context or {}), "title": title, "table": table, "filter_form": filter_form,
            "actions": [a for a in actions if a and a["url"]], "intro": intro,
            "results_template": results_template}
    template = results_template if wants_fragment(request, "results") else "registry/list.html"
    response = render(request, template, page)
    patch_vary_headers(response, ["HX-Request"])  # fragment and page must not share a cache
    return response


def form_page(request, form, *, title, save, success, cancel_url, subtitle="",
               context=None):
    """GET: show the form. POST: parse, call ``save(cleaned_data)``; a refusal from the
    service lands next to the fields it names and nothing is written."""
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                obj = save(form.cleaned_data)
        except BusinessRuleError as err:
            form.add_problems(err)
        else:
            messages.success(request, gettext("Saved: %(record)s") % {"record": obj})
            return redirect(success(obj))
    return render(request, "registry/form.html", {
        "form": form, "title": title, "subtitle": subtitle, "cancel_url": cancel_url,
        **(context or {})}, status=400 if form.is_bound and form.errors else 200)

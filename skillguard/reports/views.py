"""Pages of statistics, exports, monthly reports and usage analytics (thin: statistics and
queries read, services write)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from skillguard.core.errors import BusinessRuleError
from skillguard.core.pages import require
from skillguard.reports import exports, forms, queries, services, statistics
from skillguard.reports.models import ExportFormat, ExportJob, ReportArchive, TableKind

FILTER_KEYS = ("district", "occupation", "month_from", "month_to")


def _filters_from(user, data):
    return statistics.parse_filters(user, **{k: data.get(k) for k in FILTER_KEYS})


def _statistics_page(request, data, *, export_problems=None, status=200):
    user = request.user
    kind = data.get("table") or TableKind.TRAINING
    if kind not in TableKind.values:
        kind = TableKind.TRAINING
    form = forms.StatisticsFilter(data or None, user=user)
    problems, table, filters = [], None, None
    try:
        filters = _filters_from(user, data)
    except BusinessRuleError as err:
        problems = [p.text() for p in err.problems]
        status = 400 if status == 200 else status
    if filters is not None:
        table = statistics.table(kind, filters)
    context = {
        "title": _("Statistics"), "form": form, "kind": kind, "kinds": TableKind.choices,
        "table": table, "filters": filters, "problems": problems,
        "export_problems": export_problems or [],
        "may_export": services.may_export(user, kind), "formats": ExportFormat.choices,
        "query": {k: data.get(k, "") for k in FILTER_KEYS},
        "rows": [[(c, statistics.cell_text(c, v)) for c, v in r] for r in table.cells()]
        if table else [],
        "totals": [statistics.cell_text(c, table.totals.get(c.key)) for c in table.columns]
        if table and table.totals else None,
        "jobs": queries.export_jobs(user)[:5],
        "inline_rows": exports.inline_rows(), "max_rows": exports.max_rows(),
    }
    fragment = (request.headers.get("HX-Request") == "true"
                and request.headers.get("HX-Target") == "results")
    if request.headers.get("HX-Request") == "true":
        status = 200  # htmx swaps only 2xx answers: the problems must reach the page
    template = "reports/_statistics_results.html" if fragment else "reports/statistics.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_safe
def statistics_page(request):
    require(request.user, "view", ExportJob)
    return _statistics_page(request, request.GET)


@login_required
@require_POST
def export_request(request):
    """Export the table the page shows: streamed now when small, else queued (ExportJob)."""
    user = request.user
    require(user, "view", ExportJob)
    form = forms.ExportRequestForm(request.POST)
    if not form.is_valid():
        return _statistics_page(request, request.POST, status=400, export_problems=[
            gettext("Choose a table and a format (CSV or XLSX).")])
    data = form.cleaned_data
    if not services.may_export(user, data["table"]):
        raise PermissionDenied
    try:
        filters = _filters_from(user, data)
        how, result = services.export_table(user, data["table"], filters, data["format"])
    except BusinessRuleError as err:
        return _statistics_page(request, request.POST, status=400,
                                export_problems=[p.text() for p in err.problems])
    if how == "inline":
        name = f"skillguard-{data['table']}"
        if data["format"] == "xlsx":
            return exports.xlsx_response(result, name)
        return exports.csv_response(result, name)
    messages.info(request, gettext("The export is large: it is being written in the "
                                   "background. This page shows its progress."))
    return redirect("reports:export_detail", pk=result.pk)


@login_required
@require_safe
def export_detail(request, pk):
    job = queries.access_export_job(request.user, pk)
    return render(request, "reports/export_detail.html", {"job": job})


@login_required
@require_safe
def export_progress(request, pk):
    """Polled by htmx every 2 s while the job runs; reloads the page once it is done."""
    job = queries.access_export_job(request.user, pk)
    response = render(request, "reports/_export_progress.html", {"job": job})
    if job.is_finished and request.headers.get("HX-Request") == "true":
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_safe
def export_download(request, pk):
    job = queries.access_export_job(request.user, pk)
    try:
        handle = services.download_export(request.user, job)
    except BusinessRuleError:
        raise Http404(_("The export is not ready yet."))
    except (FileNotFoundError, OSError):
        raise Http404(_("No such record, or you may not see it."))
    content_type = exports.XLSX_TYPE if job.format == "xlsx" else exports.CSV_TYPE
    response = FileResponse(handle, as_attachment=True, filename=job.file_name,
                            content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- reports


@login_required
@require_http_methods(["GET", "POST"])
def report_list(request):
    user = request.user
    require(user, "view", ReportArchive)
    may_generate = services.may_generate_reports(user)
    form = None
    status = 200
    if request.method == "POST":
        if not may_generate:
            raise PermissionDenied
        form = forms.ReportRequestForm(request.POST, user=user)
        if form.is_valid():
            d = form.cleaned_data
            try:
                archive = services.request_report(user, kind=d["kind"], month=d["month"],
                                                  district=d["district"])
            except BusinessRuleError as err:
                for p in err.problems:
                    form.add_error(p.field if p.field in form.fields else None, p.message)
            else:
                messages.success(request, gettext("The report is being generated."))
                return redirect("reports:report_detail", pk=archive.pk)
        status = 400
    elif may_generate:
        form = forms.ReportRequestForm(user=user)
    month_from = month_to = None
    try:
        month_from = statistics.parse_month(request.GET.get("month_from"))
        month_to = statistics.parse_month(request.GET.get("month_to"))
    except ValueError:
        pass
    qs = queries.reports(user, kind=request.GET.get("kind") or None,
                         month_from=month_from, month_to=month_to)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "reports/report_list.html",
                  {"page": page, "form": form, "may_generate": may_generate},
                  status=status)


@login_required
@require_safe
def report_detail(request, pk):
    archive = queries.access_report(request.user, pk)
    from skillguard.cockpit.figures import KEY_FIGURES

    figures = (archive.figures or {}).get("key_figures", {})
    order = {code: n for n, code in enumerate(KEY_FIGURES)}  # JSON keeps no order
    shown = sorted(figures.values(), key=lambda f: (order.get(f.get("code"), 99),
                                                    f.get("code", "")))
    return render(request, "reports/report_detail.html", {"archive": archive, "figures": shown})


@login_required
@require_safe
def report_progress(request, pk):
    archive = queries.access_report(request.user, pk)
    response = render(request, "reports/_report_progress.html", {"archive": archive})
    if archive.is_finished and request.headers.get("HX-Request") == "true":
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_safe
def report_download(request, pk):
    archive = queries.access_report(request.user, pk)
    require(request.user, "export", ReportArchive)
    try:
        handle = services.download_report(request.user, archive)
    except BusinessRuleError:
        raise Http404(_("The report is not ready yet."))
    except (FileNotFoundError, OSError):
        raise Http404(_("No such record, or you may not see it."))
    response = FileResponse(handle, as_attachment=True, filename=archive.file_name,
                            content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- usage


@login_required
@require_safe
def usage_page(request):
    from skillguard.reports import usage

    user = request.user
    if not usage.may_view(user):
        raise PermissionDenied
    try:
        period = usage.parse_period(request.GET.get("date_from"), request.GET.get("date_to"))
        problems = []
    except BusinessRuleError as err:
        period, problems = usage.parse_period(None, None), [p.text() for p in err.problems]
    data = usage.summary(*period, grain=request.GET.get("grain") or "day")
    return render(request, "reports/usage.html", {
        "data": data, "date_from": period[0], "date_to": period[1], "problems": problems,
        "grain": data["grain"], "grains": usage.GRAINS,
    }, status=400 if problems else 200)

"""HTTP API of statistics and reports (thin router over statistics, queries and services).

Statistics tables answer JSON under the same filters and scope as the page (a district
outside the caller's scope: 404; a reversed or longer than 36-month range: 422). Exports of
the tables are always written by the worker: create a job, poll it, download the file
(audited). Monthly reports: list, generate (queued), get, download (audited).
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router
from ninja.pagination import paginate

from skillguard.api_support import ERROR_RESPONSES, Pagination
from skillguard.core.errors import BusinessRuleError
from skillguard.core.pages import require
from skillguard.reports import exports, queries, services, statistics
from skillguard.reports.models import ExportJob, ReportArchive, ReportKind, TableKind
from skillguard.reports.schemas import (
    ExportIn,
    ExportJobOut,
    ReportIn,
    ReportOut,
    StatFiltersIn,
    TableOut,
)

router = Router()
R = {**ERROR_RESPONSES}
# Exporting only reads: the read-only auditor may create an export job (marked in the schema).
READ_ONLY_POST = {"x-skillguard-read-only": True}


def _op(op_id, summary, description, tag="statistics", **extra):
    return {"operation_id": op_id, "summary": summary, "description": description,
            "tags": [tag], **extra}


def _json(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def _table_out(kind: str, filters: statistics.StatFilters) -> dict:
    table = statistics.table(kind, filters)
    return {"table": kind, "title": str(table.title),
            "month_from": f"{filters.month_from:%Y-%m}", "month_to": f"{filters.month_to:%Y-%m}",
            "district": filters.district_id, "occupation": filters.occupation_id,
            "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind}
                        for c in table.columns],
            "rows": [{k: _json(v) for k, v in row.items()} for row in table.rows],
            "totals": {k: _json(v) for k, v in table.totals.items()} if table.totals else None,
            "freshness": table.freshness}


def _stat(request, kind, filters: StatFiltersIn):
    user = request.auth
    require(user, "view", ExportJob)
    parsed = statistics.parse_filters(user, **filters.dict())
    return _table_out(kind, parsed)


@router.get("/statistics/training", response={200: TableOut, **R},
            **_op("getTrainingStatistics", "Training by district, occupation and month",
                  "培训统计表：区 × 职业 × 月（班级、报名、学员、课次、有效学时、出勤率、结业）。"
                  "Classes, enrolments, trainees, sessions, valid class hours, attendance rate "
                  "and completions by district, occupation and month."))
def training_statistics(request, filters: Query[StatFiltersIn]):
    return _stat(request, TableKind.TRAINING, filters)


@router.get("/statistics/subsidy", response={200: TableOut, **R},
            **_op("getSubsidyStatistics", "Training and subsidy summary by district",
                  "培训与补贴汇总表（按区）：符合 / 不符合 / 待定，补贴金额。Training and subsidy "
                  "verdicts (eligible, not eligible, pending; amounts) by district."))
def subsidy_statistics(request, filters: Query[StatFiltersIn]):
    return _stat(request, TableKind.SUBSIDY, filters)


@router.get("/statistics/handling", response={200: TableOut, **R},
            **_op("getHandlingStatistics", "Warning and case handling by district and rule",
                  "预警与案件处置汇总表（按区、规则）：新增、未结、已结、按时处置率、逾期、升级。"
                  "Warnings raised and open, cases opened, open, closed, on-time rate (closed "
                  "before the deadline ÷ closed), overdue and escalated."))
def handling_statistics(request, filters: Query[StatFiltersIn]):
    return _stat(request, TableKind.HANDLING, filters)


# --------------------------------------------------------------------------- exports


@router.post("/exports", response={201: ExportJobOut, **R},
             openapi_extra=READ_ONLY_POST,
             **_op("createExportJob", "Export a statistics table",
                   "导出统计表（CSV / XLSX，后台生成）。Queues the export of a table under the "
                   "given filters; poll the job, then download the file. Refused (422) beyond "
                   "the row limit. Audited as an export.", tag="exports"))
def create_export_job(request, payload: ExportIn):
    user = request.auth
    if not services.may_export(user, payload.table):
        raise PermissionDenied
    data = payload.dict()
    filters = statistics.parse_filters(user, **{k: data.get(k) for k in (
        "district", "occupation", "month_from", "month_to")})
    count = len(statistics.table(payload.table, filters).rows)
    if count > exports.max_rows():
        services.export_table(user, payload.table, filters, payload.format)  # raises 422
    return 201, services.queue_export(user, payload.table, filters, payload.format, count)


@router.get("/exports", response={200: list[ExportJobOut], **R},
            **_op("listExportJobs", "List my export jobs", "我的导出任务。The caller's export "
                  "jobs, newest first.", tag="exports"))
@paginate(Pagination)
def list_export_jobs(request):
    require(request.auth, "view", ExportJob)
    return queries.export_jobs(request.auth)


@router.get("/exports/{int:id}", response={200: ExportJobOut, **R},
            **_op("getExportJob", "Get an export job", "导出任务状态与进度。State, progress "
                  "(rows written of rows) and the download URL once ready.", tag="exports"))
def get_export_job(request, id: int):
    return queries.access_export_job(request.auth, id)


@router.get("/exports/{int:id}/download", response={200: None, **R},
            url_name="downloadExportJob",
            **_op("downloadExportJob", "Download an export", "下载导出文件（记录审计）。The "
                  "file of a finished export job; every download is audited.", tag="exports"))
def download_export_job(request, id: int):
    user = request.auth
    job = queries.access_export_job(user, id)
    try:
        handle = services.download_export(user, job)
    except (BusinessRuleError, FileNotFoundError, OSError):
        raise Http404
    content_type = exports.XLSX_TYPE if job.format == "xlsx" else exports.CSV_TYPE
    return FileResponse(handle, as_attachment=True, filename=job.file_name,
                        content_type=content_type)


# --------------------------------------------------------------------------- reports


@router.get("/reports", response={200: list[ReportOut], **R},
            **_op("listReports", "List monthly reports", "监管月报归档列表（按权限范围）。"
                  "Archived monthly reports of the city and the districts the caller sees.",
                  tag="reports"))
@paginate(Pagination)
def list_reports(request, kind: str | None = None, month_from: str | None = None,
                 month_to: str | None = None):
    user = request.auth
    require(user, "view", ReportArchive)
    try:
        m_from, m_to = statistics.parse_month(month_from), statistics.parse_month(month_to)
    except ValueError:
        m_from = m_to = None
    return queries.reports(user, kind=kind, month_from=m_from, month_to=m_to)


@router.post("/reports", response={201: ReportOut, **R},
             **_op("generateReport", "Generate a monthly report", "生成监管月报（后台）。Queues "
                   "the PDF report of a month for the city or a district.", tag="reports"))
def generate_report(request, payload: ReportIn):
    from skillguard.registry.models import District

    user = request.auth
    if not services.may_generate_reports(user):
        raise PermissionDenied
    district = None
    if payload.kind == ReportKind.DISTRICT:
        allowed = statistics.allowed_districts(user)
        if payload.district is not None:
            if allowed is not None and payload.district not in allowed:
                raise Http404
            district = District.objects.filter(pk=payload.district).first()
            if district is None:
                raise Http404
    elif statistics.allowed_districts(user) is not None:
        raise PermissionDenied  # a district supervisor does not report on the city
    try:
        month = statistics.parse_month(payload.month)
    except ValueError:
        month = None
    if month is None:
        services.refuse(ReportArchive, "month", "invalid", _("is not a month (YYYY-MM)"),
                        _("Month"))
    return 201, services.request_report(user, kind=payload.kind, month=month,
                                        district=district)


@router.get("/reports/{int:id}", response={200: ReportOut, **R},
            **_op("getReport", "Get a monthly report", "监管月报详情（状态、SHA-256、图表数据）。"
                  "State, SHA-256, size and the figures the report shows.", tag="reports"))
def get_report(request, id: int):
    return queries.access_report(request.auth, id)


@router.get("/reports/{int:id}/download", response={200: None, **R},
            url_name="downloadReport",
            **_op("downloadReport", "Download a monthly report", "下载监管月报 PDF（记录审计）。"
                  "The PDF; every download is audited.", tag="reports"))
def download_report(request, id: int):
    user = request.auth
    archive = queries.access_report(user, id)
    require(user, "export", ReportArchive)
    try:
        handle = services.download_report(user, archive)
    except (BusinessRuleError, FileNotFoundError, OSError):
        raise Http404
    return FileResponse(handle, as_attachment=True, filename=archive.file_name,
                        content_type="application/pdf")

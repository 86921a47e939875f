"""Writes of statistics and reports: export requests and jobs, report requests, downloads —
validated, audited, and queued (Procrastinate) in the same transaction.

Exporting is reading: a request for an export (inline or as an ``ExportJob``) is audited as
an export (``record_export``), never as a change, so the read-only auditor may export and the
audit trail shows every export and every download. Generating a report writes an archive
entry (``record_created``) and needs the ``add`` right on ``ReportArchive``.
"""
from __future__ import annotations

import datetime as dt
import os

from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.audit import services as audit
from skillguard.core.errors import Problem, Problems, lazy_format
from skillguard.core.scoping import can
from skillguard.reports import exports, statistics
from skillguard.reports.models import (
    ExportFormat,
    ExportJob,
    JobState,
    ReportArchive,
    ReportKind,
)


def refuse(model, field: str, code: str, message, label="") -> None:
    problems = Problems(model)
    problems.items.append(Problem(field=field, code=code, message=message, label=label))
    problems.raise_if_any()


def may_export(user, kind: str) -> bool:
    return (can(user, "view", ExportJob) and kind in statistics.TABLES
            and can(user, "export", statistics.base_model(kind)))


def may_generate_reports(user) -> bool:
    return can(user, "add", ReportArchive)


# --------------------------------------------------------------------------- exports


def export_table(user, kind: str, filters: statistics.StatFilters, fmt: str):
    """Export a statistics table. Returns ``("inline", table)`` when it is small enough to
    stream now, ``("job", job)`` when the worker writes it; refuses a table beyond the hard
    limit. Audited either way."""
    from django.core.exceptions import PermissionDenied

    if not may_export(user, kind):
        raise PermissionDenied
    if fmt not in ExportFormat.values:
        refuse(ExportJob, "format", "invalid", _("choose CSV or XLSX"))
    table = statistics.table(kind, filters)
    count = len(table.rows)
    if count > exports.max_rows():
        refuse(ExportJob, "", "too_large", lazy_format(_(
            "The export would have %(count)s rows, more than the limit of %(max)s rows. "
            "Narrow the filters (fewer months, one district or one occupation) and export "
            "again."), count=count, max=exports.max_rows()))
    label = f"reports.{kind}"
    if count <= exports.inline_rows():
        audit.record_export(user, label, count,
                            comment=f"{fmt}; filters: {filters.describe()}"[:500])
        return "inline", table
    return "job", queue_export(user, kind, filters, fmt, count)


def queue_export(user, kind: str, filters: statistics.StatFilters, fmt: str,
                 rows_total: int = 0) -> ExportJob:
    from skillguard.reports.tasks import run_export_job

    district_id = filters.district_id
    if district_id is None and filters.districts is not None and len(filters.districts) == 1:
        district_id = filters.districts[0]
    with transaction.atomic():
        job = ExportJob.objects.create(
            table=kind, format=fmt, district_id=district_id,
            filters={**filters.as_json(), "districts": filters.districts},
            rows_total=rows_total, requested_by=user if user and user.pk else None)
        audit.record_export(user, f"reports.{kind}", rows_total,
                            comment=f"{fmt}; queued as export job #{job.pk}; "
                                    f"filters: {filters.describe()}"[:500])
        run_export_job.configure(queueing_lock=f"export-job-{job.pk}").defer(job_id=job.pk)
    return job


def _filters_of(job: ExportJob) -> statistics.StatFilters:
    f = job.filters
    return statistics.StatFilters(
        month_from=statistics.parse_month(f["month_from"]),
        month_to=statistics.parse_month(f["month_to"]),
        districts=f.get("districts"), district_id=f.get("district"),
        occupation_id=f.get("occupation"))


def run_export(job_id: int) -> ExportJob | None:
    """Write the file of an export job (the worker). Idempotent: a finished job is left
    alone; progress is saved every few hundred rows so the page can show it."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None or job.state in (JobState.DONE, JobState.FAILED):
            return job
        job.state, job.started_at, job.rows_done = JobState.RUNNING, timezone.now(), 0
        job.save(update_fields=["state", "started_at", "rows_done"])
    path = None
    try:
        table = statistics.table(job.table, _filters_of(job))
        job.rows_total = len(table.rows)
        job.save(update_fields=["rows_total"])

        def progress(n):
            ExportJob.objects.filter(pk=job.pk).update(rows_done=n)

        path = exports.table_file(table, job.format, progress)
        with open(path, "rb") as handle:
            job.file.save(job.file_name, File(handle), save=False)
        job.size = os.path.getsize(path)
        job.rows_done = job.rows_total
        job.state, job.finished_at = JobState.DONE, timezone.now()
        job.save(update_fields=["file", "size", "rows_done", "state", "finished_at"])
    except Exception as exc:  # recorded on the job; the page shows it
        job.state, job.finished_at = JobState.FAILED, timezone.now()
        job.error = f"{type(exc).__name__}: {exc}"[:2000]
        job.save(update_fields=["state", "finished_at", "error"])
        raise
    finally:
        if path and os.path.exists(path):
            os.unlink(path)
    return job


def download_export(user, job: ExportJob):
    """The finished file of an export job, opened for reading; the download is audited."""
    if job.state != JobState.DONE or not job.file:
        refuse(ExportJob, "", "not_ready", _("The export is not ready yet."))
    handle = job.file.open("rb")
    audit.record_export(user, f"reports.{job.table}", job.rows_total,
                        comment=f"download of export job #{job.pk} ({job.format})")
    return handle


# --------------------------------------------------------------------------- reports


def request_report(user, *, kind: str, month: dt.date, district=None) -> ReportArchive:
    """Queue the generation of a monthly report (city, or one district)."""
    from django.core.exceptions import PermissionDenied

    from skillguard.reports.tasks import generate_report_task

    if user is not None and not may_generate_reports(user):
        raise PermissionDenied
    month = statistics.month_start(month)
    if kind == ReportKind.CITY:
        district = None
    elif district is None:
        refuse(ReportArchive, "district", "required", _("is required for a district report"),
                _("District"))
    if month > statistics.month_start(timezone.localdate()):
        refuse(ReportArchive, "month", "future", _("is in the future: choose a past month"),
                _("Month"))
    with transaction.atomic():
        archive = ReportArchive.objects.create(kind=kind, district=district, month=month,
                                               generated_by=user if user and user.pk else None)
        audit.record_created(user, archive)
        generate_report_task.configure(queueing_lock=f"report-{archive.pk}").defer(
            archive_id=archive.pk)
    return archive


def download_report(user, archive: ReportArchive):
    if archive.state != JobState.DONE or not archive.file:
        refuse(ReportArchive, "", "not_ready", _("The report is not ready yet."))
    handle = archive.file.open("rb")
    audit.record_export(user, "reports.reportarchive", 1,
                        comment=f"download of report #{archive.pk} ({archive}); "
                                f"sha256 {archive.sha256}")
    return handle

"""Scoped reads of export jobs and archived reports (the same 404 for missing and forbidden)."""
from __future__ import annotations

from django.db.models import QuerySet

from skillguard.core.scoping import access
from skillguard.reports.models import ExportJob, ReportArchive


def access_export_job(user, pk, action="view") -> ExportJob:
    return access(ExportJob, user, pk, action,
                  queryset=ExportJob.objects.select_related("district", "requested_by"))


def export_jobs(user, *, mine_only: bool = True) -> QuerySet:
    qs = ExportJob.objects.restrict(user).select_related("district", "requested_by")
    if mine_only:
        qs = qs.filter(requested_by=user)
    return qs


def access_report(user, pk, action="view") -> ReportArchive:
    return access(ReportArchive, user, pk, action,
                  queryset=ReportArchive.objects.select_related("district", "generated_by"))


def reports(user, *, kind=None, district=None, month_from=None, month_to=None) -> QuerySet:
    qs = ReportArchive.objects.restrict(user).select_related("district", "generated_by")
    if kind:
        qs = qs.filter(kind=kind)
    if district:
        qs = qs.filter(district_id=district)
    if month_from:
        qs = qs.filter(month__gte=month_from)
    if month_to:
        qs = qs.filter(month__lte=month_to)
    return qs

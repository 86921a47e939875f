"""Statistics exports and the archive of monthly supervision reports (统计报表、监管月报).

``ExportJob``     one export of a statistics table (CSV or XLSX) that is too large to stream
                  in the request: queued in the request's transaction, written by the worker
                  (``reports.tasks.run_export_job``) with progress, then downloadable by the
                  user who asked for it (every download audited).
``ReportArchive`` one generated monthly supervision report (PDF) of the city or of a
                  district: the file, its SHA-256, the figures it shows (JSON snapshot, so an
                  auditor can compare with the cockpit later), and fields reserved for the
                  electronic seal (PAdES) and the trusted timestamp (RFC 3161) that will be
                  applied later (see ``reports.pdf``).

Both are scoped by district: a district supervisor sees the district's reports and exports;
a city report (no district) is seen by city-wide roles only.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class TableKind(models.TextChoices):
    TRAINING = "training", _("Training by district, occupation and month")
    SUBSIDY = "subsidy", _("Training and subsidy summary by district")
    HANDLING = "handling", _("Warning and case handling by district and rule")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


class ExportJob(models.Model):
    table = models.CharField(_("table"), max_length=16, choices=TableKind.choices)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    # The district the export is limited to (none: the whole city) — its scope.
    district = models.ForeignKey("registry.District", verbose_name=_("district"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=16, choices=JobState.choices,
                             default=JobState.QUEUED)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(_("file"), upload_to="reports/exports/%Y/%m/", blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",))

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "-requested_at"],
                                name="exportjob_requester")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_table_display()} ({self.format})"

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0

    @property
    def file_name(self) -> str:
        return f"skillguard-{self.table}-{self.pk}.{self.format}"


class ReportKind(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")


class ReportArchive(models.Model):
    kind = models.CharField(_("report of"), max_length=16, choices=ReportKind.choices)
    district = models.ForeignKey("registry.District", verbose_name=_("district"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("month"), help_text=_("First day of the month reported."))
    state = models.CharField(_("state"), max_length=16, choices=JobState.choices,
                             default=JobState.QUEUED)
    file = models.FileField(_("file"), upload_to="reports/archive/%Y/%m/", blank=True)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    figures = models.JSONField(_("figures shown"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    generated_at = models.DateTimeField(_("generated"), null=True, blank=True)
    # Reserved for the electronic seal (PAdES, pyHanko) and the RFC 3161 timestamp; empty
    # until ``reports.pdf.seal_report`` does more than nothing.
    sealed_at = models.DateTimeField(_("sealed"), null=True, blank=True)
    seal_certificate = models.TextField(_("seal certificate (PEM)"), blank=True)
    timestamp_token = models.BinaryField(_("RFC 3161 timestamp token"), null=True, blank=True,
                                         editable=False)
    timestamped_at = models.DateTimeField(_("timestamped"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",))

    class Meta:
        verbose_name = _("monthly report")
        verbose_name_plural = _("monthly reports")
        ordering = ["-month", "kind", "district_id", "-id"]
        indexes = [models.Index(fields=["kind", "district", "month"], name="report_key")]
        constraints = [models.CheckConstraint(
            condition=(models.Q(kind="city", district__isnull=True)
                       | models.Q(kind="district", district__isnull=False)),
            name="report_kind_district")]

    def __str__(self) -> str:
        where = self.district.name if self.district_id else "全市"
        return f"{where} {self.month:%Y-%m}"

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def file_name(self) -> str:
        where = self.district.code if self.district_id else "city"
        return f"skillguard-report-{where}-{self.month:%Y%m}.pdf"

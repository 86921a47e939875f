from django.contrib import admin

from skillguard.reports.models import ExportJob, ReportArchive


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "table", "format", "district", "state", "rows_done", "rows_total",
                    "requested_by", "requested_at", "finished_at")
    list_filter = ("table", "format", "state")
    raw_id_fields = ("requested_by",)


@admin.register(ReportArchive)
class ReportArchiveAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "district", "month", "state", "size", "sha256",
                    "generated_at", "sealed_at")
    list_filter = ("kind", "state", "district")
    raw_id_fields = ("generated_by",)
    readonly_fields = ("sha256", "size", "figures", "generated_at")

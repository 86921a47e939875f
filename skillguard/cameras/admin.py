"""Django admin of the camera estate (superusers only): edits audited, the stream key's
hash never shown. Day-to-day work goes through the estate pages and their services."""
from django.contrib import admin

from skillguard.audit.admin import AuditedAdminMixin
from skillguard.cameras.models import Camera, Inspection, WorkOrder, WorkOrderPhoto


class EstateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_per_page = 50


@admin.register(Camera)
class CameraAdmin(EstateAdmin):
    list_display = ("serial", "institution", "room", "district", "stream_name", "state",
                    "in_service_since")
    list_filter = ("state", "district")
    search_fields = ("serial", "stream_name", "iccid")
    raw_id_fields = ("institution", "venue", "room")
    readonly_fields = ("stream_key_hint", "stream_key_issued_at")


@admin.register(WorkOrder)
class WorkOrderAdmin(EstateAdmin):
    list_display = ("id", "kind", "state", "camera", "institution", "technician_name",
                    "appointment_at", "created_at")
    list_filter = ("kind", "state", "district")
    raw_id_fields = ("camera", "institution", "venue", "room", "created_by")


@admin.register(WorkOrderPhoto)
class WorkOrderPhotoAdmin(EstateAdmin):
    list_display = ("name", "work_order", "size", "uploaded_at")
    raw_id_fields = ("work_order", "uploaded_by")


@admin.register(Inspection)
class InspectionAdmin(EstateAdmin):
    list_display = ("camera", "year", "passed", "performed_at")
    list_filter = ("passed", "year", "district")
    raw_id_fields = ("camera", "work_order", "institution", "performed_by")

"""Read-only admin views of the computed hours (they are rewritten from evidence)."""
from django.contrib import admin

from skillguard.attendance.models import (
    EnrolmentHours,
    HoursExclusion,
    SessionAttendance,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SessionAttendance)
class SessionAttendanceAdmin(ReadOnly):
    list_display = ("enrolment_id", "session_id", "status", "valid_hours", "flags", "computed_at")
    list_filter = ("status",)


@admin.register(EnrolmentHours)
class EnrolmentHoursAdmin(ReadOnly):
    list_display = ("enrolment_id", "valid_hours", "scheduled_hours", "excluded_hours",
                    "attendance_rate", "completion")
    list_filter = ("completion",)


@admin.register(HoursExclusion)
class HoursExclusionAdmin(ReadOnly):
    list_display = ("case_id", "enrolment_id", "session_id", "created_at", "restored_at")

from django.contrib import admin

from skillguard.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseWarning,
    SpotCheck,
    SpotCheckItem,
)


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "district", "institution", "severity", "state",
                    "opened_at", "deadline", "overdue")
    list_filter = ("state", "severity", "origin", "district")
    search_fields = ("number", "title")
    raw_id_fields = ("institution", "dispatched_to", "assignee", "closed_by", "rule")


admin.site.register(CaseEvent)
admin.site.register(CaseWarning)
admin.site.register(Attachment)
admin.site.register(SpotCheck)
admin.site.register(SpotCheckItem)

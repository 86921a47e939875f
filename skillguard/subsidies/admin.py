"""Read-only admin view of the verdicts (they are recomputed, never edited)."""
from django.contrib import admin

from skillguard.subsidies.models import SubsidyVerdict


@admin.register(SubsidyVerdict)
class SubsidyVerdictAdmin(admin.ModelAdmin):
    list_display = ("enrolment_id", "trainee_id", "year", "subsidy_type", "verdict", "amount")
    list_filter = ("verdict", "year")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

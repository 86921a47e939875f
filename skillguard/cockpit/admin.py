from django.contrib import admin

from skillguard.cockpit.models import (
    CaseDaily,
    DailyTraining,
    MonthlyTraining,
    QualityDaily,
    RollupState,
    SubsidyDaily,
    WarningDaily,
)


@admin.register(RollupState)
class RollupStateAdmin(admin.ModelAdmin):
    list_display = ("name", "refreshed_at", "full_at", "high_water", "days_refreshed",
                    "duration_ms")


@admin.register(DailyTraining, MonthlyTraining)
class TrainingRollupAdmin(admin.ModelAdmin):
    list_display = ("day", "district_id", "institution_id", "occupation_id", "level",
                    "category", "sessions_scheduled", "trainees_present", "checkins",
                    "valid_hours")
    list_filter = ("district_id",)
    date_hierarchy = "day"


admin.site.register(WarningDaily)
admin.site.register(CaseDaily)
admin.site.register(SubsidyDaily)
admin.site.register(QualityDaily)

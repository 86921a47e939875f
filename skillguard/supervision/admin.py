"""Django admin for supervision (superusers only): read-only. Rules change through
``services.change_rule`` (a new, audited version), never by editing rows here; versions,
runs and warnings are history."""
from __future__ import annotations

from django.contrib import admin

from skillguard.audit.admin import ReadOnlyAdminMixin
from skillguard.supervision import models as m


@admin.register(m.Rule)
class RuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "enabled", "current_version", "created_at")
    search_fields = ("code",)


@admin.register(m.RuleVersion)
class RuleVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("rule", "number", "severity", "level", "period", "created_by", "created_at")
    list_filter = ("severity", "level", "period")


@admin.register(m.RuleRun)
class RuleRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "rule", "mode", "status", "window_start", "window_end",
                    "findings_count", "new_warnings", "started_at")
    list_filter = ("mode", "status")


@admin.register(m.Warning)
class WarningAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "rule", "severity", "district", "institution", "status",
                    "seen_count", "first_seen_at")
    list_filter = ("severity", "status", "level")
    raw_id_fields = ("institution",)

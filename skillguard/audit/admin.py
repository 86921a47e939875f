"""Django admin (superusers only, /django-admin/): the audit trail read-only, and the mixin
that routes every admin save and delete through ``audit.services`` so that emergency edits
made here are in the trail like any other change."""
from __future__ import annotations

from django.contrib import admin
from django.db import transaction

from skillguard.audit import services as audit
from skillguard.audit.models import AuditEvent

HIDDEN_SUFFIXES = ("_enc", "_hash")  # sealed personal data and its lookup hash: never shown


def hidden_fields(model) -> list[str]:
    return [f.name for f in model._meta.fields if f.name.endswith(HIDDEN_SUFFIXES)]


class AuditedAdminMixin:
    """Saves and deletes through the audit trail; sealed columns never on screen (the
    masked column is shown read-only instead)."""

    audit_comment = "django-admin"

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or ()), *hidden_fields(self.model)]

    def get_fields(self, request, obj=None):
        hidden = set(hidden_fields(self.model))
        return [f for f in super().get_fields(request, obj) if f not in hidden]

    def get_readonly_fields(self, request, obj=None):
        masked = [f.name for f in self.model._meta.fields if f.name.endswith("_masked")]
        return [*super().get_readonly_fields(request, obj), *masked]

    def get_list_display(self, request):
        hidden = set(hidden_fields(self.model))
        return [f for f in super().get_list_display(request) if f not in hidden]

    def get_search_fields(self, request):
        hidden = set(hidden_fields(self.model))
        return [f for f in super().get_search_fields(request) if f.split("__")[0] not in hidden]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change and obj.pk is not None:
                before = audit.snapshot(type(obj)._base_manager.get(pk=obj.pk))
                obj.save()
                audit.record_updated(request.user, obj, before, comment=self.audit_comment)
            else:
                obj.save()
                audit.record_created(request.user, obj)

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        many = [f.name for f in obj._meta.many_to_many]
        before = {name: sorted(getattr(obj, name).values_list("pk", flat=True))
                  for name in many} if change else {name: [] for name in many}
        super().save_related(request, form, formsets, change)
        after = {name: sorted(getattr(obj, name).values_list("pk", flat=True))
                 for name in many}
        changes = {name: [before[name], after[name]] for name in many
                   if before[name] != after[name]}
        if changes:
            audit._event(request.user, "update", obj, changes=changes,
                         comment=self.audit_comment).save()

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit.record_deleted(request.user, obj, comment=self.audit_comment)
            obj.delete()

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


class ReadOnlyAdminMixin:
    """Records that are history: looked at, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "actor_name", "actor_role", "action", "object_type", "object_repr",
                    "ip")
    list_filter = ("action", "object_type", "actor_role")
    search_fields = ("actor_name", "object_repr", "object_id", "request_id")
    date_hierarchy = "at"
    list_select_related = False

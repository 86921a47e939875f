"""Django admin for the registry (superusers only): every model, edits audited, sealed
columns hidden. The platform's own pages are the place for day-to-day work; this is the
emergency console."""
from __future__ import annotations

from django.apps import apps
from django.contrib import admin

from skillguard.audit.admin import AuditedAdminMixin, ReadOnlyAdminMixin
from skillguard.registry import models as m

# History that must not be rewritten, even by a superuser.
READ_ONLY = {"classreview", "importbatch", "importrowproblem"}


class RegistryAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_per_page = 50


@admin.register(m.District)
class DistrictAdmin(RegistryAdmin):
    list_display = ("code", "name", "name_en", "sort_order")
    search_fields = ("code", "name", "name_en")


@admin.register(m.Institution)
class InstitutionAdmin(RegistryAdmin):
    list_display = ("name", "credit_code", "district", "kind", "whitelist_status", "status")
    list_filter = ("district", "kind", "whitelist_status", "status")
    search_fields = ("name", "credit_code", "licence_number")
    raw_id_fields = ()


@admin.register(m.Teacher)
class TeacherAdmin(RegistryAdmin):
    list_display = ("name", "institution", "id_number_masked", "phone_masked", "active")
    list_filter = ("active",)
    search_fields = ("name",)
    raw_id_fields = ("institution",)


@admin.register(m.Trainee)
class TraineeAdmin(RegistryAdmin):
    list_display = ("name", "id_number_masked", "phone_masked", "category",
                    "residence_district", "id_verified")
    list_filter = ("category", "residence_district", "id_verified")
    search_fields = ("name",)
    raw_id_fields = ("registered_by",)


@admin.register(m.TrainingClass)
class TrainingClassAdmin(RegistryAdmin):
    list_display = ("code", "name", "institution", "district", "status", "start_date",
                    "end_date")
    list_filter = ("status", "mode", "district")
    search_fields = ("code", "name")
    raw_id_fields = ("institution", "venue", "decided_by")
    filter_horizontal = ("teachers",)


@admin.register(m.Session)
class SessionAdmin(RegistryAdmin):
    list_display = ("__str__", "starts_at", "ends_at", "teacher", "room")
    raw_id_fields = ("training_class", "teacher", "room")


@admin.register(m.Enrolment)
class EnrolmentAdmin(RegistryAdmin):
    list_display = ("__str__", "status", "enrolled_at")
    list_filter = ("status",)
    raw_id_fields = ("training_class", "trainee")


def _register_the_rest() -> None:
    """Every other registry model, so that models added later are covered too."""
    for model in apps.get_app_config("registry").get_models():
        if admin.site.is_registered(model):
            continue
        bases = (ReadOnlyAdminMixin, RegistryAdmin) if model._meta.model_name in READ_ONLY \
            else (RegistryAdmin,)
        admin.site.register(model, type(f"{model.__name__}Admin", bases, {}))


_register_the_rest()

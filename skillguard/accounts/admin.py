"""Django admin for accounts. The whole admin site answers to active superusers only
(a staff flag is not enough); user changes are audited, password hashes never reach the
trail, API tokens are shown by prefix and can only be revoked here."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from skillguard.accounts import services
from skillguard.accounts.models import ApiToken, User
from skillguard.audit.admin import AuditedAdminMixin, ReadOnlyAdminMixin


def _superusers_only(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


admin.site.has_permission = _superusers_only
admin.site.site_header = _("SkillGuard emergency console (superusers only)")
admin.site.site_title = "SkillGuard admin"


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    list_display = ("username", "display_name", "role", "district", "institution", "is_active",
                    "is_superuser", "last_login")
    list_filter = ("role", "is_active", "is_superuser", "district")
    search_fields = ("username", "display_name", "email")
    raw_id_fields = ("institution", "teacher", "trainee")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Role and scope"), {"fields": ("role", "district", "institution", "teacher",
                                          "trainee")}),
        (_("Personal info"), {"fields": ("display_name", "first_name", "last_name", "email")}),
        (_("Status"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None):
        return False  # accounts are deactivated, never deleted (the audit trail names them)

    @admin.action(description=_("Deactivate the selected accounts"))
    def deactivate(self, request, queryset):
        for user in queryset:
            services.deactivate_user(request.user, user, comment="django-admin")
        self.message_user(request, _("Deactivated."))

    add_fieldsets = (
        (None, {"classes": ("wide",),
                "fields": ("username", "role", "district", "institution", "teacher", "trainee",
                           "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("prefix", "owner", "name", "created_at", "expires_at", "revoked_at",
                    "last_used_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "owner__username", "name")
    exclude = ("token_hash",)
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            services.revoke_api_token(request.user, token, comment="django-admin")
        self.message_user(request, _("Revoked."))

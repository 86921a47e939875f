"""The audit trail: append-only (a trigger refuses UPDATE and DELETE)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedQuerySet, Scope


class AuditAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("changed")
    DELETE = "delete", _("deleted")
    TRANSITION = "transition", _("workflow step")
    READ_PERSONAL = "read_personal", _("read personal data")
    EXPORT = "export", _("exported")
    IMPORT = "import", _("imported")
    LOGIN = "login", _("signed in")
    LOGIN_FAILED = "login_failed", _("sign-in failed")
    LOGOUT = "logout", _("signed out")


class AuditEvent(models.Model):
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_constraint=False)
    # Kept as text too, so the trail outlives the user account (five-year audits).
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    actor_role = models.CharField(_("actor role"), max_length=32, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices,
                              db_index=True)
    object_type = models.CharField(_("record type"), max_length=64)
    object_id = models.CharField(_("record id"), max_length=64, blank=True)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    district_id = models.BigIntegerField(_("district"), null=True, blank=True, db_index=True)
    institution_id = models.BigIntegerField(_("institution"), null=True, blank=True,
                                            db_index=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    fields = models.JSONField(_("fields read"), default=list, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request"), max_length=36, blank=True)

    objects = models.Manager.from_queryset(RestrictedQuerySet)()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
                   models.Index(fields=["actor", "at"], name="audit_actor_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

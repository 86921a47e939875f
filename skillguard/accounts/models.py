from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.roles import CITY_WIDE, Role
from skillguard.core.scoping import RestrictedQuerySet, Scope


class UserQuerySet(RestrictedQuerySet):
    pass


class SkillGuardUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A person or system that signs in. The role and its anchor (district, institution,
    teacher or trainee record) decide what the user sees."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices,
                            default=Role.TRAINEE)
    district = models.ForeignKey("registry.District", verbose_name=_("district"),
                                 null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="users")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="users")
    teacher = models.OneToOneField("registry.Teacher", verbose_name=_("teacher record"),
                                   null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="user")
    trainee = models.OneToOneField("registry.Trainee", verbose_name=_("trainee record"),
                                   null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="user")
    display_name = models.CharField(_("display name"), max_length=64, blank=True)

    objects = SkillGuardUserManager()
    scope = Scope(district=("district",), institution=("institution",))

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                name="user_role_anchor",
                condition=(
                    ~models.Q(role="district_supervisor") | models.Q(district__isnull=False))
                & (~models.Q(role="institution_admin") | models.Q(institution__isnull=False))
                & (~models.Q(role="teacher") | models.Q(teacher__isnull=False))
                & (~models.Q(role="trainee") | models.Q(trainee__isnull=False)),
                violation_error_message=_("This role needs its district, institution, "
                                          "teacher or trainee record."),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_city_wide(self) -> bool:
        return self.is_superuser or self.role in CITY_WIDE

    @property
    def may_write(self) -> bool:
        return self.role != Role.AUDITOR


class ApiToken(models.Model):
    """A bearer credential for the HTTP API. Only the SHA-256 of the token is stored; the
    plaintext is shown once when ``accounts.services.issue_api_token`` creates it."""

    owner = models.ForeignKey(User, verbose_name=_("owner"), on_delete=models.CASCADE,
                              related_name="api_tokens")
    name = models.CharField(_("label"), max_length=64, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True,
                              help_text=_("The first characters of the token, to recognise it"))
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = models.Manager.from_queryset(RestrictedQuerySet)()
    scope = Scope(district=("owner__district",), institution=("owner__institution",))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.owner})"

    def is_usable(self, now=None) -> bool:
        from django.utils import timezone

        now = now or timezone.now()
        return (self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
                and self.owner.is_active)

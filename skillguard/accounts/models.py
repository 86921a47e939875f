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

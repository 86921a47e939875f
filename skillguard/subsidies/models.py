"""Subsidy eligibility (补贴资格): one verdict per enrolment, with its reasons.

Computed by ``subsidies.services.recompute_verdicts`` from the enrolment's learning hours
(``attendance.EnrolmentHours``), the trainee's category and the trainee's other subsidised
enrolments; never entered by hand.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class Verdict(models.TextChoices):
    ELIGIBLE = "eligible", _("Eligible")
    NOT_ELIGIBLE = "not_eligible", _("Not eligible")
    PENDING = "pending_evidence", _("Pending evidence")


class SubsidyVerdict(models.Model):
    enrolment_id = models.BigIntegerField(_("enrolment"), primary_key=True)
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    trainee_id = models.BigIntegerField(_("trainee"))
    training_class = models.ForeignKey("registry.TrainingClass", verbose_name=_("training class"),
                                       on_delete=models.DO_NOTHING, db_constraint=False,
                                       related_name="+")
    year = models.PositiveSmallIntegerField(_("subsidy year"))
    subsidy_type = models.CharField(_("subsidy type"), max_length=32)
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict.choices)
    # [{"code": "...", "params": {...}}]; rendered in the reader's language through
    # ``subsidies.rules.REASONS`` (and in both languages by the API).
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    rate = models.DecimalField(_("rate"), max_digits=4, decimal_places=3, null=True)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=9, decimal_places=2, null=True)
    computed_at = models.DateTimeField(_("computed"))

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",),
                  teacher=("training_class__teachers",), trainee=("trainee_id",))

    class Meta:
        verbose_name = _("subsidy verdict")
        verbose_name_plural = _("subsidy verdicts")
        ordering = ["trainee_id", "year", "enrolment_id"]
        indexes = [models.Index(fields=["trainee_id", "year"], name="verdict_trainee_year"),
                   models.Index(fields=["district_id", "year", "verdict"],
                                name="verdict_district_year")]

    def __str__(self) -> str:
        return f"{self.enrolment_id} {self.year} {self.verdict}"

    def reason_texts(self) -> list[str]:
        from skillguard.subsidies.rules import reason_text

        return [str(reason_text(r)) for r in self.reasons]

"""The supervision engine's storage: the rule catalogue, parameter versions, runs, warnings.

``Rule``         one row per registered rule code (``rules.base.RuleDefinition``): on/off and
                 the version in force. Name, description and parameter schema come from code.
``RuleVersion``  an immutable set of parameters (and severity / schedule) with who made it,
                 when and why; a change of parameters is a new version, never an edit.
``RuleRun``      one execution of one rule version: real time, sweep, manual or back-test;
                 a failing rule is recorded here (status failed, error) and the others run.
``Warning``      one anomaly (预警), deduplicated by (rule, fingerprint of the finding's
                 subject): a later run that finds it again only bumps ``last_seen_at``.
                 Cases (``skillguard.cases``) link to warnings; this app never imports cases.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope
from skillguard.supervision.rules.base import Period, RuleLevel, Severity


class Rule(models.Model):
    code = models.CharField(_("rule code"), max_length=48, unique=True)
    enabled = models.BooleanField(_("switched on"), default=True)
    current_version = models.ForeignKey("RuleVersion", verbose_name=_("version in force"),
                                        null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedManager()
    # The city-wide catalogue: every role the role table lets view rules sees all of it.
    scope = Scope(public=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("warning rule")
        verbose_name_plural = _("warning rules")

    def __str__(self) -> str:
        return self.code


class RuleVersion(models.Model):
    rule = models.ForeignKey(Rule, verbose_name=_("rule"), on_delete=models.PROTECT,
                             related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    params = models.JSONField(_("parameters"), default=dict)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    level = models.CharField(_("level"), max_length=16, choices=RuleLevel.choices)
    period = models.CharField(_("period"), max_length=16, choices=Period.choices)
    comment = models.TextField(_("reason for the change"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"),
                                   null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("changed"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(public=True)

    class Meta:
        ordering = ["rule", "-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"],
                                               name="supervision_ruleversion_unique")]
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")

    def __str__(self) -> str:
        return f"{self.rule.code} v{self.number}"


class RunMode(models.TextChoices):
    REALTIME = "realtime", _("Real time")
    SWEEP = "sweep", _("Scheduled sweep")
    MANUAL = "manual", _("Run on request")
    BACKTEST = "backtest", _("Back-test")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")


class RuleRun(models.Model):
    rule = models.ForeignKey(Rule, verbose_name=_("rule"), on_delete=models.PROTECT,
                             related_name="runs")
    version = models.ForeignKey(RuleVersion, verbose_name=_("rule version"),
                                on_delete=models.PROTECT, related_name="runs")
    mode = models.CharField(_("mode"), max_length=16, choices=RunMode.choices)
    window_start = models.DateTimeField(_("window from"))
    window_end = models.DateTimeField(_("window to"))
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices,
                              default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"),
                                     null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    findings_count = models.PositiveIntegerField(_("findings"), default=0)
    new_warnings = models.PositiveIntegerField(_("new warnings"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Back-tests keep what they would have raised here (counts and a sample), not warnings.
    results = models.JSONField(_("results"), default=dict, blank=True)

    objects = RestrictedManager()
    # Runs are city-wide like the catalogue; what a back-test found is filtered to the
    # viewer's district when shown (supervision.queries.visible_results).
    scope = Scope(public=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["rule", "-started_at"], name="supervision_run_rule")]
        verbose_name = _("rule run")
        verbose_name_plural = _("rule runs")

    def __str__(self) -> str:
        return f"{self.rule.code} {self.get_mode_display()} #{self.pk}"


class WarningStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_CASE = "in_case", _("In a case")
    CLOSED = "closed", _("Closed")


class Warning(models.Model):  # noqa: A001 — the domain's word (预警)
    rule = models.ForeignKey(Rule, verbose_name=_("rule"), on_delete=models.PROTECT,
                             related_name="warnings")
    rule_version = models.ForeignKey(RuleVersion, verbose_name=_("rule version"),
                                     on_delete=models.PROTECT, related_name="warnings")
    fingerprint = models.CharField(_("fingerprint"), max_length=40)
    subject = models.TextField(_("subject"))
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    level = models.CharField(_("level"), max_length=16, choices=RuleLevel.choices)
    district = models.ForeignKey("registry.District", verbose_name=_("district"),
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    summary_zh = models.TextField(_("summary (Chinese)"))
    summary_en = models.TextField(_("summary (English)"))
    details = models.JSONField(_("details"), default=dict, blank=True)
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    affected_hours = models.JSONField(_("affected hours"), default=list, blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    first_seen_at = models.DateTimeField(_("first raised"))
    last_seen_at = models.DateTimeField(_("last seen"))
    seen_count = models.PositiveIntegerField(_("times seen"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=WarningStatus.choices,
                              default=WarningStatus.OPEN)
    first_run = models.ForeignKey(RuleRun, verbose_name=_("raised by run"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "fingerprint"],
                                               name="supervision_warning_dedup")]
        indexes = [models.Index(fields=["district", "status", "-first_seen_at"],
                                name="supervision_warning_district"),
                   models.Index(fields=["institution", "-first_seen_at"],
                                name="supervision_warning_inst")]
        verbose_name = _("warning")
        verbose_name_plural = _("warnings")

    def __str__(self) -> str:
        return f"{self.rule.code} #{self.pk}"

    @property
    def summary(self) -> str:
        from django.utils.translation import get_language

        return self.summary_en if (get_language() or "").startswith("en") else self.summary_zh

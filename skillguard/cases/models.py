"""Case handling (督导处置) and spot checks (抽查).

``Case``          one matter a supervisor is obliged to handle: opened by warnings (joined by
                  later warnings of the same rule, institution and period), by a failed spot
                  check, or by hand. State machine (``services``):

                      new → assigned → dispatched → answered → verified → closed
                      (escalated to the city at any open state: ``escalated_at``; a closed
                      case can be reopened with a reason)

                  Handling deadline per severity: ``DEADLINE_WORKING_DAYS``.
``CaseWarning``   the link of one warning (OneToOne) to its case. This app reads
                  ``supervision``; supervision never imports cases.
``CaseEvent``     one row per step (who, when, from → to, comment): the case's history;
                  comments are events of kind ``comment``.
``Attachment``    a file (explanation, evidence photo …) on a case or on a spot-check item,
                  stored through Django's storage under MEDIA_ROOT.
``SpotCheck``     one draw of a reproducible random sample of sessions (seed + filters).
``SpotCheckItem`` one sampled session: the inspector's findings, headcount and outcome; a
                  fail opens a case.

Institutions see a case only once it has been dispatched to them: the institution path of
``Case.scope`` is ``dispatched_to``, which only ``dispatch_case`` sets.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope
from skillguard.supervision.rules.base import Severity


class CaseOrigin(models.TextChoices):
    WARNING = "warning", _("Warning")
    SPOT_CHECK = "spot_check", _("Spot check")
    MANUAL = "manual", _("Opened by hand")


class CaseState(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    DISPATCHED = "dispatched", _("Dispatched to the institution")
    ANSWERED = "answered", _("Answered by the institution")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")


OPEN_STATES = (CaseState.NEW, CaseState.ASSIGNED, CaseState.DISPATCHED, CaseState.ANSWERED,
               CaseState.VERIFIED)


class Conclusion(models.TextChoices):
    CONFIRMED_FRAUD = "confirmed_fraud", _("Confirmed fraud")
    UNFOUNDED = "unfounded", _("Unfounded")
    CORRECTED = "corrected", _("Corrected")


# Handling deadline of a case, in working days (Monday–Friday) from its opening, by severity.
DEADLINE_WORKING_DAYS = {
    Severity.CRITICAL: 2,
    Severity.HIGH: 5,
    Severity.MEDIUM: 10,
    Severity.LOW: 15,
}
SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Case(models.Model):
    number = models.CharField(_("case number"), max_length=24, unique=True, null=True,
                              blank=True)
    district = models.ForeignKey("registry.District", verbose_name=_("responsible district"),
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    # Set by dispatch only: the institution sees the case from then on (never before).
    dispatched_to = models.ForeignKey("registry.Institution", verbose_name=_("dispatched to"),
                                      null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    origin = models.CharField(_("origin"), max_length=16, choices=CaseOrigin.choices)
    rule = models.ForeignKey("supervision.Rule", verbose_name=_("rule"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    period = models.CharField(_("month of the anomaly"), max_length=16, blank=True,
                              help_text=_("Calendar month of the anomaly (YYYY-MM)."))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    state = models.CharField(_("state"), max_length=16, choices=CaseState.choices,
                             default=CaseState.NEW)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"),
                                 null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    deadline = models.DateTimeField(_("handling deadline"))
    overdue = models.BooleanField(_("overdue"), default=False)
    escalated_at = models.DateTimeField(_("escalated to the city"), null=True, blank=True)
    request_text = models.TextField(_("request to the institution"), blank=True)
    answer_deadline = models.DateTimeField(_("answer deadline"), null=True, blank=True)
    answer_text = models.TextField(_("explanation"), blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    verification_note = models.TextField(_("verification note"), blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    # (enrolment_id, session_id) pairs the verifier adds to the warnings' affected hours.
    extra_pairs = models.JSONField(_("further affected hours"), default=list, blank=True)
    conclusion = models.CharField(_("conclusion"), max_length=24, choices=Conclusion.choices,
                                  blank=True)
    conclusion_comment = models.TextField(_("conclusion comment"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"),
                                  null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("dispatched_to_id",))

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["district", "state", "-opened_at"], name="case_district"),
                   models.Index(fields=["rule", "institution", "period"], name="case_join"),
                   models.Index(fields=["state", "deadline"], name="case_deadline")]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state != CaseState.CLOSED

    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None

    @property
    def is_overdue(self) -> bool:
        return self.is_open and (self.overdue or self.deadline < timezone.now())


class CaseWarning(models.Model):
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE,
                             related_name="links")
    warning = models.OneToOneField("supervision.Warning", verbose_name=_("warning"),
                                   on_delete=models.PROTECT, related_name="case_link")
    linked_at = models.DateTimeField(_("linked"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("case__district_id",), institution=("case__dispatched_to_id",))

    class Meta:
        ordering = ["case", "id"]
        verbose_name = _("warning of a case")
        verbose_name_plural = _("warnings of cases")

    def __str__(self) -> str:
        return f"{self.case} ← {self.warning_id}"


class CaseStep(models.TextChoices):
    OPEN = "open", _("Opened")
    JOIN = "join", _("Warning joined")
    ASSIGN = "assign", _("Assigned")
    DISPATCH = "dispatch", _("Dispatched")
    ANSWER = "answer", _("Answered")
    VERIFY = "verify", _("Verified")
    CLOSE = "close", _("Closed")
    ESCALATE = "escalate", _("Escalated to the city")
    OVERDUE = "overdue", _("Marked overdue")
    REOPEN = "reopen", _("Reopened")
    COMMENT = "comment", _("Comment")
    ATTACH = "attach", _("File attached")


class CaseEvent(models.Model):
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE,
                             related_name="events")
    step = models.CharField(_("step"), max_length=16, choices=CaseStep.choices)
    from_state = models.CharField(_("from"), max_length=16, blank=True)
    to_state = models.CharField(_("to"), max_length=16, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                              blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("at"), default=timezone.now)
    comment = models.TextField(_("comment"), blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("case__district_id",), institution=("case__dispatched_to_id",))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case} {self.step}"

    def audit_anchors(self):
        return self.case.district_id, self.case.institution_id

    @property
    def from_label(self):
        return _state_label(self.from_state)

    @property
    def to_label(self):
        return _state_label(self.to_state)


def _state_label(value: str):
    try:
        return CaseState(value).label
    except ValueError:
        return value or "—"


class Attachment(models.Model):
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="attachments")
    item = models.ForeignKey("SpotCheckItem", verbose_name=_("spot-check item"), null=True,
                             blank=True, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to="cases/%Y/%m/", max_length=255)
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("case__district_id", "item__district_id"),
                  institution=("case__dispatched_to_id",))

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [models.CheckConstraint(
            condition=models.Q(case__isnull=False) | models.Q(item__isnull=False),
            name="cases_attachment_owner")]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    def audit_anchors(self):
        if self.case_id:
            return self.case.district_id, self.case.institution_id
        return self.item.district_id, self.item.institution_id


class SpotCheckKind(models.TextChoices):
    ATTENDANCE = "attendance", _("Attendance verification")
    CLASS_OPENING = "class_opening", _("Class-opening verification")


class SpotCheck(models.Model):
    number = models.CharField(_("spot-check number"), max_length=24, unique=True, null=True,
                              blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=SpotCheckKind.choices)
    district = models.ForeignKey("registry.District", verbose_name=_("district"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    occupation = models.ForeignKey("registry.Occupation", verbose_name=_("occupation"),
                                   null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    date_from = models.DateField(_("sessions from"), null=True, blank=True)
    date_to = models.DateField(_("sessions to"), null=True, blank=True)
    min_risk = models.PositiveIntegerField(_("minimum risk score"), default=0)
    sample_size = models.PositiveIntegerField(_("sample size"))
    seed = models.CharField(_("seed"), max_length=64)
    population = models.PositiveIntegerField(_("sessions matching"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("drawn by"),
                                   null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("drawn"), auto_now_add=True)

    objects = RestrictedManager()
    # A plan drawn city-wide (no district) is seen by city users only.
    scope = Scope(district=("district_id",))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("spot check")
        verbose_name_plural = _("spot checks")

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"


class SpotOutcome(models.TextChoices):
    PENDING = "pending", _("Not checked yet")
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    UNVERIFIABLE = "unverifiable", _("Could not verify")


class SpotCheckItem(models.Model):
    spot_check = models.ForeignKey(SpotCheck, verbose_name=_("spot check"),
                                   on_delete=models.CASCADE, related_name="items")
    rank = models.PositiveIntegerField(_("rank in the sample"))
    # Only sessions of a class not yet approved can be deleted: their draw goes with them.
    session = models.ForeignKey("registry.Session", verbose_name=_("session"),
                                on_delete=models.CASCADE, related_name="+")
    district = models.ForeignKey("registry.District", verbose_name=_("district"),
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="+")
    risk_score = models.PositiveIntegerField(_("risk score"), default=0)
    enrolled_count = models.PositiveIntegerField(_("enrolled"), default=0)
    headcount_observed = models.PositiveIntegerField(_("headcount observed"), null=True,
                                                     blank=True)
    findings = models.TextField(_("findings"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=SpotOutcome.choices,
                               default=SpotOutcome.PENDING)
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("inspector"),
                                  null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="spot_check_items")

    objects = RestrictedManager()
    scope = Scope(district=("district_id",))

    class Meta:
        ordering = ["spot_check", "rank"]
        constraints = [models.UniqueConstraint(fields=["spot_check", "session"],
                                               name="cases_spotcheckitem_unique")]
        verbose_name = _("spot-check item")
        verbose_name_plural = _("spot-check items")

    def __str__(self) -> str:
        return f"{self.spot_check} #{self.rank}"

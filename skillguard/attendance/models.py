"""Attendance evidence: check-ins and check-outs (a monthly-partitioned fact table).

Written in bulk (psycopg COPY) by ``ingest``; read through ``restrict`` like everything else.
No foreign keys point into this table and it holds none of its own: references are checked
by the writer, which keeps COPY fast and lets Citus distribute the table by district.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class CheckMethod(models.TextChoices):
    FACE = "face", _("Face recognition")
    QR = "qr", _("QR code")
    GPS = "gps", _("Location")
    CARD = "card", _("ID card reader")


class CheckKind(models.TextChoices):
    IN = "in", _("Check-in")
    OUT = "out", _("Check-out")


class CheckIn(models.Model):
    pk = models.CompositePrimaryKey("district_id", "occurred_at", "id")
    id = models.BigIntegerField(editable=False)
    district_id = models.BigIntegerField(_("district"))
    occurred_at = models.DateTimeField(_("time"))
    kind = models.CharField(_("check"), max_length=3, choices=CheckKind.choices)
    method = models.CharField(_("method"), max_length=8, choices=CheckMethod.choices)
    session_id = models.BigIntegerField(_("session"))
    training_class_id = models.BigIntegerField(_("training class"))
    institution_id = models.BigIntegerField(_("institution"))
    enrolment_id = models.BigIntegerField(_("enrolment"))
    trainee_id = models.BigIntegerField(_("trainee"))
    device_id = models.CharField(_("device"), max_length=64, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True)
    source_client_id = models.BigIntegerField(_("source"), null=True)
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    submission_id = models.UUIDField(_("submission"), null=True)
    received_at = models.DateTimeField(_("received"))
    version = models.PositiveIntegerField(_("version"), default=1)
    superseded = models.BooleanField(_("superseded"), default=False)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",),
                  trainee=("trainee_id",))

    class Meta:
        managed = False  # partitioned; created by migration 0001 in raw SQL
        db_table = "attendance_checkin"
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


# --------------------------------------------------------------------------- learning hours
#
# Computed by ``attendance.hours`` from the evidence above, never from client totals.
# Plain id columns (no foreign keys) like the evidence itself: the tables are rewritten in
# bulk by set-based SQL and carry ``district_id`` for Citus.


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", _("Present")
    PARTIAL = "partial", _("Partly present")
    ABSENT = "absent", _("Absent")
    PENDING = "pending", _("Waiting for evidence")


class HoursFlag(models.TextChoices):
    CLOCK_SKEW = "clock_skew", _("Device clock ahead of the server (not counted)")
    OUTSIDE_GEOFENCE = "outside_geofence", _("Location outside the venue's geofence (not counted)")
    OUTSIDE_WINDOW = "outside_window", _("Outside the check-in / check-out window (not counted)")
    MISSING_CHECKOUT = "missing_checkout", _("No valid check-out")
    MISSING_CHECKIN = "missing_checkin", _("No valid check-in")
    EXCLUDED_BY_CASE = "excluded_by_case", _("Excluded by a confirmed case")


class Completion(models.TextChoices):
    QUALIFIES = "qualifies", _("Qualifies for completion")
    NOT_QUALIFIED = "not_qualified", _("Does not qualify")
    PENDING = "pending", _("Not decided yet")


class SessionAttendance(models.Model):
    """One trainee's attendance at one session that has started, explained by flags."""

    district_id = models.BigIntegerField(_("district"))
    session_id = models.BigIntegerField(_("session"))
    enrolment_id = models.BigIntegerField(_("enrolment"))
    trainee_id = models.BigIntegerField(_("trainee"))
    institution_id = models.BigIntegerField(_("institution"))
    # a relation only for scoping (teachers see their classes); no constraint, like the rest
    training_class = models.ForeignKey("registry.TrainingClass", verbose_name=_("training class"),
                                       on_delete=models.DO_NOTHING, db_constraint=False,
                                       related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    first_in = models.DateTimeField(_("first valid check-in"), null=True)
    last_out = models.DateTimeField(_("last valid check-out"), null=True)
    attended_minutes = models.PositiveIntegerField(_("attended minutes"), default=0)
    scheduled_hours = models.DecimalField(_("scheduled class hours"), max_digits=6,
                                          decimal_places=2, default=0)
    valid_hours = models.DecimalField(_("valid class hours"), max_digits=6, decimal_places=2,
                                      default=0)
    excluded_hours = models.DecimalField(_("excluded class hours"), max_digits=6,
                                         decimal_places=2, default=0)
    status = models.CharField(_("status"), max_length=12, choices=AttendanceStatus.choices)
    flags = ArrayField(models.CharField(max_length=24), verbose_name=_("flags"), default=list)
    evidence_count = models.PositiveIntegerField(_("evidence records"), default=0)
    computed_at = models.DateTimeField(_("computed"))

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",),
                  teacher=("training_class__teachers",), trainee=("trainee_id",))

    class Meta:
        verbose_name = _("session attendance")
        verbose_name_plural = _("session attendance")
        ordering = ["starts_at", "id"]
        constraints = [models.UniqueConstraint(fields=["enrolment_id", "session_id"],
                                               name="attendance_unique_pair")]
        indexes = [models.Index(fields=["session_id"], name="attendance_session"),
                   models.Index(fields=["trainee_id", "starts_at"], name="attendance_trainee"),
                   models.Index(fields=["district_id", "starts_at"], name="attendance_district")]

    def flag_labels(self) -> list:
        return [HoursFlag(f).label if f in HoursFlag.values else f for f in self.flags]


class EnrolmentHours(models.Model):
    """The totals of one enrolment: what a completion and a subsidy can rest on."""

    enrolment_id = models.BigIntegerField(_("enrolment"), primary_key=True)
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    trainee_id = models.BigIntegerField(_("trainee"))
    training_class = models.ForeignKey("registry.TrainingClass", verbose_name=_("training class"),
                                       on_delete=models.DO_NOTHING, db_constraint=False,
                                       related_name="+")
    planned_hours = models.DecimalField(_("planned class hours"), max_digits=8, decimal_places=2,
                                        default=0)
    required_hours = models.DecimalField(_("class hours required for completion"),
                                         max_digits=8, decimal_places=2, default=0)
    scheduled_hours = models.DecimalField(_("scheduled class hours so far"), max_digits=8,
                                          decimal_places=2, default=0)
    valid_hours = models.DecimalField(_("valid class hours"), max_digits=8, decimal_places=2,
                                      default=0)
    excluded_hours = models.DecimalField(_("excluded class hours"), max_digits=8,
                                         decimal_places=2, default=0)
    attendance_rate = models.DecimalField(_("attendance rate"), max_digits=6, decimal_places=4,
                                          null=True)
    sessions_attended = models.PositiveIntegerField(_("sessions attended"), default=0)
    sessions_held = models.PositiveIntegerField(_("sessions held"), default=0)
    completion = models.CharField(_("completion"), max_length=16, choices=Completion.choices,
                                  default=Completion.PENDING)
    computed_at = models.DateTimeField(_("computed"))

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",),
                  teacher=("training_class__teachers",), trainee=("trainee_id",))

    class Meta:
        verbose_name = _("enrolment hours")
        verbose_name_plural = _("enrolment hours")
        indexes = [models.Index(fields=["trainee_id"], name="enrolmenthours_trainee")]


class HoursExclusion(models.Model):
    """A confirmed-fraud case takes (enrolment, session) pairs out of the valid hours."""

    case_id = models.BigIntegerField(_("case"))
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    trainee_id = models.BigIntegerField(_("trainee"))
    enrolment_id = models.BigIntegerField(_("enrolment"))
    session_id = models.BigIntegerField(_("session"))
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("excluded by"),
                                   null=True, on_delete=models.SET_NULL, related_name="+",
                                   db_constraint=False)
    created_at = models.DateTimeField(_("excluded"), auto_now_add=True)
    restored_at = models.DateTimeField(_("restored"), null=True, blank=True)
    restored_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("restored by"),
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", db_constraint=False)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",),
                  trainee=("trainee_id",))

    class Meta:
        verbose_name = _("hours exclusion")
        verbose_name_plural = _("hours exclusions")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["case_id", "enrolment_id", "session_id"],
            condition=models.Q(restored_at__isnull=True), name="exclusion_active_unique")]
        indexes = [models.Index(fields=["session_id"], name="exclusion_session"),
                   models.Index(fields=["case_id"], name="exclusion_case")]

    def __str__(self) -> str:
        return f"case {self.case_id}: enrolment {self.enrolment_id} session {self.session_id}"


class PendingEvidence(models.Model):
    """The evidence outbox: what changed, waiting for ``attendance.process_pending_evidence``.

    Written in the same transaction as the evidence (so it is never lost), consumed by the
    job with ``FOR UPDATE SKIP LOCKED`` (so workers never collide) and deleted once done."""

    kind = models.CharField(_("kind"), max_length=16)
    session_ids = ArrayField(models.BigIntegerField(), default=list)
    trainee_ids = ArrayField(models.BigIntegerField(), default=list)
    institution_ids = ArrayField(models.BigIntegerField(), default=list)
    noted_at = models.DateTimeField(_("noted"), auto_now_add=True)

    class Meta:
        verbose_name = _("pending evidence")
        verbose_name_plural = _("pending evidence")

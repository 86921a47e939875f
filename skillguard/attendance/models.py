"""Attendance evidence: check-ins and check-outs (a monthly-partitioned fact table).

Written in bulk (psycopg COPY) by ``ingest``; read through ``restrict`` like everything else.
No foreign keys point into this table and it holds none of its own: references are checked
by the writer, which keeps COPY fast and lets Citus distribute the table by district.
"""
from __future__ import annotations

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

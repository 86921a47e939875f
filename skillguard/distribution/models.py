"""Aggregation and distribution (汇集分发): who receives which accepted records.

``Subscriber``        a district system (its DockingClient) or a named external receiver;
                      reads its change feed, optionally receives webhooks.
``DistributionRule``  which record types flow to a subscriber, by which district basis
                      (venue, trainee residence, institution, or everything); edits are
                      versioned and written to the audit trail with their reason.
``FeedEntry``         one accepted record version for one subscriber; its bigserial id is
                      the feed cursor (ordered, resumable, at-least-once).
``WebhookDelivery``   one POST of a run of feed entries to a subscriber's webhook; a
                      delivery that keeps failing is kept with its error, never dropped.
``QualitySource``     a docking client seen as a data source of the quality page.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope
from skillguard.ingest.models import DockingClient

# The record types of the docking standard (skillguard/ingest/records.py); "*" = all.
RECORD_TYPES = ("trainee", "teacher", "class", "roster", "session", "checkin",
                "learning_session", "learning_event", "assessment")
ANY_TYPE = "*"


class Basis(models.TextChoices):
    VENUE_DISTRICT = "venue_district", _("Venue district")
    RESIDENCE_DISTRICT = "residence_district", _("Trainee residence district")
    INSTITUTION_DISTRICT = "institution_district", _("Institution district")
    ALL = "all", _("Everything (whole city)")


class Subscriber(models.Model):
    name = models.CharField(_("name"), max_length=128)
    client = models.OneToOneField(DockingClient, verbose_name=_("docking client"), null=True,
                                  blank=True, on_delete=models.PROTECT,
                                  related_name="subscriber")
    district = models.ForeignKey("registry.District", verbose_name=_("district"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    # The HMAC-SHA256 key of the webhook signature, sealed at rest like personal data (the
    # "_enc" suffix also keeps it out of audit snapshots and the admin).
    webhook_secret_enc = models.TextField(_("webhook secret (sealed)"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",))

    class Meta:
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_secret(self) -> str:
        from skillguard.core.crypto import unseal

        return unseal(self.webhook_secret_enc) if self.webhook_secret_enc else ""

    @webhook_secret.setter
    def webhook_secret(self, value: str) -> None:
        from skillguard.core.crypto import seal

        self.webhook_secret_enc = seal(value) if value else ""


class DistributionRule(models.Model):
    subscriber = models.ForeignKey(Subscriber, verbose_name=_("subscriber"),
                                   on_delete=models.PROTECT, related_name="rules")
    record_type = models.CharField(_("record type"), max_length=32, default=ANY_TYPE,
                                   help_text=_('A record type of the docking standard, or "*" '
                                               'for every type'))
    basis = models.CharField(_("basis"), max_length=24, choices=Basis.choices,
                             default=Basis.VENUE_DISTRICT)
    district = models.ForeignKey("registry.District", verbose_name=_("district"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+",
                                 help_text=_("Empty: the subscriber's own district"))
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    reason = models.CharField(_("reason for the last change"), max_length=255, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    changed_at = models.DateTimeField(_("changed"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("subscriber__district",))

    class Meta:
        verbose_name = _("distribution rule")
        verbose_name_plural = _("distribution rules")
        ordering = ["subscriber__name", "record_type", "basis", "pk"]

    def __str__(self) -> str:
        return f"{self.subscriber} · {self.record_type} · {self.get_basis_display()}"

    def audit_anchors(self):
        return self.subscriber.district_id, None

    @property
    def effective_district_id(self):
        return self.district_id or self.subscriber.district_id


class ClockTimestamp(models.Func):
    """PostgreSQL's clock_timestamp(): the time of the statement, not of the transaction."""
    function = "clock_timestamp"
    template = "clock_timestamp()"
    output_field = models.DateTimeField()


class FeedEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    subscriber = models.ForeignKey(Subscriber, verbose_name=_("subscriber"),
                                   on_delete=models.PROTECT, related_name="+")
    record_type = models.CharField(_("record type"), max_length=32)
    external_key = models.CharField(_("record key"), max_length=160)
    version = models.PositiveIntegerField(_("version"), default=1)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The database clock when the row (and so its id) was made: the feed serves an entry
    # only once every transaction that was open at that moment has ended (queries.feed_page).
    acquired_at = models.DateTimeField(db_default=ClockTimestamp(), editable=False)

    objects = RestrictedManager()
    scope = Scope(district=("subscriber__district",))

    class Meta:
        verbose_name = _("feed entry")
        verbose_name_plural = _("feed entries")
        indexes = [models.Index(fields=["subscriber", "id"], name="feed_subscriber_cursor")]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    RETRYING = "retrying", _("Failed, will retry")
    FAILED = "failed", _("Failed, retries exhausted")


class WebhookDelivery(models.Model):
    subscriber = models.ForeignKey(Subscriber, verbose_name=_("subscriber"),
                                   on_delete=models.PROTECT, related_name="deliveries")
    feed_entry = models.ForeignKey(FeedEntry, verbose_name=_("first feed entry"),
                                   on_delete=models.PROTECT, related_name="+")
    last_entry_id = models.BigIntegerField(_("last feed entry"))
    entry_count = models.PositiveIntegerField(_("entries"), default=1)
    status = models.CharField(_("status"), max_length=12, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_status = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("subscriber__district",))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]


class QualitySource(DockingClient):
    """A docking client as a data source of the data-quality page (数据质量)."""

    class Meta:
        proxy = True
        verbose_name = _("data source")
        verbose_name_plural = _("data sources")

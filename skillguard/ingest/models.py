"""Data docking (数据对接): who pushes, what they sent, what became of every record.

``DockingClient``   a registered district system, institution or online provider; signs in
                    through its ``user`` (role api_client), whose anchor is its data scope.
``Submission``      every accepted signed request, raw bytes and all (monthly partitions),
                    so each record traces back to the exact bytes its sender signed.
                    Bodies and payloads are sealed (AES-256-GCM): see ``ingest.sealing``.
``RecordIdentity``  one row per (client, record type, external id): what makes re-sending
                    safe, and the current version of a changed record.
``RecordVersion``   earlier versions of changed records (never overwritten silently).
``QuarantinedRecord`` a record that failed validation, with all its reasons, until the
                    sender corrects and resubmits it.
``IngestBatch``     a large upload processed by the worker, resumable from ``cursor``.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class ClientKind(models.TextChoices):
    DISTRICT_SYSTEM = "district_system", _("District system")
    INSTITUTION = "institution", _("Training institution")
    ONLINE_PROVIDER = "online_provider", _("Whitelisted online provider")


class ClientStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")


class DockingClient(models.Model):
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("type"), max_length=20, choices=ClientKind.choices)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("account"),
                                on_delete=models.PROTECT, related_name="docking_client")
    district = models.ForeignKey("registry.District", verbose_name=_("district"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="docking_clients")
    record_types = models.JSONField(_("record types allowed"), default=list, blank=True,
                                    help_text=_("Empty: every type the client's kind may send"))
    status = models.CharField(_("status"), max_length=12, choices=ClientStatus.choices,
                              default=ClientStatus.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("registered by"),
                                   null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    note = models.TextField(_("note"), blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district", "institution__district"), institution=("institution",))

    class Meta:
        verbose_name = _("docking client")
        verbose_name_plural = _("docking clients")
        ordering = ["name"]
        constraints = [models.CheckConstraint(
            name="docking_client_scope",
            condition=models.Q(district__isnull=False) | models.Q(institution__isnull=False),
            violation_error_message=_("A client needs a district or an institution as scope."))]

    def __str__(self) -> str:
        return self.name

    @property
    def district_key(self) -> int:
        """District in the keys of the client's facts (0 for none)."""
        if self.district_id:
            return self.district_id
        return self.institution.district_id if self.institution_id else 0


class Submission(models.Model):
    pk = models.CompositePrimaryKey("district_id", "received_at", "id")
    id = models.UUIDField(default=uuid.uuid4, editable=False)
    district_id = models.BigIntegerField(_("district"), default=0)
    received_at = models.DateTimeField(_("received"))
    client_id = models.BigIntegerField(_("client"))
    key_id = models.CharField(_("key id"), max_length=64)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=128)
    body = models.BinaryField(_("body"))
    body_key = models.CharField(max_length=32, editable=False, blank=True, default="")
    # A large body lives in ``ingest_submissionpart`` rows (``ingest.bodies``): then ``body``
    # is empty, ``body_parts`` counts the rows and ``body_stored_size`` is their total.
    body_parts = models.IntegerField(default=0, editable=False)
    body_stored_size = models.BigIntegerField(null=True, editable=False)
    body_sha256 = models.CharField(_("body SHA-256"), max_length=64)
    signature_input = models.TextField(_("Signature-Input"))
    signature = models.TextField(_("Signature"))
    record_count = models.PositiveIntegerField(_("records"), default=0)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",))

    class Meta:
        managed = False  # partitioned; created in raw SQL by migration
        db_table = "ingest_submission"
        verbose_name = _("signed submission")
        verbose_name_plural = _("signed submissions")


class RecordIdentity(models.Model):
    # No index of its own: the unique (client, record type, external id) index leads with
    # it, and every identity a batch claims would otherwise update one more index.
    client = models.ForeignKey(DockingClient, verbose_name=_("source"),
                               on_delete=models.PROTECT, related_name="+", db_index=False)
    record_type = models.CharField(_("record type"), max_length=32)
    external_id = models.CharField(_("external id"), max_length=64)
    version = models.PositiveIntegerField(_("version"), default=1)
    payload_sha256 = models.CharField(_("payload SHA-256"), max_length=64)
    target = models.CharField(_("stored as"), max_length=128,
                              help_text=_("table:key of the row the record became"))
    district_id = models.BigIntegerField(_("district"), default=0)
    institution_id = models.BigIntegerField(_("institution"), null=True)
    first_submission_id = models.UUIDField(_("first submission"))
    last_submission_id = models.UUIDField(_("last submission"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("record identity")
        verbose_name_plural = _("record identities")
        constraints = [models.UniqueConstraint(fields=["client", "record_type", "external_id"],
                                               name="record_identity_unique")]


class RecordVersion(models.Model):
    identity = models.ForeignKey(RecordIdentity, verbose_name=_("record"),
                                 on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    payload = models.JSONField(_("payload"))
    payload_enc = models.TextField(editable=False, blank=True, default="")
    submission_id = models.UUIDField(_("submission"))
    replaced_at = models.DateTimeField(_("replaced"), auto_now_add=True)

    class Meta:
        verbose_name = _("earlier record version")
        verbose_name_plural = _("earlier record versions")
        constraints = [models.UniqueConstraint(fields=["identity", "version"],
                                               name="record_version_unique")]


class QuarantineStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESUBMITTED = "resubmitted", _("Corrected and accepted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class QuarantinedRecord(models.Model):
    client = models.ForeignKey(DockingClient, verbose_name=_("source"),
                               on_delete=models.PROTECT, related_name="quarantine")
    district_id = models.BigIntegerField(_("district"), default=0)
    institution_id = models.BigIntegerField(_("institution"), null=True)
    record_type = models.CharField(_("record type"), max_length=32)
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    submission_id = models.UUIDField(_("submission"))
    batch = models.ForeignKey("IngestBatch", verbose_name=_("batch"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="quarantined")
    line_number = models.PositiveIntegerField(_("line"), null=True, blank=True)
    payload = models.JSONField(_("payload"))
    payload_enc = models.TextField(editable=False, blank=True, default="")
    problems = models.JSONField(_("problems"))
    status = models.CharField(_("status"), max_length=12, choices=QuarantineStatus.choices,
                              default=QuarantineStatus.OPEN, db_index=True)
    created_at = models.DateTimeField(_("quarantined"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by_submission_id = models.UUIDField(_("resolved by submission"), null=True,
                                                 blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("quarantined record")
        verbose_name_plural = _("quarantined records")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client", "record_type", "external_id"],
                                name="quarantine_identity")]


class BatchStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Processing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class IngestBatch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(DockingClient, verbose_name=_("source"),
                               on_delete=models.PROTECT, related_name="batches")
    district_id = models.BigIntegerField(_("district"), default=0)
    institution_id = models.BigIntegerField(_("institution"), null=True)
    submission_id = models.UUIDField(_("submission"))
    submission_received_at = models.DateTimeField(_("received"))
    record_type = models.CharField(_("record type"), max_length=32)
    file_format = models.CharField(_("format"), max_length=8)  # jsonl, csv, xlsx
    status = models.CharField(_("status"), max_length=12, choices=BatchStatus.choices,
                              default=BatchStatus.QUEUED, db_index=True)
    total = models.PositiveIntegerField(_("records"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged (already received)"), default=0)
    cursor = models.PositiveIntegerField(_("resume after line"), default=0)
    # Runs started at the same cursor: a batch that kills its worker every time (out of
    # memory, a bug) fails after ingest.batches.MAX_STALLED_RUNS instead of looping for ever.
    stalled_runs = models.PositiveIntegerField(_("runs without progress"), default=0)
    stalled_cursor = models.PositiveIntegerField(default=0, editable=False)
    # The worker's lease: moved at the start of every run and with every committed chunk.
    # A batch in processing whose lease is older than SKILLGUARD_BATCH_HUNG_MINUTES has a
    # worker that is alive but makes no progress; its connection is ended (batches.py).
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")
        ordering = ["-created_at"]

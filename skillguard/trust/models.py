"""Identity and trust for the docking API: client keys, enrolment codes, seen nonces and the
platform's own response-signing key.

``ClientKey``       a public key a docking client signs its requests with (several active
                    keys at once allow rotation); revocation and expiry act on the next
                    request, nothing is cached.
``EnrolmentCode``   the one-time code (24 h) with which a new client uploads its first key.
``SeenNonce``       (key id, nonce) pairs already used: a second use is a replay. Rows older
                    than twice the allowed clock skew are purged by ``trust.tasks``.
``ServerKey``       the platform's Ed25519 response-signing keys, public half only (the
                    private key lives in DATA_DIR/keys or SKILLGUARD_SERVER_SIGNING_KEY).
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class Algorithm(models.TextChoices):
    ED25519 = "ed25519", "Ed25519"
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256", "ECDSA P-256 / SHA-256"
    SM2_SM3 = "sm2-sm3", "SM2 / SM3"


class KeyStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")


KEY_LIFETIME = dt.timedelta(days=365)
ENROLMENT_LIFETIME = dt.timedelta(hours=24)


def _default_not_after():
    return timezone.now() + KEY_LIFETIME


def _default_enrolment_expiry():
    return timezone.now() + ENROLMENT_LIFETIME


class ClientKey(models.Model):
    client = models.ForeignKey("ingest.DockingClient", verbose_name=_("client"),
                               on_delete=models.PROTECT, related_name="keys")
    key_id = models.CharField(_("key id"), max_length=64, unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=24, choices=Algorithm.choices)
    public_key_pem = models.TextField(_("public key (PEM)"))
    fingerprint = models.CharField(_("fingerprint (SHA-256 of DER)"), max_length=64,
                                   db_index=True)
    status = models.CharField(_("status"), max_length=12, choices=KeyStatus.choices,
                              default=KeyStatus.ACTIVE)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    not_after = models.DateTimeField(_("expires"), default=_default_not_after)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("revoked by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("client__district", "client__institution__district"),
                  institution=("client__institution",))

    class Meta:
        verbose_name = _("client key")
        verbose_name_plural = _("client keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.key_id

    def audit_anchors(self):
        client = self.client
        return client.district_key or None, client.institution_id

    @property
    def is_expired(self) -> bool:
        return self.not_after <= timezone.now()


class EnrolmentCode(models.Model):
    client = models.ForeignKey("ingest.DockingClient", verbose_name=_("client"),
                               on_delete=models.CASCADE, related_name="enrolment_codes")
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), default=_default_enrolment_expiry)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("issued by"),
                                   null=True, on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedManager()
    scope = Scope(district=("client__district", "client__institution__district"),
                  institution=("client__institution",))

    class Meta:
        verbose_name = _("enrolment code")
        verbose_name_plural = _("enrolment codes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.client} {self.created_at:%Y-%m-%d %H:%M}"

    def audit_anchors(self):
        return self.client.district_key or None, self.client.institution_id


class SeenNonce(models.Model):
    key_id = models.CharField(_("key id"), max_length=80)
    nonce = models.CharField(_("nonce"), max_length=128)
    seen_at = models.DateTimeField(_("seen"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("seen nonce")
        verbose_name_plural = _("seen nonces")
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"],
                                               name="seen_nonce_unique")]


class ServerKey(models.Model):
    key_id = models.CharField(_("key id"), max_length=64, unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=24, choices=Algorithm.choices,
                                 default=Algorithm.ED25519)
    public_key_pem = models.TextField(_("public key (PEM)"))
    fingerprint = models.CharField(_("fingerprint (SHA-256 of DER)"), max_length=64,
                                   unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    class Meta:
        verbose_name = _("server signing key")
        verbose_name_plural = _("server signing keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key_id

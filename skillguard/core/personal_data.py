"""Personal data stored sealed: three columns per value, never the plaintext.

``<name>_enc``    AES-GCM ciphertext (see core.crypto)
``<name>_hash``   keyed hash for exact lookup
``<name>_masked`` what screens show (310***********1234)

Reading the attribute gives the masked form. The full value is only available through
``audit.services.reveal_personal_data``, which checks the permission and logs the read.
"""
from __future__ import annotations

from django.db import models

from skillguard.core import crypto


class PersonalData:
    def __init__(self, normalise, mask):
        self.normalise, self.mask = normalise, mask

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return getattr(instance, f"{self.name}_masked")

    def __set__(self, instance, value):
        value = self.normalise(value or "")
        setattr(instance, f"{self.name}_enc", crypto.seal(value))
        setattr(instance, f"{self.name}_hash", crypto.lookup_hash(value))
        setattr(instance, f"{self.name}_masked", self.mask(value) if value else "")


def sealed_columns(verbose_name, max_masked: int = 32, unique: bool = False, blank=False):
    """The three model fields backing one PersonalData attribute."""
    return (
        models.TextField(editable=False, blank=True, default=""),
        models.CharField(max_length=64, editable=False, blank=True, default="",
                         db_index=not unique, unique=unique if not blank else False),
        models.CharField(verbose_name, max_length=max_masked, editable=False, blank=True,
                         default=""),
    )


def unseal(instance, name: str) -> str:
    return crypto.unseal(getattr(instance, f"{name}_enc"))


def lookup(name: str, normalised_value: str) -> dict:
    return {f"{name}_hash": crypto.lookup_hash(normalised_value)}

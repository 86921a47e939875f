"""Encryption of personal data at rest.

Values are sealed with AES-256-GCM; the stored form is ``key_id:base64(nonce||ct)`` so
keys can rotate: the last configured key encrypts, every configured key decrypts, and
``skillguard rotate-field-keys`` re-seals old rows. A separate HMAC-SHA256 "blind
index" of the normalised value allows exact lookup (find a trainee by ID number)
without ever storing the plaintext.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

ASSOCIATED_DATA = b"skillguard-pii-v1"


class KeyRing:
    def __init__(self, spec: str):
        self.keys: dict[str, AESGCM] = {}
        order = []
        for part in spec.replace("\n", ",").split(","):
            part = part.strip()
            if not part:
                continue
            key_id, _, material = part.partition(":")
            raw = base64.b64decode(material)
            if len(raw) != 32:
                raise ValueError(f"field key {key_id!r} must be 32 bytes (base64)")
            self.keys[key_id] = AESGCM(raw)
            order.append(key_id)
        if not order:
            raise ValueError("no field encryption key configured")
        self.current_id = order[-1]

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = self.keys[self.current_id].encrypt(nonce, plaintext.encode(), ASSOCIATED_DATA)
        return f"{self.current_id}:{base64.b64encode(nonce + ct).decode()}"

    def open(self, sealed: str) -> str:
        key_id, _, body = sealed.partition(":")
        raw = base64.b64decode(body)
        return self.keys[key_id].decrypt(raw[:12], raw[12:], ASSOCIATED_DATA).decode()

    def needs_rotation(self, sealed: str) -> bool:
        return not sealed.startswith(self.current_id + ":")


@functools.lru_cache(maxsize=4)
def _keyring(spec: str) -> KeyRing:
    return KeyRing(spec)


def keyring() -> KeyRing:
    return _keyring(settings.FIELD_ENCRYPTION_KEYS)


def seal(plaintext: str) -> str:
    return keyring().seal(plaintext) if plaintext else ""


def unseal(sealed: str) -> str:
    return keyring().open(sealed) if sealed else ""


@functools.lru_cache(maxsize=4)
def _lookup_key(spec: str) -> bytes:
    return base64.b64decode(spec)


def lookup_hash(normalised_value: str) -> str:
    """Keyed hash for exact-match lookup; empty for empty values."""
    if not normalised_value:
        return ""
    key = _lookup_key(settings.LOOKUP_HASH_KEY)
    return hmac.new(key, normalised_value.encode(), hashlib.sha256).hexdigest()

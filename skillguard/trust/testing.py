"""Test helpers: docking clients with keys, and signed requests through Django's client."""
from __future__ import annotations

import json as jsonlib
from urllib.parse import urlsplit

from skillguard.trust import client as ref

DOCKING_PREFIX = "/api/docking/v1"


def docking_client_for(institution=None, *, district=None, name: str | None = None):
    """A docking client (created once per name) for an institution or a district."""
    from skillguard.ingest import clients
    from skillguard.ingest.models import ClientKind, DockingClient

    name = name or f"对接客户端-{institution.pk if institution else 'd' + str(district.pk)}"
    existing = DockingClient.objects.filter(name=name).first()
    if existing:
        return existing
    kind = ClientKind.INSTITUTION if institution is not None else ClientKind.DISTRICT_SYSTEM
    client, _code = clients.register_client(None, name=name, kind=kind, district=district,
                                            institution=institution)
    return client


def add_key(client, alg: str = "ed25519"):
    """A registered active key for ``client``: (ClientKey, private key)."""
    from skillguard.trust import services

    private_key, public_pem = ref.generate_key(alg)
    key = services._create_key(None, client, alg, public_pem)
    return key, private_key


class Signer:
    """Sends signed requests with Django's test client."""

    def __init__(self, http, key_id: str, private_key, alg: str = "ed25519"):
        self.http, self.key_id, self.private_key, self.alg = http, key_id, private_key, alg

    def headers(self, method, url, body: bytes, content_type: str, **overrides):
        parts = urlsplit(url)
        signed = ref.sign_request(method, parts.path, parts.query, body, content_type,
                                  overrides.pop("key_id", self.key_id),
                                  overrides.pop("private_key", self.private_key),
                                  overrides.pop("alg", self.alg), **overrides)
        return signed

    def request(self, method: str, url: str, json=None, body: bytes | None = None,
                content_type: str = "application/json", extra_headers=None, **overrides):
        if json is not None:
            body = jsonlib.dumps(json).encode()
        body = body or b""
        if not body:  # Django's client sends no Content-Type without a body
            content_type = ""
        headers = self.headers(method, url, body, content_type, **overrides)
        headers.update(extra_headers or {})
        return send(self.http, method, url, body, headers)


def send(http, method: str, url: str, body: bytes, headers: dict):
    """One request with exactly these headers and body."""
    headers = dict(headers)
    content_type = headers.pop("Content-Type", "")
    kwargs = {"data": body, "content_type": content_type} if content_type else {}
    if not content_type and body:
        kwargs = {"data": body, "content_type": ""}
    return http.generic(method.upper(), url, headers=headers, **kwargs)

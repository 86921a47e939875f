"""Docking API: client keys and the platform's public keys (attached to ``docking_api``).

POST /keys                 register a key: the first with ``Authorization: Enrolment <code>``
                           (request signed with the new key), later ones signed with an
                           active key (several active keys: rotation)
GET  /keys                 the calling client's keys
POST /keys/{key_id}/revoke revoke one of the client's own keys (effective at once)
GET  /server-keys          the platform's response-signing public keys (no authentication)
GET  /whoami               the calling client (checks a signature setup end to end)
"""
from __future__ import annotations

import datetime as dt

from django.http import Http404
from ninja import Field, Router, Schema, Status

from skillguard.registry.schemas import ErrorsOut
from skillguard.trust import queries, services
from skillguard.trust.auth import EnrolmentAuth, SignedRequestAuth
from skillguard.trust.models import Algorithm, ServerKey

router = Router(tags=["keys 密钥"])
# Refusals every signed operation may answer: 400 (e.g. NUL characters), 401 (signature),
# 404, 422 (parameters).
ERRORS = {400: ErrorsOut, 401: ErrorsOut, 404: ErrorsOut, 422: ErrorsOut}


class KeyIn(Schema):
    algorithm: str = Field(..., description="ed25519 | ecdsa-p256-sha256 | sm2-sm3",
                           examples=[Algorithm.ED25519])
    public_key_pem: str = Field(..., max_length=4000,
                                description="SubjectPublicKeyInfo PEM / 公钥 PEM")


class KeyOut(Schema):
    key_id: str
    algorithm: str
    fingerprint: str
    status: str
    created_at: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class ServerKeyOut(Schema):
    key_id: str
    algorithm: str
    public_key_pem: str
    fingerprint: str
    created_at: dt.datetime
    retired_at: dt.datetime | None = None


class ServerKeysOut(Schema):
    current: str
    keys: list[ServerKeyOut]


class WhoamiOut(Schema):
    client: str
    kind: str
    key_id: str


@router.post("/keys", auth=[EnrolmentAuth(), SignedRequestAuth()], response={201: KeyOut, **ERRORS},
             operation_id="registerKey", summary="Register a public key / 上传公钥")
def register_key(request, payload: KeyIn):
    enrolment = getattr(request, "enrolment", None)
    if enrolment is not None:
        code, parts = enrolment
        key = services.enrol_first_key(code, parts, algorithm=payload.algorithm,
                                       public_key_pem=payload.public_key_pem)
    else:
        key = services.add_key(request.docking_client, algorithm=payload.algorithm,
                               public_key_pem=payload.public_key_pem)
    return Status(201, key)


@router.get("/keys", auth=SignedRequestAuth(), response={200: list[KeyOut], **ERRORS},
            operation_id="listKeys", summary="The client's keys / 本客户端的密钥")
def list_keys(request):
    return list(queries.own_keys(request.docking_client))


@router.post("/keys/{key_id}/revoke", auth=SignedRequestAuth(),
             response={200: KeyOut, **ERRORS}, operation_id="revokeKey",
             summary="Revoke a key / 吊销密钥")
def revoke_key(request, key_id: str):
    key = queries.own_key(request.docking_client, key_id)
    if key is None:
        raise Http404
    return services.revoke_key(None, key, by_client=request.docking_client)


@router.get("/server-keys", auth=None, response=ServerKeysOut, operation_id="serverKeys",
            summary="Platform signing keys / 平台签名公钥")
def server_keys(request):
    _private, current = services.server_key()
    return {"current": current.key_id, "keys": list(ServerKey.objects.order_by("-created_at"))}


@router.get("/whoami", auth=SignedRequestAuth(), response={200: WhoamiOut, **ERRORS},
            operation_id="whoami", summary="The calling client / 当前客户端")
def whoami(request):
    client = request.docking_client
    return {"client": client.name, "kind": client.kind, "key_id": request.verified.key.key_id}

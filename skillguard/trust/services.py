"""Writes of identity and trust: enrolment codes, client keys (enrol, add, revoke), and the
platform's response-signing key. Every key event is audited in the same transaction."""
from __future__ import annotations

import functools
import hashlib
import os
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.audit import services as audit
from skillguard.core.errors import Problems
from skillguard.core.scoping import access
from skillguard.trust import client as ref
from skillguard.trust.models import (
    Algorithm,
    ClientKey,
    EnrolmentCode,
    KeyStatus,
    ServerKey,
)
from skillguard.trust.signatures import (
    SignatureError,
    SignedParts,
    check_signature,
    remember_nonce,
)

ENROLMENT_PREFIX = "EC-"
MAX_ACTIVE_KEYS = 5


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def new_key_id() -> str:
    return "k_" + secrets.token_urlsafe(12)[:16]


# --------------------------------------------------------------------------- enrolment codes


@transaction.atomic
def issue_enrolment_code(actor, client) -> tuple[EnrolmentCode, str]:
    """A one-time code (24 h) with which the client uploads its first key. Earlier unused
    codes of the client stop working. Returns the record and the plaintext (shown once)."""
    from skillguard.ingest.models import DockingClient

    if actor is not None:
        access(DockingClient, actor, client.pk, "change")
    now = timezone.now()
    EnrolmentCode.objects.filter(client=client, used_at__isnull=True,
                                 expires_at__gt=now).update(expires_at=now)
    plaintext = ENROLMENT_PREFIX + secrets.token_urlsafe(24)
    code = EnrolmentCode.objects.create(client=client, code_hash=hash_code(plaintext),
                                        created_by=actor if getattr(actor, "pk", None)
                                        else None)
    audit.record_created(actor, code)
    return code, plaintext


def usable_enrolment_code(plaintext: str) -> EnrolmentCode | None:
    """The code if it exists, is unused and unexpired (not consumed here)."""
    return (EnrolmentCode.objects.select_related("client", "client__user")
            .filter(code_hash=hash_code(plaintext), used_at__isnull=True,
                    expires_at__gt=timezone.now()).first())


# --------------------------------------------------------------------------- keys


def _validate_public_key(problems: Problems, algorithm: str, public_key_pem: str) -> str:
    """The fingerprint, or problems added."""
    if algorithm not in Algorithm.values or algorithm not in ref.SCHEMES:
        problems.add("algorithm", "unsupported_algorithm",
                     _("algorithm not supported on this server"))
        return ""
    try:
        fp = ref.fingerprint(public_key_pem)
    except Exception:  # noqa: BLE001 - not base64 / not PEM
        problems.add("public_key_pem", "invalid", _("is not a PEM public key"))
        return ""
    if algorithm == Algorithm.SM2_SM3:
        return fp
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = ref.load_public_key(public_key_pem)
    except Exception:  # noqa: BLE001
        problems.add("public_key_pem", "invalid", _("is not a PEM public key"))
        return ""
    ok = (isinstance(key, ed25519.Ed25519PublicKey) if algorithm == Algorithm.ED25519 else
          isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1")
    if not ok:
        problems.add("public_key_pem", "wrong_key_type",
                     _("the key does not belong to the chosen algorithm"))
    return fp


def _create_key(actor, client, algorithm: str, public_key_pem: str) -> ClientKey:
    problems = Problems(ClientKey, client.name)
    public_key_pem = (public_key_pem or "").strip() + "\n"
    fp = _validate_public_key(problems, algorithm, public_key_pem)
    if fp and ClientKey.objects.filter(fingerprint=fp).exists():
        problems.add("public_key_pem", "duplicate", _("this key is already registered"))
    active = ClientKey.objects.filter(client=client, status=KeyStatus.ACTIVE,
                                      not_after__gt=timezone.now()).count()
    if active >= MAX_ACTIVE_KEYS:
        problems.add("", "too_many_keys", _("revoke an old key first: at most 5 active keys"))
    problems.raise_if_any()
    key = ClientKey.objects.create(client=client, key_id=new_key_id(), algorithm=algorithm,
                                   public_key_pem=public_key_pem, fingerprint=fp)
    audit.record_created(actor, key)
    return key


@transaction.atomic
def enrol_first_key(code_plaintext: str, parts: SignedParts, *, algorithm: str,
                    public_key_pem: str) -> ClientKey:
    """Register a key with an enrolment code. ``parts`` is the request, which must be
    signed with the NEW key (keyid ``sha256:<fingerprint>``): proof of possession."""
    code = (EnrolmentCode.objects.select_for_update()
            .filter(code_hash=hash_code(code_plaintext), used_at__isnull=True,
                    expires_at__gt=timezone.now()).first())
    if code is None:
        raise SignatureError("enrolment_code_invalid")
    client = code.client
    from skillguard.ingest.models import ClientStatus

    if client.status != ClientStatus.ACTIVE or not client.user.is_active:
        raise SignatureError("client_suspended")
    problems = Problems(ClientKey, client.name)
    fp = _validate_public_key(problems, algorithm, (public_key_pem or "").strip() + "\n")
    problems.raise_if_any()
    if parts.key_id != "sha256:" + fp:
        raise SignatureError("bad_signature", "keyid must be sha256:<fingerprint of the new "
                             "key> (proof of possession)")
    check_signature(parts, public_key_pem, algorithm)
    remember_nonce(parts.key_id, parts.nonce)
    key = _create_key(client.user, client, algorithm, public_key_pem)
    before = audit.snapshot(code)
    code.used_at = timezone.now()
    code.save(update_fields=["used_at"])
    audit.record_updated(client.user, code, before, comment=f"enrolled {key.key_id}")
    return key


@transaction.atomic
def add_key(client, *, algorithm: str, public_key_pem: str) -> ClientKey:
    """A further key (rotation), requested with a request signed by an active key."""
    return _create_key(client.user, client, algorithm, public_key_pem)


@transaction.atomic
def revoke_key(actor, key: ClientKey, *, by_client=None, comment: str = "") -> ClientKey:
    """Revoke a key: refused from its next request on. ``actor`` is a platform user (scope
    checked) or, with ``by_client``, the client itself revoking one of its own keys."""
    if by_client is not None:
        if key.client_id != by_client.pk:
            from django.http import Http404

            raise Http404
        actor = by_client.user
    elif actor is not None:
        key = access(ClientKey, actor, key.pk, "change")
    key = ClientKey.objects.select_for_update().get(pk=key.pk)
    if key.status == KeyStatus.REVOKED:
        return key
    before = audit.snapshot(key)
    key.status = KeyStatus.REVOKED
    key.revoked_at = timezone.now()
    key.revoked_by = actor if getattr(actor, "pk", None) else None
    key.save(update_fields=["status", "revoked_at", "revoked_by"])
    audit.record_updated(actor, key, before, comment=comment or "revoked")
    return key


# --------------------------------------------------------------------------- server key


def _server_private_pem() -> str:
    env = os.environ.get("SKILLGUARD_SERVER_SIGNING_KEY", "").strip()
    if env:
        return env.replace("\\n", "\n")
    path = settings.DATA_DIR / "keys" / "server-ed25519.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_key, _pem = ref.generate_key("ed25519")
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(ref.private_key_pem(private_key))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: concurrent first uses agree on one key
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return path.read_text()


@functools.lru_cache(maxsize=4)
def _load_server_key(pem: str):
    private_key = ref.load_private_key(pem)
    public_pem = ref.SCHEMES["ed25519"].public_pem(private_key)
    return private_key, public_pem, ref.fingerprint(public_pem)


def server_key() -> tuple[object, ServerKey]:
    """The platform's Ed25519 private key and its published record (made at first use)."""
    private_key, public_pem, fp = _load_server_key(_server_private_pem())
    record = ServerKey.objects.filter(fingerprint=fp).first()
    if record is None:
        record, _created = ServerKey.objects.get_or_create(
            fingerprint=fp, defaults={"key_id": "s_" + fp[:16], "public_key_pem": public_pem,
                                      "algorithm": Algorithm.ED25519})
        ServerKey.objects.filter(retired_at__isnull=True).exclude(pk=record.pk).update(
            retired_at=timezone.now())
    return private_key, record


def sign_response(body: bytes, *, content_type: str = "application/json",
                  status: int = 200) -> dict[str, str]:
    """Headers that sign a docking API response with the server key: Content-Digest,
    Signature-Input (``sg=("@status" "content-digest" "content-type");created=…;
    keyid="s_…";alg="ed25519"``) and Signature. Set them on the response together with
    exactly this Content-Type; clients check with ``trust.client.verify_response``."""
    private_key, record = server_key()
    digest = ref.content_digest(body or b"")
    params = [("created", int(time.time())), ("keyid", record.key_id), ("alg", "ed25519")]
    serialized = ref.serialize_params(ref.RESPONSE_COMPONENTS, params)
    values = {"@status": str(int(status)), "content-digest": digest,
              "content-type": content_type.strip()}
    signature = ref.SCHEMES["ed25519"].sign(
        private_key, ref.signature_base(values, ref.RESPONSE_COMPONENTS, serialized))
    return {"Content-Digest": digest, "Signature-Input": f"{ref.LABEL}={serialized}",
            "Signature": f"{ref.LABEL}=:{ref.b64(signature)}:"}

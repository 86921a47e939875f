"""Signed requests of the docking API (数据对接请求签名) — RFC 9421 subset.

This docstring is the normative description; the docking standard copies it.

Headers a client sends with EVERY docking request (GET included)
------------------------------------------------------------------
``Content-Digest: sha-256=:<base64 of SHA-256 of the raw body>:``   (RFC 9530; an empty
    body has the digest of zero bytes; other algorithms may be listed besides sha-256,
    only sha-256 is checked and it is required)
``Signature-Input: sg=("@method" "@path" "@query" "content-digest" "content-type");created=<unix seconds>;nonce="<random>";keyid="<key id>";alg="<algorithm>"``
``Signature: sg=:<base64 signature>:``

* The label is ``sg``; other labels in the same headers are ignored.
* The covered components MUST include these five, in any order; further covered
  components may only be request header names (lower case), which must then be present.
  Component parameters (``;sf``, ``;key``, …) are not supported.
* Parameters: ``created`` (integer, required), ``nonce`` (string of 8–128 printable
  characters, required, never used twice with the same key), ``keyid`` (required: the key
  id the platform assigned, ``k_…``; for the proof of possession of a key being enrolled,
  ``sha256:<hex fingerprint of the new key>``), ``alg`` (required, one of the algorithms
  below, and it must be the algorithm registered for the key), ``expires`` (optional
  integer). Other parameters are signed but otherwise ignored.
* ``created`` must be within ``SKILLGUARD_SIGNATURE_SKEW_S`` (default 300) seconds of the
  server clock, and ``expires`` (if sent) not in the past.

Component values
    ``@method``         the method in upper case: ``POST``
    ``@path``           the request path, percent-decoded as UTF-8, then percent-encoded
                        again keeping ``A–Z a–z 0–9 / ! $ & ' ( ) * + , ; = : @ - . _ ~``
                        (for plain ASCII paths: the path as sent): ``/api/docking/v1/keys``
    ``@query``          ``?`` then the query string exactly as sent, ``?`` alone when there
                        is none: ``?since=2026-01-01&page=2``
    ``content-digest``  the header value, leading and trailing spaces removed
    ``content-type``    the header value, trimmed; a request without Content-Type signs
                        the empty string (the value after ``: `` is then empty)
    other headers       the header value, trimmed

Signature base (RFC 9421 §2.5): for each covered component, in the order listed, a line
``"<name>": <value>``, then the line ``"@signature-params": <inner list and parameters
exactly as serialised per RFC 8941>``; lines joined by a single LF, no LF at the end, UTF-8.
Example (ed25519)::

    "@method": POST
    "@path": /api/docking/v1/keys
    "@query": ?
    "content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
    "content-type": application/json
    "@signature-params": ("@method" "@path" "@query" "content-digest" "content-type");created=1767225600;nonce="n0nce-0001";keyid="k_ABCDEFGHIJKLMNOP";alg="ed25519"

Algorithms (``alg``)
    ``ed25519``            Ed25519 over the base (RFC 8032); 64-byte signature.
    ``ecdsa-p256-sha256``  ECDSA on P-256 with SHA-256; the signature is raw ``r‖s``
                           (32 + 32 bytes, big-endian), as RFC 9421 §3.3.4 — NOT DER.
    ``sm2-sm3``            SM2 with SM3 (raw ``r‖s``), only on servers where the optional
                           ``gmssl`` package is installed; elsewhere ``unsupported_algorithm``.
Public keys are PEM SubjectPublicKeyInfo; the fingerprint is the hex SHA-256 of the DER.

Refusals (HTTP 401, error body ``{"errors": [{code, message_zh, message_en, …}]}``)
    missing_signature      no Signature or Signature-Input header (or no ``sg`` label)
    malformed_signature    the headers cannot be parsed, or a parameter is missing/invalid
    uncovered_component    one of the five required components is not covered
    unsupported_algorithm  ``alg`` unknown or not available on this server
    stale_timestamp        ``created`` too far from the server clock, or ``expires`` passed
    bad_digest             Content-Digest missing or not the SHA-256 of the body
    unknown_key            no key with this key id
    revoked_key            the key was revoked
    expired_key            the key's validity (``not_after``, one year) has ended
    client_suspended       the client (or its account) is suspended or revoked
    bad_signature          the signature does not verify with the key (or ``alg`` is not
                           the key's algorithm)
    replayed_nonce         this nonce was already used with this key
Checks run in this order; the nonce is recorded only once the signature verified.
Revocation, expiry and suspension are read from the database on every request.

Server side API
---------------
``verify_request(method, path, query, headers, body) -> VerifiedRequest`` (or raises
``SignatureError(code, detail)``); ``inspect_request`` (everything that needs no key) and
``check_signature`` / ``remember_nonce`` are its steps, used by key enrolment.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from skillguard.trust.client import (
    REQUIRED_COMPONENTS,
    SCHEMES,
    content_digest,
    request_component_values,
    serialize_params,
    signature_base,
)

LABEL = "sg"
DEFAULT_SKEW_S = 300
NONCE_RE = re.compile(r"^[\x21-\x7e]{8,128}$")
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)

MESSAGES = {
    "missing_signature": ("请求未签名：需要 Signature 与 Signature-Input 头。",
                          "The request is not signed: send Signature and Signature-Input."),
    "malformed_signature": ("签名头格式不正确。", "The signature headers are malformed."),
    "uncovered_component": ("签名未覆盖必需的组成部分。",
                            "The signature does not cover a required component."),
    "unsupported_algorithm": ("不支持该签名算法。", "The signature algorithm is not supported."),
    "stale_timestamp": ("签名时间与服务器时间相差过大或已过期。",
                        ("The signature's creation time is too far from the server clock, "
                         "or it has expired.")),
    "bad_digest": ("Content-Digest 缺失或与请求体不符。",
                   "Content-Digest is missing or does not match the body."),
    "unknown_key": ("密钥编号不存在。", "No key has this key id."),
    "revoked_key": ("该密钥已被吊销。", "The key has been revoked."),
    "expired_key": ("该密钥已过有效期。", "The key has expired."),
    "client_suspended": ("该对接客户端已被暂停或注销。",
                         "The docking client is suspended or revoked."),
    "bad_signature": ("签名校验失败。", "The signature does not verify."),
    "replayed_nonce": ("该 nonce 已使用过（重放）。", "This nonce was already used (replay)."),
    "enrolment_code_invalid": ("注册码无效、已使用或已过期。",
                               "The enrolment code is invalid, used or expired."),
}


class SignatureError(Exception):
    """A refused signature: ``code`` as in the module docstring, HTTP 401."""

    status = 401

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail

    def as_dict(self) -> dict:
        zh, en = MESSAGES.get(self.code, MESSAGES["malformed_signature"])
        suffix = f" ({self.detail})" if self.detail else ""
        return {"record": "", "field": "Signature", "code": self.code,
                "message_zh": zh + suffix, "message_en": en + suffix}

    def as_list(self) -> list[dict]:
        return [self.as_dict()]


def skew_seconds() -> int:
    return int(getattr(settings, "SKILLGUARD_SIGNATURE_SKEW_S", DEFAULT_SKEW_S))


# --------------------------------------------------------------------------- parsing (RFC 8941 subset)


class _Parser:
    KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
    INT = re.compile(r"-?[0-9]{1,15}")
    TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")

    def __init__(self, text: str):
        self.s, self.i = text, 0

    def fail(self, what: str):
        raise SignatureError("malformed_signature", what)

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def sp(self):
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, ch: str):
        if self.peek() != ch:
            self.fail(f"expected {ch!r} at {self.i}")
        self.i += 1

    def key(self) -> str:
        m = self.KEY.match(self.s, self.i)
        if not m:
            self.fail(f"expected a key at {self.i}")
        self.i = m.end()
        return m.group()

    def string(self) -> str:
        self.expect('"')
        out = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            self.i += 1
            if ch == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    self.fail("bad escape in a string")
                out.append(nxt)
                self.i += 1
            elif ch == '"':
                return "".join(out)
            elif not (0x20 <= ord(ch) <= 0x7E):
                self.fail("non-printable character in a string")
            else:
                out.append(ch)
        self.fail("unterminated string")

    def bare_item(self):
        ch = self.peek()
        if ch == '"':
            return self.string()
        m = self.INT.match(self.s, self.i)
        if m and (ch.isdigit() or ch == "-"):
            if self.peek_after(m.end()) == ".":
                self.fail("decimals are not supported")
            self.i = m.end()
            return int(m.group())
        if ch == "?":
            self.i += 1
            value = self.peek()
            if value not in ("0", "1"):
                self.fail("bad boolean")
            self.i += 1
            return value == "1"
        m = self.TOKEN.match(self.s, self.i)
        if m:
            self.i = m.end()
            return m.group()
        if ch == ":":
            return self.byte_sequence()
        self.fail(f"unexpected {ch!r} at {self.i}")

    def peek_after(self, pos: int) -> str:
        return self.s[pos] if pos < len(self.s) else ""

    def byte_sequence(self) -> bytes:
        self.expect(":")
        end = self.s.find(":", self.i)
        if end < 0:
            self.fail("unterminated byte sequence")
        raw = self.s[self.i:end]
        self.i = end + 1
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            self.fail("bad base64")

    def params(self) -> list[tuple[str, object]]:
        out = []
        while self.peek() == ";":
            self.i += 1
            self.sp()
            name = self.key()
            value: object = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            out.append((name, value))
        return out

    def member_value(self):
        if self.peek() == "(":
            self.i += 1
            items = []
            while True:
                self.sp()
                if self.peek() == ")":
                    self.i += 1
                    break
                item = self.bare_item()
                if self.peek() == ";":
                    self.fail("component parameters are not supported")
                items.append(item)
                if self.peek() not in (" ", ")"):
                    self.fail(f"unexpected {self.peek()!r} in an inner list")
            return items, self.params()
        return self.bare_item(), self.params()

    def dictionary(self) -> dict[str, tuple[object, list]]:
        out = {}
        self.ws()
        while self.i < len(self.s):
            name = self.key()
            if self.peek() == "=":
                self.i += 1
                out[name] = self.member_value()
            else:
                out[name] = (True, self.params())
            self.ws()
            if self.i >= len(self.s):
                break
            self.expect(",")
            self.ws()
            if self.i >= len(self.s):
                self.fail("trailing comma")
        return out


def parse_dictionary(text: str) -> dict[str, tuple[object, list]]:
    return _Parser(text.strip()).dictionary()


# --------------------------------------------------------------------------- verification


@dataclass
class SignedParts:
    """A request whose signature headers parsed and whose digest, time and algorithm
    passed; the key is not checked yet."""
    components: list[str]
    params: dict[str, object]
    params_serialized: str
    base: bytes
    signature: bytes
    created: int
    nonce: str
    key_id: str
    alg: str
    digest: str
    signature_input: str  # the headers as received
    signature_header: str


@dataclass
class VerifiedRequest:
    client: object  # ingest.DockingClient
    key: object  # trust.ClientKey
    created: int
    nonce: str
    digest: str
    signature_input: str
    signature: str
    parts: SignedParts | None = field(default=None, repr=False)


def _lower(headers) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def inspect_request(method: str, path: str, query: str, headers, body: bytes, *,
                    now: float | None = None) -> SignedParts:
    h = _lower(headers)
    sig_input_raw, sig_raw = h.get("signature-input"), h.get("signature")
    if not sig_input_raw or not sig_raw:
        raise SignatureError("missing_signature")
    inputs, sigs = parse_dictionary(sig_input_raw), parse_dictionary(sig_raw)
    if LABEL not in inputs or LABEL not in sigs:
        raise SignatureError("missing_signature", f'no "{LABEL}" signature')
    components, param_list = inputs[LABEL]
    signature, _ = sigs[LABEL]
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise SignatureError("malformed_signature", "Signature-Input is not an inner list")
    if not isinstance(signature, bytes):
        raise SignatureError("malformed_signature", "Signature is not a byte sequence")
    if len(set(components)) != len(components):
        raise SignatureError("malformed_signature", "a component is listed twice")
    params = dict(param_list)
    if len(params) != len(param_list):
        raise SignatureError("malformed_signature", "a parameter is listed twice")
    for name, kind in (("created", int), ("nonce", str), ("keyid", str), ("alg", str)):
        value = params.get(name)
        if value is None:
            raise SignatureError("malformed_signature", f"parameter {name} is missing")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise SignatureError("malformed_signature", f"parameter {name} has the wrong type")
    if "expires" in params and (not isinstance(params["expires"], int)
                                or isinstance(params["expires"], bool)):
        raise SignatureError("malformed_signature", "parameter expires has the wrong type")
    if not NONCE_RE.match(params["nonce"]):
        raise SignatureError("malformed_signature", "nonce: 8 to 128 printable characters")
    if not 1 <= len(params["keyid"]) <= 80:
        raise SignatureError("malformed_signature", "keyid: 1 to 80 characters")
    for required in REQUIRED_COMPONENTS:
        if required not in components:
            raise SignatureError("uncovered_component", f'"{required}" is not covered')
    for name in components:
        if name.startswith("@") and name not in REQUIRED_COMPONENTS:
            raise SignatureError("malformed_signature", f'component "{name}" is not supported')
        if not name.startswith("@") and name != name.lower():
            raise SignatureError("malformed_signature", f'component "{name}" is not lower case')
    alg = params["alg"]
    if alg not in SCHEMES:
        raise SignatureError("unsupported_algorithm", f"algorithm not supported: {alg}")
    now = time.time() if now is None else now
    created, skew = params["created"], skew_seconds()
    if abs(now - created) > skew:
        raise SignatureError("stale_timestamp", f"created must be within {skew} s of "
                             f"{int(now)}")
    if "expires" in params and params["expires"] < now:
        raise SignatureError("stale_timestamp", "expires has passed")
    digest_header = h.get("content-digest", "").strip()
    if not digest_header:
        raise SignatureError("bad_digest", "Content-Digest is missing")
    digests = parse_dictionary(digest_header)
    sent = digests.get("sha-256", (None,))[0]
    if not isinstance(sent, bytes):
        raise SignatureError("bad_digest", "sha-256 digest is missing")
    if f"sha-256=:{base64.b64encode(sent).decode()}:" != content_digest(body or b""):
        raise SignatureError("bad_digest")
    values = request_component_values(method, path, query, h.get("content-type", ""),
                                      digest_header)
    for name in components:
        if name not in values:
            if name not in h:
                raise SignatureError("malformed_signature", f'covered header "{name}" is '
                                     "missing")
            values[name] = h[name].strip()
    serialized = serialize_params(components, param_list)
    return SignedParts(components=list(components), params=params,
                       params_serialized=serialized,
                       base=signature_base(values, components, serialized),
                       signature=signature, created=created, nonce=params["nonce"],
                       key_id=params["keyid"], alg=alg, digest=digest_header,
                       signature_input=sig_input_raw, signature_header=sig_raw)


def check_signature(parts: SignedParts, public_key_pem: str, algorithm: str) -> None:
    if parts.alg != algorithm:
        raise SignatureError("bad_signature", f"the key's algorithm is {algorithm}")
    try:
        ok = SCHEMES[algorithm].verify(public_key_pem, parts.base, parts.signature)
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise SignatureError("bad_signature")


def remember_nonce(key_id: str, nonce: str) -> None:
    """Record the nonce; a second use with the same key id is a replay."""
    from skillguard.trust.models import SeenNonce

    try:
        with transaction.atomic():
            SeenNonce.objects.create(key_id=key_id, nonce=nonce)
    except IntegrityError:
        raise SignatureError("replayed_nonce") from None


def verify_request(method: str, path: str, query: str, headers, body: bytes, *,
                   now: float | None = None) -> VerifiedRequest:
    """Verify a signed docking request; see the module docstring."""
    from skillguard.ingest.models import ClientStatus
    from skillguard.trust.models import ClientKey, KeyStatus

    parts = inspect_request(method, path, query, headers, body, now=now)
    key = (ClientKey.objects.select_related("client", "client__user")
           .filter(key_id=parts.key_id).first())
    if key is None:
        raise SignatureError("unknown_key")
    if key.status != KeyStatus.ACTIVE:
        raise SignatureError("revoked_key")
    current = timezone.now()
    if key.not_after <= current:
        raise SignatureError("expired_key")
    client = key.client
    if client.status != ClientStatus.ACTIVE or not client.user.is_active:
        raise SignatureError("client_suspended")
    try:
        check_signature(parts, key.public_key_pem, key.algorithm)
    except SignatureError:
        # wsgiref (Django's development and live test servers) reports "text/plain" for a
        # request sent without Content-Type; such a bodiless request was signed with "".
        lowered = _lower(headers)
        if body or lowered.get("content-type") != "text/plain":
            raise
        lowered.pop("content-type")
        parts = inspect_request(method, path, query, lowered, body, now=now)
        check_signature(parts, key.public_key_pem, key.algorithm)
    remember_nonce(key.key_id, parts.nonce)
    if key.last_used_at is None or key.last_used_at < current - LAST_USED_RESOLUTION:
        ClientKey.objects.filter(pk=key.pk).update(last_used_at=current)
        key.last_used_at = current
    return VerifiedRequest(client=client, key=key, created=parts.created, nonce=parts.nonce,
                           digest=parts.digest, signature_input=parts.signature_input,
                           signature=parts.signature_header, parts=parts)

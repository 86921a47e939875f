"""SkillGuard docking reference signer (数据对接请求签名参考实现).

Self-contained: depends only on the Python standard library and ``cryptography``; an
institution may copy this file into its own system. The scheme it implements is described
in ``skillguard/trust/signatures.py`` (RFC 9421 HTTP Message Signatures, subset).

    from client import generate_key, sign_request
    private_key, public_pem = generate_key("ed25519")
    headers = sign_request("POST", "/api/docking/v1/keys", "", body, "application/json",
                           key_id="k_…", private_key=private_key, alg="ed25519")
    # send body with these headers (Content-Type, Content-Digest, Signature-Input, Signature)
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

LABEL = "sg"
REQUIRED_COMPONENTS = ("@method", "@path", "@query", "content-digest", "content-type")
RESPONSE_COMPONENTS = ("@status", "content-digest", "content-type")
# RFC 3986 pchar minus "%" (re-encoded) plus "/": what stays literal in "@path".
PATH_SAFE = "/!$&'()*+,;=:@-._~"


# --------------------------------------------------------------------------- canonical form


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest with SHA-256: ``sha-256=:<base64>:``."""
    return f"sha-256=:{b64(hashlib.sha256(body).digest())}:"


def canonical_path(path: str) -> str:
    """"@path": the path, percent-decoded (UTF-8) then re-encoded keeping RFC 3986 pchars."""
    return quote(unquote(path or "/"), safe=PATH_SAFE) or "/"


def canonical_query(query: str) -> str:
    """"@query": "?" followed by the query string exactly as sent ("?" when there is none)."""
    query = query or ""
    return "?" + (query.removeprefix("?"))


def sf_string(value: str) -> str:
    """A structured-field string (RFC 8941 §3.3.3): printable ASCII, \\ and " escaped."""
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        raise ValueError("structured-field strings hold printable ASCII only")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(components, params) -> str:
    """The inner list with its parameters, as in Signature-Input and "@signature-params":
    ``("@method" "@path");created=1700000000;nonce="…";keyid="…";alg="ed25519"``."""
    inner = "(" + " ".join(sf_string(c) for c in components) + ")"
    out = [inner]
    for name, value in params:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(f"parameter {name}: integer or string only")
        out.append(f";{name}={value}" if isinstance(value, int) else f";{name}={sf_string(value)}")
    return "".join(out)


def signature_base(values: dict[str, str], components, params_serialized: str) -> bytes:
    """RFC 9421 §2.5: one line ``"<name>": <value>`` per covered component, in order, then
    ``"@signature-params": <params>``; lines joined by LF, no trailing LF; UTF-8."""
    lines = [f'"{name}": {values[name]}' for name in components]
    lines.append(f'"@signature-params": {params_serialized}')
    return "\n".join(lines).encode("utf-8")


def request_component_values(method: str, path: str, query: str, content_type: str,
                             digest: str) -> dict[str, str]:
    return {"@method": method.upper(), "@path": canonical_path(path),
            "@query": canonical_query(query), "content-digest": digest.strip(),
            "content-type": (content_type or "").strip()}


# --------------------------------------------------------------------------- algorithms


@dataclass(frozen=True)
class Scheme:
    name: str
    verify: Callable[[str, bytes, bytes], bool]  # (public_key_pem, base, signature)
    sign: Callable[[object, bytes], bytes]  # (private_key, base) → signature
    generate: Callable[[], object]  # → private key
    public_pem: Callable[[object], str]  # private key → public key PEM


def _pem_of(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(public_key_pem: str):
    return serialization.load_pem_public_key(public_key_pem.encode())


def _ed25519_verify(public_key_pem: str, base: bytes, signature: bytes) -> bool:
    key = load_public_key(public_key_pem)
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return False
    try:
        key.verify(signature, base)
        return True
    except InvalidSignature:
        return False


def _ecdsa_verify(public_key_pem: str, base: bytes, signature: bytes) -> bool:
    """ecdsa-p256-sha256 as in RFC 9421 §3.3.4: the signature is raw r‖s, 64 bytes."""
    key = load_public_key(public_key_pem)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        return False
    if len(signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, base, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def _ecdsa_sign(private_key, base: bytes) -> bytes:
    r, s = decode_dss_signature(private_key.sign(base, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


SCHEMES: dict[str, Scheme] = {
    "ed25519": Scheme("ed25519", _ed25519_verify, lambda k, base: k.sign(base),
                      ed25519.Ed25519PrivateKey.generate, _pem_of),
    "ecdsa-p256-sha256": Scheme("ecdsa-p256-sha256", _ecdsa_verify, _ecdsa_sign,
                                lambda: ec.generate_private_key(ec.SECP256R1()), _pem_of),
}


def _register_sm2() -> None:
    """sm2-sm3 only where the optional ``gmssl`` package is installed (not a dependency).
    Keys: SubjectPublicKeyInfo PEM whose last 64 bytes are the point x‖y; signatures raw
    r‖s (64 bytes), SM3 with the default user id, as gmssl computes them. Private keys for
    signing: {"private_hex": …, "public_hex": …}."""
    try:
        from gmssl import sm2  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - any import problem means "not supported"
        return

    def point_hex(public_key_pem: str) -> str:
        return der_of(public_key_pem)[-64:].hex()

    def verify(public_key_pem, base, signature):
        crypt = sm2.CryptSM2(public_key=point_hex(public_key_pem), private_key="")
        try:
            return bool(crypt.verify_with_sm3(signature.hex(), base))
        except Exception:  # noqa: BLE001
            return False

    def sign(private_key, base):
        crypt = sm2.CryptSM2(public_key=private_key["public_hex"],
                             private_key=private_key["private_hex"])
        return bytes.fromhex(crypt.sign_with_sm3(base))

    def unsupported(*_args):
        raise ValueError("generate SM2 keys with your SM2 toolkit")

    SCHEMES["sm2-sm3"] = Scheme("sm2-sm3", verify, sign, unsupported, unsupported)


_register_sm2()


# --------------------------------------------------------------------------- keys


def der_of(public_key_pem: str) -> bytes:
    body = "".join(line.strip() for line in public_key_pem.strip().splitlines()
                   if line.strip() and not line.startswith("-----"))
    return base64.b64decode(body, validate=True)


def fingerprint(public_key_pem: str) -> str:
    """Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(der_of(public_key_pem)).hexdigest()


def proof_key_id(public_key_pem: str) -> str:
    """The keyid a request carries when it proves possession of a key not yet registered."""
    return "sha256:" + fingerprint(public_key_pem)


def generate_key(alg: str = "ed25519"):
    """A new private key and its public key PEM (SubjectPublicKeyInfo)."""
    scheme = SCHEMES[alg]
    private_key = scheme.generate()
    return private_key, scheme.public_pem(private_key)


def load_private_key(pem: str | bytes, password: bytes | None = None):
    return serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem,
                                              password)


def private_key_pem(private_key) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()


# --------------------------------------------------------------------------- signing


def sign_request(method: str, url_path: str, query: str, body: bytes, content_type: str,
                 key_id: str, private_key, alg: str = "ed25519", *, created: int | None = None,
                 nonce: str | None = None) -> dict[str, str]:
    """Headers that sign one request: Content-Type (when given), Content-Digest,
    Signature-Input and Signature. ``query`` is the query string exactly as it will be
    sent, without "?"; ``private_key`` a ``cryptography`` private key or its PEM."""
    if isinstance(private_key, (str, bytes)):
        private_key = load_private_key(private_key)
    scheme = SCHEMES[alg]
    digest = content_digest(body or b"")
    values = request_component_values(method, url_path, query, content_type, digest)
    params = [("created", int(time.time()) if created is None else int(created)),
              ("nonce", nonce or secrets.token_urlsafe(18)), ("keyid", key_id), ("alg", alg)]
    serialized = serialize_params(REQUIRED_COMPONENTS, params)
    signature = scheme.sign(private_key, signature_base(values, REQUIRED_COMPONENTS,
                                                        serialized))
    headers = {"Content-Digest": digest, "Signature-Input": f"{LABEL}={serialized}",
               "Signature": f"{LABEL}=:{b64(signature)}:"}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def verify_response(status: int, headers: dict[str, str], body: bytes,
                    server_public_pem: str) -> bool:
    """Check a response signed by the platform (keys at GET /api/docking/v1/server-keys):
    the digest of the body and the Ed25519 signature over "@status", "content-digest" and
    "content-type". Parses only what the platform itself sends."""
    h = {k.lower(): v for k, v in headers.items()}
    digest = h.get("content-digest", "")
    if digest.strip() != content_digest(body):
        return False
    sig_input = h.get("signature-input", "")
    signature = h.get("signature", "")
    if not sig_input.startswith(LABEL + "=") or not signature.startswith(LABEL + "=:"):
        return False
    serialized = sig_input[len(LABEL) + 1:]
    inner = serialized[1:serialized.index(")")]
    components = [c.strip('"') for c in inner.split()]
    if components != list(RESPONSE_COMPONENTS):
        return False
    values = {"@status": str(int(status)), "content-digest": digest.strip(),
              "content-type": h.get("content-type", "").strip()}
    raw = base64.b64decode(signature[len(LABEL) + 2:].rstrip(":"))
    return SCHEMES["ed25519"].verify(server_public_pem, signature_base(
        values, RESPONSE_COMPONENTS, serialized), raw)

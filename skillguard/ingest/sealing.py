"""Personal data at rest in the docking tables (ADR 0003 applied to what clients send).

What a client pushes carries ID numbers and phone numbers, so nothing it sent is stored
in clear:

``Submission.body``           the signed bytes, sealed with AES-256-GCM in segments of
                              ``SEGMENT`` bytes (each: nonce ‖ ciphertext ‖ tag, the
                              associated data naming its index and whether it is the
                              last, so segments cannot be reordered, dropped or cut off),
                              ``body_key`` naming the field key. ``body_sha256``, the
                              Signature-Input and the Signature stay as received: they
                              are over the *original* bytes, and ``verify_submission``
                              unseals, re-hashes and re-checks the signature
                              (non-repudiation survives the sealing). Segments let the
                              batch worker read a stored body a slice at a time, so memory
                              stays flat in the size of the upload.
``QuarantinedRecord.payload`` and ``RecordVersion.payload``
                              what screens and the API show: the payload with every
                              personal value masked (``mask_payload``); the full payload
                              is ``payload_enc`` (``core.crypto.seal`` of its JSON).

An empty ``body_key`` / ``payload_enc`` marks a row written before sealing (read as is).
``skillguard rotate-field-keys`` re-seals all of it with the newest key
(``rotate``, called through ``IngestConfig.rotate_sealed_data``).
"""
from __future__ import annotations

import hashlib
import json
import os

from skillguard.core import crypto
from skillguard.core.validators import mask_id_number, mask_phone

SEGMENT = 1 << 20  # plaintext bytes per sealed segment
OVERHEAD = 12 + 16  # nonce + GCM tag per segment
SEALED_SEGMENT = SEGMENT + OVERHEAD
_BODY_AAD = b"skillguard-submission-v1"


def _aad(index: int, last: bool) -> bytes:
    return b"%s:%d:%s" % (_BODY_AAD, index, b"last" if last else b"more")


# --------------------------------------------------------------------------- bodies

def seal_body(body: bytes) -> tuple[str, bytearray]:
    """(key id, sealed bytes) of a submission body; an empty body is one empty segment.
    Written into one preallocated buffer: a 512 MiB upload costs its own size once more,
    not twice."""
    ring = crypto.keyring()
    aes = ring.keys[ring.current_id]
    count = max(1, -(-len(body) // SEGMENT))
    view = memoryview(body)
    out = bytearray(len(body) + OVERHEAD * count)
    pos = 0
    for i in range(count):
        nonce = os.urandom(12)
        sealed = aes.encrypt(nonce, view[i * SEGMENT:(i + 1) * SEGMENT], _aad(i, i == count - 1))
        out[pos:pos + 12] = nonce
        out[pos + 12:pos + 12 + len(sealed)] = sealed
        pos += 12 + len(sealed)
    return ring.current_id, out


def segment_count(sealed_size: int) -> int:
    return max(1, -(-sealed_size // SEALED_SEGMENT))


def plain_size(key_id: str, stored_size: int) -> int:
    """Size of the original body from the stored size (sealed or not)."""
    if not key_id:
        return stored_size
    return stored_size - OVERHEAD * segment_count(stored_size)


def open_segment(key_id: str, index: int, sealed_segment: bytes, last: bool) -> bytes:
    aes = crypto.keyring().keys[key_id]
    return aes.decrypt(sealed_segment[:12], sealed_segment[12:], _aad(index, last))


def open_body(key_id: str, stored: bytes) -> bytes:
    """The original bytes of a stored body (as is when it was stored before sealing)."""
    stored = bytes(stored)
    if not key_id:
        return stored
    count = segment_count(len(stored))
    return b"".join(open_segment(key_id, i, stored[i * SEALED_SEGMENT:(i + 1) * SEALED_SEGMENT],
                                 i == count - 1) for i in range(count))


def submission_body(submission) -> bytes:
    from skillguard.ingest.bodies import stored_body

    return open_body(submission.body_key, stored_body(submission))


def verify_submission(submission) -> dict:
    """Non-repudiation check of a stored submission: unseal its body, re-hash it, compare
    with the digest kept at receipt and, for a signed one, check the kept signature over
    the rebuilt request with the key that made it (even if revoked since).

    Returns {"digest_ok": bool, "signature_ok": bool | None (None: not a signed request)}."""
    body = submission_body(submission)
    digest_ok = hashlib.sha256(body).hexdigest() == submission.body_sha256
    signature_ok = None
    if submission.signature_input and submission.signature.startswith("sg="):
        signature_ok = _signature_ok(submission, body)
    return {"digest_ok": digest_ok, "signature_ok": signature_ok}


def _signature_ok(submission, body: bytes) -> bool:
    from skillguard.trust import signatures
    from skillguard.trust.models import ClientKey

    key = ClientKey.objects.filter(key_id=submission.key_id).first()
    if key is None:
        return False
    path, _, query = submission.path.partition("?")
    headers = {"signature-input": submission.signature_input,
               "signature": submission.signature,
               "content-digest": signatures.content_digest(body),
               "content-type": submission.content_type}
    try:
        created = signatures.parse_dictionary(submission.signature_input)
        created = dict(created[signatures.LABEL][1])["created"]
        parts = signatures.inspect_request(submission.method, path, query, headers, body,
                                           now=created)
        signatures.check_signature(parts, key.public_key_pem, key.algorithm)
    except (signatures.SignatureError, KeyError, TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- payloads

_KINDS: dict[str, str] = {}  # field name → "id" | "phone" | "" (memo: few distinct names)


def _is_personal(key: str) -> str:
    kind = _KINDS.get(key)
    if kind is None:
        low = str(key).lower()
        kind = ("id" if low.endswith(("id_number", "id_numbers")) else
                "phone" if low == "phone" or low.endswith(("_phone", "phones")) else "")
        if len(_KINDS) < 10_000:
            _KINDS[key] = kind
    return kind


def _mask_value(kind: str, value):
    if isinstance(value, list):
        return [_mask_value(kind, v) for v in value]
    if isinstance(value, dict):
        return mask_payload(value)
    if value is None or isinstance(value, bool) or value == "":
        return value
    text = str(value)
    return mask_id_number(text) if kind == "id" else mask_phone(text)


def mask_payload(payload):
    """The payload with every ID number and phone masked (at any depth)."""
    if isinstance(payload, list):
        return [mask_payload(v) for v in payload]
    if not isinstance(payload, dict):
        return payload
    out = {}
    for k, v in payload.items():
        kind = _is_personal(k)
        if kind:
            out[k] = _mask_value(kind, v)
        elif isinstance(v, (dict, list)):
            out[k] = mask_payload(v)
        else:
            out[k] = v
    return out


def seal_payload(payload) -> tuple[object, str]:
    """(masked payload for the ``payload`` column, sealed JSON for ``payload_enc``)."""
    return mask_payload(payload), crypto.seal(json.dumps(payload, ensure_ascii=False,
                                                         default=str))


def full_payload(row):
    """The full payload of a quarantined record or a record version (internal use: the
    pipeline and resubmission; screens show ``row.payload``, masked)."""
    if row.payload_enc:
        return json.loads(crypto.unseal(row.payload_enc))
    return row.payload


def restore_masked(submitted, original):
    """A corrected payload whose personal values were left as shown (masked) gets the
    original values back: a correction never has to reveal what it does not change."""
    if isinstance(submitted, dict) and isinstance(original, dict):
        out = {}
        for k, v in submitted.items():
            kind = _is_personal(k)
            if k in original:
                if kind:
                    out[k] = _restore_value(kind, v, original[k])
                else:
                    out[k] = restore_masked(v, original[k])
            else:
                out[k] = v
        return out
    if isinstance(submitted, list) and isinstance(original, list):
        return [restore_masked(s, original[i]) if i < len(original) else s
                for i, s in enumerate(submitted)]
    return submitted


def _restore_value(kind: str, submitted, original):
    if isinstance(submitted, list) and isinstance(original, list):
        return [_restore_value(kind, s, original[i]) if i < len(original) else s
                for i, s in enumerate(submitted)]
    if isinstance(submitted, dict) and isinstance(original, dict):
        return restore_masked(submitted, original)
    if (isinstance(submitted, str) and original not in (None, "")
            and not isinstance(original, (dict, list))
            and "*" in submitted and submitted == _mask_value(kind, original)):
        return original
    return submitted


# --------------------------------------------------------------------------- rotation

BATCH = 500


def rotate(ring=None) -> int:
    """Re-seal submission bodies and payloads not sealed with the current key (and seal
    any left in clear by an earlier version). Resumable; returns the rows changed."""
    from django.db import connection, transaction

    from skillguard.ingest.models import QuarantinedRecord, RecordVersion

    ring = ring or crypto.keyring()
    total = 0
    for model in (QuarantinedRecord, RecordVersion):
        last = 0
        while True:
            rows = list(model.objects.filter(pk__gt=last).order_by("pk")
                        .only("pk", "payload", "payload_enc")[:BATCH])
            if not rows:
                break
            last = rows[-1].pk
            changed = []
            for row in rows:
                if row.payload_enc and not ring.needs_rotation(row.payload_enc):
                    continue
                full = full_payload(row)
                row.payload, row.payload_enc = seal_payload(full)
                changed.append(row)
            if changed:
                with transaction.atomic():
                    model.objects.bulk_update(changed, ["payload", "payload_enc"])
            total += len(changed)
    # Bodies one at a time (they can be large); keyed by the partitioned primary key.
    with connection.cursor() as cur:
        cur.execute("SELECT district_id, received_at, id FROM ingest_submission "
                    "WHERE body_key <> %s", [ring.current_id])
        keys = cur.fetchall()
    from skillguard.ingest import bodies

    for key in keys:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT body_key, body_parts FROM ingest_submission WHERE "
                        "district_id = %s AND received_at = %s AND id = %s FOR UPDATE", key)
            row = cur.fetchone()
            if row is None or row[0] == ring.current_id:
                continue
            old_key, old_parts = row
            plain = open_body(old_key, bodies.read_all(cur, key, old_parts))
            key_id, sealed = seal_body(plain)
            inline, parts = bodies.split(sealed)
            bodies.delete_parts(cur, *key)
            cur.execute("UPDATE ingest_submission SET body = %s, body_key = %s, body_parts = %s, "
                        "body_stored_size = %s WHERE district_id = %s AND received_at = %s "
                        "AND id = %s", [inline, key_id, len(parts), len(sealed), *key])
            bodies.write_parts(cur, key[0], key[1], key[2], parts)
        total += 1
    return total

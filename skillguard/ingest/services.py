"""Writes of the docking app outside the record pipeline: raw submissions, quarantine steps.

``store_submission`` keeps the exact bytes a client signed (非否认), before any record in
them is looked at; every record, accepted or quarantined, points back to it.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.audit import services as audit
from skillguard.core.errors import BusinessRuleError, Problem
from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.ingest import bodies, sealing
from skillguard.ingest.models import QuarantinedRecord, QuarantineStatus, Submission

# Submissions made in the web UI ("correct and resubmit") carry no HTTP signature: the
# sender is the signed-in user, so they are stored with key_id "ui:<username>", method "UI",
# and signature "session" (authenticated by the user's session, not by a client key).
UI_METHOD = "UI"
UI_SIGNATURE = "session"


class SubmissionRef(NamedTuple):
    id: uuid.UUID
    received_at: object  # aware datetime
    district_id: int


def _verified_parts(verified) -> tuple[str, str, str]:
    """(key id, Signature-Input, Signature) from a trust.VerifiedRequest or a plain dict."""
    if verified is None:
        return "", "", ""
    if isinstance(verified, dict):
        return (verified.get("key_id", ""), verified.get("signature_input", ""),
                verified.get("signature", ""))
    key = getattr(verified, "key", None)
    key_id = getattr(key, "key_id", None) or getattr(verified, "key_id", "")
    return (str(key_id or ""), str(getattr(verified, "signature_input", "") or ""),
            str(getattr(verified, "signature", "") or ""))


def store_submission(client, verified, method: str, path: str, content_type: str,
                     body: bytes, record_count: int) -> SubmissionRef:
    """Write the raw Submission row (in its monthly partition) and return a reference.
    The body is stored sealed; its SHA-256 is of the bytes as received (and signed)."""
    received_at = timezone.now()
    local_day = timezone.localtime(received_at).date()
    ensure_monthly_partitions("ingest_submission", local_day, local_day)
    key_id, signature_input, signature = _verified_parts(verified)
    body = bytes(body or b"")
    body_key, sealed = sealing.seal_body(body)  # digest and signature: of the original
    inline, parts = bodies.split(sealed)
    sub = Submission(id=uuid.uuid4(), district_id=client.district_key, received_at=received_at,
                     client_id=client.pk, key_id=key_id[:64], method=method[:8],
                     path=path[:255], content_type=(content_type or "")[:128], body=inline,
                     body_key=body_key, body_parts=len(parts), body_stored_size=len(sealed),
                     body_sha256=hashlib.sha256(body).hexdigest(),
                     signature_input=signature_input, signature=signature,
                     record_count=record_count)
    with transaction.atomic():
        sub.save(force_insert=True)
        with connection.cursor() as cur:
            bodies.write_parts(cur, sub.district_id, received_at, sub.id, parts)
    return SubmissionRef(sub.id, received_at, sub.district_id)


def store_ui_submission(client, user, record_type: str, payload: dict) -> SubmissionRef:
    body = json.dumps({"records": [payload]}, ensure_ascii=False, sort_keys=True).encode()
    return store_submission(client, {"key_id": f"ui:{user.username}", "signature_input": "",
                                     "signature": UI_SIGNATURE}, UI_METHOD,
                            f"/docking/quarantine/ui/{record_type}", "application/json",
                            body, 1)


@transaction.atomic
def resubmit_quarantined(user, record: QuarantinedRecord, payload: dict):
    """Correct-and-resubmit from the UI: the corrected payload goes through the same
    pipeline as a signed submission of the record's client; the entry is resolved when
    it is accepted. Returns the pipeline's RecordResult."""
    from skillguard.ingest.pipeline import ingest_records

    if record.status != QuarantineStatus.OPEN:
        raise BusinessRuleError([Problem(field="status", code="not_open", message=_(
            "this record is no longer open for correction"), record=record.external_id)])
    client = record.client
    # Personal values left as shown (masked) keep the values the record was sent with.
    payload = sealing.restore_masked(payload, sealing.full_payload(record))
    submission = store_ui_submission(client, user, record.record_type, payload)
    outcome = ingest_records(client, submission, record.record_type, [payload])
    result = outcome.results[0]
    if result.status != "rejected":
        record.refresh_from_db()
        if record.status == QuarantineStatus.OPEN:  # external id changed in the correction
            record.status = QuarantineStatus.RESUBMITTED
            record.resolved_at = timezone.now()
            record.resolved_by_submission_id = submission.id
            record.save(update_fields=["status", "resolved_at", "resolved_by_submission_id"])
        audit.record_transition(user, record, QuarantineStatus.OPEN, record.status,
                                comment=f"submission {submission.id}")
    return result


@transaction.atomic
def withdraw_quarantined(user, record: QuarantinedRecord) -> QuarantinedRecord:
    if record.status != QuarantineStatus.OPEN:
        raise BusinessRuleError([Problem(field="status", code="not_open", message=_(
            "this record is no longer open for correction"), record=record.external_id)])
    record.status = QuarantineStatus.WITHDRAWN
    record.resolved_at = timezone.now()
    record.save(update_fields=["status", "resolved_at"])
    audit.record_transition(user, record, QuarantineStatus.OPEN, QuarantineStatus.WITHDRAWN)
    return record

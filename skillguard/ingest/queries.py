"""Scoped reads of the docking app: quarantine, submissions, record traceability."""
from __future__ import annotations

from skillguard.core.scoping import access
from skillguard.ingest.models import (
    DockingClient,
    IngestBatch,
    QuarantinedRecord,
    QuarantineStatus,
    RecordIdentity,
    RecordVersion,
    Submission,
)


def client_quarantine(client: DockingClient, record_type: str = ""):
    qs = QuarantinedRecord.objects.filter(client=client, status=QuarantineStatus.OPEN)
    if record_type:
        qs = qs.filter(record_type=record_type)
    return qs.order_by("-created_at", "-id")


def client_submission(client: DockingClient, submission_id):
    """One of the client's own submissions; None for others' and for missing ones alike."""
    return Submission.objects.filter(client_id=client.pk, id=submission_id).first()


def batches_for(user):
    """Docking batches the signed-in user may see (UI)."""
    return IngestBatch.objects.restrict(user, "view").select_related("client")


def client_batch(client: DockingClient, batch_id) -> IngestBatch | None:
    """One of the client's own batches; None for others' and for missing ones alike."""
    return IngestBatch.objects.filter(pk=batch_id, client=client).first()


def batch_problems(batch: IngestBatch):
    """The rejected lines of a batch the caller has already been allowed to see."""
    return QuarantinedRecord.objects.filter(batch=batch).order_by("line_number", "id")


def record_trace(client: DockingClient, record_type: str, external_id: str) -> dict | None:
    identity = RecordIdentity.objects.filter(client=client, record_type=record_type,
                                             external_id=external_id).first()
    if identity is None:
        return None
    history = list(RecordVersion.objects.filter(identity=identity).order_by("version"))
    submissions = [str(v.submission_id) for v in history]
    if str(identity.last_submission_id) not in submissions:
        submissions.append(str(identity.last_submission_id))
    return {
        "record_type": record_type, "external_id": external_id, "version": identity.version,
        "payload_sha256": identity.payload_sha256, "stored_as": identity.target,
        "first_submission_id": str(identity.first_submission_id),
        "last_submission_id": str(identity.last_submission_id),
        "received_at": identity.created_at.isoformat(),
        "updated_at": identity.updated_at.isoformat(),
        "history": [{"version": v.version, "payload": v.payload,
                     "submission_id": str(v.submission_id),
                     "replaced_at": v.replaced_at.isoformat()} for v in history],
        "submission_ids": submissions,
        "quarantined": [{"id": q.pk, "status": q.status, "submission_id": str(q.submission_id),
                         "problems": q.problems} for q in QuarantinedRecord.objects.filter(
            client=client, record_type=record_type, external_id=external_id)],
    }


# --------------------------------------------------------------------------- UI

def quarantine_for(user, *, record_type: str = "", status: str = "", source: str = ""):
    qs = QuarantinedRecord.objects.restrict(user, "view").select_related("client")
    if record_type:
        qs = qs.filter(record_type=record_type)
    if status:
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(client_id=source) if str(source).isdigit() else qs.none()
    return qs.order_by("-created_at", "-id")


def quarantined(user, pk: int, action: str = "view") -> QuarantinedRecord:
    return access(QuarantinedRecord, user, pk, action,
                  queryset=QuarantinedRecord.objects.select_related("client"))


def sources_for(user):
    ids = QuarantinedRecord.objects.restrict(user, "view").values("client_id")
    return DockingClient.objects.filter(pk__in=ids).order_by("name")

"""Docking API: large uploads (批量上传) processed in the background.

POST /batches/{record_type}   a JSON Lines, CSV or XLSX file of records → 202 {batch_id, status_url}
GET  /batches/{id}            status, counters, percent, error
GET  /batches/{id}/problems   the rejected lines with their reasons (paginated)
"""
from __future__ import annotations

import uuid

from django.http import Http404
from django.urls import reverse
from ninja import Query, Router, Schema, Status

from skillguard.ingest import batches, queries
from skillguard.ingest.models import IngestBatch
from skillguard.registry.schemas import ErrorsOut
from skillguard.trust.auth import SignedRequestAuth

router = Router(tags=["batches 批量上传"])
SIGNED_ERRORS = {400: ErrorsOut, 401: ErrorsOut, 404: ErrorsOut, 422: ErrorsOut}


class BatchAccepted(Schema):
    batch_id: uuid.UUID
    status: str
    status_url: str


class BatchErrorOut(Schema):
    code: str
    line: int | None = None
    detail: str = ""
    message: str = ""
    batch_id: uuid.UUID | None = None
    status_url: str | None = None


class BatchOut(Schema):
    batch_id: uuid.UUID
    record_type: str
    format: str
    status: str
    total: int
    processed: int
    accepted: int
    rejected: int
    unchanged: int
    cursor: int
    percent: float
    error: dict | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    problems_url: str


class ProblemLine(Schema):
    line: int | None
    external_id: str
    status: str
    problems: list
    payload: dict


class ProblemPage(Schema):
    batch_id: uuid.UUID
    count: int
    page: int
    page_size: int
    next: str | None = None
    items: list[ProblemLine]


def _status_url(batch_id) -> str:
    return reverse("docking-v1:batch_status", kwargs={"batch_id": batch_id})


def _own_batch(request, batch_id) -> IngestBatch:
    batch = queries.client_batch(request.docking_client, batch_id)
    if batch is None:
        raise Http404
    return batch


def batch_dict(batch: IngestBatch) -> dict:
    return {
        "batch_id": batch.pk, "record_type": batch.record_type,
        "format": "csv" if batch.file_format == batches.CSV_GB else batch.file_format,
        "status": batch.status, "total": batch.total, "processed": batch.processed,
        "accepted": batch.accepted, "rejected": batch.rejected, "unchanged": batch.unchanged,
        "cursor": batch.cursor, "percent": batches.percent(batch),
        "error": batches.parse_error(batch),
        "created_at": batch.created_at.isoformat(),
        "started_at": batch.started_at.isoformat() if batch.started_at else None,
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "problems_url": reverse("docking-v1:batch_problems", kwargs={"batch_id": batch.pk}),
    }


@router.get("/batches/{uuid:batch_id}", auth=SignedRequestAuth(),
            # 405: a path that is no batch id names the upload (POST) instead
            response={200: BatchOut, 405: ErrorsOut, **SIGNED_ERRORS},
            operation_id="getBatch", url_name="batch_status",
            summary="Batch status / 批次状态")
def batch_status(request, batch_id: uuid.UUID):
    return batch_dict(_own_batch(request, batch_id))


@router.get("/batches/{uuid:batch_id}/problems", auth=SignedRequestAuth(),
            response={200: ProblemPage, **SIGNED_ERRORS},
            operation_id="listBatchProblems", url_name="batch_problems",
            summary="Rejected lines of a batch / 批次问题记录")
def batch_problems(request, batch_id: uuid.UUID, page: int = 1, page_size: int = 100):
    batch = _own_batch(request, batch_id)
    page, page_size = max(page, 1), min(max(page_size, 1), 1000)
    rows = queries.batch_problems(batch)
    count = rows.count()
    start = (page - 1) * page_size
    items = [{"line": q.line_number, "external_id": q.external_id, "status": q.status,
              "problems": q.problems, "payload": q.payload}
             for q in rows[start:start + page_size]]
    nxt = None
    if start + page_size < count:
        nxt = (reverse("docking-v1:batch_problems", kwargs={"batch_id": batch.pk})
               + f"?page={page + 1}&page_size={page_size}")
    return {"batch_id": batch.pk, "count": count, "page": page, "page_size": page_size,
            "next": nxt, "items": items}


@router.post("/batches/{record_type}", auth=SignedRequestAuth(), url_name="batch_upload",
             response={202: BatchAccepted, 400: ErrorsOut, 401: ErrorsOut, 404: ErrorsOut,
                       413: BatchErrorOut, 422: BatchErrorOut}, operation_id="uploadBatch",
             openapi_extra={"requestBody": {"required": True, "content": {
                 media: {"schema": {"type": "string", "format": "binary"}}
                 for media in ("application/x-ndjson", "text/csv",
                               "application/vnd.openxmlformats-officedocument"
                               ".spreadsheetml.sheet", "application/octet-stream")}}},
             summary="Upload a file of records (JSONL, CSV, XLSX) / 批量上传")
def upload_batch(request, record_type: str,
                 file_format: str = Query("", alias="format",
                                          description="jsonl | csv | xlsx: the file's format "
                                          "when sent as application/octet-stream")):
    """Body: JSON Lines (application/x-ndjson), CSV (text/csv, UTF-8 or GBK) with a header
    row of field names (English or Chinese), or XLSX. Sent as application/octet-stream,
    the ``format`` parameter names the format (an XLSX file is also recognised by its
    content). A malformed file makes a failed batch (422, with an error code and line);
    records that fail validation go to quarantine."""
    limit = batches.max_batch_bytes()
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    body = request.body
    if max(length, len(body)) > limit:
        err = batches.BatchError("batch_too_large", detail=str(max(length, len(body))))
        return Status(413, {"code": err.code, "detail": err.detail,
                            "message": str(err.message)})
    batch, error = batches.create_batch(
        request.docking_client, getattr(request, "verified", None), record_type,
        request.META.get("CONTENT_TYPE", ""), body, method=request.method,
        path=request.path, declared_format=file_format)
    url = _status_url(batch.pk)
    if error is not None:
        return Status(422, {"code": error.code, "line": error.line, "detail": error.detail,
                            "message": str(error.message), "batch_id": batch.pk,
                            "status_url": url})
    return Status(202, {"batch_id": batch.pk, "status": batch.status, "status_url": url})

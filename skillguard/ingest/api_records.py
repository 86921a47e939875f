"""Synchronous record push, quarantine, traceability (同步推送、隔离区、溯源) — docking API v1.

POST /records/{type}             {"records": [...]} (≤ 1000), signed; per-record results
GET  /quarantine                 the client's open quarantined records
GET  /submissions/{id}           metadata, digest and signature of one of the client's submissions
GET  /records/{type}/{external_id}  current version, history, submissions it came from
GET  /schemas, /schemas/{type}.json  the published record schemas (public)
"""
from __future__ import annotations

import json
import uuid

from django.db import transaction
from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema

from skillguard.core.errors import Problem
from skillguard.ingest import queries, sealing
from skillguard.ingest.pipeline import ingest_records
from skillguard.ingest.records import RECORD_TYPES, json_schema
from skillguard.ingest.services import store_submission
from skillguard.registry.schemas import ErrorItem, ErrorsOut
from skillguard.trust.auth import SignedRequestAuth

MAX_RECORDS = 1000

router = Router(tags=["records 记录推送"])


# --------------------------------------------------------------------------- published shapes
# The views answer JsonResponse directly (exact bytes for the response signature); these
# schemas document the answers in the OpenAPI document so generated clients can read them.

class RecordResultOut(Schema):
    index: int = Field(..., description="Position in the request's records / 序号（从 0 起）")
    external_id: str
    status: str = Field(..., description="accepted | updated | unchanged | rejected")
    version: int | None = None
    problems: list[ErrorItem] = []


class PushOut(Schema):
    submission_id: uuid.UUID
    received_at: str
    accepted: int
    updated: int
    unchanged: int
    rejected: int
    results: list[RecordResultOut]


class QuarantineItem(Schema):
    id: int
    record_type: str
    external_id: str
    submission_id: uuid.UUID
    line: int | None = None
    batch_id: uuid.UUID | None = None
    quarantined_at: str
    payload: dict = Field(..., description="As received, ID numbers and phones masked")
    problems: list[ErrorItem]


class QuarantinePage(Schema):
    count: int
    items: list[QuarantineItem]


class SubmissionOut(Schema):
    id: uuid.UUID
    received_at: str
    key_id: str
    method: str
    path: str
    content_type: str
    body_sha256: str = Field(..., description="SHA-256 of the body as sent and signed")
    body_size: int
    record_count: int
    signature_input: str
    signature: str


class VersionOut(Schema):
    version: int
    payload: dict = Field(..., description="The earlier payload, ID numbers and phones masked")
    submission_id: uuid.UUID
    replaced_at: str


class QuarantineRef(Schema):
    id: int
    status: str
    submission_id: uuid.UUID
    problems: list[ErrorItem]


class RecordTraceOut(Schema):
    record_type: str
    external_id: str
    version: int
    payload_sha256: str
    stored_as: str
    first_submission_id: uuid.UUID
    last_submission_id: uuid.UUID
    received_at: str
    updated_at: str
    history: list[VersionOut]
    submission_ids: list[uuid.UUID]
    quarantined: list[QuarantineRef]


class RecordTypeOut(Schema):
    type: str
    title: str
    schema_url: str


class RecordTypesOut(Schema):
    version: str
    types: list[RecordTypeOut]


SIGNED_ERRORS = {400: ErrorsOut, 401: ErrorsOut, 404: ErrorsOut, 422: ErrorsOut}


def _error(status: int, code: str, message, field: str = "", **extra) -> JsonResponse:
    body = {"errors": [Problem(field=field, code=code, message=message).as_dict()], **extra}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _json(data, status=200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False,
                        json_dumps_params={"ensure_ascii": False, "default": str})


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: not storable as JSON


def _unknown_type(record_type: str) -> JsonResponse:
    return _error(404, "unknown_record_type",
                  _("This is not a record type of the docking standard."), "record_type")


@router.get("/schemas", auth=None, response=RecordTypesOut, operation_id="listRecordTypes",
            summary="Record types and their schemas / 记录类型")
def schema_list(request):
    return _json({"version": "v1", "types": [
        {"type": name, "title": (model.__doc__ or "").strip().splitlines()[0],
         "schema_url": reverse("docking-v1:record_schema", args=[name])}
        for name, model in RECORD_TYPES.items()]})


@router.get("/schemas/{record_type}.json", auth=None, url_name="record_schema",
            response={200: dict, 404: ErrorsOut}, operation_id="getRecordSchema",
            summary="JSON Schema of one record type / 记录 JSON Schema")
def schema_detail(request, record_type: str):
    if record_type not in RECORD_TYPES:
        return _unknown_type(record_type)
    return _json(json_schema(record_type))


@router.post("/records/{record_type}", auth=SignedRequestAuth(), url_name="records_push",
             response={200: PushOut, 413: ErrorsOut, 415: ErrorsOut, **SIGNED_ERRORS},
             operation_id="pushRecords",
             summary="Push up to 1000 records synchronously / 同步推送记录",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "required": ["records"], "properties": {
                     "records": {"type": "array", "maxItems": MAX_RECORDS,
                                 "items": {"type": "object"}}}}}}}})
def push_records(request, record_type: str):
    """Body ``{"records": [...]}`` of one type. Each record is answered accepted, updated,
    unchanged (already received) or rejected (quarantined, with every problem). More than
    1000 records: 413 ``batch_too_large`` — use POST /batches/{type}."""
    if record_type not in RECORD_TYPES:
        return _unknown_type(record_type)
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _error(415, "unsupported_media_type",
                      _("Send the records as application/json."), "Content-Type")
    try:
        doc = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        return _error(400, "malformed_json", _("The body is not valid UTF-8 JSON."),
                      detail=str(exc)[:200])
    records = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        return _error(400, "malformed_json", _('The body must be {"records": [...]}.'),
                      "records")
    if len(records) > MAX_RECORDS:
        return _error(413, "batch_too_large", _(
            "At most 1000 records per request: upload larger sets to the batch endpoint."),
            "records", batch_url=reverse("docking-v1:batch_upload", args=[record_type]))
    client = request.docking_client
    with transaction.atomic():
        ref = store_submission(client, getattr(request, "verified", None), request.method,
                               request.path, request.META.get("CONTENT_TYPE", ""),
                               request.body, len(records))
        outcome = ingest_records(client, ref, record_type, records)
    return _json({
        "submission_id": str(ref.id), "received_at": ref.received_at.isoformat(),
        "accepted": outcome.accepted, "updated": outcome.updated,
        "unchanged": outcome.unchanged, "rejected": outcome.rejected,
        "results": [{"index": r.index, "external_id": r.external_id, "status": r.status,
                     "version": r.version, "problems": r.problems} for r in outcome.results]})


@router.get("/quarantine", auth=SignedRequestAuth(), operation_id="listQuarantine",
            response={200: QuarantinePage, **SIGNED_ERRORS},
            summary="Your open quarantined records / 本方隔离区记录")
def quarantine(request, record_type: str = "", limit: int = 100, offset: int = 0):
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    qs = queries.client_quarantine(request.docking_client, record_type)
    total = qs.count()
    return _json({"count": total, "items": [
        {"id": q.pk, "record_type": q.record_type, "external_id": q.external_id,
         "submission_id": str(q.submission_id), "line": q.line_number,
         "batch_id": str(q.batch_id) if q.batch_id else None,
         "quarantined_at": q.created_at.isoformat(), "payload": q.payload,
         "problems": q.problems} for q in qs[offset:offset + limit]]})


@router.get("/submissions/{submission_id}", auth=SignedRequestAuth(),
            response={200: SubmissionOut, **SIGNED_ERRORS}, operation_id="getSubmission",
            summary="One of your submissions: digest and signature / 提交记录")
def submission_detail(request, submission_id: uuid.UUID):
    sub = queries.client_submission(request.docking_client, submission_id)
    if sub is None:
        return _error(404, "not_found", _("No such record, or you may not see it."))
    return _json({"id": str(sub.id), "received_at": sub.received_at.isoformat(),
                  "key_id": sub.key_id, "method": sub.method, "path": sub.path,
                  "content_type": sub.content_type, "body_sha256": sub.body_sha256,
                  "body_size": sealing.plain_size(sub.body_key, sub.body_stored_size
                                                  if sub.body_stored_size is not None
                                                  else len(sub.body)),
                  "record_count": sub.record_count,
                  "signature_input": sub.signature_input, "signature": sub.signature})


@router.get("/records/{record_type}/{external_id}", auth=SignedRequestAuth(),
            response={200: RecordTraceOut, **SIGNED_ERRORS}, operation_id="getRecord",
            summary="A record you sent: version, history, submissions / 记录溯源")
def record_detail(request, record_type: str, external_id: str):
    trace = queries.record_trace(request.docking_client, record_type, external_id)
    if trace is None:
        return _error(404, "not_found", _("No such record, or you may not see it."))
    return _json(trace)

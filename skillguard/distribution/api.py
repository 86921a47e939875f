"""The change feed of the docking API: ``GET /api/docking/v1/feed?cursor=&limit=``.

Signed request (``trust.auth.SignedRequestAuth``); the subscriber is the calling docking
client's own, so a client only ever sees its own entries. The response body is signed by
the server (``trust.services.sign_response``; keys at /api/docking/v1/server-keys)."""
from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from skillguard.distribution import queries
from skillguard.distribution.services import entry_json

from skillguard.registry.schemas import ErrorsOut
from skillguard.trust.auth import SignedRequestAuth

router = Router(tags=["feed 分发"], auth=SignedRequestAuth())


class FeedQuery(Schema):
    cursor: int = Field(0, ge=0, description="Last entry id already processed / 已处理的最后条目 id")
    limit: int = Field(100, ge=1, le=1000, description="At most 1000 / 每页最多 1000 条")


class FeedEntryOut(Schema):
    id: int
    record_type: str
    external_key: str
    version: int
    payload: dict
    created_at: str


class FeedOut(Schema):
    entries: list[FeedEntryOut]
    next_cursor: int


def signed_json(body: dict, status: int = 200) -> HttpResponse:
    raw = json.dumps(body, ensure_ascii=False, cls=DjangoJSONEncoder,
                     separators=(",", ":")).encode()
    response = HttpResponse(raw, status=status, content_type="application/json")
    from skillguard.trust.services import sign_response

    headers = sign_response(raw, content_type="application/json", status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@router.get("/feed", response={200: FeedOut, 400: ErrorsOut, 401: ErrorsOut, 404: ErrorsOut,
                              422: ErrorsOut}, operation_id="read_feed",
            summary="Change feed / 变更订阅 (cursor, at-least-once)")
def read_feed(request, q: Query[FeedQuery]):
    """Entries distributed to the calling subscriber after ``cursor``, oldest first.
    Store ``next_cursor`` after processing the entries and send it back next time; an
    empty ``entries`` means nothing new (poll again later)."""
    subscriber = queries.subscriber_for_client(getattr(request, "docking_client", None))
    entries, next_cursor = queries.feed_page(subscriber, q.cursor, q.limit)
    return signed_json({"entries": [entry_json(e) for e in entries], "next_cursor": next_cursor})

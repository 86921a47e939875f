"""HTTP API of video (ingest): media events and camera health; thin router over queries.

A camera missing or outside the caller's scope answers 404 (the same body); a role that may
not see media events or camera health answers 403.
"""

import datetime as dt

from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from skillguard.api_support import ERROR_RESPONSES, Pagination
from skillguard.core.errors import both_languages
from skillguard.core.pages import require
from skillguard.video import queries
from skillguard.video.models import MediaEvent, MediaEventKind
from skillguard.video.services_ingest import reason_message

router = Router(tags=["video"])


def _op(op_id, summary, description, **extra):
    return {"operation_id": op_id, "summary": summary, "description": description, **extra}


class EventFilters(Schema):
    kind: MediaEventKind | None = Field(None, description="Event kind.")
    district: int | None = Field(None, description="District id.")
    camera: str | None = Field(None, description="Camera id, or serial / stream name text.")
    reason: str | None = Field(None, description="Reason code, e.g. bad_key.")
    since: dt.datetime | None = Field(None, description="At or after (ISO 8601).")
    until: dt.datetime | None = Field(None, description="Before (ISO 8601).")


class TextOut(Schema):
    zh: str
    en: str


class MediaEventOut(Schema):
    id: int
    at: dt.datetime
    kind: str
    camera_id: int | None
    district_id: int | None
    institution_id: int | None
    stream_name: str
    client_addr: str | None
    reason: str
    reason_text: TextOut | None
    detail: dict

    @staticmethod
    def resolve_reason_text(obj):
        if not obj.reason:
            return None
        text = both_languages(reason_message(obj.reason))
        return {"zh": text["message_zh"], "en": text["message_en"]}


class CameraHealthOut(Schema):
    camera_id: int
    stream_name: str
    online: bool
    live: bool = Field(description="A stream session of the camera is open now.")
    last_seen_at: dt.datetime | None
    last_publish_at: dt.datetime | None
    bitrate_kbps: int | None
    recording: bool
    snapshot_at: dt.datetime | None
    last_error: str


@router.get("/video/events", response={200: list[MediaEventOut], **ERROR_RESPONSES},
            **_op("listMediaEvents", "List media events",
                  "媒体事件列表（推流接受/拒绝及原因、断流、录像与流媒体服务故障）。Every "
                  "decision and incident of the video pipeline in the caller's scope, newest "
                  "first, with the reason in Chinese and English."))
@paginate(Pagination)
def list_media_events(request, filters: Query[EventFilters]):
    require(request.auth, "view", MediaEvent)
    return queries.media_events(request.auth, **filters.dict(exclude_none=True))


@router.get("/cameras/{int:id}/health", response={200: CameraHealthOut, **ERROR_RESPONSES},
            **_op("getCameraHealth", "Get a camera's health",
                  "摄像头健康：在线、最后心跳、码率、最后截图。Online state from stream events and "
                  "heartbeats, last seen, bitrate, last snapshot."))
def get_camera_health(request, id: int):
    from skillguard.video.models import StreamSession

    camera, health = queries.access_camera_health(request.auth, id)
    live = StreamSession.objects.filter(camera=camera, ended_at__isnull=True).exists()
    return {"camera_id": camera.pk, "stream_name": camera.stream_name,
            "online": bool(health and health.online), "live": live,
            "last_seen_at": getattr(health, "last_seen_at", None),
            "last_publish_at": getattr(health, "last_publish_at", None),
            "bitrate_kbps": getattr(health, "bitrate_kbps", None),
            "recording": bool(health and health.recording),
            "snapshot_at": getattr(health, "snapshot_at", None),
            "last_error": getattr(health, "last_error", "") or ""}

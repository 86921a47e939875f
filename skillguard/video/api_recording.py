"""HTTP API of video (recording): what a camera recorded, as merged intervals and gaps.

When a camera was recorded is coverage information: every role that may see the camera
(supervisors, the city administrator, the auditor, the institution for its own cameras)
sees it; watching or downloading the recordings is the viewer's API (``api_view``). A
camera missing or outside the caller's scope answers 404 with the same body; a reversed or
too long range answers 422 naming the field.
"""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema

from skillguard.api_support import ERROR_RESPONSES
from skillguard.cameras.models import Camera
from skillguard.core.errors import BusinessRuleError, Problem, lazy_format
from skillguard.core.scoping import access
from skillguard.video.coverage import recorded_intervals

router = Router(tags=["video"])
R = {**ERROR_RESPONSES}
MAX_RANGE = dt.timedelta(days=31)


class RecordingsQuery(Schema):
    from_: dt.datetime | None = Field(None, alias="from", description=(
        "Start (ISO 8601; local time if no offset). Default: 24 hours before ``to``."))
    to: dt.datetime | None = Field(None, description="End, exclusive. Default: now.")


class IntervalOut(Schema):
    start: dt.datetime
    end: dt.datetime
    seconds: float
    segments: int
    damaged_segments: int
    archived_segments: int
    size_bytes: int


class GapOut(Schema):
    start: dt.datetime
    end: dt.datetime
    seconds: float


class RecordingsOut(Schema):
    camera_id: int
    start: dt.datetime
    end: dt.datetime
    recorded_seconds: float
    intervals: list[IntervalOut]
    gaps: list[GapOut]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def recordings_of(user, camera_id: int, start=None, end=None) -> dict:
    camera = access(Camera, user, camera_id)
    end = _aware(end) or timezone.now()
    start = _aware(start) or end - dt.timedelta(hours=24)
    if start >= end:
        raise BusinessRuleError([Problem("to", "range_reversed", _(
            "The end must be after the start."), record=str(camera))])
    if end - start > MAX_RANGE:
        raise BusinessRuleError([Problem("to", "range_too_long", lazy_format(
            _("At most %(days)s days at a time."), days=MAX_RANGE.days), record=str(camera))])
    return recorded_intervals(camera.pk, start, end)


@router.get("/cameras/{int:id}/recordings", response={200: RecordingsOut, **R},
            operation_id="listCameraRecordings", summary="Recorded intervals", description="摄像头录像时段：合并后的已录区间与缺口。The camera's recordings "
                              "in [from, to) merged into intervals (segments, damaged and "
                              "archived ones counted) and the gaps between them.")
def list_camera_recordings(request, id: int, window: Query[RecordingsQuery]):
    out = recordings_of(request.auth, id, window.from_, window.to)
    out["camera_id"] = out.pop("camera")
    return out

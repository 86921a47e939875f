"""HTTP API of video (view): clips and playback ranges; thin router over queries and services.

A camera or clip missing or outside the caller's scope answers 404 with the same body; a
refused request (reversed or too long range, beyond the recorded range, unknown case)
answers 422 naming the field, in Chinese and English.
"""
from __future__ import annotations

import datetime as dt

from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from ninja import Field, Query, Router, Schema

from skillguard.api_support import ERROR_RESPONSES
from skillguard.core.pages import require
from skillguard.video import clips as clip_service
from skillguard.video import playback, queries
from skillguard.video.models import Clip, ClipState, RecordingSegment

router = Router(tags=["video"])
R = {**ERROR_RESPONSES}


def _op(op_id, summary, description, **extra):
    return {"operation_id": op_id, "summary": summary, "description": description, **extra}


class ClipIn(Schema):
    camera_id: int
    starts_at: dt.datetime = Field(description="Start (ISO 8601; local time if no offset).")
    ends_at: dt.datetime = Field(description="End, exclusive.")
    case_id: int | None = None
    spot_check_item_id: int | None = None


class ClipOut(Schema):
    id: int
    camera_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    state: str
    duration_s: float | None
    size_bytes: int | None
    error: str
    case_id: int | None
    spot_check_item_id: int | None
    requested_at: dt.datetime
    download_url: str | None

    @staticmethod
    def resolve_download_url(obj):
        if obj.state != ClipState.READY:
            return None
        return reverse("api:video_clip_download", kwargs={"clip_id": obj.pk})


class PlaybackRange(Schema):
    from_: str | None = Field(None, alias="from", description=(
        "Start, local time (2026-11-22T09:00:00); default: one hour before the end."))
    to: str | None = Field(None, description="End, exclusive, local time; default: now.")


class SpanOut(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime


class PlaybackOut(Schema):
    camera_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    playlist_url: str | None = Field(description=(
        "None when nothing is recorded in the range, or when the caller may see the camera "
        "but not replay its recordings (institutions see what is recorded, not the video)."))
    segments: int
    recorded: list[SpanOut]


def _ref(model, pk, field, qs):
    if pk is None:
        return None
    obj = qs.filter(pk=pk).first()
    if obj is None:
        from django.utils.translation import gettext_lazy as _

        from skillguard.core.errors import Problems

        problems = Problems(Clip)
        problems.add(field, "unknown_reference", _("no such record, or you may not use it"))
        problems.raise_if_any()
    return obj


@router.post("/video/clips", response={201: ClipOut, **R},
             **_op("requestClip", "Request a clip",
                   "剪辑视频片段（流复制，异步）。Cut [starts_at, ends_at) of a camera's recording "
                   "(stream copy, done in the background: poll getClip until ready). Refused "
                   "beyond the recorded range, reversed, or longer than the limit."))
def request_clip(request, payload: ClipIn):
    from skillguard.cases.models import Case, SpotCheckItem

    user = request.auth
    require(user, "add", Clip)
    camera = queries.access_replay_camera(user, payload.camera_id)
    case = _ref(Case, payload.case_id, "case", Case.objects.restrict(user, "view"))
    item = _ref(SpotCheckItem, payload.spot_check_item_id, "spot_check_item",
                queries.visible_spot_check_items(user))
    clip = clip_service.request_clip(user, camera, payload.starts_at, payload.ends_at,
                                     case=case, spot_check_item=item)
    return 201, clip


@router.get("/video/clips/{int:clip_id}", response={200: ClipOut, **R},
            **_op("getClip", "Get a clip", "视频片段详情与状态。A clip's state (pending, ready, "
                  "failed with the error), measured duration and download URL."))
def get_clip(request, clip_id: int):
    return queries.access_clip(request.auth, clip_id)


@router.get("/video/clips/{int:clip_id}/download", response={200: None, **R},
            url_name="video_clip_download",
            **_op("downloadClip", "Download a clip", "下载视频片段（MP4，记录审计）。The clip's "
                  "MP4 file; every download is recorded in the audit trail."))
def download_clip(request, clip_id: int):
    user = request.auth
    clip = queries.access_clip(user, clip_id)
    require(user, "export", Clip)
    path = clip_service.clip_path(clip)
    if clip.state != ClipState.READY or path is None or not path.is_file():
        raise Http404
    clip_service.record_download(user, clip)
    return FileResponse(open(path, "rb"), as_attachment=True,
                        filename=f"clip-{clip.pk}.mp4", content_type="video/mp4")


@router.get("/video/cameras/{int:camera_id}/playback", response={200: PlaybackOut, **R},
            **_op("getPlayback", "Playback of a range",
                  "回放地址：按时间段从录像索引生成 HLS 播放列表。The HLS (VOD) playlist URL of a "
                  "camera's recording over [from, to) (default: the last hour) and what is "
                  "recorded in it; no URL when nothing is."))
def get_playback(request, camera_id: int, range_: Query[PlaybackRange]):
    from skillguard.cameras.models import Camera
    from skillguard.core.scoping import access, can

    user = request.auth
    camera = access(Camera, user, camera_id)
    may_replay = can(user, "view", RecordingSegment)
    end = (playback.parse_local(range_.to) if range_.to
           else timezone.now().replace(microsecond=0))
    start = (playback.parse_local(range_.from_) if range_.from_
             else end - dt.timedelta(hours=1) if end else None)
    playback.check_range(RecordingSegment, start, end, from_field="from", to_field="to",
                         record=str(camera))
    segments = queries.segments_between(camera.pk, camera.district_id, start, end)
    url = None
    if segments and may_replay:  # the URL opens the recording: audited here, once
        playback.audit_playback(user, camera, start, end)
        url = (reverse("video:playback_playlist", args=[camera.pk]) + "?"
               + urlencode({"from": start.isoformat(), "to": end.isoformat()}))
    return {"camera_id": camera.pk, "starts_at": start, "ends_at": end, "playlist_url": url,
            "segments": len(segments),
            "recorded": [{"starts_at": max(a, start), "ends_at": min(b, end)}
                         for a, b in playback.recorded_spans(segments)]}

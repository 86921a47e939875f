"""Playback from the segment index (viewer): ranges, the VOD playlist, segment files, the
audit of every view.

A range is [from, to) in local time (Asia/Shanghai). ``check_range`` refuses a reversed,
empty or too long range (``VIDEO_PLAYBACK_MAX_HOURS``) with a bilingual, field-naming
``BusinessRuleError``. ``build_playlist`` writes an HLS VOD playlist of the camera's
recorded segments overlapping the range:

    #EXTM3U / #EXT-X-VERSION:3 / #EXT-X-PLAYLIST-TYPE:VOD
    #EXT-X-TARGETDURATION: the longest segment, rounded up (seconds)
    #EXTINF:<duration_ms / 1000>, then the segment's URL
    #EXT-X-DISCONTINUITY before a segment that does not follow its predecessor (a gap of
                         more than GAP_TOLERANCE, or another stream session)
    #EXT-X-ENDLIST

Segment files are read through the storage backend of their tier (``video.storage``), so
archived segments replay and cut too.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.audit import services as audit
from skillguard.audit.models import AuditAction
from skillguard.core.errors import Problems, lazy_format

# Two segments further apart than this are not contiguous: the player is told so.
GAP_TOLERANCE = dt.timedelta(milliseconds=1500)
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def parse_local(value) -> dt.datetime | None:
    """A local date-time from a form or query value (``2026-11-22T09:30``), an aware ISO
    value, or a datetime; None when absent or unreadable."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for fmt in LOCAL_FORMATS:
            try:
                parsed = dt.datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def local_text(value: dt.datetime, seconds: bool = True) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else
                                              "%Y-%m-%d %H:%M")


def input_value(value: dt.datetime | None) -> str:
    """The value of an ``<input type=datetime-local step=1>``."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S") if value else ""


def check_range(model, start, end, *, max_hours: float | None = None,
                from_field: str = "starts_at", to_field: str = "ends_at", record: str = ""):
    """Refuse a missing, reversed, empty or too long range (nothing else is checked)."""
    problems = Problems(model, record)
    if start is None:
        problems.add(from_field, "required", _("Give the start of the range (local time)."))
    if end is None:
        problems.add(to_field, "required", _("Give the end of the range (local time)."))
    problems.raise_if_any()
    if end <= start:
        problems.add(to_field, "reversed", lazy_format(
            _("The range ends (%(end)s) before or when it starts (%(start)s)."),
            end=local_text(end), start=local_text(start)))
        problems.raise_if_any()
    limit = settings.VIDEO_PLAYBACK_MAX_HOURS if max_hours is None else max_hours
    if end - start > dt.timedelta(hours=limit):
        problems.add(to_field, "too_long", lazy_format(
            _("The range spans %(hours)s hours; at most %(limit)s hours may be replayed or "
              "cut at once."), hours=f"{(end - start).total_seconds() / 3600:.1f}",
            limit=f"{limit:g}"))
    problems.raise_if_any()


def recorded_spans(segments, tolerance: dt.timedelta = GAP_TOLERANCE):
    """Contiguous [(start, end)] covered by ``segments`` (time-ordered)."""
    spans: list[list[dt.datetime]] = []
    for s in segments:
        if spans and s.started_at <= spans[-1][1] + tolerance:
            spans[-1][1] = max(spans[-1][1], s.ended_at)
        else:
            spans.append([s.started_at, s.ended_at])
    return [(a, b) for a, b in spans]


def describe_spans(spans, limit: int = 6) -> str:
    if not spans:
        return "—"
    parts = []
    for a, b in spans[:limit]:
        same_day = timezone.localdate(a) == timezone.localdate(b)
        end = timezone.localtime(b).strftime("%H:%M:%S") if same_day else local_text(b)
        parts.append(f"{local_text(a)}–{end}")
    return "; ".join(parts) + (" …" if len(spans) > limit else "")


def nearby_recordings(camera, start, end, margin=dt.timedelta(hours=12)):
    from skillguard.video.queries import segments_between

    return recorded_spans(segments_between(camera.pk, camera.district_id, start - margin,
                                           end + margin))


def build_playlist(camera, segments) -> str:
    """The HLS VOD playlist of ``segments`` (time-ordered) of ``camera``."""
    target = max([math.ceil(s.duration_ms / 1000) for s in segments] or [1])
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
             f"#EXT-X-TARGETDURATION:{max(target, 1)}", "#EXT-X-MEDIA-SEQUENCE:0"]
    previous = None
    for s in segments:
        if previous is not None and (
                s.started_at - previous.ended_at > GAP_TOLERANCE
                or (s.stream_session_id != previous.stream_session_id)):
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{s.duration_ms / 1000:.3f},")
        lines.append(segment_url(camera, s))
        previous = s
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def segment_url(camera, segment) -> str:
    at = int(segment.started_at.timestamp() * 1000)
    return (reverse("video:segment_file", args=[camera.pk, segment.id]) + f"?at={at}")


# --------------------------------------------------------------------------- files


def segment_source(segment) -> str | None:
    """What ffmpeg reads for the segment (a local path, or a URL for a remote tier), through
    the storage backend of its tier; None when the file is gone."""
    from skillguard.video import storage

    try:
        local = storage.local_path(segment)
        if local is not None:
            return str(local) if Path(local).is_file() else None
        return storage.locate(segment)
    except (storage.StorageError, OSError):
        return None


def open_segment(segment):
    """A binary file object of the segment (any tier), or None when its file is gone."""
    from skillguard.video import storage

    try:
        return storage.open_segment(segment)
    except (storage.StorageError, OSError):
        return None


# --------------------------------------------------------------------------- audit


def _read_event(actor, camera, fields, comment):
    return audit._event(actor, AuditAction.READ_PERSONAL, camera, fields=fields,
                        comment=comment[:500])


def audit_live_view(actor, cameras, page: str) -> None:
    """One event per camera shown on a live page opened (not per fragment)."""
    from skillguard.audit.models import AuditEvent

    AuditEvent.objects.bulk_create(
        [_read_event(actor, c, ["live video"], f"live: {page}") for c in cameras])


def audit_playback(actor, camera, start, end) -> None:
    _read_event(actor, camera, ["recording"],
                f"playback {local_text(start)} – {local_text(end)}").save()

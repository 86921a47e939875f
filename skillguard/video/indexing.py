"""Index finished recording segments into ``RecordingSegment`` (bulk, idempotent).

``index_segments(camera, stream_session_id, files)`` takes the segment files of one camera
(``SegmentFile``: the path relative to the online tier and, when ffmpeg's segment list gave
them, the wall-clock start and end). A file without times is probed with ffprobe (one call
per file). Then, in one transaction holding an advisory lock per camera:

* the monthly partitions the segments fall in are created (``ensure_monthly_partitions``);
* the paths of that camera already indexed in the segments' time range are read in one
  query and skipped — re-indexing the same file inserts nothing (the partitioned table
  cannot carry a unique (camera_id, path) index without the partition key, so the lock and
  this check are the guarantee);
* the new rows are written with one ``INSERT … SELECT FROM unnest(…)``.

A segment that is truncated or partly corrupt (size not a whole number of 188-byte MPEG-TS
packets, or ffprobe reports errors) is kept and indexed ``damaged``; one ffprobe cannot read
at all is kept and indexed ``lost`` with a ``SEGMENT_LOST`` MediaEvent. No file is ever
deleted here.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.video import storage
from skillguard.video.models import MediaEvent, MediaEventKind, SegmentStatus

log = logging.getLogger(__name__)

TS_PACKET = 188
# <camera>/<YYYYMMDD>/<HHMMSSmmm>-<n>.ts (the recorder's names) or …/<YYYYMMDD-HHMMSS>.ts
_RUN_NAME = re.compile(r"(?P<day>\d{8})/(?P<hms>\d{6})(?P<ms>\d{3})?-(?P<n>\d+)\.ts$")
_STRFTIME_NAME = re.compile(r"(?P<day>\d{8})-(?P<hms>\d{6})\.ts$")


@dataclass(frozen=True)
class SegmentFile:
    path: str  # relative to the online tier's root
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    # listed by ffmpeg's segment list (closed normally); otherwise probed
    listed: bool = False


@dataclass(frozen=True)
class Probe:
    duration: float | None
    start: float | None
    errors: str
    readable: bool


def probe(path: Path | str) -> Probe:
    """Duration and start of a media file with one ffprobe call; errors as text."""
    binary = getattr(settings, "FFPROBE_BINARY", "ffprobe")
    try:
        done = subprocess.run(
            [binary, "-v", "error", "-show_entries",
             "format=duration,start_time:stream=codec_type", "-of", "json", str(path)],
            capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(None, None, str(exc), False)
    errors = done.stderr.decode("utf-8", "replace").strip()
    try:
        data = json.loads(done.stdout or b"{}")
    except ValueError:
        data = {}
    fmt = data.get("format") or {}
    streams = data.get("streams") or []

    def number(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    duration = number(fmt.get("duration"))
    readable = done.returncode == 0 and bool(streams) and duration is not None
    return Probe(duration, number(fmt.get("start_time")), errors, readable)


def name_time(path: str) -> dt.datetime | None:
    """The local wall-clock time encoded in a segment's name (second resolution)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    m = _RUN_NAME.search(path)
    if m:
        stamp = dt.datetime.strptime(m["day"] + m["hms"], "%Y%m%d%H%M%S")
        stamp += dt.timedelta(milliseconds=int(m["ms"] or 0))
        return stamp.replace(tzinfo=tz)
    m = _STRFTIME_NAME.search(path)
    if m:
        return dt.datetime.strptime(m["day"] + m["hms"], "%Y%m%d%H%M%S").replace(tzinfo=tz)
    return None


def _camera_facts(camera) -> tuple[int, int, int]:
    if hasattr(camera, "district_id"):
        return camera.pk, camera.district_id, camera.institution_id
    with connection.cursor() as cur:
        cur.execute("SELECT id, district_id, institution_id FROM cameras_camera WHERE id = %s",
                    [int(camera)])
        row = cur.fetchone()
    if row is None:
        raise ValueError(f"no camera {camera}")
    return row


def _examine(online: storage.StorageBackend, item: SegmentFile) -> dict:
    """Times, size and status of one file (ffprobe only when needed)."""
    size = online.size(item.path)
    status, problem, errors = SegmentStatus.COMPLETE, "", ""
    start, end = item.started_at, item.ended_at
    if size is None:
        status, problem, size = SegmentStatus.LOST, "file_missing", 0
    elif not item.listed or start is None or end is None or not size or size % TS_PACKET:
        found = probe(online.locate(item.path))
        if not found.readable:
            status, problem, errors = SegmentStatus.LOST, "unreadable", found.errors[-500:]
        else:
            if size % TS_PACKET:
                status, problem, errors = (SegmentStatus.DAMAGED, "truncated",
                                           found.errors[-500:])
            elif found.errors:
                status, problem, errors = (SegmentStatus.DAMAGED, "corrupt",
                                           found.errors[-500:])
            if start is None:
                start = name_time(item.path)
            if start is None:  # a live file is written up to its mtime
                mtime = online.local_path(item.path).stat().st_mtime
                start = dt.datetime.fromtimestamp(mtime, dt.UTC) - dt.timedelta(
                    seconds=found.duration)
            if end is None or not item.listed:
                end = start + dt.timedelta(seconds=found.duration)
    if status == SegmentStatus.LOST:
        start = start or name_time(item.path) or timezone.now()
        end = start
    return {"path": item.path, "started_at": start, "ended_at": max(end, start),
            "duration_ms": max(0, round((end - start).total_seconds() * 1000)),
            "size_bytes": size, "status": str(status), "problem": problem, "errors": errors}


def index_segments(camera, stream_session_id: int | None, files) -> list[dict]:
    """Index the camera's finished segment files; returns the rows inserted (as dicts).
    Idempotent: a path already indexed for the camera is skipped."""
    camera_id, district_id, institution_id = _camera_facts(camera)
    online = storage.backend_for(storage.ONLINE)
    items = [f if isinstance(f, SegmentFile) else SegmentFile(str(f)) for f in files]
    if not items:
        return []
    rows = [_examine(online, item) for item in items]
    tz = ZoneInfo(settings.TIME_ZONE)
    first = min(r["started_at"] for r in rows)
    last = max(r["started_at"] for r in rows)
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('video-index'), %s)",
                        [camera_id])
            cur.execute(
                "SELECT path FROM video_recordingsegment WHERE camera_id = %s "
                "AND district_id = %s AND started_at >= %s AND started_at <= %s "
                "AND path = ANY(%s)",
                [camera_id, district_id, first - dt.timedelta(days=1),
                 last + dt.timedelta(days=1), [r["path"] for r in rows]])
            known = {p for (p,) in cur.fetchall()}
            fresh, seen = [], set()
            for r in rows:
                if r["path"] not in known and r["path"] not in seen:
                    seen.add(r["path"])
                    fresh.append(r)
            if not fresh:
                return []
            ensure_monthly_partitions("video_recordingsegment", first.astimezone(tz).date(),
                                      last.astimezone(tz).date())
            cur.execute("""
                INSERT INTO video_recordingsegment
                    (district_id, started_at, ended_at, camera_id, institution_id,
                     stream_session_id, duration_ms, size_bytes, tier, path, status,
                     indexed_at)
                SELECT %s, s, e, %s, %s, %s, d, b, 'online', p, st, %s
                FROM unnest(%s::timestamptz[], %s::timestamptz[], %s::int[], %s::bigint[],
                            %s::text[], %s::text[]) AS x(s, e, d, b, p, st)""",
                [district_id, camera_id, institution_id, stream_session_id, now,
                 [r["started_at"] for r in fresh], [r["ended_at"] for r in fresh],
                 [r["duration_ms"] for r in fresh], [r["size_bytes"] for r in fresh],
                 [r["path"] for r in fresh], [r["status"] for r in fresh]])
        lost = [r for r in fresh if r["status"] != SegmentStatus.COMPLETE]
        if lost:
            MediaEvent.objects.bulk_create([
                MediaEvent(at=now, kind=MediaEventKind.SEGMENT_LOST, camera_id=camera_id,
                           district_id=district_id, institution_id=institution_id,
                           reason=r["problem"] or r["status"],
                           detail={"path": r["path"], "status": r["status"],
                                   "size_bytes": r["size_bytes"],
                                   "stream_session_id": stream_session_id,
                                   "started_at": r["started_at"].isoformat(),
                                   "errors": r["errors"]})
                for r in lost])
    for r in lost:
        log.warning("camera %s: segment %s indexed %s (%s)", camera_id, r["path"],
                    r["status"], r["problem"])
    return fresh

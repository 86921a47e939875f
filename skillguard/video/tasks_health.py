"""Camera health (periodic, idempotent): lost heartbeats, snapshots, media server down.

Every minute (``video.check_camera_health``):

1. sessions whose camera has sent no heartbeat (nginx ``on_update``, every 10 s) for
   ``CAMERA_HEARTBEAT_TIMEOUT_S`` close with ``end_reason=heartbeat_lost`` and the camera goes
   offline (the media server died or the network cut without a "publish done");
2. when the media server is not running while cameras are expected (a stream session open,
   or a session scheduled now in a room with a camera in service), one
   ``MEDIA_SERVER_DOWN`` event per ``DOWN_EVENT_EVERY`` (not one a minute);
3. each live camera whose last snapshot is older than ``CAMERA_SNAPSHOT_EVERY_S`` gets a new
   one: ffmpeg takes one frame from the newest complete fragment of its live HLS (or, when
   there is none, from the live RTMP stream) into ``<video root>/snapshots/<camera id>.jpg``
   (written aside, then renamed: a reader never sees half a picture). A failure is a
   ``SNAPSHOT_FAILED`` event (the first of a run of failures; later attempts only update it)
   and the health row's ``last_error``.

Running it twice changes nothing the second time.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from procrastinate.contrib.django import app

from skillguard.video import services_ingest
from skillguard.video.models import (
    CameraHealth,
    MediaEvent,
    MediaEventKind,
    StreamSession,
)

log = logging.getLogger(__name__)

DOWN_EVENT_EVERY = dt.timedelta(minutes=15)
SNAPSHOT_TIMEOUT_S = 20
SNAPSHOT_WORKERS = 2
SNAPSHOTS_PER_RUN = 200


def snapshot_path(camera_id: int) -> Path:
    return Path(settings.VIDEO_ROOT) / "snapshots" / f"{camera_id}.jpg"


def _newest_fragment(playlist: Path) -> Path | None:
    """The last fragment listed in a live playlist (complete: nginx lists it once closed)."""
    try:
        lines = [ln.strip() for ln in playlist.read_text().splitlines()]
    except OSError:
        return None
    names = [ln for ln in lines if ln and not ln.startswith("#")]
    for name in reversed(names):
        path = playlist.parent / name
        if path.exists():
            return path
    return None


def take_snapshot(camera, adapter) -> tuple[bool, str]:
    """One frame of the live picture into the camera's snapshot file; (ok, error)."""
    source = _newest_fragment(adapter.live_hls_playlist(camera.stream_name))
    source = str(source) if source else adapter.pull_url(camera.stream_name)
    target = snapshot_path(camera.pk)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{os.getpid()}.part.jpg")
    command = [settings.FFMPEG_BINARY, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-rw_timeout", "10000000", "-i", source, "-frames:v", "1", "-q:v", "4",
               str(partial)]
    if not source.startswith("rtmp://"):
        command.remove("-rw_timeout")
        command.remove("10000000")
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=SNAPSHOT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        return False, str(exc)[:200]
    if done.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        return False, (done.stderr.strip().splitlines() or ["ffmpeg failed"])[-1][:200]
    partial.replace(target)
    return True, ""


def _record_snapshot(camera, ok: bool, error: str, now) -> None:
    if ok:
        CameraHealth.objects.filter(camera_id=camera.pk).update(
            snapshot=f"snapshots/{camera.pk}.jpg", snapshot_at=now, last_error="")
        return
    already_failing = CameraHealth.objects.filter(
        camera_id=camera.pk, last_error__startswith="snapshot:").exists()
    CameraHealth.objects.filter(camera_id=camera.pk).update(
        last_error=f"snapshot: {error}"[:200])
    if already_failing:  # one event per run of failures, not one a minute
        return
    MediaEvent.objects.create(
        at=now, kind=MediaEventKind.SNAPSHOT_FAILED, camera=camera,
        district_id=camera.district_id, institution_id=camera.institution_id,
        stream_name=camera.stream_name, reason="snapshot_failed", detail={"error": error})


def cameras_expected(now) -> bool:
    """Cameras should be pushing: a stream session open, or a session scheduled now in a
    room with a camera in service."""
    if StreamSession.objects.filter(ended_at__isnull=True).exists():
        return True
    from skillguard.cameras.models import Camera, CameraState
    from skillguard.registry.models import Session

    rooms = Camera.objects.filter(state=CameraState.IN_SERVICE, room__isnull=False).values(
        "room_id")
    return Session.objects.filter(starts_at__lte=now, ends_at__gt=now,
                                  room_id__in=rooms).exists()


def check_health(now=None, adapter=None, *, snapshots: bool = True) -> dict:
    now = now or timezone.now()
    if adapter is None:
        from skillguard.video.media import get_adapter

        adapter = get_adapter()
    result = {"heartbeat_lost": services_ingest.mark_lost_heartbeats(now=now),
              "server_down_event": False, "snapshots": 0, "snapshot_failures": 0}
    running = adapter.is_running()
    if not running and cameras_expected(now):
        recent = MediaEvent.objects.filter(kind=MediaEventKind.MEDIA_SERVER_DOWN,
                                           at__gt=now - DOWN_EVENT_EVERY).exists()
        if not recent:
            MediaEvent.objects.create(at=now, kind=MediaEventKind.MEDIA_SERVER_DOWN,
                                      reason="media_server_down",
                                      detail={"server": adapter.name,
                                              "rtmp_port": adapter.rtmp_port})
            result["server_down_event"] = True
    if running and snapshots:
        due = now - dt.timedelta(seconds=settings.CAMERA_SNAPSHOT_EVERY_S)
        from django.db.models import Q

        cameras = [h.camera for h in CameraHealth.objects.select_related("camera")
                   .filter(online=True).filter(Q(snapshot_at__isnull=True) |
                                               Q(snapshot_at__lt=due))
                   .order_by("snapshot_at")[:SNAPSHOTS_PER_RUN]]
        if cameras:
            # ffmpeg runs in threads; the database is written here, in this connection
            with ThreadPoolExecutor(SNAPSHOT_WORKERS) as pool:
                outcomes = list(pool.map(lambda c: take_snapshot(c, adapter), cameras))
            for camera, (ok, error) in zip(cameras, outcomes):
                _record_snapshot(camera, ok, error, now)
                result["snapshots" if ok else "snapshot_failures"] += 1
    return result


@app.periodic(cron="* * * * *", periodic_id="video-camera-health")
@app.task(name="video.check_camera_health", queueing_lock="video-camera-health")
def check_camera_health(timestamp: int | None = None) -> dict:
    """Every minute: lost heartbeats, media server down, due snapshots (idempotent)."""
    return check_health()

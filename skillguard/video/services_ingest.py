"""Writes of the ingest pipeline: the media server's callbacks decide and record here.

CONTRACT (``video.hooks`` and the health task call only these):

* ``authorise_publish(stream_name, key, addr, client_id)`` — a camera starts pushing. The
  push is refused (``Decision.accepted`` false) when the stream name is unknown, the key
  wrong or revoked, the camera not in service, or the camera already live; every refusal is
  a ``MediaEvent(publish_refused, reason=…)``. An accepted push opens a ``StreamSession``,
  marks ``CameraHealth`` online and writes ``MediaEvent(publish_accepted)``, with
  ``detail["outside_session"] = true`` when no session of the camera's room is scheduled
  around now (the push is still accepted, so a supervisor can check the picture).
* ``publish_done(stream_name, client_id)`` — the push ended: the session closes
  (``end_reason`` ``publish_done``) and the camera goes offline.
* ``heartbeat(stream_name, key, client_id, stats)`` — nginx's ``on_update`` every 10 s while a
  push lives: last seen, bytes and bitrate. ``False`` means "drop this publisher" (its key
  was revoked or its camera taken out of service meanwhile, or the push is not the camera's
  open session).
* ``mark_lost_heartbeats(older_than)`` — health task: sessions whose camera has not been seen
  for ``older_than`` close with ``heartbeat_lost``; their camera goes offline.

"Already live" is decided by the database: ``StreamSession`` has a partial unique constraint
(one open session per camera), so two pushes racing on one key cannot both open one — the
loser's insert fails and it is refused. An open session whose camera has sent no heartbeat
for ``CAMERA_HEARTBEAT_TIMEOUT_S`` is stale (the media server died without saying "done") and
is closed so the camera's reconnect is accepted.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.cameras import keys
from skillguard.video.models import (
    CameraHealth,
    MediaEvent,
    MediaEventKind,
    StreamSession,
)

log = logging.getLogger(__name__)

ALREADY_LIVE = "already_live"
NO_STREAM_NAME = "no_stream_name"
# end reasons of a StreamSession
END_PUBLISH_DONE = "publish_done"
END_HEARTBEAT_LOST = "heartbeat_lost"
END_STALE = "stale_replaced"
END_SERVER_STOPPED = "server_stopped"
OUTSIDE_SESSION_MARGIN = dt.timedelta(minutes=15)

# Every reason code of the pipeline and what it means, in one place (English source text,
# translated to Chinese in the catalogue; rendered in the reader's language when shown).
REASON_MESSAGES = {
    keys.UNKNOWN_STREAM: _("No camera has this stream name."),
    keys.BAD_KEY: _("The stream key is wrong."),
    keys.KEY_REVOKED: _("The camera's stream key has been revoked."),
    keys.NOT_IN_SERVICE: _("The camera is not in service."),
    ALREADY_LIVE: _("The camera is already streaming: a second push on the same key."),
    NO_STREAM_NAME: _("The push named no stream."),
    "outside_session": _("Streaming while no session of the camera's room is scheduled."),
    END_PUBLISH_DONE: _("The camera stopped pushing."),
    END_HEARTBEAT_LOST: _("No heartbeat from the media server for this stream."),
    END_STALE: _("Replaced by a new push after the old one went silent."),
    END_SERVER_STOPPED: _("The media server stopped."),
    "snapshot_failed": _("The snapshot could not be taken from the live stream."),
    "media_server_down": _("The media server is not running while cameras are expected."),
}


def reason_message(code: str):
    return REASON_MESSAGES.get(code, code)


@dataclass
class Decision:
    accepted: bool
    reason: str = ""
    camera: object = None
    session: StreamSession | None = None
    flags: dict = field(default_factory=dict)


def _event(kind, *, camera=None, stream_name="", addr=None, reason="", **detail) -> MediaEvent:
    return MediaEvent.objects.create(
        at=timezone.now(), kind=kind, camera=camera, stream_name=stream_name[:128],
        district_id=getattr(camera, "district_id", None),
        institution_id=getattr(camera, "institution_id", None),
        client_addr=addr or None, reason=reason, detail=detail)


def _set_health(camera, **values) -> None:
    CameraHealth.objects.update_or_create(
        camera=camera, defaults={"district_id": camera.district_id,
                                 "institution_id": camera.institution_id, **values})


def scheduled_session_near(camera, at: dt.datetime):
    """A session of the camera's room scheduled around ``at`` (with a margin), or None."""
    if camera.room_id is None:
        return None
    from skillguard.registry.models import Session

    return (Session.objects.filter(room_id=camera.room_id,
                                   starts_at__lte=at + OUTSIDE_SESSION_MARGIN,
                                   ends_at__gte=at - OUTSIDE_SESSION_MARGIN)
            .order_by("starts_at").first())


def _refuse(reason, *, camera=None, stream_name="", addr=None, **detail) -> Decision:
    _event(MediaEventKind.PUBLISH_REFUSED, camera=camera, stream_name=stream_name, addr=addr,
           reason=reason, **detail)
    log.info("push refused: stream=%s reason=%s addr=%s", stream_name, reason, addr)
    return Decision(False, reason, camera)


def _stale(session: StreamSession, now: dt.datetime) -> bool:
    limit = dt.timedelta(seconds=settings.CAMERA_HEARTBEAT_TIMEOUT_S)
    health = CameraHealth.objects.filter(camera_id=session.camera_id).first()
    seen = max(filter(None, [session.started_at, health and health.last_seen_at]))
    return now - seen > limit


def authorise_publish(stream_name: str, key: str, addr: str | None = None,
                      client_id: str = "", server: str = "nginx-rtmp") -> Decision:
    """Decide on a push; record the decision (see the module docstring)."""
    stream_name = (stream_name or "").strip()
    if not stream_name:
        return _refuse(NO_STREAM_NAME, addr=addr)
    camera, reason = keys.camera_for_stream(stream_name, key or "")
    if reason:
        return _refuse(reason, camera=camera, stream_name=stream_name, addr=addr)
    now = timezone.now()
    try:
        with transaction.atomic():
            stale = (StreamSession.objects.select_for_update()
                     .filter(camera=camera, ended_at__isnull=True).first())
            if stale is not None and _stale(stale, now):
                stale.ended_at, stale.end_reason = now, END_STALE
                stale.save(update_fields=["ended_at", "end_reason"])
            session = StreamSession.objects.create(
                camera=camera, district_id=camera.district_id,
                institution_id=camera.institution_id, server=server, client_addr=addr or None,
                client_id=str(client_id or "")[:32], started_at=now)
    except IntegrityError:  # the one-open-session-per-camera constraint: already live
        return _refuse(ALREADY_LIVE, camera=camera, stream_name=stream_name, addr=addr)
    near = scheduled_session_near(camera, now)
    flags = {"outside_session": near is None}
    if near is not None:
        flags["session"] = near.pk
    _set_health(camera, online=True, last_seen_at=now, last_publish_at=now, last_error="")
    _event(MediaEventKind.PUBLISH_ACCEPTED, camera=camera, stream_name=stream_name, addr=addr,
           reason="outside_session" if near is None else "", stream_session=session.pk,
           **flags)
    return Decision(True, "", camera, session, flags)


def _open_session(stream_name: str, client_id: str = ""):
    qs = (StreamSession.objects.select_related("camera")
          .filter(camera__stream_name=stream_name, ended_at__isnull=True))
    session = qs.first()
    if session is None:
        return None
    if client_id and session.client_id and session.client_id != str(client_id):
        return None  # a refused second push ending: not this session's publisher
    return session


def close_session(session: StreamSession, end_reason: str, *, at=None, event=True) -> bool:
    """Close an open session (idempotent: a closed one stays as it is); camera offline."""
    at = at or timezone.now()
    # One transaction: whoever sees the session closed also sees the camera offline, and the
    # row lock taken by the UPDATE orders a concurrent heartbeat before or after it.
    with transaction.atomic():
        closed = StreamSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
            ended_at=at, end_reason=end_reason)
        if not closed:
            return False
        camera = session.camera
        still_live = StreamSession.objects.filter(camera=camera, ended_at__isnull=True).exists()
        if not still_live:
            _set_health(camera, online=False)
        if event:
            _event(MediaEventKind.PUBLISH_DONE, camera=camera, stream_name=camera.stream_name,
                   addr=session.client_addr, reason=end_reason, stream_session=session.pk,
                   seconds=round((at - session.started_at).total_seconds()))
    return True


def publish_done(stream_name: str, client_id: str = "") -> bool:
    session = _open_session((stream_name or "").strip(), client_id)
    if session is None:
        return False
    return close_session(session, END_PUBLISH_DONE)


def heartbeat(stream_name: str, key: str = "", client_id: str = "",
              stats=None) -> bool:
    """Record that the push is alive; False when the media server should drop it."""
    session = _open_session((stream_name or "").strip(), client_id)
    if session is None:
        return False
    _camera, reason = keys.camera_for_stream(session.camera.stream_name, key or "")
    if reason:  # revoked or taken out of service while streaming
        close_session(session, reason)
        return False
    now = timezone.now()
    values = {"online": True, "last_seen_at": now}
    if stats is not None:
        values["bitrate_kbps"] = stats.bw_in_kbps
    with transaction.atomic():
        # Locked and still open: a close running meanwhile waits for this, or this sees it
        # closed (a late heartbeat must not mark a closed camera online again).
        if not StreamSession.objects.select_for_update().filter(
                pk=session.pk, ended_at__isnull=True).exists():
            return False
        if stats is not None:
            StreamSession.objects.filter(pk=session.pk).update(bytes_in=stats.bytes_in)
        _set_health(session.camera, **values)
    return True


def mark_lost_heartbeats(older_than: dt.timedelta | None = None, now=None) -> int:
    """Close sessions whose camera has been silent longer than ``older_than``; offline."""
    now = now or timezone.now()
    older_than = older_than or dt.timedelta(seconds=settings.CAMERA_HEARTBEAT_TIMEOUT_S)
    cutoff = now - older_than
    closed = 0
    for session in (StreamSession.objects.select_related("camera")
                    .filter(ended_at__isnull=True, started_at__lt=cutoff)):
        health = CameraHealth.objects.filter(camera_id=session.camera_id).first()
        if health is not None and health.last_seen_at and health.last_seen_at >= cutoff:
            continue
        closed += close_session(session, END_HEARTBEAT_LOST, at=now)
    # cameras marked online without any open session (e.g. after a crash)
    (CameraHealth.objects.filter(online=True)
     .exclude(camera__stream_sessions__ended_at__isnull=True)
     .filter(last_seen_at__lt=cutoff).update(online=False))
    return closed

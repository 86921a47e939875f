"""Scoped reads of video. Each helper adds its own functions in its own section.

``access_*`` raise the same 404 for a missing record and one outside the user's scope.
"""
from __future__ import annotations

# --------------------------------------------------------------------------- viewer
# Live view, video wall, playback and clips (video/views.py, api_view.py, clips.py).
#
# Who may watch: the role must be allowed to view stream sessions (live) or recording
# segments (playback) — supervisors, the city administrator, the auditor — and the camera
# must be in the user's scope (``Camera.objects.restrict(user, "view")``).


def viewable_cameras(user):
    """Cameras whose live picture ``user`` may watch (none if the role may not watch)."""
    from skillguard.cameras.models import Camera
    from skillguard.core.scoping import can
    from skillguard.video.models import StreamSession

    if not can(user, "view", StreamSession):
        return Camera.objects.none()
    return Camera.objects.restrict(user, "view")


def replayable_cameras(user):
    """Cameras whose recordings ``user`` may replay."""
    from skillguard.cameras.models import Camera
    from skillguard.core.scoping import can
    from skillguard.video.models import RecordingSegment

    if not can(user, "view", RecordingSegment):
        return Camera.objects.none()
    return Camera.objects.restrict(user, "view")


def access_live_camera(user, pk):
    from skillguard.cameras.models import Camera
    from skillguard.core.scoping import access

    return access(Camera, user, pk, queryset=viewable_cameras(user).select_related(
        "institution", "venue", "room", "district"))


def access_replay_camera(user, pk):
    from skillguard.cameras.models import Camera
    from skillguard.core.scoping import access

    return access(Camera, user, pk, queryset=replayable_cameras(user).select_related(
        "institution", "venue", "room", "district"))


def access_clip(user, pk):
    from skillguard.core.scoping import access
    from skillguard.video.models import Clip

    return access(Clip, user, pk, queryset=Clip.objects.select_related(
        "camera", "camera__institution", "camera__room", "requested_by", "case",
        "spot_check_item"))


def clips(user):
    from skillguard.video.models import Clip

    return (Clip.objects.restrict(user, "view")
            .select_related("camera", "camera__institution", "camera__room", "requested_by",
                            "case"))


def visible_spot_check_items(user):
    """Spot-check items the user sees: through their spot check's scope (cases' rule)."""
    from skillguard.cases.models import SpotCheck, SpotCheckItem

    return SpotCheckItem.objects.filter(
        spot_check__in=SpotCheck.objects.restrict(user, "view").values("pk"))


def running_sessions(user, *, at=None, district=None, institution=None):
    """Sessions running at ``at`` (starts_at ≤ at < ends_at) in a room with a camera in
    service that ``user`` may watch, as [(session, camera)], ordered by district,
    institution, room."""
    from django.utils import timezone

    from skillguard.cameras.models import CameraState
    from skillguard.registry.models import Session

    at = at or timezone.now()
    cameras = {c.room_id: c for c in viewable_cameras(user)
               .filter(state=CameraState.IN_SERVICE, room__isnull=False)
               .filter(**({"district_id": district} if district else {}))
               .filter(**({"institution_id": institution} if institution else {}))
               .select_related("institution", "room", "venue", "district", "health")}
    if not cameras:
        return []
    sessions = (Session.objects.filter(starts_at__lte=at, ends_at__gt=at,
                                       room_id__in=list(cameras))
                .select_related("training_class", "training_class__institution", "room",
                                "room__venue")
                .order_by("district_id", "training_class__institution_id", "room_id", "id"))
    out, seen = [], set()
    for s in sessions:
        if s.room_id in seen:  # two sessions in one room at once: one tile
            continue
        seen.add(s.room_id)
        out.append((s, cameras[s.room_id]))
    return out


def session_for_class_live(training_class, at=None):
    """The session of ``training_class`` running at ``at``, else its next one, else its last
    one (whose room's camera the class live page shows)."""
    from django.utils import timezone

    at = at or timezone.now()
    sessions = training_class.sessions.select_related("room", "room__venue")
    return (sessions.filter(starts_at__lte=at, ends_at__gt=at).order_by("starts_at").first()
            or sessions.filter(starts_at__gt=at).order_by("starts_at").first()
            or sessions.order_by("-starts_at").first())


def segments_between(camera_id: int, district_id: int, start, end):
    """The recorded segments of a camera overlapping [start, end), in time order (lost
    segments left out). ``district_id`` and the time bounds prune the partitions."""
    from datetime import timedelta

    from django.conf import settings

    from skillguard.video.models import RecordingSegment, SegmentStatus

    # A segment that started before ``start`` may still overlap it: look back one segment
    # length at most (segments are a minute long; an hour, or two segments, is a safe bound).
    lookback = timedelta(seconds=max(3600, 2 * getattr(settings, "VIDEO_SEGMENT_SECONDS", 60)))
    return list(RecordingSegment.objects.filter(
        district_id=district_id, camera_id=camera_id,
        started_at__gte=start - lookback, started_at__lt=end, ended_at__gt=start)
        .exclude(status=SegmentStatus.LOST).order_by("started_at", "id"))

# --------------------------------------------------------------------------- end viewer

# --------------------------------------------------------------------------- ingest
# Media events and camera health (video/views_ingest.py, api_ingest.py).


def media_events(user, *, kind=None, district=None, camera=None, reason=None, since=None,
                 until=None):
    """Media events in ``user``'s scope, newest first. ``district``: a District or id;
    ``camera``: a camera id, or text matched against serial / stream name."""
    from django.db.models import Q

    from skillguard.video.models import MediaEvent

    qs = MediaEvent.objects.restrict(user, "view").select_related("camera")
    if kind:
        qs = qs.filter(kind=kind)
    if district:
        qs = qs.filter(district_id=getattr(district, "pk", district))
    if reason:
        qs = qs.filter(reason=reason)
    if camera not in (None, ""):
        text = str(camera).strip()
        if text.isdigit():
            qs = qs.filter(camera_id=int(text))
        else:
            qs = qs.filter(Q(camera__serial__icontains=text) | Q(stream_name__icontains=text))
    if since:
        qs = qs.filter(at__gte=since)
    if until:
        qs = qs.filter(at__lt=until)
    return qs.order_by("-at", "-id")


def access_camera_health(user, camera_id):
    """(camera, health or None) of a camera in ``user``'s scope whose health the role may
    see; the same 404 for a camera missing, out of scope, or whose health the role may not
    see."""
    from skillguard.cameras.models import Camera
    from skillguard.core.scoping import access, can
    from skillguard.video.models import CameraHealth

    cameras = Camera.objects.select_related("district", "institution", "room")
    if not can(user, "view", CameraHealth):
        cameras = cameras.none()
    camera = access(Camera, user, camera_id, queryset=cameras)
    health = CameraHealth.objects.filter(camera=camera).first()
    return camera, health

# --------------------------------------------------------------------------- end ingest

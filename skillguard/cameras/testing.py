"""Test helpers: a camera in service in a room, with its stream key."""
from __future__ import annotations

import itertools

from django.utils import timezone

from skillguard.cameras.keys import issue_stream_key
from skillguard.cameras.models import Camera, CameraState

_serials = itertools.count(1)


def make_camera(room, *, state=CameraState.IN_SERVICE, serial: str | None = None):
    """A camera in ``room`` (registry.Room); returns (camera, stream key)."""
    n = next(_serials)
    venue = room.venue
    camera = Camera.objects.create(
        district_id=venue.district_id, institution_id=venue.institution_id, venue=venue,
        room=room, serial=serial or f"TEST-CAM-{room.pk}-{n}", model="SG-4G-1080P",
        iccid=f"8986{n:016d}", stream_name=f"cam{room.pk}x{n}", state=state,
        installed_at=timezone.now(),
        in_service_since=timezone.now() if state == CameraState.IN_SERVICE else None)
    return camera, issue_stream_key(camera)

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


def estate_record(kind: str, side):
    """A camera-estate record of a test-world side (``core.testing.Side``) for the
    permission matrix: its room's camera (made in service if none), an open inspection work
    order, a passed inspection, a work-order photo. Never changes the camera's state."""
    from django.core.files.base import ContentFile

    from skillguard.cameras.models import (
        Inspection,
        WorkOrder,
        WorkOrderKind,
        WorkOrderPhoto,
    )

    camera = (Camera.objects.filter(room=side.room).order_by("pk").first()
              or make_camera(side.room)[0])
    if kind == "camera":
        return camera
    order = WorkOrder.objects.filter(camera=camera).order_by("pk").first()
    if order is None:
        order = WorkOrder.objects.create(
            camera=camera, district_id=camera.district_id, institution_id=camera.institution_id,
            kind=WorkOrderKind.INSPECTION, venue=camera.venue, room=camera.room)
    if kind == "workorder":
        return order
    if kind == "inspection":
        return (Inspection.objects.filter(camera=camera).order_by("pk").first()
                or Inspection.objects.create(
                    camera=camera, district_id=camera.district_id,
                    institution_id=camera.institution_id, year=timezone.localdate().year,
                    checklist={}, passed=True, performed_at=timezone.now()))
    if kind == "photo":
        photo = WorkOrderPhoto.objects.filter(work_order=order).order_by("pk").first()
        if photo is None:
            photo = WorkOrderPhoto(work_order=order, name="walk.jpg", size=4)
            photo.file.save("walk.jpg", ContentFile(b"walk"), save=True)
        return photo
    raise ValueError(kind)

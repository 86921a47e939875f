"""The camera life through the services: install → in service (key shown once) → fault →
repair → relocation → inspection fail / pass → retire; illegal steps refused with reasons."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from skillguard.audit.models import AuditEvent
from skillguard.cameras import keys, services
from skillguard.cameras.models import (
    Camera,
    CameraState,
    Inspection,
    WorkOrder,
    WorkOrderKind,
    WorkOrderState,
)
from skillguard.cameras.testing import make_camera
from skillguard.core.errors import BusinessRuleError
from skillguard.registry import services as registry

from .conftest import photo

pytestmark = pytest.mark.django_db
PASS = {k: {"ok": True} for k in ("device", "network", "picture_quality", "picture_position")}


def refused(fn, *args, **kwargs) -> dict:
    """The problems of a refused call, {field: (code, english, chinese)}."""
    with pytest.raises(BusinessRuleError) as err:
        fn(*args, **kwargs)
    out = {}
    for p in err.value.problems:
        d = p.as_dict()
        out[p.field] = (p.code, d["message_en"], d["message_zh"])
    return out


def install(world, operator, room=None, serial="SN-0001", iccid="89860012345678901234"):
    side = world.a
    room = room or side.room
    order = services.request_installation(side.users["institution_admin"],
                                          institution=side.institution, venue=room.venue,
                                          room=room, note="new class")
    soon = timezone.now() + dt.timedelta(days=2)
    services.schedule_installation(operator, order, technician_name="张师傅",
                                   technician_phone="13800010001", appointment_at=soon)
    services.record_installation(operator, order, serial=serial, model="HK-4G",
                                 iccid=iccid, position_photo=photo(), result="ok")
    return Camera.objects.get(pk=order.camera_id)


def test_full_life_of_a_camera(world, operator):
    side = world.a
    admin = side.users["institution_admin"]
    order = services.request_installation(admin, institution=side.institution,
                                          venue=side.venue, room=side.room)
    camera = order.camera
    assert camera.state == CameraState.REQUESTED and order.kind == WorkOrderKind.INSTALL
    assert order.state == WorkOrderState.OPEN and order.created_by == admin
    # recording the installation before it is scheduled is refused, naming the state
    problems = refused(services.record_installation, operator, order, serial="X1", model="m",
                       iccid="89860012345678901234", position_photo=photo())
    assert problems["state"][0] == "wrong_state"
    assert "Installation requested" in problems["state"][1]
    services.schedule_installation(operator, order, technician_name="张师傅",
                                   technician_phone="13800010001",
                                   appointment_at=timezone.now() + dt.timedelta(days=1))
    camera.refresh_from_db()
    order.refresh_from_db()
    assert camera.state == CameraState.SCHEDULED and order.state == WorkOrderState.SCHEDULED
    # the technician's input is validated field by field
    problems = refused(services.record_installation, operator, order, serial="", model="",
                       iccid="12345")
    assert set(problems) == {"serial", "model", "iccid", "position_photo"}
    assert "ICCID" in problems["iccid"][1] and problems["iccid"][2]  # both languages
    services.record_installation(operator, order, serial="SN-1", model="HK-4G",
                                 iccid="89860012345678901234", position_photo=photo())
    camera.refresh_from_db()
    order.refresh_from_db()
    assert camera.state == CameraState.INSTALLED and camera.serial == "SN-1"
    assert camera.position_photo and order.state == WorkOrderState.DONE
    assert not camera.may_stream

    camera, key = services.put_in_service(operator, camera)
    assert camera.state == CameraState.IN_SERVICE and camera.in_service_since
    assert keys.camera_for_stream(camera.stream_name, key) == (camera, "")
    assert key not in str(list(AuditEvent.objects.values_list("changes", "comment")))
    # a second key: the old one stops working at once
    camera, key2 = services.rotate_stream_key(operator, camera)
    assert keys.camera_for_stream(camera.stream_name, key)[1] == keys.BAD_KEY
    assert keys.camera_for_stream(camera.stream_name, key2)[1] == ""

    # fault → repair visit (not fixed) → fixed
    repair = services.report_fault(admin, camera, description="黑屏")
    camera.refresh_from_db()
    assert camera.state == CameraState.FAULTY and repair.kind == WorkOrderKind.REPAIR
    assert keys.camera_for_stream(camera.stream_name, key2)[1] == keys.NOT_IN_SERVICE
    assert refused(services.report_fault, admin, camera, description="again")["state"][0] \
        == "already_reported"
    services.record_repair_visit(operator, repair, result="换电源，待观察")
    repair.refresh_from_db()
    assert repair.state == WorkOrderState.OPEN and "换电源" in repair.result
    services.record_repair_visit(operator, repair, result="已修复", fixed=True)
    repair.refresh_from_db()
    camera.refresh_from_db()
    assert repair.state == WorkOrderState.DONE and camera.state == CameraState.IN_SERVICE

    # relocation to a new room of the same institution
    new_room = registry.add_room(None, side.venue, name="202")
    removal, target = services.start_relocation(admin, camera, venue=side.venue, room=new_room,
                                                reason="教室调整")
    camera.refresh_from_db()
    assert camera.state == CameraState.RELOCATING
    assert (removal.kind, removal.room_id) == (WorkOrderKind.RELOCATION_REMOVAL, side.room.pk)
    assert (target.kind, target.room_id) == (WorkOrderKind.RELOCATION_INSTALL, new_room.pk)
    assert keys.camera_for_stream(camera.stream_name, key2)[1] == keys.NOT_IN_SERVICE
    assert refused(services.complete_relocation, operator, camera)["position_photo"][0] \
        == "required"
    services.complete_relocation(operator, camera, position_photo=photo("new.jpg"))
    camera.refresh_from_db()
    assert camera.state == CameraState.INSTALLED and camera.room_id == new_room.pk
    assert not WorkOrder.objects.filter(camera=camera, state__in=["open", "scheduled"]).exists()
    camera, key3 = services.put_in_service(operator, camera)

    # inspection: a failed item leaves the camera faulty with a repair order
    inspect = services.schedule_inspection(side.users["district_supervisor"], camera)
    bad = {**PASS, "picture_position": {"ok": False, "note": ""}}
    assert refused(services.record_inspection, operator, inspect,
                   checklist=bad)["checklist"][0] == "picture_position_note"
    assert refused(services.record_inspection, operator, inspect,
                   checklist={"device": {"ok": True}})["checklist"][0].endswith("_missing")
    bad["picture_position"]["note"] = "镜头偏移，看不到讲台"
    failed = services.record_inspection(operator, inspect, checklist=bad)
    camera.refresh_from_db()
    assert not failed.passed and failed.failed_items() == ["picture_position"]
    assert camera.state == CameraState.FAULTY
    fix = WorkOrder.objects.get(camera=camera, kind=WorkOrderKind.REPAIR, state="open")
    assert "镜头偏移" in fix.fault_description
    services.mark_fixed(operator, fix, result="已调整角度")
    again = services.schedule_inspection(operator, camera)
    passed = services.record_inspection(operator, again, checklist=PASS)
    camera.refresh_from_db()
    assert passed.passed and camera.state == CameraState.IN_SERVICE
    assert Inspection.objects.filter(camera=camera).count() == 2

    # retire: key revoked, open work orders cancelled
    pending = services.schedule_inspection(operator, camera)
    assert refused(services.retire, operator, camera, reason="")["state"][0] == "reason_required"
    services.retire(operator, camera, reason="机构停办")
    camera.refresh_from_db()
    pending.refresh_from_db()
    assert camera.state == CameraState.RETIRED and camera.stream_key_revoked_at
    assert pending.state == WorkOrderState.CANCELLED
    assert keys.camera_for_stream(camera.stream_name, key3)[1] == keys.KEY_REVOKED
    # every step is in the audit trail
    transitions = list(AuditEvent.objects.filter(
        object_type="cameras.camera", object_id=str(camera.pk), action="transition").order_by("pk")
        .values_list("changes", flat=True))
    path = [c["status"][1] for c in transitions]
    assert path == ["scheduled", "installed", "in_service", "faulty", "in_service",
                    "relocating", "installed", "in_service", "faulty", "in_service", "retired"]


def test_illegal_transitions_are_refused_with_a_reason(world, operator):
    side = world.a
    camera = install(world, operator)
    # installed: no fault report, no inspection, not twice installed
    p = refused(services.report_fault, operator, camera, description="x")
    assert p["state"][0] == "wrong_state" and "Installed" in p["state"][1]
    assert refused(services.schedule_inspection, operator, camera)["state"][0] == "wrong_state"
    assert refused(services.complete_relocation, operator, camera,
                   position_photo=photo())["state"][0] == "wrong_state"
    camera, _key = services.put_in_service(operator, camera)
    assert refused(services.put_in_service, operator, camera)["state"][0] == "wrong_state"
    services.retire(operator, camera, reason="x")
    for fn, kwargs in ((services.put_in_service, {}), (services.retire, {"reason": "x"}),
                       (services.rotate_stream_key, {}),
                       (services.start_relocation, {"venue": side.venue, "room": side.room})):
        with translation.override("en"):
            p = refused(fn, operator, camera, **kwargs)
        assert p["state"][0] == "wrong_state" and "Decommissioned" in p["state"][1]
        assert p["state"][2]


def test_one_camera_in_service_per_room(world, operator):
    side = world.a
    first, _ = make_camera(side.room)
    # a request for an occupied room is refused before anything is written
    p = refused(services.request_installation, side.users["institution_admin"],
                institution=side.institution, venue=side.venue, room=side.room)
    assert p["room"][0] == "room_has_camera" and first.serial in p["room"][1]
    # the database constraint, met through another path, becomes a clear refusal
    other = registry.add_room(None, side.venue, name="303")
    second = install(world, operator, room=other, serial="SN-2",
                     iccid="89860012345678900002")
    Camera.objects.filter(pk=second.pk).update(room=side.room)
    second.refresh_from_db()
    p = refused(services.put_in_service, operator, second)
    assert p["room"][0] == "room_has_camera"
    second.refresh_from_db()
    assert second.state == CameraState.INSTALLED and not second.stream_key_hash


def test_request_validation_and_who_may_act(world, operator):
    a, b = world.a, world.b
    admin = a.users["institution_admin"]
    # a room of another venue / institution
    p = refused(services.request_installation, admin, institution=a.institution, venue=a.venue,
                room=b.room)
    assert p["room"][0] == "wrong_venue"
    p = refused(services.request_installation, operator, institution=a.institution,
                venue=b.venue, room=b.room)
    assert p["venue"][0] == "wrong_institution"
    # another institution's admin, another district's supervisor, the auditor: forbidden
    for user in (b.users["institution_admin"], b.users["district_supervisor"],
                 world.users["auditor"], a.users["teacher"]):
        assert refused(services.request_installation, user, institution=a.institution,
                       venue=a.venue, room=a.room)[""][0] == "forbidden"
    order = services.request_installation(a.users["district_supervisor"],
                                          institution=a.institution, venue=a.venue, room=a.room)
    # field work is the operator's: an institution admin may not schedule it
    assert refused(services.schedule_installation, admin, order, technician_name="x",
                   technician_phone="138", appointment_at=timezone.now())[""][0] == "forbidden"
    p = refused(services.schedule_installation, operator, order, technician_name="",
                technician_phone="abc", appointment_at=None)
    assert set(p) == {"technician_name", "technician_phone", "appointment_at"}
    # serial numbers are unique
    make_camera(registry.add_room(None, a.venue, name="909"), serial="DUP-1")
    services.schedule_installation(operator, order, technician_name="张", technician_phone=
                                   "13800000000", appointment_at=timezone.now())
    p = refused(services.record_installation, operator, order, serial="DUP-1", model="m",
                iccid="89860012345678901234", position_photo=photo())
    assert p["serial"][0] == "duplicate"
    p = refused(services.record_installation, operator, order, serial="OK-1", model="m",
                iccid="89860012345678901234", position_photo=SimpleUploaded("x.exe"))
    assert p["position_photo"][0] == "file_type"


def SimpleUploaded(name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"MZ", "application/octet-stream")


def test_stream_key_revocation(world, operator):
    camera, key = make_camera(world.a.room)
    assert refused(services.revoke_stream_key, operator, camera,
                   reason=" ")["stream_key_hint"][0] == "reason_required"
    assert refused(services.revoke_stream_key, world.a.users["district_supervisor"], camera,
                   reason="leaked")[""][0] == "forbidden"
    services.revoke_stream_key(operator, camera, reason="leaked")
    assert keys.camera_for_stream(camera.stream_name, key)[1] == keys.KEY_REVOKED
    assert refused(services.revoke_stream_key, operator, camera,
                   reason="again")["stream_key_hint"][0] == "already_revoked"
    camera, fresh = services.rotate_stream_key(operator, camera)
    assert keys.camera_for_stream(camera.stream_name, fresh) == (camera, "")
    event = AuditEvent.objects.filter(object_type="cameras.camera", action="update",
                                      comment__contains="revoked").get()
    assert "stream_key_revoked_at" in event.changes

"""Coverage (应装尽装), overdue inspections, the estate summary and scoping, computed
exactly on a small world."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from skillguard.cameras import queries, services
from skillguard.cameras.models import Camera, CameraState
from skillguard.cameras.testing import make_camera
from skillguard.registry import services as registry
from skillguard.registry.models import Session
from skillguard.video.models import CameraHealth

pytestmark = pytest.mark.django_db


def _session(cls, room, days):
    start = timezone.now() + dt.timedelta(days=days)
    return Session.objects.create(training_class=cls, district_id=cls.district_id,
                                  sequence=10 + days, starts_at=start,
                                  ends_at=start + dt.timedelta(hours=2),
                                  teacher=cls.teachers.first(), room=room)


@pytest.fixture
def small(world):
    """A: approved class in room 101 (camera in service, online) and room 102 (faulty
    camera); room 103 only used by the draft class (does not count). B: approved class in
    its room 101, camera in service for 400 days, never inspected, no health row."""
    a, b = world.a, world.b
    room2 = registry.add_room(None, a.venue, name="102")
    room3 = registry.add_room(None, a.venue, name="103")
    _session(a.approved_class, room2, 2)
    _session(a.draft_class, room3, 12)
    cam1, _ = make_camera(a.room)
    cam2, _ = make_camera(room2)
    services.report_fault(None, cam2, description="黑屏")
    make_camera(room3)  # a camera in a room no approved class uses
    CameraHealth.objects.create(camera=cam1, district_id=cam1.district_id,
                                institution_id=cam1.institution_id, online=True)
    camb, _ = make_camera(b.room)
    Camera.objects.filter(pk=camb.pk).update(
        in_service_since=timezone.now() - dt.timedelta(days=400))
    return {"room2": room2, "room3": room3, "cam1": cam1, "cam2": cam2, "camb": camb}


def test_coverage_counts_approved_classrooms_only(world, small):
    city = world.users["city_supervisor"]
    rows = {r["institution"].pk: r for r in queries.coverage(city)}
    a = rows[world.a.institution.pk]
    assert (a["approved"], a["covered"], a["rate"]) == (2, 1, 0.5)
    assert a["missing"] == [small["room2"]]
    b = rows[world.b.institution.pk]
    assert (b["approved"], b["covered"], b["rate"], b["missing"]) == (1, 1, 1.0, [])
    assert next(iter(rows)) == world.a.institution.pk  # lowest rate first
    # the repaired camera covers its room again
    order = small["cam2"].work_orders.get(kind="repair")
    services.mark_fixed(None, order)
    assert {r["institution"].pk: r["rate"] for r in queries.coverage(city)} == {
        world.a.institution.pk: 1.0, world.b.institution.pk: 1.0}
    # scoped: a district supervisor sees only the institutions of the district
    sup = world.a.users["district_supervisor"]
    assert [r["institution"].pk for r in queries.coverage(sup)] == [world.a.institution.pk]
    assert queries.coverage(city, district=world.b.district.pk)[0]["institution"] \
        == world.b.institution


def test_overdue_inspections(world, small):
    city = world.users["city_admin"]
    assert list(queries.overdue_inspections(city)) == [small["camb"]]
    # a passed inspection within the year clears it; a failed one does not
    order = services.schedule_inspection(None, small["camb"])
    checklist = {k: {"ok": True} for k in ("device", "network", "picture_quality",
                                           "picture_position")}
    services.record_inspection(None, order, checklist=checklist,
                               performed_at=timezone.now() - dt.timedelta(days=364))
    assert list(queries.overdue_inspections(city)) == []
    assert list(queries.overdue_inspections(
        city, now=timezone.now() + dt.timedelta(days=2))) == [small["camb"]]


def test_estate_summary_figures(world, small):
    summary = queries.estate_summary(world.users["city_supervisor"])
    rows = {r["district"].code: r for r in summary["districts"]}
    a, b = rows[world.a.district.code], rows[world.b.district.code]
    assert a["by_state"]["in_service"] == 2 and a["by_state"]["faulty"] == 1
    assert (a["cameras"], a["in_service"], a["online"], a["online_rate"]) == (3, 2, 1, 0.5)
    assert (a["open_faults"], a["overdue_inspections"]) == (1, 0)
    assert (a["approved_rooms"], a["covered_rooms"], a["coverage_rate"]) == (2, 1, 0.5)
    # no health row counts as offline
    assert (b["in_service"], b["online"], b["online_rate"]) == (1, 0, 0.0)
    assert (b["open_faults"], b["overdue_inspections"], b["coverage_rate"]) == (0, 1, 1.0)
    t = summary["totals"]
    assert (t["in_service"], t["online"], t["open_faults"], t["overdue_inspections"],
            t["approved_rooms"], t["covered_rooms"]) == (3, 1, 1, 1, 3, 2)
    # a district supervisor's summary holds only the district
    mine = queries.estate_summary(world.b.users["district_supervisor"])
    assert [r["district"].code for r in mine["districts"]] == [world.b.district.code]


def test_scoping_of_cameras(world, small):
    a_admin = world.a.users["institution_admin"]
    assert {c.institution_id for c in queries.cameras(a_admin)} == {world.a.institution.pk}
    assert queries.cameras(world.b.users["district_supervisor"]).get() == small["camb"]
    assert queries.cameras(world.a.users["teacher"]).count() == 0  # no camera permission
    assert {c.pk for c in queries.cameras(world.users["auditor"], online="1")} \
        == {small["cam1"].pk}
    assert {c.pk for c in queries.cameras(world.users["auditor"], online="0")} \
        == {small["camb"].pk, Camera.objects.get(room=small["room3"]).pk}
    assert queries.cameras(world.users["auditor"], state=CameraState.FAULTY).get() \
        == small["cam2"]


def test_due_inspections_are_ordered_once(world, small):
    from skillguard.cameras.models import WorkOrder
    from skillguard.cameras.tasks import order_due_inspections

    assert order_due_inspections() == 1
    order = WorkOrder.objects.get(kind="inspection")
    assert order.camera == small["camb"] and order.state == "open"
    assert order_due_inspections() == 0  # idempotent: the open order is not repeated
    # the camera stays overdue until a passed inspection is recorded
    assert list(queries.overdue_inspections(world.users["city_admin"])) == [small["camb"]]

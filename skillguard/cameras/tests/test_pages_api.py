"""The camera life through the pages and the API, as the users who do each step; the key
shown once; scoping answers 404; the estate page and the CSV export."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from skillguard.audit.models import AuditEvent
from skillguard.cameras import keys
from skillguard.cameras.models import Camera, WorkOrder
from skillguard.cameras.testing import make_camera
from skillguard.registry import services as registry
from skillguard.video.models import CameraHealth

from .conftest import photo

pytestmark = pytest.mark.django_db


def post_json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_lifecycle_through_pages_and_api(world, client):
    a = world.a
    operator = world.users["city_admin"]
    client.cookies["django_language"] = "en"  # assertions below read the English texts
    # the institution asks for a camera in its classroom (page)
    client.force_login(a.users["institution_admin"])
    page = client.get("/cameras/request/")
    assert page.status_code == 200 and a.room.name in page.content.decode()
    assert a.users["institution_admin"].institution.name in page.content.decode()
    response = client.post("/cameras/request/", {"room": a.room.pk, "note": "新开班"})
    assert response.status_code == 302
    order = WorkOrder.objects.get()
    camera = order.camera
    assert response["Location"] == f"/cameras/work-orders/{order.pk}/"
    # a second request for the same room is refused next to the field
    refused = client.post("/cameras/request/", {"room": a.room.pk})
    assert refused.status_code == 400 and camera.serial in refused.content.decode()
    # the institution may not schedule field work: no form for it, and a POST is 403
    detail = client.get(f"/cameras/work-orders/{order.pk}/").content.decode()
    assert 'name="step" value="schedule"' not in detail
    assert client.post(f"/cameras/work-orders/{order.pk}/act/", {
        "step": "schedule", "schedule-technician_name": "x"}).status_code == 403

    # the operator schedules and records the installation (pages)
    client.force_login(operator)
    soon = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(f"/cameras/work-orders/{order.pk}/act/", {
        "step": "schedule", "schedule-technician_name": "张师傅",
        "schedule-technician_phone": "13800010001", "schedule-appointment_at": soon})
    assert r.status_code == 302
    bad = client.post(f"/cameras/work-orders/{order.pk}/act/", {
        "step": "record_installation", "record_installation-serial": "SN-9",
        "record_installation-model": "HK", "record_installation-iccid": "123"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "An ICCID has 19 to 20 digits" in text and "Add a photo" in text
    r = client.post(f"/cameras/work-orders/{order.pk}/act/", {
        "step": "record_installation", "record_installation-serial": "SN-9",
        "record_installation-model": "HK", "record_installation-iccid": "89860012345678901234",
        "record_installation-position_photo": photo(),
        "record_installation-photos": [photo("site.jpg")]})
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.state == "done" and order.photos.count() == 1
    assert client.get(f"/cameras/photos/{order.photos.get().pk}/").status_code == 200
    assert client.get(f"/cameras/{camera.pk}/position-photo/").status_code == 200
    # the institution sees its work order's photos; another district's supervisor does not
    client.force_login(a.users["institution_admin"])
    assert client.get(f"/cameras/photos/{order.photos.get().pk}/").status_code == 200
    client.force_login(world.b.users["district_supervisor"])
    assert client.get(f"/cameras/photos/{order.photos.get().pk}/").status_code == 404
    client.force_login(operator)

    # put in service: the key is in this answer, and never again
    r = client.post(f"/cameras/{camera.pk}/act/", {"step": "put_in_service"})
    assert r.status_code == 200 and "no-store" in r.get("Cache-Control", "")
    key = re.search(r'id="stream-key-value">([^<]+)<', r.content.decode()).group(1)
    camera.refresh_from_db()
    assert camera.state == "in_service"
    assert keys.camera_for_stream(camera.stream_name, key) == (camera, "")
    again = client.get(f"/cameras/{camera.pk}/").content.decode()
    assert key not in again and f"…{key[-4:]}" in again
    assert key not in json.dumps(client.get(f"/api/cameras/{camera.pk}").json())
    # the live link appears only once the viewer's page exists
    from django.urls import NoReverseMatch, reverse

    try:
        live = reverse("video:camera_live", kwargs={"pk": camera.pk})
    except NoReverseMatch:
        assert 'id="camera-live"' not in again
    else:
        assert f'id="camera-live" href="{live}"' in again

    # the district supervisor reports a fault through the API
    client.force_login(a.users["district_supervisor"])
    r = post_json(client, f"/api/cameras/{camera.pk}/faults", {"description": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fault_description"
    r = post_json(client, f"/api/cameras/{camera.pk}/faults", {"description": "黑屏"})
    assert r.status_code == 201
    repair = r.json()
    assert repair["kind"] == "repair" and repair["state"] == "open"
    # … but may not record the repair (operator's work): 403
    assert post_json(client, f"/api/workorders/{repair['id']}/repair-visit",
                     {"result": "x", "fixed": True}).status_code == 403
    client.force_login(operator)
    r = post_json(client, f"/api/workorders/{repair['id']}/repair-visit",
                  {"result": "更换电源", "fixed": True})
    assert r.status_code == 200 and r.json()["state"] == "done"
    assert client.get(f"/api/cameras/{camera.pk}").json()["state"] == "in_service"

    # relocation through the page, completion with the new position photo
    room2 = registry.add_room(None, a.venue, name="205")
    r = client.post(f"/cameras/{camera.pk}/act/", {"step": "start_relocation",
                                                   "start_relocation-room": room2.pk,
                                                   "start_relocation-reason": "换教室"})
    assert r.status_code == 302
    r = client.post(f"/cameras/{camera.pk}/act/", {
        "step": "complete_relocation", "complete_relocation-position_photo": photo("new.jpg")})
    assert r.status_code == 302
    r = post_json(client, f"/api/cameras/{camera.pk}/put-in-service", {})
    assert r.status_code == 200 and r.json()["camera"]["room_id"] == room2.pk
    key2 = r.json()["stream_key"]
    assert keys.camera_for_stream(camera.stream_name, key2)[1] == ""
    assert keys.camera_for_stream(camera.stream_name, key)[1] == keys.BAD_KEY

    # yearly inspection: fail (page) then pass (API)
    r = post_json(client, f"/api/cameras/{camera.pk}/inspections", {})
    assert r.status_code == 201
    inspect = r.json()["id"]
    r = client.post(f"/cameras/work-orders/{inspect}/act/", {
        "step": "record_inspection", "record_inspection-device_ok": "pass",
        "record_inspection-network_ok": "pass", "record_inspection-picture_quality_ok": "fail",
        "record_inspection-picture_quality_note": "", "record_inspection-picture_position_ok":
        "pass"})
    assert r.status_code == 400 and "Picture quality failed: say what is wrong" in \
        r.content.decode()
    r = client.post(f"/cameras/work-orders/{inspect}/act/", {
        "step": "record_inspection", "record_inspection-device_ok": "pass",
        "record_inspection-network_ok": "pass", "record_inspection-picture_quality_ok": "fail",
        "record_inspection-picture_quality_note": "画面模糊",
        "record_inspection-picture_position_ok": "pass"})
    assert r.status_code == 302
    detail = client.get(f"/api/cameras/{camera.pk}").json()
    assert detail["state"] == "faulty"
    assert [i["passed"] for i in detail["inspections"]] == [False]
    fix = [o for o in detail["work_orders"] if o["kind"] == "repair" and o["state"] == "open"]
    assert len(fix) == 1 and "画面模糊" in fix[0]["fault_description"]
    post_json(client, f"/api/workorders/{fix[0]['id']}/repair-visit",
              {"result": "清洁镜头", "fixed": True})
    inspect2 = post_json(client, f"/api/cameras/{camera.pk}/inspections", {}).json()["id"]
    items = {k: {"ok": True} for k in ("device", "network", "picture_quality",
                                       "picture_position")}
    r = post_json(client, f"/api/workorders/{inspect2}/inspection", {"checklist": items})
    assert r.status_code == 201 and r.json()["passed"] is True
    assert client.get(f"/api/inspections/{r.json()['id']}").json()["checklist"][
        "device"]["ok"] is True

    # retire: refused without a reason, then done; illegal afterwards
    r = post_json(client, f"/api/cameras/{camera.pk}/retire", {"reason": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "reason_required"
    r = post_json(client, f"/api/cameras/{camera.pk}/retire", {"reason": "停办"})
    assert r.status_code == 200 and r.json()["state"] == "retired"
    r = post_json(client, f"/api/cameras/{camera.pk}/put-in-service", {})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "wrong_state"
    assert "Decommissioned" in r.json()["errors"][0]["message_en"]
    assert keys.camera_for_stream(camera.stream_name, key2)[1] == keys.KEY_REVOKED


def test_scoping_pages_and_api(world, client):
    cam_a, _ = make_camera(world.a.room)
    cam_b, _ = make_camera(world.b.room)
    order_b = WorkOrder.objects.create(camera=cam_b, district_id=cam_b.district_id,
                                       institution_id=cam_b.institution_id, kind="inspection")
    client.force_login(world.b.users["district_supervisor"])
    missing = client.get("/cameras/987654321/")
    hidden = client.get(f"/cameras/{cam_a.pk}/")
    assert hidden.status_code == missing.status_code == 404
    assert client.get(f"/api/cameras/{cam_a.pk}").json() == \
        client.get("/api/cameras/987654321").json()
    assert client.get(f"/api/cameras/{cam_a.pk}").status_code == 404
    assert client.post(f"/cameras/{cam_a.pk}/act/", {"step": "retire"}).status_code == 404
    assert client.get(f"/cameras/{cam_b.pk}/").status_code == 200
    client.force_login(world.a.users["institution_admin"])
    listing = client.get("/cameras/").content.decode()
    assert cam_a.serial in listing and cam_b.serial not in listing
    assert [c["id"] for c in client.get("/api/cameras").json()["items"]] == [cam_a.pk]
    assert client.get(f"/cameras/work-orders/{order_b.pk}/").status_code == 404
    assert client.get(f"/api/workorders/{order_b.pk}").status_code == 404


def test_camera_list_filters_and_audited_export(world, client):
    cam_a, _ = make_camera(world.a.room)
    cam_b, _ = make_camera(world.b.room)
    CameraHealth.objects.create(camera=cam_a, district_id=cam_a.district_id,
                                institution_id=cam_a.institution_id, online=True)
    client.force_login(world.users["city_supervisor"])
    body = client.get("/cameras/", {"online": "1"}).content.decode()
    assert cam_a.serial in body and cam_b.serial not in body
    body = client.get("/cameras/", {"district": world.b.district.pk}).content.decode()
    assert cam_b.serial in body and cam_a.serial not in body
    body = client.get("/cameras/", {"institution": world.a.institution.pk,
                                    "state": "in_service"}).content.decode()
    assert cam_a.serial in body and cam_b.serial not in body
    export = client.get("/cameras/", {"export": "csv", "online": "0"})
    csv_text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert cam_b.serial in csv_text and cam_a.serial not in csv_text
    assert AuditEvent.objects.filter(action="export", object_type="cameras.camera").exists()
    # the institution admin cannot export (no permission)
    client.force_login(world.a.users["institution_admin"])
    assert client.get("/cameras/", {"export": "csv"}).status_code == 403


def test_estate_page(world, client):
    cam_a, _ = make_camera(world.a.room)
    CameraHealth.objects.create(camera=cam_a, district_id=cam_a.district_id,
                                institution_id=cam_a.institution_id, online=True)
    client.force_login(world.users["city_supervisor"])
    page = client.get("/cameras/estate/")
    text = page.content.decode()
    assert page.status_code == 200
    row_a = re.search(rf'data-district="{world.a.district.code}">(.*?)</tr>', text, re.DOTALL).group(1)
    assert "100.0%" in row_a  # online rate and coverage of district A
    row_b = re.search(rf'data-district="{world.b.district.code}">(.*?)</tr>', text, re.DOTALL)
    assert row_b is not None and "0.0%" in row_b.group(1)  # B: approved room, no camera
    gaps = re.search(r'id="estate-gaps">(.*?)</section>', text, re.DOTALL).group(1)
    assert world.b.institution.name in gaps and world.a.institution.name not in gaps
    assert f"/cameras/request/?room={world.b.room.pk}" in gaps  # one click to ask for it
    form = client.get(f"/cameras/request/?room={world.b.room.pk}").content.decode()
    assert re.search(rf'<option value="{world.b.room.pk}"[^>]*selected', form)
    # the district supervisor of A sees only A
    client.force_login(world.a.users["district_supervisor"])
    text = client.get("/cameras/estate/").content.decode()
    assert world.b.institution.name not in text and f'data-district="{world.b.district.code}"' \
        not in text
    _ = Camera


def test_api_work_orders_and_naive_times(world, client):
    camera, _ = make_camera(world.a.room)
    client.force_login(world.a.users["institution_admin"])
    naive = (timezone.localtime() + dt.timedelta(days=3)).replace(tzinfo=None)
    r = post_json(client, f"/api/cameras/{camera.pk}/inspections", {
        "technician_name": "张师傅", "technician_phone": "13800010001",
        "appointment_at": naive.isoformat()})
    assert r.status_code == 201 and r.json()["state"] == "scheduled"
    again = post_json(client, f"/api/cameras/{camera.pk}/inspections", {})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "already_open"
    listed = client.get("/api/workorders", {"kind": "inspection", "state": "open"}).json()
    assert [o["id"] for o in listed["items"]] == [r.json()["id"]]
    coverage = client.get("/api/cameras/coverage").json()
    assert coverage == [{"institution_id": world.a.institution.pk,
                         "institution": world.a.institution.name,
                         "district_id": world.a.district.pk, "approved_rooms": 1,
                         "covered_rooms": 1, "rate": 1.0, "missing": []}]
    summary = client.get("/api/cameras/estate").json()
    assert summary["totals"]["in_service"] == 1 and summary["totals"]["online_rate"] == 0.0
    assert [d["district_id"] for d in summary["districts"]] == [world.a.district.pk]
    # the institution cannot record the inspection (operator's work)
    assert post_json(client, f"/api/workorders/{r.json()['id']}/inspection", {
        "checklist": {}}).status_code == 403

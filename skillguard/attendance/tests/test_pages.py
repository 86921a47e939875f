"""What people see: the evidence behind each hour, scoped like everything else."""
from __future__ import annotations

import datetime as dt

import pytest

from skillguard.attendance import hours
from skillguard.attendance.testing import Evidence, attend, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of
from skillguard.subsidies.services import recompute_verdicts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    client.cookies["django_language"] = "en"  # assertions below read the English texts


@pytest.fixture
def evidence(world):
    s = world.a.approved_class.sessions.get(sequence=1)
    t0, t1 = world.a.trainees[:2]
    e0 = enrolment_of(world.a.approved_class, t0)
    e1 = enrolment_of(world.a.approved_class, t1)
    items = attend(e0, s, late_min=-7, device_id="KIOSK-7F")
    items.append(Evidence(e0, s, "in", s.starts_at + dt.timedelta(minutes=3),
                          latitude="31.220000", longitude="121.400000", method="gps",
                          device_id="PHONE-FAR"))
    items += attend(e1, s, early_leave_min=100, device_id="KIOSK-7F")
    write_evidence(items)
    trainees = hours.recompute_sessions([s.pk])
    recompute_verdicts(trainees)
    return s, e0, e1


def test_trainee_page_shows_the_evidence_behind_each_hour(world, login, evidence):
    _s, e0, _e1 = evidence
    page = login(world.users["district_supervisor"]).get(
        f"/registry/trainees/{world.a.trainees[0].pk}/").content.decode()
    assert 'id="learning-hours"' in page
    section = page[page.index(f'id="hours-enrolment-{e0.pk}"'):]
    assert 'class="valid-hours">4<' in section  # 4 of 4 class hours
    assert "KIOSK-7F" in section and "PHONE-FAR" in section
    assert "yes: used for the hours" in section
    assert "outside the venue&#x27;s geofence" in section  # the far check-in, and why
    assert "flag-outside_geofence" in section
    assert "Pending evidence" in section  # subsidy: the class has not finished
    assert "The class has not finished yet" in section


def test_trainee_sees_own_hours_only(world, login, evidence):
    _s, e0, e1 = evidence
    client = login(world.users["trainee"])  # trainees[0] of world.a
    page = client.get(f"/registry/trainees/{world.a.trainees[0].pk}/").content.decode()
    assert f'id="hours-enrolment-{e0.pk}"' in page
    assert client.get(f"/api/enrolments/{e0.pk}/hours").status_code == 200
    assert client.get(f"/api/enrolments/{e1.pk}/hours").status_code == 404
    cls_page = client.get(f"/registry/classes/{world.a.approved_class.pk}/").content.decode()
    assert f'id="attendance-enrolment-{e0.pk}"' in cls_page
    assert f'id="attendance-enrolment-{e1.pk}"' not in cls_page


def test_class_page_summarises_attendance(world, login, evidence):
    _s, e0, e1 = evidence
    page = login(world.users["institution_admin"]).get(
        f"/registry/classes/{world.a.approved_class.pk}/").content.decode()
    section = page[page.index('id="class-attendance"'):]
    row0 = section[section.index(f'id="attendance-enrolment-{e0.pk}"'):]
    assert "4 / 4" in row0[:600] and "100.0%" in row0[:600]
    row1 = section[section.index(f'id="attendance-enrolment-{e1.pk}"'):]
    assert "1 / 4" in row1[:600]  # 80 minutes + grace = 1 class hour


def test_teacher_sees_hours_of_the_class_but_not_the_raw_evidence(world, login, evidence):
    _s, e0, _e1 = evidence
    client = login(world.users["teacher"])
    page = client.get(f"/registry/classes/{world.a.approved_class.pk}/").content.decode()
    assert f'id="attendance-enrolment-{e0.pk}"' in page
    page = client.get(f"/registry/trainees/{world.a.trainees[0].pk}/").content.decode()
    assert 'class="valid-hours">4<' in page and "KIOSK-7F" not in page


def test_hours_api_explains_every_session(world, login, evidence):
    s, e0, _e1 = evidence
    client = login(world.users["city_supervisor"])
    body = client.get(f"/api/enrolments/{e0.pk}/hours").json()
    assert body["valid_hours"] == "4.00" or float(body["valid_hours"]) == 4
    [session] = body["sessions"]
    assert session["session_id"] == s.pk and session["flags"] == ["outside_geofence"]
    kinds = [(ev["kind"], ev["counts"], ev["used"], ev["not_counted"])
             for ev in session["evidence"]]
    assert kinds == [("in", True, True, []), ("in", False, False, ["outside_geofence"]),
                     ("out", True, True, [])]
    trainee = client.get(f"/api/trainees/{world.a.trainees[0].pk}/hours").json()
    assert {x["enrolment_id"] for x in trainee["enrolments"]} >= {e0.pk}
    subsidy = client.get(f"/api/enrolments/{e0.pk}/subsidy").json()
    assert subsidy["verdict"] == "pending_evidence"
    assert subsidy["reasons"][0]["code"] == "class_not_finished"
    assert subsidy["reasons"][0]["message_en"].startswith("The class has not finished yet")
    assert subsidy["reasons"][0]["message_zh"]


def test_out_of_scope_enrolment_answers_like_a_missing_one(world, login, evidence):
    client = login(world.users["district_supervisor"])
    other = enrolment_of(world.b.approved_class, world.b.trainees[0])
    for path in (f"/api/enrolments/{other.pk}/hours", f"/api/enrolments/{other.pk}/subsidy"):
        out, missing = client.get(path), client.get(path.replace(str(other.pk), "987654321"))
        assert out.status_code == missing.status_code == 404
        assert out.json() == missing.json()

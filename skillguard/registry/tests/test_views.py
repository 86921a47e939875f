"""The registry pages as their users see them: scope, forms, audit, personal data, workflow."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.personal_data import unseal
from skillguard.core.testing import PASSWORD, make_id_number
from skillguard.registry import services
from skillguard.registry.models import (
    ClassReview,
    ClassStatus,
    Enrolment,
    EnrolmentStatus,
    Institution,
    Trainee,
    TrainingClass,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Assertions read the English texts, whatever the translators have done to zh-hans."""
    settings.LANGUAGE_CODE = "en"


def _field_block(html: str, name: str) -> str:
    """The markup of one form field (label, widget, its errors)."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)\n</div>', html, re.S)
    assert match, f"field {name} not on the page"
    return match.group(1)


def _text(response) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- scope


def test_district_supervisor_lists_show_only_their_district(world, login):
    client = login(world.a.users["district_supervisor"])

    page = _text(client.get(reverse("registry:institution_list")))
    assert world.a.institution.name in page
    assert world.b.institution.name not in page

    page = _text(client.get(reverse("registry:class_list")))
    assert world.a.draft_class.code in page and world.a.approved_class.code in page
    assert world.b.draft_class.code not in page and world.b.approved_class.code not in page

    page = _text(client.get(reverse("registry:trainee_list")))
    assert world.a.trainees[0].name in page
    assert world.b.trainees[0].name not in page

    page = _text(client.get(reverse("registry:teacher_list")))
    assert world.a.teacher.name in page and world.b.teacher.name not in page


def test_institution_admin_sees_only_their_institution(world, login):
    client = login(world.a.users["institution_admin"])

    page = _text(client.get(reverse("registry:institution_list")))
    assert world.a.institution.name in page and world.b.institution.name not in page
    page = _text(client.get(reverse("registry:class_list")))
    assert world.a.draft_class.code in page and world.b.draft_class.code not in page
    page = _text(client.get(reverse("registry:session_list") + "?date_from=2000-01-01"))
    assert world.a.draft_class.code in page and world.b.draft_class.code not in page


def test_other_districts_records_give_the_same_404_as_missing_ones(world, login):
    client = login(world.a.users["district_supervisor"])
    for name, obj in [("registry:institution_detail", world.b.institution),
                      ("registry:class_detail", world.b.draft_class),
                      ("registry:trainee_detail", world.b.trainees[0]),
                      ("registry:teacher_detail", world.b.teacher),
                      ("registry:venue_detail", world.b.venue)]:
        assert client.get(reverse(name, args=[obj.pk])).status_code == 404, name
    assert client.get(reverse("registry:class_detail", args=[987654])).status_code == 404


def test_search_finds_a_trainee_by_full_id_number_only_in_scope(world, login):
    trainee_a, trainee_b = world.a.trainees[1], world.b.trainees[1]
    client = login(world.a.users["district_supervisor"])
    page = _text(client.get(reverse("registry:trainee_list"),
                            {"q": unseal(trainee_a, "id_number")}))
    assert trainee_a.name in page and world.a.trainees[0].name not in page
    page = _text(client.get(reverse("registry:trainee_list"),
                            {"q": unseal(trainee_b, "id_number")}))
    assert trainee_b.name not in page


def test_filter_change_refreshes_only_the_table(world, login):
    client = login(world.users["city_supervisor"])
    response = client.get(reverse("registry:class_list"), {"status": "draft"},
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    page = _text(response)
    assert "<html" not in page and "<table" in page
    assert world.a.draft_class.code in page and world.b.draft_class.code in page
    assert world.a.approved_class.code not in page
    assert "HX-Request" in response["Vary"]


def test_every_menu_page_opens_for_every_role(world, login, client):
    from skillguard.core.navigation import menu_for

    for user in world.users.values():
        if user.role == "api_client":
            continue
        login(user)
        for item in menu_for(user):
            # an entry may send the user on to their own level (the cockpit: city, district
            # or institution)
            response = client.get(item["url"], follow=True)
            assert response.status_code == 200, (user.username, item["url"])


# --------------------------------------------------------------------------- forms and audit


def test_editing_an_institution_records_an_audit_event(world, login):
    inst = world.a.institution
    client = login(world.a.users["district_supervisor"])
    url = reverse("registry:institution_edit", args=[inst.pk])
    form_page = _text(client.get(url))
    assert inst.credit_code in form_page  # the form starts from the record

    response = client.post(url, {
        "name": inst.name, "credit_code": inst.credit_code, "district": inst.district_id,
        "kind": inst.kind, "licence_number": "LIC-NEW-7", "address": "徐汇区漕溪路 8 号",
        "contact_name": "李主任", "contact_phone": "021-64000000",
        "whitelist_status": inst.whitelist_status, "status": inst.status}, follow=True)

    assert response.status_code == 200
    assert "LIC-NEW-7" in _text(response)
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_type="registry.institution",
                                      object_id=str(inst.pk)).latest("at")
    assert event.actor == world.a.users["district_supervisor"]
    assert event.changes["licence_number"] == ["LIC-1", "LIC-NEW-7"]
    assert event.changes["contact_name"] == ["", "李主任"]


def test_editing_a_venue_records_before_and_after(world, login):
    venue = world.a.venue
    client = login(world.a.users["institution_admin"])
    response = client.post(reverse("registry:venue_edit", args=[venue.pk]), {
        "name": venue.name, "address": venue.address, "district": venue.district_id,
        "latitude": "31.200000", "longitude": "121.400000", "geofence_radius_m": 350,
        "active": "on"})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_type="registry.venue",
                                      object_id=str(venue.pk)).get()
    assert event.changes == {"geofence_radius_m": [200, 350]}


def test_editing_a_teacher_keeps_the_phone_unless_a_new_one_is_given(world, login):
    teacher = world.a.teacher
    client = login(world.a.users["institution_admin"])
    url = reverse("registry:teacher_edit", args=[teacher.pk])
    assert client.post(url, {"name": "王建国", "gender": "M", "phone": "",
                             "active": "on"}).status_code == 302
    teacher.refresh_from_db()
    assert teacher.name == "王建国" and unseal(teacher, "phone") == "13900000000"
    assert client.post(url, {"name": "王建国", "phone": "13811112222",
                             "active": "on"}).status_code == 302
    teacher.refresh_from_db()
    assert unseal(teacher, "phone") == "13811112222"


@pytest.mark.parametrize("role, pages", [
    ("city_admin", ["institution_create", "institution_edit:inst", "filing_create:inst",
                    "venue_create:inst", "venue_edit:venue", "room_create:venue",
                    "teacher_create:inst", "qualification_create:teacher", "trainee_create",
                    "class_create:inst", "class_edit:class", "session_create:class",
                    "session_edit:session", "trainee_edit:trainee", "teacher_edit:teacher"]),
    ("institution_admin", ["venue_create:inst", "room_create:venue", "teacher_create:inst",
                           "teacher_edit:teacher", "qualification_create:teacher",
                           "trainee_create", "trainee_edit:trainee", "class_create:inst",
                           "class_edit:class", "session_create:class", "session_edit:session"]),
    ("district_supervisor", ["institution_create", "institution_edit:inst",
                             "filing_create:inst", "venue_create:inst"]),
])
def test_every_form_page_opens_for_roles_that_may_use_it(world, login, role, pages):
    user = world.users.get(role) or world.a.users[role]
    client = login(user)
    objects = {"inst": world.a.institution, "venue": world.a.venue, "teacher": world.a.teacher,
               "trainee": world.a.trainees[0], "class": world.a.draft_class,
               "session": world.a.draft_class.sessions.first()}
    for page in pages:
        name, _sep, key = page.partition(":")
        url = reverse(f"registry:{name}", args=[objects[key].pk] if key else [])
        response = client.get(url)
        assert response.status_code == 200, (role, url)
        assert '<form method="post"' in _text(response)


def test_form_pages_are_refused_to_roles_without_the_permission(world, login):
    client = login(world.a.users["teacher"])
    assert client.get(reverse("registry:trainee_create")).status_code == 403
    assert client.get(reverse("registry:class_create",
                              args=[world.a.institution.pk])).status_code == 403
    assert client.get(reverse("registry:class_edit",
                              args=[world.a.draft_class.pk])).status_code == 404


def test_district_supervisor_cannot_edit_another_districts_institution(world, login):
    client = login(world.a.users["district_supervisor"])
    url = reverse("registry:institution_edit", args=[world.b.institution.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "hijacked"}).status_code == 404
    world.b.institution.refresh_from_db()
    assert world.b.institution.name != "hijacked"


def test_service_problem_is_shown_next_to_the_field_it_names(world, login):
    client = login(world.a.users["institution_admin"])
    before = Trainee.objects.count()
    response = client.post(reverse("registry:trainee_create"), {
        "name": "张三", "id_number": "310104199001011234", "phone": "12345",
        "category": "unemployed"})

    assert response.status_code == 400
    page = _text(response)
    assert "check digit does not match" in _field_block(page, "id_number")
    assert "11-digit mainland mobile number" in _field_block(page, "phone")
    assert "errors" not in _field_block(page, "name")
    assert Trainee.objects.count() == before


def test_credit_code_problem_from_model_validation_lands_on_its_field(world, login):
    inst = world.a.institution
    client = login(world.users["city_admin"])
    response = client.post(reverse("registry:institution_edit", args=[inst.pk]), {
        "name": inst.name, "credit_code": "91310000ABCDEFGHI", "district": inst.district_id,
        "kind": inst.kind, "whitelist_status": inst.whitelist_status, "status": inst.status})
    assert response.status_code == 400
    assert "GB 32100" in _field_block(_text(response), "credit_code")
    inst.refresh_from_db()
    assert inst.credit_code != "91310000ABCDEFGHI"


def test_registering_a_trainee_shows_only_the_masked_id(world, login):
    client = login(world.a.users["institution_admin"])
    id_number = make_id_number("310104", dt.date(1995, 6, 7), 321)
    response = client.post(reverse("registry:trainee_create"), {
        "name": "赵六", "id_number": id_number, "phone": "13912345678",
        "category": "unemployed", "residence_district": world.a.district.pk}, follow=True)

    page = _text(response)
    assert response.status_code == 200 and "赵六" in page
    assert id_number not in page and "13912345678" not in page
    assert id_number[:3] in page and id_number[-4:] in page  # masked form
    trainee = Trainee.objects.get(name="赵六")
    assert trainee.registered_by == world.a.institution


# --------------------------------------------------------------------------- personal data


def test_detail_page_records_a_personal_data_read(world, login):
    trainee = world.a.trainees[0]
    user = world.a.users["district_supervisor"]
    client = login(user)
    page = _text(client.get(reverse("registry:trainee_detail", args=[trainee.pk])))

    assert trainee.id_number in page and unseal(trainee, "id_number") not in page
    event = AuditEvent.objects.get(action=AuditAction.READ_PERSONAL, actor=user,
                                   object_id=str(trainee.pk))
    assert event.fields == ["name", "id_number_masked", "phone_masked"]
    assert event.comment == "detail page"


def test_reveal_shows_the_full_value_and_is_logged(world, login):
    trainee = world.a.trainees[0]
    user = world.a.users["institution_admin"]
    client = login(user)
    detail = _text(client.get(reverse("registry:trainee_detail", args=[trainee.pk])))
    reveal_url = reverse("registry:trainee_reveal", args=[trainee.pk, "id_number"])
    assert reveal_url in detail  # the button is offered

    response = client.post(reveal_url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert unseal(trainee, "id_number") in _text(response)
    event = AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL, actor=user,
                                      fields=["id_number"]).get()
    assert event.object_id == str(trainee.pk)


def test_reveal_is_forbidden_for_a_teacher_and_not_offered(world, login):
    trainee = world.a.trainees[0]
    teacher_user = world.a.users["teacher"]
    client = login(teacher_user)
    reveal_url = reverse("registry:trainee_reveal", args=[trainee.pk, "id_number"])

    detail = _text(client.get(reverse("registry:trainee_detail", args=[trainee.pk])))
    assert reveal_url not in detail
    response = client.post(reveal_url)
    assert response.status_code == 404
    assert unseal(trainee, "id_number") not in _text(response)
    assert not AuditEvent.objects.filter(actor=teacher_user, fields=["id_number"]).exists()


def test_reveal_needs_post(world, login):
    trainee = world.a.trainees[0]
    client = login(world.a.users["institution_admin"])
    url = reverse("registry:trainee_reveal", args=[trainee.pk, "id_number"])
    assert client.get(url).status_code == 405


# --------------------------------------------------------------------------- workflow


def _step(client, cls, step, comment=""):
    return client.post(reverse("registry:class_transition", args=[cls.pk]),
                       {"step": step, "comment": comment})


def test_workflow_buttons_follow_role_and_status(world, login):
    cls = world.a.draft_class
    url = reverse("registry:class_detail", args=[cls.pk])
    page = _text(login(world.a.users["institution_admin"]).get(url))
    assert 'value="submit"' in page and 'value="approve"' not in page
    page = _text(login(world.a.users["district_supervisor"]).get(url))
    assert 'value="submit"' not in page and 'value="approve"' not in page  # still a draft


def test_workflow_submit_return_resubmit_approve(world, login, client):
    cls = world.a.draft_class
    inst_admin = world.a.users["institution_admin"]
    supervisor = world.a.users["district_supervisor"]

    login(inst_admin)
    assert _step(client, cls, "submit").status_code == 302
    login(supervisor)
    page = _text(client.get(reverse("registry:class_detail", args=[cls.pk])))
    assert 'value="approve"' in page and 'value="return"' in page

    response = _step(client, cls, "return")  # a return needs a comment
    assert response.status_code == 400
    assert "say what must be corrected" in _text(response)
    cls.refresh_from_db()
    assert cls.status == ClassStatus.SUBMITTED

    assert _step(client, cls, "return", "课时计划不完整").status_code == 302
    login(inst_admin)
    assert _step(client, cls, "submit", "已补充").status_code == 302
    login(supervisor)
    response = client.post(reverse("registry:class_transition", args=[cls.pk]),
                           {"step": "approve"}, follow=True)
    page = _text(response)

    cls.refresh_from_db()
    assert cls.status == ClassStatus.APPROVED
    assert "课时计划不完整" in page
    assert list(ClassReview.objects.filter(training_class=cls).values_list(
        "to_status", flat=True)) == ["submitted", "returned", "submitted", "approved"]


def test_workflow_post_on_an_out_of_scope_class_is_404(world, login):
    cls = world.b.draft_class
    services.transition_class(None, cls, "submit")
    client = login(world.a.users["district_supervisor"])
    assert _step(client, cls, "approve").status_code == 404
    cls.refresh_from_db()
    assert cls.status == ClassStatus.SUBMITTED


def test_institution_cannot_approve_its_own_application(world, login):
    cls = world.a.draft_class
    services.transition_class(None, cls, "submit")
    client = login(world.a.users["institution_admin"])
    assert _step(client, cls, "approve").status_code == 404
    cls.refresh_from_db()
    assert cls.status == ClassStatus.SUBMITTED


def test_submitting_an_empty_roster_says_so(world, login):
    cls = services.create_class(None, world.a.institution, name="空班", course=world.course,
                                venue=world.a.venue, start_date=world.a.draft_class.start_date,
                                end_date=world.a.draft_class.end_date, planned_hours=80,
                                teachers=[world.a.teacher])
    client = login(world.a.users["institution_admin"])
    response = _step(client, cls, "submit")
    assert response.status_code == 400
    page = _text(response)
    assert "the roster is empty" in page and "the session plan is empty" in page
    cls.refresh_from_db()
    assert cls.status == ClassStatus.DRAFT


# --------------------------------------------------------------------------- class pages


def test_create_class_and_plan_a_session(world, login):
    client = login(world.a.users["institution_admin"])
    start = world.a.draft_class.start_date
    response = client.post(reverse("registry:class_create", args=[world.a.institution.pk]), {
        "name": "保育师四级晚班", "course": world.course.pk, "mode": "offline",
        "venue": world.a.venue.pk, "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=20)).isoformat(), "planned_hours": 80,
        "capacity": 20, "min_attendance_rate": "0.8", "teachers": [world.a.teacher.pk]})
    cls = TrainingClass.objects.get(name="保育师四级晚班")
    assert response.status_code == 302 and response["Location"].endswith(f"/classes/{cls.pk}/")
    assert list(cls.teachers.all()) == [world.a.teacher]

    response = client.post(reverse("registry:session_create", args=[cls.pk]), {
        "starts_at": f"{start.isoformat()}T18:30", "ends_at": f"{start.isoformat()}T21:00",
        "teacher": world.a.teacher.pk, "room": world.a.room.pk, "topic": "婴幼儿照护基础"})
    assert response.status_code == 302
    session = cls.sessions.get()
    assert session.topic == "婴幼儿照护基础"
    assert session.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8))).hour == 18


def test_session_outside_the_class_period_is_refused_on_its_field(world, login):
    cls = world.a.draft_class
    client = login(world.a.users["institution_admin"])
    day = (cls.end_date + dt.timedelta(days=3)).isoformat()
    response = client.post(reverse("registry:session_create", args=[cls.pk]), {
        "starts_at": f"{day}T09:00", "ends_at": f"{day}T12:00",
        "teacher": world.a.teacher.pk})
    assert response.status_code == 400
    assert "within the class period" in _field_block(_text(response), "starts_at")


def test_enrol_by_id_number_registers_and_enrols(world, login):
    cls = world.a.draft_class
    client = login(world.a.users["institution_admin"])
    id_number = make_id_number("310104", dt.date(1988, 8, 8), 555)
    response = client.post(reverse("registry:enrol", args=[cls.pk]), {
        "mode": "id", "id_number": id_number, "name": "钱七", "category": "unemployed"},
        follow=True)
    assert response.status_code == 200
    assert Enrolment.objects.filter(training_class=cls, trainee__name="钱七").exists()
    assert "钱七" in _text(response)

    # the same person again: refused, next to nothing written twice
    response = client.post(reverse("registry:enrol", args=[cls.pk]), {
        "mode": "id", "id_number": id_number, "name": "钱七", "category": "unemployed"})
    assert response.status_code == 400
    assert "already enrolled" in _text(response)
    assert Enrolment.objects.filter(training_class=cls, trainee__name="钱七").count() == 1


def test_withdraw_from_the_roster(world, login):
    enrolment = Enrolment.objects.get(training_class=world.a.draft_class,
                                      trainee=world.a.trainees[0])
    client = login(world.a.users["institution_admin"])
    response = client.post(reverse("registry:enrolment_withdraw", args=[enrolment.pk]))
    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.WITHDRAWN
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, object_type="registry.enrolment",
                                     object_id=str(enrolment.pk)).exists()


def test_import_links_only_for_roles_that_may_import(world, login):
    url = reverse("imports:start", args=["trainee"])
    page = _text(login(world.a.users["institution_admin"]).get(reverse("registry:trainee_list")))
    assert url in page
    page = _text(login(world.users["city_supervisor"]).get(reverse("registry:trainee_list")))
    assert url not in page


# --------------------------------------------------------------------------- sign-in, audit page


def test_sign_in_failure_and_sign_out_are_audited(world, client):
    url = reverse("accounts:login")
    response = client.post(url, {"username": "district1", "password": "wrong-password"})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED,
                                     actor_name="district1").exists()

    response = client.post(url, {"username": "district1", "password": PASSWORD})
    assert response.status_code == 302
    user = world.a.users["district_supervisor"]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=user).exists()

    assert client.post(reverse("accounts:logout")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor=user).exists()
    assert client.get(reverse("home")).status_code == 302  # signed out


def test_audit_trail_shows_changes_and_filters(world, login):
    inst = world.a.institution
    services.update_institution(world.users["city_admin"], inst, address="徐汇区天钥桥路 1 号")
    client = login(world.users["auditor"])
    page = _text(client.get(reverse("audit:event_list"),
                            {"action": "update", "object_type": "registry.institution"}))
    assert "徐汇区天钥桥路 1 号" in page
    assert "cityadmin" in page
    page = _text(client.get(reverse("audit:event_list"), {"action": "login"}))
    assert "徐汇区天钥桥路 1 号" not in page


def test_audit_trail_is_closed_to_roles_without_it(world, login):
    for role in ("institution_admin", "teacher", "trainee"):
        client = login(world.a.users[role])
        assert client.get(reverse("audit:event_list")).status_code == 403, role


def test_district_supervisor_reads_only_their_districts_trail(world, login):
    supervisor = world.a.users["district_supervisor"]
    admin = world.users["city_admin"]
    services.update_institution(admin, world.a.institution, address="徐汇区某路 1 号")
    services.update_institution(admin, world.b.institution, address="浦东新区某路 2 号")
    page = _text(login(supervisor).get(reverse("audit:event_list"), {"action": "update"}))
    assert "徐汇区某路 1 号" in page and "浦东新区某路 2 号" not in page


def test_home_counts_follow_scope(world, login):
    services.transition_class(None, world.a.draft_class, "submit")
    services.transition_class(None, world.b.draft_class, "submit")
    page = _text(login(world.a.users["district_supervisor"]).get(reverse("home")))
    pending = re.search(r'<div class="count">(\d+)</div><div class="label">'
                        r'Applications waiting for your review', page)
    assert pending and pending.group(1) == "1"
    page = _text(login(world.users["city_supervisor"]).get(reverse("home")))
    pending = re.search(r'<div class="count">(\d+)</div><div class="label">'
                        r'Applications waiting for your review', page)
    assert pending and pending.group(1) == "2"
    assert Institution.objects.count() == 2

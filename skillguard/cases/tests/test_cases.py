"""Case handling: routing warnings into cases, every transition and refusal, scope."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from skillguard.attendance import hours
from skillguard.attendance.models import EnrolmentHours, HoursExclusion
from skillguard.attendance.testing import attend, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of, past_class
from skillguard.audit.models import AuditEvent
from skillguard.cases import queries, services
from skillguard.cases.models import Case, CaseEvent, CaseOrigin, CaseWarning
from skillguard.cases.tests.helpers import case_rule, make_warning
from skillguard.core.errors import BusinessRuleError
from skillguard.supervision.models import Warning

pytestmark = pytest.mark.django_db


def codes(err):
    return [p.code for p in err.value.problems]


def future(days=3):
    return timezone.now() + dt.timedelta(days=days)


# --------------------------------------------------------------------------- routing


def test_route_warnings_opens_joins_and_separates(world, django_assert_max_num_queries):
    a1, a2 = make_warning(world.a), make_warning(world.a, severity="critical")
    b1 = make_warning(world.b)
    loose = make_warning(world.a, institution=False)
    other_rule = make_warning(world.a, rule=case_rule("TEST_OTHER_RULE"))
    with django_assert_max_num_queries(12):
        services.route_warnings([a1.pk, a2.pk, b1.pk, loose.pk, other_rule.pk])
    assert Case.objects.count() == 4  # (rule, inst a), (rule, inst b), (rule, district a), other
    case_a = Case.objects.get(links__warning=a1)
    assert case_a.links.count() == 2 and case_a.severity == "critical"
    assert case_a.district == world.a.district and case_a.institution == world.a.institution
    assert case_a.origin == CaseOrigin.WARNING and case_a.state == "new"
    assert case_a.number.startswith(f"DC{timezone.localdate().year}-")
    assert len(case_a.number.split("-")[1]) == 6
    assert Case.objects.get(links__warning=loose).institution is None
    assert set(Warning.objects.values_list("status", flat=True)) == {"in_case"}

    # a later warning of the same rule, institution and month joins the open case
    a3 = make_warning(world.a)
    services.route_warnings([a3.pk, a1.pk])  # a1 again: already in a case, left alone
    assert CaseWarning.objects.get(warning=a3).case == case_a
    assert Case.objects.count() == 4 and case_a.links.count() == 3
    assert CaseEvent.objects.filter(case=case_a, step="join").count() == 1
    # another month: a new case
    old = make_warning(world.a, occurred_at=timezone.now() - dt.timedelta(days=62))
    services.route_warnings([old.pk])
    assert CaseWarning.objects.get(warning=old).case != case_a
    # a closed case is not joined
    Case.objects.filter(pk=case_a.pk).update(state="closed")
    a4 = make_warning(world.a)
    services.route_warnings([a4.pk])
    assert CaseWarning.objects.get(warning=a4).case != case_a
    low = services.open_case(None, district=world.b.district, title="x", severity="low")
    assert low.deadline > case_a.deadline  # critical: 2 working days, low: 15


def test_city_level_warning_opens_an_escalated_case(world):
    w = make_warning(world.a, rule=case_rule("TEST_CITY_RULE", level="city"), level="city")
    services.route_warnings([w.pk])
    case = Case.objects.get(links__warning=w)
    assert case.escalated_at is not None
    assert not services.may_handle(world.a.users["district_supervisor"], case)


# --------------------------------------------------------------------------- the whole walk


@pytest.fixture
def fraud(world):
    """A finished class whose trainee has 12 valid hours; a warning names 2 sessions."""
    start = timezone.localdate() - dt.timedelta(days=20)
    cls = past_class(world.a, world.course, start=start, days=3, planned_hours=12)
    e = enrolment_of(cls, world.a.trainees[0])
    sessions = list(cls.sessions.order_by("sequence"))
    write_evidence([x for s in sessions for x in attend(e, s)])
    hours.recompute_sessions([s.pk for s in sessions])
    w = make_warning(world.a, evidence=[("class", cls.pk), ("session", sessions[0].pk)],
                     affected_hours=[(e.pk, sessions[0].pk), (e.pk, sessions[1].pk)])
    services.route_warnings([w.pk])
    return Case.objects.get(links__warning=w), e, sessions, w


def test_confirmed_fraud_excludes_hours_and_reopen_restores_them(world, fraud):
    case, e, sessions, w = fraud
    sup, inst = world.a.users["district_supervisor"], world.a.users["institution_admin"]
    assert EnrolmentHours.objects.get(enrolment_id=e.pk).valid_hours == 12

    case = services.assign_case(sup, case, assignee=sup, comment="mine")
    assert (case.state, case.assignee) == ("assigned", sup)
    case = services.dispatch_case(sup, case, request_text="Explain the check-ins",
                                  deadline=future())
    assert (case.state, case.dispatched_to_id) == ("dispatched", world.a.institution.pk)
    case = services.answer_case(inst, case, explanation="Our device was wrong", files=[
        SimpleUploadedFile("说明.pdf", b"%PDF-1.4 test", "application/pdf")])
    assert case.state == "answered" and case.attachments.count() == 1
    case = services.verify_case(sup, case, note="Checked on site",
                                extra_pairs=[(e.pk, sessions[2].pk)])
    assert case.state == "verified"
    case = services.close_case(sup, case, conclusion="confirmed_fraud", comment="Proxy check-ins")
    assert case.state == "closed" and case.closed_by == sup
    assert set(HoursExclusion.objects.filter(case_id=case.pk).values_list(
        "session_id", flat=True)) == {s.pk for s in sessions}
    assert EnrolmentHours.objects.get(enrolment_id=e.pk).valid_hours == 0
    assert Warning.objects.get(pk=w.pk).status == "closed"

    steps = list(case.events.values_list("step", "from_state", "to_state"))
    assert steps == [("open", "", "new"), ("assign", "new", "assigned"),
                     ("dispatch", "assigned", "dispatched"), ("answer", "dispatched", "answered"),
                     ("verify", "answered", "verified"), ("close", "verified", "closed")]
    assert AuditEvent.objects.filter(object_type="cases.case", action="transition",
                                     object_id=str(case.pk)).count() == 5

    with pytest.raises(BusinessRuleError) as err:
        services.reopen_case(sup, case, reason="")
    assert codes(err) == ["required"]
    case = services.reopen_case(sup, case, reason="New evidence from the institution")
    assert case.state == "assigned" and case.conclusion == ""
    assert EnrolmentHours.objects.get(enrolment_id=e.pk).valid_hours == 12
    assert Warning.objects.get(pk=w.pk).status == "in_case"


def test_refusals_name_the_missing_fields(world, fraud):
    case, e, sessions, _w = fraud
    sup, inst = world.a.users["district_supervisor"], world.a.users["institution_admin"]
    with pytest.raises(BusinessRuleError) as err:  # not assigned yet
        services.dispatch_case(sup, case, request_text="x", deadline=future())
    assert codes(err) == ["wrong_state"]
    with pytest.raises(BusinessRuleError) as err:
        services.assign_case(sup, case, assignee=world.b.users["district_supervisor"])
    assert codes(err) == ["invalid_assignee"]
    case = services.assign_case(sup, case, assignee=sup)
    with pytest.raises(BusinessRuleError) as err:
        services.dispatch_case(sup, case, request_text=" ", deadline=timezone.now()
                               - dt.timedelta(hours=1))
    assert sorted(codes(err)) == ["in_past", "required"]
    assert {p.field for p in err.value.problems} == {"request_text", "answer_deadline"}
    with pytest.raises(BusinessRuleError) as err:
        services.close_case(sup, case, conclusion="unfounded", comment="x")
    assert codes(err) == ["wrong_state"]
    case = services.dispatch_case(sup, case, request_text="Explain", deadline=future())
    with pytest.raises(BusinessRuleError) as err:
        services.answer_case(inst, case, explanation="  ")
    assert codes(err) == ["required"]
    with pytest.raises(BusinessRuleError) as err:
        services.answer_case(inst, case, explanation="x", files=[
            SimpleUploadedFile("run.exe", b"MZ", "application/octet-stream")])
    assert codes(err) == ["file_type"]
    with pytest.raises(BusinessRuleError) as err:
        services.answer_case(inst, case, explanation="x", files=[SimpleUploadedFile(
            "big.pdf", b"x" * (services.MAX_ATTACHMENT_BYTES + 1), "application/pdf")])
    assert codes(err) == ["file_too_large"]
    assert case.attachments.count() == 0
    case = services.answer_case(inst, case, explanation="ok")
    with pytest.raises(BusinessRuleError) as err:
        services.verify_case(sup, case, note="")
    assert codes(err) == ["required"]
    with pytest.raises(BusinessRuleError) as err:  # a pair from another class
        services.verify_case(sup, case, note="x",
                             extra_pairs=[(e.pk, world.a.draft_class.sessions.get().pk)])
    assert codes(err) == ["unknown_pair"]
    case = services.verify_case(sup, case, note="ok")
    with pytest.raises(BusinessRuleError) as err:
        services.close_case(sup, case, conclusion="", comment="")
    assert sorted(codes(err)) == ["required", "required"]
    assert Case.objects.get(pk=case.pk).state == "verified"


def test_roles_and_scope(world, fraud):
    case, *_ = fraud
    sup_a, sup_b = world.a.users["district_supervisor"], world.b.users["district_supervisor"]
    for user in (world.users["auditor"], world.users["city_admin"], sup_b,
                 world.a.users["institution_admin"], world.a.users["teacher"]):
        with pytest.raises(BusinessRuleError) as err:
            services.assign_case(user, case, assignee=sup_a)
        assert codes(err) == ["forbidden"], user.role
    # an institution may only answer a case dispatched to it
    case = services.assign_case(sup_a, case, assignee=sup_a)
    with pytest.raises(BusinessRuleError) as err:
        services.answer_case(world.a.users["institution_admin"], case, explanation="x")
    assert codes(err) == ["forbidden"]
    case = services.dispatch_case(sup_a, case, request_text="x", deadline=future())
    with pytest.raises(BusinessRuleError) as err:
        services.answer_case(world.b.users["institution_admin"], case, explanation="x")
    assert codes(err) == ["forbidden"]
    with pytest.raises(BusinessRuleError) as err:
        services.answer_case(sup_a, case, explanation="x")
    assert codes(err) == ["forbidden"]
    # escalated: the district supervisor hands over, a city supervisor takes it
    case = services.escalate_case(sup_a, case, reason="Spans two districts")
    with pytest.raises(BusinessRuleError) as err:
        services.assign_case(sup_a, case, assignee=sup_a)
    assert codes(err) == ["forbidden"]
    city = world.users["city_supervisor"]
    with pytest.raises(BusinessRuleError) as err:  # not to a district supervisor any more
        services.assign_case(city, case, assignee=sup_a)
    assert codes(err) == ["invalid_assignee"]
    case = services.assign_case(city, case, assignee=city)
    assert case.assignee == city and case.state == "dispatched"
    with pytest.raises(BusinessRuleError) as err:
        services.escalate_case(city, case, reason="again")
    assert codes(err) == ["already_escalated"]


def test_institution_never_sees_an_undispatched_case(world, fraud, client):
    case, *_ = fraud
    inst = world.a.users["institution_admin"]
    with pytest.raises(Http404):
        queries.access_case(inst, case.pk)
    assert not queries.cases(inst).exists()
    client.force_login(inst)
    page = client.get(f"/cases/{case.pk}/")
    missing = client.get("/cases/987654321/")
    assert page.status_code == missing.status_code == 404
    api = client.get(f"/api/cases/{case.pk}")
    api_missing = client.get("/api/cases/987654321")
    assert (api.status_code, api.content) == (404, api_missing.content)
    assert case.number not in client.get("/cases/").content.decode()

    sup = world.a.users["district_supervisor"]
    services.assign_case(sup, case, assignee=sup)
    services.dispatch_case(sup, case, request_text="Explain", deadline=future())
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200 and "Explain" in page.content.decode()
    assert 'value="answer"' in page.content.decode()
    assert client.get(f"/api/cases/{case.pk}").json()["state"] == "dispatched"
    # the other institution still sees nothing
    client.force_login(world.b.users["institution_admin"])
    assert client.get(f"/cases/{case.pk}/").status_code == 404


def test_overdue_cases_are_escalated_once(world, fraud):
    case, *_ = fraud
    fresh = services.open_case(None, district=world.b.district, title="fresh", severity="low")
    Case.objects.filter(pk=case.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))
    from skillguard.cases.tasks import escalate_overdue

    assert escalate_overdue(timestamp=0) == 1
    case.refresh_from_db()
    assert case.overdue and case.escalated_at is not None
    assert list(case.events.filter(step__in=["overdue", "escalate"]).values_list(
        "step", flat=True)) == ["overdue", "escalate"]
    assert escalate_overdue(timestamp=0) == 0  # idempotent
    assert case.events.count() == 3
    fresh.refresh_from_db()
    assert not fresh.overdue and fresh.escalated_at is None
    assert queries.cases(world.users["city_supervisor"], overdue=True).get() == case


def test_deadline_table_counts_working_days():
    friday = timezone.make_aware(dt.datetime(2026, 11, 20, 10, 0))
    assert services.deadline_for("critical", friday).date() == dt.date(2026, 11, 24)
    assert services.deadline_for("low", friday).date() == dt.date(2026, 12, 11)


def test_comments_and_attachments_are_audited(world, fraud, client):
    case, *_ = fraud
    sup = world.a.users["district_supervisor"]
    services.comment_case(sup, case, text="Called the institution", files=[
        SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff jpg", "image/jpeg")])
    att = case.attachments.get()
    assert AuditEvent.objects.filter(object_type="cases.attachment", object_id=str(att.pk),
                                     action="create").exists()
    assert AuditEvent.objects.filter(object_type="cases.caseevent", action="create").exists()
    client.force_login(sup)
    got = client.get(f"/cases/attachments/{att.pk}/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"\xff\xd8\xff jpg"
    client.force_login(world.b.users["district_supervisor"])
    assert client.get(f"/cases/attachments/{att.pk}/").status_code == 404
    with pytest.raises(BusinessRuleError) as err:
        services.comment_case(world.users["auditor"], case, text="x")
    assert codes(err) == ["forbidden"]


def test_case_list_counts_and_csv_export(world, fraud, client):
    case, *_ = fraud
    services.open_case(None, district=world.b.district, title="B matter", severity="low")
    client.force_login(world.users["city_supervisor"])
    page = client.get("/cases/?state=open").content.decode()
    assert case.number in page and "B matter" in page
    assert 'data-count="open">2<' in page and "counts-by-district" in page
    client.force_login(world.a.users["district_supervisor"])
    page = client.get("/cases/").content.decode()
    assert case.number in page and "B matter" not in page and 'data-count="open">1<' in page
    got = client.get("/cases/?export=csv")
    body = b"".join(got.streaming_content).decode("utf-8-sig")
    assert case.number in body and "B matter" not in body
    assert AuditEvent.objects.filter(action="export", object_type="cases.case").exists()


def test_the_api_walks_a_case(world, fraud, client):
    case, e, sessions, _w = fraud
    sup = world.a.users["district_supervisor"]
    client.force_login(sup)

    def post(step, body, user=None):
        return client.post(f"/api/cases/{case.pk}/{step}", json.dumps(body),
                           content_type="application/json")

    assert post("assign", {"assignee": sup.pk}).json()["state"] == "assigned"
    refused = post("dispatch", {"request_text": ""})
    assert refused.status_code == 422
    assert {x["field"] for x in refused.json()["errors"]} == {"request_text", "answer_deadline"}
    assert post("dispatch", {"request_text": "Explain", "answer_deadline":
                             future().isoformat()}).status_code == 200
    client.force_login(world.a.users["institution_admin"])
    assert post("assign", {"assignee": sup.pk}).status_code == 403
    assert post("answer", {"explanation": "ok"}).json()["state"] == "answered"
    client.force_login(sup)
    assert post("verify", {"note": "ok"}).status_code == 200
    closed = post("close", {"conclusion": "unfounded", "comment": "fine"}).json()
    assert (closed["state"], closed["conclusion"]) == ("closed", "unfounded")
    assert [x["step"] for x in closed["events"]][-1] == "close"
    assert closed["warnings"][0]["affected_hours"] == [[e.pk, sessions[0].pk],
                                                      [e.pk, sessions[1].pk]]
    assert not HoursExclusion.objects.exists()  # unfounded: nothing excluded
    counts = client.get("/api/cases/counts").json()
    assert counts["total"] == 1 and counts["open"] == 0
    client.force_login(world.users["auditor"])
    assert post("reopen", {"reason": "x"}).status_code == 403


def test_the_warning_page_links_its_case(world, fraud, client):
    case, _e, _sessions, w = fraud
    client.force_login(world.a.users["district_supervisor"])
    page = client.get(f"/supervision/warnings/{w.pk}/").content.decode()
    assert f'href="/cases/{case.pk}/"' in page and case.number in page
    detail = client.get(f"/cases/{case.pk}/").content.decode()
    assert f'href="/supervision/warnings/{w.pk}/"' in detail


def test_the_case_page_offers_only_allowed_steps_and_shows_refusals(world, fraud, client):
    case, *_ = fraud
    sup = world.a.users["district_supervisor"]
    client.force_login(world.users["auditor"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert case.number in page and 'name="step"' not in page
    assert client.post(f"/cases/{case.pk}/act/", {"step": "assign",
                                                  "assign-assignee": sup.pk}).status_code == 403
    client.force_login(sup)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    steps = [s for s in ("assign", "dispatch", "verify", "escalate", "comment", "close")
             if f'name="step" value="{s}"' in page]
    assert steps == ["assign", "escalate", "comment"]
    services.assign_case(sup, case, assignee=sup)
    refused = client.post(f"/cases/{case.pk}/act/", {"step": "dispatch",
                                                     "dispatch-request_text": ""})
    assert refused.status_code == 400
    assert 'id="field-dispatch-request_text"' in refused.content.decode()
    assert 'class="field has-error' in refused.content.decode()
    htmx = client.post(f"/cases/{case.pk}/act/", {"step": "dispatch"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "has-error" in htmx.content.decode()
    assert Case.objects.get(pk=case.pk).state == "assigned"
    done = client.post(f"/cases/{case.pk}/act/", {
        "step": "dispatch", "dispatch-request_text": "Explain",
        "dispatch-answer_deadline": (timezone.localtime() + dt.timedelta(days=2)).strftime(
            "%Y-%m-%dT%H:%M")})
    assert done.status_code == 302 and Case.objects.get(pk=case.pk).state == "dispatched"

"""The "Done when" walk in a real browser (Debian Chromium): a warning opens a case; the
district supervisor assigns and dispatches it; the institution answers with an explanation
and a file; the district verifies and closes it as confirmed fraud; the trainee's page then
shows the affected hours taken out of the eligible total.

Selectors use names, values and ids rather than label texts (the pages are in Chinese)."""
from __future__ import annotations

import datetime as dt
import importlib
import os
from pathlib import Path

import pytest
from django.utils import timezone

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread


@pytest.fixture
def fraud_world(transactional_db):
    from skillguard.attendance import hours
    from skillguard.attendance.testing import attend, write_evidence
    from skillguard.attendance.tests.helpers import enrolment_of, past_class
    from skillguard.cases import services
    from skillguard.cases.tests.helpers import make_warning
    from skillguard.core.testing import build_world
    from skillguard.registry.models import District

    if not District.objects.exists():  # a previous transactional test flushed the seed rows
        seed = importlib.import_module("skillguard.registry.migrations.0002_seed_districts")
        District.objects.bulk_create([
            District(code=code, name=name, name_en=name_en, sort_order=order)
            for order, (code, name, name_en) in enumerate(seed.DISTRICTS, start=1)])
    world = build_world()
    start = timezone.localdate() - dt.timedelta(days=20)
    cls = past_class(world.a, world.course, start=start, days=3, planned_hours=12)
    enrolment = enrolment_of(cls, world.a.trainees[0])
    sessions = list(cls.sessions.order_by("sequence"))
    write_evidence([x for s in sessions for x in attend(enrolment, s)])  # real check-ins
    hours.recompute_sessions([s.pk for s in sessions])
    # A warning as the engine raises it: two sessions' hours are in doubt.
    warning = make_warning(world.a, severity="high",
                           evidence=[("class", cls.pk), ("session", sessions[0].pk)],
                           affected_hours=[(enrolment.pk, sessions[0].pk),
                                           (enrolment.pk, sessions[1].pk)])
    (case,) = services.route_warnings([warning.pk])
    return world, case, enrolment, warning


def _sign_out(page):
    page.click("form[action$='/accounts/logout/'] button[type=submit]")
    page.wait_for_url("**/accounts/login/**")


def _act(page, step: str, fields: dict[str, str], select: dict[str, str] | None = None):
    details = page.locator(f"#step-{step}")
    if details.get_attribute("open") is None:
        page.click(f"#step-{step} summary")
    for name, value in fields.items():
        page.fill(f"#step-{step} [name='{step}-{name}']", value)
    for name, value in (select or {}).items():
        page.select_option(f"#step-{step} select[name='{step}-{name}']", value)
    # htmx posts the form and swaps <main>: wait for the new one, not for a navigation.
    page.evaluate("document.querySelector('main').dataset.stale = '1'")
    page.click(f"#step-{step} button[name='submit-{step}']")
    page.wait_for_selector("main:not([data-stale])")


def _screenshot(page, name: str) -> None:
    """Kept under var/screenshots/ for people to look at; nothing compares them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _state(page) -> str:
    return page.locator("#case-state .badge").get_attribute("class")


def test_a_warning_walks_to_confirmed_fraud_and_the_hours_go(fraud_world, page, browser_login):
    from skillguard.attendance.models import EnrolmentHours

    world, case, enrolment, warning = fraud_world
    trainee = world.a.trainees[0]
    case_url = f"{page.base_url}/cases/{case.pk}/"
    assert EnrolmentHours.objects.get(enrolment_id=enrolment.pk).valid_hours == 12

    # The institution cannot see the case before it is dispatched to it.
    browser_login("inst1")
    assert page.goto(case_url).status == 404
    _sign_out(page)

    # District supervisor: the case is in the list; assign it, then dispatch it.
    browser_login("district1")
    page.click("nav.mainnav a[href$='/cases/']")
    page.wait_for_load_state("networkidle")
    assert case.number in page.locator("#results").inner_text()
    assert page.locator("[data-count='open']").inner_text() == "1"
    page.click(f"#results a:text-is('{case.number}')")
    page.wait_for_load_state("networkidle")
    assert "status-new" in _state(page)
    assert warning.summary_zh in page.locator("#case-warnings").inner_text()
    _act(page, "assign", {"comment": "由我跟进"},
         select={"assignee": str(world.a.users["district_supervisor"].pk)})
    assert "status-assigned" in _state(page)
    # A refusal lands next to the field and nothing changes.
    _act(page, "dispatch", {"request_text": ""})
    assert page.locator("#step-dispatch #field-dispatch-request_text .errors").count() == 1
    assert "status-assigned" in _state(page)
    _act(page, "dispatch", {"request_text": "请说明第1、2课次的签到记录", "answer_deadline": (
        timezone.localtime() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")})
    assert "status-dispatched" in _state(page)
    _sign_out(page)

    # Institution: sees the dispatched case, answers with an explanation and a file.
    browser_login("inst1")
    page.click("nav.mainnav a[href$='/cases/']")
    page.wait_for_load_state("networkidle")
    page.click(f"#results a:text-is('{case.number}')")
    page.wait_for_load_state("networkidle")
    assert "请说明第1、2课次的签到记录" in page.locator("#case-request").inner_text()
    assert page.locator("#step-assign").count() == 0  # handling is not theirs
    page.set_input_files("#step-answer input[name='answer-files']", files=[{
        "name": "情况说明.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 walk"}])
    _act(page, "answer", {"answer_text": "考勤设备故障，已更换"})
    assert "status-answered" in _state(page)
    assert "情况说明.pdf" in page.locator("#case-attachments").inner_text()
    _screenshot(page, "case-answered-by-institution.png")
    _sign_out(page)

    # District supervisor: verifies and closes the case as confirmed fraud.
    browser_login("district1")
    page.goto(case_url)
    assert "考勤设备故障" in page.locator("#case-answer").inner_text()
    _act(page, "verify", {"verification_note": "现场核查：学员当日未到课"})
    assert "status-verified" in _state(page)
    _act(page, "close", {"conclusion_comment": "代签到属实，剔除相应学时"},
         select={"conclusion": "confirmed_fraud"})
    assert "status-closed" in _state(page)
    assert "status-confirmed_fraud" in page.locator("#case-conclusion .badge").get_attribute(
        "class")
    steps = page.locator("#case-history li").evaluate_all(
        "items => items.map(i => i.dataset.step)")
    assert steps == ["open", "assign", "dispatch", "answer", "verify", "close"]
    _screenshot(page, "case-closed-confirmed-fraud.png")

    # The trainee's page: two sessions' hours (4 class hours each) are no longer eligible.
    page.goto(f"{page.base_url}/registry/trainees/{trainee.pk}/")
    block = page.locator(f"#hours-enrolment-{enrolment.pk}")
    assert block.locator(".valid-hours").inner_text() == "4"
    assert block.locator(".excluded-hours").inner_text() == "8"
    _screenshot(page, "trainee-hours-after-fraud.png")
    totals = EnrolmentHours.objects.get(enrolment_id=enrolment.pk)
    assert (totals.valid_hours, totals.excluded_hours) == (4, 8)
    warning.refresh_from_db()
    assert warning.status == "closed"

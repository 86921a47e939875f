"""The registry in a real browser (Debian Chromium): scope, htmx, the class workflow.

Selectors use names, values and ids rather than label texts, so the tests hold in both
languages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(settings.BASE_DIR).parent / "var" / "screenshots"


def _screenshot(page, name: str) -> None:
    """Kept under var/screenshots/ for people to look at; nothing compares them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _menu(page, url_name_suffix: str):
    page.click(f"nav.mainnav a[href$='{url_name_suffix}']")
    page.wait_for_load_state("networkidle")


def test_district_supervisor_sees_only_their_district(browser_world, page, browser_login):
    world = browser_world
    browser_login("district1")
    assert page.locator(".who-scope").inner_text() == world.a.district.name
    _screenshot(page, "home-district-supervisor.png")

    _menu(page, "/registry/institutions/")
    table = page.locator("#results table.data")
    assert world.a.institution.name in table.inner_text()
    assert world.b.institution.name not in page.content()

    _menu(page, "/registry/classes/")
    text = page.locator("#results").inner_text()
    assert world.a.draft_class.code in text and world.a.approved_class.code in text
    assert world.b.draft_class.code not in page.content()
    assert world.b.approved_class.code not in page.content()

    # A filter change refreshes the table in place (htmx) and keeps the URL shareable.
    page.select_option("#filters select[name=status]", "approved")
    page.wait_for_url(re.compile(r"status=approved"))
    page.wait_for_load_state("networkidle")
    text = page.locator("#results").inner_text()
    assert world.a.approved_class.code in text and world.a.draft_class.code not in text
    _screenshot(page, "class-list-filtered.png")


def test_institution_admin_sees_only_their_institution(browser_world, page, browser_login):
    world = browser_world
    browser_login("inst1")

    _menu(page, "/registry/institutions/")
    assert world.a.institution.name in page.locator("#results").inner_text()
    assert world.b.institution.name not in page.content()

    _menu(page, "/registry/trainees/")
    assert world.a.trainees[0].name in page.locator("#results").inner_text()
    assert world.b.trainees[0].name not in page.content()

    # "Show in full" is an htmx POST: it only works if the CSRF token travels with it.
    page.click(f"#results a:text-is('{world.a.trainees[0].name}')")
    page.wait_for_load_state("networkidle")
    from skillguard.core.personal_data import unseal

    full = unseal(world.a.trainees[0], "id_number")
    assert full not in page.content()
    page.click("#trainee-id-number button")
    page.wait_for_selector("#trainee-id-number .revealed")
    assert page.locator("#trainee-id-number .revealed").inner_text() == full
    _screenshot(page, "trainee-detail-revealed.png")

    # The language switch (zh-hans by default) changes the page language.
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    with page.expect_navigation():
        page.select_option("header.topbar select[name=language]", "en")
    assert page.locator("html").get_attribute("lang") == "en"


def _open_class(page, cls):
    page.goto(f"{page.base_url}/registry/classes/{cls.pk}/")
    page.wait_for_load_state("networkidle")


def _take_step(page, step: str, comment: str = ""):
    if comment:
        page.fill("#workflow textarea[name=comment]", comment)
    with page.expect_navigation():
        page.click(f"#workflow button[name=step][value={step}]")


def _status(page) -> str:
    return page.locator("#class-status .badge").get_attribute("class")


def test_class_workflow_walked_in_the_browser(browser_world, page, browser_login, sign_out):
    world = browser_world
    cls = world.a.draft_class
    comment = "课次安排缺少实操课，请补充后重新提交"

    browser_login("inst1")
    _open_class(page, cls)
    assert page.locator("#workflow button[name=step][value=approve]").count() == 0
    _take_step(page, "submit")
    assert "status-submitted" in _status(page)
    sign_out()

    browser_login("district1")
    _open_class(page, cls)
    # Returning needs a comment: the button waits for one.
    assert page.locator("#workflow button[value=return]").is_disabled()
    _take_step(page, "return", comment)
    assert "status-returned" in _status(page)
    sign_out()

    browser_login("inst1")
    _open_class(page, cls)
    assert comment in page.locator("#review-history").inner_text()
    _take_step(page, "submit", "已补充实操课")
    assert "status-submitted" in _status(page)
    sign_out()

    browser_login("district1")
    _open_class(page, cls)
    _take_step(page, "approve", "同意开班")
    assert "status-approved" in _status(page)

    history = page.locator("#review-history li")
    assert history.count() == 4
    texts = [history.nth(i).inner_text() for i in range(4)]
    assert comment in texts[1] and "已补充实操课" in texts[2] and "同意开班" in texts[3]
    assert "district1" in texts[1] and "inst1" in texts[2]
    assert page.locator("#workflow button[name=step]").count() == 0  # nothing left for them

    _screenshot(page, "class-workflow-approved.png")

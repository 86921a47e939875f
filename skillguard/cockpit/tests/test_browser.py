"""The cockpit's "Done when" walk in Chromium over the small demo city: the city and a
district cockpit show figures equal to counts computed directly from the database
(screenshots under var/screenshots/), and a figure drills down to the list of its records
with the same count."""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.db import connection

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
TZ = "Asia/Shanghai"
SCALE, SEED = 0.02, 2026


def one(sql, params):
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.fetchone()[0]


def direct(first: dt.date, last: dt.date, district_id=None) -> dict:
    """The figures computed straight from the facts (no rollup)."""
    p = {"a": first, "b": last, "d": district_id}
    where_d = "AND district_id = %(d)s" if district_id else ""
    return {
        "sessions": one(f"""SELECT count(*) FROM registry_session
            WHERE (starts_at AT TIME ZONE '{TZ}')::date BETWEEN %(a)s AND %(b)s {where_d}""", p),
        "checkins": one(f"""SELECT count(*) FROM attendance_checkin
            WHERE (occurred_at AT TIME ZONE '{TZ}')::date BETWEEN %(a)s AND %(b)s
              AND kind = 'in' AND NOT superseded {where_d}""", p),
        "valid_hours": one(f"""SELECT coalesce(sum(valid_hours), 0)
            FROM attendance_sessionattendance
            WHERE (starts_at AT TIME ZONE '{TZ}')::date BETWEEN %(a)s AND %(b)s {where_d}""", p),
        "warnings": one(f"""SELECT count(*) FROM supervision_warning
            WHERE (first_seen_at AT TIME ZONE '{TZ}')::date BETWEEN %(a)s AND %(b)s
            {where_d}""", p),
    }


@pytest.fixture
def demo_city(transactional_db):
    from django.utils import timezone

    from skillguard.accounts.models import User
    from skillguard.accounts.roles import Role
    from skillguard.core.testing import PASSWORD
    from skillguard.demo.attendance import populate_evidence
    from skillguard.demo.generator import build_city

    build_city(scale=SCALE, seed=SEED, today=timezone.localdate())
    populate_evidence(seed=SEED)  # ends with a full rollup refresh
    district_id = one("""SELECT district_id FROM registry_session GROUP BY 1
                         ORDER BY count(*) DESC, 1 LIMIT 1""", {})
    User.objects.create_user(username="cockpit_city", password=PASSWORD,
                             role=Role.CITY_SUPERVISOR, display_name="cockpit_city")
    User.objects.create_user(username="cockpit_district", password=PASSWORD,
                             role=Role.DISTRICT_SUPERVISOR, district_id=district_id,
                             display_name="cockpit_district")
    with connection.cursor() as c:
        c.execute(f"""SELECT min((starts_at AT TIME ZONE '{TZ}')::date),
                             max((starts_at AT TIME ZONE '{TZ}')::date) FROM registry_session""")
        first, last = c.fetchone()
    return district_id, first, last


def _tile_values(page) -> dict:
    out = {}
    for tile in page.locator("#cockpit-figures [data-figure]").all():
        out[tile.get_attribute("data-figure")] = tile.get_attribute("data-value")
    return out


def _check(values: dict, expected: dict):
    assert int(values["sessions"]) == expected["sessions"] > 0
    assert int(values["checkins"]) == expected["checkins"] > 0
    assert float(values["valid_hours"]) == pytest.approx(float(expected["valid_hours"]))
    assert int(values["warnings"]) == expected["warnings"]


def _list_count(page) -> int:
    text = page.locator(".table-meta span").first.inner_text()
    return int(re.search(r"\d+", text.replace(",", "")).group())


def test_city_and_district_cockpits_show_the_database_counts(demo_city, page, browser_login):
    district_id, first, last = demo_city
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    query = f"?period=custom&from={first}&to={last}"

    browser_login("cockpit_city")
    page.goto(page.base_url + "/cockpit/city/" + query)
    page.wait_for_selector("#chart-trend-activity canvas")  # ECharts drew the trend
    page.wait_for_timeout(800)  # the charts' short animation
    page.screenshot(path=str(SCREENSHOTS / "cockpit-city.png"), full_page=True)
    _check(_tile_values(page), direct(first, last))
    assert page.locator("#cockpit-ranking tbody tr").count() >= 1
    # the full-screen mode renders the same figures in the dark layout
    page.goto(page.base_url + "/cockpit/city/" + query + "&screen=1")
    page.wait_for_selector("body.cockpit-screen #chart-area canvas")
    page.wait_for_timeout(800)
    page.screenshot(path=str(SCREENSHOTS / "cockpit-city-screen.png"), full_page=False)
    _check(_tile_values(page), direct(first, last))

    # a district supervisor: home lands on their district
    page.context.clear_cookies()
    browser_login("cockpit_district")
    page.goto(page.base_url + "/cockpit/" + query)
    page.wait_for_url(f"**/cockpit/districts/{district_id}/**")
    page.wait_for_selector("#chart-trend-activity canvas")
    page.wait_for_timeout(800)
    page.screenshot(path=str(SCREENSHOTS / "cockpit-district.png"), full_page=True)
    values = _tile_values(page)
    expected = direct(first, last, district_id)
    _check(values, expected)

    # drill down: the sessions figure opens the session list with the same count
    page.click("#cockpit-figures [data-figure=sessions]")
    page.wait_for_url("**/registry/sessions/**")
    assert _list_count(page) == int(values["sessions"])
    page.screenshot(path=str(SCREENSHOTS / "cockpit-drilldown-sessions.png"))
    # and the warnings figure opens the warning list with the same warnings
    page.go_back()
    page.click("#cockpit-figures [data-figure=warnings]")
    page.wait_for_url("**/supervision/warnings/**")
    assert _list_count(page) == int(values["warnings"])

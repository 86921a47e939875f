"""Statistics and reports in a real browser (Debian Chromium): the district supervisor
filters the statistics, exports the table as Excel, asks for the monthly report, and
downloads it once the worker has written it. Screenshots under var/screenshots/."""
from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread


@pytest.fixture
def stats_world(transactional_db):
    from skillguard.core.testing import build_world
    from skillguard.registry.models import District
    from skillguard.reports.tests.helpers import build_facts

    if not District.objects.exists():  # a previous transactional test flushed the seed rows
        seed = importlib.import_module("skillguard.registry.migrations.0002_seed_districts")
        District.objects.bulk_create([
            District(code=code, name=name, name_en=name_en, sort_order=order)
            for order, (code, name, name_en) in enumerate(seed.DISTRICTS, start=1)])
    world = build_world()
    return world, build_facts(world)


def test_statistics_export_and_monthly_report(stats_world, page, browser_login):
    from openpyxl import load_workbook

    from skillguard.reports import pdf
    from skillguard.reports.models import ReportArchive

    world, facts = stats_world
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login("district1")
    m = f"{facts.month:%Y-%m}"
    page.goto(f"{page.base_url}/reports/statistics/?table=handling&month_from={m}"
              f"&month_to={m}")
    table = page.locator("#stat-table")
    table.wait_for()
    assert "TEST_STATS_RULE" in table.inner_text()
    assert page.locator("#stat-table td[data-col=on_time_rate]").first.inner_text() == "50.0%"
    assert world.b.district.name not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "reports-statistics.png"), full_page=True)

    page.click("a[data-table=training]")
    page.wait_for_selector("#stat-table[data-table=training]")
    assert page.locator("#stat-table td[data-col=valid_hours]").first.inner_text() == "24.00"
    with page.expect_download() as info:
        page.click("#export-form button[value=xlsx]")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == world.a.district.name

    # a reversed range: a clear message, no table rows
    page.fill("#id_month_to", "2001-01")
    page.locator("#filters button[type=submit]").click()
    page.wait_for_selector("#filter-problems")

    page.goto(f"{page.base_url}/reports/archive/")
    page.select_option("#id_kind", "district")
    page.select_option("#id_district", str(world.a.district.pk))
    page.fill("#id_month", m)
    page.click("#generate button[type=submit]")
    page.wait_for_selector("#report-progress")
    archive = ReportArchive.objects.get()
    assert archive.state == "queued"
    from skillguard.core.skips import require_importable

    require_importable("weasyprint", "PDF reports are rendered by WeasyPrint")
    pdf.generate_report(archive.pk)  # what the worker does; the page reloads by itself
    page.wait_for_selector("#report-download", timeout=15000)
    page.screenshot(path=str(SCREENSHOTS / "reports-monthly.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#report-download")
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")

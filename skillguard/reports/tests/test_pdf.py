"""Monthly PDF reports: Chinese text extractable, figures equal to the cockpit's, archived
with their SHA-256, downloads audited, scope."""
from __future__ import annotations

import hashlib
import re
import subprocess

import pytest
from django.urls import reverse
from django.utils import translation

from skillguard.core.skips import require_binary
from skillguard.core.skips import require_importable
from skillguard.audit.models import AuditEvent
from skillguard.reports import pdf, statistics
from skillguard.reports.models import ReportArchive
from skillguard.reports.services import request_report
from skillguard.reports.tests.helpers import build_facts

pytestmark = pytest.mark.django_db


@pytest.fixture
def facts(world):
    from skillguard.cockpit import rollups

    require_importable("weasyprint", "PDF reports are rendered by WeasyPrint (Debian: "
                                     "libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk)")

    f = build_facts(world)
    rollups.refresh(full=True)
    return f


def _text(path, layout=True) -> str:
    binary = require_binary("pdftotext", "the PDF test reads the report's text")
    args = [binary, *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True).stdout.decode()


def _generate(user, facts, **kw) -> ReportArchive:
    archive = request_report(user, month=facts.month, **kw)
    return pdf.generate_report(archive.pk)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_district_report_has_chinese_text_and_the_cockpits_figures(world, facts, login):
    from skillguard.cockpit.figures import CockpitScope, key_figures

    archive = _generate(world.users["district_supervisor"], facts, kind="district",
                        district=world.a.district)
    assert archive.state == "done", archive.error
    content = archive.file.read()
    assert content.startswith(b"%PDF") and archive.size == len(content)
    assert archive.sha256 == hashlib.sha256(content).hexdigest()
    text = _text(archive.file.path)
    for heading in ("职业技能培训监管月报", "关键指标", "趋势与分布", "重点预警", "案件处置情况"):
        assert heading in text, heading
    assert world.a.district.name in text
    first, last = pdf.month_bounds(facts.month)
    with translation.override("zh-hans"):  # the report is rendered in Chinese
        cockpit = key_figures(CockpitScope("district", None, world.a.district), first, last)
        expected = pdf.snapshot(cockpit)
    archived = archive.figures["key_figures"]
    assert set(archived) == set(expected)
    for code, figure in expected.items():
        if code == "cameras_online":  # its freshness is the time of reading
            figure, archived[code] = {**figure, "freshness": None}, \
                {**archived[code], "freshness": None}
        assert archived[code] == figure, code
    lines = text.splitlines()
    for code in ("sessions", "valid_hours", "warnings", "warnings_critical", "cases_opened",
                 "subsidy_eligible", "subsidy_withheld"):
        value = pdf._fmt(cockpit[code].value)
        label = expected[code]["label"]
        assert any(label in line and re.search(rf"(?<![\d.,]){re.escape(value)}(?![\d.,])",
                                               line) for line in lines), (code, value)
    # the cockpit's figures are the facts of the month
    assert cockpit["sessions"].value == 3 and cockpit["valid_hours"].value == 24
    assert cockpit["warnings"].value == 3
    # top warnings and the case handling table of the month
    assert "TEST_STATS_RULE" in text and "50.0%" in text
    assert "测试预警" in _squash(text)


def test_city_report_download_is_audited_and_scoped(world, facts, login):
    archive = _generate(world.users["city_admin"], facts, kind="city")
    assert archive.state == "done", archive.error
    text = _text(archive.file.path)
    assert "全市" in text and world.b.district.name in text
    auditor = login(world.users["auditor"])
    before = AuditEvent.objects.filter(action="export").count()
    response = auditor.get(reverse("reports:report_download", args=[archive.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == archive.file.open("rb").read()
    event = AuditEvent.objects.filter(action="export").order_by("-pk").first()
    assert AuditEvent.objects.filter(action="export").count() == before + 1
    assert event.actor == world.users["auditor"] and archive.sha256 in event.comment
    listing = auditor.get(reverse("reports:report_list")).content.decode()
    assert archive.sha256[:16] in listing
    # a district supervisor sees neither the city report nor another district's
    district_b = _generate(world.users["city_admin"], facts, kind="district",
                           district=world.b.district)
    sup = login(world.users["district_supervisor"])
    for pk in (archive.pk, district_b.pk):
        for name in ("reports:report_detail", "reports:report_download"):
            assert sup.get(reverse(name, args=[pk])).status_code == 404
        assert sup.get(f"/api/reports/{pk}").status_code == 404
    assert sup.get(reverse("reports:report_detail", args=[987654])).status_code == 404
    assert world.b.district.name not in sup.get(reverse("reports:report_list")).content.decode()


def test_report_requests_from_the_page_queue_the_job(world, facts, login):
    client = login(world.users["district_supervisor"])
    m = f"{facts.month:%Y-%m}"
    response = client.post(reverse("reports:report_list"),
                           {"kind": "district", "district": world.a.district.pk, "month": m})
    archive = ReportArchive.objects.get()
    assert response.status_code == 302 and archive.state == "queued"
    assert AuditEvent.objects.filter(action="create", object_type="reports.reportarchive",
                                     object_id=str(archive.pk)).exists()
    from procrastinate.contrib.django.models import ProcrastinateJob

    assert ProcrastinateJob.objects.filter(task_name="reports.generate_report",
                                           args={"archive_id": archive.pk}).exists()
    # another district, and the city, are refused to a district supervisor
    refused = client.post(reverse("reports:report_list"),
                          {"kind": "district", "district": world.b.district.pk, "month": m})
    assert refused.status_code == 400 and ReportArchive.objects.count() == 1
    api = client.post("/api/reports", {"kind": "city", "month": m},
                      content_type="application/json")
    assert api.status_code == 403
    future = client.post("/api/reports", {"kind": "district", "district": world.a.district.pk,
                                          "month": "2999-01"}, content_type="application/json")
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "month"


def test_monthly_job_generates_last_month_once(world, facts):
    from skillguard.registry.models import District

    n = pdf.queue_monthly_reports()
    assert n == 1 + District.objects.count()
    assert pdf.queue_monthly_reports() == 0
    city = ReportArchive.objects.get(kind="city")
    assert city.month == facts.month and city.generated_by is None


def test_charts_are_svg():
    svg = pdf.bar_chart(["徐汇区", "浦东新区"], [3, 5], title="测试")
    assert svg.startswith("<svg") and svg.count("<rect") == 2 and "徐汇区" in svg
    line = pdf.line_chart(["01", "02", "03"], [1, None, 2])
    assert "<polyline" in line
    assert statistics.add_months(facts_month := statistics.month_start(
        __import__("datetime").date(2026, 12, 9)), 1).month == 1 and facts_month.day == 1

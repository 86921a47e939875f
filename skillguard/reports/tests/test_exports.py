"""Exports: inline CSV / XLSX, large exports through the worker, the size limit, audit,
and the read-only auditor."""
from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from skillguard.audit.models import AuditEvent
from skillguard.reports.models import ExportJob, ReportArchive
from skillguard.reports.services import run_export
from skillguard.reports.tests.helpers import build_facts

pytestmark = pytest.mark.django_db


@pytest.fixture
def facts(world):
    return build_facts(world)


def _post(client, facts, **over):
    m = f"{facts.month:%Y-%m}"
    data = {"table": "training", "format": "csv", "month_from": m, "month_to": m,
            "district": "", "occupation": "", **over}
    return client.post(reverse("reports:export_request"), data)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _norm(value):
    """A cell compared by meaning: numbers as numbers (XLSX keeps 36.00 as 36)."""
    if value is None:
        return ""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def _csv_rows(content: bytes) -> list[list]:
    return [[_norm(v) for v in row]
            for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))]


def _xlsx_rows(content: bytes) -> list[list]:
    ws = load_workbook(io.BytesIO(content), read_only=True).active
    return [[_norm(v) for v in row] for row in ws.iter_rows(values_only=True)]


def test_small_exports_download_at_once_and_xlsx_matches_csv(world, facts, login):
    client = login(world.users["city_supervisor"])
    before = AuditEvent.objects.filter(action="export").count()
    got_csv = _post(client, facts, format="csv")
    assert got_csv.status_code == 200 and got_csv["Content-Type"].startswith("text/csv")
    rows = _csv_rows(_body(got_csv))
    assert len(rows) == 3  # header + two districts
    got_xlsx = _post(client, facts, format="xlsx")
    assert got_xlsx.status_code == 200
    assert _xlsx_rows(_body(got_xlsx)) == rows
    events = AuditEvent.objects.filter(action="export").order_by("pk")[before:]
    assert [e.object_type for e in events] == ["reports.training", "reports.training"]
    assert events[0].actor == world.users["city_supervisor"]
    assert not ExportJob.objects.exists()


def test_a_large_export_runs_in_the_worker_and_its_download_is_audited(world, facts, login,
                                                                       settings):
    settings.REPORTS_EXPORT_INLINE_ROWS = 0
    user = world.users["district_supervisor"]
    client = login(user)
    response = _post(client, facts, table="handling", format="xlsx")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:export_detail", args=[job.pk])
    assert (job.state, job.district_id, job.requested_by) == ("queued", world.a.district.pk,
                                                             user)
    from procrastinate.contrib.django.models import ProcrastinateJob

    queued = ProcrastinateJob.objects.filter(task_name="reports.run_export_job")
    assert [j.args for j in queued] == [{"job_id": job.pk}]
    page = client.get(reverse("reports:export_detail", args=[job.pk]))
    assert 'hx-trigger="every 2s"' in page.content.decode()
    not_ready = client.get(reverse("reports:export_download", args=[job.pk]))
    assert not_ready.status_code == 404  # nothing to download yet

    run_export(job.pk)  # what the worker does
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.percent) == ("done", 1, 1, 100)
    assert job.size == job.file.size > 0
    assert run_export(job.pk).state == "done"  # idempotent
    progress = client.get(reverse("reports:export_progress", args=[job.pk]),
                          HTTP_HX_REQUEST="true")
    assert progress["HX-Refresh"] == "true"
    before = AuditEvent.objects.filter(action="export").count()
    download = client.get(reverse("reports:export_download", args=[job.pk]))
    assert download.status_code == 200
    rows = _xlsx_rows(_body(download))
    assert len(rows) == 2 and "TEST_STATS_RULE" in rows[1] and rows[1][0] == "徐汇区"
    event = AuditEvent.objects.filter(action="export").order_by("-pk").first()
    assert AuditEvent.objects.filter(action="export").count() == before + 1
    assert f"#{job.pk}" in event.comment and event.actor == user
    # the API shows the same job and serves the same file
    api = client.get(f"/api/exports/{job.pk}").json()
    assert api["state"] == "done" and api["download_url"].endswith("/download")
    assert client.get(api["download_url"]).status_code == 200
    # another district's supervisor cannot see it (same as missing)
    other = login(world.b.users["district_supervisor"])
    assert other.get(reverse("reports:export_detail", args=[job.pk])).status_code == 404
    assert other.get(f"/api/exports/{job.pk}").status_code == 404


def test_exports_beyond_the_size_limit_are_refused(world, facts, login, settings):
    settings.REPORTS_EXPORT_MAX_ROWS = 1
    client = login(world.users["city_admin"])
    response = _post(client, facts)  # two rows
    assert response.status_code == 400
    text = response.content.decode()
    problems = text[text.index('id="export-problems"'):]
    assert ("2" in problems and "1" in problems  # rows it would have, the limit
            and ("Narrow the filters" in problems or "缩小" in problems or "筛选" in problems))
    assert not ExportJob.objects.exists()
    api = client.post("/api/exports", {"table": "training", "format": "csv",
                                       "month_from": f"{facts.month:%Y-%m}"},
                      content_type="application/json")
    assert api.status_code == 422 and api.json()["errors"][0]["code"] == "too_large"


def test_the_auditor_may_export_but_not_change_anything(world, facts, login, settings):
    settings.REPORTS_EXPORT_INLINE_ROWS = 0
    client = login(world.users["auditor"])
    writes = AuditEvent.objects.filter(action__in=("create", "update", "delete", "transition"))
    before = writes.count()
    assert _post(client, facts, format="csv").status_code == 302  # queued
    api = client.post("/api/exports", {"table": "subsidy", "format": "xlsx"},
                      content_type="application/json")
    assert api.status_code == 201 and api.json()["state"] == "queued"
    assert writes.count() == before
    # generating a report is a change: refused
    m = f"{facts.month:%Y-%m}"
    page = client.post(reverse("reports:report_list"), {"kind": "city", "month": m})
    assert page.status_code == 403
    api = client.post("/api/reports", {"kind": "city", "month": m},
                      content_type="application/json")
    assert api.status_code == 403
    assert not ReportArchive.objects.exists()
    # institutions do not export statistics at all
    inst = login(world.users["institution_admin"])
    assert _post(inst, facts).status_code == 403

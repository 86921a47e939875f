"""What users see: the rule catalogue, a rule, changing it, back-tests, warnings (filters,
counts, CSV), a warning; and the same through the API."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from skillguard.audit.models import AuditEvent
from skillguard.supervision import engine
from skillguard.supervision.models import RuleVersion, Warning
from skillguard.supervision.rules.base import RuleDefinition, register
from skillguard.supervision.tests.helpers import (
    Fixed,
    fixed_finding,
)

pytestmark = pytest.mark.django_db


class AwaitsVideo(RuleDefinition):
    code = "TEST_AWAITS_VIDEO"
    name = "Test: camera rule"
    description = "Waits for video."
    awaits_source = "video"

    def detect(self, ctx):
        return []


@pytest.fixture
def rules(test_rules, monkeypatch):
    register(AwaitsVideo)
    monkeypatch.setattr("skillguard.cases.services.route_warnings", lambda ids: None)
    return test_rules


def _window():
    now = timezone.now()
    return {"window_start": now - dt.timedelta(days=7), "window_end": now + dt.timedelta(hours=1)}


def _raise(world):
    """Two warnings in A (one rule twice seen), one in B."""
    Fixed.findings = [fixed_finding(world.a, "a1"), fixed_finding(world.a, "a2"),
                      fixed_finding(world.b, "b1")]
    engine.run_rules("sweep", codes=["TEST_FIXED", "TEST_EXPLODES"], **_window())
    return {w.subject: w for w in Warning.objects.all()}


def test_catalogue_shows_every_rule_with_version_failures_and_badges(world, rules, login):
    _raise(world)
    html = login(world.users["city_supervisor"]).get("/supervision/rules/").content.decode()
    for code in ("TEST_BUSY_SESSION", "TEST_EXPLODES", "TEST_FIXED", "TEST_AWAITS_VIDEO"):
        assert f'data-code="{code}"' in html
    assert "no_such_table_for_the_test" in html  # the failure of the last run is visible
    assert "awaits-source" in html and "video" in html
    row = html.split('data-code="TEST_FIXED"')[1].split("</tr>")[0]
    assert ">3</a>" in row and "v1" in row  # open warnings, version
    # a district supervisor counts only the district's open warnings
    district = login(world.a.users["district_supervisor"]).get("/supervision/rules/")
    row = district.content.decode().split('data-code="TEST_FIXED"')[1].split("</tr>")[0]
    assert ">2</a>" in row
    # an institution does not see the catalogue
    assert login(world.a.users["institution_admin"]).get("/supervision/rules/").status_code == 403


def test_the_city_admin_changes_a_rule_in_the_form_and_sees_the_history(world, rules, login):
    admin = login(world.users["city_admin"])
    page = admin.get("/supervision/rules/TEST_BUSY_SESSION/edit/")
    assert page.status_code == 200 and 'name="min_checkins"' in page.content.decode()
    form = {"min_checkins": "0", "max_checkins": "1000", "severity": "high",
            "level": "district", "period": "daily", "enabled": "on", "comment": ""}
    refused = admin.post("/supervision/rules/TEST_BUSY_SESSION/edit/", form)
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "Must be at least 1." in text or "1" in text
    assert 'id="field-min_checkins"' in text and "has-error" in text
    assert RuleVersion.objects.filter(rule__code="TEST_BUSY_SESSION").count() == 1
    form.update(min_checkins="4", comment="four is enough")
    saved = admin.post("/supervision/rules/TEST_BUSY_SESSION/edit/", form)
    assert saved.status_code == 302 and saved["Location"] == "/supervision/rules/TEST_BUSY_SESSION/"
    detail = admin.get("/supervision/rules/TEST_BUSY_SESSION/").content.decode()
    assert "four is enough" in detail and "min_checkins" in detail and "v2" in detail
    assert "<strong>4</strong>" in detail  # what changed: 3 → 4
    # supervisors view, never change
    supervisor = login(world.users["city_supervisor"])
    assert supervisor.get("/supervision/rules/TEST_BUSY_SESSION/").status_code == 200
    assert supervisor.get("/supervision/rules/TEST_BUSY_SESSION/edit/").status_code == 403
    assert supervisor.post("/supervision/rules/TEST_BUSY_SESSION/backtest/",
                           {"window_start": "2026-01-01"}).status_code == 403


def test_a_backtest_from_the_page_shows_its_results(world, rules, login):
    _raise(world)
    admin = login(world.users["city_admin"])
    today = timezone.localdate()
    posted = admin.post("/supervision/rules/TEST_FIXED/backtest/", {
        "window_start": str(today - dt.timedelta(days=3)), "window_end": str(today),
        "threshold": "2"})
    assert posted.status_code == 302, posted.content.decode()[:2000]
    url = posted["Location"]
    pending = admin.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in pending  # queued: the page polls
    run_id = int(url.rstrip("/").rsplit("/", 1)[1])
    engine.execute_run(run_id)
    html = admin.get(url).content.decode()
    assert 'id="backtest-count">3<' in html and 'id="backtest-existing">3<' in html
    assert "every 2s" not in html
    assert world.b.institution.name in html
    # a district supervisor sees only the district's part
    district = login(world.a.users["district_supervisor"]).get(url).content.decode()
    assert 'id="backtest-count">2<' in district and world.b.institution.name not in district
    assert Warning.objects.count() == 3


def test_warning_list_filters_counts_and_csv_export(world, rules, login):
    warnings = _raise(world)
    supervisor = login(world.users["city_supervisor"])
    html = supervisor.get("/supervision/warnings/").content.decode()
    per_rule = html.split('id="counts-per-rule"')[1].split("</section>")[0]
    assert "TEST_FIXED" in per_rule and ">3<" in per_rule
    per_district = html.split('id="counts-per-district"')[1].split("</section>")[0]
    assert world.a.district.name in per_district and world.b.district.name in per_district
    filtered = supervisor.get("/supervision/warnings/", {"district": world.b.district.pk})
    text = filtered.content.decode()
    assert f"/supervision/warnings/{warnings['b1'].pk}/" in text
    assert f"/supervision/warnings/{warnings['a1'].pk}/" not in text
    # period of first raised: a warning first raised last month is not "this week"
    Warning.objects.filter(pk=warnings["a2"].pk).update(
        first_seen_at=timezone.now() - dt.timedelta(days=40))
    week = supervisor.get("/supervision/warnings/", {"period": "week"}).content.decode()
    assert f"/supervision/warnings/{warnings['a2'].pk}/" not in week
    assert f"/supervision/warnings/{warnings['a1'].pk}/" in week
    # htmx refresh: counts and table together
    fragment = supervisor.get("/supervision/warnings/", {"severity": "medium"},
                              HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    assert "<html" not in fragment.content.decode() and "counts-per-rule" in fragment.content.decode()
    # CSV, audited
    before = AuditEvent.objects.filter(action="export").count()
    csv = supervisor.get("/supervision/warnings/", {"export": "csv", "district":
                                                    world.a.district.pk})
    body = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert body.count("\n") == 3 and "Test anomaly a1" in body  # header + 2 rows
    assert AuditEvent.objects.filter(action="export").count() == before + 1
    # a district supervisor never sees another district's warnings, filter or not
    district = login(world.a.users["district_supervisor"])
    text = district.get("/supervision/warnings/", {"district": world.b.district.pk}).content.decode()
    assert f"/supervision/warnings/{warnings['b1'].pk}/" not in text
    assert district.get(f"/supervision/warnings/{warnings['b1'].pk}/").status_code == 404


def test_warning_page_in_the_users_language_with_evidence_links(world, rules, login):
    warning = _raise(world)["a1"]
    client = login(world.a.users["district_supervisor"])
    client.cookies["django_language"] = "en"
    html = client.get(f"/supervision/warnings/{warning.pk}/",
                      HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Test anomaly a1" in html
    assert f"/registry/institutions/{world.a.institution.pk}/" in html
    assert 'id="seen-count">1<' in html
    assert 'id="warning-case"' in html  # the cases app's place


def test_api_rules_change_backtest_and_warnings(world, rules, login):
    _raise(world)
    admin = login(world.users["city_admin"])
    listed = admin.get("/api/rules").json()
    fixed = next(r for r in listed if r["code"] == "TEST_FIXED")
    assert fixed["version"] == 1 and fixed["open_warnings"] == 3 and fixed["enabled"]
    assert fixed["name"]["en"] == "Test: fixed findings"
    assert next(r for r in listed if r["code"] == "TEST_EXPLODES")["last_run"]["status"] == "failed"
    detail = admin.get("/api/rules/TEST_BUSY_SESSION").json()
    assert [p["name"] for p in detail["parameters"]] == ["min_checkins", "max_checkins"]
    assert detail["parameters"][0]["unit"] == "check-ins"
    refused = admin.put("/api/rules/TEST_BUSY_SESSION", json.dumps(
        {"params": {"min_checkins": 0}, "comment": "x"}), content_type="application/json")
    assert refused.status_code == 422
    (problem,) = refused.json()["errors"]
    assert problem["field"] == "min_checkins" and problem["code"] == "parameter_below_minimum"
    assert problem["message_en"] and problem["message_zh"]
    changed = admin.put("/api/rules/TEST_BUSY_SESSION", json.dumps(
        {"params": {"min_checkins": 7}, "comment": "api"}), content_type="application/json")
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert changed.json()["params"] == {"min_checkins": 7, "max_checkins": 1000}
    started = admin.post("/api/rules/TEST_FIXED/backtests", json.dumps({
        "window_start": _window()["window_start"].isoformat(),
        "window_end": _window()["window_end"].isoformat()}), content_type="application/json")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    engine.execute_run(started.json()["id"])
    got = admin.get(f"/api/rules/TEST_FIXED/backtests/{started.json()['id']}").json()
    assert got["results"]["count"] == 3 and got["status"] == "ok"
    assert admin.get("/api/rules/NO_SUCH_RULE").status_code == 404
    # warnings: scoped, filtered, paginated
    district = login(world.a.users["district_supervisor"])
    page = district.get("/api/warnings", {"rule": "TEST_FIXED", "page_size": 1}).json()
    assert page["count"] == 2 and len(page["items"]) == 1
    item = page["items"][0]
    assert item["district"] == world.a.district.pk and item["rule"] == "TEST_FIXED"
    assert district.get("/api/warnings", {"district": world.b.district.pk}).json()["count"] == 0
    one = district.get(f"/api/warnings/{item['id']}").json()
    assert one["evidence"] == [["institution", world.a.institution.pk]]
    assert district.put("/api/rules/TEST_FIXED", json.dumps({"comment": "x", "enabled": False}),
                        content_type="application/json").status_code == 403

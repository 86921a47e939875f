"""Usage analytics from the audit trail: city administrators only; counts equal the trail."""
from __future__ import annotations

import pytest
from django.urls import reverse

from skillguard.audit import services as audit
from skillguard.audit.models import AuditAction
from skillguard.reports import usage

pytestmark = pytest.mark.django_db


def test_only_the_city_administrator_sees_usage(world, login):
    url = reverse("reports:usage")
    assert login(world.users["city_admin"]).get(url).status_code == 200
    for role in ("city_supervisor", "district_supervisor", "auditor", "institution_admin",
                 "teacher"):
        assert login(world.users[role]).get(url).status_code == 403, role


def test_usage_counts_what_the_audit_trail_records(world, login):
    sup, sup_b = world.users["district_supervisor"], world.b.users["district_supervisor"]
    audit.record_sign_in(sup, AuditAction.LOGIN)
    audit.record_sign_in(sup_b, AuditAction.LOGIN)
    audit.record_sign_in(sup, AuditAction.LOGIN)
    audit.record_export(sup, "cases.case", 12, comment="csv")
    audit.record_export(world.users["auditor"], "reports.training", 3, comment="xlsx")
    # a view of a recording, as video.playback records it
    audit._event(sup, AuditAction.READ_PERSONAL, object_type="cameras.camera", object_id="1",
                 fields=["recording"]).save()
    audit._event(sup_b, AuditAction.READ_PERSONAL, object_type="cameras.camera",
                 object_id="2", fields=["live video"]).save()
    d_from, d_to = usage.parse_period(None, None)
    data = usage.summary(d_from, d_to)
    roles = {r["role"]: r["users"] for r in data["by_role"]}
    assert roles["district_supervisor"] == 2 and roles["auditor"] == 1
    districts = {r["district_id"]: r["users"] for r in data["by_district"]}
    assert districts[world.a.district.pk] == 1 and districts[world.b.district.pk] == 1
    exports = {r["object_type"]: r["events"] for r in data["exports"]}
    assert exports == {"cases.case": 1, "reports.training": 1}
    assert data["video"] == {"live": 1, "recording": 1, "views": 2, "clip_exports": 0,
                             "viewers": 2}
    assert data["totals"]["sign_ins"] == 3 and data["page_views_audited"] is False
    page = login(world.users["city_admin"]).get(reverse("reports:usage"))
    text = page.content.decode()
    assert 'data-count="exports">2<' in text and 'data-count="video_views">2<' in text


def test_bad_periods_are_refused_clearly(world, login):
    client = login(world.users["city_admin"])
    url = reverse("reports:usage")
    reversed_ = client.get(url, {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert reversed_.status_code == 400 and 'role="alert"' in reversed_.content.decode()
    too_long = client.get(url, {"date_from": "2020-01-01", "date_to": "2026-05-01"})
    assert too_long.status_code == 400
    assert client.get(url, {"date_from": "garbage"}).status_code == 400

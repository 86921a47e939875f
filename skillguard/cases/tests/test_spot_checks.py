"""Spot checks: a reproducible sample, the risk score, results and a fail opening a case."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from skillguard.audit.models import AuditEvent
from skillguard.attendance.tests.helpers import past_class
from skillguard.cases import services
from skillguard.cases.models import Case, SpotCheck
from skillguard.cases.tests.helpers import make_warning
from skillguard.core.errors import BusinessRuleError

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(world):
    start = timezone.localdate() - dt.timedelta(days=40)
    return past_class(world.a, world.course, start=start, days=14, planned_hours=56)


def sample(check):
    return list(check.items.order_by("rank").values_list("session_id", flat=True))


def test_same_seed_same_sample_other_seed_other_sample(world, many):
    sup = world.a.users["district_supervisor"]
    first = services.draw_spot_check(sup, kind="attendance", sample_size=5, seed="2026-11")
    again = services.draw_spot_check(sup, kind="attendance", sample_size=5, seed="2026-11")
    other = services.draw_spot_check(sup, kind="attendance", sample_size=5, seed="another")
    assert len(sample(first)) == 5 and sample(first) == sample(again)
    assert sample(first) != sample(other)
    assert first.population == 16  # 14 + the world's two sessions of district a
    # a district supervisor samples only their district
    assert first.district == world.a.district
    assert {i.district_id for i in first.items.all()} == {world.a.district.pk}
    # an empty seed gets a random one, stored with the draw
    fresh = services.draw_spot_check(sup, kind="attendance", sample_size=3, seed="")
    assert len(fresh.seed) == 16
    replay = services.draw_spot_check(sup, kind="attendance", sample_size=3, seed=fresh.seed)
    assert sample(replay) == sample(fresh)


def test_filters_and_the_risk_score(world, many):
    city = world.users["city_supervisor"]
    session = many.sessions.order_by("sequence").first()
    # institution a: 5 + 1 for every session; the class: 2·5 more; the session: 2·1 more
    make_warning(world.a, severity="critical", evidence=[("class", many.pk)])
    make_warning(world.a, severity="low", evidence=[("session", session.pk)])
    check = services.draw_spot_check(city, kind="attendance", sample_size=50, seed="x",
                                     min_risk=17)
    assert sample(check) == [session.pk]
    assert check.items.get().risk_score == 18
    check = services.draw_spot_check(city, kind="attendance", sample_size=50, seed="x",
                                     min_risk=1)
    scores = dict(check.items.values_list("session_id", "risk_score"))
    assert set(scores.values()) == {6, 16, 18}  # the world's classes: institution only
    assert check.population == 16
    opening = services.draw_spot_check(city, kind="class_opening", sample_size=50, seed="x")
    assert opening.population == 5  # the first session of each class in the city
    b_only = services.draw_spot_check(city, kind="attendance", sample_size=50, seed="x",
                                      district=world.b.district)
    assert {i.institution_id for i in b_only.items.all()} == {world.b.institution.pk}
    assert all(i.enrolled_count == 3 for i in b_only.items.all())


def test_draw_refusals(world):
    sup = world.a.users["district_supervisor"]
    with pytest.raises(BusinessRuleError) as err:
        services.draw_spot_check(sup, kind="attendance", sample_size=0, district=world.b.district,
                                 date_from=dt.date(2026, 5, 2), date_to=dt.date(2026, 5, 1))
    assert sorted(p.field for p in err.value.problems) == ["date_to", "district", "sample_size"]
    for user in (world.users["auditor"], world.a.users["institution_admin"]):
        with pytest.raises(BusinessRuleError) as err:
            services.draw_spot_check(user, kind="attendance", sample_size=3)
        assert err.value.problems[0].code == "forbidden"
    assert not SpotCheck.objects.exists()


def test_a_failed_check_opens_a_case_for_the_district(world, many):
    sup = world.a.users["district_supervisor"]
    check = services.draw_spot_check(sup, kind="attendance", sample_size=3, seed="s")
    passed, failed, _rest = check.items.order_by("rank")
    services.record_spot_check_result(sup, passed, outcome="pass", findings="All present",
                                      headcount_observed=3)
    assert not Case.objects.exists()
    item = services.record_spot_check_result(
        sup, failed, outcome="fail", findings="Only one trainee in the room",
        headcount_observed=1, files=[SimpleUploadedFile("room.jpg", b"\xff\xd8 jpg",
                                                        "image/jpeg")])
    case = Case.objects.get()
    assert item.case == case and case.origin == "spot_check"
    assert case.district == world.a.district and case.institution == world.a.institution
    assert case.severity == "high" and case.state == "new"
    assert case.attachments.get().name == "room.jpg"
    assert AuditEvent.objects.filter(object_type="cases.attachment", action="create").exists()
    assert AuditEvent.objects.filter(object_type="cases.spotcheckitem", action="update",
                                     object_id=str(item.pk)).exists()
    with pytest.raises(BusinessRuleError) as err:  # recorded once
        services.record_spot_check_result(sup, item, outcome="pass", findings="x")
    assert err.value.problems[0].code == "already_recorded"
    with pytest.raises(BusinessRuleError) as err:
        services.record_spot_check_result(world.b.users["district_supervisor"], _rest,
                                          outcome="pass", findings="x")
    assert err.value.problems[0].code == "forbidden"
    with pytest.raises(BusinessRuleError) as err:
        services.record_spot_check_result(sup, _rest, outcome="fail", findings="")
    assert err.value.problems[0].field == "findings"


def test_spot_check_pages(world, many, client):
    sup = world.a.users["district_supervisor"]
    client.force_login(sup)
    got = client.post("/cases/spot-checks/new/", {"kind": "attendance", "sample_size": 2,
                                                   "seed": "page", "min_risk": 0})
    check = SpotCheck.objects.get()
    assert got.status_code == 302 and got["Location"] == f"/cases/spot-checks/{check.pk}/"
    page = client.get(got["Location"]).content.decode()
    assert "page" in page and page.count('id="item-') == 2
    item = check.items.order_by("rank").first()
    got = client.post(f"/cases/spot-check-items/{item.pk}/result/", {
        f"item{item.pk}-outcome": "fail", f"item{item.pk}-findings": "Nobody there",
        f"item{item.pk}-headcount_observed": 0})
    assert got.status_code == 302
    item.refresh_from_db()
    assert item.case is not None and item.outcome == "fail"
    client.force_login(world.b.users["district_supervisor"])
    assert client.get(f"/cases/spot-checks/{check.pk}/").status_code == 404

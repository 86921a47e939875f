"""Cockpit pages, API and incremental refresh on the small test world (districts A and B)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from skillguard.attendance import hours
from skillguard.attendance.testing import attend, write_evidence
from skillguard.cockpit import figures, rollups
from skillguard.cockpit.models import DailyTraining, RollupState
from skillguard.registry.models import Enrolment, Session

pytestmark = pytest.mark.django_db


def _session(side):
    return Session.objects.filter(training_class=side.approved_class).order_by("starts_at")[0]


def _figures(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.context["figures"]


def test_incremental_refresh_picks_up_a_new_checkin_and_a_new_warning(world):
    from skillguard.cases.tests.helpers import make_warning

    rollups.refresh(full=True)
    s = _session(world.a)
    day = timezone.localtime(s.starts_at).date()
    scope = figures.resolve_scope(world.users["city_admin"])
    before = figures.key_figures(scope, day, day)
    # A and B each hold one session that day
    assert before["sessions"].value == 2 and before["checkins"].value == 0
    assert before["sessions"].freshness is not None
    e = Enrolment.objects.get(training_class=world.a.approved_class,
                              trainee=world.a.trainees[0])
    write_evidence(attend(e, s))
    hours.recompute_sessions([s.pk])  # what the evidence outbox job does
    # not visible until the rollup is refreshed ...
    assert figures.key_figures(scope, day, day)["checkins"].value == 0
    warning = make_warning(world.a, severity="critical")
    days = rollups.refresh()
    assert days["training"] >= 1 and days["warnings"] >= 1
    after = figures.key_figures(scope, day, day)
    assert after["checkins"].value == 1
    assert after["valid_hours"].value == 4  # 09:00–12:00 is four 45-minute class hours
    assert after["trainees_present"].value == 1
    wday = timezone.localtime(warning.first_seen_at).date()
    w = figures.key_figures(scope, wday, wday)
    assert w["warnings_critical"].value == 1 and w["warnings_open"].value == 1
    # a district supervisor of B sees nothing of A's check-in
    scope_b = figures.resolve_scope(world.b.users["district_supervisor"])
    assert figures.key_figures(scope_b, day, day)["checkins"].value == 0
    # the risk ranking names A's institution with its reason
    ranking = figures.risk_ranking(scope)
    top = next(r for r in ranking if r["institution_id"] == world.a.institution.pk)
    assert "1 open warnings of severity Critical" in top["reasons"]
    # running again without changes re-aggregates nothing new and keeps the figures
    rollups.refresh()
    assert figures.key_figures(scope, day, day)["checkins"].value == 1
    assert RollupState.objects.get(name="training").refreshed_at is not None


def test_scope_of_each_role(world, login):
    rollups.refresh(full=True)
    a, b = world.a, world.b
    # home redirects to the user's level
    for user, expected in ((world.users["city_admin"], reverse("cockpit:city")),
                           (a.users["district_supervisor"],
                            reverse("cockpit:district", args=[a.district.pk])),
                           (a.users["institution_admin"],
                            reverse("cockpit:institution", args=[a.institution.pk]))):
        response = login(user).get(reverse("cockpit:home"))
        assert response.status_code == 302 and response["Location"].startswith(expected)
    client = login(a.users["district_supervisor"])
    assert client.get(reverse("cockpit:district", args=[a.district.pk])).status_code == 200
    # district B, its institution and the city: the same 404 as a missing record
    assert client.get(reverse("cockpit:district", args=[b.district.pk])).status_code == 404
    assert client.get(reverse("cockpit:district", args=[999999])).status_code == 404
    assert client.get(reverse("cockpit:institution",
                              args=[b.institution.pk])).status_code == 404
    assert client.get(reverse("cockpit:city")).status_code == 404
    api = client.get("/api/cockpit/figures", {"district": b.district.pk})
    assert api.status_code == 404 and api.json()["errors"][0]["code"] == "not_found"
    # an institution admin sees its own institution only
    client = login(a.users["institution_admin"])
    assert client.get(reverse("cockpit:institution",
                              args=[a.institution.pk])).status_code == 200
    assert client.get(reverse("cockpit:institution",
                              args=[b.institution.pk])).status_code == 404
    assert client.get(reverse("cockpit:district", args=[a.district.pk])).status_code == 404
    data = client.get("/api/cockpit/figures").json()
    assert data["scope"] == {"level": "institution", "district": a.district.pk,
                             "institution": a.institution.pk, "label": a.institution.name}
    # a teacher and a trainee have no cockpit
    assert login(a.users["teacher"]).get(reverse("cockpit:home")).status_code == 404


def test_district_figures_count_only_the_district(world, login):
    rollups.refresh(full=True)
    today = timezone.localdate()
    params = {"period": "custom", "from": (today - dt.timedelta(days=30)).isoformat(),
              "to": (today + dt.timedelta(days=60)).isoformat()}
    city = _figures(login(world.users["city_admin"]),
                    reverse("cockpit:city") + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
    district = _figures(login(world.a.users["district_supervisor"]),
                        reverse("cockpit:district", args=[world.a.district.pk]) + "?"
                        + "&".join(f"{k}={v}" for k, v in params.items()))
    assert city["sessions"].value == 4 and district["sessions"].value == 2
    # classes running: on the day of A's approved class's session (a day period)
    day = timezone.localtime(_session(world.a).starts_at).date().isoformat()
    running = _figures(login(world.a.users["district_supervisor"]),
                       reverse("cockpit:district", args=[world.a.district.pk])
                       + f"?period=day&day={day}")["classes_running"]
    assert running.value == 1 and f"running_on={day}" in running.url
    response = login(world.a.users["district_supervisor"]).get(running.url)
    assert [c.pk for c in response.context["table"].page.object_list] == [
        world.a.approved_class.pk]
    # the drill-down of sessions lists the same sessions
    client = login(world.a.users["district_supervisor"])
    response = client.get(district["sessions"].url)
    assert response.status_code == 200
    assert response.context["table"].page.paginator.count == 2


def test_bad_ranges_give_a_clear_message(world, login):
    client = login(world.users["city_admin"])
    url = reverse("cockpit:city")
    response = client.get(url, {"period": "custom", "from": "2026-05-01", "to": "2026-04-01"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "cockpit-error" in text and "2026-04-01" in text and "figures" not in response.context
    response = client.get(url, {"period": "custom", "from": "2015-01-01", "to": "2026-04-01"})
    assert "five years" in response.content.decode() or "五年" in response.content.decode()
    response = client.get(url, {"period": "custom", "from": "not-a-date", "to": "2026-04-01"})
    assert response.status_code == 200 and "cockpit-error" in response.content.decode()
    api = client.get("/api/cockpit/figures", {"from": "2026-05-01", "to": "2026-04-01"})
    assert api.status_code == 422
    err = api.json()["errors"][0]
    assert err["field"] == "to" and "2026-04-01" in err["message_en"] \
        and "结束日期" in err["message_zh"]
    api = client.get("/api/cockpit/trends", {"metric": "nonsense"})
    assert api.status_code == 422


def test_api_trend_breakdown_ranking_and_screen_mode(world, login):
    rollups.refresh(full=True)
    client = login(world.users["city_supervisor"])
    today = timezone.localdate()
    frm, to = (today - dt.timedelta(days=10)).isoformat(), (today + dt.timedelta(days=40)).isoformat()
    trend = client.get("/api/cockpit/trends", {"metric": "sessions", "grain": "day",
                                               "from": frm, "to": to}).json()
    assert len(trend["points"]) == 51 and sum(p["value"] for p in trend["points"]) == 4
    by = client.get("/api/cockpit/breakdowns", {"metric": "sessions", "by": "district",
                                                "from": frm, "to": to}).json()
    assert {r["key"]: r["value"] for r in by["rows"]} == {world.a.district.pk: 2,
                                                         world.b.district.pk: 2}
    assert client.get("/api/cockpit/ranking").status_code == 200
    page = client.get(reverse("cockpit:city"), {"screen": "1", "period": "month"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "cockpit-screen" in html and 'id="cockpit-data"' in html and "echarts.min.js" in html


def test_an_institution_sees_no_warning_figures_and_only_cases_dispatched_to_it(world, login):
    from skillguard.cases import services
    from skillguard.cases.tests.helpers import make_warning

    warning = make_warning(world.a, severity="high")
    (case,) = services.route_warnings([warning.pk])  # opened, not dispatched
    rollups.refresh(full=True)
    day = timezone.localtime(case.opened_at).date().isoformat()
    query = f"?period=custom&from={day}&to={day}"
    supervisor = _figures(login(world.a.users["district_supervisor"]),
                          reverse("cockpit:institution", args=[world.a.institution.pk]) + query)
    assert supervisor["cases_opened"].value == 1 and supervisor["warnings_high"].value == 1
    client = login(world.a.users["institution_admin"])
    response = client.get(reverse("cockpit:institution", args=[world.a.institution.pk]) + query)
    mine = response.context["figures"]
    assert mine["cases_opened"].value == 0  # not dispatched yet: the institution cannot know
    assert not any(code.startswith("warnings") for code in mine)
    assert "cockpit-ranking" not in response.content.decode()
    api = client.get("/api/cockpit/ranking").json()
    assert api["rows"] == []


def test_command_and_job_refresh_the_rollups(world):
    from io import StringIO

    from django.core.management import call_command

    from skillguard.cockpit.tasks import enqueue_refresh, refresh_rollups

    out = StringIO()
    call_command("refresh_rollups", "--all", stdout=out)
    assert "training=" in out.getvalue()
    state = RollupState.objects.get(name="training")
    assert state.full_at is not None and state.days_refreshed > 0
    assert DailyTraining.objects.filter(sessions_scheduled__gt=0).exists()
    before = sorted(DailyTraining.objects.values_list("day", "institution_id",
                                                      "sessions_scheduled"))
    assert set(refresh_rollups(full=False)) == set(rollups.ROLLUPS)  # the job, run inline
    assert sorted(DailyTraining.objects.values_list("day", "institution_id",
                                                    "sessions_scheduled")) == before
    from skillguard.cockpit.tasks import refresh_recent_days

    assert refresh_recent_days(0) == 36  # the nightly net: the same rows again
    assert sorted(DailyTraining.objects.values_list("day", "institution_id",
                                                    "sessions_scheduled")) == before
    assert enqueue_refresh() is True
    assert enqueue_refresh() is False  # the queueing lock: one waiting job at most

"""The standard tables equal direct counts on a small world; filters and scope."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.urls import reverse

from skillguard.attendance.models import EnrolmentHours, SessionAttendance
from skillguard.cases.models import Case
from skillguard.core.errors import BusinessRuleError
from skillguard.registry.models import District, Enrolment, Session
from skillguard.reports import statistics
from skillguard.reports.tests.helpers import build_facts
from skillguard.subsidies.models import SubsidyVerdict
from skillguard.supervision.models import Warning

pytestmark = pytest.mark.django_db


@pytest.fixture
def facts(world):
    return build_facts(world)


def _filters(user, facts, **kw):
    m = f"{facts.month:%Y-%m}"
    return statistics.parse_filters(user, month_from=m, month_to=m, **kw)


def _bounds(facts):
    f = statistics.StatFilters(facts.month, facts.month, None)
    return f.start, f.end


def test_training_table_equals_direct_counts(world, facts):
    table = statistics.training_table(_filters(world.users["city_admin"], facts))
    start, end = _bounds(facts)
    assert len(table.rows) == 2  # one occupation, two districts, one month
    assert table.freshness is not None
    for row in table.rows:
        sessions = Session.objects.filter(district_id=row["district_id"],
                                          starts_at__gte=start, starts_at__lt=end)
        classes = set(sessions.values_list("training_class_id", flat=True))
        enrolments = Enrolment.objects.filter(training_class_id__in=classes).exclude(
            status="withdrawn")
        sa = SessionAttendance.objects.filter(district_id=row["district_id"],
                                              starts_at__gte=start, starts_at__lt=end)
        agg = sa.aggregate(valid=Sum("valid_hours"), scheduled=Sum("scheduled_hours"))
        present = sa.filter(status__in=("present", "partial")).values(
            "trainee_id", "session_id").distinct().count()  # one session a day here
        completions = EnrolmentHours.objects.filter(
            district_id=row["district_id"], completion="qualifies",
            training_class__end_date__gte=facts.month,
            training_class__end_date__lt=statistics.add_months(facts.month, 1)).count()
        assert (row["classes"], row["enrolments"], row["trainees"], row["sessions"],
                row["present"], row["valid_hours"], row["scheduled_hours"],
                row["completions"]) == (
            len(classes), enrolments.count(),
            enrolments.values("trainee_id").distinct().count(), sessions.count(), present,
            agg["valid"], agg["scheduled"], completions)
        assert row["month"] == f"{facts.month:%Y-%m}"
        assert row["occupation"] == world.course.occupation.name
    a = next(r for r in table.rows if r["district_id"] == world.a.district.pk)
    # 3 sessions of 4 class hours, 3 enrolled, 2 attend all: 24 of 36 hours, 2 complete
    assert (a["classes"], a["sessions"], a["trainees"], a["present"], a["valid_hours"],
            a["scheduled_hours"]) == (1, 3, 3, 6, Decimal(24), Decimal(36))
    assert a["attendance_rate"] == Decimal("0.6667") and a["completions"] == 2
    b = next(r for r in table.rows if r["district_id"] == world.b.district.pk)
    assert (b["valid_hours"], b["present"], b["completions"]) == (Decimal(12), 3, 0)
    assert table.totals["valid_hours"] == Decimal(36)


def test_training_table_equals_the_cockpit_for_the_month(world, facts):
    from skillguard.cockpit.figures import CockpitScope, key_figures
    from skillguard.reports.pdf import month_bounds

    table = statistics.training_table(_filters(world.users["city_admin"], facts))
    first, last = month_bounds(facts.month)
    for row in table.rows:
        scope = CockpitScope("district", None, District.objects.get(pk=row["district_id"]))
        figures = key_figures(scope, first, last)
        assert row["sessions"] == figures["sessions"].value
        assert row["present"] == figures["trainees_present"].value
        assert row["valid_hours"] == figures["valid_hours"].value


def test_subsidy_table_equals_direct_counts(world, facts):
    table = statistics.subsidy_table(_filters(world.users["city_supervisor"], facts))
    assert {r["district_id"] for r in table.rows} == {world.a.district.pk, world.b.district.pk}
    for row in table.rows:
        sv = SubsidyVerdict.objects.filter(
            district_id=row["district_id"], training_class__end_date__gte=facts.month,
            training_class__end_date__lt=statistics.add_months(facts.month, 1))
        agg = sv.aggregate(
            eligible=Count("pk", filter=Q(verdict="eligible")),
            not_eligible=Count("pk", filter=Q(verdict="not_eligible")),
            pending=Count("pk", filter=Q(verdict="pending_evidence")),
            amount=Sum("amount", filter=Q(verdict="eligible")))
        assert (row["eligible"], row["not_eligible"], row["pending"],
                row["eligible_amount"]) == (agg["eligible"], agg["not_eligible"],
                                            agg["pending"], agg["amount"] or 0)
        refused = sv.filter(verdict="not_eligible").count()
        assert row["withheld_amount"] == refused * Decimal(world.course.subsidy_amount)
    a = next(r for r in table.rows if r["district_id"] == world.a.district.pk)
    assert (a["eligible"], a["not_eligible"]) == (2, 1)
    assert a["eligible_amount"] > 0


def test_handling_table_equals_direct_counts(world, facts):
    table = statistics.handling_table(_filters(world.users["city_admin"], facts))
    start, end = _bounds(facts)
    for row in table.rows:
        w = Warning.objects.filter(district_id=row["district_id"], rule_id=row["rule_id"],
                                   first_seen_at__gte=start, first_seen_at__lt=end)
        c = Case.objects.filter(district_id=row["district_id"], rule_id=row["rule_id"],
                                opened_at__gte=start, opened_at__lt=end)
        closed = [x for x in c if x.state == "closed"]
        on_time = [x for x in closed if x.closed_at <= x.deadline]
        assert (row["warnings_raised"], row["cases_opened"], row["cases_closed"],
                row["closed_on_time"]) == (w.count(), c.count(), len(closed), len(on_time))
    a = next(r for r in table.rows if r["district_id"] == world.a.district.pk)
    assert (a["warnings_raised"], a["cases_opened"], a["cases_open"], a["cases_closed"],
            a["closed_on_time"], a["overdue"], a["escalated"]) == (3, 3, 1, 2, 1, 1, 1)
    assert a["on_time_rate"] == Decimal("0.5000")
    b = next(r for r in table.rows if r["district_id"] == world.b.district.pk)
    assert (b["warnings_raised"], b["cases_opened"], b["on_time_rate"]) == (1, 0, None)


def test_district_supervisor_sees_only_the_district(world, facts):
    user = world.users["district_supervisor"]  # district a
    for kind in statistics.TABLES:
        table = statistics.table(kind, _filters(user, facts))
        assert table.rows and {r["district_id"] for r in table.rows} == {world.a.district.pk}


def test_filters_refuse_reversed_and_too_long_ranges(world):
    user = world.users["city_admin"]
    with pytest.raises(BusinessRuleError) as err:
        statistics.parse_filters(user, month_from="2026-05", month_to="2026-03")
    assert err.value.problems[0].code == "reversed_range"
    with pytest.raises(BusinessRuleError) as err:
        statistics.parse_filters(user, month_from="2022-01", month_to="2025-01")
    assert err.value.problems[0].code == "range_too_long"
    assert statistics.parse_filters(user, month_from="2022-01", month_to="2024-12")
    with pytest.raises(BusinessRuleError):
        statistics.parse_filters(user, month_from="May 2026")


def test_page_shows_the_table_messages_and_no_data(world, facts, login):
    client = login(world.users["city_supervisor"])
    m = f"{facts.month:%Y-%m}"
    url = reverse("reports:statistics")
    page = client.get(url, {"table": "handling", "month_from": m, "month_to": m})
    assert page.status_code == 200
    text = page.content.decode()
    assert "TEST_STATS_RULE" in text and world.a.district.name in text
    assert "50.0%" in text  # on-time rate of district a
    reversed_ = client.get(url, {"month_from": m, "month_to": "2001-01"})
    assert reversed_.status_code == 400
    assert 'id="filter-problems"' in reversed_.content.decode()
    too_long = client.get(url, {"month_from": "2001-01", "month_to": m})
    assert too_long.status_code == 400 and "36" in too_long.content.decode()
    empty = client.get(url, {"month_from": "2001-01", "month_to": "2001-02"})
    assert empty.status_code == 200
    assert 'class="empty"' in empty.content.decode()
    assert 'id="export-form"' not in empty.content.decode()


def test_out_of_scope_district_answers_like_a_missing_one(world, facts, login):
    client = login(world.users["district_supervisor"])
    url = reverse("reports:statistics")
    out = client.get(url, {"district": world.b.district.pk})
    missing = client.get(url, {"district": 987654})
    assert out.status_code == missing.status_code == 404
    api_out = client.get("/api/statistics/training", {"district": world.b.district.pk})
    api_missing = client.get("/api/statistics/training", {"district": 987654})
    assert api_out.status_code == api_missing.status_code == 404
    assert api_out.content == api_missing.content
    own = client.get("/api/statistics/training", {"district": world.a.district.pk,
                                                  "month_from": f"{facts.month:%Y-%m}"})
    assert own.status_code == 200
    rows = own.json()["rows"]
    assert rows and {r["district_id"] for r in rows} == {world.a.district.pk}


def test_api_refuses_bad_ranges_and_institutions(world, login):
    client = login(world.users["city_admin"])
    bad = client.get("/api/statistics/handling", {"month_from": "2026-05",
                                                  "month_to": "2026-01"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "reversed_range"
    assert "swap" in bad.json()["errors"][0]["message_en"]
    inst = login(world.users["institution_admin"])
    assert inst.get("/api/statistics/training").status_code == 403
    assert inst.get(reverse("reports:statistics")).status_code == 403

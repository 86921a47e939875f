"""The engine: catalogue on first use, dedup, isolation, switched-off rules, versions and
their audit, parameter refusals, back-tests, sweeps, and the real-time path end to end."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from skillguard.audit.models import AuditEvent
from skillguard.core.errors import BusinessRuleError
from skillguard.supervision import engine, services
from skillguard.supervision.models import Rule, RuleRun, RuleVersion, Warning
from skillguard.supervision.tests.helpers import (
    Fixed,
    fixed_finding,
)

pytestmark = pytest.mark.django_db

WEEK = dt.timedelta(days=7)


def _window():
    now = timezone.now()
    return {"window_start": now - WEEK, "window_end": now + dt.timedelta(hours=1)}


@pytest.fixture
def routed(monkeypatch):
    """What the engine hands to cases.services.route_warnings."""
    calls = []
    monkeypatch.setattr("skillguard.cases.services.route_warnings",
                        lambda ids: calls.append(sorted(ids)))
    return calls


def test_catalogue_rows_and_version_1_are_created_on_first_use(test_rules):
    assert not Rule.objects.exists()
    rules = engine.ensure_catalogue()
    assert set(rules) == set(test_rules)
    busy = rules["TEST_BUSY_SESSION"]
    assert busy.enabled and busy.current_version.number == 1
    assert busy.current_version.params == {"min_checkins": 3, "max_checkins": 1000}
    assert busy.current_version.severity == "high" and busy.current_version.period == "daily"
    engine.ensure_catalogue()  # idempotent
    assert RuleVersion.objects.filter(rule=busy).count() == 1


def test_the_same_anomaly_raises_one_warning_however_often_it_is_found(world, test_rules,
                                                                       routed):
    Fixed.findings = [fixed_finding(world.a, "inst:a")]
    first = engine.run_rules("sweep", codes=["TEST_FIXED"], **_window())
    second = engine.run_rules("sweep", codes=["TEST_FIXED"], **_window())
    warning = Warning.objects.get()
    assert warning.seen_count == 2 and warning.last_seen_at > warning.first_seen_at
    assert (first[0].new_warnings, second[0].new_warnings) == (1, 0)
    assert (first[0].findings_count, second[0].findings_count) == (1, 1)
    assert warning.first_run == first[0]
    assert warning.district == world.a.district and warning.institution == world.a.institution
    assert warning.summary_en == "Test anomaly inst:a" and warning.summary_zh
    assert warning.evidence == [["institution", world.a.institution.pk]]
    assert warning.affected_hours == [[1, 2]]
    assert routed == [[warning.pk]]  # only new warnings are routed to cases
    # a second anomaly in the same run is one more warning, the first still one
    Fixed.findings.append(fixed_finding(world.b, "inst:b"))
    third = engine.run_rules("sweep", codes=["TEST_FIXED"], **_window())
    assert third[0].new_warnings == 1 and Warning.objects.count() == 2
    assert Warning.objects.get(subject="inst:a").seen_count == 3


def test_a_rule_reporting_one_anomaly_twice_in_a_run_gives_one_warning(world, test_rules,
                                                                        routed):
    Fixed.findings = [fixed_finding(world.a, "dup"), fixed_finding(world.a, "dup")]
    (run,) = engine.run_rules("sweep", codes=["TEST_FIXED"], **_window())
    assert run.status == "ok" and run.new_warnings == 1
    assert Warning.objects.get().seen_count == 1


def test_a_failing_rule_is_isolated_and_reported(world, test_rules, routed):
    Fixed.findings = [fixed_finding(world.a)]
    runs = {r.rule.code: r for r in engine.run_rules(
        "sweep", codes=["TEST_EXPLODES", "TEST_FIXED"], **_window())}
    failed, ok = runs["TEST_EXPLODES"], runs["TEST_FIXED"]
    failed.refresh_from_db()
    assert failed.status == "failed" and "no_such_table_for_the_test" in failed.error
    assert failed.finished_at is not None
    assert ok.status == "ok" and ok.new_warnings == 1
    assert Warning.objects.filter(rule__code="TEST_FIXED").count() == 1


def test_a_switched_off_rule_does_not_run(world, test_rules, routed):
    Fixed.findings = [fixed_finding(world.a)]
    services.change_rule(world.users["city_admin"], "TEST_FIXED", enabled=False,
                         comment="too noisy")
    assert engine.run_rules("sweep", codes=["TEST_FIXED"], **_window()) == []
    assert not Warning.objects.exists()
    assert not RuleRun.objects.filter(rule__code="TEST_FIXED").exists()
    with pytest.raises(BusinessRuleError) as err:
        services.request_run(world.users["city_admin"], "TEST_FIXED", **_window())
    assert [p.code for p in err.value.problems] == ["rule_disabled"]


def _problems(err):
    return {(p["field"], p["code"]): p for p in err.value.as_list()}


def test_parameters_out_of_range_or_inconsistent_are_refused_naming_the_field(world,
                                                                              test_rules):
    admin = world.users["city_admin"]
    engine.ensure_catalogue()
    with pytest.raises(BusinessRuleError) as err:
        services.change_rule(admin, "TEST_BUSY_SESSION", params={"min_checkins": 0},
                             comment="try")
    p = _problems(err)[("min_checkins", "parameter_below_minimum")]
    assert p["message_en"] == "minimum check-ins: Must be at least 1."
    assert p["message_zh"].startswith("minimum check-ins") or "1" in p["message_zh"]

    with pytest.raises(BusinessRuleError) as err:
        services.change_rule(admin, "TEST_BUSY_SESSION",
                             params={"min_checkins": 50, "max_checkins": 10}, comment="try")
    assert set(_problems(err)) == {("max_checkins", "parameter_inconsistent")}

    with pytest.raises(BusinessRuleError) as err:
        services.change_rule(admin, "TEST_BUSY_SESSION", params={"min_checkins": "many",
                                                                 "speed": 3}, comment="")
    assert set(_problems(err)) >= {("min_checkins", "parameter_invalid"),
                                   ("speed", "parameter_unknown"), ("comment", "required")}
    with pytest.raises(BusinessRuleError) as err:
        services.change_rule(admin, "TEST_BUSY_SESSION", severity="apocalyptic",
                             period="hourly", comment="x")
    assert set(_problems(err)) == {("severity", "invalid_choice"), ("period", "invalid_choice")}
    assert RuleVersion.objects.filter(rule__code="TEST_BUSY_SESSION").count() == 1


def test_only_the_city_admin_changes_rules(world, test_rules):
    for role in ("city_supervisor", "district_supervisor", "auditor"):
        with pytest.raises(BusinessRuleError) as err:
            services.change_rule(world.users[role], "TEST_FIXED", params={"threshold": 2},
                                 comment="mine")
        assert [p.code for p in err.value.problems] == ["forbidden"]


def test_a_change_is_a_new_version_with_who_when_why_and_an_audit_event(world, test_rules,
                                                                         routed):
    admin = world.users["city_admin"]
    rule = services.change_rule(admin, "TEST_BUSY_SESSION", params={"min_checkins": 5},
                                severity="critical", comment="fewer false alarms")
    v1, v2 = RuleVersion.objects.filter(rule=rule).order_by("number")
    assert rule.current_version == v2 and v2.number == 2
    assert v1.params == {"min_checkins": 3, "max_checkins": 1000} and v1.severity == "high"
    assert v2.params == {"min_checkins": 5, "max_checkins": 1000}
    assert (v2.severity, v2.created_by, v2.comment) == ("critical", admin, "fewer false alarms")
    event = AuditEvent.objects.filter(object_type="supervision.rule").latest("pk")
    assert event.action == "update" and event.actor == admin
    assert event.comment == "fewer false alarms"
    assert event.changes["params"] == [{"min_checkins": 3, "max_checkins": 1000},
                                       {"min_checkins": 5, "max_checkins": 1000}]
    assert event.changes["version"] == [1, 2]
    assert event.changes["severity"] == ["high", "critical"]
    # nothing new: refused, no version 3
    with pytest.raises(BusinessRuleError) as err:
        services.change_rule(admin, "TEST_BUSY_SESSION", params={"min_checkins": 5},
                             comment="again")
    assert [p.code for p in err.value.problems] == ["unchanged"]
    # switching off is audited but needs no new version
    services.change_rule(admin, "TEST_BUSY_SESSION", enabled=False, comment="pause")
    assert RuleVersion.objects.filter(rule=rule).count() == 2
    assert AuditEvent.objects.filter(object_type="supervision.rule").latest("pk").changes == {
        "enabled": [True, False]}
    # warnings raised afterwards carry the version in force
    Fixed.findings = [fixed_finding(world.a)]
    services.change_rule(admin, "TEST_FIXED", params={"threshold": 7}, comment="tune")
    engine.run_rules("sweep", codes=["TEST_FIXED"], **_window())
    assert Warning.objects.get().rule_version.number == 2
    assert Warning.objects.get().severity == "medium"


def test_a_backtest_reports_what_it_would_raise_and_creates_no_warnings(world, test_rules,
                                                                        routed):
    admin = world.users["city_admin"]
    Fixed.findings = [fixed_finding(world.a, "one")]
    engine.run_rules("sweep", codes=["TEST_FIXED"], **_window())
    Fixed.findings = [fixed_finding(world.a, "one"), fixed_finding(world.a, "two"),
                      fixed_finding(world.b, "three")]
    services.change_rule(admin, "TEST_FIXED", enabled=False, comment="off while testing")
    run = services.run_backtest(admin, "TEST_FIXED", params={"threshold": 9}, **_window())
    assert run.status == "queued" and run.mode == "backtest"
    job = ProcrastinateJob.objects.get(task_name="supervision.process_run")
    assert job.args == {"run_id": run.pk}
    engine.execute_run(run.pk)  # what the job does
    run.refresh_from_db()
    assert run.status == "ok", run.error
    results = run.results
    assert (results["count"], results["existing"], results["new"]) == (3, 1, 2)
    assert results["params"] == {"threshold": 9}
    assert {r["district_id"]: r["count"] for r in results["per_district"]} == {
        world.a.district.pk: 2, world.b.district.pk: 1}
    assert {r["name"]: r["count"] for r in results["per_institution"]} == {
        world.a.institution.name: 2, world.b.institution.name: 1}
    sample = {s["subject"]: s for s in results["sample"]}
    assert sample["one"]["exists"] and not sample["two"]["exists"]
    assert sample["three"]["summary_en"] == "Test anomaly three"
    assert Warning.objects.count() == 1 and Warning.objects.get().seen_count == 1
    assert routed == [[Warning.objects.get().pk]]
    engine.execute_run(run.pk)  # idempotent: a finished run is left alone
    # refusals
    with pytest.raises(BusinessRuleError) as err:
        services.run_backtest(admin, "TEST_FIXED", params={"threshold": 99},
                              window_start=timezone.now(),
                              window_end=timezone.now() - WEEK)
    assert set(_problems(err)) == {("threshold", "parameter_above_maximum"),
                                   ("window_end", "window_order")}


def test_a_manual_run_is_a_job_and_raises_warnings(world, test_rules, routed):
    Fixed.findings = [fixed_finding(world.a)]
    run = services.request_run(world.users["city_admin"], "TEST_FIXED", **_window())
    assert ProcrastinateJob.objects.filter(task_name="supervision.process_run").exists()
    engine.execute_run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.mode, run.new_warnings) == ("ok", "manual", 1)
    assert run.requested_by == world.users["city_admin"]


def test_sweep_windows_and_due_periods():
    monday = dt.date(2026, 6, 1)  # a Monday and the 1st
    assert engine.periods_due(monday) == ["daily", "weekly", "monthly"]
    assert engine.periods_due(dt.date(2027, 1, 1)) == ["daily", "monthly", "yearly"]
    assert engine.periods_due(dt.date(2026, 6, 3)) == ["daily"]
    local = timezone.localtime
    start, end = engine.sweep_window("daily", dt.date(2026, 6, 3))
    assert (local(start).isoformat(), local(end).isoformat()) == (
        "2026-06-02T00:00:00+08:00", "2026-06-03T00:00:00+08:00")
    start, end = engine.sweep_window("weekly", dt.date(2026, 6, 3))
    assert (local(start).date(), local(end).date()) == (dt.date(2026, 5, 25), monday)
    start, end = engine.sweep_window("monthly", dt.date(2026, 6, 15))
    assert (local(start).date(), local(end).date()) == (dt.date(2026, 5, 1), monday)
    start, end = engine.sweep_window("yearly", dt.date(2026, 6, 15))
    assert (local(start).date(), local(end).date()) == (dt.date(2025, 1, 1),
                                                        dt.date(2026, 1, 1))


def test_a_sweep_runs_the_rules_of_its_period_and_real_time_rules_daily(world, test_rules,
                                                                         routed):
    today = timezone.localdate()
    Fixed.findings = [fixed_finding(world.a, when=engine.sweep_window("weekly", today)[0]
                                    + dt.timedelta(hours=5))]
    weekly = engine.run_sweep("weekly", today)
    assert [r.rule.code for r in weekly] == ["TEST_FIXED"] and weekly[0].new_warnings == 1
    assert weekly[0].mode == "sweep"
    daily = engine.run_sweep("daily", today)
    assert sorted(r.rule.code for r in daily) == ["TEST_BUSY_SESSION", "TEST_EXPLODES"]
    services.change_rule(world.users["city_admin"], "TEST_BUSY_SESSION", period="realtime",
                         comment="real time")
    services.change_rule(world.users["city_admin"], "TEST_EXPLODES", period="monthly",
                         comment="monthly")
    daily = engine.run_sweep("daily", today)
    assert [r.rule.code for r in daily] == ["TEST_BUSY_SESSION"]


def test_the_scheduler_defers_the_sweeps_due(test_rules):
    from skillguard.supervision.tasks import schedule_sweeps

    # 2026-06-01 01:00 Asia/Shanghai = 2026-05-31 17:00 UTC, a Monday and the 1st locally
    at = dt.datetime(2026, 5, 31, 17, 0, tzinfo=dt.UTC).timestamp()
    assert schedule_sweeps(int(at)) == ["daily", "weekly", "monthly"]
    jobs = ProcrastinateJob.objects.filter(task_name="supervision.sweep").order_by("id")
    assert [j.args for j in jobs] == [{"period": p, "day": "2026-06-01"}
                                      for p in ("daily", "weekly", "monthly")]
    schedule_sweeps(int(at))  # a sweep still queued is not queued twice
    assert jobs.count() == 3


def test_real_time_path_from_ingest_to_a_visible_warning(world, test_rules, login):
    """A check-in pushed through the docking pipeline, then the evidence job: a warning
    of the (test) rule is visible to the district, not to the other one."""
    from skillguard.attendance.services import process_pending
    from skillguard.ingest.tests.test_pipeline import client_of, session_of, submit

    session = session_of(world.a)
    start = timezone.localtime(session.starts_at)
    records = [{"external_id": f"rt-{k}", "class_code": world.a.approved_class.code,
                "session_sequence": session.sequence,
                "trainee_id_number": _id_number(world, k), "kind": "in", "method": "face",
                "occurred_at": (start + dt.timedelta(minutes=k)).isoformat(),
                "device_id": "dev-1"} for k in range(3)]
    _ref, outcome = submit(client_of(world.a), "checkin", records)
    assert outcome.accepted == 3, outcome.results
    assert not Warning.objects.exists()
    process_pending()  # what the attendance.process_pending_evidence job runs
    warning = Warning.objects.get(rule__code="TEST_BUSY_SESSION")
    assert warning.subject == f"session:{session.pk}"
    assert warning.district == world.a.district and warning.details == {"checkins": 3}
    run = RuleRun.objects.get(rule__code="TEST_BUSY_SESSION")
    assert run.mode == "realtime" and run.status == "ok"
    assert RuleRun.objects.get(rule__code="TEST_EXPLODES").status == "failed"
    page = login(world.a.users["district_supervisor"]).get("/supervision/warnings/")
    assert f"/supervision/warnings/{warning.pk}/" in page.content.decode()
    other = login(world.b.users["district_supervisor"]).get("/supervision/warnings/")
    assert f"/supervision/warnings/{warning.pk}/" not in other.content.decode()
    # the same evidence again (a second job) does not raise a second warning
    engine.run_realtime(triggers={"checkin"}, session_ids=[session.pk])
    assert Warning.objects.get(rule__code="TEST_BUSY_SESSION").seen_count == 2


def _id_number(world, k):
    from skillguard.ingest.tests.batch_helpers import trainee_ids

    return trainee_ids(world)[k]


def test_real_time_window_is_the_touched_sessions_days(world):
    session = world.a.approved_class.sessions.get(sequence=1)
    later = session.ends_at + dt.timedelta(days=40)  # late evidence of an old session
    start, end = engine._realtime_window([session.pk], later)
    assert (start, end) == (session.starts_at - dt.timedelta(days=1),
                            session.ends_at + dt.timedelta(days=1))
    start, end = engine._realtime_window([], later)  # no session: the last day
    assert (start, end) == (later - dt.timedelta(days=1), later + dt.timedelta(hours=1))

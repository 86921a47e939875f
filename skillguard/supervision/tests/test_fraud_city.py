"""The synthetic fraud city (issue 4, item 6): every rule silent on the clean demo city and
raising exactly its injected, labelled anomalies once the fraud is in — recall and
precision per rule printed (``pytest -s``) and asserted.

One small city is built for the module inside a transaction rolled back at the end."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.db import connection, transaction
from django.utils import timezone, translation

from skillguard.supervision.rules.base import RULES, RuleContext

# every test also takes the function-level ``db`` fixture: pytest-django creates the test
# database only when some collected test asks for it
pytestmark = pytest.mark.django_db

SCALE, SEED = 0.03, 4711
WINDOW = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


def detect_all(**ids) -> dict[str, list]:
    """Every registered rule's findings over the whole window, with its default params."""
    out = {}
    for code, cls in sorted(RULES.items()):
        rule = cls()
        ctx = RuleContext(params=rule.defaults(), window_start=WINDOW[0],
                          window_end=WINDOW[1], now=timezone.now(), **ids)
        out[code] = list(rule.detect(ctx))
    return out


def detect(code: str, **ids) -> list:
    rule = RULES[code]()
    return list(rule.detect(RuleContext(params=rule.defaults(), window_start=WINDOW[0],
                                        window_end=WINDOW[1], now=timezone.now(), **ids)))


def _scalar(sql: str):
    with connection.cursor() as c:
        c.execute(sql)
        return c.fetchone()


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from skillguard.demo.attendance import generate_checkins
    from skillguard.demo.fraud import inject_fraud
    from skillguard.demo.generator import build_city
    from skillguard.demo.tests.conftest import ensure_districts

    with django_db_blocker.unblock():
        with transaction.atomic():
            ensure_districts()
            build_city(scale=SCALE, seed=SEED, today=timezone.localdate())
            checkins = generate_checkins(seed=SEED)
            facts = {
                "checkins": checkins,
                "held_pairs": _scalar("""
                    SELECT count(*) FROM registry_session s
                    JOIN registry_trainingclass c ON c.id = s.training_class_id
                    JOIN registry_enrolment e ON e.training_class_id = c.id
                    WHERE c.status IN ('in_progress', 'finished') AND c.mode <> 'online'
                      AND s.ends_at <= now()""")[0],
                "present_pairs": _scalar("SELECT count(DISTINCT (enrolment_id, session_id)) "
                                         "FROM attendance_checkin WHERE kind = 'in'")[0],
                "methods": _scalar("SELECT array_agg(DISTINCT method) FROM attendance_checkin")[0],
                "devices_shared": _scalar("""
                    SELECT count(*) FROM (SELECT device_id FROM attendance_checkin
                    GROUP BY device_id HAVING count(DISTINCT trainee_id) > 1) x""")[0],
                "late_receipts": _scalar("SELECT count(*) FROM attendance_checkin "
                                         "WHERE received_at < occurred_at")[0],
                "clean_sources": _scalar("""
                    SELECT bool_and(source_client_id IS NULL AND external_id LIKE 'demo-%%')
                    FROM attendance_checkin""")[0],
            }
            clean = detect_all()
            labels = inject_fraud(seed=SEED)
            fraud = detect_all()
            yield {"facts": facts, "clean": clean, "labels": labels, "fraud": fraud}
            transaction.set_rollback(True)


def test_clean_evidence_is_believable(city):
    facts = city["facts"]
    assert facts["checkins"] > 1000
    assert facts["clean_sources"] is True
    rate = facts["present_pairs"] / facts["held_pairs"]
    assert 0.75 < rate < 0.97, rate  # absences, but most trainees come
    assert set(facts["methods"]) == {"face", "qr", "gps", "card"}
    assert facts["devices_shared"] == 0  # one phone per trainee
    assert facts["late_receipts"] == 0  # received after it happened, never before


def test_clean_city_raises_nothing(city):
    noisy = {code: [f.subject for f in found][:5]
             for code, found in city["clean"].items() if found}
    assert noisy == {}


def test_every_rule_that_can_fire_is_injected(city):
    firing = {code for code, cls in RULES.items() if not cls.awaits_source}
    # the city has no camera streams: CAMERA_OFFLINE_DURING_SESSION fires on video coverage,
    # tested with real streams in skillguard/video/tests/test_recorder.py
    assert {code for code, _subject in city["labels"]} == firing - {
        "CAMERA_OFFLINE_DURING_SESSION"}
    placeholders = {code for code, cls in RULES.items() if cls.awaits_source}
    assert {"HEADCOUNT_BELOW_ATTENDANCE", "ONLINE_NO_HEARTBEAT"} <= placeholders


def test_each_rule_raises_exactly_its_injected_anomalies(city):
    expected = defaultdict(set)
    for code, subject in city["labels"]:
        expected[code].add(subject)
    header = f"{'rule':<32}{'expected':>9}{'found':>7}{'hits':>6}{'precision':>11}{'recall':>8}"
    lines = [header]
    mismatches = {}
    for code in sorted(RULES):
        found = {f.subject for f in city["fraud"][code]}
        want = expected.get(code, set())
        hits = len(found & want)
        precision = hits / len(found) if found else 1.0
        recall = hits / len(want) if want else 1.0
        lines.append(f"{code:<32}{len(want):>9}{len(found):>7}{hits:>6}{precision:>11.2f}"
                     f"{recall:>8.2f}")
        if found != want:
            mismatches[code] = {"missed": sorted(want - found), "extra": sorted(found - want)}
    print("\nSynthetic fraud city: findings per rule\n" + "\n".join(lines))
    assert mismatches == {}


def test_findings_are_well_formed_and_stable(city):
    for code, found in city["fraud"].items():
        subjects = [f.subject for f in found]
        assert len(subjects) == len(set(subjects)), code
        for f in found:
            assert isinstance(f.district_id, int), code
            assert f.occurred_at.tzinfo is not None, code
            for lang in ("en", "zh-hans"):
                with translation.override(lang):
                    assert str(f.summary) and "%(" not in str(f.summary), code
            assert all(isinstance(e, int) and isinstance(s, int) for e, s in f.affected_hours)
    again = detect_all()
    assert {c: [f.subject for f in v] for c, v in again.items()} == {
        c: [f.subject for f in v] for c, v in city["fraud"].items()}


def test_confirmed_fraud_excludes_real_hours(city):
    """The affected hours of attendance findings are real (enrolment, session) pairs of the
    same class."""
    pairs = {p for code in ("TRAINEE_OVERLAP", "CHECKIN_OUTSIDE_GEOFENCE",
                            "PROXY_CHECKIN_BURST", "UNIFORM_FULL_ATTENDANCE")
             for f in city["fraud"][code] for p in f.affected_hours}
    assert pairs
    with connection.cursor() as c:
        c.execute("""SELECT count(*) FROM unnest(%s::bigint[], %s::bigint[]) p(e, s)
                     JOIN registry_enrolment e ON e.id = p.e
                     JOIN registry_session s ON s.id = p.s
                          AND s.training_class_id = e.training_class_id""",
                  [[e for e, _s in pairs], [s for _e, s in pairs]])
        assert c.fetchone()[0] == len(pairs)


def _anchors(finding):
    sessions = {s for _e, s in finding.affected_hours}
    sessions |= {int(v) for k, v in finding.evidence if k == "session"}
    trainees = {int(v) for k, v in finding.evidence if k == "trainee"}
    return sessions, trainees


def test_incremental_runs_only_report_what_the_ids_touch(city):
    """An incremental run (ids of new evidence) reports the anomalies involving those ids
    and nothing else; ids that touch nothing give nothing."""
    checked = 0
    for code, found in city["fraud"].items():
        if not found:
            continue
        nothing = frozenset({-1})
        assert detect(code, session_ids=nothing, trainee_ids=nothing,
                      institution_ids=nothing) == [], code
        for f in found:
            sessions, trainees = _anchors(f)
            if f.institution_id:
                got = {x.subject for x in detect(code, institution_ids=frozenset({f.institution_id}))}
                assert f.subject in got, code
            if sessions and code not in ("VOLUME_SPIKE", "PERFECT_PASS_RATE"):
                got = detect(code, session_ids=frozenset(sessions))
                assert f.subject in {x.subject for x in got}, code
                # everything reported involves one of the sessions
                for x in got:
                    touched = {s for _e, s in x.affected_hours} | {
                        int(v) for k, v in x.evidence if k == "session"}
                    assert touched & sessions, (code, x.subject)
                checked += 1
            if trainees:
                got = {x.subject for x in detect(code, trainee_ids=frozenset(trainees))}
                assert f.subject in got, code
    assert checked >= 8


def test_engine_turns_the_fraud_city_into_one_warning_per_label(city):
    from skillguard.supervision.engine import run_rules
    from skillguard.supervision.models import RunMode, Warning

    with transaction.atomic():
        runs = run_rules(RunMode.MANUAL, window_start=WINDOW[0], window_end=WINDOW[1])
        failed = {r.rule.code: r.error for r in runs if r.status != "ok"}
        assert failed == {}
        warnings = set(Warning.objects.values_list("rule__code", "subject"))
        again = run_rules(RunMode.MANUAL, window_start=WINDOW[0], window_end=WINDOW[1])
        assert sum(r.new_warnings for r in again) == 0  # the same anomalies: no new warnings
        transaction.set_rollback(True)
    assert warnings == set(city["labels"])

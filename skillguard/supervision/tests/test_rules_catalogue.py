"""The rule catalogue's definitions, family by family: complete and bilingual metadata,
parameters refused out of range or inconsistent (with reasons naming them), defaults
valid, placeholders silent. No database needed."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillguard.supervision.rules.base import (
    RULES,
    Period,
    RuleContext,
    RuleLevel,
    Severity,
)

REQUIRED = {
    "TRAINEE_OVERLAP", "TEACHER_DOUBLE_BOOKED", "ROOM_DOUBLE_BOOKED",
    "CHECKIN_OUTSIDE_GEOFENCE", "CHECKIN_OUTSIDE_WINDOW", "PROXY_CHECKIN_BURST",
    "SHARED_DEVICE", "UNIFORM_FULL_ATTENDANCE", "INELIGIBLE_CATEGORY", "EXCESS_SUBSIDY",
    "UNQUALIFIED_TEACHER", "UNFILED_OCCUPATION", "VOLUME_SPIKE", "PERFECT_PASS_RATE",
    "CLOCK_SKEW", "ONLINE_CONCURRENT_SESSIONS", "ONLINE_EXCESSIVE_DAILY_HOURS",
    "CAMERA_OFFLINE_DURING_SESSION", "HEADCOUNT_BELOW_ATTENDANCE", "ONLINE_NO_HEARTBEAT",
}
FAMILIES = {
    "schedule": {"TRAINEE_OVERLAP", "TEACHER_DOUBLE_BOOKED", "ROOM_DOUBLE_BOOKED"},
    "checkins": {"CHECKIN_OUTSIDE_GEOFENCE", "CHECKIN_OUTSIDE_WINDOW", "PROXY_CHECKIN_BURST",
                 "SHARED_DEVICE", "UNIFORM_FULL_ATTENDANCE", "CLOCK_SKEW"},
    "registry_rules": {"INELIGIBLE_CATEGORY", "UNQUALIFIED_TEACHER", "UNFILED_OCCUPATION"},
    "subsidy": {"EXCESS_SUBSIDY"},
    "volume": {"VOLUME_SPIKE", "PERFECT_PASS_RATE"},
    "online": {"ONLINE_CONCURRENT_SESSIONS", "ONLINE_EXCESSIVE_DAILY_HOURS",
               "ONLINE_NO_HEARTBEAT"},
    "video": {"CAMERA_OFFLINE_DURING_SESSION", "HEADCOUNT_BELOW_ATTENDANCE"},
}
NUMERIC = [(code, name) for code, cls in sorted(RULES.items())
           for name, p in cls.params.items() if p.kind in ("int", "float")]


def codes(problems):
    return sorted((p.field, p.code) for p in problems)


def test_the_catalogue_covers_the_brief():
    assert REQUIRED <= set(RULES)
    for family, members in FAMILIES.items():
        assert {RULES[c].__module__.rsplit(".", 1)[1] for c in members} == {family}


@pytest.mark.parametrize("code", sorted(RULES))
def test_definition_is_complete(code):
    rule = RULES[code]()
    assert rule.code == code and code.isupper()
    assert str(rule.name) and len(str(rule.description)) > 40
    assert rule.severity in Severity.values
    assert rule.level in RuleLevel.values
    assert rule.period in Period.values
    if rule.period == Period.REALTIME:
        assert rule.triggers, "a real-time rule needs triggers"
    for name, param in rule.params.items():
        assert str(param.label), name
        if param.kind in ("int", "float"):
            assert param.minimum is not None and param.maximum is not None, name
            assert param.minimum <= param.default <= param.maximum, name
            assert param.unit, name
    clean, problems = rule.check_params(rule.defaults())
    assert problems == [] and clean == rule.defaults()


@pytest.mark.parametrize("code", sorted(c for c, cls in RULES.items() if cls.awaits_source))
def test_placeholders_say_so_and_find_nothing(code):
    rule = RULES[code]()
    assert rule.awaits_source in ("video", "online")
    assert "placeholder" in str(rule.description).lower()
    now = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert list(rule.detect(RuleContext(params=rule.defaults(), window_start=now,
                                        window_end=now, now=now))) == []


@pytest.mark.parametrize("code,name", NUMERIC)
def test_out_of_range_values_are_refused(code, name):
    rule = RULES[code]()
    param = rule.params[name]
    below = dict(rule.defaults(), **{name: param.minimum - 1})
    above = dict(rule.defaults(), **{name: param.maximum + 1})
    assert (name, "parameter_below_minimum") in codes(rule.check_params(below)[1])
    assert (name, "parameter_above_maximum") in codes(rule.check_params(above)[1])
    junk = dict(rule.defaults(), **{name: "many"})
    assert codes(rule.check_params(junk)[1]) == [(name, "parameter_invalid")]
    problem = rule.check_params(above)[1][0]
    assert str(problem.label) == str(param.label)  # the reason names the parameter


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_value_in_range_is_accepted(data):
    code, name = data.draw(st.sampled_from(NUMERIC))
    rule = RULES[code]()
    param = rule.params[name]
    if param.kind == "int":
        value = data.draw(st.integers(int(param.minimum), int(param.maximum)))
    else:
        value = data.draw(st.floats(param.minimum, param.maximum, allow_nan=False))
    values = dict(rule.defaults(), **{name: value})
    clean, problems = rule.check_params(values)
    problems = [p for p in problems if p.code != "parameter_inconsistent"]
    assert problems == []
    assert clean[name] == value


def test_unknown_and_missing_parameters_are_refused():
    rule = RULES["PROXY_CHECKIN_BURST"]()
    values = dict(rule.defaults(), burst_size=3)
    del values["seconds"]
    assert codes(rule.check_params(values)[1]) == [("burst_size", "parameter_unknown"),
                                                  ("seconds", "parameter_missing")]


def test_inconsistent_subsidy_limits_are_refused():
    rule = RULES["EXCESS_SUBSIDY"]()
    values = dict(rule.defaults(), max_per_year=2, max_same_type_per_year=3)
    _clean, problems = rule.check_params(values)
    assert codes(problems) == [("max_same_type_per_year", "parameter_inconsistent")]
    assert "2" in str(problems[0].message)
    assert rule.check_params(dict(values, max_same_type_per_year=2))[1] == []


def test_bool_parameters_accept_form_values():
    rule = RULES["SHARED_DEVICE"]()
    clean, problems = rule.check_params(dict(rule.defaults(), check_ip="off"))
    assert problems == [] and clean["check_ip"] is False
    assert codes(rule.check_params(dict(rule.defaults(), check_ip="perhaps"))[1]) == [
        ("check_ip", "parameter_invalid")]

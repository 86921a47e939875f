"""Properties of the sweep calendar and of parameter validation (Hypothesis)."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from skillguard.supervision import engine
from skillguard.supervision.tests.helpers import BusySession

days = st.dates(min_value=dt.date(2000, 1, 2), max_value=dt.date(2090, 12, 31))


@given(days)
def test_every_sweep_covers_the_complete_period_before_its_day(day):
    local = timezone.localtime
    for period in ("daily", "weekly", "monthly", "yearly"):
        start, end = engine.sweep_window(period, day)
        s, e = local(start), local(end)
        assert s.time() == e.time() == dt.time(0) and s < e <= local(
            timezone.make_aware(dt.datetime.combine(day, dt.time())))
        if period == "daily":
            assert e.date() == day and (e.date() - s.date()).days == 1
        if period == "weekly":
            assert s.weekday() == e.weekday() == 0 and (e.date() - s.date()).days == 7
            assert 0 <= (day - e.date()).days < 7
        if period == "monthly":
            assert s.day == e.day == 1 and e.date() == day.replace(day=1)
            assert 28 <= (e.date() - s.date()).days <= 31
        if period == "yearly":
            assert (s.month, s.day, s.year + 1) == (1, 1, e.year) and e.year == day.year
    # the sweep that starts on a day covers exactly up to it: nothing falls between two
    # consecutive daily sweeps
    assert engine.sweep_window("daily", day)[0] == engine.sweep_window(
        "daily", day - dt.timedelta(days=1))[1]
    assert "daily" in engine.periods_due(day)
    assert ("weekly" in engine.periods_due(day)) == (day.weekday() == 0)


@given(st.integers(min_value=-50, max_value=20_000), st.integers(min_value=-50,
                                                                  max_value=200_000))
def test_parameters_are_accepted_exactly_when_in_range_and_consistent(low, high):
    rule = BusySession()
    clean, problems = rule.check_params({"min_checkins": low, "max_checkins": high})
    ok = 1 <= low <= 10_000 and 1 <= high <= 100_000 and low <= high
    assert (not problems) == ok
    if ok:
        assert clean == {"min_checkins": low, "max_checkins": high}
    for p in problems:
        assert p.field in ("min_checkins", "max_checkins") and p.as_dict()["message_zh"]

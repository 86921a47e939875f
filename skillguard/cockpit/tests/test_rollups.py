"""The rollups equal the same aggregates computed directly over the facts; the incremental
refresh picks up what changed."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from skillguard.cockpit import rollups
from skillguard.cockpit.models import DailyTraining, RollupState

pytestmark = pytest.mark.django_db
TZ = "Asia/Shanghai"


def one(sql, params=None):
    with connection.cursor() as c:
        c.execute(sql, params or [])
        return c.fetchone()


def test_full_refresh_equals_direct_sql(city):
    rollups.refresh(full=True)
    t = one("""SELECT sum(sessions_scheduled), sum(checkins), sum(valid_hours),
                      sum(scheduled_hours), sum(enrolments), sum(attendances)
               FROM cockpit_dailytraining""")
    direct = (one("SELECT count(*) FROM registry_session")[0],
              one("SELECT count(*) FROM attendance_checkin WHERE kind = 'in' "
                  "AND NOT superseded")[0],
              one("SELECT coalesce(sum(valid_hours), 0) FROM attendance_sessionattendance")[0],
              one("SELECT coalesce(sum(scheduled_hours), 0) "
                  "FROM attendance_sessionattendance")[0],
              one("SELECT count(*) FROM registry_enrolment")[0],
              one("SELECT count(*) FROM attendance_sessionattendance")[0])
    assert t[1] > 0 and t[2] > 0, "the demo city has check-ins and valid hours"
    assert tuple(x or 0 for x in t) == direct
    # per district and day: classes running equals the distinct classes with a session
    rows = one(f"""
        SELECT count(*) FROM (
          SELECT (starts_at AT TIME ZONE '{TZ}')::date d, district_id,
                 count(DISTINCT training_class_id) n
          FROM registry_session GROUP BY 1, 2) s
        FULL JOIN (SELECT day, district_id, sum(classes_running) n
                   FROM cockpit_dailytraining GROUP BY 1, 2 HAVING sum(classes_running) > 0) r
          ON r.day = s.d AND r.district_id = s.district_id
        WHERE s.n IS DISTINCT FROM r.n""")
    assert rows[0] == 0
    w = one("SELECT sum(warnings) FROM cockpit_warningdaily")[0]
    assert w == one("SELECT count(*) FROM supervision_warning")[0] and w > 0
    states = {s.name for s in RollupState.objects.all()}
    assert states == set(rollups.ROLLUPS)
    assert all(s.refreshed_at for s in RollupState.objects.all())
    # running it again changes nothing
    before = list(DailyTraining.objects.order_by("pk").values_list(
        "day", "district_id", "institution_id", "occupation_id", "level", "category",
        "checkins", "valid_hours"))
    rollups.refresh()
    after = list(DailyTraining.objects.order_by("pk").values_list(
        "day", "district_id", "institution_id", "occupation_id", "level", "category",
        "checkins", "valid_hours"))
    assert sorted(before) == sorted(after)


def test_month_split_covers_the_range_once():
    from skillguard.cockpit.figures import month_split

    assert month_split(dt.date(2026, 1, 1), dt.date(2026, 1, 31)) == (
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1)), [])
    assert month_split(dt.date(2026, 1, 15), dt.date(2026, 1, 20)) == (
        None, [(dt.date(2026, 1, 15), dt.date(2026, 1, 20))])
    assert month_split(dt.date(2026, 1, 15), dt.date(2026, 4, 10)) == (
        (dt.date(2026, 2, 1), dt.date(2026, 3, 1)),
        [(dt.date(2026, 1, 15), dt.date(2026, 1, 31)), (dt.date(2026, 4, 1),
                                                          dt.date(2026, 4, 10))])


def test_long_period_figures_equal_the_facts(city):
    """Whole months come from the monthly rollup, the edges from the daily one: the sums
    still equal the facts, for the city and for one district, and the monthly trend adds
    up to the total."""
    from skillguard.accounts.models import User
    from skillguard.cockpit import figures

    rollups.refresh(full=True)
    first, last = one(f"""SELECT min((starts_at AT TIME ZONE '{TZ}')::date) + 3,
                                max((starts_at AT TIME ZONE '{TZ}')::date) - 3
                         FROM registry_session""")
    district = one("SELECT district_id FROM registry_session GROUP BY 1 ORDER BY count(*) DESC "
                   "LIMIT 1")[0]
    admin = User.objects.create_user("cockpit_rollup_admin", password="x", role="city_admin")
    for scope, where in ((figures.resolve_scope(admin), ""),
                         (figures.resolve_scope(admin, district_id=district),
                          f"AND district_id = {district}")):
        f = figures.key_figures(scope, first, last)
        p = [first, last]
        sessions = one(f"""SELECT count(*) FROM registry_session
            WHERE (starts_at AT TIME ZONE '{TZ}')::date BETWEEN %s AND %s {where}""", p)[0]
        checkins = one(f"""SELECT count(*) FROM attendance_checkin
            WHERE (occurred_at AT TIME ZONE '{TZ}')::date BETWEEN %s AND %s
              AND kind = 'in' AND NOT superseded {where}""", p)[0]
        valid, scheduled = one(f"""SELECT sum(valid_hours), sum(scheduled_hours)
            FROM attendance_sessionattendance
            WHERE (starts_at AT TIME ZONE '{TZ}')::date BETWEEN %s AND %s {where}""", p)
        assert (f["sessions"].value, f["checkins"].value, f["valid_hours"].value) == (
            sessions, checkins, valid)
        assert f["attendance_rate"].value == (valid * 100 / scheduled).quantize(
            Decimal("0.1"))
        trend = figures.trend(scope, "sessions", "month", first, last)
        assert sum(pt["value"] for pt in trend) == sessions
        daily = figures.trend(scope, "checkins", "day", first, last)
        assert sum(pt["value"] for pt in daily) == checkins
        by = figures.breakdown(scope, "valid_hours", "occupation", first, last)
        assert sum(Decimal(str(r["value"])) for r in by) == valid

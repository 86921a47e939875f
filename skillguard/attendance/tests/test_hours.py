"""Learning hours from evidence: the set-based computation and its rules."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from skillguard.attendance import hours
from skillguard.attendance.models import EnrolmentHours, SessionAttendance
from skillguard.attendance.testing import Evidence, attend, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of, past_class

pytestmark = pytest.mark.django_db


def session_of(world):
    return world.a.approved_class.sessions.get(sequence=1)  # 09:00–12:00, five days ago


def row(enrolment, session) -> SessionAttendance:
    return SessionAttendance.objects.get(enrolment_id=enrolment.pk, session_id=session.pk)


def test_full_attendance_counts_the_scheduled_class_hours(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    write_evidence(attend(e, s, late_min=-10, early_leave_min=-5))
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert (r.attended_minutes, r.valid_hours, r.status, r.flags) == (180, 4, "present", [])
    assert r.evidence_count == 2
    # classmates without evidence are absent, not missing
    other = row(enrolment_of(world.a.approved_class, world.a.trainees[1]), s)
    assert (other.valid_hours, other.status, other.evidence_count) == (0, "absent", 0)
    totals = EnrolmentHours.objects.get(enrolment_id=e.pk)
    assert (totals.scheduled_hours, totals.valid_hours, totals.attendance_rate) == (
        4, 4, Decimal("1.0000"))
    assert totals.completion == "pending"  # the class runs for another 25 days


def test_partial_attendance_uses_the_grace_and_the_45_minute_hour(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    # 09:50 – 11:15: 85 minutes, + 5 grace = 90 → 2 class hours
    write_evidence(attend(e, s, late_min=50, early_leave_min=45))
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert (r.attended_minutes, r.valid_hours, r.status) == (85, 2, "partial")


def test_duplicate_evidence_counts_once(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    write_evidence(attend(e, s, late_min=0, early_leave_min=60))
    hours.recompute_sessions([s.pk])
    before = row(e, s).valid_hours
    write_evidence(attend(e, s, late_min=0, early_leave_min=60))  # the same, sent again
    hours.recompute_sessions([s.pk])
    after = row(e, s)
    assert before == after.valid_hours == 2 and after.evidence_count == 4


def test_late_evidence_recomputes_what_it_affects(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    write_evidence([Evidence(e, s, "in", s.starts_at)])
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert (r.valid_hours, r.flags) == (0, ["missing_checkout"])
    write_evidence([Evidence(e, s, "out", s.ends_at)])  # the check-out arrives a day late
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert (r.valid_hours, r.flags, r.status) == (4, [], "present")
    assert EnrolmentHours.objects.get(enrolment_id=e.pk).valid_hours == 4


def test_clock_skewed_evidence_is_flagged_and_not_counted(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    items = attend(e, s)
    items[1].received_at = s.ends_at - dt.timedelta(minutes=10)  # stamped 10 min in the future
    write_evidence(items)
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert r.valid_hours == 0
    assert "clock_skew" in r.flags and "missing_checkout" in r.flags


def test_out_of_geofence_evidence_is_flagged_and_not_counted(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    # venue at 31.2, 121.4 with a 200 m fence; 0.01° of latitude is about 1.1 km
    far = attend(e, s, latitude="31.210000", longitude="121.400000", method="gps")
    write_evidence(far)
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert (r.valid_hours, r.flags) == (0, ["outside_geofence"])
    near = attend(e, s, latitude="31.200500", longitude="121.400000", method="gps")  # 55 m
    write_evidence(near)
    hours.recompute_sessions([s.pk])
    assert row(e, s).valid_hours == 4


def test_evidence_outside_the_window_is_not_counted(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    write_evidence([Evidence(e, s, "in", s.starts_at - dt.timedelta(minutes=45)),
                    Evidence(e, s, "out", s.ends_at + dt.timedelta(minutes=30))])
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert r.valid_hours == 0 and "outside_window" in r.flags
    write_evidence([Evidence(e, s, "in", s.starts_at - dt.timedelta(minutes=20))])
    hours.recompute_sessions([s.pk])
    r = row(e, s)
    assert (r.attended_minutes, r.valid_hours) == (180, 4)  # minutes count from the start


def test_superseded_evidence_is_ignored(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    write_evidence(attend(e, s, superseded=True))
    hours.recompute_sessions([s.pk])
    assert row(e, s).valid_hours == 0


def test_completion_on_a_finished_class(world):
    start = timezone.localdate() - dt.timedelta(days=20)
    cls = past_class(world.a, world.course, start=start, days=3, planned_hours=12)
    sessions = list(cls.sessions.order_by("sequence"))
    good = enrolment_of(cls, world.a.trainees[0])
    weak = enrolment_of(cls, world.a.trainees[1])
    items = []
    for s in sessions:
        items += attend(good, s)
    items += attend(weak, sessions[0])
    write_evidence(items)
    hours.recompute_sessions([s.pk for s in sessions])
    g = EnrolmentHours.objects.get(enrolment_id=good.pk)
    w = EnrolmentHours.objects.get(enrolment_id=weak.pk)
    assert (g.valid_hours, g.scheduled_hours, g.sessions_attended, g.sessions_held) == (
        12, 12, 3, 3)
    assert g.completion == "qualifies" and g.required_hours == Decimal("9.60")
    assert (w.valid_hours, w.completion) == (4, "not_qualified")
    assert w.attendance_rate == Decimal("0.3333")


def test_future_sessions_have_no_rows_and_moved_sessions_lose_theirs(world):
    s = session_of(world)
    draft_session = world.a.draft_class.sessions.get()
    hours.recompute_sessions([s.pk, draft_session.pk])
    assert SessionAttendance.objects.filter(session_id=draft_session.pk).count() == 0
    assert SessionAttendance.objects.filter(session_id=s.pk).count() == 3
    type(s).objects.filter(pk=s.pk).update(starts_at=s.starts_at + dt.timedelta(days=60),
                                          ends_at=s.ends_at + dt.timedelta(days=60))
    hours.recompute_sessions([s.pk])
    assert SessionAttendance.objects.filter(session_id=s.pk).count() == 0


def test_explanation_rows_say_why_evidence_did_not_count(world):
    s = session_of(world)
    e = enrolment_of(world.a.approved_class, world.a.trainees[0])
    write_evidence([Evidence(e, s, "in", s.starts_at, latitude="31.210000",
                             longitude="121.400000", method="gps"),
                    Evidence(e, s, "out", s.ends_at)])
    rows = hours.evidence_rows([e.pk])
    assert [r["kind"] for r in rows] == ["in", "out"]
    assert rows[0]["not_counted"] == ["outside_geofence"] and 1000 < rows[0]["distance_m"] < 1200
    assert rows[1]["counts"] and rows[1]["distance_m"] is None


def test_a_whole_session_earns_its_fractional_class_hours(world):
    start = timezone.localdate() - dt.timedelta(days=20)
    cls = past_class(world.a, world.course, start=start, days=1, planned_hours=3,
                     hours=(9, 11), name="短课")  # 09:00–11:00: 120 min = 2.67 class hours
    s = cls.sessions.get()
    full, early = (enrolment_of(cls, t) for t in world.a.trainees[:2])
    write_evidence(attend(full, s, early_leave_min=3) + attend(early, s, early_leave_min=10))
    hours.recompute_sessions([s.pk])
    assert (row(full, s).valid_hours, row(full, s).status) == (Decimal("2.67"), "present")
    # 110 minutes + 5 grace = 2 whole class hours: no fraction without the whole session
    assert (row(early, s).valid_hours, row(early, s).status) == (2, "partial")


def test_online_classes_stay_pending_until_online_hours_exist(world):
    from skillguard.registry.models import TrainingClass

    start = timezone.localdate() - dt.timedelta(days=20)
    cls = past_class(world.a, world.course, start=start, days=1, planned_hours=4)
    TrainingClass.objects.filter(pk=cls.pk).update(mode="online")
    hours.recompute_sessions(cls.sessions.values_list("pk", flat=True))
    e = enrolment_of(cls, world.a.trainees[0])
    assert EnrolmentHours.objects.get(enrolment_id=e.pk).completion == "pending"

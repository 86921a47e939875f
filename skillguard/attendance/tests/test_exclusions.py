"""Confirmed fraud removes hours; a reopened case gives them back (audited, idempotent)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from skillguard.attendance import hours
from skillguard.attendance.models import (
    EnrolmentHours,
    HoursExclusion,
    SessionAttendance,
)
from skillguard.attendance.services import exclude_hours, restore_hours
from skillguard.attendance.testing import attend, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of, past_class
from skillguard.audit.models import AuditEvent
from skillguard.core.errors import BusinessRuleError
from skillguard.subsidies.models import SubsidyVerdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(world):
    start = timezone.localdate() - dt.timedelta(days=30)
    cls = past_class(world.a, world.course, start=start, days=3, planned_hours=12)
    e = enrolment_of(cls, world.a.trainees[0])
    sessions = list(cls.sessions.order_by("sequence"))
    write_evidence([x for s in sessions for x in attend(e, s)])
    hours.recompute_sessions([s.pk for s in sessions])
    from skillguard.subsidies.services import recompute_verdicts
    recompute_verdicts([e.trainee_id])
    return e, sessions


def test_exclusion_removes_hours_and_restore_gives_them_back(world, finished):
    e, sessions = finished
    supervisor = world.users["district_supervisor"]
    totals = EnrolmentHours.objects.get(enrolment_id=e.pk)
    assert (totals.valid_hours, totals.completion) == (12, "qualifies")
    assert SubsidyVerdict.objects.get(enrolment_id=e.pk).verdict == "eligible"

    n = exclude_hours(supervisor, case_id=77, pairs=[(e.pk, sessions[0].pk),
                                                     (e.pk, sessions[1].pk)],
                      reason="proxy check-in confirmed")
    assert n == 2
    row = SessionAttendance.objects.get(enrolment_id=e.pk, session_id=sessions[0].pk)
    assert (row.valid_hours, row.excluded_hours) == (0, 4)
    assert "excluded_by_case" in row.flags
    totals = EnrolmentHours.objects.get(enrolment_id=e.pk)
    assert (totals.valid_hours, totals.excluded_hours, totals.completion) == (
        4, 8, "not_qualified")
    verdict = SubsidyVerdict.objects.get(enrolment_id=e.pk)
    assert verdict.verdict == "not_eligible"
    assert [r["code"] for r in verdict.reasons] == ["completion_not_met"]
    assert AuditEvent.objects.filter(object_type="attendance.hoursexclusion",
                                     action="create").count() == 2

    # idempotent: excluding again changes nothing
    assert exclude_hours(supervisor, case_id=77, pairs=[(e.pk, sessions[0].pk)]) == 0
    assert HoursExclusion.objects.filter(case_id=77).count() == 2

    assert restore_hours(supervisor, case_id=77) == 2
    assert restore_hours(supervisor, case_id=77) == 0
    totals = EnrolmentHours.objects.get(enrolment_id=e.pk)
    assert (totals.valid_hours, totals.excluded_hours, totals.completion) == (12, 0, "qualifies")
    assert SubsidyVerdict.objects.get(enrolment_id=e.pk).verdict == "eligible"
    assert AuditEvent.objects.filter(object_type="attendance.hoursexclusion",
                                     action="update").count() == 2


def test_pairs_must_belong_together(world, finished):
    e, _sessions = finished
    other = world.a.draft_class.sessions.get()
    with pytest.raises(BusinessRuleError) as err:
        exclude_hours(None, case_id=1, pairs=[(e.pk, other.pk)])
    assert err.value.problems[0].code == "unknown_pair"
    assert not HoursExclusion.objects.exists()

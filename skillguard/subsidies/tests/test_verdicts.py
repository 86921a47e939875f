"""Verdicts from the database: hours, category and filing flow into them."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from skillguard.attendance import hours
from skillguard.attendance.testing import attend, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of, past_class
from skillguard.registry.models import InstitutionFiling, Trainee
from skillguard.subsidies.models import SubsidyVerdict
from skillguard.subsidies.services import recompute_verdicts

pytestmark = pytest.mark.django_db


def attend_all(cls, trainees):
    items = []
    for t in trainees:
        e = enrolment_of(cls, t)
        for s in cls.sessions.all():
            items += attend(e, s)
    write_evidence(items)
    return hours.recompute_sessions(cls.sessions.values_list("pk", flat=True))


def verdict(cls, trainee) -> SubsidyVerdict:
    return SubsidyVerdict.objects.get(enrolment_id=enrolment_of(cls, trainee).pk)


def test_verdicts_follow_hours_category_and_filing(world):
    start = timezone.localdate() - dt.timedelta(days=40)
    cls = past_class(world.a, world.course, start=start, days=3, planned_hours=12)
    t0, t1, t2 = world.a.trainees
    Trainee.objects.filter(pk=t1.pk).update(category="retired")
    attend_all(cls, [t0, t1])
    assert recompute_verdicts([t0.pk, t1.pk, t2.pk]) == 9  # every enrolment of the three
    v0 = verdict(cls, t0)
    assert (v0.verdict, v0.year, str(v0.amount)) == ("eligible", cls.end_date.year, "1500.00")
    assert [r["code"] for r in verdict(cls, t1).reasons] == ["category_not_eligible"]
    v2 = verdict(cls, t2)  # no evidence: finished without completion
    assert v2.verdict == "not_eligible" and v2.reasons[0]["code"] == "completion_not_met"
    # the running class of the world is pending for everybody with the same occupation…
    running = verdict(world.a.approved_class, t0)
    assert running.verdict == "not_eligible"  # …and t0 already used this occupation and level
    # The subsidy type counts per calendar year of the class's end: in a year's last weeks
    # the running class (ending 25 days from today) falls in the next year.
    same_year = world.a.approved_class.end_date.year == cls.end_date.year
    assert [r["code"] for r in running.reasons] == (
        ["type_already_used"] if same_year else []) + ["occupation_level_used"]
    assert verdict(world.a.approved_class, t2).verdict == "pending_evidence"

    InstitutionFiling.objects.filter(institution=world.a.institution).update(
        filed_on=cls.start_date + dt.timedelta(days=1))
    recompute_verdicts([t0.pk])
    assert [r["code"] for r in verdict(cls, t0).reasons] == ["course_not_filed"]


def test_recompute_is_idempotent(world):
    t0 = world.a.trainees[0]
    recompute_verdicts([t0.pk])
    first = list(SubsidyVerdict.objects.filter(trainee_id=t0.pk)
                 .values_list("enrolment_id", "verdict", "reasons"))
    recompute_verdicts([t0.pk])
    again = list(SubsidyVerdict.objects.filter(trainee_id=t0.pk)
                 .values_list("enrolment_id", "verdict", "reasons"))
    assert first == again and len(first) == 2

"""Properties of the hours computation over arbitrary evidence (Hypothesis)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillguard.attendance import hours
from skillguard.attendance.models import SessionAttendance
from skillguard.attendance.testing import Evidence, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of

pytestmark = pytest.mark.django_db

# (kind, minutes from the start, device clock ahead of the server, far from the venue)
ITEM = st.tuples(st.sampled_from(["in", "out"]), st.integers(-120, 300), st.booleans(),
                 st.booleans())
EVIDENCE = st.lists(ITEM, max_size=8)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _items(enrolment, session, spec):
    out = []
    for kind, minutes, skewed, far in spec:
        at = session.starts_at + dt.timedelta(minutes=minutes)
        out.append(Evidence(enrolment, session, kind, at,
                            received_at=at - dt.timedelta(minutes=30) if skewed else None,
                            latitude="31.230000" if far else "31.200100",
                            longitude="121.400000", method="gps"))
    return out


def _valid_hours(enrolment, session, spec) -> Decimal:
    """Hours for exactly this evidence; everything is rolled back afterwards."""
    with transaction.atomic():
        write_evidence(_items(enrolment, session, spec))
        hours.recompute_sessions([session.pk])
        value = SessionAttendance.objects.get(enrolment_id=enrolment.pk,
                                              session_id=session.pk).valid_hours
        transaction.set_rollback(True)
    return value


@pytest.fixture
def pair(world):
    session = world.a.approved_class.sessions.get(sequence=1)
    return enrolment_of(world.a.approved_class, world.a.trainees[0]), session


@SETTINGS
@given(spec=EVIDENCE)
def test_valid_hours_never_exceed_the_scheduled_hours(pair, spec):
    enrolment, session = pair
    value = _valid_hours(enrolment, session, spec)
    assert 0 <= value <= Decimal(str(session.class_hours))


@SETTINGS
@given(spec=EVIDENCE, data=st.data())
def test_the_order_of_evidence_is_irrelevant(pair, spec, data):
    enrolment, session = pair
    shuffled = data.draw(st.permutations(spec))
    assert _valid_hours(enrolment, session, spec) == _valid_hours(enrolment, session, shuffled)


@SETTINGS
@given(spec=EVIDENCE, extra=ITEM)
def test_adding_evidence_never_lowers_hours_and_flagged_evidence_adds_none(pair, spec, extra):
    enrolment, session = pair
    before = _valid_hours(enrolment, session, spec)
    after = _valid_hours(enrolment, session, [*spec, extra])
    assert after >= before
    _kind, _minutes, skewed, far = extra
    if skewed or far:
        assert after == before
    # and the same evidence twice counts once
    assert _valid_hours(enrolment, session, [*spec, *spec]) == before

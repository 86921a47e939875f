"""The evidence outbox: never lost, coalesced, processed by one job until empty."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from skillguard.attendance.models import (
    EnrolmentHours,
    PendingEvidence,
    SessionAttendance,
)
from skillguard.attendance.services import QUEUEING_LOCK, note_evidence
from skillguard.attendance.tasks import process_pending_evidence
from skillguard.attendance.tests.helpers import enrolment_of
from skillguard.ingest.tests.test_pipeline import checkin, client_of, session_of, submit
from skillguard.subsidies.models import SubsidyVerdict

pytestmark = pytest.mark.django_db


def queued_jobs() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock = %s "
                    "AND status = 'todo'", [QUEUEING_LOCK])
        return cur.fetchone()[0]


@pytest.fixture(autouse=True)
def empty_outbox(world):
    """Building the world noted its sessions and enrolments: start each test empty."""
    from skillguard.attendance.services import process_pending

    process_pending()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM procrastinate_jobs WHERE queueing_lock = %s", [QUEUEING_LOCK])


@pytest.fixture
def engine_calls(monkeypatch):
    calls = []
    monkeypatch.setattr("skillguard.supervision.engine.run_realtime",
                        lambda **kw: calls.append(kw) or [])
    return calls


def test_ingest_notes_evidence_and_one_job_takes_it_all(world, engine_calls):
    s = session_of(world.a)
    client = client_of(world.a)
    start = (s.starts_at - dt.timedelta(minutes=5)).isoformat()
    end = (s.ends_at + dt.timedelta(minutes=2)).isoformat()
    # three chunks arrive: two trainees' check-ins, then their check-outs
    submit(client, "checkin", [checkin(world.a, 1, trainee=world.a.trainees[0],
                                       occurred_at=start)])
    submit(client, "checkin", [checkin(world.a, 2, trainee=world.a.trainees[1],
                                       occurred_at=start)])
    submit(client, "checkin", [
        checkin(world.a, 3, trainee=world.a.trainees[0], kind="out", occurred_at=end),
        checkin(world.a, 4, trainee=world.a.trainees[1], kind="out", occurred_at=end)])
    assert PendingEvidence.objects.count() == 3
    assert queued_jobs() == 1  # coalesced: one job for all chunks
    assert not SessionAttendance.objects.filter(valid_hours__gt=0).exists()  # not yet

    processed = process_pending_evidence()
    assert processed == 3
    assert PendingEvidence.objects.count() == 0
    e0 = enrolment_of(world.a.approved_class, world.a.trainees[0])
    e1 = enrolment_of(world.a.approved_class, world.a.trainees[1])
    assert SessionAttendance.objects.get(enrolment_id=e0.pk, session_id=s.pk).valid_hours == 4
    assert EnrolmentHours.objects.get(enrolment_id=e1.pk).valid_hours == 4
    assert SubsidyVerdict.objects.get(enrolment_id=e0.pk).verdict == "pending_evidence"
    # the real-time rules ran once, over everything the chunks touched
    assert len(engine_calls) == 1
    call = engine_calls[0]
    assert call["triggers"] == {"checkin"} and call["session_ids"] == [s.pk]
    assert {world.a.trainees[0].pk, world.a.trainees[1].pk} <= set(call["trainee_ids"])
    assert call["institution_ids"] == [world.a.institution.pk]


def test_the_job_loops_in_batches_until_empty(world, engine_calls):
    from skillguard.attendance.services import process_pending

    s = session_of(world.a)
    for k in range(7):
        note_evidence("session", session_ids=[s.pk], trainee_ids=[world.a.trainees[k % 3].pk])
    assert process_pending(batch=3) == 7
    assert PendingEvidence.objects.count() == 0 and len(engine_calls) == 3
    assert SessionAttendance.objects.filter(session_id=s.pk).count() == 3


def test_nothing_to_note_writes_nothing(world):
    note_evidence("checkin", session_ids=[], trainee_ids=(), institution_ids=None)
    assert PendingEvidence.objects.count() == 0 and queued_jobs() == 0


def test_a_failing_engine_does_not_lose_the_hours(world, monkeypatch):
    def boom(**kw):
        raise RuntimeError("rule crashed")

    monkeypatch.setattr("skillguard.supervision.engine.run_realtime", boom)
    s = session_of(world.a)
    note_evidence("checkin", session_ids=[s.pk])
    assert process_pending_evidence() == 1
    assert SessionAttendance.objects.filter(session_id=s.pk).count() == 3


def test_registry_changes_note_evidence(world):
    from skillguard.registry import services

    before = PendingEvidence.objects.count()
    services.update_session(None, world.a.draft_class.sessions.get(), topic="新主题")
    assert PendingEvidence.objects.count() == before + 1
    row = PendingEvidence.objects.latest("id")
    assert row.kind == "session" and row.session_ids == [world.a.draft_class.sessions.get().pk]


def test_recompute_hours_command(world, capsys):
    from django.core.management import call_command

    call_command("recompute_hours")
    assert "sessions=" in capsys.readouterr().out
    # every enrolment has totals, started sessions have rows
    from skillguard.registry.models import Enrolment
    assert EnrolmentHours.objects.count() == Enrolment.objects.count()
    assert SessionAttendance.objects.count() == 6  # two approved classes × three trainees


def test_the_minute_sweep_queues_rows_that_no_job_will_take(world):
    from skillguard.attendance.tasks import sweep_pending_evidence

    assert sweep_pending_evidence(timestamp=0) is False  # nothing waiting
    PendingEvidence.objects.create(kind="checkin", session_ids=[1])  # committed, job gone
    assert queued_jobs() == 0
    assert sweep_pending_evidence(timestamp=0) is True and queued_jobs() == 1
    assert sweep_pending_evidence(timestamp=0) is False and queued_jobs() == 1  # coalesced


def test_nightly_safety_net_decides_classes_that_ended_yesterday(world):
    from django.utils import timezone

    from skillguard.attendance.services import recompute_recently_ended
    from skillguard.attendance.testing import attend, write_evidence
    from skillguard.attendance.tests.helpers import past_class

    yesterday = timezone.localdate() - dt.timedelta(days=1)
    cls = past_class(world.a, world.course, start=yesterday, days=1, planned_hours=4,
                     finish=False)
    s = cls.sessions.get()
    e = enrolment_of(cls, world.a.trainees[0])
    write_evidence(attend(e, s))  # arrived, but no job ran (the worker was down)
    result = recompute_recently_ended()
    assert result["sessions"] >= 1 and result["enrolments"] == 3
    totals = EnrolmentHours.objects.get(enrolment_id=e.pk)
    assert (totals.valid_hours, totals.completion) == (4, "qualifies")  # end date passed
    # it ended before the world's running classes: the earliest claim wins
    assert SubsidyVerdict.objects.get(enrolment_id=e.pk).verdict == "eligible"

"""Writes of attendance: learning hours computed from evidence (学时认定).

CONTRACT (other apps call only these):
* ``note_evidence(kind, *, session_ids=(), trainee_ids=(), institution_ids=())`` — called in
  the same transaction as new or changed evidence (ingest pipeline, registry services);
  queues the recomputation of hours and the real-time rules (coalesced, never lost).
* ``exclude_hours(actor, *, case_id, pairs, reason)`` — a confirmed-fraud case conclusion:
  the (enrolment_id, session_id) pairs stop counting; affected totals are recomputed.
* ``restore_hours(actor, *, case_id)`` — a reopened case gives them back.

The outbox: ``note_evidence`` inserts one ``PendingEvidence`` row and makes sure one
``attendance.process_pending_evidence`` job is queued (a Procrastinate queueing lock: a job
already waiting will take the row). ``process_pending_evidence`` claims rows with
``FOR UPDATE SKIP LOCKED``, recomputes hours (``attendance.hours``), subsidy verdicts and the
real-time rules for everything they name, deletes them and loops until none are left. A
row committed after the last job finished is picked up by the next ``note_evidence`` or, at
the latest, by the per-minute ``attendance.sweep_pending_evidence``.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.attendance import hours
from skillguard.attendance.models import HoursExclusion
from skillguard.audit import services as audit
from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.errors import BusinessRuleError, Problem, lazy_format

log = logging.getLogger(__name__)

QUEUEING_LOCK = "attendance-pending-evidence"
CLAIM_BATCH = 200  # outbox rows per transaction of the job


def _ids(values) -> list[int]:
    return sorted({int(v) for v in (values or ()) if v is not None})


def note_evidence(kind, *, session_ids=(), trainee_ids=(), institution_ids=()):
    """Queue the follow-up of new or changed evidence (same transaction as the evidence)."""
    sessions, trainees, institutions = _ids(session_ids), _ids(trainee_ids), _ids(institution_ids)
    if not (sessions or trainees or institutions):
        return
    with connection.cursor() as cur:
        cur.execute("INSERT INTO attendance_pendingevidence "
                    "(kind, session_ids, trainee_ids, institution_ids, noted_at) "
                    "VALUES (%s, %s, %s, %s, now())",
                    [str(kind), sessions, trainees, institutions])
        # cheap: skip the (failing) insert when a job is already waiting
        cur.execute("SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = %s "
                    "AND status = 'todo' LIMIT 1", [QUEUEING_LOCK])
        if cur.fetchone():
            return
    enqueue_processing()


def enqueue_processing() -> bool:
    """Defer the outbox job once (a waiting job takes all rows)."""
    from procrastinate.exceptions import AlreadyEnqueued

    from skillguard.attendance.tasks import process_pending_evidence

    try:
        with transaction.atomic():  # savepoint: a refused insert must not abort the caller
            process_pending_evidence.configure(queueing_lock=QUEUEING_LOCK).defer()
    except AlreadyEnqueued:
        return False
    return True


# --------------------------------------------------------------------------- the outbox job


def process_pending(*, batch: int = CLAIM_BATCH, max_rounds: int | None = None) -> int:
    """Take outbox rows until none are left; returns how many were processed."""
    done, rounds = 0, 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SELECT id, kind, session_ids, trainee_ids, institution_ids "
                            "FROM attendance_pendingevidence ORDER BY id LIMIT %s "
                            "FOR UPDATE SKIP LOCKED", [batch])
                rows = cur.fetchall()
            if not rows:
                break
            kinds, sessions, trainees, institutions = set(), set(), set(), set()
            for _id, kind, s, t, i in rows:
                kinds.add(kind)
                sessions.update(s or ())
                trainees.update(t or ())
                institutions.update(i or ())
            apply_changes(kinds=kinds, session_ids=sessions, trainee_ids=trainees,
                          institution_ids=institutions)
            with connection.cursor() as cur:
                cur.execute("DELETE FROM attendance_pendingevidence WHERE id = ANY(%s)",
                            [[r[0] for r in rows]])
            done += len(rows)
    return done


def apply_changes(*, kinds: Iterable[str], session_ids=(), trainee_ids=(), institution_ids=()):
    """Hours → subsidy verdicts → real-time rules, for what changed."""
    from skillguard.subsidies.services import recompute_verdicts
    from skillguard.supervision.engine import run_realtime

    sessions, trainees = _ids(session_ids), set(_ids(trainee_ids))
    affected = hours.recompute_sessions(sessions)
    affected |= hours.recompute_trainees(trainees)
    recompute_verdicts(sorted(affected))
    try:
        with transaction.atomic():  # a failing engine must not lose the hours
            run_realtime(triggers=set(kinds), session_ids=sessions,
                         trainee_ids=sorted(affected | trainees),
                         institution_ids=_ids(institution_ids))
    except Exception:
        log.exception("real-time rules failed for %d sessions", len(sessions))
    return affected


def recompute_all(*, since=None, now=None, batch: int = 5000) -> dict[str, int]:
    """Every started session (or those starting on or after ``since``), every enrolment of
    them, every verdict of their trainees: the demo, the bench and repairs."""
    from skillguard.subsidies.services import recompute_verdicts

    now = now or timezone.now()
    with connection.cursor() as cur:
        if since is None:
            cur.execute("SELECT id FROM registry_session WHERE starts_at <= %s "
                        "ORDER BY starts_at, id", [now])
        else:
            cur.execute("SELECT id FROM registry_session WHERE starts_at <= %s "
                        "AND starts_at >= %s ORDER BY starts_at, id", [now, since])
        sessions = [r[0] for r in cur.fetchall()]
    trainees: set[int] = set()
    for start in range(0, len(sessions), batch):
        with transaction.atomic():
            trainees |= hours.recompute_sessions(sessions[start:start + batch], now=now)
    if since is None:  # every enrolment's totals and every trainee's verdicts (repairs)
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM registry_enrolment ORDER BY id")
            every = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT DISTINCT trainee_id FROM registry_enrolment")
            trainees |= {r[0] for r in cur.fetchall()}
        for start in range(0, len(every), batch):
            with transaction.atomic():
                hours.recompute_enrolments(every[start:start + batch], now=now)
    ordered = sorted(trainees)
    for start in range(0, len(ordered), batch):
        with transaction.atomic():
            recompute_verdicts(ordered[start:start + batch])
    return {"sessions": len(sessions), "trainees": len(trainees)}


def recompute_recently_ended(*, now=None) -> dict[str, int]:
    """Nightly safety net: sessions that ended yesterday (local) and the enrolments of
    classes that ended yesterday (their completion is decided now)."""
    from skillguard.subsidies.services import recompute_verdicts

    now = now or timezone.now()
    today = timezone.localtime(now).date()
    with connection.cursor() as cur:
        midnight = timezone.make_aware(dt.datetime.combine(today, dt.time()))
        cur.execute("SELECT id FROM registry_session WHERE ends_at >= %s AND ends_at < %s",
                    [midnight - dt.timedelta(days=1), midnight])
        sessions = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT e.id FROM registry_enrolment e JOIN registry_trainingclass tc "
                    "ON tc.id = e.training_class_id WHERE tc.end_date = %s",
                    [today - dt.timedelta(days=1)])
        enrolments = [r[0] for r in cur.fetchall()]
    with transaction.atomic():
        trainees = hours.recompute_sessions(sessions, now=now)
        trainees |= hours.recompute_enrolments(enrolments, now=now)
        recompute_verdicts(sorted(trainees))
    return {"sessions": len(sessions), "enrolments": len(enrolments),
            "trainees": len(trainees)}


# --------------------------------------------------------------------------- exclusions


def _pairs(pairs) -> list[tuple[int, int]]:
    out = set()
    for pair in pairs or ():
        enrolment_id, session_id = pair
        out.add((int(enrolment_id), int(session_id)))
    return sorted(out)


@transaction.atomic
def exclude_hours(actor, *, case_id, pairs, reason=""):
    """Confirmed fraud: these (enrolment_id, session_id) pairs count no valid hours.

    Idempotent: a pair the case already excludes is left alone. Audited; the hours, totals
    and subsidy verdicts concerned are recomputed at once. Returns the pairs newly
    excluded."""
    from skillguard.registry.models import Enrolment, Session
    from skillguard.subsidies.services import recompute_verdicts

    wanted = _pairs(pairs)
    if not wanted:
        return 0
    enrolments = {e["pk"]: e for e in Enrolment.objects.filter(
        pk__in={e for e, _s in wanted}).values("pk", "training_class_id", "trainee_id",
                                               "district_id", "institution_id")}
    sessions = dict(Session.objects.filter(pk__in={s for _e, s in wanted})
                    .values_list("pk", "training_class_id"))
    problems = [Problem("pairs", "unknown_pair", lazy_format(_(
        "enrolment %(e)s and session %(s)s do not belong to the same class"), e=e, s=s))
        for e, s in wanted
        if e not in enrolments or sessions.get(s) != enrolments[e]["training_class_id"]]
    if problems:
        raise BusinessRuleError(problems)
    existing = set(HoursExclusion.objects.filter(
        case_id=case_id, restored_at__isnull=True,
        enrolment_id__in={e for e, _s in wanted}).values_list("enrolment_id", "session_id"))
    new = [HoursExclusion(case_id=case_id, enrolment_id=e, session_id=s,
                          district_id=enrolments[e]["district_id"],
                          institution_id=enrolments[e]["institution_id"],
                          trainee_id=enrolments[e]["trainee_id"], reason=reason or "",
                          created_by=actor if getattr(actor, "is_authenticated", False) else None)
           for e, s in wanted if (e, s) not in existing]
    if not new:
        return 0
    HoursExclusion.objects.bulk_create(new)
    audit.record_many_created(actor, new, comment=reason or "")
    trainees = hours.recompute_sessions({x.session_id for x in new})
    recompute_verdicts(sorted(trainees))
    return len(new)


@transaction.atomic
def restore_hours(actor, *, case_id):
    """A reopened case: its exclusions end and the hours count again. Idempotent; audited.
    Returns the pairs restored."""
    from skillguard.subsidies.services import recompute_verdicts

    active = list(HoursExclusion.objects.select_for_update().filter(
        case_id=case_id, restored_at__isnull=True))
    if not active:
        return 0
    now = timezone.now()
    by = actor if getattr(actor, "is_authenticated", False) else None
    HoursExclusion.objects.filter(pk__in=[x.pk for x in active]).update(
        restored_at=now, restored_by=by)
    AuditEvent.objects.bulk_create([
        audit._event(actor, AuditAction.UPDATE, x,
                     changes={"restored_at": [None, now.isoformat()]},
                     comment="restore_hours") for x in active])
    trainees = hours.recompute_sessions({x.session_id for x in active})
    recompute_verdicts(sorted(trainees))
    return len(active)

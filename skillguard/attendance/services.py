"""Writes of attendance: learning hours computed from evidence (学时认定).

CONTRACT (other apps call only these):
* ``note_evidence(kind, *, session_ids=(), trainee_ids=(), institution_ids=())`` — called in
  the same transaction as new or changed evidence (ingest pipeline, registry services);
  queues the recomputation of hours and the real-time rules (coalesced, never lost).
* ``exclude_hours(actor, *, case_id, pairs, reason)`` — a confirmed-fraud case conclusion:
  the (enrolment_id, session_id) pairs stop counting; affected totals are recomputed.
* ``restore_hours(actor, *, case_id)`` — a reopened case gives them back.
"""
from __future__ import annotations


def note_evidence(kind, *, session_ids=(), trainee_ids=(), institution_ids=()):
    return None  # STUB


def exclude_hours(actor, *, case_id, pairs, reason=""):
    return 0  # STUB


def restore_hours(actor, *, case_id):
    return 0  # STUB

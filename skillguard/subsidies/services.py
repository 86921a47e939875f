"""Writes of subsidy eligibility (补贴资格): per-enrolment verdicts with reasons.

CONTRACT:
* ``recompute_verdicts(trainee_ids)`` — after hours change; idempotent, set-based.
"""
from __future__ import annotations


def recompute_verdicts(trainee_ids):
    return 0  # STUB

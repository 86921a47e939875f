"""The supervision engine: runs registered rules and turns findings into warnings.

CONTRACT (other apps call only these):
* ``run_realtime(*, triggers, session_ids=None, trainee_ids=None, institution_ids=None)`` —
  called by the attendance evidence processor after hours are recomputed; runs the enabled
  rules whose ``triggers`` intersect ``triggers`` incrementally over the given ids.
"""
from __future__ import annotations


def run_realtime(*, triggers, session_ids=None, trainee_ids=None, institution_ids=None):
    return []  # STUB until the engine is built

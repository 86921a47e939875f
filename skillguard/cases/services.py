"""Writes of case handling (督导处置) and spot checks (抽查).

CONTRACT (other apps call only these):
* ``route_warnings(warning_ids)`` — called by the supervision engine in the transaction that
  created the warnings: each opens or joins a case routed to the responsible district.
"""
from __future__ import annotations


def route_warnings(warning_ids):
    return None  # STUB

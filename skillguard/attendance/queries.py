"""Scoped reads of attendance evidence (current versions only unless asked)."""
from __future__ import annotations

from skillguard.attendance.models import CheckIn


def checkins_for(user, *, session_id=None, trainee_id=None, include_superseded=False):
    qs = CheckIn.objects.restrict(user, "view")
    if not include_superseded:
        qs = qs.filter(superseded=False)
    if session_id is not None:
        qs = qs.filter(session_id=session_id)
    if trainee_id is not None:
        qs = qs.filter(trainee_id=trainee_id)
    return qs.order_by("occurred_at", "id")

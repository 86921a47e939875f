"""Test and demo helpers: write evidence exactly the way the ingest pipeline does (COPY into
the partitioned fact table, ids from its sequence), without the docking checks, so that
tests can also build evidence that the docking API would refuse (clock skew)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from skillguard.core.partitions import ensure_monthly_partitions

TABLE = "attendance_checkin"


@dataclass
class Evidence:
    enrolment: object  # registry Enrolment
    session: object  # registry Session
    kind: str  # "in" | "out"
    occurred_at: dt.datetime
    method: str = "face"
    received_at: dt.datetime | None = None
    latitude: str | None = None
    longitude: str | None = None
    device_id: str = "dev-1"
    ip: str | None = None
    external_id: str = ""
    superseded: bool = False


def write_evidence(items: list[Evidence]) -> list[int]:
    from skillguard.ingest.pipeline import (
        CHECKIN_COLUMNS,
        _copy,
        _local_months,
        _next_ids,
    )

    if not items:
        return []
    first, last = _local_months([e.occurred_at for e in items])
    ensure_monthly_partitions(TABLE, first, last)
    ids = _next_ids(TABLE, len(items))
    rows = []
    for e, pk in zip(items, ids):
        en = e.enrolment
        rows.append((pk, e.session.district_id, e.occurred_at, e.kind, e.method, e.session.pk,
                     e.session.training_class_id, en.institution_id, en.pk, en.trainee_id,
                     e.device_id, e.latitude, e.longitude, e.ip, None,
                     e.external_id or f"T-{pk}", None,
                     e.received_at or max(e.occurred_at, timezone.now()), 1, e.superseded))
    _copy(TABLE, CHECKIN_COLUMNS, rows)
    return ids


def attend(enrolment, session, *, late_min: int = 0, early_leave_min: int = 0, **over):
    """A check-in ``late_min`` after the start and a check-out ``early_leave_min`` before
    the end."""
    return [Evidence(enrolment, session, "in",
                     session.starts_at + dt.timedelta(minutes=late_min), **over),
            Evidence(enrolment, session, "out",
                     session.ends_at - dt.timedelta(minutes=early_leave_min), **over)]

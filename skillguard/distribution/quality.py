"""Data quality (数据质量) per source and day, computed with one aggregate query per measure.

Definitions (also shown on the page):

* received  R — records in the source's signed submissions that day
  (Σ ``Submission.record_count``; never less than accepted + rejected);
* accepted  A — record versions that entered the platform that day: new records
  (``RecordIdentity.created_at``) plus new versions of known records
  (``RecordVersion.replaced_at``, one row per superseded version);
* rejected  J — records quarantined that day (``QuarantinedRecord.created_at``), also
  counted per reason code (a record with several codes counts once under each);
* unchanged U — R − A − J: records re-sent identical to what the platform already held;
* completeness = (A + U) / R — the share of received records that are in the platform
  complete (not rejected);
* corrected C — of the A versions accepted that day, those the source has since replaced
  by a newer version of the same record;
* accuracy = (A − C) / A — the share of accepted record versions not later corrected.

Days are calendar days in the platform's time zone. A rate with a zero denominator is
undefined (shown as —). Both rates must stay above 98 % (docking standard §data quality).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from skillguard.ingest.models import (
    QuarantinedRecord,
    RecordIdentity,
    RecordVersion,
    Submission,
)

THRESHOLD = Decimal("0.98")


@dataclass
class QualityRow:
    client_id: int
    day: dt.date
    client_name: str = ""
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    corrected: int = 0
    rejected_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return max(self.received - self.accepted - self.rejected, 0)

    @property
    def completeness(self) -> Decimal | None:
        if not self.received:
            return None
        return Decimal(self.accepted + self.unchanged) / Decimal(self.received)

    @property
    def accuracy(self) -> Decimal | None:
        if not self.accepted:
            return None
        return Decimal(self.accepted - self.corrected) / Decimal(self.accepted)

    @property
    def below_threshold(self) -> bool:
        return any(r is not None and r < THRESHOLD for r in (self.completeness, self.accuracy))


def _bounds(start: dt.date, end: dt.date):
    tz = timezone.get_current_timezone()
    lo = timezone.make_aware(dt.datetime.combine(start, dt.time.min), tz)
    hi = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min), tz)
    return lo, hi


def _grouped(qs, client_path: str, time_field: str, measure):
    return {(row[client_path], row["day"]): row["n"] or 0 for row in (
        qs.annotate(day=TruncDate(time_field)).values(client_path, "day")
        .annotate(n=measure).order_by())}


def compute(client_ids: list[int], start: dt.date, end: dt.date,
            names: dict[int, str] | None = None) -> list[QualityRow]:
    """Rows for every (source, day) with any activity, newest day first."""
    if not client_ids:
        return []
    lo, hi = _bounds(start, end)
    tzname = settings.TIME_ZONE
    received = _grouped(Submission.objects.filter(client_id__in=client_ids, received_at__gte=lo,
                                                  received_at__lt=hi),
                        "client_id", "received_at", Sum("record_count"))
    new = _grouped(RecordIdentity.objects.filter(client_id__in=client_ids, created_at__gte=lo,
                                                 created_at__lt=hi),
                   "client_id", "created_at", Count("id"))
    changed = _grouped(RecordVersion.objects.filter(identity__client_id__in=client_ids,
                                                    replaced_at__gte=lo, replaced_at__lt=hi),
                       "identity__client_id", "replaced_at", Count("id"))
    rejected = _grouped(QuarantinedRecord.objects.filter(client_id__in=client_ids,
                                                         created_at__gte=lo, created_at__lt=hi),
                        "client_id", "created_at", Count("id"))
    by_code: dict[tuple, dict[str, int]] = {}
    corrected: dict[tuple, int] = {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT q.client_id, (q.created_at AT TIME ZONE %s)::date, "
            "COALESCE(p.code, 'unknown'), count(DISTINCT q.id) "
            "FROM ingest_quarantinedrecord q "
            "LEFT JOIN LATERAL (SELECT DISTINCT e->>'code' AS code "
            "  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(q.problems) = 'array' "
            "       THEN q.problems ELSE '[]'::jsonb END) e) p ON true "
            "WHERE q.client_id = ANY(%s) AND q.created_at >= %s AND q.created_at < %s "
            "GROUP BY 1, 2, 3", [tzname, list(client_ids), lo, hi])
        for client_id, day, code, n in cur.fetchall():
            by_code.setdefault((client_id, day), {})[code] = n
        # A version v accepted on day d (v = 1: the identity's creation; v > 1: when version
        # v - 1 was replaced) counts as corrected when version v has itself been replaced.
        cur.execute(
            "SELECT i.client_id, (COALESCE(prev.replaced_at, i.created_at) AT TIME ZONE %s)::date"
            " AS day, count(*) "
            "FROM ingest_recordversion rv "
            "JOIN ingest_recordidentity i ON i.id = rv.identity_id "
            "LEFT JOIN ingest_recordversion prev "
            "  ON prev.identity_id = rv.identity_id AND prev.version = rv.version - 1 "
            "WHERE i.client_id = ANY(%s) "
            "  AND COALESCE(prev.replaced_at, i.created_at) >= %s "
            "  AND COALESCE(prev.replaced_at, i.created_at) < %s "
            "GROUP BY 1, 2", [tzname, list(client_ids), lo, hi])
        for client_id, day, n in cur.fetchall():
            corrected[(client_id, day)] = n
    keys = set(received) | set(new) | set(changed) | set(rejected)
    names = names or {}
    rows = []
    for key in keys:
        accepted = new.get(key, 0) + changed.get(key, 0)
        rej = rejected.get(key, 0)
        rows.append(QualityRow(
            client_id=key[0], day=key[1], client_name=names.get(key[0], str(key[0])),
            received=max(received.get(key, 0), accepted + rej), accepted=accepted,
            rejected=rej, corrected=min(corrected.get(key, 0), accepted),
            rejected_by_code=dict(sorted(by_code.get(key, {}).items()))))
    rows.sort(key=lambda r: (-r.day.toordinal(), r.client_name, r.client_id))
    return rows

"""Data quality (数据质量) per source and day.

One set-based query (``QUALITY_SQL``) computes the figures for a day range; the cockpit
rollup "quality" (``cockpit.rollups``, table ``cockpit_qualitydaily``) runs it for the days
touched since its last refresh, and ``compute`` reads the rollup for the days before the day
of that refresh and runs the same query live only for the days from then on (today, mostly).

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

Days are calendar days in the platform's time zone. Rolled-up days are as of the last
refresh (every five minutes): a correction arriving since then shows after the next one. A rate with a zero denominator is
undefined (shown as —). Both rates must stay above 98 % (docking standard §data quality).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

THRESHOLD = Decimal("0.98")

# The figures of every (source, local day) with any activity in [%(lo)s, %(hi)s), for the
# sources in %(clients)s (every source when %(all_clients)s). Shared by ``compute`` (live
# days) and the rollup (``cockpit.rollups``); %(tz)s is the platform's time zone.
# corrected: a version v accepted on day d (v = 1: the identity's creation; v > 1: when
# version v - 1 was replaced) counts when version v has itself been replaced, i.e. has a row
# in ingest_recordversion: at COALESCE(prev.replaced_at, i.created_at), split in two parts so
# that each one reads its own timestamp index.
QUALITY_SQL = """
WITH rec AS (
  SELECT s.client_id, (s.received_at AT TIME ZONE %(tz)s)::date AS day,
         sum(s.record_count) AS n
  FROM ingest_submission s
  WHERE s.received_at >= %(lo)s AND s.received_at < %(hi)s
    AND (%(all_clients)s OR s.client_id = ANY(%(clients)s::bigint[]))
  GROUP BY 1, 2
), new AS (
  SELECT i.client_id, (i.created_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
  FROM ingest_recordidentity i
  WHERE i.created_at >= %(lo)s AND i.created_at < %(hi)s
    AND (%(all_clients)s OR i.client_id = ANY(%(clients)s::bigint[]))
  GROUP BY 1, 2
), chg AS (
  SELECT i.client_id, (rv.replaced_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
  FROM ingest_recordversion rv
  JOIN ingest_recordidentity i ON i.id = rv.identity_id
  WHERE rv.replaced_at >= %(lo)s AND rv.replaced_at < %(hi)s
    AND (%(all_clients)s OR i.client_id = ANY(%(clients)s::bigint[]))
  GROUP BY 1, 2
), quarantined AS (
  SELECT q.id, q.client_id, (q.created_at AT TIME ZONE %(tz)s)::date AS day, q.problems
  FROM ingest_quarantinedrecord q
  WHERE q.created_at >= %(lo)s AND q.created_at < %(hi)s
    AND (%(all_clients)s OR q.client_id = ANY(%(clients)s::bigint[]))
), rej AS (
  SELECT client_id, day, count(*) AS n FROM quarantined GROUP BY 1, 2
), codes AS (
  SELECT client_id, day, jsonb_object_agg(code, n) AS by_code FROM (
    SELECT q.client_id, q.day, COALESCE(p.code, 'unknown') AS code, count(DISTINCT q.id) AS n
    FROM quarantined q
    LEFT JOIN LATERAL (SELECT DISTINCT e->>'code' AS code
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(q.problems) = 'array'
           THEN q.problems ELSE '[]'::jsonb END) e) p ON true
    GROUP BY 1, 2, 3) c
  GROUP BY 1, 2
), cor AS (
  SELECT client_id, day, sum(n) AS n FROM (
    -- versions accepted when their record was created (no earlier version)
    SELECT i.client_id, (i.created_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM ingest_recordidentity i
    JOIN ingest_recordversion rv ON rv.identity_id = i.id
    WHERE i.created_at >= %(lo)s AND i.created_at < %(hi)s
      AND (%(all_clients)s OR i.client_id = ANY(%(clients)s::bigint[]))
      AND NOT EXISTS (SELECT 1 FROM ingest_recordversion prev
                      WHERE prev.identity_id = rv.identity_id
                        AND prev.version = rv.version - 1)
    GROUP BY 1, 2
    UNION ALL
    -- versions accepted when the version before them was replaced
    SELECT i.client_id, (prev.replaced_at AT TIME ZONE %(tz)s)::date, count(*)
    FROM ingest_recordversion prev
    JOIN ingest_recordversion rv
      ON rv.identity_id = prev.identity_id AND rv.version = prev.version + 1
    JOIN ingest_recordidentity i ON i.id = prev.identity_id
    WHERE prev.replaced_at >= %(lo)s AND prev.replaced_at < %(hi)s
      AND (%(all_clients)s OR i.client_id = ANY(%(clients)s::bigint[]))
    GROUP BY 1, 2) parts
  GROUP BY 1, 2
), keys AS (
  SELECT client_id, day FROM rec UNION SELECT client_id, day FROM new
  UNION SELECT client_id, day FROM chg UNION SELECT client_id, day FROM rej
)
SELECT k.client_id, k.day,
       greatest(coalesce(rec.n, 0), coalesce(new.n, 0) + coalesce(chg.n, 0)
                + coalesce(rej.n, 0))::int AS received,
       (coalesce(new.n, 0) + coalesce(chg.n, 0))::int AS accepted,
       coalesce(rej.n, 0)::int AS rejected,
       least(coalesce(cor.n, 0), coalesce(new.n, 0) + coalesce(chg.n, 0))::int AS corrected,
       coalesce(codes.by_code, '{}'::jsonb) AS rejected_by_code
FROM keys k
LEFT JOIN rec ON rec.client_id = k.client_id AND rec.day = k.day
LEFT JOIN new ON new.client_id = k.client_id AND new.day = k.day
LEFT JOIN chg ON chg.client_id = k.client_id AND chg.day = k.day
LEFT JOIN rej ON rej.client_id = k.client_id AND rej.day = k.day
LEFT JOIN codes ON codes.client_id = k.client_id AND codes.day = k.day
LEFT JOIN cor ON cor.client_id = k.client_id AND cor.day = k.day
"""


def quality_params(lo, hi, client_ids=None, tz: str | None = None) -> dict:
    """Parameters of ``QUALITY_SQL``: [lo, hi) and the sources (None: all)."""
    return {"lo": lo, "hi": hi, "tz": tz or settings.TIME_ZONE,
            "all_clients": client_ids is None, "clients": list(client_ids or [])}


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


@dataclass
class Freshness:
    """What of a period comes from the rollup: days before ``live_from`` as of
    ``refreshed_at``; ``live_from`` on, computed live (None: never rolled up, all live)."""
    refreshed_at: dt.datetime | None
    live_from: dt.date | None


def _bounds(start: dt.date, end: dt.date):
    tz = timezone.get_current_timezone()
    lo = timezone.make_aware(dt.datetime.combine(start, dt.time.min), tz)
    hi = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min), tz)
    return lo, hi


def freshness() -> Freshness:
    from skillguard.cockpit.models import RollupState

    state = RollupState.objects.filter(name="quality").first()
    if state is None or state.high_water is None:
        return Freshness(None, None)
    return Freshness(state.refreshed_at, timezone.localdate(state.high_water))


def _by_code(value) -> dict[str, int]:
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return dict(sorted((value or {}).items()))


def compute_live(client_ids: list[int], start: dt.date, end: dt.date) -> list[tuple]:
    """(client_id, day, received, accepted, rejected, corrected, by_code) from the sources."""
    lo, hi = _bounds(start, end)
    with connection.cursor() as cur:
        cur.execute(QUALITY_SQL, quality_params(lo, hi, client_ids))
        return [(*r[:6], _by_code(r[6])) for r in cur.fetchall()]


def compute_live_rows(client_ids: list[int], start: dt.date, end: dt.date) -> list[QualityRow]:
    """Every day computed live, the rollup ignored (checks, repairs)."""
    return compute(client_ids, start, end, fresh=Freshness(None, None))


def compute(client_ids: list[int], start: dt.date, end: dt.date,
            names: dict[int, str] | None = None,
            fresh: Freshness | None = None) -> list[QualityRow]:
    """Rows for every (source, day) with any activity, newest day first: from the rollup for
    the days before the day of its last refresh, computed live from then on."""
    if not client_ids:
        return []
    from skillguard.cockpit.models import QualityDaily

    fresh = fresh or freshness()
    live_from = start if fresh.live_from is None else max(start, fresh.live_from)
    found: list[tuple] = []
    if live_from > start:
        found += QualityDaily.objects.filter(
            client_id__in=client_ids, day__gte=start,
            day__lte=min(end, live_from - dt.timedelta(days=1))).values_list(
            "client_id", "day", "received", "accepted", "rejected", "corrected",
            "rejected_by_code")
    if live_from <= end:
        found += compute_live(client_ids, live_from, end)
    names = names or {}
    rows = [QualityRow(client_id=c, day=d, client_name=names.get(c, str(c)), received=r,
                       accepted=a, rejected=j, corrected=k, rejected_by_code=_by_code(codes))
            for c, d, r, a, j, k, codes in found]
    rows.sort(key=lambda r: (-r.day.toordinal(), r.client_name, r.client_id))
    return rows

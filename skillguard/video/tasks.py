"""Background jobs of video recording (Procrastinate, idempotent): session coverage and the
real-time rules on it, the archive tier, the purge after the retention period.

Coverage: every 10 minutes the sessions that ended in the last ``COVERAGE_LOOKBACK`` hours
are (re)computed and the real-time rules of ``Trigger.VIDEO`` run on them; the recorder also
refreshes the sessions a stream touched as soon as it stops recording that stream
(``refresh_coverage_for_stream``), and the ingest hook may defer ``coverage_after_stream``.

Retention (all in bulk, crash-safe, never silent):

* ``archive_old_segments``: online segments that started more than
  ``SKILLGUARD_VIDEO_ONLINE_DAYS`` (90) days ago move to the archive tier. Order per batch:
  copy each file into the archive (written to a temporary name, fsync'd, renamed, directory
  fsync'd) → update the batch's rows (``tier = 'archive'``, ``archived_at``) in one
  statement → delete the online copies. A crash before the update leaves the rows online
  with their files in place (the next run copies again); after it, the online copies are
  leftovers the next run removes (``_remove_leftovers``). An ``ARCHIVED`` MediaEvent
  records the counts.
* ``purge_expired_segments``: segments that started more than
  ``SKILLGUARD_VIDEO_ARCHIVE_YEARS`` (5) years ago are deleted (file, then row) — **except**
  any segment of a camera whose time overlaps a ``Clip`` attached to a case that is still
  open (``cases.models.OPEN_STATES``) or to a spot check item: evidence under review is
  never purged; it goes once the case is closed. The purge is reported as an ``ARCHIVED``
  event with reason ``purged``.
"""
from __future__ import annotations

import datetime as dt
import logging

from procrastinate.contrib.django import app

log = logging.getLogger(__name__)

COVERAGE_LOOKBACK = dt.timedelta(hours=6)
ARCHIVE_BATCH = 500


# --------------------------------------------------------------------------- coverage


def refresh_coverage(session_ids, *, now=None) -> dict[int, int]:
    """Coverage of the sessions, then the real-time video rules on them."""
    from django.db import transaction

    from skillguard.supervision.engine import run_realtime
    from skillguard.supervision.rules.base import Trigger
    from skillguard.video.coverage import compute_session_coverage

    written = compute_session_coverage(session_ids, now=now)
    if written:
        try:
            with transaction.atomic():  # a failing engine must not lose the coverage
                run_realtime(triggers={Trigger.VIDEO}, session_ids=sorted(written))
        except Exception:
            log.exception("video rules failed for %d sessions", len(written))
    return written


def refresh_coverage_for_stream(stream_session_id: int) -> dict[int, int]:
    from skillguard.video.coverage import sessions_of_stream

    return refresh_coverage(sessions_of_stream(stream_session_id))


def refresh_recent_coverage(*, now=None, lookback=COVERAGE_LOOKBACK) -> dict[int, int]:
    from django.utils import timezone

    from skillguard.video.coverage import sessions_ended_between

    now = now or timezone.now()
    return refresh_coverage(sessions_ended_between(now - lookback, now), now=now)


@app.task(name="video.coverage_after_stream", queueing_lock="video-coverage-stream")
def coverage_after_stream(stream_session_id: int) -> int:
    """A stream ended: coverage and rules of the sessions it overlapped."""
    return len(refresh_coverage_for_stream(stream_session_id))


@app.periodic(cron="*/10 * * * *", periodic_id="video-coverage")
@app.task(name="video.recent_coverage", queueing_lock="video-recent-coverage")
def recent_coverage(timestamp: int) -> int:
    """Every 10 minutes: sessions that ended in the last hours (idempotent upsert)."""
    return len(refresh_recent_coverage())


# --------------------------------------------------------------------------- retention


def _event(kind, reason: str, detail: dict, now):
    from skillguard.video.models import MediaEvent

    MediaEvent.objects.create(at=now, kind=kind, reason=reason, detail=detail)


def _remove_leftovers(online, archive, now) -> int:
    """Online copies of segments already archived (a crash between update and delete)."""
    from skillguard.video.models import RecordingSegment, StorageTier

    removed = 0
    recent = RecordingSegment.objects.filter(
        tier=StorageTier.ARCHIVE, archived_at__gte=now - dt.timedelta(days=2)
    ).values_list("path", flat=True)
    for path in recent.iterator(chunk_size=2000):
        if online.exists(path) and archive.exists(path):
            online.delete(path)
            removed += 1
    return removed


def archive_segments(*, now=None, online_days: int | None = None,
                     batch: int = ARCHIVE_BATCH) -> dict:
    """Move online segments older than ``online_days`` to the archive tier."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from skillguard.video import storage
    from skillguard.video.models import MediaEventKind

    now = now or timezone.now()
    days = settings.VIDEO_ONLINE_DAYS if online_days is None else online_days
    cutoff = now - dt.timedelta(days=days)
    online = storage.backend_for(storage.ONLINE)
    archive = storage.backend_for(storage.ARCHIVE)
    counts = {"moved": 0, "bytes": 0, "missing": 0, "failed": 0,
              "leftovers_removed": _remove_leftovers(online, archive, now)}
    last = None
    while True:
        with connection.cursor() as cur:
            cur.execute("""
                SELECT district_id, started_at, id, path FROM video_recordingsegment
                WHERE tier = 'online' AND started_at < %s
                  AND (%s::timestamptz IS NULL OR (started_at, id) > (%s, %s))
                ORDER BY started_at, id LIMIT %s""",
                        [cutoff, last and last[0], last and last[0], last and last[1], batch])
            rows = cur.fetchall()
        if not rows:
            break
        last = (rows[-1][1], rows[-1][2])
        moved, missing = [], []
        for district_id, started_at, pk, path in rows:
            try:
                if online.exists(path):
                    counts["bytes"] += archive.copy_in(path, online)
                    moved.append((district_id, started_at, pk, path))
                elif archive.exists(path):  # copied before, row not updated
                    moved.append((district_id, started_at, pk, path))
                else:
                    missing.append((district_id, started_at, pk, path))
            except OSError:
                log.exception("archiving %s failed", path)
                counts["failed"] += 1
        with connection.cursor() as cur:
            for items, sql in (
                    (moved, "tier = 'archive', archived_at = %s"),
                    (missing, "status = 'lost', tier = 'archive', archived_at = %s")):
                if not items:
                    continue
                cur.execute(f"""
                    UPDATE video_recordingsegment r SET {sql}
                    FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[]) AS k(d, s, i)
                    WHERE r.district_id = k.d AND r.started_at = k.s AND r.id = k.i
                      AND r.tier = 'online'""",
                            [now, [m[0] for m in items], [m[1] for m in items],
                             [m[2] for m in items]])
        for *_key, path in moved:
            online.delete(path)
        counts["moved"] += len(moved)
        counts["missing"] += len(missing)
        if len(rows) < batch:
            break
    if counts["moved"] or counts["missing"] or counts["failed"]:
        _event(MediaEventKind.ARCHIVED, "archived" if not counts["failed"] else "partial",
               {**counts, "cutoff": cutoff.isoformat(), "online_days": days}, now)
    log.info("archive: %s", counts)
    return counts


def purge_segments(*, now=None, archive_years: int | None = None,
                   batch: int = 5000) -> dict:
    """Delete segments older than the retention period, except evidence under review."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from skillguard.cases.models import OPEN_STATES
    from skillguard.video import storage
    from skillguard.video.models import MediaEventKind

    now = now or timezone.now()
    years = settings.VIDEO_ARCHIVE_YEARS if archive_years is None else archive_years
    local = timezone.localtime(now)
    try:
        cutoff = local.replace(year=local.year - years)
    except ValueError:  # 29 February
        cutoff = local.replace(year=local.year - years, day=28)
    held_clause = """EXISTS (
        SELECT 1 FROM video_clip c LEFT JOIN cases_case k ON k.id = c.case_id
        WHERE c.camera_id = r.camera_id AND c.starts_at < r.ended_at AND c.ends_at > r.started_at
          AND (k.state = ANY(%(open)s) OR c.spot_check_item_id IS NOT NULL))"""
    params = {"cutoff": cutoff, "open": [str(s) for s in OPEN_STATES], "batch": batch}
    backends = {t: storage.backend_for(t) for t in storage.TIERS}
    purged = 0
    while True:
        with connection.cursor() as cur:
            cur.execute(f"""
                SELECT r.district_id, r.started_at, r.id, r.tier, r.path
                FROM video_recordingsegment r
                WHERE r.started_at < %(cutoff)s AND NOT {held_clause}
                ORDER BY r.started_at, r.id LIMIT %(batch)s""", params)
            rows = cur.fetchall()
        if not rows:
            break
        for _d, _s, _i, tier, path in rows:  # the file first: a row never outlives nothing
            backends[tier].delete(path)
        with connection.cursor() as cur:
            cur.execute("""
                DELETE FROM video_recordingsegment r
                USING unnest(%s::bigint[], %s::timestamptz[], %s::bigint[]) AS k(d, s, i)
                WHERE r.district_id = k.d AND r.started_at = k.s AND r.id = k.i""",
                        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]])
        purged += len(rows)
        if len(rows) < batch:
            break
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM video_recordingsegment r "
                    f"WHERE r.started_at < %(cutoff)s AND {held_clause}", params)
        held = cur.fetchone()[0]
    counts = {"purged": purged, "held_for_open_cases": held, "archive_years": years,
              "cutoff": cutoff.isoformat()}
    if purged or held:
        _event(MediaEventKind.ARCHIVED, "purged", counts, now)
    log.info("purge: %s", counts)
    return counts


@app.periodic(cron="0 19 * * *", periodic_id="video-archive")  # 03:00 Asia/Shanghai
@app.task(name="video.archive_old_segments", queueing_lock="video-archive")
def archive_old_segments(timestamp: int) -> dict:
    return archive_segments()


@app.periodic(cron="30 19 * * *", periodic_id="video-purge")  # 03:30 Asia/Shanghai
@app.task(name="video.purge_expired_segments", queueing_lock="video-purge")
def purge_expired_segments(timestamp: int) -> dict:
    return purge_segments()

"""Video coverage of scheduled sessions, and the recorded intervals of a camera.

``compute_session_coverage(session_ids)`` — one set-based statement: for each given session
in a room whose camera was in service when the session started (state ``in_service`` or
``faulty``, ``in_service_since`` ≤ the session's start; a room with two such cameras uses
the one in service, then the latest), it measures, with PostgreSQL multiranges:

* ``scheduled``: the session's [starts_at, ends_at);
* ``elapsed``: [starts_at, min(ends_at, now)) — a running session is measured so far;
* ``streamed``: the union of the camera's StreamSession intervals (an open one up to now)
  intersected with ``elapsed``;
* ``recorded``: the union of its RecordingSegment intervals with status complete or
  damaged, intersected with the scheduled time;
* ``gaps``: ``elapsed`` minus ``streamed`` — [[start, end], …] in ISO 8601, exact to the
  microsecond.

Rounding (exact to the second, shown in whole minutes): every duration is measured in
seconds, then ``missing_minutes = round(missing_seconds / 60)``, ``scheduled_minutes =
round(scheduled_seconds / 60)``, ``streamed_minutes = round(elapsed_seconds / 60) −
missing_minutes`` (so streamed + missing = scheduled once the session is over),
``recorded_minutes = round(recorded_seconds / 60)``; ``round`` is half away from zero (a
stream stopped for 4 min 30 s shows 5 minutes missing, for 4 min 29 s 4 minutes).

The rows are upserted into ``SessionCoverage`` by the same statement (idempotent).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

# one camera per session: the room's camera that was in service when it started
_TARGET = """
    SELECT DISTINCT ON (s.id) s.id AS session_id, s.starts_at, s.ends_at,
           LEAST(s.ends_at, GREATEST(s.starts_at, %(now)s)) AS upto,
           cam.id AS camera_id, cam.district_id AS camera_district_id,
           s.district_id, c.institution_id
    FROM registry_session s
    JOIN registry_trainingclass c ON c.id = s.training_class_id
    JOIN cameras_camera cam ON cam.room_id = s.room_id
    WHERE s.id = ANY(%(ids)s::bigint[]) AND cam.state IN ('in_service', 'faulty')
      AND cam.in_service_since IS NOT NULL AND cam.in_service_since <= s.starts_at
    ORDER BY s.id, (cam.state = 'in_service') DESC, cam.in_service_since DESC, cam.id
"""

_DURATION = ("COALESCE((SELECT extract(epoch FROM sum(upper(r) - lower(r))) "
             "FROM unnest({mr}) r), 0)")

COVERAGE_SQL = f"""
WITH target AS ({_TARGET}),
measured AS (
    SELECT t.*,
        tstzmultirange(tstzrange(t.starts_at, t.upto)) AS elapsed,
        COALESCE((SELECT range_agg(tstzrange(GREATEST(ss.started_at, t.starts_at),
                                            LEAST(COALESCE(ss.ended_at, %(now)s), t.upto)))
                  FROM video_streamsession ss
                  WHERE ss.camera_id = t.camera_id AND ss.started_at < t.upto
                    AND COALESCE(ss.ended_at, %(now)s) > t.starts_at),
                 '{{}}'::tstzmultirange) AS streamed,
        COALESCE((SELECT range_agg(tstzrange(GREATEST(rs.started_at, t.starts_at),
                                            LEAST(rs.ended_at, t.ends_at)))
                  FROM video_recordingsegment rs
                  WHERE rs.camera_id = t.camera_id AND rs.district_id = t.camera_district_id
                    AND rs.started_at >= t.starts_at - interval '1 hour'
                    AND rs.started_at < t.ends_at AND rs.ended_at > t.starts_at
                    AND rs.status IN ('complete', 'damaged')),
                 '{{}}'::tstzmultirange) AS recorded
    FROM target t
),
seconds AS (
    SELECT m.session_id, m.camera_id, m.district_id, m.institution_id,
        extract(epoch FROM m.ends_at - m.starts_at) AS scheduled_s,
        extract(epoch FROM m.upto - m.starts_at) AS elapsed_s,
        {_DURATION.format(mr="m.streamed * m.elapsed")} AS streamed_s,
        {_DURATION.format(mr="m.recorded")} AS recorded_s,
        COALESCE((SELECT jsonb_agg(jsonb_build_array(lower(g), upper(g)) ORDER BY lower(g))
                  FROM unnest(m.elapsed - m.streamed) g), '[]'::jsonb) AS gaps
    FROM measured m
),
minutes AS (
    SELECT x.*, round((x.elapsed_s - x.streamed_s) / 60) AS missing_m
    FROM seconds x
)
INSERT INTO video_sessioncoverage
    (session_id, camera_id, district_id, institution_id, scheduled_minutes, streamed_minutes,
     recorded_minutes, missing_minutes, gaps, computed_at)
SELECT session_id, camera_id, district_id, institution_id, round(scheduled_s / 60),
       round(elapsed_s / 60) - missing_m, round(recorded_s / 60), missing_m, gaps, %(now)s
FROM minutes
ON CONFLICT (session_id) DO UPDATE SET
    camera_id = EXCLUDED.camera_id, district_id = EXCLUDED.district_id,
    institution_id = EXCLUDED.institution_id, scheduled_minutes = EXCLUDED.scheduled_minutes,
    streamed_minutes = EXCLUDED.streamed_minutes, recorded_minutes = EXCLUDED.recorded_minutes,
    missing_minutes = EXCLUDED.missing_minutes, gaps = EXCLUDED.gaps,
    computed_at = EXCLUDED.computed_at
RETURNING session_id, missing_minutes
"""


def compute_session_coverage(session_ids: Iterable[int], *, now: dt.datetime | None = None
                             ) -> dict[int, int]:
    """Upsert the coverage of the sessions (those in a room with a camera); returns
    {session_id: missing_minutes} of the rows written."""
    ids = sorted({int(i) for i in session_ids})
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(COVERAGE_SQL, {"ids": ids, "now": now or timezone.now()})
        return dict(cur.fetchall())


def sessions_ended_between(start: dt.datetime, end: dt.datetime) -> list[int]:
    """Sessions that ended in [start, end) in a room with a camera."""
    with connection.cursor() as cur:
        cur.execute("""
            SELECT s.id FROM registry_session s
            WHERE s.ends_at >= %s AND s.ends_at < %s AND s.room_id IN (
                SELECT room_id FROM cameras_camera
                WHERE room_id IS NOT NULL AND state IN ('in_service', 'faulty'))
            ORDER BY s.id""", [start, end])
        return [r[0] for r in cur.fetchall()]


def sessions_of_stream(stream_session_id: int, *, now: dt.datetime | None = None) -> list[int]:
    """Sessions of the stream's camera's room that overlap the stream's interval."""
    with connection.cursor() as cur:
        cur.execute("""
            SELECT s.id FROM video_streamsession ss
            JOIN cameras_camera cam ON cam.id = ss.camera_id
            JOIN registry_session s ON s.room_id = cam.room_id
                 AND s.starts_at < COALESCE(ss.ended_at, %s) AND s.ends_at > ss.started_at
            WHERE ss.id = %s ORDER BY s.id""", [now or timezone.now(), stream_session_id])
        return [r[0] for r in cur.fetchall()]


# --------------------------------------------------------------------------- recorded intervals

INTERVALS_SQL = """
WITH seg AS (
    SELECT GREATEST(started_at, %(from)s) AS s, LEAST(ended_at, %(to)s) AS e, id,
           status, tier, size_bytes
    FROM video_recordingsegment
    WHERE camera_id = %(camera)s AND started_at >= %(from)s - interval '1 hour'
      AND started_at < %(to)s AND ended_at > %(from)s AND status IN ('complete', 'damaged')
), marked AS (
    SELECT seg.*, CASE WHEN s > max(e) OVER (ORDER BY s, id ROWS BETWEEN UNBOUNDED PRECEDING
                                              AND 1 PRECEDING) + %(join)s::interval
                       THEN 1 ELSE 0 END AS starts_island
    FROM seg
), islands AS (
    SELECT marked.*, sum(starts_island) OVER (ORDER BY s, id) AS island FROM marked
)
SELECT min(s), max(e), count(*), count(*) FILTER (WHERE status = 'damaged'),
       count(*) FILTER (WHERE tier = 'archive'), sum(size_bytes)
FROM islands GROUP BY island ORDER BY 1
"""


def recorded_intervals(camera_id: int, start: dt.datetime, end: dt.datetime,
                       *, join_seconds: float = 2.0) -> dict:
    """The camera's recordings in [start, end) merged into intervals (segments less than
    ``join_seconds`` apart join), and the gaps between them, in order."""
    with connection.cursor() as cur:
        cur.execute(INTERVALS_SQL, {"camera": camera_id, "from": start, "to": end,
                                    "join": f"{join_seconds} seconds"})
        rows = cur.fetchall()
    intervals, gaps, cursor, total = [], [], start, 0.0
    for s, e, count, damaged, archived, size in rows:
        if s > cursor:
            gaps.append({"start": cursor, "end": s, "seconds": (s - cursor).total_seconds()})
        seconds = (e - s).total_seconds()
        total += seconds
        intervals.append({"start": s, "end": e, "seconds": seconds, "segments": count,
                          "damaged_segments": damaged, "archived_segments": archived,
                          "size_bytes": int(size or 0)})
        cursor = max(cursor, e)
    if cursor < end:
        gaps.append({"start": cursor, "end": end, "seconds": (end - cursor).total_seconds()})
    return {"camera": camera_id, "start": start, "end": end, "recorded_seconds": total,
            "intervals": intervals, "gaps": gaps}

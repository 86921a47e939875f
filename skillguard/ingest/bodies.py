"""Where a submission's (sealed) body is stored: inline, or in parts when it is large.

PostgreSQL cannot take one bytea parameter of a few hundred MB (its 1 GB allocation limit
after escaping), so a sealed body larger than one part goes into ``ingest_submissionpart``
rows of ``PART_SEGMENTS`` sealed segments each (about 16 MiB). A part holds whole segments,
so the batch worker's segment-at-a-time reads (``ingest.batches.BodyStream``) never cross a
part. Rows are keyed like the submission (district_id, received_at, submission id, seq)
and partitioned by month with it.
"""
from __future__ import annotations

from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.ingest import sealing

PART_SEGMENTS = 16  # sealed segments per part


def part_bytes() -> int:
    return PART_SEGMENTS * sealing.SEALED_SEGMENT


def split(sealed) -> tuple[bytes, list[memoryview]]:
    """(inline body, parts): a body that fits one part stays inline."""
    size = part_bytes()
    if len(sealed) <= size:
        return bytes(sealed), []
    view = memoryview(sealed)
    return b"", [view[i:i + size] for i in range(0, len(sealed), size)]


def write_parts(cursor, district_id: int, received_at, submission_id, parts) -> None:
    if not parts:
        return
    from django.utils import timezone

    day = timezone.localtime(received_at).date()
    ensure_monthly_partitions("ingest_submissionpart", day, day)
    for seq, data in enumerate(parts):  # a few rows of ~16 MiB: one statement each
        cursor.execute(
            "INSERT INTO ingest_submissionpart (district_id, received_at, submission_id, seq, "
            "data) VALUES (%s, %s, %s, %s, %s)",
            [district_id, received_at, submission_id, seq, bytes(data)])


def delete_parts(cursor, district_id: int, received_at, submission_id) -> None:
    cursor.execute("DELETE FROM ingest_submissionpart WHERE district_id = %s AND "
                   "received_at = %s AND submission_id = %s",
                   [district_id, received_at, submission_id])


def read_range(cursor, key: tuple, parts: int, offset: int, length: int) -> bytes:
    """``length`` stored bytes from ``offset`` (0-based) of the body keyed
    (district_id, received_at, id)."""
    if not parts:
        cursor.execute("SELECT substring(body FROM %s FOR %s) FROM ingest_submission "
                       "WHERE district_id = %s AND received_at = %s AND id = %s",
                       [offset + 1, length, *key])
        row = cursor.fetchone()
        return bytes(row[0]) if row else b""
    size, out = part_bytes(), []
    while length > 0:
        seq, within = divmod(offset, size)
        take = min(length, size - within)
        cursor.execute("SELECT substring(data FROM %s FOR %s) FROM ingest_submissionpart "
                       "WHERE district_id = %s AND received_at = %s AND submission_id = %s "
                       "AND seq = %s", [within + 1, take, *key, seq])
        row = cursor.fetchone()
        if row is None or not row[0]:
            break
        chunk = bytes(row[0])
        out.append(chunk)
        offset, length = offset + len(chunk), length - len(chunk)
        if len(chunk) < take:
            break
    return b"".join(out)


def read_all(cursor, key: tuple, parts: int) -> bytes:
    """The whole stored body."""
    if not parts:
        cursor.execute("SELECT body FROM ingest_submission WHERE district_id = %s AND "
                       "received_at = %s AND id = %s", list(key))
        row = cursor.fetchone()
        return bytes(row[0]) if row else b""
    cursor.execute("SELECT data FROM ingest_submissionpart WHERE district_id = %s AND "
                   "received_at = %s AND submission_id = %s ORDER BY seq", list(key))
    return b"".join(bytes(r[0]) for r in cursor.fetchall())


def stored_body(submission) -> bytes:
    """The stored (sealed) bytes of a Submission instance."""
    if not submission.body_parts:
        return bytes(submission.body)
    from django.db import connection

    with connection.cursor() as cur:
        return read_all(cur, (submission.district_id, submission.received_at, submission.id),
                        submission.body_parts)

"""Shared by the batch tests: a docking client of institution A and check-in files."""
from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

from skillguard.core.testing import make_id_number


def make_client(world, name="校园签到系统"):
    from skillguard.ingest.clients import register_client

    client, _code = register_client(world.users["city_admin"], name=name, kind="institution",
                                    institution=world.a.institution)
    return client


def trainee_ids(world) -> list[str]:
    code = world.a.district.code
    return [make_id_number(code, dt.date(1990, 2, 1 + k), 100 + k) for k in range(3)]


def checkin_records(world, n: int, *, bad_every: int = 0, prefix: str = "c") -> list[dict]:
    """n check-ins at the approved class's session; every ``bad_every``-th has a bad method."""
    session = world.a.approved_class.sessions.order_by("sequence").first()
    ids = trainee_ids(world)
    out = []
    for i in range(n):
        at = timezone.localtime(session.starts_at) + dt.timedelta(seconds=i % 3600)
        out.append({"external_id": f"{prefix}{i:07d}", "class_code": world.a.approved_class.code,
                    "session_sequence": session.sequence, "trainee_id_number": ids[i % 3],
                    "kind": "in" if i % 2 == 0 else "out",
                    "method": "bogus" if bad_every and i % bad_every == bad_every - 1 else "face",
                    "occurred_at": at.isoformat(), "device_id": "dev-1"})
    return out


def jsonl(records) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


VERIFIED = {"key_id": "test", "signature_input": "", "signature": "test"}


def checkin_counts(client) -> tuple[int, int]:
    """(rows, distinct external ids) of the client's check-ins."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT external_id) FROM attendance_checkin "
                    "WHERE source_client_id = %s", [client.pk])
        return cur.fetchone()

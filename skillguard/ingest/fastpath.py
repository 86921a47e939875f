"""Bulk check-ins in the batch worker: the fast path (ADR 0009).

A batch of check-ins is millions of records that are nearly all alike: the same few
sessions, trainees and devices, a JSON object of plain ASCII values. For these *plain*
records the worker skips pydantic and the record-by-record pipeline: a handful of type and
length tests stand in for the schema, orjson builds the canonical JSON whose SHA-256 is the
idempotency hash, references are resolved once per distinct value (not per record),
identities are claimed in one statement and the facts written with one binary COPY.
Everything up to the rows only reads (``prepare_checkins``), so the batch worker does it for
the next chunk while the current one is written (``batches._read_ahead``).

``pipeline.ingest_records`` stays the authority. Every record that is not plain, fails a
check, refers to something unknown or out of scope, or changes an earlier version is handed
to it, in the same transaction, and it produces the exact bilingual problems, quarantine
rows and versions: the fast path never rejects anything itself. A chunk with a duplicate
external id, or sent by a client not registered for check-ins, goes the authority's way
whole. ``tests/test_fastpath.py`` holds both paths to the same verdicts, hashes and rows.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import NamedTuple

import orjson
from django.conf import settings
from django.db import connection, transaction
from pydantic import ValidationError

from skillguard.core.crypto import lookup_hash
from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.core.validators import id_number_problem, normalise_id_number
from skillguard.ingest import pipeline
from skillguard.ingest.records import FACT_TYPES, CheckInRecord, CheckKindCode, CheckMethodCode
from skillguard.ingest.validation import (
    CLOCK_SKEW,
    WINDOW_TOLERANCE,
    Checker,
    NormalisedRecord,
)

TYPE = "checkin"
TABLE = FACT_TYPES[TYPE]
FIELDS = frozenset(CheckInRecord.model_fields)
REQUIRED = ("external_id", "trainee_id_number", "kind", "method", "occurred_at")
KINDS = frozenset(c.value for c in CheckKindCode)
METHODS = frozenset(c.value for c in CheckMethodCode)
# Offsets up to ±14:59 (every zone in use); "+00:00" is written "Z" by the schema, so a
# record carrying it is not plain (its canonical form differs from its text).
_OFFSET_HOURS = frozenset(f"{h:02d}" for h in range(15))
_UTC_OFFSETS = ("+00:00", "-00:00")


def _max_length(name: str) -> int:
    for meta in CheckInRecord.model_fields[name].metadata:
        if getattr(meta, "max_length", None) is not None:
            return meta.max_length
    raise LookupError(name)


EXT_MAX, CODE_MAX = _max_length("external_id"), _max_length("class_code")
SESSION_EXT_MAX, DEVICE_MAX = _max_length("session_external_id"), _max_length("device_id")
ID_NUMBER_LENGTH = _max_length("trainee_id_number")
SEQUENCE_MAX = 2**31 - 1  # the registry's integer column
# The schema's own validator for the rarer fields (coordinates, IP), with a stub for the
# rest: their canonical text is then exactly the authority's.
_STUB = {"external_id": "x", "trainee_id_number": "1" * ID_NUMBER_LENGTH, "kind": "in",
         "method": "face", "occurred_at": "2000-01-01T00:00:00Z"}
_EXTRAS = ("latitude", "longitude", "ip")
_SCALARS = frozenset({type(None), bool, int, float, str})


def switch(name: str) -> bool:
    """An on/off setting of the worker, on unless the environment or settings say 0/false/no."""
    value = os.environ.get(name)
    if value is not None:
        return value not in ("0", "false", "no", "")
    return getattr(settings, name, True)


def enabled() -> bool:
    return switch("SKILLGUARD_INGEST_FAST_PATH")


def _text(value, limit: int) -> bool:
    """A string the schema keeps as it is and both JSON encoders write alike: printable
    ASCII, no surrounding spaces (the schema strips them), within its length."""
    return (type(value) is str and len(value) <= limit and value.isascii()
            and value.isprintable() and value[:1] != " " and value[-1:] != " ")


def _occurred_at(value):
    """The instant of an ISO 8601 time in the two forms the schema writes back unchanged
    (``2026-11-21T09:00:00+08:00`` and ``…Z``); None for anything else. With the
    separators in place, ``fromisoformat`` accepts only digits around them."""
    if type(value) is not str:
        return None
    n = len(value)
    if n == 25:
        if value[19] not in "+-" or value[22] != ":" or value[19:] in _UTC_OFFSETS \
                or value[20:22] not in _OFFSET_HOURS:
            return None
    elif n != 20 or value[19] != "Z":
        return None
    if value[4] != "-" or value[7] != "-" or value[10] != "T" or value[13] != ":" \
            or value[16] != ":" or not value.isascii():
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


class _Extras:
    """Coordinates and IP through the schema itself, once per distinct value."""

    def __init__(self):
        self.cache: dict[tuple, tuple | None] = {}

    def get(self, lat, lon, ip):
        key = (type(lat), lat, type(lon), lon, ip)
        if key not in self.cache:
            try:
                rec = CheckInRecord.model_validate(
                    {**_STUB, "latitude": lat, "longitude": lon, "ip": ip})
            except ValidationError:
                self.cache[key] = None
            else:
                self.cache[key] = (rec.latitude, rec.longitude, rec.ip,
                                   rec.model_dump(mode="json", include=set(_EXTRAS)))
        return self.cache[key]


def plain(raw, extras: _Extras | None = None):
    """The record's values and canonical payload when it is plain, else None.

    Plain: a JSON object of the check-in fields only, every required one present, strings
    as ``_text`` says, a positive integer sequence, codes from the code tables, the time in
    one of the two unchanged forms, coordinates and IP as the schema accepts them. For such
    a record the canonical payload built here equals ``model_dump(mode="json")`` of the
    validated schema, so its SHA-256 is the one the pipeline computes."""
    if type(raw) is not dict or not raw.keys() <= FIELDS:
        return None
    get = raw.get
    ext, tid, kind, method = get("external_id"), get("trainee_id_number"), get("kind"), \
        get("method")
    if not (_text(ext, EXT_MAX) and ext and _text(tid, ID_NUMBER_LENGTH)
            and len(tid) == ID_NUMBER_LENGTH and type(kind) is str and kind in KINDS
            and type(method) is str and method in METHODS):
        return None
    when = _occurred_at(get("occurred_at"))
    if when is None:
        return None
    code, seq, session_ext = get("class_code"), get("session_sequence"), \
        get("session_external_id")
    device = get("device_id", "")
    if not ((code is None or _text(code, CODE_MAX))
            and (seq is None or (type(seq) is int and 0 < seq <= SEQUENCE_MAX))
            and (session_ext is None or _text(session_ext, SESSION_EXT_MAX))
            and _text(device, DEVICE_MAX)):
        return None
    lat, lon, ip = get("latitude"), get("longitude"), get("ip")
    if type(lat) not in _SCALARS or type(lon) not in _SCALARS or type(ip) not in _SCALARS:
        return None  # arrays and objects: the schema refuses them, and they do not hash
    if lat is None and lon is None and ip is None:
        extra_values, dumped = (None, None, None), None
    else:
        found = (extras or _Extras()).get(lat, lon, ip)
        if found is None:
            return None
        extra_values, dumped = found[:3], found[3]
    payload = {"class_code": code, "device_id": device, "external_id": ext,
               "ip": None, "kind": kind, "latitude": None, "longitude": None,
               "method": method, "occurred_at": raw["occurred_at"],
               "session_external_id": session_ext, "session_sequence": seq,
               "trainee_id_number": tid}
    if dumped:
        payload.update(dumped)
    sha = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return (ext, code, seq, session_ext, tid, kind, method, when, device, extra_values,
            payload, sha)


def _encode(rows: list[tuple], types: tuple[str, ...]) -> bytes | None:
    """The whole binary COPY stream of ``rows`` (signature, rows, trailer), encoded where the
    chunk is prepared so that the writing thread only sends it; None (the writer then sends
    row by row) if psycopg's formatter, which is not public API, is not where it was."""
    try:
        from psycopg import adapt, postgres, pq
        from psycopg._copy_base import BinaryFormatter
    except ImportError:
        return None
    transformer = adapt.Transformer()
    transformer.set_dumper_types([postgres.types[name].oid for name in types],
                                 pq.Format.BINARY)
    formatter, out = BinaryFormatter(transformer), bytearray()
    for row in rows:
        out += formatter.write_row(row)
    out += formatter.end()
    return bytes(out)


def _copy_rows(table: str, columns, rows: list[tuple], types, encoded: bytes | None) -> None:
    """Binary COPY of ``rows``, sent as ``encoded`` when it is there."""
    if encoded is None:
        pipeline._copy(table, columns, rows, types)
        return
    connection.ensure_connection()
    with connection.connection.cursor() as cur, \
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(encoded)


def prepare_checkins(client, sub, items: list[tuple[int, dict]]) -> _FastRun:
    """The part of a chunk that only reads: the plainness test, the references and the rows
    of the plain records, encoded for COPY. The batch worker prepares the next chunk in a thread of its
    own while the current one is written (``batches._read_ahead``); ``finish`` writes, in the
    chunk's transaction."""
    return _FastRun(client, sub, items).prepare()


class _Summary(NamedTuple):
    """What the writing thread needs of a set of records beyond their rows, computed with
    them beforehand: the local days they span, the ids the evidence note names, their
    external ids and line numbers."""
    first_day: dt.date | None
    last_day: dt.date | None
    session_ids: set
    trainee_ids: set
    institution_ids: set
    external_ids: list
    lines: list


class _FastRun:
    def __init__(self, client, sub, items):
        self.client, self.sub, self.items, self.batch = client, sub, items, None
        self.slow: list[int] = []  # indices handed to the pipeline
        self._unchanged_indices: list[int] = []
        # Plain records with their references, their fact ids and rows, aligned.
        self.fast: list = []
        self.ids: list[int] = []
        self.stage_rows: list[tuple] = []
        self.fact_rows: list[tuple] = []
        self.stage_data: bytes | None = None  # the rows above, encoded for COPY
        self.fact_data: bytes | None = None
        self.summary: _Summary | None = None  # of all plain records, should all be new

    def prepare(self) -> _FastRun:
        fast = self._plain_records()
        self.fast = self._resolve(fast) if fast else []
        if self.fast:
            self.ids = pipeline._next_ids(TABLE, len(self.fast))
            self.stage_rows = self._stage_rows()
            self.fact_rows = self._fact_rows()
            self.stage_data = _encode(self.stage_rows, pipeline.CLAIM_STAGE_TYPES)
            self.fact_data = _encode(self.fact_rows, pipeline.CHECKIN_TYPES)
            self.summary = self._summarise(self.fast)
        return self

    def finish(self, batch=None) -> pipeline.Outcome:
        """Claim, write and account for the prepared chunk, in one savepoint of the
        caller's transaction."""
        with transaction.atomic():
            return self._finish(batch)

    def _finish(self, batch) -> pipeline.Outcome:
        self.batch = batch
        new, unchanged, rows = self._claim() if self.fast else ([], [], [])
        summary = self.summary if len(new) == len(self.fast) else self._summarise(new)
        if new:
            self._write(summary, rows)
            self._follow_up(new, summary)
        if new or unchanged:
            self._resolve_quarantine(summary.external_ids + unchanged)
            self._audit(len(new), len(unchanged), summary.lines
                        + [self.items[i][0] for i in self._unchanged_indices])
        accepted, unchanged_n, rejected = len(new), len(unchanged), 0
        if self.slow:
            self.slow.sort()
            outcome = pipeline.ingest_records(
                self.client, self.sub, TYPE, [self.items[i][1] for i in self.slow],
                lines=[self.items[i][0] for i in self.slow], batch=self.batch)
            accepted += outcome.accepted
            unchanged_n += outcome.unchanged
            rejected += outcome.rejected
        return pipeline.Outcome(accepted=accepted, unchanged=unchanged_n, rejected=rejected,
                                results=[])

    # ------------------------------------------------------------------ shape

    def _plain_records(self) -> list:
        allowed = self.client.record_types or []
        if allowed and TYPE not in allowed:
            self.slow = list(range(len(self.items)))
            return []
        seen, fast, extras = set(), [], _Extras()
        for index, (_line, raw) in enumerate(self.items):
            ext = raw.get("external_id") if type(raw) is dict else None
            if type(ext) is str:
                ext = ext.strip()
                if ext in seen:  # the pipeline names duplicates: the whole chunk goes there
                    self.slow = list(range(len(self.items)))
                    return []
                seen.add(ext)
            values = plain(raw, extras)
            if values is None:
                self.slow.append(index)
            else:
                fast.append((index, values))
        return fast

    # ------------------------------------------------------------------ references

    def _resolve(self, fast: list) -> list:
        """Sessions, trainees and enrolments once per distinct value, with the checks of
        ``validation.check_checkin``; a record failing any of them goes to the pipeline."""
        from skillguard.registry.models import Trainee

        ck = Checker(self.client, TYPE)
        latest = ck.now + CLOCK_SKEW
        by_code, by_pk, targets = ck.sessions(
            {v[1] for _i, v in fast if not v[3] and v[1] and v[2]},
            {v[3] for _i, v in fast if v[3]})
        windows = {}
        for s in list(by_code.values()) + list(by_pk.values()):
            windows[s["pk"]] = (s["starts_at"] - WINDOW_TOLERANCE,
                                s["ends_at"] + WINDOW_TOLERANCE)
        hashes = {}
        for tid in {v[4] for _i, v in fast}:
            value = normalise_id_number(tid)
            if not id_number_problem(value):
                hashes[tid] = lookup_hash(value)
        trainees = dict(Trainee.objects.restrict(ck.user, "view").filter(
            id_number_hash__in=set(hashes.values())).values_list("id_number_hash", "pk")) \
            if hashes else {}
        resolved, pairs = [], set()
        for index, v in fast:
            s = by_pk.get(targets.get(v[3])) if v[3] else by_code.get((v[1], v[2]))
            trainee = trainees.get(hashes.get(v[4]))
            if s is None or trainee is None or v[7] > latest:
                self.slow.append(index)
                continue
            lo, hi = windows[s["pk"]]
            if not lo <= v[7] <= hi:
                self.slow.append(index)
                continue
            pair = (s["training_class_id"], trainee)
            pairs.add(pair)
            resolved.append((index, v, s, trainee, pair))
        enrolments = ck.enrolments(dict(enumerate(pairs))) if pairs else {}
        out = []
        for index, v, s, trainee, pair in resolved:
            enrolment = enrolments.get(pair)
            if enrolment is None:
                self.slow.append(index)
            else:
                out.append((index, v, s, trainee, enrolment))
        return out

    # ------------------------------------------------------------------ COPY rows

    def _stage_rows(self) -> list[tuple]:
        """The claim stage's rows (external id, hash, target, district, institution)."""
        target = f"{TABLE}:"
        return [(v[0], v[11], f"{target}{pk}", s["district_id"],
                 s["training_class__institution_id"])
                for (_index, v, s, _t, _e), pk in zip(self.fast, self.ids)]

    def _fact_rows(self) -> list[tuple]:
        """The check-in rows for a binary COPY (``pipeline.CHECKIN_TYPES``): cheaper for the
        server to read than text, and the chunk's writer only sends them."""
        client, sub_id, received = self.client.pk, self.sub.id, self.sub.received_at
        return [(pk, s["district_id"], v[7], v[5], v[6], s["pk"], s["training_class_id"],
                 s["training_class__institution_id"], enrolment, trainee, v[8], v[9][0],
                 v[9][1], v[9][2], client, v[0], sub_id, received, 1, False)
                for (_i, v, s, trainee, enrolment), pk in zip(self.fast, self.ids)]

    # ------------------------------------------------------------------ identities

    def _claim(self) -> tuple[list, list[str], list[tuple]]:
        """Claim the identities in one statement. Returns the records claimed (new), the
        external ids already known with the same hash (unchanged) and the fact rows of
        the new; records known with another hash change an earlier version and go to the
        pipeline."""
        pipeline.open_claim_stage()
        _copy_rows(pipeline.CLAIM_STAGE, pipeline.CLAIM_STAGE_COLUMNS, self.stage_rows,
                   pipeline.CLAIM_STAGE_TYPES, self.stage_data)
        with connection.cursor() as cur:
            # Only the staged ids not claimed come back: those already known.
            cur.execute(f"WITH claimed AS ({pipeline.claim_statement('external_id')}) "
                        f"SELECT e FROM {pipeline.CLAIM_STAGE} "
                        "WHERE e NOT IN (SELECT external_id FROM claimed)",
                        pipeline.claim_params(self.client, TYPE, self.sub))
            taken = {row[0] for row in cur.fetchall()}
        if not taken:
            return [(*row, pk) for row, pk in zip(self.fast, self.ids)], [], self.fact_rows
        with connection.cursor() as cur:
            cur.execute("SELECT external_id, payload_sha256 FROM ingest_recordidentity "
                        "WHERE client_id = %s AND record_type = %s AND external_id = ANY(%s)",
                        [self.client.pk, TYPE, list(taken)])
            known = dict(cur.fetchall())
        new, unchanged, rows = [], [], []
        for row, pk, fact in zip(self.fast, self.ids, self.fact_rows):
            ext = row[1][0]
            if ext not in taken:
                new.append((*row, pk))
                rows.append(fact)
            elif known.get(ext, row[1][11]) == row[1][11]:
                # Same payload, or claimed by a transaction racing this one: received.
                unchanged.append(ext)
                self._unchanged_indices.append(row[0])
            else:
                self.slow.append(row[0])
        return new, unchanged, rows

    # ------------------------------------------------------------------ facts

    def _summarise(self, rows) -> _Summary:
        if not rows:
            return _Summary(None, None, set(), set(), set(), [], [])
        first, last = pipeline._local_months([row[1][7] for row in rows])
        return _Summary(first, last, {row[2]["pk"] for row in rows}, {row[3] for row in rows},
                        {row[2]["training_class__institution_id"] for row in rows},
                        [row[1][0] for row in rows], [self.items[row[0]][0] for row in rows])

    def _write(self, summary: _Summary, rows: list[tuple]) -> None:
        ensure_monthly_partitions(TABLE, summary.first_day, summary.last_day)
        _copy_rows(TABLE, pipeline.CHECKIN_COLUMNS, rows, pipeline.CHECKIN_TYPES,
                   self.fact_data if rows is self.fact_rows else None)

    def _follow_up(self, new: list, summary: _Summary) -> None:
        """What the pipeline does after writing: distribution (only when a rule routes
        check-ins anywhere) and the evidence note for hours and real-time rules."""
        from skillguard.attendance.services import note_evidence
        from skillguard.distribution.services import routes_for

        routes = routes_for(TYPE)
        if routes:  # build the feed items only when some rule routes check-ins
            written = []
            for index, v, s, trainee, enrolment, pk in new:
                written.append(NormalisedRecord(
                    index=index, line=self.items[index][0], record_type=TYPE,
                    external_id=v[0], data=None, payload=v[10], sha256=v[11],
                    refs={"session_id": s["pk"], "class_id": s["training_class_id"],
                          "trainee_id": trainee, "enrolment_id": enrolment,
                          "fact_id": pk, "target": f"{TABLE}:{pk}"},
                    district_id=s["district_id"],
                    institution_id=s["training_class__institution_id"]))
            pipeline.publish_written(self.client, TYPE, written, {}, routes=routes)
        note_evidence(pipeline.EVIDENCE_KINDS[TYPE], session_ids=summary.session_ids,
                      trainee_ids=summary.trainee_ids, institution_ids=summary.institution_ids)

    def _resolve_quarantine(self, external_ids: list[str]) -> None:
        pipeline.resolve_quarantine(self.client, TYPE, self.sub, external_ids)

    def _audit(self, accepted: int, unchanged: int, lines: list[int]) -> None:
        pipeline.audit_import(self.client, self.sub, TYPE, lines, {
            pipeline.ACCEPTED: accepted, pipeline.UPDATED: 0,
            pipeline.UNCHANGED: unchanged, pipeline.REJECTED: 0})

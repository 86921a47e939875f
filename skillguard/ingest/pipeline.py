"""The record pipeline: validate → deduplicate → write → quarantine → audit, for one chunk.

``ingest_records`` is called by the synchronous API (one request = one chunk) and by the
batch worker (one chunk of a large upload at a time), always inside the caller's
transaction; it opens a savepoint of its own, so an exception leaves nothing half-written.

Idempotency: every record is identified by (client, record type, external id) in
``RecordIdentity``. Sending the same payload again is answered "unchanged" and writes
nothing; a different payload is "updated": version + 1, the earlier payload kept in
``RecordVersion``, the old fact row marked superseded (check-ins) or replaced.

Personal data at rest: quarantined payloads and earlier versions are stored masked, with
the full payload sealed beside them (``ingest.sealing``).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from skillguard.audit.models import AuditAction
from skillguard.audit.services import _event
from skillguard.core.errors import BusinessRuleError
from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.ingest.models import (
    QuarantinedRecord,
    QuarantineStatus,
    RecordIdentity,
    RecordVersion,
    Submission,
)
from skillguard.ingest.records import FACT_TYPES
from skillguard.ingest.sealing import mask_payload, seal_payload, submission_body
from skillguard.ingest.validation import (
    NormalisedRecord,
    target_of,
    target_pk,
    validate_records,
)

ACCEPTED, UNCHANGED, UPDATED, REJECTED = "accepted", "unchanged", "updated", "rejected"
# Record type → the trigger of real-time supervision rules (supervision.rules.base.Trigger).
EVIDENCE_KINDS = {"checkin": "checkin", "session": "session", "roster": "enrolment",
                  "class": "session", "trainee": "enrolment", "learning_session": "learning",
                  "learning_event": "learning", "assessment": "assessment"}


@dataclass
class RecordResult:
    index: int
    external_id: str
    status: str  # accepted | unchanged | updated | rejected
    problems: list[dict] = field(default_factory=list)
    version: int | None = None


@dataclass
class Outcome:
    accepted: int  # new and updated records
    unchanged: int
    rejected: int
    results: list[RecordResult]

    @property
    def updated(self) -> int:
        return sum(1 for r in self.results if r.status == UPDATED)


def ingest_records(client, submission, record_type: str, raws: list[dict], *,
                   first_line: int = 1, lines: list[int] | None = None, batch=None) -> Outcome:
    """Ingest one chunk of records of one type sent by ``client`` in ``submission``.

    ``submission`` is a SubmissionRef (id, received_at, district_id). The records' line
    numbers are ``first_line`` onwards, or ``lines`` (one per record) when they are not
    consecutive (what the bulk check-in path leaves over). Runs inside the caller's
    transaction (a savepoint of its own); returns one result per raw record, in order."""
    with transaction.atomic():
        lines = list(lines) if lines is not None else list(
            range(first_line, first_line + len(raws)))
        return _Run(client, submission, record_type, raws, lines, batch).run()


class _Run:
    def __init__(self, client, submission, record_type, raws, lines, batch):
        self.client, self.sub, self.type = client, submission, record_type
        self.raws, self.lines, self.batch = raws, lines, batch
        self.results: dict[int, RecordResult] = {}
        self.rejected: dict[int, list] = {}

    # ------------------------------------------------------------------ orchestration

    def run(self) -> Outcome:
        valid, problems = validate_records(self.client, self.type, self.raws, lines=self.lines)
        for index, ps in problems:
            self.rejected[index] = ps
        # "= ANY(array)": one parameter, whatever the chunk size (an IN list of thousands of
        # placeholders costs more to build than to run).
        existing = {ri.external_id: ri for ri in RecordIdentity.objects.select_for_update()
                    .filter(client=self.client, record_type=self.type)
                    .extra(where=["external_id = ANY(%s)"],
                           params=[[r.external_id for r in valid]])} if valid else {}
        new, changed = [], []
        for rec in valid:
            identity = existing.get(rec.external_id)
            if identity is None:
                new.append(rec)
            elif identity.payload_sha256 == rec.sha256:
                self._result(rec, UNCHANGED, identity.version)
            else:
                changed.append((rec, identity))
        if self.type in FACT_TYPES:  # the fact row's id is known before it is written
            table = FACT_TYPES[self.type]
            for rec, pk in zip(new, _next_ids(table, len(new)) if new else []):
                rec.refs["fact_id"], rec.refs["target"] = pk, f"{table}:{pk}"
        new = self._claim_identities(new)
        writer = WRITERS.get(self.type, lambda run, n, c: ({}, {}))
        done_new, done_changed = writer(self, new, changed)
        self._finish_new(new, done_new)
        self._finish_changed(changed, done_changed)
        written = ([(r, done_new[r.index]) for r in new if r.index in done_new]
                   + [(r, done_changed[r.index]) for r, _i in changed if r.index in done_changed])
        self._distribute([r for r, _t in written])
        self._note_evidence(written)
        self._quarantine()
        self._resolve_quarantine(valid)
        self._audit()
        ordered = [self.results[i] for i in sorted(self.results)]
        return Outcome(
            accepted=sum(1 for r in ordered if r.status in (ACCEPTED, UPDATED)),
            unchanged=sum(1 for r in ordered if r.status == UNCHANGED),
            rejected=sum(1 for r in ordered if r.status == REJECTED), results=ordered)

    def _distribute(self, written: list[NormalisedRecord]) -> None:
        publish_written(self.client, self.type, written,
                        {r.index: self.results[r.index].version for r in written})

    def _note_evidence(self, written: list[tuple[NormalisedRecord, str]]) -> None:
        """Queue the recomputation of hours and the real-time warning rules for what was
        written (same transaction: committed together or not at all)."""
        from skillguard.attendance.services import note_evidence

        kind = EVIDENCE_KINDS.get(self.type)
        if not kind or not written:
            return
        sessions, trainees, institutions = set(), set(), set()
        for rec, target in written:
            if self.type == "session" and target_pk(target):  # the session row itself
                sessions.add(target_pk(target))
            elif isinstance(rec.refs.get("session_id"), int):
                sessions.add(rec.refs["session_id"])
            if isinstance(rec.refs.get("trainee_id"), int):
                trainees.add(rec.refs["trainee_id"])
            if rec.institution_id:
                institutions.add(rec.institution_id)
        note_evidence(kind, session_ids=sessions, trainee_ids=trainees,
                      institution_ids=institutions)

    def _result(self, rec: NormalisedRecord, status: str, version=None) -> None:
        self.results[rec.index] = RecordResult(rec.index, rec.external_id, status,
                                               version=version)

    def reject(self, rec: NormalisedRecord, exc: BusinessRuleError) -> None:
        for p in exc.problems:
            p.record = rec.label
        self.rejected[rec.index] = list(exc.problems)

    # ------------------------------------------------------------------ identities

    def _claim_identities(self, new: list[NormalisedRecord]) -> list[NormalisedRecord]:
        """INSERT … ON CONFLICT DO NOTHING RETURNING: the records this run owns. A record
        another transaction inserted meanwhile is answered unchanged (it was received)."""
        if not new:
            return []
        claimed: dict[str, int] = {}
        # The candidates go by binary COPY into a session-private staging table, then one
        # set-based INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING claims them.
        open_claim_stage()
        _copy(CLAIM_STAGE, CLAIM_STAGE_COLUMNS,
              [(r.external_id, r.sha256, r.refs.get("target", ""), r.district_id or 0,
                r.institution_id) for r in new], CLAIM_STAGE_TYPES)
        with connection.cursor() as cur:
            cur.execute(claim_statement("external_id, id"),
                        claim_params(self.client, self.type, self.sub))
            claimed.update(dict(cur.fetchall()))
        owned = []
        for rec in new:
            if rec.external_id in claimed:
                rec.refs["identity_id"] = claimed[rec.external_id]
                owned.append(rec)
            else:
                self._result(rec, UNCHANGED, None)
        return owned

    def _finish_new(self, new, done: dict[int, str]) -> None:
        failed = [rec.refs["identity_id"] for rec in new if rec.index not in done]
        if failed:
            RecordIdentity.objects.filter(pk__in=failed).delete()
        ids, targets = [], []
        for rec in new:
            if rec.index in done:
                self._result(rec, ACCEPTED, 1)
                if done[rec.index] != rec.refs.get("target"):  # not claimed with its target
                    ids.append(rec.refs["identity_id"])
                    targets.append(done[rec.index])
        if ids:
            # One UPDATE … FROM unnest: bulk_update's CASE chains cost seconds per chunk.
            with connection.cursor() as cur:
                cur.execute(
                    f"UPDATE {RecordIdentity._meta.db_table} AS r SET target = v.target "
                    "FROM unnest(%s::bigint[], %s::text[]) AS v(id, target) WHERE r.id = v.id",
                    [ids, targets])

    def _finish_changed(self, changed, done: dict[int, str]) -> None:
        ok = [(rec, identity) for rec, identity in changed if rec.index in done]
        if not ok:
            return
        previous = self._previous_payloads([identity for _, identity in ok])
        versions = []
        for rec, identity in ok:
            earlier = previous.get(identity.external_id)
            masked, sealed = seal_payload(earlier) if earlier else (
                {"unavailable": True, "payload_sha256": identity.payload_sha256}, "")
            versions.append(RecordVersion(
                identity=identity, version=identity.version, payload=masked,
                payload_enc=sealed, submission_id=identity.last_submission_id))
            identity.version += 1
            identity.payload_sha256 = rec.sha256
            identity.target = done[rec.index]
            identity.last_submission_id = self.sub.id
            identity.updated_at = timezone.now()
            self._result(rec, UPDATED, identity.version)
        RecordVersion.objects.bulk_create(versions, batch_size=2000)
        RecordIdentity.objects.bulk_update(
            [i for _, i in ok], ["version", "payload_sha256", "target", "last_submission_id",
                                 "updated_at"], batch_size=2000)

    def _previous_payloads(self, identities) -> dict[str, dict]:
        """The payloads being replaced, read back from the signed bytes they came in
        (JSON, JSON Lines, CSV or XLSX): nothing is stored twice.

        An earlier body larger than ``PREVIOUS_BODY_MAX`` is not re-read: every chunk of a
        batch that re-sends a large batch would otherwise parse that whole body again. Its
        version row then says ``unavailable`` and still names the submission, whose signed
        bytes are kept (``sealing.submission_body``)."""
        from skillguard.ingest.batches import iter_records
        from skillguard.ingest.models import IngestBatch

        wanted = {i.external_id for i in identities}
        subs = {i.last_submission_id for i in identities}
        formats = dict(IngestBatch.objects.filter(submission_id__in=subs)
                       .values_list("submission_id", "file_format"))
        found: dict[str, dict] = {}
        for sub in Submission.objects.filter(id__in=subs).only(
                "district_id", "received_at", "id", "body", "body_key", "body_parts",
                "body_stored_size"):
            size = sub.body_stored_size if sub.body_stored_size is not None else len(sub.body)
            if size > PREVIOUS_BODY_MAX:
                continue
            body, fmt = submission_body(sub), formats.get(sub.id, "jsonl")
            if fmt == "jsonl":
                records = _records_in(body)
            else:
                try:
                    records = [r for _line, r in iter_records(io.BytesIO(body), fmt, self.type)]
                except Exception:  # an earlier file that no longer parses: keep the sha only
                    records = []
            for rec in records:
                ext = rec.get("external_id") if isinstance(rec, dict) else None
                if ext in wanted and ext not in found:
                    found[ext] = rec
        return found

    # ------------------------------------------------------------------ quarantine

    def _quarantine(self) -> None:
        if not self.rejected:
            return
        entries = []
        for index, problems in sorted(self.rejected.items()):
            raw = self.raws[index]
            ext = raw.get("external_id") if isinstance(raw, dict) else ""
            ext = ext.strip()[:64] if isinstance(ext, str) else ""
            dicts = [p.as_dict() for p in problems]
            self.results[index] = RecordResult(index, ext, REJECTED, dicts)
            entries.append((index, ext, raw if isinstance(raw, dict) else {"value": raw}, dicts))
        # One open entry per (client, type, external id): a re-sent bad record refreshes it.
        open_ = {}
        for q in QuarantinedRecord.objects.select_for_update().filter(
                client=self.client, record_type=self.type, status=QuarantineStatus.OPEN,
                external_id__in={e for _, e, _, _ in entries if e}):
            open_.setdefault(q.external_id, q)
        create, update = [], []
        for index, ext, payload, dicts in entries:
            q = open_.get(ext) if ext else None
            masked, sealed = seal_payload(payload)  # screens show masked personal data
            if q is not None:
                q.payload, q.payload_enc, q.problems = masked, sealed, dicts
                q.submission_id, q.line_number, q.batch = (
                    self.sub.id, self.lines[index], self.batch)
                update.append(q)
            else:
                create.append(QuarantinedRecord(
                    client=self.client, district_id=self.client.district_key,
                    institution_id=self.client.institution_id, record_type=self.type,
                    external_id=ext, submission_id=self.sub.id, batch=self.batch,
                    line_number=self.lines[index], payload=masked, payload_enc=sealed,
                    problems=dicts))
        _copy_quarantine(create)
        QuarantinedRecord.objects.bulk_update(
            update, ["payload", "payload_enc", "problems", "submission_id", "line_number",
                     "batch"], batch_size=2000)

    def _resolve_quarantine(self, valid) -> None:
        resolve_quarantine(self.client, self.type, self.sub,
                           [r.external_id for r in valid if self.results.get(r.index)
                            and self.results[r.index].status != REJECTED])

    def _audit(self) -> None:
        audit_import(self.client, self.sub, self.type, self.lines,
                     {s: sum(1 for r in self.results.values() if r.status == s)
                      for s in (ACCEPTED, UPDATED, UNCHANGED, REJECTED)})


def publish_written(client, record_type: str, written, versions: dict[int, int | None], *,
                    routes=None) -> None:
    """Hand what was written to the distribution rules (汇集分发), same transaction.
    Personal data leaves only masked: subscribers match people by the platform's ids.
    ``routes``: ``routes_for(record_type)`` when the caller already asked."""
    from skillguard.distribution.services import FeedItem, publish, routes_for

    if not written:
        return
    routes = routes_for(record_type) if routes is None else routes
    if not routes:  # nobody subscribes to this type: nothing to mask or write
        return
    items = []
    for rec in written:
        payload = mask_payload(rec.payload)
        payload["platform_refs"] = {k: v for k, v in rec.refs.items()
                                    if k.endswith("_id") and isinstance(v, int)}
        items.append(FeedItem(
            external_key=f"{client.pk}:{rec.external_id}",
            district_ids={"venue_district": rec.district_id or None,
                          "residence_district": rec.refs.get("residence_district_id"),
                          "institution_district": rec.district_id or None},
            institution_id=rec.institution_id, payload=payload,
            version=versions.get(rec.index) or 1))
    publish(record_type, items, routes=routes)


CLAIM_STAGE, CLAIM_STAGE_COLUMNS = "ingest_claim_stage", ("e", "h", "t", "d", "i")
CLAIM_STAGE_TYPES = ("text", "text", "text", "int8", "int8")


def open_claim_stage() -> None:
    """The session-private, emptied table that identity claims are staged in
    (external id, hash, target, district, institution)."""
    with connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {CLAIM_STAGE} (e text, h text, t text, "
                    "d bigint, i bigint) ON COMMIT DELETE ROWS")
        # DELETE, not TRUNCATE: emptying an empty table should not give it a new file (and
        # catalogue rows) every chunk; what a chunk leaves goes at its commit anyway.
        cur.execute(f"DELETE FROM {CLAIM_STAGE}")


def claim_statement(returning: str) -> str:
    """Claim the staged identities that do not exist yet (parameters: ``claim_params``).
    One order for every writer: two chunks claiming the same ids wait for each other
    instead of deadlocking."""
    return ("INSERT INTO ingest_recordidentity (client_id, record_type, external_id, version, "
            "payload_sha256, target, district_id, institution_id, first_submission_id, "
            "last_submission_id, created_at, updated_at) "
            f"SELECT %s, %s, e, 1, h, t, d, i, %s, %s, %s, %s FROM {CLAIM_STAGE} ORDER BY e "
            "ON CONFLICT (client_id, record_type, external_id) DO NOTHING "
            f"RETURNING {returning}")


def claim_params(client, record_type: str, sub) -> list:
    now = timezone.now()
    return [client.pk, record_type, sub.id, sub.id, now, now]


def resolve_quarantine(client, record_type: str, sub, external_ids: list[str]) -> None:
    """Open quarantine entries of records now received valid are resolved by ``sub``."""
    if not external_ids:
        return
    open_ = QuarantinedRecord.objects.filter(client=client, record_type=record_type,
                                             status=QuarantineStatus.OPEN)
    if open_.exists():  # usually none: skip matching thousands of ids against nothing
        open_.extra(where=["external_id = ANY(%s)"], params=[external_ids]).update(
            status=QuarantineStatus.RESUBMITTED, resolved_at=timezone.now(),
            resolved_by_submission_id=sub.id)


def audit_import(client, sub, record_type: str, lines: list[int], counts: dict) -> None:
    """One audit event for a chunk of records ingested from ``sub``: counts by outcome."""
    event = _event(client.user, AuditAction.IMPORT, object_type="ingest.submission",
                   object_id=str(sub.id), object_repr=f"{record_type} ×{len(lines)}",
                   changes={k: [None, v] for k, v in counts.items()},
                   comment=lines_comment(lines))
    event.district_id = client.district_key or None
    event.institution_id = client.institution_id
    event.save()


def lines_comment(lines) -> str:
    if not lines:
        return "lines –"
    first, last = min(lines), max(lines)
    if last - first + 1 == len(lines):
        return f"lines {first}–{last}"
    return f"lines {first}–{last} ({len(lines)} of them)"


QUARANTINE_COLUMNS = ("client_id", "district_id", "institution_id", "record_type",
                      "external_id", "submission_id", "batch_id", "line_number", "payload",
                      "payload_enc", "problems", "status", "created_at")


def _copy_quarantine(entries: list[QuarantinedRecord]) -> None:
    """New quarantine entries by COPY (a bad file can reject every line of a chunk)."""
    from psycopg.types.json import Jsonb

    now = timezone.now()
    _copy(QuarantinedRecord._meta.db_table, QUARANTINE_COLUMNS, [
        (q.client_id, q.district_id, q.institution_id, q.record_type, q.external_id,
         q.submission_id, q.batch_id, q.line_number, Jsonb(q.payload), q.payload_enc,
         Jsonb(q.problems), q.status, now) for q in entries])


# Earlier bodies up to this size (stored bytes) are re-read for the payload a new version
# replaces; larger ones are referenced, not re-parsed (see _Run._previous_payloads).
PREVIOUS_BODY_MAX = 8 * 2**20


def _records_in(body: bytes) -> list:
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
        if isinstance(doc, dict):
            return doc.get("records") or []
        return doc if isinstance(doc, list) else []
    except ValueError:
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


# --------------------------------------------------------------------------- writers
# Each writer gets (run, new records, [(changed record, identity)]) and returns
# ({index: target} of new records written, {index: target} of changed records written).


def _local_months(times):
    """First and last local day of the times (local days follow the instants' order)."""
    times = list(times)
    return timezone.localtime(min(times)).date(), timezone.localtime(max(times)).date()


def _next_ids(table: str, n: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT nextval('{table}_id_seq') FROM generate_series(1, %s)", [n])
        return [r[0] for r in cur.fetchall()]


def _fact_ids(table: str, recs) -> list[int]:
    """Ids of the fact rows: those allocated when a new record's identity was claimed,
    fresh ones for the rest (changed records)."""
    missing = [r for r in recs if "fact_id" not in r.refs]
    fresh = iter(_next_ids(table, len(missing)) if missing else [])
    return [r.refs["fact_id"] if "fact_id" in r.refs else next(fresh) for r in recs]


def _copy(table: str, columns: tuple[str, ...], rows: list[tuple],
          types: tuple[str, ...] | None = None) -> None:
    """COPY rows into a table; binary (cheaper to encode) when the column types are given."""
    if not rows:
        return
    connection.ensure_connection()
    binary = " (FORMAT BINARY)" if types else ""
    with connection.connection.cursor() as cur, \
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{binary}") as cp:
        if types:
            cp.set_types(list(types))
        for row in rows:
            cp.write_row(row)


CHECKIN_COLUMNS = ("id", "district_id", "occurred_at", "kind", "method", "session_id",
                   "training_class_id", "institution_id", "enrolment_id", "trainee_id",
                   "device_id", "latitude", "longitude", "ip", "source_client_id",
                   "external_id", "submission_id", "received_at", "version", "superseded")
CHECKIN_TYPES = ("int8", "int8", "timestamptz", "text", "text", "int8", "int8", "int8", "int8",
                 "int8", "text", "numeric", "numeric", "inet", "int8", "text", "uuid",
                 "timestamptz", "int4", "bool")


def write_checkins(run: _Run, new, changed):
    table = FACT_TYPES["checkin"]
    items = [(rec, 1) for rec in new] + [(rec, identity.version + 1)
                                         for rec, identity in changed]
    if not items:
        return {}, {}
    if changed:
        with connection.cursor() as cur:
            cur.execute(f"UPDATE {table} SET superseded = true WHERE source_client_id = %s "
                        "AND external_id = ANY(%s) AND NOT superseded",
                        [run.client.pk, [rec.external_id for rec, _ in changed]])
    first, last = _local_months([rec.data.occurred_at for rec, _ in items])
    ensure_monthly_partitions(table, first, last)
    ids = _fact_ids(table, [rec for rec, _ in items])
    rows, targets = [], {}
    for (rec, version), pk in zip(items, ids):
        d = rec.data
        rows.append((pk, rec.district_id, d.occurred_at, d.kind, d.method, rec.refs["session_id"],
                     rec.refs["class_id"], rec.institution_id, rec.refs["enrolment_id"],
                     rec.refs["trainee_id"], d.device_id, d.latitude, d.longitude,
                     d.ip, run.client.pk, rec.external_id, run.sub.id,
                     run.sub.received_at, version, False))
        targets[rec.index] = f"{table}:{pk}"
    _copy(table, CHECKIN_COLUMNS, rows, CHECKIN_TYPES)
    return ({rec.index: targets[rec.index] for rec in new},
            {rec.index: targets[rec.index] for rec, _ in changed})


EVENT_COLUMNS = ("id", "district_id", "occurred_at", "learning_session_id", "institution_id",
                 "trainee_id", "kind", "position_s", "value", "source_client_id", "external_id",
                 "submission_id", "received_at")


def write_learning_events(run: _Run, new, changed):
    """Learning events have no superseded flag: a changed event replaces its row (the
    earlier payload stays in RecordVersion)."""
    table = FACT_TYPES["learning_event"]
    items = list(new) + [rec for rec, _ in changed]
    if not items:
        return {}, {}
    if changed:
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {table} WHERE source_client_id = %s "
                        "AND external_id = ANY(%s)",
                        [run.client.pk, [rec.external_id for rec, _ in changed]])
    first, last = _local_months([rec.data.occurred_at for rec in items])
    ensure_monthly_partitions(table, first, last)
    ids = _fact_ids(table, items)
    rows, targets = [], {}
    for rec, pk in zip(items, ids):
        d = rec.data
        rows.append((pk, rec.district_id, d.occurred_at, rec.refs["learning_session_id"],
                     rec.institution_id, rec.refs["trainee_id"], d.kind, d.position_s, d.value,
                     run.client.pk, rec.external_id, run.sub.id, run.sub.received_at))
        targets[rec.index] = f"{table}:{pk}"
    _copy(table, EVENT_COLUMNS, rows)
    return ({rec.index: targets[rec.index] for rec in new},
            {rec.index: targets[rec.index] for rec, _ in changed})


def _per_record(run: _Run, new, changed, create, update):
    """Registry records go through registry.services, one savepoint per record: a record
    the service refuses is quarantined with the service's problems, the rest stand."""
    done_new, done_changed = {}, {}
    for rec in new:
        try:
            with transaction.atomic():
                done_new[rec.index] = create(run, rec)
        except BusinessRuleError as exc:
            run.reject(rec, exc)
    for rec, identity in changed:
        try:
            with transaction.atomic():
                done_changed[rec.index] = update(run, rec, target_pk(identity.target))
        except BusinessRuleError as exc:
            run.reject(rec, exc)
    return done_new, done_changed


def _registry(create, update):
    return lambda run, new, changed: _per_record(run, new, changed, create, update)


def _trainee_create(run, rec):
    from skillguard.registry import services
    from skillguard.registry.models import District, Trainee

    d = rec.data
    district = District.objects.get(pk=rec.refs["residence_district_id"]) \
        if rec.refs.get("residence_district_id") else None
    trainee, _created = services.register_trainee(
        run.client.user, name=d.name, id_number=d.id_number, category=d.category, phone=d.phone,
        residence_district=district, institution=run.client.institution, record=rec.label)
    return target_of(Trainee, trainee.pk)


def _trainee_update(run, rec, pk):
    from skillguard.registry import services
    from skillguard.registry.models import Trainee

    trainee = Trainee.objects.get(pk=pk)
    if trainee.name != rec.data.name:
        from django.utils.translation import gettext_lazy as _

        from skillguard.core.errors import Problem
        raise BusinessRuleError([Problem("name", "name_mismatch", _(
            "does not match the name registered for this ID number"), "name")])
    services.update_trainee(run.client.user, trainee, phone=rec.data.phone,
                            category=rec.data.category,
                            residence_district_id=rec.refs.get("residence_district_id"))
    return target_of(Trainee, pk)


def _teacher_create(run, rec):
    from skillguard.registry import services
    from skillguard.registry.models import Teacher

    d = rec.data
    quals = [{"occupation_id": rec.refs["occupations"][q.occupation_code], "level": q.level,
              "certificate_number": q.certificate_number, "valid_until": q.valid_until}
             for q in d.qualifications]
    teacher = services.register_teacher(run.client.user, run.client.institution, name=d.name,
                                        id_number=d.id_number, phone=d.phone,
                                        qualifications=quals, record=rec.label)
    return target_of(Teacher, teacher.pk)


def _teacher_update(run, rec, pk):
    from skillguard.registry import services
    from skillguard.registry.models import Teacher

    services.update_teacher(run.client.user, Teacher.objects.get(pk=pk), name=rec.data.name,
                            phone=rec.data.phone)
    return target_of(Teacher, pk)


def _class_fields(rec):
    from skillguard.registry.models import Course, Teacher, Venue

    d = rec.data
    return {"name": d.name, "course": Course.objects.get(pk=rec.refs["course_id"]),
                "venue": Venue.objects.get(pk=rec.refs["venue_id"]) if rec.refs["venue_id"] else None,
                "mode": d.mode, "start_date": d.start_date, "end_date": d.end_date,
                "planned_hours": d.planned_hours, "capacity": d.capacity,
                "teachers": list(Teacher.objects.filter(pk__in=rec.refs["teacher_ids"]))}


def _class_create(run, rec):
    from skillguard.registry import services
    from skillguard.registry.models import TrainingClass

    cls = services.create_class(run.client.user, run.client.institution, **_class_fields(rec))
    return target_of(TrainingClass, cls.pk)


def _class_update(run, rec, pk):
    from skillguard.registry import services
    from skillguard.registry.models import TrainingClass

    services.update_class(run.client.user, TrainingClass.objects.get(pk=pk), **_class_fields(rec))
    return target_of(TrainingClass, pk)


def _roster_create(run, rec):
    from skillguard.registry import services
    from skillguard.registry.models import Enrolment, Trainee, TrainingClass

    cls = TrainingClass.objects.get(pk=rec.refs["class_id"])
    trainee = Trainee.objects.get(pk=rec.refs["trainee_id"])
    existing = Enrolment.objects.filter(training_class=cls, trainee=trainee).first()
    if existing:  # enrolled by other means: the record is received, nothing to write
        return target_of(Enrolment, existing.pk)
    enrolment = services.enrol_trainee(run.client.user, cls, trainee, record=rec.label)
    return target_of(Enrolment, enrolment.pk)


def _roster_update(run, rec, pk):
    from skillguard.registry.models import Enrolment

    enrolment = Enrolment.objects.filter(pk=pk).first()
    if enrolment and (enrolment.training_class_id, enrolment.trainee_id) == (
            rec.refs["class_id"], rec.refs["trainee_id"]):
        return target_of(Enrolment, pk)
    return _roster_create(run, rec)  # now names another class or trainee


def _session_fields(rec):
    from skillguard.registry.models import Room, Teacher

    d = rec.data
    return {"starts_at": d.starts_at, "ends_at": d.ends_at,
                "teacher": Teacher.objects.get(pk=rec.refs["teacher_id"]),
                "room": Room.objects.get(pk=rec.refs["room_id"]) if rec.refs.get("room_id") else None,
                "topic": d.topic}


def _session_create(run, rec):
    from skillguard.registry import services
    from skillguard.registry.models import Session, TrainingClass

    cls = TrainingClass.objects.get(pk=rec.refs["class_id"])
    session = services.add_session(run.client.user, cls, sequence=rec.data.sequence,
                                   record=rec.label, **_session_fields(rec))
    return target_of(Session, session.pk)


def _session_update(run, rec, pk):
    from skillguard.registry import services
    from skillguard.registry.models import Session

    services.update_session(run.client.user, Session.objects.get(pk=pk), **_session_fields(rec))
    return target_of(Session, pk)


def _learning_session_values(run, rec) -> dict:
    d = rec.data
    return {"district_id": rec.district_id, "institution_id": rec.institution_id,
                "enrolment_id": rec.refs["enrolment_id"], "trainee_id": rec.refs["trainee_id"],
                "course_unit": d.course_unit, "started_at": d.started_at, "ended_at": d.ended_at,
                "device_id": d.device_id, "ip": str(d.ip) if d.ip else None,
                "source_client_id": run.client.pk, "external_id": rec.external_id}


def _assessment_values(run, rec) -> dict:
    d = rec.data
    return {"district_id": rec.district_id, "institution_id": rec.institution_id,
                "enrolment_id": rec.refs["enrolment_id"], "trainee_id": rec.refs["trainee_id"],
                "name": d.name, "taken_at": d.taken_at, "score": d.score, "max_score": d.max_score,
                "passed": d.passed, "source_client_id": run.client.pk, "external_id": rec.external_id}


def _bulk_model(model_path: str, values):
    """Online learning sessions and assessments: plain tables, written with bulk_create /
    bulk_update (their volume is per sitting, not per heartbeat)."""
    def write(run, new, changed):
        from django.apps import apps

        model = apps.get_model(model_path)
        objs = [model(**values(run, rec)) for rec in new]
        model.objects.bulk_create(objs, batch_size=2000)
        done_new = {rec.index: target_of(model, o.pk) for rec, o in zip(new, objs)}
        updates = []
        for rec, identity in changed:
            obj = model(pk=target_pk(identity.target), **values(run, rec))
            updates.append(obj)
        fields = [f for f in values(run, changed[0][0])] if changed else []
        if updates:
            model.objects.bulk_update(updates, fields, batch_size=2000)
        return done_new, {rec.index: identity.target for rec, identity in changed}
    return write


WRITERS = {
    "checkin": write_checkins,
    "learning_event": write_learning_events,
    "trainee": _registry(_trainee_create, _trainee_update),
    "teacher": _registry(_teacher_create, _teacher_update),
    "class": _registry(_class_create, _class_update),
    "roster": _registry(_roster_create, _roster_update),
    "session": _registry(_session_create, _session_update),
    "learning_session": _bulk_model("learning.LearningSession", _learning_session_values),
    "assessment": _bulk_model("learning.Assessment", _assessment_values),
}

"""Large uploads (批量上传): a file of records stored once, processed by the worker in chunks.

``create_batch``  checks the file's structure (format, encoding, JSON per line, CSV/XLSX
                  header), stores the signed bytes as a ``Submission`` and an ``IngestBatch``,
                  and enqueues ``ingest.process_batch`` in the same transaction. A file that is
                  malformed as a whole makes a *failed* batch (its bytes are still kept) with a
                  precise error code; nothing of it is ever written as data.
``run_batch``     what the worker does: streams the stored bytes (read once, in slices, so
                  memory stays flat whatever the file's size), hands ``CHUNK_LINES`` records
                  at a time to ``pipeline.ingest_records`` and, in the same transaction, moves
                  the batch's counters and ``cursor``. A crash leaves whole chunks only; the
                  next run resumes after ``cursor``. Per-record problems go to quarantine.

Formats: JSON Lines (one object per line, UTF-8), CSV (UTF-8 or GBK/GB18030, first row the
record type's field names in English or Chinese) and XLSX (first sheet, same header).
Line numbers are physical lines (JSONL) or rows counting the header as row 1 (CSV, XLSX).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import gc
import io
import json
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format
from skillguard.ingest import bodies, sealing
from skillguard.ingest.models import BatchStatus, IngestBatch
from skillguard.ingest.records import RECORD_TYPES

try:  # optional: about twice as fast as the standard library
    import orjson

    _loads = orjson.loads
    _JSON_ERRORS: tuple = (orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

    def _no_constant(name: str):
        raise ValueError(f"{name} is not JSON")  # NaN / Infinity, as orjson refuses them

    _DECODER = json.JSONDecoder(parse_constant=_no_constant)  # built once, not per line

    def _loads(data: bytes):
        return _DECODER.decode(data.decode("utf-8"))
    _JSON_ERRORS = (ValueError, UnicodeDecodeError)

log = logging.getLogger(__name__)

CHUNK_LINES = 5_000  # records per transaction (and per progress step)
FAST_CHUNK_LINES = 20_000  # the same for check-ins on the bulk path (ingest.fastpath)
SLICE_BYTES = 8 * 2**20  # bytes fetched from the stored body at a time
# A large body is stored in parts (``ingest.bodies``), so the limit is about memory: an
# upload costs about five times its size in the web process while it is received, sealed
# and stored (500 MiB measured at 2.6 GiB peak). Larger histories go through several
# batches or ``load_history``.
DEFAULT_MAX_BYTES = 512 * 2**20

FORMATS = ("jsonl", "csv", "xlsx")
CONTENT_TYPES = {
    "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
    "application/json-seq": "jsonl", "application/x-jsonlines": "jsonl",
    "text/csv": "csv", "application/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
CSV_GB = "csv-gb"  # file_format of a CSV file in GBK/GB18030

ERROR_MESSAGES = {
    "batch_too_large": _("The file is larger than %(limit)s bytes; split it."),
    "unsupported_format": _("Send JSON Lines (application/x-ndjson), CSV (text/csv) or XLSX."),
    "unknown_record_type": _("Unknown record type."),
    "empty_file": _("The file holds no records."),
    "bad_encoding": _("Line %(line)s is not valid text: send UTF-8 (CSV may also be GBK/GB18030)."),
    "malformed_jsonl": _("Line %(line)s is not a JSON object (%(detail)s)."),
    "malformed_csv": _("The CSV file is malformed at row %(line)s (%(detail)s)."),
    "malformed_xlsx": _("The file could not be read as an Excel workbook (.xlsx)."),
    "missing_header": _("The first row must name the columns (the record type's fields)."),
    "unknown_columns": _("Unknown columns: %(detail)s."),
    "duplicate_columns": _("Columns named twice: %(detail)s."),
    "interrupted": _("Processing was interrupted (%(detail)s); it resumes automatically."),
    "hung": _("The worker made no progress at line %(line)s for %(detail)s minutes; its "
              "connection was ended and the batch resumes on another worker."),
    "stalled": _("Processing stopped at line %(line)s in every attempt (%(detail)s); the "
                 "batch is kept and can be retried after the cause is fixed."),
}
# A batch whose processing starts this many times at the same line without committing a
# chunk (its worker died each time) is failed with "stalled" rather than retried for ever.
MAX_STALLED_RUNS = 3
# A worker holding a batch without committing a chunk for this long is taken as hung (a
# chunk of 5,000 records takes about a second): its connection is ended, which rolls its
# chunk back and frees the batch for the stale-batch sweep.
HUNG_MINUTES = 15


class BatchError(Exception):
    """A file that cannot be read as a whole; ``code`` is part of the docking standard."""

    def __init__(self, code: str, line: int | None = None, detail: str = ""):
        self.code, self.line, self.detail = code, line, detail
        super().__init__(f"{code} (line {line}): {detail}")

    def as_json(self) -> str:
        return json.dumps({"code": self.code, "line": self.line, "detail": self.detail},
                          ensure_ascii=False)

    @property
    def message(self):
        return error_message(self.code, self.line, self.detail)


def error_message(code: str, line=None, detail: str = ""):
    template = ERROR_MESSAGES.get(code)
    if template is None:
        return detail or code
    return lazy_format(template, line=line if line is not None else "-", detail=detail,
                       limit=max_batch_bytes())


def parse_error(batch: IngestBatch) -> dict | None:
    """The batch's error as {code, line, detail, message} (None without one)."""
    if not batch.error:
        return None
    try:
        data = json.loads(batch.error)
    except ValueError:
        data = {"code": "error", "line": None, "detail": batch.error}
    data["message"] = str(error_message(data.get("code"), data.get("line"),
                                        data.get("detail", "")))
    return data


def max_batch_bytes() -> int:
    return int(getattr(settings, "SKILLGUARD_BATCH_MAX_BYTES", DEFAULT_MAX_BYTES))


def format_for(content_type: str, body_start: bytes = b"", file_name: str = "",
               declared: str = "") -> str:
    """jsonl, csv or xlsx from the Content-Type (or, for application/octet-stream, the
    declared format or the file name); raises BatchError."""
    base = (content_type or "").split(";")[0].strip().lower()
    if base in CONTENT_TYPES:
        return CONTENT_TYPES[base]
    declared = (declared or "").strip().lower()
    if base in ("application/octet-stream", "") and declared in ("jsonl", "csv", "xlsx"):
        return declared
    name = file_name.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"),
                        (".xlsx", "xlsx")):
        if name.endswith((suffix, suffix + ".gz")):
            return fmt
    if base in ("application/octet-stream", "") and body_start[:4] == b"PK\x03\x04":
        return "xlsx"
    raise BatchError("unsupported_format", detail=base)


# --------------------------------------------------------------------------- columns

def _norm(text) -> str:
    return re.sub(r"[\s_\-*＊:：()（）/.。]", "", str(text or "")).lower()


_IGNORED = {_norm(h) for h in ("序号", "行号", "no", "row", "#")}
_HEADER_CACHE: dict[str, dict[str, str]] = {}


def header_words(record_type: str) -> dict[str, str]:
    """Normalised header word → field name: the English field name and the Chinese label."""
    if record_type not in _HEADER_CACHE:
        words = {}
        for name, field in RECORD_TYPES[record_type].model_fields.items():
            words[_norm(name)] = name
            desc = field.description or ""
            if " / " in desc:
                zh = desc.rsplit(" / ", 1)[1]
                words[_norm(zh)] = name
                words[_norm(re.split(r"[（(]", zh)[0])] = name  # without the parenthesis
        _HEADER_CACHE[record_type] = words
    return _HEADER_CACHE[record_type]


def map_header(record_type: str, cells: list) -> list[str | None]:
    """Field name per column (None: ignored); raises BatchError for unknown/duplicate ones."""
    words = header_words(record_type)
    fields, unknown, seen, twice = [], [], set(), []
    for cell in cells:
        text = "" if cell is None else str(cell).strip()
        key = _norm(text)
        if not key or key in _IGNORED:
            fields.append(None)
            continue
        name = words.get(key)
        if name is None:
            unknown.append(text)
        elif name in seen:
            twice.append(text)
        seen.add(name)
        fields.append(name)
    if unknown:
        raise BatchError("unknown_columns", 1, ", ".join(unknown))
    if twice:
        raise BatchError("duplicate_columns", 1, ", ".join(twice))
    if not seen:
        raise BatchError("missing_header", 1)
    return fields


def _cell(value):
    if isinstance(value, str):
        value = value.strip()
        if value[:1] in "[{" and value[-1:] in "]}":  # a list or object field (JSON in a cell)
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _row_dict(fields: list[str | None], cells) -> dict | None:
    """The record of a CSV/XLSX row (blank cells left out); None for a blank row."""
    record = {}
    for name, value in zip(fields, cells):
        if name is None or value is None or (isinstance(value, str) and not value.strip()):
            continue
        record[name] = _cell(value)
    if len(cells) > len(fields) and any(
            c not in (None, "") and str(c).strip() for c in cells[len(fields):]):
        record["_extra_cells"] = [c for c in cells[len(fields):]]  # refused by the schema
    return record or None


# --------------------------------------------------------------------------- readers

def iter_records(stream, fmt: str, record_type: str, *, after: int = 0
                 ) -> Iterator[tuple[int, dict]]:
    """(line number, record) of every record after line ``after``; raises BatchError."""
    if fmt == "jsonl":
        yield from _jsonl(stream, after)
    elif fmt in ("csv", CSV_GB):
        yield from _csv(stream, "gb18030" if fmt == CSV_GB else "utf-8-sig", record_type, after)
    elif fmt == "xlsx":
        yield from _xlsx(stream, record_type, after)
    else:
        raise BatchError("unsupported_format", detail=fmt)


def _jsonl(stream, after: int) -> Iterator[tuple[int, dict]]:
    loads = _loads
    line_no = 0
    for line in stream:
        line_no += 1
        if line_no <= after:
            continue
        if line_no == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[3:]
        if not line.strip():
            continue
        try:
            record = loads(line)
        except UnicodeDecodeError:
            raise BatchError("bad_encoding", line_no) from None
        except _JSON_ERRORS as exc:
            if isinstance(exc, ValueError) and "utf-8" in str(exc).lower():
                raise BatchError("bad_encoding", line_no) from None
            raise BatchError("malformed_jsonl", line_no, str(exc)[:200]) from None
        if type(record) is not dict:
            raise BatchError("malformed_jsonl", line_no, "not an object")
        yield line_no, record


def _csv(stream, encoding: str, record_type: str, after: int) -> Iterator[tuple[int, dict]]:
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text)
    row_no = 0
    fields = None
    try:
        for cells in reader:
            row_no += 1
            if fields is None:
                if cells and "\x00" in "".join(cells):
                    raise BatchError("bad_encoding", row_no)
                fields = map_header(record_type, cells)
                continue
            if row_no <= after:
                continue
            record = _row_dict(fields, cells)
            if record is not None:
                yield row_no, record
    except UnicodeDecodeError:
        raise BatchError("bad_encoding", row_no + 1) from None
    except csv.Error as exc:
        raise BatchError("malformed_csv", reader.line_num, str(exc)) from None
    finally:
        text.detach()
    if fields is None:
        raise BatchError("missing_header", 1)


def _xlsx(stream, record_type: str, after: int) -> Iterator[tuple[int, dict]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged archive
        raise BatchError("malformed_xlsx") from None
    fields = None
    try:
        for row_no, cells in enumerate(rows, start=1):
            if fields is None:
                fields = map_header(record_type, list(cells))
                continue
            if row_no <= after:
                continue
            record = _row_dict(fields, list(cells))
            if record is not None:
                yield row_no, record
    except BatchError:
        raise
    except Exception:  # noqa: BLE001 - a damaged sheet
        raise BatchError("malformed_xlsx") from None
    finally:
        workbook.close()
    if fields is None:
        raise BatchError("missing_header", 1)


@dataclass
class Inspection:
    file_format: str
    total: int


def inspect(body: bytes, fmt: str, record_type: str) -> Inspection:
    """Read the whole file once, keeping nothing: its record count, or a BatchError."""
    if record_type not in RECORD_TYPES:
        raise BatchError("unknown_record_type", detail=record_type)
    if len(body) > max_batch_bytes():
        raise BatchError("batch_too_large", detail=str(len(body)))
    if fmt == "csv":
        try:
            codecs.decode(body, "utf-8")  # strict; the BOM is valid UTF-8 too
        except UnicodeDecodeError:
            fmt = CSV_GB
    total = 0
    for _line, _record in iter_records(io.BytesIO(body), fmt, record_type):
        total += 1
    if not total:
        raise BatchError("empty_file")
    return Inspection(fmt, total)


# --------------------------------------------------------------------------- the stored body

class BodyStream(io.RawIOBase):
    """The stored body of a submission, fetched ``SLICE_BYTES`` at a time (seekable); a
    sealed body (``ingest.sealing``) is fetched and opened one segment at a time."""

    def __init__(self, batch: IngestBatch):
        self.key = (batch.district_id, batch.submission_received_at, batch.submission_id)
        with connection.cursor() as cur:
            cur.execute("SELECT coalesce(body_stored_size, octet_length(body)), body_key, "
                        "body_parts FROM ingest_submission WHERE district_id = %s AND "
                        "received_at = %s AND id = %s", self.key)
            row = cur.fetchone()
        if row is None:
            raise BatchError("missing_submission", detail=str(batch.submission_id))
        self.stored_size, self.body_key, self.parts = row
        self.size, self.pos = sealing.plain_size(self.body_key, self.stored_size), 0
        self.buf, self.buf_start = b"", 0
        self.bytes_fetched = 0

    def _fetch(self, pos: int) -> tuple[bytes, int]:
        """(plain bytes, their start) of the slice or segment holding ``pos``."""
        if not self.body_key:
            start, offset, length = pos, pos, SLICE_BYTES
        else:
            index = pos // sealing.SEGMENT
            start, offset = index * sealing.SEGMENT, index * sealing.SEALED_SEGMENT
            length = sealing.SEALED_SEGMENT
        with connection.cursor() as cur:
            raw = bodies.read_range(cur, self.key, self.parts, offset, length)
        self.bytes_fetched += len(raw)
        if self.body_key:
            raw = sealing.open_segment(self.body_key, index, raw,
                                       offset + len(raw) >= self.stored_size)
        return raw, start

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, target) -> int:
        if self.pos >= self.size:
            return 0
        offset = self.pos - self.buf_start
        if not (0 <= offset < len(self.buf)):
            self.buf, self.buf_start = self._fetch(self.pos)
            offset = self.pos - self.buf_start
        n = min(len(target), len(self.buf) - offset)
        target[:n] = self.buf[offset:offset + n]
        self.pos += n
        return n


# --------------------------------------------------------------------------- creating

def _pipeline():
    from skillguard.ingest import pipeline, services

    return pipeline, services


def _fastpath():
    from skillguard.ingest import fastpath

    return fastpath


def create_batch(client, verified, record_type: str, content_type: str, body: bytes, *,
                 method: str = "POST", path: str = "", file_name: str = "",
                 enqueue: bool = True, declared_format: str = ""
                 ) -> tuple[IngestBatch, BatchError | None]:
    """Store the upload and its batch; enqueue it unless its file is malformed (then the
    batch is stored as failed with the error, and the error is returned too)."""
    from skillguard.ingest import services

    error, inspection = None, None
    try:
        fmt = format_for(content_type, body[:4], file_name, declared_format)
        inspection = inspect(body, fmt, record_type)
    except BatchError as exc:
        error = exc
    with transaction.atomic():
        ref = services.store_submission(client, verified, method, path, content_type, body,
                                        inspection.total if inspection else 0)
        batch = IngestBatch.objects.create(
            client=client, district_id=ref.district_id or client.district_key,
            institution_id=client.institution_id, submission_id=ref.id,
            submission_received_at=ref.received_at, record_type=record_type[:32],
            file_format=inspection.file_format if inspection else "",
            total=inspection.total if inspection else 0,
            status=BatchStatus.FAILED if error else BatchStatus.QUEUED,
            error=error.as_json() if error else "",
            finished_at=timezone.now() if error else None)
        if error is None and enqueue:
            enqueue_batch(batch.id)
    return batch, error


def enqueue_batch(batch_id) -> bool:
    """Defer ``ingest.process_batch`` (once: a batch already waiting is not queued twice)."""
    from procrastinate import exceptions

    from skillguard.ingest.tasks import process_batch

    try:
        process_batch.configure(queueing_lock=f"batch-{batch_id}").defer(
            batch_id=str(batch_id))
    except exceptions.AlreadyEnqueued:
        return False
    return True


# --------------------------------------------------------------------------- processing

def _lock_key(batch_id) -> str:
    return f"ingest-batch:{batch_id}"


def try_lock(batch_id) -> bool:
    """A session-level advisory lock: one worker per batch; a dead worker's lock goes with
    its connection."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [_lock_key(batch_id)])
        return cur.fetchone()[0]


def unlock(batch_id) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_lock_key(batch_id)])


def chunk_size(record_type: str = "") -> int:
    """Records per transaction: ``SKILLGUARD_BATCH_CHUNK_LINES`` when set; otherwise 5,000,
    or 20,000 for check-ins on the bulk path, whose per-record cost is small enough that a
    chunk's fixed costs (reference queries, commit) would otherwise dominate."""
    configured = os.environ.get("SKILLGUARD_BATCH_CHUNK_LINES") or getattr(
        settings, "SKILLGUARD_BATCH_CHUNK_LINES", None)
    if configured:
        return int(configured)
    fastpath = _fastpath()
    if record_type == fastpath.TYPE and fastpath.enabled():
        return FAST_CHUNK_LINES
    return CHUNK_LINES


def run_batch(batch_id, *, chunk_lines: int | None = None,
              on_chunk: Callable[[IngestBatch, int], None] | None = None) -> str:
    """Process (or resume) a batch; returns what happened. Idempotent: a finished batch is
    left alone and a batch another worker holds is skipped."""
    batch = IngestBatch.objects.filter(pk=batch_id).select_related("client").first()
    if batch is None:
        return "missing"
    if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
        return "finished"
    if not try_lock(batch.pk):
        return "locked"
    try:
        with _quiet_collector():
            return _run_locked(batch, chunk_lines or chunk_size(batch.record_type), on_chunk)
    finally:
        unlock(batch.pk)


class _quiet_collector:
    """While a batch runs, the objects that were alive before it (Django, the app, its
    caches: hundreds of thousands) are moved out of the cyclic collector's sight
    (``gc.freeze``), and the young generation is collected less often. Otherwise every
    full collection triggered by the chunk's short-lived records walks all of them again:
    measured at a third of a check-in chunk's time."""

    def __enter__(self):
        self.threshold = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(self.threshold[0], 50_000), *self.threshold[1:])
        return self

    def __exit__(self, *exc):
        gc.set_threshold(*self.threshold)
        gc.unfreeze()
        return False


def _run_locked(batch: IngestBatch, chunk_lines: int, on_chunk) -> str:
    pipeline, services = _pipeline()
    batch.refresh_from_db()
    if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
        return "finished"
    runs = batch.stalled_runs + 1 if batch.stalled_cursor == batch.cursor else 1
    if runs > MAX_STALLED_RUNS:
        error = BatchError("stalled", batch.cursor + 1,
                           f"{batch.stalled_runs} runs, last error: {batch.error[:300]}"
                           if batch.error else f"{batch.stalled_runs} runs")
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, error=error.as_json(), finished_at=timezone.now())
        log.error("batch %s failed: %s", batch.pk, error)
        return "failed"
    # Committed before any record is touched: a run that dies still counts.
    IngestBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.PROCESSING, started_at=batch.started_at or timezone.now(),
        stalled_runs=runs, stalled_cursor=batch.cursor, progress_at=timezone.now())
    ref = services.SubmissionRef(id=batch.submission_id, received_at=batch.submission_received_at,
                                 district_id=batch.district_id)
    client = batch.client
    stream = io.BufferedReader(BodyStream(batch), buffer_size=1 << 20)
    chunks = _chunks(stream, batch, chunk_lines)
    prepare = _preparer(client, ref, batch)
    if prepare is None:
        prepared = ((chunk, None) for chunk in chunks)
    elif read_ahead() and not connection.in_atomic_block:
        prepared = _read_ahead(chunks, prepare)
    else:
        prepared = ((chunk, prepare(chunk)) for chunk in chunks)
    number = 0
    try:
        for chunk, run in prepared:
            number += 1
            if on_chunk:
                on_chunk(batch, number)
            _commit_chunk(pipeline, client, ref, batch, chunk, prepared=run)
    except BatchError as exc:
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, error=exc.as_json(), finished_at=timezone.now())
        log.warning("batch %s failed: %s", batch.pk, exc)
        return "failed"
    except Exception as exc:  # a bug or the database: kept on the batch, retried later
        # A run whose connection the hung-worker sweep ended keeps the sweep's "hung".
        IngestBatch.objects.filter(pk=batch.pk).exclude(error__startswith='{"code": "hung"') \
            .update(error=BatchError(
            "interrupted", batch.cursor + 1, f"{type(exc).__name__}: {exc}"[:300]).as_json())
        raise
    finally:
        prepared.close()  # a read-ahead thread stops here
    IngestBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.DONE, finished_at=timezone.now(), error="")
    return "done"


def _chunks(stream, batch: IngestBatch, chunk_lines: int) -> Iterator[list[tuple[int, dict]]]:
    """The records after the batch's cursor, ``chunk_lines`` at a time."""
    chunk: list[tuple[int, dict]] = []
    for item in iter_records(stream, batch.file_format, batch.record_type, after=batch.cursor):
        chunk.append(item)
        if len(chunk) >= chunk_lines:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _preparer(client, ref, batch: IngestBatch):
    """What can be done for a chunk before its transaction (only reads), or None: the
    check-in bulk path's plainness test, references and encoded rows."""
    fastpath = _fastpath()
    if batch.record_type != fastpath.TYPE or not fastpath.enabled():
        return None
    return lambda chunk: fastpath.prepare_checkins(client, ref, chunk)


def read_ahead() -> bool:
    return _fastpath().switch("SKILLGUARD_BATCH_READ_AHEAD")


# While a chunk is written, the worker mostly waits for PostgreSQL and the machine's other
# cores idle (bench/ingest.py). A thread of its own reads, parses and prepares the next chunk
# meanwhile, on its own connection (it only reads). It holds the GIL most of the time, so the
# writing thread, which needs it only between round trips, asks for it back sooner.
READ_AHEAD_SWITCH_INTERVAL = 0.001  # seconds (Python's default: 0.005)
_END = object()


def _read_ahead(chunks: Iterator, prepare) -> Iterator[tuple[list, object]]:
    """(chunk, prepared) pairs made by a thread one chunk ahead of the caller, in order; an
    error there (a malformed line) is raised here after the chunks before it."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for chunk in chunks:
                if not offer((chunk, prepare(chunk))):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the caller, in order
            offer(exc)
        finally:
            connections.close_all()  # this thread's connections

    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, READ_AHEAD_SWITCH_INTERVAL))
    thread = threading.Thread(target=work, name="batch-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(60)
        sys.setswitchinterval(interval)


def _runs(chunk: list[tuple[int, dict]]) -> Iterator[tuple[int, list[dict]]]:
    """Runs of consecutive line numbers (blank lines split them): (first line, records)."""
    start, records, previous = None, [], None
    for line, record in chunk:
        if previous is not None and line != previous + 1:
            yield start, records
            start, records = None, []
        if start is None:
            start = line
        records.append(record)
        previous = line
    if records:
        yield start, records


def _commit_chunk(pipeline, client, ref, batch: IngestBatch, chunk, prepared=None) -> None:
    """One transaction: the records, the counters and the cursor move together. A check-in
    chunk on the bulk path comes ``prepared`` (``_preparer``)."""
    last_line = chunk[-1][0]
    with transaction.atomic():
        current = IngestBatch.objects.select_for_update().get(pk=batch.pk)
        if current.cursor >= last_line:  # already committed (cannot happen under the lock)
            return
        accepted = unchanged = rejected = 0
        if prepared is not None:
            outcomes = [prepared.finish(current)]
        else:
            outcomes = (pipeline.ingest_records(client, ref, batch.record_type, records,
                                                first_line=first_line, batch=current)
                        for first_line, records in _runs(chunk))
        for outcome in outcomes:
            accepted += outcome.accepted
            unchanged += outcome.unchanged
            rejected += outcome.rejected
        current.accepted += accepted
        current.unchanged += unchanged
        current.rejected += rejected
        current.processed += len(chunk)
        current.cursor = last_line
        current.error = ""
        current.stalled_runs, current.stalled_cursor = 0, last_line  # progress was made
        current.progress_at = timezone.now()
        current.save(update_fields=["accepted", "unchanged", "rejected", "processed", "cursor",
                                    "error", "stalled_runs", "stalled_cursor", "progress_at"])
    batch.cursor = last_line


def stale_batches() -> list:
    """Batches in processing that no worker holds (their worker died), and queued batches
    whose job is gone: their ids, to enqueue again."""
    ids = []
    for batch_id in IngestBatch.objects.filter(
            status__in=[BatchStatus.PROCESSING, BatchStatus.QUEUED]).values_list("pk", flat=True):
        if try_lock(batch_id):
            unlock(batch_id)
            ids.append(batch_id)
    return ids


def hung_minutes() -> int:
    return int(os.environ.get("SKILLGUARD_BATCH_HUNG_MINUTES") or
               getattr(settings, "SKILLGUARD_BATCH_HUNG_MINUTES", HUNG_MINUTES))


def lock_holder(batch_id) -> int | None:
    """The backend pid holding the batch's advisory lock, if any (a bigint advisory key
    shows in pg_locks as classid = high 32 bits, objid = low 32 bits, objsubid = 1)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND d.datname = current_database() AND l.pid <> pg_backend_pid() "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0)",
            [_lock_key(batch_id)])
        row = cur.fetchone()
        return row[0] if row else None


def reclaim_hung(now=None) -> list:
    """End the connections of workers that hold a batch without progress for longer than
    ``hung_minutes()``: their open chunk rolls back (chunks are whole transactions), their
    lock goes with the connection, and the stale-batch sweep requeues the batch. A batch
    that hangs at the same line every time ends as ``stalled`` (MAX_STALLED_RUNS)."""
    now = now or timezone.now()
    minutes = hung_minutes()
    reclaimed = []
    for batch in IngestBatch.objects.filter(
            status=BatchStatus.PROCESSING,
            progress_at__lt=now - dt.timedelta(minutes=minutes)).only("pk", "cursor"):
        pid = lock_holder(batch.pk)
        if pid is None:  # nobody holds it: the ordinary sweep takes it
            continue
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
            ended = cur.fetchone()[0]
        if not ended:
            log.error("batch %s: could not end hung worker connection %s", batch.pk, pid)
            continue
        IngestBatch.objects.filter(pk=batch.pk).update(error=BatchError(
            "hung", batch.cursor + 1, str(minutes)).as_json())
        log.warning("batch %s: worker connection %s made no progress for %s minutes at line "
                    "%s; ended", batch.pk, pid, minutes, batch.cursor + 1)
        reclaimed.append(batch.pk)
    return reclaimed


def requeue_stale() -> int:
    """End hung workers' connections, then enqueue again every batch no worker holds (the
    queueing lock prevents doubles)."""
    reclaim_hung()
    return sum(1 for batch_id in stale_batches() if enqueue_batch(batch_id))


def percent(batch: IngestBatch) -> float:
    if batch.status == BatchStatus.DONE:
        return 100.0
    return round(100.0 * batch.processed / batch.total, 1) if batch.total else 0.0

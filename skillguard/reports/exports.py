"""Writing a statistics table as CSV or XLSX: streamed in the request when small, written to
a file by the worker (``ExportJob``) when large.

CSV follows ``core.exports`` (UTF-8 with a BOM so Excel opens Chinese text, one audit event
per export); XLSX uses openpyxl's write-only mode (constant memory), the same header and the
same cell texts as the CSV for text columns, numbers as numbers.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from skillguard.core.exports import _Echo
from skillguard.reports.statistics import Table, cell_text

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INLINE_ROWS = 5_000  # more rows than this: the worker writes the file (ExportJob)
MAX_ROWS = 200_000  # more rows than this: refused (narrow the filters)
PROGRESS_EVERY = 500


def inline_rows() -> int:
    return int(getattr(settings, "REPORTS_EXPORT_INLINE_ROWS", INLINE_ROWS))


def max_rows() -> int:
    return int(getattr(settings, "REPORTS_EXPORT_MAX_ROWS", MAX_ROWS))


def header(table: Table) -> list[str]:
    return [str(c.label) for c in table.columns]


def csv_lines(table: Table) -> Iterable[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(header(table))
    for row in table.rows:
        yield writer.writerow([cell_text(c, row.get(c.key)) for c in table.columns])


def _xlsx_value(column, value):
    if value is None:
        return None
    if column.kind == "int":
        return int(value)
    if column.kind in ("hours", "money"):
        return float(Decimal(value))
    if column.kind == "rate":
        return cell_text(column, value)  # "87.5%": the same text as the CSV
    return str(value)


def write_csv(table: Table, handle, progress: Callable[[int], None] | None = None) -> None:
    writer = csv.writer(handle)
    handle.write("\ufeff")
    writer.writerow(header(table))
    for n, row in enumerate(table.rows, 1):
        writer.writerow([cell_text(c, row.get(c.key)) for c in table.columns])
        if progress and n % PROGRESS_EVERY == 0:
            progress(n)


def write_xlsx(table: Table, path: str, progress: Callable[[int], None] | None = None) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=str(table.kind))
    ws.append(header(table))
    for n, row in enumerate(table.rows, 1):
        ws.append([_xlsx_value(c, row.get(c.key)) for c in table.columns])
        if progress and n % PROGRESS_EVERY == 0:
            progress(n)
    wb.save(path)


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def csv_response(table: Table, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(table), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{_stamp()}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class _Deleting(io.FileIO):
    """A temporary file removed once the response has been sent."""

    def close(self):
        try:
            super().close()
        finally:
            try:
                os.unlink(self.name)
            except OSError:
                pass


def xlsx_response(table: Table, name: str) -> FileResponse:
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="sg-export-")
    os.close(fd)
    write_xlsx(table, path)
    response = FileResponse(_Deleting(path, "rb"), as_attachment=True,
                            filename=f"{name}-{_stamp()}.xlsx", content_type=XLSX_TYPE)
    response["Cache-Control"] = "no-store"
    return response


def table_file(table: Table, fmt: str, progress=None) -> str:
    """The table written to a temporary file (the caller removes it)."""
    fd, path = tempfile.mkstemp(suffix=f".{fmt}", prefix="sg-export-")
    os.close(fd)
    if fmt == "xlsx":
        write_xlsx(table, path, progress)
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            write_csv(table, handle, progress)
    return path

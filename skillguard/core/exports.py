"""CSV exports of scoped lists: the same restricted queryset the page shows, personal data
masked, one audit event per export, streamed so memory stays flat."""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterable

from django.http import StreamingHttpResponse
from django.utils import timezone

from skillguard.audit import services as audit

MAX_EXPORT_ROWS = 200_000  # larger exports belong to the worker (cockpit & reports)


class _Echo:
    def write(self, value):
        return value


def csv_export(user, queryset, fields: Iterable[tuple[object, Callable]], name: str,
               filters: str = "") -> StreamingHttpResponse:
    fields = list(fields)
    count = queryset.count()
    limited = queryset[:MAX_EXPORT_ROWS]
    audit.record_export(user, queryset.model._meta.label_lower, min(count, MAX_EXPORT_ROWS),
                        comment=f"csv; filters: {filters}"[:500])
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"  # BOM: Excel opens UTF-8 Chinese text correctly
        yield writer.writerow([str(label) for label, _ in fields])
        for obj in limited.iterator(chunk_size=2000):
            yield writer.writerow(["" if (v := get(obj)) is None else str(v)
                                   for _, get in fields])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response

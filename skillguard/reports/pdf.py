"""Monthly supervision reports (监管月报) as PDF: city and district.

Pipeline: ``services.request_report`` (a user) or ``queue_monthly_reports`` (the periodic job,
last month, city + every district, once) creates a ``ReportArchive`` in state *queued* and
defers ``tasks.generate_report_task`` → ``generate_report`` gathers the figures, renders the
HTML template ``reports/pdf/monthly.html`` (cover, key figures, charts, top warnings, case
handling) and converts it with WeasyPrint (Pango, fonts from Debian's fonts-noto-cjk: the
Chinese text stays text, extractable by ``pdftotext``), stores the file, its SHA-256 and the
figures shown (JSON), then calls ``seal_report``.

The key figures come from ``cockpit.figures.key_figures`` for the month and the report's
scope, so they are the cockpit's figures for that month (same rollups, same definitions);
the case handling table is ``statistics.handling_table`` for the month.

Charts are SVG drawn here (``bar_chart`` / ``line_chart``): no browser, no JavaScript.

Electronic seal and trusted timestamp (design, not yet applied)
----------------------------------------------------------------
``seal_report(archive, pdf_bytes)`` is the single place where the finished PDF is sealed. It
is a no-op today and returns the bytes unchanged. When the bureau's seal certificate (SM2 or
RSA, on an HSM / PKCS#11 token) is available it will:

1. sign the PDF as PAdES-B-T with pyHanko (``pyhanko.sign.signers.PdfSigner`` with a
   ``PKCS11Signer``), an invisible or visible signature field on the cover page — an
   incremental update, so the rendered content and its hash before sealing stay verifiable;
2. ask the RFC 3161 time-stamping authority for a token over the signature
   (``pyhanko.sign.timestamps.HTTPTimeStamper``), embedded in the signature (B-T), and later
   add validation data (LTV, PAdES-B-LT) for the five-year retention;
3. record on the archive ``sealed_at``, ``seal_certificate`` (PEM), ``timestamp_token`` and
   ``timestamped_at``, and store the sealed bytes as the file; ``sha256`` is then the hash of
   the sealed file (the unsealed hash goes to the audit event's comment).

Because sealing happens after rendering and before archiving, nothing else changes: the
archive, the download and the audit trail stay as they are.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from skillguard.reports import statistics
from skillguard.reports.models import JobState, ReportArchive, ReportKind

FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans CJK', 'Noto Sans SC', sans-serif"
PALETTE = ("#2f6fd6", "#d08a1c", "#3a9a5b", "#c0392b", "#7d5ba6", "#17a2b8")


# --------------------------------------------------------------------------- charts (SVG)


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value != value.to_integral_value() else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def bar_chart(labels, values, *, title="", width=520, height=220, color=PALETTE[0]) -> str:
    """A vertical bar chart as an SVG string (values ≥ 0; None counts as 0)."""
    values = [float(v or 0) for v in values]
    left, right, top, bottom = 46, 10, 26, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max(values + [0.0]) or 1.0
    n = max(len(values), 1)
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{_esc(FONT_FAMILY)}" '
             f'font-size="10">']
    if title:
        parts.append(f'<text x="{left}" y="14" font-size="12" font-weight="bold">'
                     f'{_esc(title)}</text>')
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="#dde3ea" stroke-width="0.6"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#555">'
                     f'{_esc(_fmt(round(top_value * k / 4, 2)))}</text>')
    step = max(1, n // 12)
    for i, (label, v) in enumerate(zip(labels, values)):
        h = plot_h * v / top_value
        x = left + slot * i + (slot - bar_w) / 2
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                     f'height="{h:.1f}" fill="{color}"/>')
        if i % step == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="middle" fill="#333">{_esc(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
                 f'y2="{top + plot_h}" stroke="#888" stroke-width="0.8"/>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(labels, values, *, title="", width=520, height=220, color=PALETTE[0]) -> str:
    """A line chart as an SVG string (None values break nothing: drawn as 0)."""
    values = [float(v or 0) for v in values]
    left, right, top, bottom = 46, 10, 26, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max(values + [0.0]) or 1.0
    n = len(values)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{_esc(FONT_FAMILY)}" '
             f'font-size="10">']
    if title:
        parts.append(f'<text x="{left}" y="14" font-size="12" font-weight="bold">'
                     f'{_esc(title)}</text>')
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="#dde3ea" stroke-width="0.6"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#555">'
                     f'{_esc(_fmt(round(top_value * k / 4, 2)))}</text>')
    points = []
    for i, v in enumerate(values):
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        y = top + plot_h - plot_h * v / top_value
        points.append((x, y))
    if points:
        parts.append('<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"/>'.format(
            color, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
    step = max(1, n // 10)
    for i, label in enumerate(labels):
        if i % step == 0 and i < len(points):
            parts.append(f'<text x="{points[i][0]:.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="middle" fill="#333">{_esc(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
                 f'y2="{top + plot_h}" stroke="#888" stroke-width="0.8"/>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- content


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = statistics.month_start(month)
    return first, statistics.add_months(first, 1) - dt.timedelta(days=1)


def report_scope(archive: ReportArchive):
    from skillguard.cockpit.figures import CockpitScope

    if archive.kind == ReportKind.CITY:
        return CockpitScope("city")
    return CockpitScope("district", None, archive.district)


def top_warnings(archive: ReportArchive, limit: int = 10) -> list:
    from django.db.models import Case, IntegerField, Value, When

    from skillguard.supervision.models import Warning

    first, last = month_bounds(archive.month)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time()))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    qs = Warning.objects.filter(first_seen_at__gte=start, first_seen_at__lt=end)
    if archive.district_id:
        qs = qs.filter(district_id=archive.district_id)
    rank = Case(*[When(severity=s, then=Value(n)) for n, s in
                  enumerate(("critical", "high", "medium", "low"))],
                default=Value(9), output_field=IntegerField())
    return list(qs.select_related("rule", "institution", "district")
                .annotate(rank=rank).order_by("rank", "-first_seen_at", "-id")[:limit])


def gather(archive: ReportArchive) -> dict:
    """Everything the report shows, computed once (the figures are archived with it)."""
    from skillguard.cockpit import figures as cf

    first, last = month_bounds(archive.month)
    scope = report_scope(archive)
    key = cf.key_figures(scope, first, last)
    trend_hours = cf.trend(scope, "valid_hours", "day", first, last)
    trend_warnings = cf.trend(scope, "warnings", "day", first, last)
    by = "district" if archive.kind == ReportKind.CITY else "institution"
    split = cf.breakdown(scope, "valid_hours", by, first, last)[:12]
    severities = [key[f"warnings_{s}"] for s in cf.SEVERITIES]
    districts = [archive.district_id] if archive.district_id else None
    filters = statistics.StatFilters(first, first, districts, archive.district_id)
    handling = statistics.handling_table(filters)
    return {"scope": scope, "first": first, "last": last, "key": key,
            "trend_hours": trend_hours, "trend_warnings": trend_warnings, "split": split,
            "split_by": by, "severities": severities, "handling": handling,
            "warnings": top_warnings(archive)}


def render_html(archive: ReportArchive, data: dict) -> str:
    key = data["key"]
    charts = {
        "hours": line_chart([r["period"][5:] for r in data["trend_hours"]],
                            [r["value"] for r in data["trend_hours"]],
                            title="每日有效学时 Valid class hours per day"),
        "warnings": bar_chart([r["period"][5:] for r in data["trend_warnings"]],
                              [r["value"] for r in data["trend_warnings"]],
                              title="每日新增预警 Warnings raised per day", color=PALETTE[1]),
        "severity": bar_chart([f.code.replace("warnings_", "") for f in data["severities"]],
                              [f.value for f in data["severities"]],
                              title="预警等级分布 Warnings by severity", color=PALETTE[3],
                              width=300),
        "split": bar_chart([r["label"] for r in data["split"]],
                           [r["value"] for r in data["split"]],
                           title=("各区有效学时 Valid class hours by district"
                                  if data["split_by"] == "district"
                                  else "各机构有效学时 Valid class hours by institution"),
                           color=PALETTE[2]),
    }
    figures = [{"code": f.code, "label": str(f.label), "value": _fmt(f.value),
                "unit": str(f.unit), "note": str(f.note or ""),
                "freshness": timezone.localtime(f.freshness).strftime("%m-%d %H:%M")
                if f.freshness else "—"} for f in key.values()]
    handling = data["handling"]
    return render_to_string("reports/pdf/monthly.html", {
        "archive": archive, "scope_label": data["scope"].label, "first": data["first"],
        "last": data["last"], "figures": figures, "charts": charts,
        "warnings": data["warnings"], "handling": handling,
        "handling_rows": [[statistics.cell_text(c, v) for c, v in row]
                          for row in handling.cells()],
        "handling_totals": [statistics.cell_text(c, (handling.totals or {}).get(c.key))
                            for c in handling.columns] if handling.totals else None,
        "generated_at": timezone.localtime(), "font_family": FONT_FAMILY,
    })


def render_pdf(html_text: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html_text).write_pdf()


def seal_report(archive: ReportArchive, pdf: bytes) -> bytes:
    """The hook where the PAdES seal and the RFC 3161 timestamp will be applied (see the
    module docstring). Today: nothing — the bytes are returned unchanged and the archive's
    ``sealed_at`` / ``timestamped_at`` stay empty."""
    return pdf


def snapshot(key: dict) -> dict:
    return {code: f.as_dict() for code, f in key.items()}


def generate_report(archive_id: int) -> ReportArchive | None:
    """Render and archive one report. Idempotent: a finished report is left alone, one that
    another worker holds is skipped."""
    with transaction.atomic():
        archive = (ReportArchive.objects.select_for_update(skip_locked=True)
                   .filter(pk=archive_id).first())
        if archive is None or archive.state in (JobState.DONE, JobState.FAILED):
            return archive
        archive.state = JobState.RUNNING
        archive.save(update_fields=["state"])
    try:
        with translation.override("zh-hans"):
            data = gather(archive)
            shown = snapshot(data["key"])
            pdf = seal_report(archive, render_pdf(render_html(archive, data)))
        archive.file.save(archive.file_name, ContentFile(pdf), save=False)
        archive.sha256 = hashlib.sha256(pdf).hexdigest()
        archive.size = len(pdf)
        archive.figures = {"month": f"{archive.month:%Y-%m}", "scope": archive.kind,
                           "district": archive.district_id, "key_figures": shown}
        archive.state, archive.generated_at = JobState.DONE, timezone.now()
        archive.save(update_fields=["file", "sha256", "size", "figures", "state",
                                    "generated_at"])
    except Exception as exc:
        archive.state, archive.error = JobState.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        archive.save(update_fields=["state", "error"])
        raise
    return archive


def queue_monthly_reports(today: dt.date | None = None) -> int:
    """Last month's reports (city + every district) that are not archived or queued yet."""
    from skillguard.registry.models import District
    from skillguard.reports.services import request_report

    today = today or timezone.localdate()
    month = statistics.add_months(statistics.month_start(today), -1)
    have = set(ReportArchive.objects.filter(month=month).exclude(state=JobState.FAILED)
               .values_list("kind", "district_id"))
    n = 0
    if (ReportKind.CITY, None) not in have:
        request_report(None, kind=ReportKind.CITY, month=month)
        n += 1
    for district in District.objects.order_by("sort_order", "pk"):
        if (ReportKind.DISTRICT, district.pk) not in have:
            request_report(None, kind=ReportKind.DISTRICT, month=month, district=district)
            n += 1
    return n

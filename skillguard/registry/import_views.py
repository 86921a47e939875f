"""Pages of the bulk import: upload, batch report (with live progress), list, downloads.

Thin: the work is in ``registry.imports``."""
from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from skillguard.core.scoping import can
from skillguard.registry import imports
from skillguard.registry.models import ImportKind, ImportMode

PROBLEMS_SHOWN = 500  # the page shows this many bad rows; the download has them all


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (.xlsx or .csv)"), widget=forms.ClearableFileInput(
        attrs={"accept": ".xlsx,.csv,text/csv,application/vnd.openxmlformats-officedocument"
                         ".spreadsheetml.sheet"}))
    mode = forms.ChoiceField(label=_("If some rows are bad"), choices=ImportMode.choices,
                             initial=ImportMode.ALL_OR_NOTHING, widget=forms.RadioSelect)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(max)s; split it into smaller files.")
                % {"max": filesizeformat(imports.MAX_FILE_BYTES)}, code="too_large")
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."), code="empty")
        return upload


def _kind(user, kind: str) -> str:
    if kind not in ImportKind.values:
        raise Http404(_("No such import."))
    if not can(user, "import", imports.KIND_MODELS[kind]):
        raise PermissionDenied
    return kind


@login_required
@require_http_methods(["GET", "POST"])
def start(request, kind):
    kind = _kind(request.user, kind)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        batch = imports.start_import(request.user, kind, upload.name, upload.read(),
                                     form.cleaned_data["mode"])
        return redirect("imports:batch", pk=batch.pk)
    return render(request, "imports/upload.html", {
        "kind": kind, "kind_label": ImportKind(kind).label, "form": form,
        "columns": imports.COLUMNS[kind], "inline_max_rows": imports.inline_max_rows(),
        "training_class": request.GET.get("training_class", "")[:32],
        "recent": imports.batches_for(request.user).filter(kind=kind)[:5],
    })


@login_required
@require_GET
def template_file(request, kind):
    kind = _kind(request.user, kind)
    return _download(imports.template_workbook(kind),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     f"skillguard-import-{kind}.xlsx")


@login_required
@require_GET
def batch_list(request):
    page = Paginator(imports.batches_for(request.user), 50).get_page(request.GET.get("page"))
    kinds = [(k, label) for k, label in ImportKind.choices
             if can(request.user, "import", imports.KIND_MODELS[k])]
    return render(request, "imports/list.html", {"page": page, "kinds": kinds})


def _report_context(batch) -> dict:
    rows = imports.bad_rows(batch)
    return {"batch": batch, "bad_rows": rows[:PROBLEMS_SHOWN],
            "more_rows": max(0, len(rows) - PROBLEMS_SHOWN),
            "valid_rows": batch.total_rows - batch.error_count,
            "percent": int(100 * batch.processed_rows / batch.total_rows)
            if batch.total_rows else 0}


@login_required
@require_GET
def batch_detail(request, pk):
    batch = imports.access_batch(request.user, pk)
    return render(request, "imports/batch.html", _report_context(batch))


@login_required
@require_GET
def batch_progress(request, pk):
    """Polled by htmx every 2 s while the batch runs; reloads the page once it is done."""
    batch = imports.access_batch(request.user, pk)
    response = render(request, "imports/_progress.html", _report_context(batch))
    if batch.is_finished and request.headers.get("HX-Request") == "true":
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def error_report(request, pk, fmt):
    batch = imports.access_batch(request.user, pk)
    if fmt not in ("xlsx", "csv"):
        raise Http404
    content, content_type, filename = imports.error_report(request.user, batch, fmt)
    return _download(content, content_type, filename)


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    import io

    response = FileResponse(io.BytesIO(content), as_attachment=True, filename=filename,
                            content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response

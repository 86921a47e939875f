"""Pages of large uploads: the list of batches and a batch's progress (htmx polls every 2 s
until it is finished). Users see the batches of their scope (district, institution, city)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET

from skillguard.ingest import batches, queries
from skillguard.ingest.models import BatchStatus, IngestBatch

PROBLEMS_SHOWN = 50


def _context(batch: IngestBatch) -> dict:
    return {"batch": batch, "percent": batches.percent(batch),
            "finished": batch.status in (BatchStatus.DONE, BatchStatus.FAILED),
            "error": batches.parse_error(batch)}


@login_required
@require_GET
def batch_list(request):
    page = Paginator(queries.batches_for(request.user).order_by("-created_at"), 50).get_page(
        request.GET.get("page"))
    return render(request, "ingest/batch_list.html", {"page": page})


@login_required
@require_GET
def batch_detail(request, pk):
    batch = get_object_or_404(queries.batches_for(request.user), pk=pk)
    context = _context(batch)
    context["problems"] = list(queries.batch_problems(batch)[:PROBLEMS_SHOWN])
    context["more_problems"] = max(0, batch.rejected - len(context["problems"]))
    return render(request, "ingest/batch.html", context)


@login_required
@require_GET
def batch_progress(request, pk):
    """Polled by htmx every 2 s while the batch runs; reloads the page once it is done."""
    batch = get_object_or_404(queries.batches_for(request.user), pk=pk)
    context = _context(batch)
    response = render(request, "ingest/batch_progress.html", context)
    if context["finished"] and request.headers.get("HX-Request") == "true":
        response["HX-Refresh"] = "true"
    return response


app_name = "ingest_batches"
urlpatterns = [
    path("", batch_list, name="list"),
    path("<uuid:pk>/", batch_detail, name="batch"),
    path("<uuid:pk>/progress/", batch_progress, name="progress"),
]

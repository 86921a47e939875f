"""Large batch uploads: the docking batch endpoint takes bodies up to
SKILLGUARD_BATCH_MAX_BYTES (default 512 MiB) although every other request stays under
Django's DATA_UPLOAD_MAX_MEMORY_SIZE. Oversized bodies are refused before anything reads
them (and before signature checking, which would otherwise report a digest mismatch)."""
from __future__ import annotations

from django.http import JsonResponse

from skillguard.core.errors import both_languages

BATCH_PATH = "/api/docking/v1/batches/"


class BatchUploadSizeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path.startswith(BATCH_PATH):
            from skillguard.ingest import batches

            limit = batches.max_batch_bytes()
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                err = batches.BatchError("batch_too_large", detail=str(length))
                return JsonResponse({"errors": [{
                    "record": "", "field": "", "code": err.code,
                    **both_languages(err.message)}]}, status=413)
            # Read the stream here: request.body would apply the small site-wide limit.
            request._body = request.read()
        return self.get_response(request)

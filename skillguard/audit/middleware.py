"""Carries who is asking (IP, request id) to the audit trail without threading it by hand."""
from __future__ import annotations

import contextvars
import re
import uuid

from django.conf import settings

current_request: contextvars.ContextVar = contextvars.ContextVar("skillguard_request",
                                                                 default=None)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,36}$")


def client_ip(request) -> str | None:
    # X-Real-IP is believed only behind our own reverse proxy (docs/operations.md), which
    # overwrites it; otherwise any client could write its own address into the audit trail.
    if settings.SKILLGUARD_TRUST_PROXY and request.META.get("HTTP_X_REAL_IP"):
        return request.META["HTTP_X_REAL_IP"]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = offered if _REQUEST_ID.match(offered) else str(uuid.uuid4())
        token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request.request_id
        return response

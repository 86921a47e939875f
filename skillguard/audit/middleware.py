"""Carries who is asking (IP, request id) to the audit trail without threading it by hand."""
from __future__ import annotations

import contextvars
import uuid

current_request: contextvars.ContextVar = contextvars.ContextVar("skillguard_request",
                                                                 default=None)


def client_ip(request) -> str | None:
    # Behind the reverse proxy documented in docs/operations.md, the proxy sets X-Real-IP.
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request.META.get("HTTP_X_REQUEST_ID") or str(uuid.uuid4())
        token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request.request_id
        return response

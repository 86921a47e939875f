"""What every API router shares: authentication, the error body, pagination.

Authentication is a Django session (CSRF checked for unsafe methods) or
``Authorization: Bearer <token>`` (an ``accounts.ApiToken``). The authenticated user is
``request.auth``.

Every error answers ``{"errors": [{record, field, code, message_zh, message_en}]}``:
400 for a body that is not JSON, 401 without credentials, 403 for a visible record the
role may not change (or a failed CSRF check), 404 for a record that is missing *or*
outside the caller's scope (the same body either way), 422 for a refused write or a
request that does not match the schema.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from ninja import Field, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import PaginationBase
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from skillguard.core.errors import BusinessRuleError, Problems
from skillguard.registry.schemas import ErrorsOut

# Our own messages carry both languages here, independent of compiled translations.
MESSAGES = {
    "unauthenticated": ("需要登录或有效的 API 令牌。",
                        "Sign in or send a valid API token (Authorization: Bearer …)."),
    "not_found": ("没有此记录，或您无权查看。", "No such record, or you may not see it."),
    "forbidden": ("您无权执行此操作。", "You may not do this."),
    "csrf_failed": ("CSRF 校验失败：请随请求发送 X-CSRFToken。",
                    "CSRF check failed: send the X-CSRFToken header with the session cookie."),
    "invalid": ("请求格式不正确：", "The request is malformed: "),
    "malformed": ("请求体无法解析：", "The request body cannot be parsed: "),
    "throttled": ("请求过于频繁，请稍后再试。", "Too many requests; try again later."),
}

ERROR_RESPONSES = {400: ErrorsOut, 401: ErrorsOut, 403: ErrorsOut, 404: ErrorsOut,
                   422: ErrorsOut}


def error_item(code: str, *, field: str = "", record: str = "", detail: str = "") -> dict:
    zh, en = MESSAGES.get(code, MESSAGES["invalid"])
    return {"record": record, "field": field, "code": code, "message_zh": zh + detail,
            "message_en": en + detail}


def errors_body(*items: dict) -> dict:
    return {"errors": list(items)}


def forbidden(model, record: str = ""):
    """Refuse: the caller sees the record but the role may not do this (403)."""
    problems = Problems(model, record)
    problems.add("", "forbidden", _("You may not do this for this record."))
    problems.raise_if_any()


class CsrfFailed(HttpError):
    def __init__(self):
        super().__init__(403, "csrf_failed")


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer sg_…`` — an API token issued by ``skillguard user token``."""

    def authenticate(self, request, token):
        from skillguard.accounts.services import authenticate_api_token

        user = authenticate_api_token(token)
        if user is not None:
            request.user = user
        return user


class SessionCookieAuth(APIKeyCookie):
    """The browser's Django session. CSRF is checked for unsafe methods, only once a
    session is signed in (so that a request without credentials answers 401, not 403)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self):
        super().__init__(csrf=False)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if check_csrf(request):
            raise CsrfFailed()
        return user


class Pagination(PaginationBase):
    """``page`` (from 1) and ``page_size`` (default 50, at most 200); answers
    ``{"items": […], "count": N}`` where count is the total in the caller's scope."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int = Field(50, ge=1, le=200)

    def paginate_queryset(self, queryset, pagination: Input, request, **params):
        offset = (pagination.page - 1) * pagination.page_size
        return {"items": queryset[offset:offset + pagination.page_size],
                "count": self._items_count(queryset)}


# --------------------------------------------------------------------------- error handlers


def install_error_handlers(api) -> None:
    def respond(request, status, body):
        return api.create_response(request, body, status=status)

    def business_rule(request, exc: BusinessRuleError):
        items = exc.as_list()
        status = 403 if items and all(i["code"] == "forbidden" for i in items) else 422
        return respond(request, status, errors_body(*items))

    def not_found(request, exc):
        return respond(request, 404, errors_body(error_item("not_found")))

    def permission_denied(request, exc):
        return respond(request, 403, errors_body(error_item("forbidden")))

    def http_error(request, exc: HttpError):
        if isinstance(exc, AuthenticationError):
            return respond(request, 401, errors_body(error_item("unauthenticated")))
        if isinstance(exc, CsrfFailed):
            return respond(request, 403, errors_body(error_item("csrf_failed")))
        code = {400: "malformed", 403: "forbidden", 404: "not_found",
                429: "throttled"}.get(exc.status_code, "invalid")
        detail = str(exc) if code in ("invalid", "malformed") else ""
        return respond(request, exc.status_code, errors_body(error_item(code, detail=detail)))

    def validation(request, exc: NinjaValidationError):
        items = []
        for err in exc.errors:
            loc = [str(p) for p in err.get("loc", ())]
            # loc[0] is where: body, query, path; then the field path (body: the param name)
            where, path = (loc[0] if loc else ""), loc[1:]
            if where == "body" and len(path) > 1:
                path = path[1:]
            items.append(error_item("invalid", field=".".join(path),
                                    detail=f"{'.'.join(path) or where}: {err.get('msg', '')}")
                         | {"code": err.get("type", "invalid")})
        return respond(request, 422, errors_body(*items))

    api.add_exception_handler(BusinessRuleError, business_rule)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(PermissionDenied, permission_denied)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(NinjaValidationError, validation)

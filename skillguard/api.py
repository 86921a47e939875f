"""The HTTP API (Django Ninja): OpenAPI 3.1 at /api/openapi.json, docs at /api/docs.

Conventions (authentication, the bilingual error body, pagination) live in
``skillguard.api_support``; each app contributes a thin router (``<app>/api.py``) over its
queries (scoped reads) and services (validated, audited writes).
"""
from ninja import NinjaAPI

from skillguard.api_support import BearerTokenAuth, SessionCookieAuth, install_error_handlers

DESCRIPTION = """\
SkillGuard 职业技能培训综合监管平台 — registry and supervision API.

**Authentication / 认证**: a signed-in browser session (unsafe methods need the
`X-CSRFToken` header), or `Authorization: Bearer <token>` with a token issued by
`skillguard user token --username …`.

**Scope / 权限范围**: every list and record is limited to the caller's role and anchor
(district, institution, teacher, trainee). A record that does not exist and one outside the
caller's scope answer the same `404`.

**Errors / 错误**: `{"errors": [{"record", "field", "code", "message_zh", "message_en"}]}` —
`400` the body is not JSON, `401` without credentials, `403` the role may not do this,
`404` missing or out of scope, `422` refused or not matching the schema (each problem
names its field).

**Personal data / 个人信息**: ID numbers and phone numbers are always masked in responses;
the `…/reveal` operations return one value in full and write the read to the audit trail.
"""

api = NinjaAPI(title="SkillGuard API", version="1.0.0", urls_namespace="api",
               description=DESCRIPTION, auth=[BearerTokenAuth(), SessionCookieAuth()])
install_error_handlers(api)

api.add_router("", "skillguard.accounts.api.router")
api.add_router("", "skillguard.registry.api.router")
api.add_router("", "skillguard.attendance.api.router")
api.add_router("", "skillguard.subsidies.api.router")
api.add_router("", "skillguard.supervision.api.router")
api.add_router("", "skillguard.cases.api.router")
api.add_router("", "skillguard.cameras.api.router")
api.add_router("", "skillguard.video.api_ingest.router")
api.add_router("", "skillguard.video.api_recording.router")
api.add_router("", "skillguard.video.api_view.router")
api.add_router("", "skillguard.cockpit.api.router")
api.add_router("", "skillguard.reports.api.router")

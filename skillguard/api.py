"""The HTTP API (Django Ninja): OpenAPI 3.1 at /api/openapi.json, docs at /api/docs."""
from ninja import NinjaAPI

api = NinjaAPI(title="SkillGuard API", version="1.0.0", urls_namespace="api",
               description="SkillGuard 职业技能培训综合监管平台 — registry and supervision API")

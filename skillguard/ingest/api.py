"""The docking API (数据对接接口) v1: its own OpenAPI document at /api/docking/v1/openapi.json.

Every operation except key enrolment is authenticated by an HTTP message signature
(RFC 9421, see skillguard/trust/signatures.py); routers from ingest, trust and distribution
are attached here."""
from ninja import NinjaAPI

docking_api = NinjaAPI(
    title="SkillGuard docking standard 数据对接规范", version="v1", urls_namespace="docking-v1",
    description="Push training data to the city: signed submissions, validated records, "
                "quarantine and resubmission, change feed. 上下联动数据对接。")

# Identity and trust: refused signatures answer 401 with their code; key endpoints.
from skillguard.api_support import install_error_handlers  # noqa: E402
from skillguard.trust.auth import install_signature_errors  # noqa: E402

install_error_handlers(docking_api)
install_signature_errors(docking_api)
docking_api.add_router("", "skillguard.trust.api.router")
docking_api.add_router("", "skillguard.ingest.api_batches.router")
docking_api.add_router("", "skillguard.ingest.api_records.router")
docking_api.add_router("", "skillguard.distribution.api.router")

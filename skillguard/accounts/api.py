"""Accounts operations of the HTTP API."""

from ninja import Router

from skillguard.accounts.schemas import MeOut
from skillguard.api_support import ERROR_RESPONSES

router = Router()


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, operation_id="getCurrentUser",
            summary="Who am I", tags=["accounts"],
            description="当前用户及其角色、权限范围。The authenticated user, role, anchor "
                        "(district, institution, teacher or trainee record) and permissions.")
def me(request):
    return request.auth

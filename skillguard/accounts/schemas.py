"""Bodies of the accounts API."""
from __future__ import annotations

from typing import Optional

from ninja import Field, Schema

from skillguard.accounts.roles import Role


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: Role
    district_id: Optional[int] = None
    institution_id: Optional[int] = None
    teacher_id: Optional[int] = None
    trainee_id: Optional[int] = None
    permissions: dict[str, list[str]] = Field(
        ..., description="What the role may do, by record type (scope limits apply on top)")

    @staticmethod
    def resolve_permissions(obj) -> dict[str, list[str]]:
        from skillguard.accounts.roles import PERMISSIONS

        table = PERMISSIONS.get(obj.role, {})
        return {model: sorted(actions) for model, actions in sorted(table.items())}

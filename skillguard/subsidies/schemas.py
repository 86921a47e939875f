"""Response bodies of the subsidy-eligibility API (补贴资格)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema


class ReasonOut(Schema):
    code: str
    params: dict[str, str] = Field(default_factory=dict)
    message_zh: str
    message_en: str


class SubsidyVerdictOut(Schema):
    enrolment_id: int
    trainee_id: int
    training_class_id: int
    year: int | None = Field(None, description="The calendar year of the claim: the class's "
                             "end year")
    subsidy_type: str
    verdict: str = Field(..., description="eligible | not_eligible | pending_evidence")
    reasons: list[ReasonOut]
    rate: Decimal | None = Field(None, description="Share of the course's subsidy amount "
                                 "by trainee category")
    amount: Decimal | None = Field(None, description="CNY")
    computed_at: dt.datetime | None = Field(None, description="null: not computed yet")

"""Request and response bodies of the cases API."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from ninja import Field, Schema

from skillguard.cases.models import CaseOrigin, CaseState, Conclusion, SpotCheckKind, SpotOutcome
from skillguard.registry.schemas import In
from skillguard.supervision.rules.base import Severity

Id = int
Pair = tuple[int, int]


class CaseOut(Schema):
    id: Id
    number: Optional[str]
    title: str
    district_id: Id
    institution_id: Optional[Id]
    origin: CaseOrigin
    rule_code: Optional[str] = None
    severity: str
    state: CaseState
    assignee_id: Optional[Id]
    opened_at: dt.datetime
    deadline: dt.datetime
    overdue: bool = False
    escalated_at: Optional[dt.datetime]
    conclusion: str

    @staticmethod
    def resolve_rule_code(obj):
        return obj.rule.code if obj.rule_id else None

    @staticmethod
    def resolve_overdue(obj):
        return obj.is_overdue


class WarningRefOut(Schema):
    id: Id
    rule_code: str = ""
    summary_zh: str
    summary_en: str
    severity: str
    occurred_at: dt.datetime
    evidence: list
    affected_hours: list

    @staticmethod
    def resolve_rule_code(obj):
        return obj.rule.code


class EventOut(Schema):
    step: str
    from_state: str
    to_state: str
    actor_id: Optional[Id]
    at: dt.datetime
    comment: str


class AttachmentOut(Schema):
    id: Id
    name: str
    size: int
    content_type: str
    uploaded_at: dt.datetime


class CaseDetailOut(CaseOut):
    description: str
    request_text: str
    answer_deadline: Optional[dt.datetime]
    answer_text: str
    answered_at: Optional[dt.datetime]
    verification_note: str
    verified_at: Optional[dt.datetime]
    conclusion_comment: str
    closed_at: Optional[dt.datetime]
    extra_pairs: list
    warnings: list[WarningRefOut] = []
    events: list[EventOut] = []
    attachments: list[AttachmentOut] = []

    @staticmethod
    def resolve_warnings(obj):
        from skillguard.cases.queries import linked_warnings

        return list(linked_warnings(obj))

    @staticmethod
    def resolve_events(obj):
        from skillguard.cases.queries import history

        return list(history(obj))

    @staticmethod
    def resolve_attachments(obj):
        from skillguard.cases.queries import attachments

        return list(attachments(obj))


class CaseFilters(In):
    q: Optional[str] = Field(None, max_length=100, description="Number, title or institution")
    state: Optional[str] = Field(None, max_length=16,
                                 description="A state, or “open” for every open state")
    district: Optional[Id] = None
    institution: Optional[Id] = None
    rule: Optional[Id] = None
    severity: Optional[Severity] = None
    origin: Optional[CaseOrigin] = None
    overdue: Optional[bool] = None
    escalated: Optional[bool] = None
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None


class CountsOut(Schema):
    total: int
    open: int
    overdue: int
    escalated: int
    by_state: list[dict]
    by_severity: list[dict]
    by_district: list[dict] = []
    by_period: list[dict] = []
    by_rule: list[dict] = []
    by_institution: list[dict] = []


class AssignIn(In):
    assignee: Id
    comment: str = Field("", max_length=2000)


class DispatchIn(In):
    request_text: str = Field("", max_length=5000)
    answer_deadline: Optional[dt.datetime] = None


class AnswerIn(In):
    explanation: str = Field("", max_length=10000)


class VerifyIn(In):
    note: str = Field("", max_length=5000)
    extra_pairs: list[Pair] = []


class CloseIn(In):
    conclusion: Optional[Conclusion] = None
    comment: str = Field("", max_length=5000)
    extra_pairs: list[Pair] = []


class ReasonIn(In):
    reason: str = Field("", max_length=5000)


class CommentIn(In):
    text: str = Field("", max_length=5000)


class SpotCheckOut(Schema):
    id: Id
    number: Optional[str]
    kind: SpotCheckKind
    district_id: Optional[Id]
    institution_id: Optional[Id]
    occupation_id: Optional[Id]
    date_from: Optional[dt.date]
    date_to: Optional[dt.date]
    min_risk: int
    sample_size: int
    seed: str
    population: int
    created_at: dt.datetime


class SpotCheckItemOut(Schema):
    id: Id
    rank: int
    session_id: Id
    institution_id: Id
    risk_score: int
    enrolled_count: int
    headcount_observed: Optional[int]
    findings: str
    outcome: SpotOutcome
    case_id: Optional[Id]


class SpotCheckDetailOut(SpotCheckOut):
    items: list[SpotCheckItemOut] = []

    @staticmethod
    def resolve_items(obj):
        from skillguard.cases.queries import items

        return list(items(obj))


class SpotCheckIn(In):
    kind: SpotCheckKind
    sample_size: int = Field(..., ge=1, le=500)
    seed: str = Field("", max_length=64)
    district: Optional[Id] = None
    institution: Optional[Id] = None
    occupation: Optional[Id] = None
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    min_risk: int = Field(0, ge=0)


class SpotCheckFilters(In):
    kind: Optional[SpotCheckKind] = None
    district: Optional[Id] = None


class ItemResultIn(In):
    outcome: SpotOutcome
    findings: str = Field("", max_length=10000)
    headcount_observed: Optional[int] = Field(None, ge=0)

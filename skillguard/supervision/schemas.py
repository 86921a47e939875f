"""Request and response bodies of the supervision API (rules, back-tests, warnings)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from ninja import Field, Schema

from skillguard.core.errors import both_languages
from skillguard.registry.schemas import In, _enum
from skillguard.supervision.models import RunMode, RunStatus, WarningStatus
from skillguard.supervision.rules.base import Period, RuleLevel, Severity

SeverityEnum = _enum("Severity", Severity.values)
PeriodEnum = _enum("Period", Period.values)
LevelEnum = _enum("RuleLevel", RuleLevel.values)
WarningStatusEnum = _enum("WarningStatus", WarningStatus.values)


def bilingual(text) -> dict:
    out = both_languages(text)
    return {"zh": out["message_zh"], "en": out["message_en"]}


class TextOut(Schema):
    zh: str
    en: str


class ParamOut(Schema):
    name: str
    kind: str = Field(..., description="int, float, bool or choice")
    label: TextOut
    help: TextOut
    unit: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    default: Any = None
    value: Any = Field(None, description="The value in the version in force")
    choices: list[Any] = []


class VersionOut(Schema):
    number: int
    params: dict
    severity: str
    level: str
    period: str
    comment: str
    created_by: Optional[str] = None
    created_at: dt.datetime


class RunOut(Schema):
    id: int
    rule: str
    mode: str = Field(..., description=" | ".join(RunMode.values))
    version: int
    window_start: dt.datetime
    window_end: dt.datetime
    status: str = Field(..., description=" | ".join(RunStatus.values))
    requested_by: Optional[str] = None
    started_at: Optional[dt.datetime] = None
    finished_at: Optional[dt.datetime] = None
    findings_count: int
    new_warnings: int
    error: str
    results: dict = Field(default_factory=dict, description=(
        "Back-tests: params, count, existing (already warnings), new, per_district, "
        "per_institution, sample (at most 50, with summary_zh / summary_en)"))


class RuleOut(Schema):
    code: str
    name: TextOut
    description: TextOut
    enabled: bool
    installed: bool = Field(..., description="False: the rule's code is no longer loaded")
    awaits_source: str = Field("", description="Data source the rule waits for (video, "
                                               "online), empty when it has its data")
    version: Optional[int] = None
    severity: Optional[str] = None
    level: Optional[str] = None
    period: Optional[str] = None
    params: dict = {}
    triggers: list[str] = []
    open_warnings: int = 0
    last_run: Optional[RunOut] = None


class RuleDetailOut(RuleOut):
    parameters: list[ParamOut] = []
    versions: list[VersionOut] = []


class RuleChangeIn(In):
    params: Optional[dict[str, Any]] = Field(
        None, description="Parameters to change; the others keep their value in force")
    severity: Optional[SeverityEnum] = None
    period: Optional[PeriodEnum] = None
    level: Optional[LevelEnum] = None
    enabled: Optional[bool] = None
    comment: str = Field(..., max_length=1000, description="Why (kept with the version)")


class BacktestIn(In):
    window_start: dt.datetime
    window_end: dt.datetime
    params: Optional[dict[str, Any]] = Field(
        None, description="Parameters to try (all of them); default: the version's")
    version: Optional[int] = Field(None, description="Version number; default: in force")


class WarningFilters(In):
    district: Optional[int] = None
    institution: Optional[int] = None
    rule: Optional[str] = Field(None, max_length=48, description="Rule code")
    severity: Optional[SeverityEnum] = None
    status: Optional[WarningStatusEnum] = None
    level: Optional[LevelEnum] = None
    first_seen_from: Optional[dt.date] = None
    first_seen_to: Optional[dt.date] = None


class WarningOut(Schema):
    id: int
    rule: str
    rule_version: int
    severity: str
    level: str
    status: str
    district: int
    district_name: str
    institution: Optional[int] = None
    institution_name: Optional[str] = None
    subject: str
    summary_zh: str
    summary_en: str
    occurred_at: dt.datetime
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    seen_count: int

    @staticmethod
    def resolve_rule(obj):
        return obj.rule.code

    @staticmethod
    def resolve_rule_version(obj):
        return obj.rule_version.number

    @staticmethod
    def resolve_district(obj):
        return obj.district_id

    @staticmethod
    def resolve_district_name(obj):
        return obj.district.name

    @staticmethod
    def resolve_institution(obj):
        return obj.institution_id

    @staticmethod
    def resolve_institution_name(obj):
        return obj.institution.name if obj.institution_id else None


class WarningDetailOut(WarningOut):
    details: dict
    evidence: list
    affected_hours: list

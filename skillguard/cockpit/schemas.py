"""API shapes of the cockpit."""
from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class ScopeIn(Schema):
    district: int | None = Field(None, description="district id (omit: the user's level)")
    institution: int | None = Field(None, description="institution id")
    from_: dt.date | None = Field(None, alias="from", description="first day (YYYY-MM-DD)")
    to: dt.date | None = Field(None, description="last day (YYYY-MM-DD)")


class FigureOut(Schema):
    code: str
    label: str
    value: float | int | None
    unit: str
    note: str
    freshness: str | None
    url: str | None


class ScopeOut(Schema):
    level: str
    district: int | None
    institution: int | None
    label: str


class FiguresOut(Schema):
    scope: ScopeOut
    date_from: dt.date
    date_to: dt.date
    figures: list[FigureOut]


class PointOut(Schema):
    period: str
    start: str
    value: float | int | None


class TrendOut(Schema):
    scope: ScopeOut
    metric: str
    grain: str
    points: list[PointOut]


class SliceOut(Schema):
    key: int | str | None
    label: str
    value: float | int | None
    url: str | None


class BreakdownOut(Schema):
    scope: ScopeOut
    metric: str
    by: str
    rows: list[SliceOut]


class RiskOut(Schema):
    rank: int
    institution_id: int
    institution: str
    district: str
    score: float
    reasons: list[str]
    url: str | None
    freshness: str | None


class RankingOut(Schema):
    scope: ScopeOut
    score: str
    rows: list[RiskOut]

"""Request and response bodies of the statistics and reports API."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.urls import reverse
from ninja import Field, Schema


class StatFiltersIn(Schema):
    district: int | None = Field(None, description="区 id（须在调用者范围内，否则 404）")
    occupation: int | None = Field(None, description="职业（工种）id")
    month_from: str | None = Field(None, description="首月 YYYY-MM（默认：近 6 个月）",
                                   pattern=r"^\d{4}-\d{2}$")
    month_to: str | None = Field(None, description="末月 YYYY-MM（含；至多 36 个月）",
                                 pattern=r"^\d{4}-\d{2}$")


class ColumnOut(Schema):
    key: str
    label: str
    kind: str


class TableOut(Schema):
    table: str
    title: str
    month_from: str
    month_to: str
    district: int | None
    occupation: int | None
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None
    freshness: dt.datetime | None = Field(None, description="数据更新时间（驾驶舱汇总表）")


class ExportIn(StatFiltersIn):
    table: Literal["training", "subsidy", "handling"]
    format: Literal["csv", "xlsx"] = "csv"


class ExportJobOut(Schema):
    id: int
    table: str
    format: str
    filters: dict
    district: int | None = Field(None, alias="district_id")
    state: str
    rows_done: int
    rows_total: int
    percent: int
    size: int
    error: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    download_url: str | None

    @staticmethod
    def resolve_download_url(obj):
        if obj.state != "done":
            return None
        return reverse("api:downloadExportJob", kwargs={"id": obj.pk})


class ReportIn(Schema):
    kind: Literal["city", "district"]
    district: int | None = None
    month: str = Field(..., description="报告月份 YYYY-MM", pattern=r"^\d{4}-\d{2}$")


class ReportOut(Schema):
    id: int
    kind: str
    district: int | None = Field(None, alias="district_id")
    month: dt.date
    state: str
    sha256: str
    size: int
    figures: dict
    error: str
    requested_at: dt.datetime
    generated_at: dt.datetime | None
    sealed_at: dt.datetime | None
    timestamped_at: dt.datetime | None
    download_url: str | None

    @staticmethod
    def resolve_download_url(obj):
        if obj.state != "done":
            return None
        return reverse("api:downloadReport", kwargs={"id": obj.pk})

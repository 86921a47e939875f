"""HTTP API of cockpit (thin router over ``cockpit.figures``).

A district or institution outside the caller's scope answers 404 with the same body as a
missing one; a missing, reversed or longer-than-five-years range answers 422 naming the
field; an unknown metric, grain or breakdown answers 422 too."""
from __future__ import annotations

from typing import Literal

from django.utils import timezone
from django.utils.translation import get_language
from ninja import Query, Router

from skillguard.api_support import ERROR_RESPONSES
from skillguard.cockpit import figures
from skillguard.cockpit.schemas import (
    BreakdownOut,
    FiguresOut,
    RankingOut,
    ScopeIn,
    TrendOut,
)
from skillguard.core.errors import BusinessRuleError, Problem

router = Router(tags=["cockpit"])
R = {**ERROR_RESPONSES}

Metric = Literal[figures.METRICS]  # type: ignore[valid-type]
Grain = Literal["day", "week", "month", "year"]
By = Literal["district", "institution", "occupation", "level", "category", "severity"]


class _Bilingual:
    """A message already written in both languages: the one of the active language."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return self.zh if (get_language() or "").startswith("zh") else self.en


def _scope(request, q: ScopeIn):
    scope = figures.resolve_scope(request.auth, q.district, q.institution)
    last = q.to or timezone.localdate()
    first = q.from_ or last.replace(day=1)
    try:
        figures.check_range(first, last)
    except figures.RangeError as exc:
        raise BusinessRuleError([Problem(field=exc.field, code="invalid_period",
                                         message=_Bilingual(exc.message_zh, exc.message_en),
                                         record="period")]) from None
    return scope, first, last


def _scope_out(scope) -> dict:
    return {"level": scope.level, "district": scope.district_id,
            "institution": scope.institution_id, "label": scope.label}


@router.get("/cockpit/figures", response={200: FiguresOut, **R}, operation_id="cockpitFigures",
            summary="Key figures of the city, a district or an institution",
            description="Classes running, sessions, trainees present, valid hours, attendance "
                        "rate, warnings by severity and state, overdue cases, cameras online, "
                        "subsidy amounts; each with its freshness and drill-down URL. Period "
                        "default: this month up to today.")
def cockpit_figures(request, q: Query[ScopeIn]):
    scope, first, last = _scope(request, q)
    key = figures.key_figures(scope, first, last)
    return {"scope": _scope_out(scope), "date_from": first, "date_to": last,
            "figures": [f.as_dict() for f in key.values()]}


@router.get("/cockpit/trends", response={200: TrendOut, **R}, operation_id="cockpitTrends",
            summary="Trend of one metric by day, week, month or year",
            description="驾驶舱趋势：某项指标按日、周、月或年的序列（区间内每个周期都有值，无数据为 0）。"
                        "One metric per day, week, month or year over the period; every "
                        "period of the range is present (0 when empty).")
def cockpit_trends(request, q: Query[ScopeIn], metric: Metric = "sessions",
                   grain: Grain = "day"):
    scope, first, last = _scope(request, q)
    return {"scope": _scope_out(scope), "metric": metric, "grain": grain,
            "points": figures.trend(scope, metric, grain, first, last)}


@router.get("/cockpit/breakdowns", response={200: BreakdownOut, **R},
            operation_id="cockpitBreakdowns",
            summary="One metric broken down by district, institution, occupation, level, "
                    "trainee category or severity",
            description="驾驶舱分布：某项指标按区、机构、职业、等级、学员类别或严重程度分组，附下钻链接。"
                        "Each row has its key, label, value and the URL of the records behind "
                        "it where a list page exists.")
def cockpit_breakdowns(request, q: Query[ScopeIn], metric: Metric = "sessions",
                       by: By = "district"):
    scope, first, last = _scope(request, q)
    return {"scope": _scope_out(scope), "metric": metric, "by": by,
            "rows": figures.breakdown(scope, metric, by, first, last)}


@router.get("/cockpit/ranking", response={200: RankingOut, **R}, operation_id="cockpitRanking",
            summary="Risk ranking of institutions, with the reasons",
            description="机构风险排行：按公布的评分公式（未办结预警按严重程度加权、逾期案件、出勤率、"
                        "监控覆盖率）排序，并列出原因。Institutions by the published risk score, "
                        "with the reasons.")
def cockpit_ranking(request, district: int | None = None, institution: int | None = None,
                    limit: int = 20):
    scope = figures.resolve_scope(request.auth, district, institution)
    limit = max(1, min(limit, 200))
    return {"scope": _scope_out(scope), "score": str(figures.RISK_SCORE),
            "rows": figures.risk_ranking(scope, limit)}


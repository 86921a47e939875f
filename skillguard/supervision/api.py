"""HTTP API of supervision (thin router over queries and services): the rule catalogue,
rule changes (new versions), back-tests, warnings.

Conventions (skillguard/api.py): the caller is ``request.auth``; a rule, run or warning
that is missing or outside the caller's scope answers the same 404; a role that may not
change rules answers 403; a refused change answers 422 naming each field, in zh and en.
"""

from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from skillguard.api_support import ERROR_RESPONSES, Pagination
from skillguard.supervision import engine, queries, services
from skillguard.supervision.models import Rule
from skillguard.supervision.schemas import (
    BacktestIn,
    RuleChangeIn,
    RuleDetailOut,
    RuleOut,
    RunOut,
    WarningDetailOut,
    WarningFilters,
    WarningOut,
    bilingual,
)

router = Router(tags=["supervision 监管预警"])


def _op(op_id: str, summary: str, description: str, **extra):
    return {"operation_id": op_id, "summary": summary, "description": description, **extra}


def run_out(run) -> dict:
    return {"id": run.pk, "rule": run.rule.code, "mode": run.mode,
            "version": run.version.number, "window_start": run.window_start,
            "window_end": run.window_end, "status": run.status,
            "requested_by": run.requested_by.username if run.requested_by_id else None,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "findings_count": run.findings_count, "new_warnings": run.new_warnings,
            "error": run.error, "results": {}}


def rule_out(user, rule: Rule, *, detail: bool = False) -> dict:
    defn = engine.definition(rule.code)
    version = rule.current_version
    open_warnings = getattr(rule, "open_warnings", None)
    if open_warnings is None:
        open_warnings = queries.warnings(user, rule=rule.code, status="open").count()
    last_id = getattr(rule, "last_run_id", None)
    last = None
    if last_id is not None or not hasattr(rule, "last_run_id"):
        last = queries.runs(user, rule).exclude(mode="backtest").first()
    out = {
        "code": rule.code, "enabled": rule.enabled, "installed": defn is not None,
        "name": bilingual(defn.name) if defn else {"zh": rule.code, "en": rule.code},
        "description": bilingual(defn.description) if defn else {"zh": "", "en": ""},
        "awaits_source": getattr(defn, "awaits_source", "") or "",
        "triggers": sorted(str(t) for t in getattr(defn, "triggers", ())),
        "version": version.number if version else None,
        "severity": version.severity if version else None,
        "level": version.level if version else None,
        "period": version.period if version else None,
        "params": version.params if version else {},
        "open_warnings": open_warnings or 0,
        "last_run": run_out(last) if last else None,
    }
    if detail:
        out["parameters"] = [{
            "name": name, "kind": p.kind, "label": bilingual(p.label),
            "help": bilingual(p.help or ""), "unit": p.unit, "minimum": p.minimum,
            "maximum": p.maximum, "default": p.default,
            "value": (version.params if version else {}).get(name, p.default),
            "choices": [c[0] for c in p.choices]}
            for name, p in (defn.params.items() if defn else ())]
        out["versions"] = [{
            "number": v.number, "params": v.params, "severity": v.severity,
            "level": v.level, "period": v.period, "comment": v.comment,
            "created_by": v.created_by.username if v.created_by_id else None,
            "created_at": v.created_at} for v in queries.versions(rule)]
    return out


@router.get("/rules", response={200: list[RuleOut], **ERROR_RESPONSES},
            **_op("listRules", "List warning rules",
                  "预警规则目录。Every rule: code, names, severity, level, period, on/off, "
                  "version in force, open warnings in the caller's scope, last run."))
def list_rules(request):
    user = request.auth
    return [rule_out(user, r) for r in queries.rules(user)]


@router.get("/rules/{code}", response={200: RuleDetailOut, **ERROR_RESPONSES},
            **_op("getRule", "Get a warning rule",
                  "预警规则详情。Parameters with units and ranges, version history."))
def get_rule(request, code: str):
    user = request.auth
    return rule_out(user, queries.access_rule(user, code), detail=True)


@router.put("/rules/{code}", response={200: RuleDetailOut, **ERROR_RESPONSES},
            **_op("changeRule", "Change a warning rule",
                  "修改预警规则（城市管理员）。New parameters, severity, period or level make "
                  "a new version (never an edit); `enabled` switches the rule on or off; "
                  "`comment` is required. Out-of-range or inconsistent parameters answer 422 "
                  "naming each parameter."))
def change_rule(request, code: str, payload: RuleChangeIn):
    user = request.auth
    queries.access_rule(user, code)  # 404 first, then 403 / 422 from the service
    data = payload.dict(exclude_unset=True)
    rule = services.change_rule(
        user, code, params=data.get("params"), severity=data.get("severity"),
        period=data.get("period"), level=data.get("level"), enabled=data.get("enabled"),
        comment=data.get("comment", ""))
    return rule_out(user, queries.access_rule(user, rule.code), detail=True)


@router.post("/rules/{code}/backtests", response={202: RunOut, **ERROR_RESPONSES},
             **_op("createRuleBacktest", "Back-test a warning rule",
                   "回测预警规则（城市管理员）。Runs a version, or parameters not yet saved, "
                   "over past data in the background; the result says what it would have "
                   "raised. Creates no warnings."))
def create_backtest(request, code: str, payload: BacktestIn):
    user = request.auth
    queries.access_rule(user, code)
    run = services.run_backtest(user, code, window_start=payload.window_start,
                                window_end=payload.window_end, params=payload.params,
                                version=payload.version)
    return Status(202, run_out(run))


@router.get("/rules/{code}/backtests/{id}", response={200: RunOut, **ERROR_RESPONSES},
            **_op("getRuleBacktest", "Get a back-test",
                  "回测结果。Status and, when finished, counts per district and institution "
                  "and a sample of 50 findings (a district supervisor sees their district)."))
def get_backtest(request, code: str, id: int):
    user = request.auth
    rule = queries.access_rule(user, code)
    run = queries.access_run(user, rule, id)
    return {**run_out(run), "results": queries.visible_results(user, run)}


@router.get("/warnings", response={200: list[WarningOut], **ERROR_RESPONSES},
            **_op("listWarnings", "List warnings",
                  "预警列表（按权限范围）。Deduplicated warnings in the caller's scope, "
                  "newest first, filtered."))
@paginate(Pagination)
def list_warnings(request, filters: Query[WarningFilters]):
    f = filters.dict(exclude_none=True)
    start, end = f.pop("first_seen_from", None), f.pop("first_seen_to", None)
    period = "custom" if (start or end) else None
    return queries.warnings(request.auth, period=period, start=start, end=end, **f)


@router.get("/warnings/{id}", response={200: WarningDetailOut, **ERROR_RESPONSES},
            **_op("getWarning", "Get a warning",
                  "预警详情。Summary in both languages, facts, evidence, affected hours."))
def get_warning(request, id: int):
    return queries.access_warning(request.auth, id)

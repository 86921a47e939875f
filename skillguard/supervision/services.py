"""Writes of the supervision engine: rule changes (new versions), "run now", back-tests.

Every write: permission → validation (bilingual problems naming the field) → write →
audit (same transaction) → enqueue the job. Only the city administrator may change or run
rules (``accounts.roles``: the role table gives ``change`` on ``rule`` to the city admin
alone); supervisors view. ``actor=None`` is the system itself.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.audit import services as audit
from skillguard.audit.models import AuditAction
from skillguard.core.errors import BusinessRuleError, Problem, lazy_format
from skillguard.core.scoping import can
from skillguard.supervision import engine
from skillguard.supervision.models import Rule, RuleRun, RuleVersion, RunMode, RunStatus
from skillguard.supervision.rules.base import Period, RuleLevel, Severity

MAX_WINDOW = dt.timedelta(days=366)


def _ensure_may_change(actor) -> None:
    if actor is not None and not can(actor, "change", Rule):
        raise BusinessRuleError([Problem("", "forbidden",
                                         _("You may not do this for this record."))])


def rule_for(code: str) -> Rule:
    """The catalogue row of a registered rule (created on first use); refused when no rule
    of that code is registered."""
    rule = engine.ensure_catalogue([code]).get(code)
    if rule is None:
        rule = Rule.objects.select_related("current_version").filter(code=code).first()
    if rule is None or engine.definition(code) is None:
        raise BusinessRuleError([Problem("code", "rule_unknown", lazy_format(
            _("No rule with the code %(code)s is installed."), code=code),
            label=_("rule code"))])
    return rule


def _version_fields(version: RuleVersion | None) -> dict:
    if version is None:
        return {}
    return {"version": version.number, "params": version.params, "severity": version.severity,
            "level": version.level, "period": version.period}


@transaction.atomic
def change_rule(actor, code: str, *, params: Mapping[str, Any] | None = None,
                severity: str | None = None, period: str | None = None,
                enabled: bool | None = None, comment: str = "",
                level: str | None = None) -> Rule:
    """Change a rule: new parameters / severity / period / level make a NEW version (a
    version is never edited) that becomes the version in force; ``enabled`` switches it on
    or off. A reason is required. Audited with before and after."""
    _ensure_may_change(actor)
    rule = rule_for(code)
    rule = (Rule.objects.select_for_update(of=("self",)).select_related("current_version")
            .get(pk=rule.pk))
    defn = engine.definition(code)
    current = rule.current_version
    problems: list[Problem] = []
    clean = dict(current.params)
    if params is not None:
        # Parameters not named keep their value in force (new ones: their default).
        merged = {**defn.defaults(),
                  **{k: v for k, v in current.params.items() if k in defn.params},
                  **dict(params)}
        clean, found = defn.check_params(merged)
        problems += found
    severity = current.severity if severity in (None, "") else severity
    period = current.period if period in (None, "") else period
    level = current.level if level in (None, "") else level
    if severity not in Severity.values:
        problems.append(Problem("severity", "invalid_choice", lazy_format(
            _("“%(value)s” is not a valid value."), value=severity), label=_("severity")))
    if period not in Period.values:
        problems.append(Problem("period", "invalid_choice", lazy_format(
            _("“%(value)s” is not a valid value."), value=period), label=_("period")))
    if level not in RuleLevel.values:
        problems.append(Problem("level", "invalid_choice", lazy_format(
            _("“%(value)s” is not a valid value."), value=level), label=_("level")))
    if not (comment or "").strip():
        problems.append(Problem("comment", "required",
                                _("Say why the rule is changed: the reason is kept with the "
                                  "version."), label=_("reason for the change")))
    if problems:
        raise BusinessRuleError(problems)
    enabled = rule.enabled if enabled is None else bool(enabled)
    new_fields = {"params": clean, "severity": severity, "level": level, "period": period}
    version_changes = any(getattr(current, k) != v for k, v in new_fields.items())
    if not version_changes and enabled == rule.enabled:
        raise BusinessRuleError([Problem("", "unchanged", _(
            "Nothing would change: the values are those of the version in force."))])
    before = {"enabled": rule.enabled, **_version_fields(current)}
    if version_changes:
        number = (rule.versions.order_by("-number").values_list("number", flat=True)
                  .first() or 0) + 1
        version = RuleVersion.objects.create(
            rule=rule, number=number, comment=comment.strip(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            **new_fields)
        rule.current_version = version
    rule.enabled = enabled
    rule.save(update_fields=["current_version", "enabled"])
    after = {"enabled": rule.enabled, **_version_fields(rule.current_version)}
    changes = {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
    audit._event(actor, AuditAction.UPDATE, rule, changes=changes,
                 comment=comment.strip()[:1000]).save()
    return rule


def _check_window(start, end) -> list[Problem]:
    problems = []
    if start is None:
        problems.append(Problem("window_start", "required", _("A value is required."),
                                label=_("window from")))
    if end is None:
        problems.append(Problem("window_end", "required", _("A value is required."),
                                label=_("window to")))
    if problems:
        return problems
    if end <= start:
        problems.append(Problem("window_end", "window_order",
                                _("The end of the window must be after its start."),
                                label=_("window to")))
    elif end - start > MAX_WINDOW:
        problems.append(Problem("window_end", "window_too_long",
                                _("A window may span at most 366 days."),
                                label=_("window to")))
    return problems


def _aware(value):
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _defer(run: RuleRun) -> None:
    from skillguard.supervision.tasks import process_run

    def enqueue():
        process_run.defer(run_id=run.pk)
    try:
        with transaction.atomic():  # a refused insert must not abort the caller
            enqueue()
    except IntegrityError:  # pragma: no cover - no queueing lock today
        pass


@transaction.atomic
def request_run(actor, code: str, *, window_start=None, window_end=None,
                window=None) -> RuleRun:
    """"Run now": the rule in force over a chosen window (``window_start``/``window_end``
    or ``window=(start, end)``), processed by a job; its findings become warnings like a
    sweep's."""
    if window is not None:
        window_start, window_end = window
    _ensure_may_change(actor)
    rule = rule_for(code)
    window_start, window_end = _aware(window_start), _aware(window_end)
    problems = _check_window(window_start, window_end)
    if not rule.enabled:
        problems.append(Problem("", "rule_disabled", _(
            "The rule is switched off: switch it on first, or back-test it.")))
    if problems:
        raise BusinessRuleError(problems)
    run = RuleRun.objects.create(
        rule=rule, version=rule.current_version, mode=RunMode.MANUAL,
        window_start=window_start, window_end=window_end, status=RunStatus.QUEUED,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None)
    audit.record_created(actor, run)
    _defer(run)
    return run


@transaction.atomic
def run_backtest(actor, code: str, *, window_start=None, window_end=None, window=None,
                 params: Mapping[str, Any] | None = None,
                 version: int | RuleVersion | None = None) -> RuleRun:
    """Back-test a version (or a set of parameters not yet saved) over past data: a
    RuleRun(mode=backtest) processed by a job, which stores what it WOULD have raised in
    ``results`` and creates no warnings. Works on a switched-off rule too. The window is
    ``window_start``/``window_end`` or ``window=(start, end)``."""
    if window is not None:
        window_start, window_end = window
    _ensure_may_change(actor)
    rule = rule_for(code)
    window_start, window_end = _aware(window_start), _aware(window_end)
    problems = _check_window(window_start, window_end)
    base = rule.current_version
    if version is not None:
        number = version.number if isinstance(version, RuleVersion) else version
        base = rule.versions.filter(number=number).first()
        if base is None:
            problems.append(Problem("version", "unknown_version", lazy_format(
                _("The rule has no version %(number)s."), number=number), label=_("version")))
    clean = None
    if params is not None:
        clean, found = engine.definition(code).check_params(dict(params))
        problems += found
    if problems:
        raise BusinessRuleError(problems)
    run = RuleRun.objects.create(
        rule=rule, version=base, mode=RunMode.BACKTEST, window_start=window_start,
        window_end=window_end, status=RunStatus.QUEUED,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        results={"params": clean if clean is not None else base.params})
    audit.record_created(actor, run)
    _defer(run)
    return run

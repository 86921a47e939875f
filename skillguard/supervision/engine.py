"""The supervision engine: runs registered rules and turns findings into warnings.

CONTRACT (other apps call only these):
* ``run_realtime(*, triggers, session_ids=None, trainee_ids=None, institution_ids=None)`` —
  called by the attendance evidence processor after hours are recomputed; runs the enabled
  rules whose ``triggers`` intersect ``triggers`` incrementally over the given ids.
* ``run_rules(mode, *, codes=None, window_start, window_end, …)`` — every enabled rule (or
  the given codes) over a window: sweeps and "run now".
* ``run_sweep(period, day)`` — the scheduled sweep of one period ending before ``day``.
* ``execute_run(run_id)`` — a queued manual run or back-test (``supervision.process_run``).

What the engine guarantees, whatever a rule does:
* the catalogue row and version 1 of a rule exist once it is used (``ensure_catalogue``);
* a disabled rule never raises warnings (back-tests excepted: they raise none anyway);
* each rule runs in its own savepoint and its own ``RuleRun``: an exception is caught,
  logged and recorded on the run (status failed, error), and the other rules still run;
* findings become warnings through one set-based upsert per chunk, keyed by
  (rule, fingerprint): the same anomaly found again bumps ``seen_count``/``last_seen_at``
  and raises no second warning;
* new warnings are handed to ``cases.services.route_warnings`` in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from collections import Counter
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from skillguard.core.errors import both_languages
from skillguard.supervision.models import (
    Rule,
    RuleRun,
    RuleVersion,
    RunMode,
    RunStatus,
    Warning,
)
from skillguard.supervision.rules.base import (
    RULES,
    Finding,
    Period,
    RuleContext,
    RuleDefinition,
)

log = logging.getLogger(__name__)

UPSERT_CHUNK = 5_000  # findings per INSERT … ON CONFLICT statement
BACKTEST_SAMPLE = 50
REALTIME_PAD = dt.timedelta(days=1)  # around the touched sessions, for partition pruning


# --------------------------------------------------------------------------- catalogue


def ensure_catalogue(codes: Iterable[str] | None = None) -> dict[str, Rule]:
    """The catalogue rows of the registered rules (all, or ``codes``), created on first use
    with version 1 = the definition's defaults. Set-based and safe under concurrency
    (conflicts are ignored, then everything is read back)."""
    wanted = sorted(RULES if codes is None else [c for c in codes if c in RULES])
    if not wanted:
        return {}
    rules = {r.code: r for r in Rule.objects.filter(code__in=wanted)
             .select_related("current_version")}
    missing = [c for c in wanted if c not in rules]
    if missing:
        Rule.objects.bulk_create([Rule(code=c) for c in missing], ignore_conflicts=True)
        rules = {r.code: r for r in Rule.objects.filter(code__in=wanted)
                 .select_related("current_version")}
    unversioned = [r for r in rules.values() if r.current_version_id is None]
    if unversioned:
        versions = []
        for rule in unversioned:
            defn = RULES[rule.code]
            versions.append(RuleVersion(
                rule=rule, number=1, params=defn().defaults(), severity=defn.severity,
                level=defn.level, period=defn.period,
                comment="Initial version: the rule's defaults"))
        RuleVersion.objects.bulk_create(versions, ignore_conflicts=True)
        firsts = {v.rule_id: v for v in RuleVersion.objects.filter(
            rule__in=unversioned, number=1)}
        for rule in unversioned:
            Rule.objects.filter(pk=rule.pk, current_version__isnull=True).update(
                current_version=firsts[rule.pk])
        rules = {r.code: r for r in Rule.objects.filter(code__in=wanted)
                 .select_related("current_version")}
    return rules


def definition(code: str) -> RuleDefinition | None:
    cls = RULES.get(code)
    return cls() if cls else None


# --------------------------------------------------------------------------- windows


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def sweep_window(period: str, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The complete period before ``day`` (local dates): daily → the previous day; weekly →
    the previous ISO week (Monday to Monday); monthly → the previous month; yearly → the
    previous year. Real-time rules are swept daily (the safety net)."""
    if period in (Period.DAILY, Period.REALTIME):
        return _local_midnight(day - dt.timedelta(days=1)), _local_midnight(day)
    if period == Period.WEEKLY:
        monday = day - dt.timedelta(days=day.weekday())
        return _local_midnight(monday - dt.timedelta(days=7)), _local_midnight(monday)
    if period == Period.MONTHLY:
        first = day.replace(day=1)
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        return _local_midnight(previous), _local_midnight(first)
    if period == Period.YEARLY:
        first = day.replace(month=1, day=1)
        return _local_midnight(first.replace(year=first.year - 1)), _local_midnight(first)
    raise ValueError(period)


def periods_due(day: dt.date) -> list[str]:
    """Sweeps that start on local date ``day`` (the scheduler runs at 01:00 local)."""
    due = [Period.DAILY]
    if day.weekday() == 0:
        due.append(Period.WEEKLY)
    if day.day == 1:
        due.append(Period.MONTHLY)
        if day.month == 1:
            due.append(Period.YEARLY)
    return [str(p) for p in due]


def _realtime_window(session_ids, now) -> tuple[dt.datetime, dt.datetime]:
    """The touched sessions' time span ± 1 day (late evidence of an old session looks at
    that session's days, not at everything since); without sessions, the last day."""
    if session_ids:
        with connection.cursor() as cur:
            cur.execute("SELECT min(starts_at), max(ends_at) FROM registry_session "
                        "WHERE id = ANY(%s)", [sorted(session_ids)])
            lo, hi = cur.fetchone()
        if lo is not None:
            return lo - REALTIME_PAD, hi + REALTIME_PAD
    return now - REALTIME_PAD, now + dt.timedelta(hours=1)


# --------------------------------------------------------------------------- running


def _ids(values) -> frozenset[int] | None:
    return None if values is None else frozenset(int(v) for v in values)


def run_realtime(*, triggers, session_ids=None, trainee_ids=None, institution_ids=None):
    """Run, incrementally over the given ids, every enabled rule whose ``triggers``
    intersect ``triggers``. Returns the RuleRuns."""
    triggers = {str(t) for t in ([triggers] if isinstance(triggers, str) else triggers)}
    codes = [code for code, cls in RULES.items() if set(cls.triggers) & triggers]
    if not codes or not any((session_ids, trainee_ids, institution_ids)):
        return []
    now = timezone.now()
    start, end = _realtime_window(session_ids, now)
    return run_rules(RunMode.REALTIME, codes=codes, window_start=start, window_end=end,
                     session_ids=session_ids or (), trainee_ids=trainee_ids or (),
                     institution_ids=institution_ids or (), now=now)


def run_rules(mode, *, codes=None, window_start, window_end, session_ids=None,
              trainee_ids=None, institution_ids=None, actor=None, now=None) -> list[RuleRun]:
    """Run every enabled rule (or the enabled ones among ``codes``) over the window, each
    in its own savepoint and RuleRun; returns the runs (failed ones included)."""
    rules = ensure_catalogue(codes)
    now = now or timezone.now()
    incremental = any(x is not None for x in (session_ids, trainee_ids, institution_ids))
    runs = []
    for _code, rule in sorted(rules.items()):
        if not rule.enabled:
            continue
        version = rule.current_version
        ctx = RuleContext(
            params=dict(version.params), window_start=window_start, window_end=window_end,
            now=now, session_ids=_ids(session_ids) if incremental else None,
            trainee_ids=_ids(trainee_ids) if incremental else None,
            institution_ids=_ids(institution_ids) if incremental else None)
        run = RuleRun.objects.create(rule=rule, version=version, mode=mode,
                                     window_start=window_start, window_end=window_end,
                                     status=RunStatus.RUNNING, started_at=timezone.now(),
                                     requested_by=actor if _is_user(actor) else None)
        _execute(run, rule, version, ctx)
        runs.append(run)
    return runs


def run_sweep(period: str, day: dt.date | None = None) -> list[RuleRun]:
    """The scheduled sweep of ``period`` ending at local midnight of ``day`` (default today):
    the enabled rules whose version in force has that period; the daily sweep also runs the
    real-time rules as a safety net."""
    day = day or timezone.localdate()
    start, end = sweep_window(period, day)
    periods = {period, Period.REALTIME} if period == Period.DAILY else {period}
    rules = ensure_catalogue()
    codes = [c for c, r in rules.items()
             if r.enabled and r.current_version.period in {str(p) for p in periods}]
    if not codes:
        return []
    return run_rules(RunMode.SWEEP, codes=codes, window_start=start, window_end=end)


def execute_run(run_id: int) -> RuleRun | None:
    """Process a queued manual run or back-test (idempotent: a run that is not queued any
    more is left alone)."""
    with transaction.atomic():
        run = (RuleRun.objects.select_for_update(skip_locked=True)
               .select_related("rule", "version").filter(pk=run_id,
                                                         status=RunStatus.QUEUED).first())
        if run is None:
            return None
        run.status, run.started_at = RunStatus.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    params = (run.results.get("params") if run.mode == RunMode.BACKTEST else None) \
        or run.version.params
    ctx = RuleContext(params=dict(params), window_start=run.window_start,
                      window_end=run.window_end, now=timezone.now())
    if run.mode == RunMode.MANUAL and not run.rule.enabled:
        _finish(run, RunStatus.FAILED, error="rule switched off before the run started")
        return run
    _execute(run, run.rule, run.version, ctx, backtest=run.mode == RunMode.BACKTEST)
    return run


def _is_user(actor) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def _finish(run: RuleRun, status, *, error="", findings=0, new=0, results=None) -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.findings_count, run.new_warnings = findings, new
    fields = ["status", "error", "finished_at", "findings_count", "new_warnings"]
    if results is not None:
        run.results = results
        fields.append("results")
    run.save(update_fields=fields)


def _execute(run: RuleRun, rule: Rule, version: RuleVersion, ctx: RuleContext, *,
             backtest: bool = False) -> None:
    defn = definition(rule.code)
    try:
        if defn is None:
            raise LookupError(f"rule {rule.code} is not registered (its module is not loaded)")
        with transaction.atomic():
            findings = _unique(defn.detect(ctx))
            if backtest:
                results = _backtest_results(rule, findings, run.results.get("params"))
                new = 0
            else:
                new_ids, _seen = upsert_warnings(rule, version, run, findings)
                new = len(new_ids)
                results = None
                if new_ids:
                    from skillguard.cases.services import route_warnings

                    route_warnings(new_ids)
    except Exception as exc:  # isolation: one failing rule never stops the others
        log.exception("supervision rule %s failed (run %s)", rule.code, run.pk)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _finish(run, RunStatus.FAILED, error=detail[:4000])
        return
    _finish(run, RunStatus.OK, findings=len(findings), new=new, results=results)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per subject (the last one wins): a rule may report an anomaly twice."""
    out: dict[str, Finding] = {}
    for f in findings or ():
        out[f.subject] = f
    return list(out.values())


# --------------------------------------------------------------------------- warnings

_UPSERT = """
INSERT INTO supervision_warning (
    rule_id, rule_version_id, fingerprint, subject, severity, level, district_id,
    institution_id, summary_zh, summary_en, details, evidence, affected_hours, occurred_at,
    first_seen_at, last_seen_at, seen_count, status, first_run_id)
SELECT %(rule)s, %(version)s, f.fingerprint, f.subject, %(severity)s, %(level)s,
       f.district_id, f.institution_id, f.summary_zh, f.summary_en,
       coalesce(f.details, '{}'::jsonb), coalesce(f.evidence, '[]'::jsonb),
       coalesce(f.affected_hours, '[]'::jsonb), f.occurred_at, %(now)s, %(now)s, 1, 'open',
       %(run)s
FROM jsonb_to_recordset(%(rows)s::jsonb) AS f(
    fingerprint text, subject text, district_id bigint, institution_id bigint,
    summary_zh text, summary_en text, details jsonb, evidence jsonb, affected_hours jsonb,
    occurred_at timestamptz)
ON CONFLICT (rule_id, fingerprint) DO UPDATE SET
    last_seen_at = EXCLUDED.last_seen_at,
    seen_count = supervision_warning.seen_count + 1,
    -- an open warning follows the anomaly as it grows; one in a case keeps what the case
    -- was opened on
    details = CASE WHEN supervision_warning.status = 'open' THEN EXCLUDED.details
                   ELSE supervision_warning.details END,
    evidence = CASE WHEN supervision_warning.status = 'open' THEN EXCLUDED.evidence
                    ELSE supervision_warning.evidence END,
    affected_hours = CASE WHEN supervision_warning.status = 'open'
                          THEN EXCLUDED.affected_hours
                          ELSE supervision_warning.affected_hours END
RETURNING id, (xmax = 0) AS inserted
"""


def finding_row(f: Finding) -> dict:
    summary = both_languages(f.summary)
    return {"fingerprint": f.fingerprint, "subject": f.subject,
            "district_id": f.district_id, "institution_id": f.institution_id,
            "summary_zh": summary["message_zh"], "summary_en": summary["message_en"],
            "details": dict(f.details or {}), "evidence": [list(e) for e in f.evidence],
            "affected_hours": [list(p) for p in f.affected_hours],
            "occurred_at": f.occurred_at.isoformat()}


def upsert_warnings(rule: Rule, version: RuleVersion, run: RuleRun | None,
                    findings: list[Finding]) -> tuple[list[int], int]:
    """Turn findings into warnings: one INSERT … ON CONFLICT per chunk of 5,000. Returns
    (ids of the new warnings, number of warnings seen again)."""
    new_ids, seen = [], 0
    now = timezone.now()
    for lo in range(0, len(findings), UPSERT_CHUNK):
        rows = [finding_row(f) for f in findings[lo:lo + UPSERT_CHUNK]]
        with connection.cursor() as cur:
            cur.execute(_UPSERT, {
                "rule": rule.pk, "version": version.pk, "severity": version.severity,
                "level": version.level, "now": now, "run": run.pk if run else None,
                "rows": json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False)})
            for pk, inserted in cur.fetchall():
                if inserted:
                    new_ids.append(pk)
                else:
                    seen += 1
    return new_ids, seen


# --------------------------------------------------------------------------- back-tests


def _backtest_results(rule: Rule, findings: list[Finding], params) -> dict:
    """What a back-test would have raised: totals, per district and institution, a sample
    of 50 with summaries, and how many are warnings already. Creates nothing."""
    from skillguard.registry.models import District, Institution

    fingerprints = [f.fingerprint for f in findings]
    existing = set()
    for lo in range(0, len(fingerprints), 10_000):
        existing.update(Warning.objects.filter(
            rule=rule, fingerprint__in=fingerprints[lo:lo + 10_000])
            .values_list("fingerprint", flat=True))
    per_district = Counter(f.district_id for f in findings)
    per_institution = Counter((f.district_id, f.institution_id) for f in findings
                              if f.institution_id)
    district_names = dict(District.objects.filter(pk__in=list(per_district))
                          .values_list("pk", "name"))
    top_inst = per_institution.most_common(100)
    inst_names = dict(Institution.objects.filter(pk__in=[i for _d, i in dict(top_inst)])
                      .values_list("pk", "name")) if top_inst else {}
    ordered = sorted(findings, key=lambda f: (f.occurred_at, f.subject))
    sample = []
    for f in ordered[:BACKTEST_SAMPLE]:
        row = finding_row(f)
        row.pop("fingerprint")
        row["exists"] = f.fingerprint in existing
        sample.append(row)
    return {
        "params": params, "count": len(findings), "existing": len(existing),
        "new": len(findings) - len(existing),
        "per_district": [{"district_id": d, "name": district_names.get(d, str(d)), "count": n}
                         for d, n in per_district.most_common()],
        "per_institution": [{"district_id": d, "institution_id": i,
                             "name": inst_names.get(i, str(i)), "count": n}
                            for (d, i), n in top_inst],
        "sample": sample,
    }

"""Background jobs of the supervision engine (Procrastinate queue ``supervision``; the
worker is ``skillguard worker``).

Sweeps: one periodic job at 01:00 Asia/Shanghai (17:00 UTC; procrastinate's cron is in
UTC) defers the sweeps due that day — daily (the previous day; real-time rules too, as a
safety net), weekly on Mondays (the previous ISO week), monthly on the 1st, yearly on
1 January. Each sweep is a job of its own with a queueing lock, so a sweep is never queued
twice. "Run now" and back-tests are ``process_run`` jobs over a queued RuleRun.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

log = logging.getLogger(__name__)


@app.periodic(cron="0 17 * * *", periodic_id="supervision-sweeps")
@app.task(name="supervision.schedule_sweeps", queue="supervision",
          queueing_lock="supervision-schedule-sweeps")
def schedule_sweeps(timestamp: int) -> list[str]:
    """Defer the sweeps due on the local date of ``timestamp``."""
    from django.utils import timezone

    from skillguard.supervision.engine import periods_due

    day = timezone.localdate(dt.datetime.fromtimestamp(timestamp, tz=dt.UTC))
    due = periods_due(day)
    for period in due:
        try:
            with transaction.atomic():  # savepoint: a refused insert must not abort the rest
                sweep.configure(queueing_lock=f"supervision-sweep-{period}").defer(
                    period=period, day=day.isoformat())
        except AlreadyEnqueued:
            log.warning("sweep %s for %s already queued", period, day)
    return due


@app.task(name="supervision.sweep", queue="supervision")
def sweep(period: str, day: str) -> int:
    """Run the enabled rules of ``period`` over the period before local date ``day``.
    Re-running it is harmless: warnings are deduplicated by fingerprint."""
    from skillguard.supervision.engine import run_sweep

    runs = run_sweep(period, dt.date.fromisoformat(day))
    failed = [r.rule.code for r in runs if r.status == "failed"]
    if failed:
        log.error("sweep %s %s: rules failed: %s", period, day, ", ".join(failed))
    return len(runs)


@app.task(name="supervision.process_run", queue="supervision")
def process_run(run_id: int) -> str:
    """A queued "run now" or back-test (idempotent: a run no longer queued is skipped)."""
    from skillguard.supervision.engine import execute_run

    run = execute_run(run_id)
    return run.status if run else "skipped"

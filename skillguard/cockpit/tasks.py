"""Background jobs of the cockpit (Procrastinate): the incremental rollup refresh."""
from __future__ import annotations

import logging

from procrastinate.contrib.django import app

log = logging.getLogger(__name__)


@app.task(name="cockpit.refresh_rollups", queueing_lock="cockpit-refresh-rollups")
def refresh_rollups(full: bool = False) -> dict:
    """Re-aggregate the days touched since the last run (``cockpit.rollups.refresh``).
    Idempotent; the queueing lock keeps at most one waiting job."""
    from skillguard.cockpit.rollups import refresh

    result = refresh(full=full)
    log.info("cockpit rollups refreshed: %s", result)
    return result


@app.periodic(cron="*/5 * * * *", periodic_id="cockpit-refresh-rollups")
@app.task(name="cockpit.refresh_rollups_periodic", queueing_lock="cockpit-refresh-periodic")
def refresh_rollups_periodic(timestamp: int) -> dict:
    """Every five minutes: the incremental refresh."""
    from skillguard.cockpit.rollups import refresh

    return refresh()


def enqueue_refresh() -> bool:
    """Queue one incremental refresh (after the demo, after bulk changes); False if one is
    already waiting."""
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        refresh_rollups.defer()
    except AlreadyEnqueued:
        return False
    return True


@app.periodic(cron="0 19 * * *", periodic_id="cockpit-nightly")  # 03:00 Asia/Shanghai
@app.task(name="cockpit.refresh_recent_days", queueing_lock="cockpit-nightly")
def refresh_recent_days(timestamp: int) -> int:
    """Nightly safety net: re-aggregate the last 35 days of every rollup whatever the marks
    say (deleted sessions and rows leave no timestamp behind)."""
    import datetime as dt

    from django.utils import timezone

    from skillguard.cockpit.rollups import refresh_days

    today = timezone.localdate()
    refresh_days(today - dt.timedelta(days=35), today)
    return 36

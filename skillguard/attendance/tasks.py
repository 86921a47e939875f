"""Background jobs of attendance (Procrastinate): the evidence outbox and its safety nets."""
from __future__ import annotations

import logging

from procrastinate.contrib.django import app

log = logging.getLogger(__name__)


@app.task(name="attendance.process_pending_evidence", queueing_lock="attendance-pending-evidence")
def process_pending_evidence() -> int:
    """Recompute hours, subsidy verdicts and real-time rules for every outbox row
    (``attendance.services.note_evidence``); loops until the outbox is empty. Idempotent."""
    from skillguard.attendance.services import process_pending

    return process_pending()


@app.periodic(cron="* * * * *", periodic_id="attendance-sweep-pending")
@app.task(name="attendance.sweep_pending_evidence", queueing_lock="attendance-sweep-pending")
def sweep_pending_evidence(timestamp: int) -> bool:
    """Every minute: rows that arrived after the last job finished get a job."""
    from skillguard.attendance.models import PendingEvidence
    from skillguard.attendance.services import enqueue_processing

    if PendingEvidence.objects.exists():
        return enqueue_processing()
    return False


@app.periodic(cron="30 18 * * *", periodic_id="attendance-nightly")  # 02:30 Asia/Shanghai
@app.task(name="attendance.recompute_recently_ended", queueing_lock="attendance-nightly")
def recompute_recently_ended(timestamp: int) -> dict:
    """Nightly safety net: sessions that ended yesterday, classes that ended yesterday."""
    from skillguard.attendance.services import recompute_recently_ended as run

    result = run()
    log.info("nightly hours: %s", result)
    return result

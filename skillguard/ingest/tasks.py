"""Background jobs of data docking (Procrastinate queue ``ingest``; the worker is
``skillguard worker``)."""
from __future__ import annotations

import logging

from procrastinate.contrib.django import app

log = logging.getLogger(__name__)


@app.task(name="ingest.process_batch", queue="ingest")
def process_batch(batch_id: str) -> str:
    """Process or resume a large upload. Idempotent: a finished batch is left alone, a batch
    another worker holds is skipped, an interrupted one resumes after its cursor."""
    from skillguard.ingest.batches import run_batch

    result = run_batch(batch_id)
    log.info("batch %s: %s", batch_id, result)
    return result


@app.periodic(cron="* * * * *", periodic_id="ingest-requeue-stale")
@app.task(name="ingest.requeue_stale_batches", queue="ingest",
          queueing_lock="ingest-requeue-stale")
def requeue_stale_batches(timestamp: int) -> int:
    """Every minute: enqueue again the batches that no worker holds (their worker died, or
    their job was lost); a batch waiting in the queue is not queued twice."""
    from skillguard.ingest.batches import requeue_stale

    count = requeue_stale()
    if count:
        log.warning("re-enqueued %d interrupted batch(es)", count)
    return count

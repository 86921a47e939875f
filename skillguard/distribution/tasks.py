"""Background jobs of distribution (Procrastinate)."""
from __future__ import annotations

import procrastinate
from procrastinate.contrib.django import app

from skillguard.distribution.services import WEBHOOK_BASE_WAIT_S, WEBHOOK_MAX_ATTEMPTS


@app.task(name="distribution.deliver_webhook",
          retry=procrastinate.RetryStrategy(max_attempts=WEBHOOK_MAX_ATTEMPTS - 1,
                                            exponential_wait=WEBHOOK_BASE_WAIT_S))
def deliver_webhook(delivery_id: int) -> None:
    """POST one webhook delivery; a failure is recorded on the delivery and the job retried
    with exponential backoff. After the last attempt the delivery stays FAILED (kept, shown
    in the UI, re-sendable) — never dropped."""
    from skillguard.distribution.services import attempt_delivery

    attempt_delivery(delivery_id)

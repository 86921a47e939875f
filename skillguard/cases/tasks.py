"""Periodic jobs of case handling."""
from __future__ import annotations

from procrastinate.contrib.django import app

from skillguard.cases import services


@app.periodic(cron="*/15 * * * *", periodic_id="cases-escalate-overdue")
@app.task(name="cases.escalate_overdue", queueing_lock="cases-escalate-overdue")
def escalate_overdue(timestamp: int | None = None) -> int:
    """Every 15 minutes: open cases past their handling deadline are marked overdue and
    escalated to the city. Idempotent (a case is marked and escalated once)."""
    return services.escalate_overdue()

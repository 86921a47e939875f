"""Periodic jobs of the camera estate."""
from __future__ import annotations

from procrastinate.contrib.django import app

from skillguard.cameras import services


@app.periodic(cron="0 1 * * *", periodic_id="cameras-order-due-inspections")
@app.task(name="cameras.order_due_inspections", queueing_lock="cameras-due-inspections")
def order_due_inspections(timestamp: int | None = None) -> int:
    """Daily (09:00 Asia/Shanghai): every camera in service whose yearly inspection is due
    gets an open inspection work order. Idempotent (one open order per camera)."""
    return services.order_due_inspections()

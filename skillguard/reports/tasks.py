"""Background jobs of statistics and reports (Procrastinate)."""
from __future__ import annotations

import logging

from procrastinate.contrib.django import app

log = logging.getLogger(__name__)


@app.task(name="reports.run_export_job")
def run_export_job(job_id: int) -> str:
    """Write the file of a large export (idempotent: a finished job is left alone)."""
    from skillguard.reports.services import run_export

    job = run_export(job_id)
    return job.state if job else "missing"


@app.task(name="reports.generate_report")
def generate_report_task(archive_id: int) -> str:
    """Render and archive one monthly report (idempotent: a finished one is left alone)."""
    from skillguard.reports.pdf import generate_report

    archive = generate_report(archive_id)
    return archive.state if archive else "missing"


# Every day at 02:00 Asia/Shanghai (18:00 UTC: procrastinate's cron is in UTC). The job is
# idempotent, so in practice it generates last month's reports on the 1st and nothing after.
@app.periodic(cron="0 18 * * *", periodic_id="reports-monthly")
@app.task(name="reports.monthly_reports", queueing_lock="reports-monthly")
def monthly_reports(timestamp: int | None = None) -> int:
    """The reports of last month, for the city and every district — once each (a month
    already archived is not generated again)."""
    from skillguard.reports.pdf import queue_monthly_reports

    n = queue_monthly_reports()
    log.info("monthly reports queued: %s", n)
    return n

"""Recompute learning hours, totals and subsidy verdicts from the evidence."""
from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


class Command(BaseCommand):
    help = ("Recompute learning hours (every started session, or those starting on or after "
            "--since), enrolment totals and subsidy verdicts; then process the outbox.")

    def add_arguments(self, parser):
        parser.add_argument("--since", help="YYYY-MM-DD (local date)")
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, *args, since=None, batch=5000, **options):
        from skillguard.attendance.services import process_pending, recompute_all

        start = None
        if since:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from exc
            start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
        t0 = time.monotonic()
        result = recompute_all(since=start, batch=batch)
        pending = process_pending()
        self.stdout.write(f"sessions={result['sessions']} trainees={result['trainees']} "
                          f"outbox={pending} seconds={time.monotonic() - t0:.1f}")

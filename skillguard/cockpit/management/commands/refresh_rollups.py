"""Refresh the cockpit rollups: incrementally, or rebuild everything with --all."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Refresh the cockpit rollups (days touched since the last refresh); --all rebuilds "
            "every rollup from the sources.")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", dest="full",
                            help="rebuild every rollup from the sources")

    def handle(self, *args, full=False, **options):
        from skillguard.cockpit.rollups import refresh

        t0 = time.monotonic()
        result = refresh(full=full)
        days = " ".join(f"{k}={v}" for k, v in result.items())
        self.stdout.write(f"days refreshed: {days} seconds={time.monotonic() - t0:.1f}")

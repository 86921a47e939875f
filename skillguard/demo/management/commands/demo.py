"""``skillguard demo [--scale S] [--seed N] [--reset] [--no-fraud] [--no-evidence]`` — build the
synthetic demo city, its check-ins, learning hours, labelled fraud cases and warnings."""
from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from skillguard.demo.generator import DemoError, build_city


class Command(BaseCommand):
    help = ("Build the synthetic demo city: catalogue, institutions, teachers, trainees, "
            "classes in every workflow state, sessions, enrolments and demo logins. "
            "/ 生成演示城市。")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0,
                            help="multiplies institutions, classes and trainees (default 1: "
                                 "≈320 institutions, ≈40,000 enrolments)")
        parser.add_argument("--seed", type=int, default=2026,
                            help="random seed: the same seed gives the same city (default 2026)")
        parser.add_argument("--reset", action="store_true",
                            help="empty the registry and remove the demo users first "
                                 "(deletes ALL registry data)")
        parser.add_argument("--no-fraud", action="store_true",
                            help="do not inject the labelled fraud cases (a clean city that "
                                 "raises no warnings)")
        parser.add_argument("--no-evidence", action="store_true",
                            help="registry only: no check-ins, hours, fraud or warnings")
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help=argparse_suppress())

    def handle(self, *args, scale=1.0, seed=2026, reset=False, today=None, no_fraud=False,
               no_evidence=False, **options):
        verbose = options.get("verbosity", 1) >= 1
        try:
            report = build_city(scale=scale, seed=seed, reset=reset, today=today,
                                stdout=self.stdout if verbose else None)
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        if verbose:
            self._report(report)
        if not no_evidence:
            from skillguard.demo.attendance import populate_evidence

            now = None
            if today is not None and today != timezone.localdate():
                now = dt.datetime.combine(today, dt.time(18), tzinfo=timezone.get_current_timezone())
            populate_evidence(seed=seed, fraud=not no_fraud, now=now,
                              stdout=self.stdout if verbose else None)

    def _report(self, report):
        s = report.stats
        self.stdout.write(f"Demo city built in {report.seconds:.1f} s "
                          f"(scale {report.scale:g}, seed {report.seed}) / 演示城市已生成\n")
        width = max(len(k) for k in report.counts)
        for table, n in report.counts.items():
            extra = ""
            if s.copy_seconds.get(table):
                extra = f"   COPY {s.copy_seconds[table]:.2f} s"
            self.stdout.write(f"  {table:<{width}} {n:>10,}{extra}\n")
        self.stdout.write(f"  planning {s.plan_seconds:.1f} s, rows and sealing "
                          f"{s.rows_seconds:.1f} s, services and audit {s.other_seconds:.1f} s, "
                          f"{s.chunks} COPY chunks\n")


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS

"""A small demo city with evidence, hours, warnings and rollups, built once per module
inside a transaction rolled back at the end."""
from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.utils import timezone

SCALE, SEED = 0.02, 2026


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from skillguard.demo.attendance import populate_evidence
    from skillguard.demo.generator import build_city
    from skillguard.demo.tests.conftest import ensure_districts

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            ensure_districts()
            t0 = time.perf_counter()
            build_city(scale=SCALE, seed=SEED, today=timezone.localdate())
            t1 = time.perf_counter()
            result = populate_evidence(seed=SEED)
            t2 = time.perf_counter()
            print(f"\ncity built in {t1 - t0:.1f} s, evidence in {t2 - t1:.1f} s: "
                  f"{result['checkins']} check-ins, {result['warnings']} warnings")
            yield result
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)

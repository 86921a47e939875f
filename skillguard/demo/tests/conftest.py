"""Fixtures of the demo tests."""
from __future__ import annotations

import importlib


def ensure_districts() -> None:
    """Re-seed the 16 districts if a transactional test elsewhere flushed them (a flush
    empties every table, migration seed data included). Same code as the migration."""
    from django.apps import apps

    from skillguard.registry.models import District

    if District.objects.count() < 16:
        migration = importlib.import_module("skillguard.registry.migrations.0002_seed_districts")
        migration.seed(apps, None)

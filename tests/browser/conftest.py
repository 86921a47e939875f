"""Browser fixtures: the live server runs in another thread, so the world must be committed
(transactional_db), and the districts seeded by migration are restored after each flush."""
from __future__ import annotations

import importlib
import os

import pytest

# Playwright's sync API keeps an asyncio loop running in the test thread; Django would take
# that for an async context and refuse the test's own database calls. Nothing here is async.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser_world(transactional_db):
    from skillguard.core.testing import build_world
    from skillguard.registry.models import District

    if not District.objects.exists():  # a previous transactional test flushed the seed rows
        seed = importlib.import_module("skillguard.registry.migrations.0002_seed_districts")
        District.objects.bulk_create([
            District(code=code, name=name, name_en=name_en, sort_order=order)
            for order, (code, name, name_en) in enumerate(seed.DISTRICTS, start=1)])
    return build_world()


@pytest.fixture
def sign_out(page):
    def _sign_out():
        page.click("form[action$='/accounts/logout/'] button[type=submit]")
        page.wait_for_url("**/accounts/login/**")
    return _sign_out

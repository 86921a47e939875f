"""Shared fixtures. The database is PostgreSQL (embedded unless DATABASE_URL is set)."""
from __future__ import annotations

import os

import pytest

def pytest_configure(config):
    from django.conf import settings

    # Production hashes passwords with PBKDF2 at a million rounds; tests create dozens of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


REQUIRE_ALL = os.environ.get("SKILLGUARD_REQUIRE_ALL", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("SKILLGUARD_CHROMIUM", "/usr/bin/chromium")


from skillguard.core.skips import require_binary, require_importable  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages rendered outside a request default to English in tests, so assertions are
    stable whatever an earlier test activated. Requests still pick their language through
    LocaleMiddleware (zh-hans unless the user chose otherwise)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests (and live_server) flush every table, seeded districts included;
    put them back for any test that touches the database."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if not (marker or names & {"db", "transactional_db", "live_server", "world"}):
        return
    transactional = (marker is not None and marker.kwargs.get("transaction")) or \
        bool(names & {"transactional_db", "live_server"})
    request.getfixturevalue("transactional_db" if transactional else "db")
    from skillguard.registry.seed import ensure_districts

    if transactional:
        # Django's flush leaves unmanaged tables alone: the partitioned facts would carry
        # rows of earlier transactional tests into this one.
        from django.db import connection

        from skillguard.core.partitions import FACT_TABLES

        with connection.cursor() as cur:
            cur.execute("SELECT string_agg(quote_ident(c.relname), ', ') FROM pg_class c "
                        "WHERE c.relname = ANY(%s) AND c.relkind = 'p'", [list(FACT_TABLES)])
            tables = cur.fetchone()[0]
            if tables:
                cur.execute(f"TRUNCATE {tables}")
    ensure_districts()


@pytest.fixture
def world(db):
    from skillguard.core.testing import build_world

    return build_world()


@pytest.fixture
def login(client):
    """Log the test client in as a user; returns the client."""
    def _login(user):
        client.force_login(user)
        return client
    return _login


@pytest.fixture(scope="session")
def chromium_browser():
    require_binary(CHROMIUM, "browser tests drive Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser, live_server):
    context = chromium_browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def browser_login(page):
    from skillguard.core.testing import PASSWORD

    def _login(username: str):
        page.goto(page.base_url + "/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page
    return _login

"""The same seed gives the same city; the password is generated once and kept."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from .conftest import ensure_districts


@pytest.fixture(autouse=True)
def _districts(request):
    if "db" in request.fixturenames:
        request.getfixturevalue("db")
        ensure_districts()


def _snapshot():
    from skillguard.registry import models as m

    return {
        "trainees": list(m.Trainee.objects.order_by("id").values_list("name", "id_number_hash")),
        "classes": list(m.TrainingClass.objects.order_by("id").values_list(
            "code", "name", "status", "start_date")),
        "institutions": list(m.Institution.objects.order_by("id").values_list(
            "name", "credit_code")),
        "sessions": list(m.Session.objects.order_by("id").values_list("starts_at", "topic")),
    }


@pytest.mark.slow
def test_same_seed_same_city(db):
    from skillguard.demo.generator import build_city

    today = timezone.localdate()
    build_city(scale=0.02, seed=7, reset=True, today=today)
    first = _snapshot()
    build_city(scale=0.02, seed=7, reset=True, today=today)
    second = _snapshot()
    assert first == second
    assert first["classes"][0][0].startswith(f"K{first['classes'][0][3].year}")
    assert first["classes"][0][0].endswith("000001")


def test_other_seed_other_people(db):
    from skillguard.demo.generator import Planner
    from skillguard.registry.data import load_catalogue
    from skillguard.registry.models import Course, District

    load_catalogue()
    districts = list(District.objects.all())
    courses = list(Course.objects.select_related("occupation"))
    today = dt.date(2026, 3, 2)
    now = timezone.make_aware(dt.datetime(2026, 3, 2, 18))

    def people(seed):
        planner = Planner(seed, today, now, districts, courses)
        plan = planner.institution("310104")
        return [t.name for c in [plan] for t in c.new_trainees][:50], plan.name

    assert people(1) == people(1)
    assert people(1) != people(2)


def test_demo_password_generated_once(settings, tmp_path, monkeypatch):
    from skillguard.demo import users

    monkeypatch.delenv(users.PASSWORD_ENV, raising=False)
    settings.DATA_DIR = tmp_path
    first = users.demo_password()
    assert len(first) >= 12
    assert (tmp_path / "keys" / "demo-password").read_text().strip() == first
    assert users.demo_password() == first
    monkeypatch.setenv(users.PASSWORD_ENV, "Another-demo-pass-1")
    assert users.demo_password() == "Another-demo-pass-1"


def test_refuses_to_replace_existing_accounts_without_reset(db):
    from skillguard.accounts.models import User
    from skillguard.demo.generator import DemoError, build_city
    from skillguard.registry.models import Institution

    User.objects.create_user("auditor", password=None, role="auditor")
    with pytest.raises(DemoError, match="auditor"):
        build_city(scale=0.01, seed=1)
    assert not Institution.objects.exists()
    assert User.objects.get(username="auditor").has_usable_password() is False

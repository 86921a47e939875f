"""The demo camera estate on a small city: most rooms with sessions have a camera in
service, some gaps, faults with repair orders, overdue inspections, requests; health rows;
deterministic; the estate summary reads it."""
from __future__ import annotations

import io

import pytest
from django.db import connection, transaction
from django.utils import timezone

pytestmark = pytest.mark.django_db
SCALE, SEED = 0.01, 5151


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from skillguard.demo.generator import build_city
    from skillguard.demo.tests.conftest import ensure_districts

    with django_db_blocker.unblock(), transaction.atomic():
        ensure_districts()
        build_city(scale=SCALE, seed=SEED, today=timezone.localdate())
        yield
        transaction.set_rollback(True)


def _fingerprint():
    with connection.cursor() as c:
        c.execute("""SELECT md5(string_agg(concat_ws('|', serial, room_id, state, iccid, model),
                                           ',' ORDER BY room_id)) FROM cameras_camera""")
        return c.fetchone()[0]


def test_demo_estate(city, db):
    from skillguard.cameras import queries
    from skillguard.cameras.models import Camera, Inspection, WorkOrder
    from skillguard.demo.cameras import populate_cameras
    from skillguard.registry.models import Session
    from skillguard.video.models import CameraHealth

    now = timezone.now()
    out = io.StringIO()
    with transaction.atomic():
        result = populate_cameras(SEED, stdout=out, now=now)
        first = _fingerprint()
        transaction.set_rollback(True)
    result2 = populate_cameras(SEED, now=now)
    assert _fingerprint() == first and result2 == result  # same seed, same estate
    assert "Cameras written" in out.getvalue()
    rooms = Session.objects.filter(room__isnull=False).values("room").distinct().count()
    cams = Camera.objects.all()
    assert result["rooms"] == rooms >= 30
    in_service = cams.filter(state="in_service").count()
    assert 0.75 * rooms <= in_service < rooms
    assert cams.filter(state="faulty").exists()
    for cam in cams.filter(state="faulty"):
        assert WorkOrder.objects.filter(camera=cam, kind="repair",
                                        state__in=["open", "scheduled"]).exists()
    assert cams.filter(state__in=["requested", "scheduled"]).exists()
    assert cams.filter(state="in_service", stream_key_hash="").count() == 0
    assert CameraHealth.objects.filter(online=True).count() > 0.8 * in_service
    assert Inspection.objects.filter(passed=True).exists()
    city_admin = type("U", (), {"is_authenticated": True, "is_active": True,
                                "is_superuser": True, "role": "city_admin"})()
    overdue = queries.overdue_inspections(city_admin).count()
    assert 0 < overdue < 0.3 * in_service
    coverage = queries.coverage(city_admin)
    assert any(r["rate"] < 1 for r in coverage)
    covered, approved = sum(r["covered"] for r in coverage), sum(r["approved"] for r in coverage)
    assert 0.7 < covered / approved < 1  # tiny city: at least one gap of each kind
    summary = queries.estate_summary(city_admin)["totals"]
    assert summary["in_service"] == in_service and 0.8 < summary["online_rate"] < 1
    assert summary["open_faults"] == cams.filter(state="faulty").count()
    assert populate_cameras(SEED)["skipped"]  # once only

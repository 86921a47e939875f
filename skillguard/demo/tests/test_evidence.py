"""The demo command's evidence: check-ins for every held session, learning hours, the
labelled fraud cases and their warnings — reproducible, and gone with ``--reset``.

Built once for the module inside a transaction that is rolled back at the end."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from .conftest import ensure_districts

pytestmark = pytest.mark.django_db
SCALE, SEED = 0.02, 9090


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        ensure_districts()
        out = io.StringIO()
        call_command("demo", scale=SCALE, seed=SEED, stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def rows(sql, params=None):
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.fetchall()


def test_the_demo_opens_with_evidence_hours_and_warnings(demo):
    from skillguard.supervision.models import Warning

    assert "Check-ins written" in demo and "fraud TRAINEE_OVERLAP" in demo
    labels = {tuple(line.split()[1:3]) for line in demo.splitlines()
              if line.strip().startswith("fraud ")}
    assert len(labels) >= 15
    assert set(Warning.objects.values_list("rule__code", "subject")) == labels
    # learning hours were computed from the check-ins
    assert rows("SELECT count(*) FROM attendance_enrolmenthours")[0][0] > 0


def test_every_held_session_has_evidence_and_nothing_else_has(demo):
    missing = rows("""
        SELECT s.id FROM registry_session s
        JOIN registry_trainingclass c ON c.id = s.training_class_id
        WHERE c.status IN ('in_progress', 'finished') AND c.mode <> 'online'
          AND s.ends_at <= now() - interval '1 hour'
          AND NOT EXISTS (SELECT 1 FROM attendance_checkin ci WHERE ci.session_id = s.id)""")
    assert missing == []
    stray = rows("""
        SELECT count(*) FROM attendance_checkin ci
        JOIN registry_session s ON s.id = ci.session_id
        JOIN registry_trainingclass c ON c.id = s.training_class_id
        WHERE c.status NOT IN ('in_progress', 'finished') OR s.ends_at > now()
           OR ci.training_class_id <> c.id""")
    assert stray == [(0,)]
    # check-ins and check-outs pair up; check-outs follow check-ins
    unpaired = rows("""
        SELECT count(*) FROM (
            SELECT enrolment_id, session_id,
                   min(occurred_at) FILTER (WHERE kind = 'in') AS i,
                   min(occurred_at) FILTER (WHERE kind = 'out') AS o
            FROM attendance_checkin GROUP BY 1, 2) x
        WHERE x.i IS NULL OR x.o IS NULL OR x.o <= x.i""")
    assert unpaired == [(0,)]


def test_checkins_are_reproducible(demo):
    from skillguard.demo.attendance import generate_checkins

    sql = """SELECT md5(string_agg(concat_ws('|', external_id, occurred_at, method, latitude,
                                           longitude, ip, device_id, received_at), ','
                                  ORDER BY external_id))
             FROM attendance_checkin WHERE external_id LIKE 'demo-%%' AND external_id NOT LIKE '%%-u'"""
    with transaction.atomic():
        generate_checkins(seed=SEED, analyze=False)
        first = rows(sql)
        generate_checkins(seed=SEED, analyze=False)
        assert rows(sql) == first
        generate_checkins(seed=SEED + 1, analyze=False)
        assert rows(sql) != first
        transaction.set_rollback(True)


def test_reset_takes_the_checkins_along(demo):
    from skillguard.demo.generator import reset_demo

    with transaction.atomic():
        assert rows("SELECT count(*) FROM attendance_checkin")[0][0] > 0
        # the module's rows are not committed: check their deferred foreign keys now, as a
        # commit would, so that TRUNCATE finds no pending trigger events
        with connection.cursor() as c:
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")
        counts = reset_demo()
        assert counts["attendance_checkin"] > 0
        assert rows("SELECT count(*) FROM attendance_checkin") == [(0,)]
        transaction.set_rollback(True)

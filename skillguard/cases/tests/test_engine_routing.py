"""The engine hands its new warnings to ``route_warnings`` in the run's transaction: one
anomaly found twice is one warning in one case; two anomalies of one institution and
month share a case."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from skillguard.cases.models import Case
from skillguard.supervision import engine
from skillguard.supervision.models import Warning
from skillguard.supervision.tests.helpers import Fixed, fixed_finding
from skillguard.supervision.tests.helpers import test_rules  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_engine_warnings_open_and_join_cases(world, test_rules):  # noqa: F811
    now = timezone.now()
    Fixed.findings = [fixed_finding(world.a, subject="inst:1"),
                      fixed_finding(world.a, subject="inst:2"),
                      fixed_finding(world.b, subject="inst:3")]

    def run():
        engine.run_rules("manual", codes=["TEST_FIXED"], window_start=now - dt.timedelta(days=1),
                         window_end=now)

    run()
    assert Warning.objects.count() == 3
    assert set(Warning.objects.values_list("status", flat=True)) == {"in_case"}
    case_a = Case.objects.get(district=world.a.district)
    assert case_a.links.count() == 2 and case_a.rule.code == "TEST_FIXED"
    assert Case.objects.get(district=world.b.district).links.count() == 1
    run()  # found again: no new warning, no new case, no new link
    assert Warning.objects.count() == 3 and Case.objects.count() == 2
    assert case_a.links.count() == 2

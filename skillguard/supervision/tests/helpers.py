"""Small test-only rules, registered for one test and removed afterwards, so the engine's
tests do not depend on the shipped catalogue (``rules.catalogue``)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import Problem, lazy_format
from skillguard.supervision.rules import base
from skillguard.supervision.rules.base import Finding, Param, Period, RuleDefinition, Severity


class BusySession(RuleDefinition):
    """A session with at least ``min_checkins`` check-ins (current versions) in the window;
    incremental over ``session_ids``. One finding per session."""
    code = "TEST_BUSY_SESSION"
    name = _("Test: busy session")
    description = _("A session with many check-ins (test rule).")
    severity = Severity.HIGH
    period = Period.DAILY
    triggers = frozenset({"checkin"})
    params = {
        "min_checkins": Param(3, _("minimum check-ins"), minimum=1, maximum=10_000,
                              unit="check-ins"),
        "max_checkins": Param(1000, _("maximum check-ins"), minimum=1, maximum=100_000,
                              unit="check-ins"),
    }

    def check_consistency(self, values):
        if values["min_checkins"] > values["max_checkins"]:
            return [Problem("max_checkins", "parameter_inconsistent",
                            _("Must not be below the minimum."),
                            label=self.params["max_checkins"].label)]
        return []

    def detect(self, ctx):
        sql = ["SELECT c.session_id, max(c.district_id), max(c.institution_id), count(*),",
               "       min(c.occurred_at), array_agg(DISTINCT c.trainee_id)",
               "FROM attendance_checkin c",
               "WHERE c.occurred_at >= %s AND c.occurred_at < %s AND NOT c.superseded"]
        args = [ctx.window_start, ctx.window_end]
        if ctx.session_ids is not None:
            sql.append("AND c.session_id = ANY(%s)")
            args.append(ctx.ids("session_ids"))
        sql.append("GROUP BY c.session_id HAVING count(*) BETWEEN %s AND %s")
        args += [ctx.params["min_checkins"], ctx.params["max_checkins"]]
        with connection.cursor() as cur:
            cur.execute(" ".join(sql), args)
            rows = cur.fetchall()
        for session_id, district_id, institution_id, n, first, trainees in rows:
            yield Finding(
                subject=f"session:{session_id}", district_id=district_id,
                institution_id=institution_id, occurred_at=first,
                summary=lazy_format(_("Session %(session)s has %(n)s check-ins."),
                                    session=session_id, n=n),
                details={"checkins": n},
                evidence=(("session", session_id),
                          *(("trainee", t) for t in sorted(trainees))))


class Exploding(RuleDefinition):
    code = "TEST_EXPLODES"
    name = _("Test: always fails")
    description = _("Raises (test rule).")
    triggers = frozenset({"checkin"})

    def detect(self, ctx):
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM no_such_table_for_the_test")  # aborts its savepoint
        return []


class Fixed(RuleDefinition):
    """Reports the findings a test puts into ``Fixed.findings``."""
    code = "TEST_FIXED"
    name = _("Test: fixed findings")
    description = _("Findings given by the test.")
    period = Period.WEEKLY
    params = {"threshold": Param(5, _("threshold"), minimum=0, maximum=10)}
    findings: list = []

    def detect(self, ctx):
        return [f for f in type(self).findings
                if ctx.window_start <= f.occurred_at < ctx.window_end]


TEST_RULES = (BusySession, Exploding, Fixed)


@pytest.fixture
def test_rules():
    """Only the test rules are registered while the test runs; the catalogue comes back."""
    saved = dict(base.RULES)
    base.RULES.clear()
    for cls in TEST_RULES:
        base.register(cls)
    Fixed.findings = []
    yield {cls.code: cls for cls in TEST_RULES}
    base.RULES.clear()
    base.RULES.update(saved)


def fixed_finding(side, subject="inst:x", when=None, summary="Test anomaly %(x)s"):
    from django.utils import timezone

    return Finding(subject=subject, district_id=side.district.pk,
                   institution_id=side.institution.pk,
                   occurred_at=when or timezone.now() - dt.timedelta(hours=1),
                   summary=lazy_format(_(summary), x=subject),
                   evidence=(("institution", side.institution.pk),),
                   affected_hours=((1, 2),))

"""A small world with facts for the statistics and report tests: one finished class per
district last month (hours computed from evidence, subsidy verdicts), warnings and cases."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from skillguard.attendance import hours
from skillguard.attendance.testing import attend, write_evidence
from skillguard.attendance.tests.helpers import enrolment_of, past_class
from skillguard.cases.models import Case
from skillguard.cases.tests.helpers import case_rule, make_warning
from skillguard.reports.statistics import add_months, month_start
from skillguard.subsidies.services import recompute_verdicts


@dataclass
class Facts:
    month: dt.date  # first day of last month: everything below happened then
    class_a: object
    class_b: object
    rule: object


def _at(month: dt.date, day: int, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(month.replace(day=day), dt.time(hour)))


def build_facts(world) -> Facts:
    month = add_months(month_start(timezone.localdate()), -1)
    start = month.replace(day=5)
    class_a = past_class(world.a, world.course, start=start, days=3, planned_hours=12,
                         name="统计班A")
    class_b = past_class(world.b, world.course, start=start, days=3, planned_hours=12,
                         name="统计班B")
    items = []
    # district a: two of three trainees attend every session; the third never comes
    for t in world.a.trainees[:2]:
        e = enrolment_of(class_a, t)
        for s in class_a.sessions.all():
            items += attend(e, s)
    # district b: every trainee attends the first session only
    first_b = class_b.sessions.order_by("starts_at").first()
    for t in world.b.trainees:
        items += attend(enrolment_of(class_b, t), first_b)
    write_evidence(items)
    hours.recompute_sessions([*class_a.sessions.values_list("pk", flat=True),
                              *class_b.sessions.values_list("pk", flat=True)])
    recompute_verdicts([t.pk for t in world.a.trainees + world.b.trainees])

    rule = case_rule(code="TEST_STATS_RULE")
    for side, n in ((world.a, 3), (world.b, 1)):
        for k in range(n):
            w = make_warning(side, rule=rule, severity="high" if k else "critical")
            w.__class__.objects.filter(pk=w.pk).update(
                first_seen_at=_at(month, 10 + k), occurred_at=_at(month, 10 + k),
                last_seen_at=_at(month, 10 + k))
    # cases in district a last month: one closed on time, one closed late, one open overdue
    base = {"district": world.a.district, "institution": world.a.institution,
            "origin": "warning", "rule": rule, "severity": "high", "period": f"{month:%Y-%m}"}
    Case.objects.create(title="按时办结", opened_at=_at(month, 10), deadline=_at(month, 15),
                        state="closed", closed_at=_at(month, 12), **base)
    Case.objects.create(title="逾期办结", opened_at=_at(month, 11), deadline=_at(month, 14),
                        state="closed", closed_at=_at(month, 20), **base)
    Case.objects.create(title="逾期未结", opened_at=_at(month, 12), deadline=_at(month, 16),
                        state="assigned", escalated_at=_at(month, 18), **base)
    from skillguard.cockpit import rollups

    rollups.refresh(full=True)  # what the worker does; statistics and reports read them
    return Facts(month, class_a, class_b, rule)

"""Helpers of the case tests: warnings made directly with the supervision models (a test
rule's catalogue row), so these tests do not depend on the shipped rule catalogue."""
from __future__ import annotations

import itertools

from django.utils import timezone

from skillguard.supervision.models import Rule, RuleVersion, Warning

_serial = itertools.count(1)


def case_rule(code="TEST_CASE_RULE", severity="high", level="district"):
    rule, _ = Rule.objects.get_or_create(code=code)
    if rule.current_version_id is None:
        version = RuleVersion.objects.create(rule=rule, number=1, params={}, severity=severity,
                                             level=level, period="daily")
        rule.current_version = version
        rule.save(update_fields=["current_version"])
    return rule


def make_warning(side, *, rule=None, institution=True, severity="high", level="district",
                 occurred_at=None, evidence=(), affected_hours=(), subject=None):
    rule = rule or case_rule()
    now = timezone.now()
    n = next(_serial)
    return Warning.objects.create(
        rule=rule, rule_version=rule.current_version, fingerprint=f"fp-{n}-{now.timestamp()}",
        subject=subject or f"test:{n}", severity=severity, level=level,
        district=side.district, institution=side.institution if institution else None,
        summary_zh=f"测试预警 {n}", summary_en=f"test warning {n}",
        evidence=[list(e) for e in evidence], affected_hours=[list(p) for p in affected_hours],
        occurred_at=occurred_at or now, first_seen_at=now, last_seen_at=now)

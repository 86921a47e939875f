"""Each subsidy rule, with the reason it gives (pure function; no database)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import translation

from skillguard.subsidies.rules import Claim, decide, reason_text

D = dt.date


def claim(eid, end, *, type="skill_certificate", occupation=1, level=4, category="unemployed",
          completion="qualifies", filed=True, amount="1500.00", cancelled=False):
    return Claim(enrolment_id=eid, end_date=end, start_date=end - dt.timedelta(days=30),
                 category=category, subsidy_type=type, occupation_id=occupation, level=level,
                 amount=Decimal(amount), completion=completion, valid_hours=Decimal(70),
                 required_hours=Decimal(64), filed=filed, cancelled=cancelled)


def codes(decision):
    return [r["code"] for r in decision.reasons]


def test_eligible_with_the_category_rate():
    out = decide([claim(1, D(2026, 5, 1)), claim(2, D(2026, 6, 1), type="special_ability",
                                                  occupation=2, category="employed")])
    assert (out[1].verdict, out[1].rate, out[1].amount) == ("eligible", Decimal("1.000"),
                                                            Decimal("1500.00"))
    assert (out[2].verdict, out[2].amount) == ("eligible", Decimal("1200.00"))
    assert out[1].year == 2026 and codes(out[1]) == ["completion_met", "rate"]


def test_completion_pending_and_not_met():
    out = decide([claim(1, D(2026, 5, 1), completion="pending"),
                  claim(2, D(2026, 6, 1), completion="not_qualified", occupation=2,
                        type="special_ability")])
    assert out[1].verdict == "pending_evidence" and codes(out[1])[0] == "class_not_finished"
    assert out[2].verdict == "not_eligible" and codes(out[2]) == ["completion_not_met"]


def test_retired_and_students_are_not_eligible():
    out = decide([claim(1, D(2026, 5, 1), category="retired")])
    assert out[1].verdict == "not_eligible" and codes(out[1]) == ["category_not_eligible"]
    out = decide([claim(1, D(2026, 5, 1), category="student")])
    assert codes(out[1]) == ["category_not_eligible"]


def test_unfiled_course_is_not_eligible():
    out = decide([claim(1, D(2026, 5, 1), filed=False)])
    assert out[1].verdict == "not_eligible" and codes(out[1]) == ["course_not_filed"]


def test_each_subsidy_type_once_a_year_earlier_claim_wins():
    out = decide([claim(2, D(2026, 9, 1), occupation=2), claim(1, D(2026, 5, 1))])
    assert out[1].verdict == "eligible"
    assert out[2].verdict == "not_eligible" and codes(out[2]) == ["type_already_used"]
    # next year the type is available again
    out = decide([claim(1, D(2026, 5, 1)), claim(2, D(2027, 5, 1), occupation=2)])
    assert out[2].verdict == "eligible"


def test_at_most_three_a_year():
    types = ["skill_certificate", "special_ability", "entrepreneurship", "enterprise_online"]
    out = decide([claim(k + 1, D(2026, 3 + k, 1), type=t, occupation=k + 1)
                  for k, t in enumerate(types)])
    assert [out[k].verdict for k in (1, 2, 3)] == ["eligible"] * 3
    assert out[4].verdict == "not_eligible" and codes(out[4]) == ["yearly_limit"]


def test_same_occupation_and_level_once_ever():
    out = decide([claim(1, D(2025, 5, 1)), claim(2, D(2026, 5, 1))])
    assert out[2].verdict == "not_eligible" and codes(out[2]) == ["occupation_level_used"]


def test_no_lower_level_after_a_higher_one():
    out = decide([claim(1, D(2025, 5, 1), level=3), claim(2, D(2026, 5, 1), level=4),
                  claim(3, D(2027, 5, 1), level=2)])
    assert out[2].verdict == "not_eligible" and codes(out[2]) == ["lower_level_after_higher"]
    assert out[3].verdict == "eligible"  # a higher level after a lower one is fine


def test_a_failed_earlier_claim_does_not_block():
    out = decide([claim(1, D(2026, 5, 1), completion="not_qualified"),
                  claim(2, D(2026, 9, 1))])
    assert out[1].verdict == "not_eligible" and out[2].verdict == "eligible"


def test_a_pending_earlier_claim_keeps_a_later_one_pending():
    out = decide([claim(1, D(2026, 5, 1), completion="pending"), claim(2, D(2026, 9, 1),
                                                                       occupation=2)])
    assert out[1].verdict == "pending_evidence"
    assert out[2].verdict == "pending_evidence" and "earlier_claim_pending" in codes(out[2])


def test_reasons_render_in_both_languages():
    out = decide([claim(1, D(2026, 5, 1), category="retired")])
    r = out[1].reasons[0]
    with translation.override("en"):
        assert "Retired" in str(reason_text(r))
    with translation.override("zh-hans"):
        assert str(reason_text(r))  # rendered through the catalogue (filled by the lead)


def test_online_classes_wait_for_online_learning_hours():
    c = claim(1, D(2026, 5, 1), completion="pending")
    c.online = True
    out = decide([c])
    assert out[1].verdict == "pending_evidence" and codes(out[1])[0] == "online_hours_pending"

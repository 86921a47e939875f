"""Whatever the enrolments, the eligible ones obey every yearly and lifetime limit."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from skillguard.subsidies.rules import CATEGORY_RATES, MAX_PER_YEAR, Claim, decide

TYPES = ["skill_certificate", "special_ability", "enterprise_online", "entrepreneurship"]

CLAIM = st.builds(
    lambda eid, day, stype, occ, level, cat, completion, filed: Claim(
        enrolment_id=eid, end_date=dt.date(2025, 1, 1) + dt.timedelta(days=day),
        start_date=dt.date(2024, 12, 1) + dt.timedelta(days=day), category=cat,
        subsidy_type=stype, occupation_id=occ, level=level, amount=Decimal("1000.00"),
        completion=completion, filed=filed),
    st.integers(1, 10_000), st.integers(0, 800), st.sampled_from(TYPES), st.integers(1, 3),
    st.one_of(st.none(), st.integers(1, 5)), st.sampled_from(sorted(CATEGORY_RATES)),
    st.sampled_from(["qualifies", "not_qualified", "pending"]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(CLAIM, max_size=12, unique_by=lambda c: c.enrolment_id))
def test_eligible_claims_respect_every_limit(claims):
    out = decide(claims)
    assert set(out) == {c.enrolment_id for c in claims}
    eligible = sorted((c for c in claims if out[c.enrolment_id].verdict == "eligible"),
                      key=lambda c: (c.end_date, c.enrolment_id))
    per_year = Counter(c.end_date.year for c in eligible)
    assert all(n <= MAX_PER_YEAR for n in per_year.values())
    assert len({(c.end_date.year, c.subsidy_type) for c in eligible}) == len(eligible)
    assert len({(c.occupation_id, c.level) for c in eligible}) == len(eligible)
    for k, c in enumerate(eligible):
        assert c.completion == "qualifies" and c.filed
        assert CATEGORY_RATES[c.category] is not None
        assert out[c.enrolment_id].amount == (c.amount * CATEGORY_RATES[c.category]).quantize(
            Decimal("0.01"))
        for earlier in eligible[:k]:
            if earlier.occupation_id == c.occupation_id and None not in (earlier.level, c.level):
                assert not earlier.level < c.level  # no lower level after a higher one
    for c in claims:
        d = out[c.enrolment_id]
        assert d.reasons, "every verdict says why"
        if c.completion == "not_qualified" or not c.filed or CATEGORY_RATES[c.category] is None:
            assert d.verdict == "not_eligible"


@settings(max_examples=100, deadline=None)
@given(st.lists(CLAIM, max_size=10, unique_by=lambda c: c.enrolment_id), st.randoms())
def test_input_order_is_irrelevant(claims, rnd):
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    a, b = decide(claims), decide(shuffled)
    assert {k: (v.verdict, v.reasons) for k, v in a.items()} == \
        {k: (v.verdict, v.reasons) for k, v in b.items()}

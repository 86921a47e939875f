"""The subsidy rules as data and one pure function (testable without a database).

Per trainee and calendar year (the year the class ends), enrolments are decided in order of
class end date, then id: earlier claims win.

1. The class must qualify for completion (``attendance.EnrolmentHours.completion``):
   pending while the class runs → ``pending_evidence`` (class_not_finished); finished
   without it → ``not_eligible`` (completion_not_met).
2. The trainee's category must be eligible for subsidised training (``CATEGORY_RATES``).
3. The course must be in the institution's filing valid on the class's start date.
4. Each subsidy type at most once per year.
5. At most ``MAX_PER_YEAR`` subsidies per year.
6. The same occupation and level is subsidised once, ever.
7. No lower level after a higher level of the same occupation was subsidised (level 1 is
   the highest).

An enrolment that passes 2–7 but whose completion is still pending reserves its claim: a
later enrolment that it would block is ``pending_evidence`` (earlier_claim_pending) rather
than eligible, because the earlier one wins if it completes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

MAX_PER_YEAR = 3

# The one code table of category-dependent rates (share of the course's subsidy amount).
# None: not eligible for subsidised training (pensioners and students, brief §fraud).
CATEGORY_RATES: dict[str, Decimal | None] = {
    "unemployed": Decimal("1.000"),
    "employed": Decimal("0.800"),
    "other": Decimal("0.800"),
    "retired": None,
    "student": None,
}

ELIGIBLE, NOT_ELIGIBLE, PENDING = "eligible", "not_eligible", "pending_evidence"

REASONS = {
    "completion_met": _("Completion reached: %(valid)s of %(required)s required class hours"),
    "class_not_finished": _("The class has not finished yet: %(valid)s of %(required)s "
                            "required class hours so far"),
    "completion_not_met": _("Completion not reached: %(valid)s of %(required)s required "
                            "class hours"),
    "class_cancelled": _("The class was cancelled"),
    "online_hours_pending": _("Online learning hours are not accredited yet"),
    "category_not_eligible": _("Trainees of the category %(category)s are not eligible for "
                               "subsidised training"),
    "course_not_filed": _("The course is not in the institution's filing valid on %(date)s"),
    "type_already_used": _("A %(type)s subsidy was already granted in %(year)s "
                           "(enrolment %(other)s)"),
    "yearly_limit": _("Already %(n)s subsidies in %(year)s (at most %(max)s a year)"),
    "occupation_level_used": _("This occupation and level was already subsidised "
                               "(enrolment %(other)s)"),
    "lower_level_after_higher": _("A higher level of this occupation was already subsidised "
                                  "(enrolment %(other)s)"),
    "earlier_claim_pending": _("An earlier enrolment (%(other)s) may use this claim if it "
                               "completes"),
    "rate": _("Rate %(rate)s for the category %(category)s"),
}


def reason(code: str, **params) -> dict:
    return {"code": code, "params": {k: str(v) for k, v in params.items()}}


def reason_text(r: dict):
    message = REASONS.get(r.get("code"))
    if message is None:
        return r.get("code", "")
    params = dict(r.get("params") or {})
    if "category" in params:
        from skillguard.registry.models import TraineeCategory
        if params["category"] in TraineeCategory.values:
            params["category"] = TraineeCategory(params["category"]).label
    if "type" in params:
        from skillguard.registry.models import SubsidyType
        if params["type"] in SubsidyType.values:
            params["type"] = SubsidyType(params["type"]).label
    try:
        return lazy_format(message, **params)
    except (KeyError, TypeError, ValueError):
        return message


@dataclass
class Claim:
    """One enrolment as the rules see it."""
    enrolment_id: int
    end_date: dt.date
    start_date: dt.date
    category: str
    subsidy_type: str
    occupation_id: int
    level: int | None
    amount: Decimal
    completion: str  # qualifies | not_qualified | pending
    valid_hours: Decimal = Decimal(0)
    required_hours: Decimal = Decimal(0)
    filed: bool = True
    cancelled: bool = False
    online: bool = False  # hours from online learning records: not accredited yet


@dataclass
class Decision:
    verdict: str
    reasons: list = field(default_factory=list)
    rate: Decimal | None = None
    amount: Decimal | None = None
    year: int = 0


def _fmt(d: Decimal) -> str:
    return f"{Decimal(d):.2f}".rstrip("0").rstrip(".") if d is not None else "0"


def decide(claims: list[Claim]) -> dict[int, Decision]:
    """Verdicts for all enrolments of ONE trainee (any years)."""
    out: dict[int, Decision] = {}
    granted: list[tuple[Claim, bool]] = []  # (claim, definitive); pending ones reserve
    for c in sorted(claims, key=lambda c: (c.end_date, c.enrolment_id)):
        year = c.end_date.year
        blocking: list[tuple[dict, bool]] = []  # (reason, earlier claim definitive)
        hard: list[dict] = []
        if c.cancelled:
            hard.append(reason("class_cancelled"))
        rate = CATEGORY_RATES.get(c.category)
        if rate is None:
            hard.append(reason("category_not_eligible", category=c.category))
        if not c.filed:
            hard.append(reason("course_not_filed", date=c.start_date.isoformat()))
        same_year = [(g, d) for g, d in granted if g.end_date.year == year]
        for g, definitive in same_year:
            if g.subsidy_type == c.subsidy_type:
                blocking.append((reason("type_already_used", type=c.subsidy_type, year=year,
                                        other=g.enrolment_id), definitive))
                break
        if len(same_year) >= MAX_PER_YEAR:
            definitive = sum(1 for _g, d in same_year if d) >= MAX_PER_YEAR
            blocking.append((reason("yearly_limit", n=len(same_year), year=year,
                                    max=MAX_PER_YEAR), definitive))
        for g, definitive in granted:
            if g.occupation_id != c.occupation_id:
                continue
            if g.level == c.level:
                blocking.append((reason("occupation_level_used", other=g.enrolment_id),
                                 definitive))
                break
        for g, definitive in granted:
            if (g.occupation_id == c.occupation_id and g.level is not None
                    and c.level is not None and g.level < c.level):
                blocking.append((reason("lower_level_after_higher", other=g.enrolment_id),
                                 definitive))
                break
        valid, required = _fmt(c.valid_hours), _fmt(c.required_hours)
        definite_blocks = [r for r, d in blocking if d]
        pending_blocks = [r for r, d in blocking if not d]
        if hard or definite_blocks or c.completion == "not_qualified":
            reasons = hard + definite_blocks
            if c.completion == "not_qualified" and not c.cancelled:
                reasons.append(reason("completion_not_met", valid=valid, required=required))
            out[c.enrolment_id] = Decision(NOT_ELIGIBLE, reasons, year=year)
        elif c.completion == "pending" or pending_blocks:
            reasons = []
            if c.completion == "pending" and c.online:
                reasons.append(reason("online_hours_pending"))
            elif c.completion == "pending":
                reasons.append(reason("class_not_finished", valid=valid, required=required))
            else:
                reasons.append(reason("completion_met", valid=valid, required=required))
            reasons += [{**r, "code": "earlier_claim_pending",
                         "params": {"other": r["params"].get("other", "")}}
                        if r["code"] != "yearly_limit" else r for r in pending_blocks]
            reasons.append(reason("rate", rate=f"{rate * 100:.0f}%", category=c.category))
            out[c.enrolment_id] = Decision(PENDING, reasons, rate=rate,
                                           amount=(c.amount * rate).quantize(Decimal("0.01")),
                                           year=year)
            if not pending_blocks:
                granted.append((c, False))  # reserves its claim until it completes
        else:
            out[c.enrolment_id] = Decision(
                ELIGIBLE, [reason("completion_met", valid=valid, required=required),
                           reason("rate", rate=f"{rate * 100:.0f}%", category=c.category)],
                rate=rate, amount=(c.amount * rate).quantize(Decimal("0.01")), year=year)
            granted.append((c, True))
    return out

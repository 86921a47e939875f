"""Writes of subsidy eligibility (补贴资格): per-enrolment verdicts with reasons.

CONTRACT:
* ``recompute_verdicts(trainee_ids)`` — after hours change; idempotent, set-based.

One query fetches every enrolment of the trainees (with course, category, filing and hours);
``subsidies.rules.decide`` runs once over each trainee's rows; one bulk upsert writes the
verdicts. The rules themselves are documented in ``subsidies.rules``.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from skillguard.subsidies.models import SubsidyVerdict
from skillguard.subsidies.rules import Claim, decide

BATCH = 5000

ROWS_SQL = """
SELECT e.id, e.trainee_id, e.district_id, e.institution_id, e.training_class_id,
       tc.start_date, tc.end_date, tc.status, tc.mode, t.category, c.subsidy_type, c.occupation_id,
       c.level, c.subsidy_amount,
       coalesce(h.completion, 'pending'), coalesce(h.valid_hours, 0),
       coalesce(h.required_hours, round(tc.planned_hours * tc.min_attendance_rate, 2)),
       EXISTS (SELECT 1 FROM registry_institutionfiling f
               WHERE f.institution_id = tc.institution_id AND f.course_id = tc.course_id
                 AND f.filed_on <= tc.start_date
                 AND (f.valid_until IS NULL OR f.valid_until >= tc.start_date)) AS filed
FROM registry_enrolment e
JOIN registry_trainingclass tc ON tc.id = e.training_class_id
JOIN registry_course c ON c.id = tc.course_id
JOIN registry_trainee t ON t.id = e.trainee_id
LEFT JOIN attendance_enrolmenthours h ON h.enrolment_id = e.id
WHERE e.trainee_id = ANY(%s)
"""


def recompute_verdicts(trainee_ids):
    """Rewrite the verdicts of every enrolment of these trainees; returns how many."""
    ids = sorted({int(i) for i in (trainee_ids or ()) if i})
    written = 0
    for start in range(0, len(ids), BATCH):
        written += _recompute(ids[start:start + BATCH])
    return written


def _recompute(ids: list[int]) -> int:
    with connection.cursor() as cur:
        cur.execute(ROWS_SQL, [ids])
        rows = cur.fetchall()
    per_trainee: dict[int, list[Claim]] = defaultdict(list)
    meta = {}
    for (eid, trainee, district, institution, cls, start, end, status, mode, category, stype,
         occupation, level, amount, completion, valid, required, filed) in rows:
        meta[eid] = (trainee, district, institution, cls, stype)
        per_trainee[trainee].append(Claim(
            enrolment_id=eid, end_date=end, start_date=start, category=category,
            subsidy_type=stype, occupation_id=occupation, level=level,
            amount=Decimal(amount), completion=completion, valid_hours=Decimal(valid),
            required_hours=Decimal(required), filed=filed, cancelled=status == "cancelled",
            online=mode == "online"))
    now = timezone.now()
    verdicts = []
    for claims in per_trainee.values():
        for eid, d in decide(claims).items():
            trainee, district, institution, cls, stype = meta[eid]
            verdicts.append(SubsidyVerdict(
                enrolment_id=eid, trainee_id=trainee, district_id=district,
                institution_id=institution, training_class_id=cls, year=d.year,
                subsidy_type=stype, verdict=d.verdict, reasons=d.reasons, rate=d.rate,
                amount=d.amount, computed_at=now))
    # enrolments that disappeared take their verdicts with them
    SubsidyVerdict.objects.filter(trainee_id__in=ids).exclude(
        enrolment_id__in=list(meta)).delete()
    SubsidyVerdict.objects.bulk_create(
        verdicts, batch_size=2000, update_conflicts=True, unique_fields=["enrolment_id"],
        update_fields=["trainee_id", "district_id", "institution_id", "training_class",
                       "year", "subsidy_type", "verdict", "reasons", "rate", "amount",
                       "computed_at"])
    return len(verdicts)

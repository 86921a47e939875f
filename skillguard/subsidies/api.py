"""HTTP API of subsidies (thin router over queries and services)."""
from __future__ import annotations

from ninja import Router

from skillguard.api_support import ERROR_RESPONSES
from skillguard.subsidies import queries
from skillguard.subsidies.schemas import SubsidyVerdictOut

router = Router(tags=["subsidies"])


@router.get("/enrolments/{int:id}/subsidy", response={200: SubsidyVerdictOut,
                                                      **ERROR_RESPONSES},
            operation_id="getEnrolmentSubsidy", summary="Subsidy verdict of an enrolment",
            description="补贴资格。Whether the enrolment may be subsidised (eligible / not "
                        "eligible / pending evidence), with reasons in Chinese and English, "
                        "the rate for the trainee's category and the amount.")
def get_enrolment_subsidy(request, id: int):
    enrolment, v = queries.access_enrolment_verdict(request.auth, id)
    cls = enrolment.training_class
    if v is None:  # not computed yet
        return {"enrolment_id": enrolment.pk, "trainee_id": enrolment.trainee_id,
                "training_class_id": cls.pk, "year": cls.end_date.year,
                "subsidy_type": cls.course.subsidy_type, "verdict": "pending_evidence",
                "reasons": [], "rate": None, "amount": None, "computed_at": None}
    return {"enrolment_id": v.enrolment_id, "trainee_id": v.trainee_id,
            "training_class_id": v.training_class_id, "year": v.year,
            "subsidy_type": v.subsidy_type, "verdict": v.verdict,
            "reasons": queries.reasons_out(v), "rate": v.rate, "amount": v.amount,
            "computed_at": v.computed_at}

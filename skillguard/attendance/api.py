"""HTTP API of attendance (thin router over queries): learning hours and the evidence
behind them. A record that is missing or outside the caller's scope answers 404."""
from __future__ import annotations

from decimal import Decimal

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from ninja import Router

from skillguard.api_support import ERROR_RESPONSES
from skillguard.attendance import queries
from skillguard.attendance.schemas import EnrolmentHoursOut, TraineeHoursOut

router = Router(tags=["attendance"])
READ = {**ERROR_RESPONSES}


def _op(op_id: str, summary: str, description: str):
    return {"operation_id": op_id, "summary": summary, "description": description}


def _enrolment_out(x: queries.EnrolmentExplained) -> dict:
    e, t = x.enrolment, x.totals
    zero = Decimal(0)
    return {
        "enrolment_id": e.pk, "training_class_id": e.training_class_id,
        "class_code": e.training_class.code, "trainee_id": e.trainee_id,
        "planned_hours": t.planned_hours if t else Decimal(e.training_class.planned_hours),
        "required_hours": t.required_hours if t else zero,
        "scheduled_hours": t.scheduled_hours if t else zero,
        "valid_hours": t.valid_hours if t else zero,
        "excluded_hours": t.excluded_hours if t else zero,
        "attendance_rate": t.attendance_rate if t else None,
        "sessions_attended": t.sessions_attended if t else 0,
        "sessions_held": t.sessions_held if t else 0,
        "completion": t.completion if t else "pending",
        "computed_at": t.computed_at if t else None,
        "sessions": [{
            "session_id": s.row.session_id, "sequence": s.sequence,
            "starts_at": s.row.starts_at, "ends_at": s.row.ends_at,
            "first_in": s.row.first_in, "last_out": s.row.last_out,
            "attended_minutes": s.row.attended_minutes,
            "scheduled_hours": s.row.scheduled_hours, "valid_hours": s.row.valid_hours,
            "excluded_hours": s.row.excluded_hours, "status": s.row.status,
            "flags": list(s.row.flags), "evidence_count": s.row.evidence_count,
            "evidence": s.evidence} for s in x.sessions],
    }


@router.get("/enrolments/{int:id}/hours", response={200: EnrolmentHoursOut, **READ},
            **_op("getEnrolmentHours", "Learning hours of an enrolment",
                  "学时认定明细。Valid, scheduled and excluded class hours of one enrolment, "
                  "computed by the server from evidence, with every session and every "
                  "check-in / check-out behind it (whether it counted and why not)."))
def get_enrolment_hours(request, id: int):
    enrolment = queries.access_enrolment_hours(request.auth, id)
    return _enrolment_out(queries.explain_enrolments(request.auth, [enrolment])[0])


@router.get("/trainees/{int:id}/hours", response={200: TraineeHoursOut, **READ},
            **_op("getTraineeHours", "Learning hours of a trainee",
                  "学员学时。Every enrolment of the trainee that the caller may see, with its "
                  "hours and the evidence behind them."))
def get_trainee_hours(request, id: int):
    from skillguard.registry import queries as registry

    trainee = registry.access_trainee(request.auth, id)
    if not queries.may_view_hours(request.auth):
        raise Http404(_("No such record, or you may not see it."))
    enrolments = registry.enrolments(request.auth, trainee=trainee.pk).select_related(
        "training_class")
    return {"trainee_id": trainee.pk,
            "enrolments": [_enrolment_out(x) for x in
                           queries.explain_enrolments(request.auth, enrolments)]}

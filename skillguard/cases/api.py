"""HTTP API of cases and spot checks (thin router over queries and services).

A case that is missing, outside the caller's scope, or (for an institution) never
dispatched to it answers 404 with the same body; a visible case the caller may not act on
answers 403; a refused step answers 422 naming each field.
"""

from django.utils.translation import gettext_lazy as _
from ninja import Query, Router
from ninja.pagination import paginate

from skillguard.accounts.models import User
from skillguard.api_support import ERROR_RESPONSES, Pagination, forbidden
from skillguard.cases import queries, services
from skillguard.cases.models import Case, SpotCheck
from skillguard.cases.schemas import (
    AnswerIn,
    AssignIn,
    CaseDetailOut,
    CaseFilters,
    CaseOut,
    CloseIn,
    CommentIn,
    CountsOut,
    DispatchIn,
    ItemResultIn,
    ReasonIn,
    SpotCheckDetailOut,
    SpotCheckFilters,
    SpotCheckIn,
    SpotCheckOut,
    VerifyIn,
)
from skillguard.core.errors import Problems
from skillguard.core.scoping import can

router = Router()
R = {**ERROR_RESPONSES}


def _op(op_id, summary, description, tag="cases", **extra):
    return {"operation_id": op_id, "summary": summary, "description": description,
            "tags": [tag], **extra}


def _detail(case):
    return case


def _ref(model, pk, field, qs):
    if pk is None:
        return None
    obj = qs.filter(pk=pk).first()
    if obj is None:
        problems = Problems(model)
        problems.add(field, "unknown_reference", _("no such record, or you may not use it"))
        problems.raise_if_any()
    return obj


@router.get("/cases", response={200: list[CaseOut], **R},
            **_op("listCases", "List cases",
                  "督导处置案件列表（按权限范围）。Cases in the caller's scope, by state, "
                  "district, institution, rule, severity, origin and period."))
@paginate(Pagination)
def list_cases(request, filters: Query[CaseFilters]):
    return queries.cases(request.auth, **filters.dict(exclude_none=True))


@router.get("/cases/counts", response={200: CountsOut, **R},
            **_op("countCases", "Count cases", "案件统计。Counts by state, severity and (city "
                  "users) district; open, overdue and escalated, under the same filters."))
def count_cases(request, filters: Query[CaseFilters]):
    user = request.auth
    return queries.counts(queries.cases(user, **filters.dict(exclude_none=True)),
                          by_district=user.is_city_wide)


@router.get("/cases/{int:id}", response={200: CaseDetailOut, **R},
            **_op("getCase", "Get a case", "案件详情：预警、处理记录、附件。One case with its "
                  "warnings, history and attachments."))
def get_case(request, id: int):
    return _detail(queries.access_case(request.auth, id))


def _case(request, id):
    return queries.access_case(request.auth, id)


@router.post("/cases/{int:id}/assign", response={200: CaseDetailOut, **R},
             **_op("assignCase", "Assign a case", "分派案件给督导人员。Assigns the case to a "
                   "supervisor of its district (or of the city)."))
def assign_case(request, id: int, payload: AssignIn):
    user, case = request.auth, _case(request, id)
    if not services.may_handle(user, case):
        forbidden(Case, str(case))
    assignee = _ref(Case, payload.assignee, "assignee", User.objects.filter(is_active=True))
    return _detail(services.assign_case(user, case, assignee=assignee, comment=payload.comment))


@router.post("/cases/{int:id}/dispatch", response={200: CaseDetailOut, **R},
             **_op("dispatchCase", "Dispatch a case to the institution",
                   "下发机构核查：请求说明与期限。Sends the case to its institution with a "
                   "request and a deadline in the future."))
def dispatch_case(request, id: int, payload: DispatchIn):
    case = _case(request, id)
    return _detail(services.dispatch_case(request.auth, case, request_text=payload.request_text,
                                          deadline=payload.answer_deadline))


@router.post("/cases/{int:id}/answer", response={200: CaseDetailOut, **R},
             **_op("answerCase", "Answer a case", "机构答复（说明）。The institution's "
                   "explanation of a case dispatched to it (files: on the case page)."))
def answer_case(request, id: int, payload: AnswerIn):
    case = _case(request, id)
    return _detail(services.answer_case(request.auth, case, explanation=payload.explanation))


@router.post("/cases/{int:id}/verify", response={200: CaseDetailOut, **R},
             **_op("verifyCase", "Verify a case", "区级核实。The district's verification, "
                   "optionally adding (enrolment, session) pairs whose hours are affected."))
def verify_case(request, id: int, payload: VerifyIn):
    case = _case(request, id)
    return _detail(services.verify_case(request.auth, case, note=payload.note,
                                        extra_pairs=payload.extra_pairs))


@router.post("/cases/{int:id}/close", response={200: CaseDetailOut, **R},
             **_op("closeCase", "Close a case", "办结：confirmed_fraud 查实（剔除学时）, "
                   "unfounded 不属实, corrected 已整改。Closes with a conclusion and a comment; "
                   "confirmed fraud excludes the affected hours."))
def close_case(request, id: int, payload: CloseIn):
    case = _case(request, id)
    return _detail(services.close_case(
        request.auth, case, conclusion=payload.conclusion.value if payload.conclusion else "",
        comment=payload.comment, extra_pairs=payload.extra_pairs))


@router.post("/cases/{int:id}/escalate", response={200: CaseDetailOut, **R},
             **_op("escalateCase", "Escalate a case to the city", "上报市级。A city "
                   "supervisor takes the case over."))
def escalate_case(request, id: int, payload: ReasonIn):
    case = _case(request, id)
    return _detail(services.escalate_case(request.auth, case, reason=payload.reason))


@router.post("/cases/{int:id}/reopen", response={200: CaseDetailOut, **R},
             **_op("reopenCase", "Reopen a case", "重新打开已办结案件（须说明理由）；"
                   "excluded hours count again."))
def reopen_case(request, id: int, payload: ReasonIn):
    case = _case(request, id)
    return _detail(services.reopen_case(request.auth, case, reason=payload.reason))


@router.post("/cases/{int:id}/comment", response={200: CaseDetailOut, **R},
             **_op("commentCase", "Comment on a case", "案件备注。A comment in the case's "
                   "history."))
def comment_case(request, id: int, payload: CommentIn):
    case = _case(request, id)
    services.comment_case(request.auth, case, text=payload.text)
    return _detail(queries.access_case(request.auth, id))


# --------------------------------------------------------------------------- spot checks


@router.get("/spotchecks", response={200: list[SpotCheckOut], **R},
            **_op("listSpotChecks", "List spot checks", "抽查计划列表。Spot-check draws in the "
                  "caller's scope.", "spot checks"))
@paginate(Pagination)
def list_spot_checks(request, filters: Query[SpotCheckFilters]):
    return queries.spot_checks(request.auth, **filters.dict(exclude_none=True))


@router.get("/spotchecks/{int:id}", response={200: SpotCheckDetailOut, **R},
            **_op("getSpotCheck", "Get a spot check", "抽查详情：样本与结果。One draw with its "
                  "sampled sessions and results.", "spot checks"))
def get_spot_check(request, id: int):
    check = queries.access_spot_check(request.auth, id)
    return check


@router.post("/spotchecks", response={201: SpotCheckDetailOut, **R},
             **_op("drawSpotCheck", "Draw a spot-check sample",
                   "抽取可复现的随机样本（同一种子与条件得到同一样本）。Draws a reproducible "
                   "random sample of sessions.", "spot checks"))
def draw_spot_check(request, payload: SpotCheckIn):
    from skillguard.registry.models import District, Institution, Occupation

    user = request.auth
    if not can(user, "add", SpotCheck):
        forbidden(SpotCheck)
    check = services.draw_spot_check(
        user, kind=payload.kind.value, sample_size=payload.sample_size, seed=payload.seed,
        district=_ref(SpotCheck, payload.district, "district", District.objects.all()),
        institution=_ref(SpotCheck, payload.institution, "institution",
                         Institution.objects.restrict(user)),
        occupation=_ref(SpotCheck, payload.occupation, "occupation", Occupation.objects.all()),
        date_from=payload.date_from, date_to=payload.date_to, min_risk=payload.min_risk)
    return 201, check


@router.post("/spotcheckitems/{int:id}/result", response={200: SpotCheckDetailOut, **R},
             **_op("recordSpotCheckResult", "Record a spot-check result",
                   "记录抽查结果；不合格自动立案。The inspector's findings, headcount and "
                   "outcome; a fail opens a case.", "spot checks"))
def record_result(request, id: int, payload: ItemResultIn):
    user = request.auth
    item = queries.access_item(user, id)
    services.record_spot_check_result(user, item, outcome=payload.outcome.value,
                                      findings=payload.findings,
                                      headcount_observed=payload.headcount_observed)
    check = item.spot_check
    return check

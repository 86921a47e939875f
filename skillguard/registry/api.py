"""Registry operations of the HTTP API: a thin layer over ``registry.queries`` (scoped reads)
and ``registry.services`` (validated, audited writes).

Conventions (see skillguard/api.py): the caller is ``request.auth``; a record that is missing
or outside the caller's scope answers 404 with the same body; a visible record the caller's
role may not change answers 403; a refused write answers 422 naming each field.
"""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from skillguard.api_support import ERROR_RESPONSES, Pagination, forbidden
from skillguard.audit import services as audit
from skillguard.core.errors import Problems
from skillguard.core.scoping import access, can
from skillguard.registry import queries, services
from skillguard.registry.models import (
    Course,
    Enrolment,
    Institution,
    Occupation,
    Room,
    Session,
    Teacher,
    Trainee,
    TrainingClass,
    Venue,
)
from skillguard.registry.schemas import (
    ClassDetailOut,
    ClassFilters,
    ClassIn,
    ClassOut,
    ClassPatch,
    CourseFilters,
    CourseOut,
    DistrictOut,
    EnrolmentFilters,
    EnrolmentIn,
    EnrolmentOut,
    EnrolmentPatch,
    InstitutionFilters,
    InstitutionIn,
    InstitutionOut,
    InstitutionPatch,
    RevealIn,
    RevealOut,
    SessionFilters,
    SessionIn,
    SessionOut,
    SessionPatch,
    TeacherDetailOut,
    TeacherFilters,
    TeacherIn,
    TeacherOut,
    TeacherPatch,
    TraineeFilters,
    TraineeIn,
    TraineeOut,
    TraineePatch,
    TransitionIn,
    VenueFilters,
    VenueIn,
    VenueOut,
    VenuePatch,
)

router = Router()

READ = {**ERROR_RESPONSES}
WRITE = {**ERROR_RESPONSES}
# Operations that use POST but only read (the auditor may call them): marked in the schema.
READ_ONLY_POST = {"x-skillguard-read-only": True}


# --------------------------------------------------------------------------- helpers


def _ref(access_fn, user, pk, model, field: str):
    """A record named in a request body: unknown and out-of-scope references are the same
    422 problem on that field (never a hint that the record exists)."""
    if pk is None:
        return None
    try:
        return access_fn(user, pk)
    except Http404:
        problems = Problems(model)
        problems.add(field, "unknown_reference", _("no such record, or you may not use it"))
        problems.raise_if_any()


def _own_institution(user, pk, model) -> Institution:
    """The institution named in the body, or the caller's own."""
    if pk is None:
        pk = user.institution_id
    if pk is None:
        problems = Problems(model)
        problems.add("institution", "required", _("is required"))
        problems.raise_if_any()
    return _ref(queries.access_institution, user, pk, model, "institution")


def _for(user, access_fn, pk, action: str):
    """The record if the caller sees it (else 404) and the role may ``action`` it (else 403)."""
    obj = access_fn(user, pk, "view")
    if not can(user, action, type(obj)):
        forbidden(type(obj), str(obj))
    return obj


def _changes(payload) -> dict:
    return payload.dict(exclude_unset=True)


def _op(op_id: str, summary: str, description: str, tag: str, **extra):
    return {"operation_id": op_id, "summary": summary, "description": description,
            "tags": [tag], **extra}


# --------------------------------------------------------------------------- catalogue


@router.get("/districts", response={200: list[DistrictOut], **READ},
            **_op("listDistricts", "List districts",
                  "行政区列表。The districts of the city with the number of institutions the "
                  "caller may see.", "catalogue"))
@paginate(Pagination)
def list_districts(request):
    return queries.districts(request.auth)


@router.get("/districts/{int:id}", response={200: DistrictOut, **READ},
            **_op("getDistrict", "Get a district", "行政区详情。One district.", "catalogue"))
def get_district(request, id: int):
    return queries.access_district(request.auth, id)


@router.get("/courses", response={200: list[CourseOut], **READ},
            **_op("listCourses", "List catalogue courses",
                  "培训目录。Occupations and levels with standard class hours and subsidy.",
                  "catalogue"))
@paginate(Pagination)
def list_courses(request, filters: Query[CourseFilters]):
    return queries.courses(request.auth, **filters.dict(exclude_none=True))


@router.get("/courses/{int:id}", response={200: CourseOut, **READ},
            **_op("getCourse", "Get a catalogue course", "培训目录条目详情。One catalogue "
                  "course.", "catalogue"))
def get_course(request, id: int):
    return queries.access_course(request.auth, id)


# --------------------------------------------------------------------------- institutions


@router.get("/institutions", response={200: list[InstitutionOut], **READ},
            **_op("listInstitutions", "List training institutions",
                  "培训机构列表（按权限范围）。Institutions in the caller's scope, filtered.",
                  "institutions"))
@paginate(Pagination)
def list_institutions(request, filters: Query[InstitutionFilters]):
    return queries.institutions(request.auth, **filters.dict(exclude_none=True))


@router.get("/institutions/{int:id}", response={200: InstitutionOut, **READ},
            **_op("getInstitution", "Get a training institution",
                  "培训机构详情。One institution; 404 when missing or outside the caller's "
                  "scope.", "institutions"))
def get_institution(request, id: int):
    return queries.access_institution(request.auth, id)


@router.post("/institutions", response={201: InstitutionOut, **WRITE},
             **_op("createInstitution", "Register a training institution",
                   "登记培训机构。Registers an institution (district supervisors: in their "
                   "district).", "institutions"))
def create_institution(request, payload: InstitutionIn):
    user = request.auth
    data = payload.dict()
    data["district"] = _ref(queries.access_district, user, data["district"], Institution,
                            "district")
    return Status(201, services.register_institution(user, **data))


@router.patch("/institutions/{int:id}", response={200: InstitutionOut, **WRITE},
              **_op("updateInstitution", "Change a training institution",
                    "修改培训机构信息。Changes the fields given; the rest stay as they are.",
                    "institutions"))
def update_institution(request, id: int, payload: InstitutionPatch):
    user = request.auth
    institution = _for(user, queries.access_institution, id, "change")
    data = _changes(payload)
    if "district" in data:
        data["district"] = _ref(queries.access_district, user, data["district"], Institution,
                                "district")
    return services.update_institution(user, institution, **data)


@router.get("/venues", response={200: list[VenueOut], **READ},
            **_op("listVenues", "List venues",
                  "培训场地列表。Venues (with geofence) in the caller's scope.", "institutions"))
@paginate(Pagination)
def list_venues(request, filters: Query[VenueFilters]):
    return queries.venues(request.auth, **filters.dict(exclude_none=True))


@router.get("/venues/{int:id}", response={200: VenueOut, **READ},
            **_op("getVenue", "Get a venue", "培训场地详情。One venue.", "institutions"))
def get_venue(request, id: int):
    return queries.access_venue(request.auth, id)


@router.post("/venues", response={201: VenueOut, **WRITE},
             **_op("createVenue", "Add a venue",
                   "新增培训场地。Adds a venue with its geofence to an institution.",
                   "institutions"))
def create_venue(request, payload: VenueIn):
    user = request.auth
    data = payload.dict()
    institution = _own_institution(user, data.pop("institution"), Venue)
    return Status(201, services.add_venue(user, institution, **data))


@router.patch("/venues/{int:id}", response={200: VenueOut, **WRITE},
              **_op("updateVenue", "Change a venue", "修改培训场地。Changes the fields given.",
                    "institutions"))
def update_venue(request, id: int, payload: VenuePatch):
    user = request.auth
    venue = _for(user, queries.access_venue, id, "change")
    return services.update_venue(user, venue, **_changes(payload))


# --------------------------------------------------------------------------- people


@router.get("/teachers", response={200: list[TeacherOut], **READ},
            **_op("listTeachers", "List teachers",
                  "师资列表（证件号、手机号脱敏）。Teachers in scope; personal data masked. "
                  "`q` matches a name, or an exact ID or mobile number.", "people"))
@paginate(Pagination)
def list_teachers(request, filters: Query[TeacherFilters]):
    return queries.teachers(request.auth, **filters.dict(exclude_none=True))


@router.get("/teachers/{int:id}", response={200: TeacherDetailOut, **READ},
            **_op("getTeacher", "Get a teacher",
                  "师资详情及职业资格。One teacher with qualifications; personal data masked.",
                  "people"))
def get_teacher(request, id: int):
    return queries.access_teacher(request.auth, id)


@router.post("/teachers", response={201: TeacherDetailOut, **WRITE},
             **_op("createTeacher", "Register a teacher",
                   "登记师资。Registers a teacher of an institution with qualifications; ID "
                   "number and phone are stored encrypted.", "people"))
def create_teacher(request, payload: TeacherIn):
    user = request.auth
    data = payload.dict()
    institution = _own_institution(user, data.pop("institution"), Teacher)
    qualifications = [
        {**q, "occupation": _ref(lambda u, pk: access(Occupation, u, pk), user,
                                 q["occupation"], Teacher, f"qualifications.{n}.occupation")}
        for n, q in enumerate(data.pop("qualifications"))]
    teacher = services.register_teacher(user, institution, name=data["name"],
                                        id_number=data["id_number"], phone=data["phone"],
                                        gender=data["gender"] or "",
                                        qualifications=qualifications)
    return Status(201, teacher)


@router.patch("/teachers/{int:id}", response={200: TeacherDetailOut, **WRITE},
              **_op("updateTeacher", "Change a teacher",
                    "修改师资信息。Changes the fields given.", "people"))
def update_teacher(request, id: int, payload: TeacherPatch):
    user = request.auth
    teacher = _for(user, queries.access_teacher, id, "change")
    return services.update_teacher(user, teacher, **_changes(payload))


@router.post("/teachers/{int:id}/reveal", response={200: RevealOut, **READ},
             **_op("revealTeacherPersonalData", "Reveal a teacher's personal data",
                   "查看师资完整证件号或手机号（记入审计日志）。Returns one personal-data field "
                   "in full; the read is written to the audit trail.", "people",
                   openapi_extra=READ_ONLY_POST))
def reveal_teacher(request, id: int, payload: RevealIn):
    user = request.auth
    teacher = _for(user, queries.access_teacher, id, "reveal")
    value = audit.reveal_personal_data(user, teacher, payload.field.value, payload.purpose)
    return {"field": payload.field.value, "value": value}


@router.get("/trainees", response={200: list[TraineeOut], **READ},
            **_op("listTrainees", "List trainees",
                  "学员列表（证件号、手机号脱敏）。Trainees in scope; personal data masked. "
                  "`q` matches a name, or an exact ID or mobile number.", "people"))
@paginate(Pagination)
def list_trainees(request, filters: Query[TraineeFilters]):
    return queries.trainees(request.auth, **filters.dict(exclude_none=True))


@router.get("/trainees/{int:id}", response={200: TraineeOut, **READ},
            **_op("getTrainee", "Get a trainee",
                  "学员详情（脱敏）。One trainee; personal data masked.", "people"))
def get_trainee(request, id: int):
    return queries.access_trainee(request.auth, id)


@router.post("/trainees", response={201: TraineeOut, 200: TraineeOut, **WRITE},
             **_op("createTrainee", "Register a trainee",
                   "登记学员（实名、校验身份证号）。Registers a trainee; 201 when new, 200 with the "
                   "existing trainee when the ID number is already registered under the same "
                   "name.", "people"))
def create_trainee(request, payload: TraineeIn):
    user = request.auth
    data = payload.dict()
    district = _ref(queries.access_district, user, data.pop("residence_district"), Trainee,
                    "residence_district")
    institution_id = data.pop("institution") or user.institution_id
    institution = _ref(queries.access_institution, user, institution_id, Trainee,
                       "institution")
    trainee, created = services.register_trainee(user, residence_district=district,
                                                 institution=institution, **data)
    return Status(201 if created else 200, trainee)


@router.patch("/trainees/{int:id}", response={200: TraineeOut, **WRITE},
              **_op("updateTrainee", "Change a trainee",
                    "修改学员信息。Changes the fields given (not the ID number).", "people"))
def update_trainee(request, id: int, payload: TraineePatch):
    user = request.auth
    trainee = _for(user, queries.access_trainee, id, "change")
    data = _changes(payload)
    if "residence_district" in data:
        data["residence_district"] = _ref(queries.access_district, user,
                                          data["residence_district"], Trainee,
                                          "residence_district")
    return services.update_trainee(user, trainee, **data)


@router.post("/trainees/{int:id}/reveal", response={200: RevealOut, **READ},
             **_op("revealTraineePersonalData", "Reveal a trainee's personal data",
                   "查看学员完整证件号或手机号（记入审计日志）。Returns one personal-data field "
                   "in full; the read is written to the audit trail.", "people",
                   openapi_extra=READ_ONLY_POST))
def reveal_trainee(request, id: int, payload: RevealIn):
    user = request.auth
    trainee = _for(user, queries.access_trainee, id, "reveal")
    value = audit.reveal_personal_data(user, trainee, payload.field.value, payload.purpose)
    return {"field": payload.field.value, "value": value}


# --------------------------------------------------------------------------- classes


@router.get("/classes", response={200: list[ClassOut], **READ},
            **_op("listClasses", "List training classes",
                  "培训班（开班申请）列表。Classes in scope, filtered.", "classes"))
@paginate(Pagination)
def list_classes(request, filters: Query[ClassFilters]):
    return queries.classes(request.auth, **filters.dict(exclude_none=True)) \
        .prefetch_related("teachers")


@router.get("/classes/{int:id}", response={200: ClassDetailOut, **READ},
            **_op("getClass", "Get a training class",
                  "培训班详情，含审批记录与可执行的流程步骤。One class with its review history and "
                  "the workflow steps the caller may take.", "classes"))
def get_class(request, id: int):
    return queries.access_class(request.auth, id)


def _class_refs(user, data: dict) -> dict:
    if "course" in data:
        data["course"] = _ref(queries.access_course, user, data["course"], Course, "course")
    if data.get("venue") is not None:
        data["venue"] = _ref(queries.access_venue, user, data["venue"], TrainingClass, "venue")
    if data.get("teachers") is not None:
        data["teachers"] = [_ref(queries.access_teacher, user, pk, TrainingClass, "teachers")
                            for pk in data["teachers"]]
    return data


@router.post("/classes", response={201: ClassDetailOut, **WRITE},
             **_op("createClass", "File a class-opening application",
                   "新建开班申请（草稿）。Creates a class as a draft; submit it with the "
                   "transitions operation.", "classes"))
def create_class(request, payload: ClassIn):
    user = request.auth
    data = payload.dict()
    institution = _own_institution(user, data.pop("institution"), TrainingClass)
    data = _class_refs(user, data)
    teachers = data.pop("teachers")
    return Status(201, services.create_class(user, institution, teachers=teachers, **data))


@router.patch("/classes/{int:id}", response={200: ClassDetailOut, **WRITE},
              **_op("updateClass", "Change a class-opening application",
                    "修改开班申请（仅草稿或退回状态）。Changes a draft or returned application.",
                    "classes"))
def update_class(request, id: int, payload: ClassPatch):
    user = request.auth
    cls = _for(user, queries.access_class, id, "change")
    data = _class_refs(user, _changes(payload))
    return services.update_class(user, cls, **data)


@router.post("/classes/{int:id}/transitions", response={200: ClassDetailOut, **WRITE},
             **_op("transitionClass", "Take a workflow step on a class",
                   "开班申请流程：submit 提交, approve 批准, return 退回（须填写意见）, start 开班, "
                   "finish 结业, cancel 撤销。Takes one workflow step; each step is recorded "
                   "with its comment.", "classes"))
def transition_class(request, id: int, payload: TransitionIn):
    user = request.auth
    step = payload.step.value
    cls = queries.access_class(user, id)
    if not can(user, services.TRANSITIONS[step][2], TrainingClass):
        forbidden(TrainingClass, cls.code)
    return services.transition_class(user, cls, step, payload.comment)


# --------------------------------------------------------------------------- sessions


@router.get("/sessions", response={200: list[SessionOut], **READ},
            **_op("listSessions", "List sessions",
                  "课次列表。Scheduled sessions in scope, by class, date range, district or "
                  "teacher.", "classes"))
@paginate(Pagination)
def list_sessions(request, filters: Query[SessionFilters]):
    return queries.sessions(request.auth, **filters.dict(exclude_none=True))


@router.get("/sessions/{int:id}", response={200: SessionOut, **READ},
            **_op("getSession", "Get a session", "课次详情。One session.", "classes"))
def get_session(request, id: int):
    return queries.access_session(request.auth, id)


def _session_refs(user, data: dict) -> dict:
    if data.get("teacher") is not None:
        data["teacher"] = _ref(queries.access_teacher, user, data["teacher"], Session,
                               "teacher")
    if data.get("room") is not None:
        data["room"] = _ref(lambda u, pk: access(Room, u, pk), user, data["room"], Session,
                            "room")
    return data


@router.post("/sessions", response={201: SessionOut, **WRITE},
             **_op("createSession", "Schedule a session",
                   "新增课次（开班申请为草稿或退回状态时）。Adds a session to a draft or returned "
                   "class.", "classes"))
def create_session(request, payload: SessionIn):
    user = request.auth
    data = _session_refs(user, payload.dict())
    cls = _ref(queries.access_class, user, data.pop("training_class"), Session,
               "training_class")
    return Status(201, services.add_session(user, cls, **data))


@router.patch("/sessions/{int:id}", response={200: SessionOut, **WRITE},
              **_op("updateSession", "Change a session", "修改课次。Changes the fields given.",
                    "classes"))
def update_session(request, id: int, payload: SessionPatch):
    user = request.auth
    session = _for(user, queries.access_session, id, "change")
    data = _changes(payload)
    for key in ("starts_at", "ends_at", "teacher"):
        if key in data and data[key] is None:
            del data[key]  # required: null means "unchanged"
    return services.update_session(user, session, **_session_refs(user, data))


@router.delete("/sessions/{int:id}", response={204: None, **WRITE},
               **_op("deleteSession", "Delete a session",
                     "删除课次（开班申请为草稿或退回状态时）。Deletes a session of a draft or "
                     "returned class.", "classes"))
def delete_session(request, id: int):
    user = request.auth
    session = _for(user, queries.access_session, id, "delete")
    services.delete_session(user, session)
    return Status(204, None)


# --------------------------------------------------------------------------- enrolments


@router.get("/enrolments", response={200: list[EnrolmentOut], **READ},
            **_op("listEnrolments", "List enrolments",
                  "报名（花名册）列表。Enrolments in scope, by class, trainee or status.",
                  "classes"))
@paginate(Pagination)
def list_enrolments(request, filters: Query[EnrolmentFilters]):
    return queries.enrolments(request.auth, **filters.dict(exclude_none=True))


@router.get("/enrolments/{int:id}", response={200: EnrolmentOut, **READ},
            **_op("getEnrolment", "Get an enrolment", "报名详情。One enrolment.", "classes"))
def get_enrolment(request, id: int):
    return queries.access_enrolment(request.auth, id)


@router.post("/enrolments", response={201: EnrolmentOut, **WRITE},
             **_op("createEnrolment", "Enrol a trainee in a class",
                   "学员报名（加入花名册）。Enrols a trainee in a draft or returned class.",
                   "classes"))
def create_enrolment(request, payload: EnrolmentIn):
    user = request.auth
    cls = _ref(queries.access_class, user, payload.training_class, Enrolment,
               "training_class")
    if payload.trainee is not None:
        trainee = _ref(queries.access_trainee, user, payload.trainee, Enrolment, "trainee")
    elif payload.id_number and payload.name:
        # The person may have been registered by another institution: identity is the ID
        # number plus the matching real name, exactly as on the roster page.
        trainee, _created = services.register_trainee(
            user, name=payload.name, id_number=payload.id_number,
            category=payload.category or "other", institution=cls.institution)
    else:
        problems = Problems(Enrolment)
        problems.add("trainee", "required", _("give a trainee id, or id_number and name"))
        problems.raise_if_any()
    return Status(201, services.enrol_trainee(user, cls, trainee))


@router.patch("/enrolments/{int:id}", response={200: EnrolmentOut, **WRITE},
              **_op("updateEnrolment", "Withdraw an enrolment",
                    "学员退出培训班。Withdraws the trainee from the class.", "classes"))
def update_enrolment(request, id: int, payload: EnrolmentPatch):
    user = request.auth
    enrolment = _for(user, queries.access_enrolment, id, "change")
    return services.withdraw_enrolment(user, enrolment)

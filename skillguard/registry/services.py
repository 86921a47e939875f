"""All writes to the registry: validate, write, audit — in one transaction each.

Services take the acting user (``None`` for the system: demo generator, migrations) and
refuse with ``BusinessRuleError`` (bilingual, naming each field) before writing anything.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.roles import CITY_WIDE, Role, role_allows
from skillguard.audit import services as audit
from skillguard.core.errors import Problems, from_validation_error, lazy_format
from skillguard.core.scoping import access
from skillguard.core.validators import id_birth_date, id_gender, id_number_problem
from skillguard.registry.models import (
    ClassReview,
    ClassStatus,
    Course,
    Enrolment,
    EnrolmentStatus,
    Institution,
    InstitutionFiling,
    Room,
    Session,
    Teacher,
    TeacherQualification,
    Trainee,
    TrainingClass,
    Venue,
)

# --------------------------------------------------------------------------- helpers


def _note(kind: str, **ids) -> None:
    """Queue hours, verdicts and real-time rules for what changed (same transaction)."""
    from skillguard.attendance.services import note_evidence  # H1: evidence outbox

    note_evidence(kind, **ids)


def _refuse(model, field: str, code: str, message, record: str = ""):
    problems = Problems(model, record)
    problems.add(field, code, message)
    problems.raise_if_any()


def ensure_allowed(actor, action: str, model, *, district_id=None, institution_id=None,
                   record: str = "") -> None:
    """Refuse unless ``actor`` may do ``action`` on a ``model`` record anchored as given.

    ``actor=None`` is the system itself (demo generator, management commands)."""
    if actor is None or actor.is_superuser:
        return
    ok = role_allows(actor.role, model._meta.model_name, action)
    if ok and actor.role not in CITY_WIDE:
        if actor.role == Role.DISTRICT_SUPERVISOR or (
                actor.role == Role.API_CLIENT and not actor.institution_id):
            ok = district_id is not None and district_id == actor.district_id
        elif actor.role in (Role.INSTITUTION_ADMIN, Role.API_CLIENT):
            ok = institution_id is not None and institution_id == actor.institution_id
        else:
            ok = False
    if not ok:
        _refuse(model, "", "forbidden",
                _("You may not do this for this record."), record)


def _validate(instance, exclude: Iterable[str] = (), record: str = "") -> None:
    problems = Problems(type(instance), record)
    for f in instance._meta.concrete_fields:  # PostgreSQL cannot store NUL in text
        value = getattr(instance, f.attname, None)
        if isinstance(value, str) and "\x00" in value:
            problems.add(f.name, "nul_character", _("must not contain NUL characters"))
    problems.raise_if_any()
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise from_validation_error(type(instance), exc, record) from None


def _apply(instance, data: dict) -> None:
    for key, value in data.items():
        setattr(instance, key, value)


def _create(actor, instance, exclude=(), record=""):
    _validate(instance, exclude, record)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        _refuse(type(instance), "", "conflict",
                lazy_format(_("This record conflicts with an existing one (%(detail)s)."), detail=str(exc).splitlines()[0][:120]), record)
    audit.record_created(actor, instance)
    return instance


def _update(actor, instance, data: dict, exclude=(), record=""):
    before = audit.snapshot(instance)
    _apply(instance, data)
    _validate(instance, exclude, record)
    instance.save()
    audit.record_updated(actor, instance, before)
    return instance


# --------------------------------------------------------------------------- institutions


@transaction.atomic
def register_institution(actor, **data) -> Institution:
    data["credit_code"] = (data.get("credit_code") or "").strip().upper()
    district = data.get("district")
    ensure_allowed(actor, "add", Institution, district_id=getattr(district, "pk", None))
    return _create(actor, Institution(**data))


@transaction.atomic
def update_institution(actor, institution: Institution, **data) -> Institution:
    institution = access(Institution, actor, institution.pk, "change") if actor else institution
    if "district" in data:
        ensure_allowed(actor, "change", Institution, district_id=data["district"].pk)
    if "credit_code" in data:
        data["credit_code"] = data["credit_code"].strip().upper()
    return _update(actor, institution, data)


@transaction.atomic
def file_course(actor, institution: Institution, course: Course, filed_on: dt.date,
                valid_until: dt.date | None = None) -> InstitutionFiling:
    ensure_allowed(actor, "add", InstitutionFiling, district_id=institution.district_id,
                   institution_id=institution.pk)
    if valid_until and valid_until < filed_on:
        _refuse(InstitutionFiling, "valid_until", "dates_out_of_order",
                _("must not be before the filing date"))
    return _create(actor, InstitutionFiling(institution=institution, course=course,
                                            filed_on=filed_on, valid_until=valid_until))


@transaction.atomic
def add_venue(actor, institution: Institution, **data) -> Venue:
    ensure_allowed(actor, "add", Venue, district_id=institution.district_id,
                   institution_id=institution.pk)
    data.setdefault("district", institution.district)
    return _create(actor, Venue(institution=institution, **data))


@transaction.atomic
def update_venue(actor, venue: Venue, **data) -> Venue:
    ensure_allowed(actor, "change", Venue, district_id=venue.institution.district_id,
                   institution_id=venue.institution_id)
    return _update(actor, venue, data)


@transaction.atomic
def add_room(actor, venue: Venue, **data) -> Room:
    ensure_allowed(actor, "add", Room, district_id=venue.district_id,
                   institution_id=venue.institution_id)
    return _create(actor, Room(venue=venue, **data))


# --------------------------------------------------------------------------- people


def _id_problems(model, id_number: str, problems: Problems) -> None:
    reason = id_number_problem(id_number)
    if reason:
        problems.add("id_number", "invalid_id_number", reason)


@transaction.atomic
def register_teacher(actor, institution: Institution, *, name: str, id_number: str,
                     phone: str = "", gender: str = "", qualifications: Iterable[dict] = (),
                     record: str = "") -> Teacher:
    ensure_allowed(actor, "add", Teacher, district_id=institution.district_id,
                   institution_id=institution.pk, record=record)
    problems = Problems(Teacher, record)
    _id_problems(Teacher, id_number, problems)
    _phone_problems(phone, problems)
    problems.raise_if_any()
    teacher = Teacher(institution=institution, name=name.strip(),
                      gender=gender or id_gender(id_number))
    teacher.id_number = id_number
    teacher.phone = phone
    if Teacher.objects.filter(institution=institution,
                              id_number_hash=teacher.id_number_hash).exists():
        _refuse(Teacher, "id_number", "duplicate",
                _("this person is already a teacher of the institution"), record)
    _create(actor, teacher, record=record)
    for q in qualifications:
        add_qualification(actor, teacher, **q)
    return teacher


@transaction.atomic
def add_qualification(actor, teacher: Teacher, **data) -> TeacherQualification:
    ensure_allowed(actor, "add", TeacherQualification,
                   district_id=teacher.institution.district_id,
                   institution_id=teacher.institution_id)
    return _create(actor, TeacherQualification(teacher=teacher, **data))


def _phone_problems(phone: str, problems: Problems) -> None:
    from skillguard.core.validators import PHONE_PATTERN

    if phone and not PHONE_PATTERN.match(phone.strip()):
        problems.add("phone", "invalid_phone",
                     _("must be an 11-digit mainland mobile number"))


@transaction.atomic
def register_trainee(actor, *, name: str, id_number: str, category: str, phone: str = "",
                     residence_district=None, institution: Institution | None = None,
                     record: str = "") -> tuple[Trainee, bool]:
    """Register a trainee, or return the one already registered with this ID number.

    Identity is the ID number: the same person is one trainee city-wide, whichever
    institution registers them (this is what lets rules see overlapping classes)."""
    ensure_allowed(actor, "add", Trainee,
                   district_id=getattr(institution, "district_id", None)
                   or getattr(residence_district, "pk", None),
                   institution_id=getattr(institution, "pk", None), record=record)
    problems = Problems(Trainee, record)
    _id_problems(Trainee, id_number, problems)
    _phone_problems(phone, problems)
    if not (name or "").strip():
        problems.add("name", "required", _("is required"))
    problems.raise_if_any()
    trainee = Trainee(name=name.strip(), category=category,
                      residence_district=residence_district, registered_by=institution,
                      id_verified=True)
    trainee.id_number = id_number
    trainee.phone = phone
    existing = Trainee.objects.filter(id_number_hash=trainee.id_number_hash).first()
    if existing:
        if existing.name != trainee.name:
            _refuse(Trainee, "name", "name_mismatch",
                    _("does not match the name already registered for this ID number"), record)
        return existing, False
    trainee.gender = id_gender(id_number)
    trainee.birth_year = id_birth_date(id_number).year
    return _create(actor, trainee, record=record), True


@transaction.atomic
def update_trainee(actor, trainee: Trainee, **data) -> Trainee:
    trainee = access(Trainee, actor, trainee.pk, "change") if actor else trainee
    problems = Problems(Trainee)
    if "phone" in data:
        _phone_problems(data["phone"], problems)
    problems.raise_if_any()
    if "category" in data:  # subsidy verdicts depend on the category
        _note("enrolment", trainee_ids=[trainee.pk])
    return _update(actor, trainee, data)


@transaction.atomic
def update_teacher(actor, teacher: Teacher, **data) -> Teacher:
    teacher = access(Teacher, actor, teacher.pk, "change") if actor else teacher
    problems = Problems(Teacher, str(teacher))
    if "phone" in data:
        _phone_problems(data["phone"], problems)
    if "name" in data and not (data["name"] or "").strip():
        problems.add("name", "required", _("is required"))
    problems.raise_if_any()
    return _update(actor, teacher, data)


# --------------------------------------------------------------------------- classes


def _next_class_code(district_code: str, year: int) -> str:
    with connection.cursor() as cur:
        cur.execute("select nextval('registry_class_code_seq')")
        (n,) = cur.fetchone()
    return f"K{year}{district_code}{n:06d}"


def _check_class(problems: Problems, cls: TrainingClass) -> None:
    if cls.start_date and cls.end_date and cls.end_date < cls.start_date:
        problems.add("end_date", "dates_out_of_order", _("must not be before the start date"))
    if cls.venue_id and cls.venue.institution_id != cls.institution_id:
        problems.add("venue", "foreign_venue", _("belongs to another institution"))
    if cls.mode != "online" and not cls.venue_id:
        problems.add("venue", "required", _("is required for offline and blended classes"))
    if cls.planned_hours is not None and cls.planned_hours <= 0:
        problems.add("planned_hours", "out_of_range", _("must be greater than zero"))


@transaction.atomic
def create_class(actor, institution: Institution, *, teachers: Iterable[Teacher] = (),
                 **data) -> TrainingClass:
    ensure_allowed(actor, "add", TrainingClass, district_id=institution.district_id,
                   institution_id=institution.pk)
    cls = TrainingClass(institution=institution, **data)
    venue = data.get("venue")
    cls.district_id = venue.district_id if venue else institution.district_id
    problems = Problems(TrainingClass)
    _check_class(problems, cls)
    problems.raise_if_any()
    year = cls.start_date.year if cls.start_date else timezone.localdate().year
    district_code = (venue.district if venue else institution.district).code
    cls.code = _next_class_code(district_code, year)
    _create(actor, cls)
    set_class_teachers(actor, cls, teachers)
    return cls


def _ensure_editable(cls: TrainingClass) -> None:
    if not cls.is_editable:
        _refuse(TrainingClass, "status", "not_editable",
                lazy_format(_("the class can only be changed while it is a draft or returned "
                  "(now: %(status)s)"), status=ClassStatus(cls.status).label), cls.code)


@transaction.atomic
def update_class(actor, cls: TrainingClass, **data) -> TrainingClass:
    cls = access(TrainingClass, actor, cls.pk, "change") if actor else cls
    _ensure_editable(cls)
    teachers = data.pop("teachers", None)
    before = audit.snapshot(cls)
    _apply(cls, data)
    if cls.venue_id:
        cls.district_id = cls.venue.district_id
    problems = Problems(TrainingClass, cls.code)
    _check_class(problems, cls)
    outside = cls.sessions.exclude(starts_at__date__gte=cls.start_date,
                                   starts_at__date__lte=cls.end_date).count()
    if outside:
        problems.add("end_date", "sessions_outside",
                     lazy_format(_("%(n)d scheduled sessions would fall outside the class period"), n=outside))
    problems.raise_if_any()
    _validate(cls, record=cls.code)
    cls.save()
    if before["district_id"] != cls.district_id:  # keep the denormalised district in step
        cls.sessions.update(district_id=cls.district_id)
        cls.enrolments.update(district_id=cls.district_id)
    audit.record_updated(actor, cls, before)
    if teachers is not None:
        set_class_teachers(actor, cls, teachers)
    return cls


def _qualified(teacher: Teacher, course: Course, on_date) -> bool:
    return any(q.covers(course, on_date) for q in teacher.qualifications.all())


@transaction.atomic
def set_class_teachers(actor, cls: TrainingClass, teachers: Iterable[Teacher]) -> None:
    teachers = list(teachers)
    problems = Problems(TrainingClass, cls.code)
    for t in teachers:
        if t.institution_id != cls.institution_id:
            problems.add("teachers", "foreign_teacher",
                         lazy_format(_("%(name)s is not a teacher of this institution"), name=t.name))
        elif not _qualified(t, cls.course, cls.start_date):
            problems.add("teachers", "unqualified_teacher",
                         lazy_format(_("%(name)s holds no valid qualification for %(course)s"), name=t.name, course=cls.course))
    problems.raise_if_any()
    before = sorted(cls.teachers.values_list("pk", flat=True))
    cls.teachers.set(teachers)
    after = sorted(t.pk for t in teachers)
    if before != after:
        audit._event(actor, "update", cls, changes={"teachers": [before, after]}).save()
        _note("session", session_ids=list(cls.sessions.values_list("pk", flat=True)), institution_ids=[cls.institution_id])


@transaction.atomic
def add_session(actor, cls: TrainingClass, *, starts_at: dt.datetime, ends_at: dt.datetime,
                teacher: Teacher, room: Room | None = None, topic: str = "",
                sequence: int | None = None, record: str = "") -> Session:
    ensure_allowed(actor, "add", Session, district_id=cls.district_id,
                   institution_id=cls.institution_id, record=record)
    _ensure_editable(cls)
    problems = Problems(Session, record or cls.code)
    _check_session(problems, cls, starts_at, ends_at, teacher, room)
    problems.raise_if_any()
    if sequence is None:
        last = cls.sessions.order_by("-sequence").values_list("sequence", flat=True).first()
        sequence = (last or 0) + 1
    session = Session(training_class=cls, district_id=cls.district_id, sequence=sequence,
                      starts_at=starts_at, ends_at=ends_at, teacher=teacher, room=room,
                      topic=topic)
    _create(actor, session, record=record)
    _note("session", session_ids=[session.pk], institution_ids=[cls.institution_id])
    return session


def _check_session(problems: Problems, cls, starts_at, ends_at, teacher, room) -> None:
    if ends_at <= starts_at:
        problems.add("ends_at", "dates_out_of_order", _("must be after the start"))
    local_start = timezone.localtime(starts_at).date() if timezone.is_aware(starts_at) \
        else starts_at.date()
    local_end = timezone.localtime(ends_at).date() if timezone.is_aware(ends_at) \
        else ends_at.date()
    if local_start < cls.start_date or local_end > cls.end_date:
        problems.add("starts_at", "outside_class_period",
                     lazy_format(_("must lie within the class period %(start)s – %(end)s"), start=cls.start_date, end=cls.end_date))
    if teacher.institution_id != cls.institution_id:
        problems.add("teacher", "foreign_teacher", _("is not a teacher of this institution"))
    elif not _qualified(teacher, cls.course, local_start):
        problems.add("teacher", "unqualified_teacher",
                     lazy_format(_("holds no valid qualification for %(course)s"), course=cls.course))
    if room is not None and room.venue.institution_id != cls.institution_id:
        problems.add("room", "foreign_room", _("belongs to another institution"))


@transaction.atomic
def update_session(actor, session: Session, **data) -> Session:
    session = access(Session, actor, session.pk, "change") if actor else session
    cls = session.training_class
    _ensure_editable(cls)
    merged = {"starts_at": session.starts_at, "ends_at": session.ends_at,
              "teacher": session.teacher, "room": session.room, **data}
    problems = Problems(Session, str(session))
    _check_session(problems, cls, merged["starts_at"], merged["ends_at"], merged["teacher"],
                   merged["room"])
    problems.raise_if_any()
    _note("session", session_ids=[session.pk], institution_ids=[cls.institution_id])
    return _update(actor, session, data)


@transaction.atomic
def delete_session(actor, session: Session) -> None:
    session = access(Session, actor, session.pk, "delete") if actor else session
    _ensure_editable(session.training_class)
    before = audit.snapshot(session)
    audit.record_deleted(actor, session, before)
    _note("session", session_ids=[session.pk], institution_ids=[session.training_class.institution_id])
    session.delete()


@transaction.atomic
def enrol_trainee(actor, cls: TrainingClass, trainee: Trainee, record: str = "") -> Enrolment:
    ensure_allowed(actor, "add", Enrolment, district_id=cls.district_id,
                   institution_id=cls.institution_id, record=record)
    _ensure_editable(cls)
    if Enrolment.objects.filter(training_class=cls, trainee=trainee).exists():
        _refuse(Enrolment, "trainee", "duplicate_enrolment",
                lazy_format(_("%(name)s is already enrolled in this class"), name=trainee.name),
                record or cls.code)
    if cls.enrolments.filter(status=EnrolmentStatus.ENROLLED).count() >= cls.capacity:
        _refuse(Enrolment, "training_class", "class_full",
                lazy_format(_("the class is full (capacity %(n)d)"), n=cls.capacity),
                record or cls.code)
    enrolment = Enrolment(training_class=cls, trainee=trainee, district_id=cls.district_id,
                          institution_id=cls.institution_id)
    _note("enrolment", trainee_ids=[trainee.pk], institution_ids=[cls.institution_id])
    return _create(actor, enrolment, record=record)


@transaction.atomic
def withdraw_enrolment(actor, enrolment: Enrolment) -> Enrolment:
    enrolment = access(Enrolment, actor, enrolment.pk, "change") if actor else enrolment
    _note("enrolment", trainee_ids=[enrolment.trainee_id], institution_ids=[enrolment.institution_id])
    return _update(actor, enrolment, {"status": EnrolmentStatus.WITHDRAWN})


# --------------------------------------------------------------------------- workflow

# (from statuses, to status, permission action)
TRANSITIONS = {
    "submit": ((ClassStatus.DRAFT, ClassStatus.RETURNED), ClassStatus.SUBMITTED, "submit"),
    "approve": ((ClassStatus.SUBMITTED,), ClassStatus.APPROVED, "approve"),
    "return": ((ClassStatus.SUBMITTED,), ClassStatus.RETURNED, "approve"),
    "start": ((ClassStatus.APPROVED,), ClassStatus.IN_PROGRESS, "submit"),
    "finish": ((ClassStatus.IN_PROGRESS,), ClassStatus.FINISHED, "submit"),
    "cancel": ((ClassStatus.DRAFT, ClassStatus.RETURNED), ClassStatus.CANCELLED, "submit"),
}


STEP_LABELS = {"submit": _("submit"), "approve": _("approve"), "return": _("return"),
               "start": _("start"), "finish": _("finish"), "cancel": _("cancel")}


def _completeness_problems(cls: TrainingClass) -> Problems:
    problems = Problems(TrainingClass, cls.code)
    if not cls.enrolments.filter(status=EnrolmentStatus.ENROLLED).exists():
        problems.add("enrolments", "no_roster", _("the roster is empty: enrol trainees first"))
    if not cls.teachers.exists():
        problems.add("teachers", "no_teachers", _("at least one teacher is required"))
    if not cls.sessions.exists():
        problems.add("sessions", "no_sessions", _("the session plan is empty"))
    filed = InstitutionFiling.objects.filter(institution_id=cls.institution_id,
                                             course_id=cls.course_id)
    if not filed.exists():
        problems.add("course", "course_not_filed",
                     lazy_format(_("%(course)s is not among the institution's filed occupations"), course=cls.course))
    return problems


def allowed_transitions(actor, cls: TrainingClass) -> list[str]:
    """Workflow steps the actor may take on the class now (for buttons)."""
    from skillguard.core.scoping import scope_q

    steps = []
    for name, (sources, _target, action) in TRANSITIONS.items():
        if cls.status in sources and TrainingClass.objects.filter(
                scope_q(TrainingClass, actor, action), pk=cls.pk).exists():
            steps.append(name)
    return steps


@transaction.atomic
def transition_class(actor, cls: TrainingClass, step: str, comment: str = "") -> TrainingClass:
    if step not in TRANSITIONS:
        _refuse(TrainingClass, "status", "unknown_step", _("unknown workflow step"), cls.code)
    sources, target, action = TRANSITIONS[step]
    if actor is not None:
        cls = access(TrainingClass, actor, cls.pk, action,
                     queryset=TrainingClass.objects.select_for_update())
    else:
        cls = TrainingClass.objects.select_for_update().get(pk=cls.pk)
    if cls.status not in sources:
        _refuse(TrainingClass, "status", "invalid_transition",
                lazy_format(_("cannot %(step)s a class that is %(status)s"), step=STEP_LABELS[step], status=ClassStatus(cls.status).label), cls.code)
    if step in ("submit", "approve"):
        _completeness_problems(cls).raise_if_any()
    if step == "return" and not comment.strip():
        _refuse(ClassReview, "comment", "required",
                _("say what must be corrected when returning an application"), cls.code)
    before = cls.status
    cls.status = target
    now = timezone.now()
    fields = ["status", "updated_at"]
    if step == "submit":
        cls.submitted_at = now
        fields.append("submitted_at")
    if step in ("approve", "return"):
        cls.decided_at, cls.decided_by = now, actor
        fields += ["decided_at", "decided_by"]
    cls.save(update_fields=fields)
    ClassReview.objects.create(training_class=cls, from_status=before, to_status=target,
                               actor=actor, comment=comment.strip())
    audit.record_transition(actor, cls, before, target, comment.strip())
    if step in ("finish", "cancel"):  # completion and subsidy verdicts change
        _note("enrolment", trainee_ids=list(cls.enrolments.values_list("trainee_id", flat=True)), institution_ids=[cls.institution_id])
    return cls

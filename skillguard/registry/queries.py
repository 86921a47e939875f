"""Scoped reads of the registry. Every list and every object goes through ``restrict``."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from skillguard.core.personal_data import lookup
from skillguard.core.scoping import access
from skillguard.core.validators import ID_PATTERN, normalise_id_number
from skillguard.registry.models import (
    Course,
    District,
    Enrolment,
    Institution,
    Session,
    Teacher,
    Trainee,
    TrainingClass,
    Venue,
)


def access_district(user, pk, action="view") -> District:
    return access(District, user, pk, action)


def access_institution(user, pk, action="view") -> Institution:
    return access(Institution, user, pk, action,
                  queryset=Institution.objects.select_related("district"))


def access_venue(user, pk, action="view") -> Venue:
    return access(Venue, user, pk, action, queryset=Venue.objects.select_related("institution"))


def access_teacher(user, pk, action="view") -> Teacher:
    return access(Teacher, user, pk, action,
                  queryset=Teacher.objects.select_related("institution"))


def access_trainee(user, pk, action="view") -> Trainee:
    return access(Trainee, user, pk, action,
                  queryset=Trainee.objects.select_related("residence_district"))


def access_class(user, pk, action="view") -> TrainingClass:
    return access(TrainingClass, user, pk, action, queryset=TrainingClass.objects.select_related(
        "institution", "district", "course__occupation", "venue"))


def access_session(user, pk, action="view") -> Session:
    return access(Session, user, pk, action, queryset=Session.objects.select_related(
        "training_class", "teacher", "room"))


def access_enrolment(user, pk, action="view") -> Enrolment:
    return access(Enrolment, user, pk, action,
                  queryset=Enrolment.objects.select_related("trainee", "training_class"))


def _text(qs: QuerySet, q: str | None, *fields: str) -> QuerySet:
    q = (q or "").strip()
    if not q:
        return qs
    cond = Q()
    for f in fields:
        cond |= Q(**{f"{f}__icontains": q})
    return qs.filter(cond)


def districts(user) -> QuerySet:
    # Count only the institutions the user may see, not the city-wide figure.
    visible = Institution.objects.restrict(user).values("pk")
    return District.objects.restrict(user).annotate(
        institution_count=Count("institutions", filter=Q(institutions__in=visible)))


def institutions(user, *, q=None, district=None, kind=None, whitelist_status=None,
                 status=None) -> QuerySet:
    qs = Institution.objects.restrict(user).select_related("district")
    qs = _text(qs, q, "name", "credit_code", "licence_number")
    if district:
        qs = qs.filter(district_id=district)
    if kind:
        qs = qs.filter(kind=kind)
    if whitelist_status:
        qs = qs.filter(whitelist_status=whitelist_status)
    if status:
        qs = qs.filter(status=status)
    return qs


def courses(user, *, q=None, level=None, subsidy_type=None) -> QuerySet:
    qs = Course.objects.restrict(user).select_related("occupation")
    qs = _text(qs, q, "occupation__name", "occupation__code", "occupation__name_en")
    if level:
        qs = qs.filter(level=level)
    if subsidy_type:
        qs = qs.filter(subsidy_type=subsidy_type)
    return qs


def _person_search(qs: QuerySet, q: str | None) -> QuerySet:
    """Name substring, or an exact ID number / phone through the keyed hash."""
    q = (q or "").strip()
    if not q:
        return qs
    ident = normalise_id_number(q)
    if ID_PATTERN.match(ident):
        return qs.filter(**lookup("id_number", ident))
    if q.isdigit() and len(q) == 11:
        return qs.filter(**lookup("phone", q))
    return qs.filter(name__icontains=q)


def teachers(user, *, q=None, institution=None) -> QuerySet:
    qs = Teacher.objects.restrict(user).select_related("institution")
    qs = _person_search(qs, q)
    if institution:
        qs = qs.filter(institution_id=institution)
    return qs


def trainees(user, *, q=None, category=None, district=None, training_class=None) -> QuerySet:
    qs = Trainee.objects.restrict(user).select_related("residence_district")
    qs = _person_search(qs, q)
    if category:
        qs = qs.filter(category=category)
    if district:
        qs = qs.filter(residence_district_id=district)
    if training_class:
        qs = qs.filter(pk__in=Enrolment.objects.filter(training_class_id=training_class)
                       .values("trainee_id"))
    return qs


def classes(user, *, q=None, district=None, institution=None, status=None, course=None,
            mode=None) -> QuerySet:
    qs = TrainingClass.objects.restrict(user).select_related(
        "institution", "district", "course__occupation")
    qs = _text(qs, q, "code", "name", "institution__name")
    if district:
        qs = qs.filter(district_id=district)
    if institution:
        qs = qs.filter(institution_id=institution)
    if status:
        qs = qs.filter(status=status)
    if course:
        qs = qs.filter(course_id=course)
    if mode:
        qs = qs.filter(mode=mode)
    return qs


def sessions(user, *, training_class=None, date_from=None, date_to=None, district=None,
             teacher=None) -> QuerySet:
    qs = Session.objects.restrict(user).select_related(
        "training_class__institution", "teacher", "room")
    if training_class:
        qs = qs.filter(training_class_id=training_class)
    if date_from:
        qs = qs.filter(starts_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(starts_at__date__lte=date_to)
    if district:
        qs = qs.filter(district_id=district)
    if teacher:
        qs = qs.filter(teacher_id=teacher)
    return qs


def enrolments(user, *, training_class=None, trainee=None, status=None) -> QuerySet:
    qs = Enrolment.objects.restrict(user).select_related("trainee", "training_class")
    if training_class:
        qs = qs.filter(training_class_id=training_class)
    if trainee:
        qs = qs.filter(trainee_id=trainee)
    if status:
        qs = qs.filter(status=status)
    return qs


def access_course(user, pk, action="view") -> Course:
    return access(Course, user, pk, action, queryset=Course.objects.select_related("occupation"))


def venues(user, *, q=None, institution=None, district=None) -> QuerySet:
    qs = Venue.objects.restrict(user).select_related("institution")
    qs = _text(qs, q, "name", "address")
    if institution:
        qs = qs.filter(institution_id=institution)
    if district:
        qs = qs.filter(district_id=district)
    return qs

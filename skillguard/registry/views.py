"""Registry pages. Each view parses the request, calls ``registry.queries`` (reads, scoped)
or ``registry.services`` (writes), then renders or redirects. Nothing else lives here."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from skillguard.accounts.roles import Role
from skillguard.audit.models import AuditEvent
from skillguard.audit.services import record_personal_read, reveal_personal_data
from skillguard.core.errors import BusinessRuleError
from skillguard.core.pages import action as _action
from skillguard.core.pages import form_page as _form_page
from skillguard.core.pages import list_page as _list_page
from skillguard.core.pages import require as _require
from skillguard.core.scoping import can
from skillguard.registry import forms, queries, services, tables
from skillguard.registry.models import (
    ClassReview,
    ClassStatus,
    District,
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

DETAIL_READ_FIELDS = ["name", "id_number_masked", "phone_masked"]

# Workflow buttons: label, tone, whether the comment box must be filled in first.
STEP_BUTTONS = {
    "submit": (_("Submit for review"), "primary", False),
    "approve": (_("Approve"), "ok", False),
    "return": (_("Return for correction"), "warn", True),
    "start": (_("Start the class"), "primary", False),
    "finish": (_("Finish the class"), "primary", False),
    "cancel": (_("Cancel the application"), "danger", False),
}


# --------------------------------------------------------------------------- helpers


def _import_url(user, kind: str, model, **params) -> str | None:
    if not can(user, "import", model):
        return None
    try:
        url = reverse("imports:start", args=[kind])
    except NoReverseMatch:  # import app not installed
        return None
    if params:
        url += "?" + urlencode(params)
    return url


def _history_url(user, obj) -> str | None:
    """The object's page in the audit trail, for roles that may read the trail."""
    if not can(user, "view", AuditEvent):
        return None
    return reverse("audit:event_list") + "?" + urlencode(
        {"object_type": obj._meta.label_lower, "object_id": obj.pk})


def _bound(request):
    return request.POST if request.method == "POST" else None


# --------------------------------------------------------------------------- catalogue


@login_required
def district_list(request):
    qs = queries.districts(request.user)
    return _list_page(request, title=District._meta.verbose_name_plural,
                      table=tables.DistrictTable(qs, request))


@login_required
def course_list(request):
    form = forms.CourseFilter(request.GET)
    qs = queries.courses(request.user, **form.filters())
    return _list_page(request, title=_("Occupation and course catalogue"),
                      table=tables.CourseTable(qs, request), filter_form=form)


# --------------------------------------------------------------------------- institutions


@login_required
def institution_list(request):
    user = request.user
    form = forms.InstitutionFilter(request.GET, user=user)
    qs = queries.institutions(user, **form.filters())
    actions = [
        _action(_("Register an institution"), reverse("registry:institution_create"),
                "primary") if can(user, "add", Institution) else None,
        _action(_("Import from a spreadsheet"),
                _import_url(user, "institution", Institution)),
    ]
    return _list_page(request, title=Institution._meta.verbose_name_plural,
                      table=tables.InstitutionTable(qs, request), filter_form=form,
                      actions=actions)


@login_required
def institution_detail(request, pk):
    user = request.user
    inst = queries.access_institution(user, pk)
    classes = queries.classes(user, institution=inst.pk)
    return render(request, "registry/institution_detail.html", {
        "inst": inst,
        "filings": InstitutionFiling.objects.restrict(user).filter(institution=inst)
        .select_related("course__occupation").order_by("course__occupation__code"),
        "venues": Venue.objects.restrict(user).filter(institution=inst).select_related(
            "district"),
        "teacher_count": queries.teachers(user, institution=inst.pk).count(),
        "recent_classes": classes[:10],
        "class_count": classes.count(),
        "history_url": _history_url(user, inst),
        "import_urls": {
            "teacher": _import_url(user, "teacher", Teacher),
            "trainee": _import_url(user, "trainee", Trainee),
        },
    })


@login_required
def institution_create(request):
    user = request.user
    _require(user, "add", Institution)
    form = forms.InstitutionForm(_bound(request), user=user)
    return _form_page(
        request, form, title=_("Register a training institution"),
        save=lambda data: services.register_institution(user, **data),
        success=lambda inst: reverse("registry:institution_detail", args=[inst.pk]),
        cancel_url=reverse("registry:institution_list"))


@login_required
def institution_edit(request, pk):
    user = request.user
    inst = queries.access_institution(user, pk, "change")
    form = forms.InstitutionForm(_bound(request), instance=inst, user=user)
    return _form_page(
        request, form, title=_("Edit institution"), subtitle=inst.name,
        save=lambda data: services.update_institution(user, inst, **data),
        success=lambda obj: reverse("registry:institution_detail", args=[obj.pk]),
        cancel_url=reverse("registry:institution_detail", args=[inst.pk]))


@login_required
def filing_create(request, pk):
    user = request.user
    inst = queries.access_institution(user, pk)
    _require(user, "add", InstitutionFiling)
    form = forms.FilingForm(_bound(request))
    detail = reverse("registry:institution_detail", args=[inst.pk])
    return _form_page(
        request, form, title=_("File an occupation"), subtitle=inst.name,
        save=lambda data: services.file_course(user, inst, **data),
        success=lambda obj: detail, cancel_url=detail)


@login_required
def venue_create(request, pk):
    user = request.user
    inst = queries.access_institution(user, pk)
    _require(user, "add", Venue)
    form = forms.VenueForm(_bound(request), institution=inst)

    def save(data):
        if not data.get("district"):
            data.pop("district", None)  # the service defaults to the institution's district
        return services.add_venue(user, inst, **data)

    return _form_page(
        request, form, title=_("Add a venue"), subtitle=inst.name, save=save,
        success=lambda venue: reverse("registry:venue_detail", args=[venue.pk]),
        cancel_url=reverse("registry:institution_detail", args=[inst.pk]))


@login_required
def venue_detail(request, pk):
    user = request.user
    venue = queries.access_venue(user, pk)
    return render(request, "registry/venue_detail.html", {
        "venue": venue,
        "rooms": Room.objects.restrict(user).filter(venue=venue).order_by("name"),
        "history_url": _history_url(user, venue),
    })


@login_required
def venue_edit(request, pk):
    user = request.user
    venue = queries.access_venue(user, pk, "change")
    form = forms.VenueForm(_bound(request), instance=venue)

    def save(data):
        data["district"] = data.get("district") or venue.institution.district
        return services.update_venue(user, venue, **data)

    return _form_page(
        request, form, title=_("Edit venue"), subtitle=venue.name, save=save,
        success=lambda obj: reverse("registry:venue_detail", args=[obj.pk]),
        cancel_url=reverse("registry:venue_detail", args=[venue.pk]))


@login_required
def room_create(request, pk):
    user = request.user
    venue = queries.access_venue(user, pk)
    _require(user, "add", Room)
    form = forms.RoomForm(_bound(request))
    detail = reverse("registry:venue_detail", args=[venue.pk])
    return _form_page(
        request, form, title=_("Add a room"), subtitle=venue.name,
        save=lambda data: services.add_room(user, venue, **data),
        success=lambda obj: detail, cancel_url=detail)


# --------------------------------------------------------------------------- teachers


@login_required
def teacher_list(request):
    user = request.user
    form = forms.TeacherFilter(request.GET, user=user)
    qs = queries.teachers(user, **form.filters())
    actions = [
        _action(_("Register a teacher"),
                reverse("registry:teacher_create", args=[user.institution_id]), "primary")
        if user.institution_id and can(user, "add", Teacher) else None,
        _action(_("Import from a spreadsheet"), _import_url(user, "teacher", Teacher)),
    ]
    return _list_page(request, title=Teacher._meta.verbose_name_plural,
                      table=tables.TeacherTable(qs, request), filter_form=form,
                      actions=actions)


@never_cache  # personal data: no copies in browser or proxy caches
@login_required
def teacher_detail(request, pk):
    user = request.user
    teacher = queries.access_teacher(user, pk)
    record_personal_read(user, teacher, DETAIL_READ_FIELDS, purpose="detail page")
    return render(request, "registry/teacher_detail.html", {
        "teacher": teacher,
        "qualifications": TeacherQualification.objects.restrict(user).filter(teacher=teacher)
        .select_related("occupation"),
        "classes": queries.classes(user).filter(teachers=teacher)[:20],
        "upcoming": queries.sessions(user, teacher=teacher.pk,
                                     date_from=timezone.localdate())[:10],
        "may_reveal": can(user, "reveal", Teacher),
        "history_url": _history_url(user, teacher),
    })


@login_required
def teacher_create(request, pk):
    user = request.user
    inst = queries.access_institution(user, pk)
    _require(user, "add", Teacher)
    form = forms.TeacherForm(_bound(request))
    return _form_page(
        request, form, title=_("Register a teacher"), subtitle=inst.name,
        save=lambda data: services.register_teacher(user, inst, **data),
        success=lambda obj: reverse("registry:teacher_detail", args=[obj.pk]),
        cancel_url=reverse("registry:institution_detail", args=[inst.pk]))


@login_required
def teacher_edit(request, pk):
    user = request.user
    teacher = queries.access_teacher(user, pk, "change")
    form = forms.TeacherEditForm(_bound(request), initial={
        "name": teacher.name, "gender": teacher.gender, "active": teacher.active})

    def save(data):
        if not data.get("phone"):
            data.pop("phone", None)  # empty means "keep": the form never shows the number
        return services.update_teacher(user, teacher, **data)

    return _form_page(
        request, form, title=_("Edit teacher"), subtitle=teacher.name, save=save,
        success=lambda obj: reverse("registry:teacher_detail", args=[obj.pk]),
        cancel_url=reverse("registry:teacher_detail", args=[teacher.pk]))


@login_required
def qualification_create(request, pk):
    user = request.user
    teacher = queries.access_teacher(user, pk)
    _require(user, "add", TeacherQualification)
    form = forms.QualificationForm(_bound(request))
    detail = reverse("registry:teacher_detail", args=[teacher.pk])
    return _form_page(
        request, form, title=_("Add a qualification"), subtitle=teacher.name,
        save=lambda data: services.add_qualification(user, teacher, **data),
        success=lambda obj: detail, cancel_url=detail)


@never_cache
@login_required
@require_POST
def teacher_reveal(request, pk, field):
    teacher = queries.access_teacher(request.user, pk)
    value = reveal_personal_data(request.user, teacher, field, purpose="shown in full on "
                                                                       "the detail page")
    return render(request, "registry/_revealed.html", {"value": value})


# --------------------------------------------------------------------------- trainees


@login_required
def trainee_list(request):
    user = request.user
    form = forms.TraineeFilter(request.GET)
    qs = queries.trainees(user, **form.filters())
    first, last = _date_param(request, "attended_from"), _date_param(request, "attended_to")
    if first and last:  # cockpit drill-down: present at a session of the period
        from skillguard.attendance.models import SessionAttendance

        present = SessionAttendance.objects.filter(
            starts_at__date__gte=first, starts_at__date__lte=last,
            status__in=("present", "partial"))
        for param, column in (("training_district", "district_id"),
                              ("training_institution", "institution_id")):
            if (request.GET.get(param) or "").isdigit():
                present = present.filter(**{column: int(request.GET[param])})
        qs = qs.filter(pk__in=present.values("trainee_id"))
    actions = [
        _action(_("Register a trainee"), reverse("registry:trainee_create"), "primary")
        if can(user, "add", Trainee) else None,
        _action(_("Import from a spreadsheet"), _import_url(user, "trainee", Trainee)),
    ]
    return _list_page(request, title=Trainee._meta.verbose_name_plural,
                      table=tables.TraineeTable(qs, request), filter_form=form,
                      actions=actions,
                      intro=_("Personal data is shown masked. Search by a full ID number "
                              "or mobile number finds exact matches."))


@never_cache  # personal data: no copies in browser or proxy caches
@login_required
def trainee_detail(request, pk):
    user = request.user
    trainee = queries.access_trainee(user, pk)
    record_personal_read(user, trainee, DETAIL_READ_FIELDS, purpose="detail page")
    return render(request, "registry/trainee_detail.html", {
        "trainee": trainee,
        "enrolments": queries.enrolments(user, trainee=trainee.pk).select_related(
            "training_class__institution", "training_class__course__occupation"),
        "may_reveal": can(user, "reveal", Trainee),
        "history_url": _history_url(user, trainee),
    })


@login_required
def trainee_create(request):
    user = request.user
    _require(user, "add", Trainee)
    form = forms.TraineeForm(_bound(request))
    institution = user.institution if user.role == Role.INSTITUTION_ADMIN else None

    if request.method == "POST" and form.is_valid():
        try:
            trainee, created = services.register_trainee(user, institution=institution,
                                                         **form.cleaned_data)
        except BusinessRuleError as err:
            form.add_problems(err)
        else:
            if created:
                messages.success(request, gettext("Saved: %(record)s") % {"record": trainee})
            else:
                messages.info(request, gettext(
                    "%(name)s is already registered on the platform (one record per ID "
                    "number). Enrol them in a class by ID number and name.")
                    % {"name": trainee.name})
            if queries.trainees(user).filter(pk=trainee.pk).exists():
                return redirect("registry:trainee_detail", trainee.pk)
            return redirect("registry:trainee_list")
    return render(request, "registry/form.html", {
        "form": form, "title": _("Register a trainee"),
        "subtitle": institution.name if institution else "",
        "cancel_url": reverse("registry:trainee_list")},
        status=400 if form.errors else 200)


@login_required
def trainee_edit(request, pk):
    user = request.user
    trainee = queries.access_trainee(user, pk, "change")
    form = forms.TraineeEditForm(_bound(request), initial={
        "category": trainee.category, "residence_district": trainee.residence_district_id})

    def save(data):
        if not data.get("phone"):
            data.pop("phone", None)  # empty means "keep": the form never shows the number
        return services.update_trainee(user, trainee, **data)

    return _form_page(
        request, form, title=_("Edit trainee"), subtitle=trainee.name, save=save,
        success=lambda obj: reverse("registry:trainee_detail", args=[obj.pk]),
        cancel_url=reverse("registry:trainee_detail", args=[trainee.pk]))


@never_cache
@login_required
@require_POST
def trainee_reveal(request, pk, field):
    trainee = queries.access_trainee(request.user, pk)
    value = reveal_personal_data(request.user, trainee, field, purpose="shown in full on "
                                                                       "the detail page")
    return render(request, "registry/_revealed.html", {"value": value})


# --------------------------------------------------------------------------- classes


def _date_param(request, name):
    try:
        return dt.date.fromisoformat(request.GET.get(name) or "")
    except ValueError:
        return None


@login_required
def class_list(request):
    user = request.user
    form = forms.ClassFilter(request.GET, user=user)
    qs = queries.classes(user, **form.filters())
    running_on = _date_param(request, "running_on")  # cockpit drill-down: a session that day
    if running_on:
        qs = qs.filter(pk__in=Session.objects.filter(starts_at__date=running_on)
                       .values("training_class_id"))
    actions = [
        _action(_("New class-opening application"),
                reverse("registry:class_create", args=[user.institution_id]), "primary")
        if user.institution_id and can(user, "add", TrainingClass) else None,
    ]
    return _list_page(request, title=_("Classes and class-opening applications"),
                      table=tables.ClassTable(qs, request), filter_form=form,
                      actions=actions)


# The main line of the workflow, for the progress strip on the class page.
MAIN_LINE = [ClassStatus.DRAFT, ClassStatus.SUBMITTED, ClassStatus.APPROVED,
             ClassStatus.IN_PROGRESS, ClassStatus.FINISHED]


def _progress(cls) -> list[dict]:
    if cls.status == ClassStatus.CANCELLED:
        return []
    # A returned application sits where a draft does: back with the institution.
    position = MAIN_LINE.index(ClassStatus.DRAFT if cls.status == ClassStatus.RETURNED
                               else cls.status)
    out = []
    for i, status in enumerate(MAIN_LINE):
        label = ClassStatus(status).label
        if i == position and cls.status == ClassStatus.RETURNED:
            label = ClassStatus.RETURNED.label
        out.append({"label": label,
                    "state": "done" if i < position else "current" if i == position else ""})
    return out


def _class_page(request, cls, *, transition_form=None, enrol_id_form=None,
                enrol_pick_form=None, status=200):
    user = request.user
    editable = cls.is_editable
    may_enrol = editable and can(user, "add", Enrolment)
    steps = [{"name": s, "label": STEP_BUTTONS[s][0], "tone": STEP_BUTTONS[s][1],
              "needs_comment": STEP_BUTTONS[s][2]}
             for s in services.allowed_transitions(user, cls)]
    enrolments = list(queries.enrolments(user, training_class=cls.pk).order_by("status", "id"))
    sessions = list(queries.sessions(user, training_class=cls.pk).select_related("room__venue"))
    return render(request, "registry/class_detail.html", {
        "cls": cls,
        "progress": _progress(cls),
        "steps": steps,
        "transition_form": transition_form or forms.TransitionForm(),
        "reviews": ClassReview.objects.restrict(user).filter(training_class=cls)
        .select_related("actor"),
        "teachers": cls.teachers.all(),
        "sessions": sessions,
        "scheduled_hours": round(sum(s.class_hours for s in sessions), 2),
        "enrolments": enrolments,
        "enrolled_count": sum(1 for e in enrolments if e.status == EnrolmentStatus.ENROLLED),
        "may_edit": editable and can(user, "change", TrainingClass),
        "may_plan": editable and can(user, "add", Session),
        "may_change_session": editable and can(user, "change", Session),
        "may_delete_session": editable and can(user, "delete", Session),
        "may_enrol": may_enrol,
        "may_withdraw": can(user, "change", Enrolment),
        "enrol_id_form": enrol_id_form or (forms.EnrolByIdForm() if may_enrol else None),
        "enrol_pick_form": enrol_pick_form or (
            forms.EnrolPickForm(training_class=cls, user=user) if may_enrol else None),
        "import_urls": {
            "session": _import_url(user, "session", Session, training_class=cls.code)
            if editable else None,
            "enrolment": _import_url(user, "enrolment", Enrolment, training_class=cls.code)
            if editable else None,
        },
        "history_url": _history_url(user, cls),
    }, status=status)


@login_required
def class_detail(request, pk):
    cls = queries.access_class(request.user, pk)
    return _class_page(request, cls)


@login_required
def class_create(request, pk):
    user = request.user
    inst = queries.access_institution(user, pk)
    _require(user, "add", TrainingClass)
    form = forms.ClassForm(_bound(request), institution=inst, user=user)
    return _form_page(
        request, form, title=_("New class-opening application"), subtitle=inst.name,
        save=lambda data: services.create_class(user, inst, **data),
        success=lambda cls: reverse("registry:class_detail", args=[cls.pk]),
        cancel_url=reverse("registry:class_list"))


@login_required
def class_edit(request, pk):
    user = request.user
    cls = queries.access_class(user, pk, "change")
    detail = reverse("registry:class_detail", args=[cls.pk])
    if not cls.is_editable:
        messages.warning(request, gettext("The class can only be changed while it is a draft or "
                                     "returned for correction."))
        return redirect(detail)
    form = forms.ClassForm(_bound(request), instance=cls, institution=cls.institution,
                           user=user)
    return _form_page(
        request, form, title=_("Edit class-opening application"), subtitle=str(cls),
        save=lambda data: services.update_class(user, cls, **data),
        success=lambda obj: detail, cancel_url=detail)


@login_required
@require_POST
def class_transition(request, pk):
    user = request.user
    cls = queries.access_class(user, pk)
    form = forms.TransitionForm(request.POST)
    if form.is_valid():
        step = form.cleaned_data["step"]
        try:
            services.transition_class(user, cls, step, form.cleaned_data["comment"])
        except BusinessRuleError as err:
            form.add_problems(err)
        else:
            cls.refresh_from_db()
            messages.success(request, gettext("%(class)s is now: %(status)s")
                             % {"class": cls.code, "status": cls.get_status_display()})
            return redirect("registry:class_detail", cls.pk)
    return _class_page(request, cls, transition_form=form, status=400)


@login_required
def session_create(request, pk):
    user = request.user
    cls = queries.access_class(user, pk)
    _require(user, "add", Session)
    form = forms.SessionForm(_bound(request), training_class=cls, user=user)
    detail = reverse("registry:class_detail", args=[cls.pk]) + "#sessions"
    return _form_page(
        request, form, title=_("Add a session"), subtitle=str(cls),
        save=lambda data: services.add_session(user, cls, **data),
        success=lambda obj: detail, cancel_url=detail)


@login_required
def session_edit(request, pk):
    user = request.user
    session = queries.access_session(user, pk, "change")
    cls = session.training_class
    form = forms.SessionForm(_bound(request), instance=session, training_class=cls,
                             user=user)
    detail = reverse("registry:class_detail", args=[cls.pk]) + "#sessions"
    return _form_page(
        request, form, title=_("Edit session"), subtitle=str(session),
        save=lambda data: services.update_session(user, session, **data),
        success=lambda obj: detail, cancel_url=detail)


@login_required
@require_POST
def session_delete(request, pk):
    user = request.user
    session = queries.access_session(user, pk, "delete")
    cls_pk = session.training_class_id
    try:
        services.delete_session(user, session)
    except BusinessRuleError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, gettext("Session %(session)s deleted.") % {"session": session})
    return redirect(reverse("registry:class_detail", args=[cls_pk]) + "#sessions")


@login_required
def session_list(request):
    user = request.user
    params = request.GET
    if not params:  # the useful default: what happens from today on
        params = params.copy()
        params["date_from"] = timezone.localdate().isoformat()
    form = forms.SessionFilter(params)
    qs = queries.sessions(user, **form.filters()).select_related("room__venue")
    code = (form.cleaned_data.get("training_class") or "").strip()
    if code:
        qs = qs.filter(training_class__code__icontains=code)
    for param, lookup in (("district", "district_id"),  # cockpit drill-down
                          ("institution", "training_class__institution_id")):
        if (params.get(param) or "").isdigit():
            qs = qs.filter(**{lookup: int(params[param])})
    return _list_page(request, title=Session._meta.verbose_name_plural,
                      table=tables.SessionTable(qs, request), filter_form=form)


@login_required
@require_POST
def enrol(request, pk):
    """Enrol by ID number + name (registering the person if new), or pick a trainee the
    institution has registered."""
    user = request.user
    cls = queries.access_class(user, pk)
    _require(user, "add", Enrolment)
    by_id = request.POST.get("mode") == "id"
    form = (forms.EnrolByIdForm(request.POST) if by_id
            else forms.EnrolPickForm(request.POST, training_class=cls, user=user))
    if form.is_valid():
        try:
            with transaction.atomic():
                if by_id:
                    trainee, _created = services.register_trainee(
                        user, institution=cls.institution, **form.cleaned_data)
                else:
                    trainee = form.cleaned_data["trainee"]
                services.enrol_trainee(user, cls, trainee)
        except BusinessRuleError as err:
            form.add_problems(err)
        else:
            messages.success(request, gettext("%(name)s enrolled in %(class)s.")
                             % {"name": trainee.name, "class": cls.code})
            return redirect(reverse("registry:class_detail", args=[cls.pk]) + "#roster")
    return _class_page(request, cls, status=400,
                       **({"enrol_id_form": form} if by_id else {"enrol_pick_form": form}))


@login_required
@require_POST
def enrolment_withdraw(request, pk):
    user = request.user
    enrolment = queries.access_enrolment(user, pk, "change")
    try:
        services.withdraw_enrolment(user, enrolment)
    except BusinessRuleError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, gettext("%(name)s withdrawn from the class.")
                         % {"name": enrolment.trainee.name})
    return redirect(reverse("registry:class_detail", args=[enrolment.training_class_id])
                    + "#roster")

"""Forms of the registry pages. They only parse input; ``registry.services`` validates and
writes, and its problems come back onto the named field through ``add_problems``."""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.roles import Role
from skillguard.core.errors import BusinessRuleError
from skillguard.registry.models import (
    ClassStatus,
    Course,
    District,
    Gender,
    Institution,
    InstitutionFiling,
    InstitutionKind,
    InstitutionStatus,
    Level,
    Room,
    Session,
    SubsidyType,
    Teacher,
    TeacherQualification,
    Trainee,
    TraineeCategory,
    TrainingClass,
    TrainingMode,
    Venue,
    WhitelistStatus,
)
from skillguard.registry.services import TRANSITIONS

class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _formfield(db_field, **kwargs):
    if isinstance(db_field, models.DateTimeField):
        kwargs["widget"] = DateTimeInput()
    elif isinstance(db_field, models.DateField):
        kwargs["widget"] = DateInput()
    return db_field.formfield(**kwargs)


class ProblemsMixin:
    """Puts a service's ``BusinessRuleError`` next to the fields it names."""

    def add_problems(self, err: BusinessRuleError) -> None:
        for problem in err.problems:
            if problem.field and problem.field in self.fields:
                self.add_error(problem.field, ValidationError(problem.message, code=problem.code))
            else:  # a rule about the record as a whole, or a field this form does not show
                self.add_error(None, ValidationError(problem.text(), code=problem.code))


class ServiceForm(ProblemsMixin, forms.ModelForm):
    """A ModelForm used for its fields and initial values only.

    Model validation is skipped here on purpose: the service validates (once, for UI, API
    and imports alike) and the edited instance is never touched before the service takes
    its audit snapshot."""

    formfield_callback = _formfield

    def _post_clean(self):
        pass


def _label(model, name):
    return model._meta.get_field(name).verbose_name


def _person_label(model, name):
    return model._meta.get_field(f"{name}_masked").verbose_name


# --------------------------------------------------------------------------- institutions


class InstitutionForm(ServiceForm):
    class Meta:
        model = Institution
        fields = ["name", "credit_code", "district", "kind", "licence_number",
                  "licence_valid_until", "address", "contact_name", "contact_phone",
                  "whitelist_status", "status"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        districts = District.objects.restrict(user)
        if user.role == Role.DISTRICT_SUPERVISOR:  # may register only in their own district
            districts = districts.filter(pk=user.district_id)
            self.fields["district"].initial = user.district_id
        self.fields["district"].queryset = districts
        self.fields["credit_code"].help_text = _("18 characters, GB 32100")


class FilingForm(ServiceForm):
    class Meta:
        model = InstitutionFiling
        fields = ["course", "filed_on", "valid_until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = Course.objects.filter(active=True).select_related(
            "occupation")


class VenueForm(ServiceForm):
    class Meta:
        model = Venue
        fields = ["name", "address", "district", "latitude", "longitude", "geofence_radius_m",
                  "active"]

    def __init__(self, *args, institution=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].required = False
        self.fields["district"].help_text = _("Leave empty for the institution's district.")
        if institution is not None and not self.instance.pk:
            self.fields["district"].initial = institution.district_id


class RoomForm(ServiceForm):
    class Meta:
        model = Room
        fields = ["name", "capacity"]


# --------------------------------------------------------------------------- people


class TeacherForm(ProblemsMixin, forms.Form):
    name = forms.CharField(label=_label(Teacher, "name"), max_length=32)
    gender = forms.ChoiceField(label=_label(Teacher, "gender"), required=False,
                               choices=[("", _("From the ID number"))] + Gender.choices)
    id_number = forms.CharField(label=_person_label(Teacher, "id_number"), max_length=18,
                                help_text=_("18 characters; stored encrypted, shown masked."))
    phone = forms.CharField(label=_person_label(Teacher, "phone"), max_length=11,
                            required=False)


class TeacherEditForm(ProblemsMixin, forms.Form):
    name = forms.CharField(label=_label(Teacher, "name"), max_length=32)
    gender = forms.ChoiceField(label=_label(Teacher, "gender"), required=False,
                               choices=[("", "—")] + Gender.choices)
    phone = forms.CharField(label=_person_label(Teacher, "phone"), max_length=11,
                            required=False,
                            help_text=_("Leave empty to keep the number on record."))
    active = forms.BooleanField(label=_label(Teacher, "active"), required=False)


class QualificationForm(ServiceForm):
    class Meta:
        model = TeacherQualification
        fields = ["occupation", "level", "certificate_number", "valid_until"]


class TraineeForm(ProblemsMixin, forms.Form):
    name = forms.CharField(label=_label(Trainee, "name"), max_length=32)
    id_number = forms.CharField(label=_person_label(Trainee, "id_number"), max_length=18,
                                help_text=_("18 characters; stored encrypted, shown masked."))
    phone = forms.CharField(label=_person_label(Trainee, "phone"), max_length=11,
                            required=False)
    category = forms.ChoiceField(label=_label(Trainee, "category"),
                                 choices=TraineeCategory.choices)
    residence_district = forms.ModelChoiceField(label=_label(Trainee, "residence_district"),
                                                queryset=District.objects.all(), required=False)


class TraineeEditForm(ProblemsMixin, forms.Form):
    phone = forms.CharField(label=_person_label(Trainee, "phone"), max_length=11,
                            required=False,
                            help_text=_("Leave empty to keep the number on record."))
    category = forms.ChoiceField(label=_label(Trainee, "category"),
                                 choices=TraineeCategory.choices)
    residence_district = forms.ModelChoiceField(label=_label(Trainee, "residence_district"),
                                                queryset=District.objects.all(), required=False)


# --------------------------------------------------------------------------- classes


class ClassForm(ServiceForm):
    teachers = forms.ModelMultipleChoiceField(
        label=_label(TrainingClass, "teachers"), queryset=Teacher.objects.none(),
        required=False, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = TrainingClass
        fields = ["name", "course", "mode", "venue", "start_date", "end_date", "planned_hours",
                  "capacity", "min_attendance_rate", "teachers"]

    def __init__(self, *args, institution, user, **kwargs):
        super().__init__(*args, **kwargs)
        filed = Course.objects.filter(filings__institution=institution)
        if self.instance.course_id:
            filed = filed | Course.objects.filter(pk=self.instance.course_id)
        self.fields["course"].queryset = filed.distinct().select_related("occupation")
        self.fields["course"].help_text = _("Only the institution's filed occupations are "
                                            "listed.")
        self.fields["venue"].queryset = Venue.objects.restrict(user).filter(
            institution=institution, active=True)
        self.fields["teachers"].queryset = Teacher.objects.restrict(user).filter(
            institution=institution, active=True)
        self.fields["min_attendance_rate"].help_text = _("A share between 0 and 1, e.g. 0.8")


class SessionForm(ServiceForm):
    class Meta:
        model = Session
        fields = ["starts_at", "ends_at", "teacher", "room", "topic"]

    def __init__(self, *args, training_class, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["teacher"].queryset = Teacher.objects.restrict(user).filter(
            institution_id=training_class.institution_id, active=True)
        self.fields["room"].queryset = Room.objects.restrict(user).filter(
            venue__institution_id=training_class.institution_id).select_related("venue")


class EnrolByIdForm(ProblemsMixin, forms.Form):
    """Enrol a person by ID number and real name; registers them if new to the platform."""
    id_number = forms.CharField(label=_person_label(Trainee, "id_number"), max_length=18)
    name = forms.CharField(label=_label(Trainee, "name"), max_length=32)
    category = forms.ChoiceField(label=_label(Trainee, "category"),
                                 choices=TraineeCategory.choices,
                                 help_text=_("Used only when the person is new to the "
                                             "platform."))
    phone = forms.CharField(label=_person_label(Trainee, "phone"), max_length=11,
                            required=False)


class EnrolPickForm(ProblemsMixin, forms.Form):
    trainee = forms.ModelChoiceField(label=_("Registered trainee"),
                                     queryset=Trainee.objects.none())

    def __init__(self, *args, training_class, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trainee"].queryset = (
            Trainee.objects.restrict(user)
            .filter(registered_by_id=training_class.institution_id)
            .exclude(enrolments__training_class=training_class).order_by("name"))
        self.fields["trainee"].label_from_instance = (
            lambda t: f"{t.name} ({t.id_number})")  # masked: enough to tell people apart


class TransitionForm(ProblemsMixin, forms.Form):
    step = forms.ChoiceField(choices=[(s, s) for s in TRANSITIONS])
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))


# --------------------------------------------------------------------------- list filters


class FilterForm(forms.Form):
    """GET filters: every field optional; invalid values are ignored rather than refused."""

    def filters(self) -> dict:
        """Parsed filters as the scoped queries take them (records given by their pk)."""
        self.is_valid()  # fills cleaned_data with the fields that did parse
        return {k: getattr(v, "pk", v) for k, v in self.cleaned_data.items()
                if v not in (None, "", [])}


def _blank(choices, label=None):
    return [("", label or _("All"))] + list(choices)


class InstitutionFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("Name, credit code or licence")}))
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))
    kind = forms.ChoiceField(label=_("Type"), choices=_blank(InstitutionKind.choices),
                             required=False)
    whitelist_status = forms.ChoiceField(label=_("Whitelist"),
                                         choices=_blank(WhitelistStatus.choices), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=_blank(InstitutionStatus.choices),
                               required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_city_wide:
            del self.fields["district"]


class ClassFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("Class code, name or institution")}))
    status = forms.ChoiceField(label=_("Status"), choices=_blank(ClassStatus.choices),
                               required=False)
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))
    institution = forms.ModelChoiceField(label=_("Institution"),
                                         queryset=Institution.objects.none(), required=False,
                                         empty_label=_("All"))
    course = forms.ModelChoiceField(label=_("Course"), required=False, empty_label=_("All"),
                                    queryset=Course.objects.select_related("occupation"))
    mode = forms.ChoiceField(label=_("Mode"), choices=_blank(TrainingMode.choices),
                             required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_city_wide:
            del self.fields["district"]
        if user.institution_id:
            del self.fields["institution"]
        else:
            self.fields["institution"].queryset = Institution.objects.restrict(user).only(
                "pk", "name")


class SessionFilter(FilterForm):
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    training_class = forms.CharField(label=_("Class code"), required=False,
                                     widget=forms.TextInput(attrs={"type": "search"}))

    def filters(self):
        out = super().filters()
        out.pop("training_class", None)  # resolved by the view: a code, not a key
        return out


class TraineeFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search",
               "placeholder": _("Name, or a full ID number or mobile number")}))
    category = forms.ChoiceField(label=_("Category"), choices=_blank(TraineeCategory.choices),
                                 required=False)
    district = forms.ModelChoiceField(label=_("District of residence"), required=False,
                                      queryset=District.objects.all(), empty_label=_("All"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)


class TeacherFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search",
               "placeholder": _("Name, or a full ID number or mobile number")}))
    institution = forms.ModelChoiceField(label=_("Institution"), required=False,
                                         queryset=Institution.objects.none(),
                                         empty_label=_("All"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if user.institution_id:
            del self.fields["institution"]
        else:
            self.fields["institution"].queryset = Institution.objects.restrict(user).only(
                "pk", "name")


class CourseFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("Occupation name or code")}))
    level = forms.TypedChoiceField(label=_("Level"), choices=_blank(Level.choices),
                                   coerce=int, empty_value=None, required=False)
    subsidy_type = forms.ChoiceField(label=_("Subsidy type"),
                                     choices=_blank(SubsidyType.choices), required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

"""Forms of the case and spot-check pages: they parse input; ``cases.services`` validates."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.models import User
from skillguard.accounts.roles import Role
from skillguard.cases.models import (
    CaseOrigin,
    CaseState,
    Conclusion,
    SpotCheckKind,
    SpotOutcome,
)
from skillguard.registry.forms import DateInput, DateTimeInput, FilterForm, ProblemsMixin, _blank
from skillguard.registry.models import District, Institution, Occupation
from skillguard.supervision.rules.base import Severity


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


def _pairs_help():
    return _("One “enrolment id, session id” pair per line (optional).")


def parse_pairs(text: str) -> list[list[int]]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = [p for p in line.replace(";", ",").replace(" ", ",").split(",") if p]
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise forms.ValidationError(_("Each line must be “enrolment id, session id”."),
                                        code="invalid_pair")
        out.append([int(parts[0]), int(parts[1])])
    return out


class PairsField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        kwargs.setdefault("help_text", _pairs_help())
        super().__init__(**kwargs)

    def clean(self, value):
        return parse_pairs(super().clean(value))


class AssignForm(ProblemsMixin, forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none())
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        who = Q(role=Role.CITY_SUPERVISOR)
        if case.escalated_at is None:
            who |= Q(role=Role.DISTRICT_SUPERVISOR, district_id=case.district_id)
        qs = User.objects.filter(who, is_active=True)
        self.fields["assignee"].queryset = qs.order_by("role", "username")
        self.fields["assignee"].label_from_instance = (
            lambda u: f"{u.display_name or u.username} ({u.get_role_display()})")


def _tomorrow():
    return (timezone.localtime() + dt.timedelta(days=5)).replace(hour=17, minute=0, second=0,
                                                                 microsecond=0)


class DispatchForm(ProblemsMixin, forms.Form):
    request_text = forms.CharField(label=_("Request to the institution"), max_length=5000,
                                   required=False, widget=forms.Textarea(attrs={"rows": 3}))
    answer_deadline = forms.DateTimeField(label=_("Answer deadline"), required=False,
                                          widget=DateTimeInput(), initial=_tomorrow)


class AnswerForm(ProblemsMixin, forms.Form):
    answer_text = forms.CharField(label=_("Explanation"), max_length=10000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    files = MultipleFileField(label=_("Attachments"))


class VerifyForm(ProblemsMixin, forms.Form):
    verification_note = forms.CharField(label=_("Verification note"), max_length=5000,
                                        required=False, widget=forms.Textarea(attrs={"rows": 3}))
    extra_pairs = PairsField(label=_("Further affected hours"))


class CloseForm(ProblemsMixin, forms.Form):
    conclusion = forms.ChoiceField(label=_("Conclusion"), required=False,
                                   choices=_blank(Conclusion.choices, _("Choose…")))
    conclusion_comment = forms.CharField(label=_("Conclusion comment"), max_length=5000,
                                         required=False, widget=forms.Textarea(attrs={"rows": 3}))
    extra_pairs = PairsField(label=_("Further affected hours"))


class ReasonForm(ProblemsMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=5000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class CommentForm(ProblemsMixin, forms.Form):
    text = forms.CharField(label=_("Comment"), max_length=5000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))
    files = MultipleFileField(label=_("Attachments"))


STEP_FORMS = {"assign": AssignForm, "dispatch": DispatchForm, "answer": AnswerForm,
              "verify": VerifyForm, "close": CloseForm, "escalate": ReasonForm,
              "reopen": ReasonForm, "comment": CommentForm}


class CaseFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("Case number, title or institution")}))
    state = forms.ChoiceField(label=_("State"), required=False, choices=_blank(
        [("open", _("All open")), *CaseState.choices]))
    severity = forms.ChoiceField(label=_("Severity"), required=False,
                                 choices=_blank(Severity.choices))
    origin = forms.ChoiceField(label=_("Origin"), required=False,
                               choices=_blank(CaseOrigin.choices))
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))
    institution = forms.ModelChoiceField(label=_("Institution"),
                                         queryset=Institution.objects.none(), required=False,
                                         empty_label=_("All"))
    rule = forms.ModelChoiceField(label=_("Rule"), queryset=None, required=False,
                                  empty_label=_("All"))
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    escalated = forms.BooleanField(label=_("Escalated only"), required=False)
    date_from = forms.DateField(label=_("Opened from"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("Opened to"), required=False, widget=DateInput())

    def __init__(self, *args, user, **kwargs):
        from skillguard.supervision.models import Rule

        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = Rule.objects.all()
        if not user.is_city_wide:
            del self.fields["district"]
        if user.institution_id:
            del self.fields["institution"]
            del self.fields["rule"]
        else:
            self.fields["institution"].queryset = Institution.objects.restrict(user).only(
                "pk", "name")


class SpotCheckForm(ProblemsMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SpotCheckKind.choices)
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))
    institution = forms.ModelChoiceField(label=_("Institution"),
                                         queryset=Institution.objects.none(), required=False,
                                         empty_label=_("All"))
    occupation = forms.ModelChoiceField(label=_("Occupation"), queryset=Occupation.objects.all(),
                                        required=False, empty_label=_("All"))
    date_from = forms.DateField(label=_("Sessions from"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("Sessions to"), required=False, widget=DateInput())
    min_risk = forms.IntegerField(label=_("Minimum risk score"), min_value=0, initial=0,
                                  required=False)
    sample_size = forms.IntegerField(label=_("Sample size"), min_value=1, initial=10)
    seed = forms.CharField(label=_("Seed"), required=False, max_length=64, help_text=_(
        "The same seed and filters draw the same sample; leave empty for a new random seed."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_city_wide:
            del self.fields["district"]
        self.fields["institution"].queryset = Institution.objects.restrict(user).only(
            "pk", "name")


class ItemResultForm(ProblemsMixin, forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[
        c for c in SpotOutcome.choices if c[0] != SpotOutcome.PENDING])
    headcount_observed = forms.IntegerField(label=_("Headcount observed"), min_value=0,
                                            required=False)
    findings = forms.CharField(label=_("Findings"), max_length=10000, required=False,
                               widget=forms.Textarea(attrs={"rows": 2}))
    files = MultipleFileField(label=_("Evidence"))


class SpotCheckFilter(FilterForm):
    kind = forms.ChoiceField(label=_("Kind"), required=False,
                             choices=_blank(SpotCheckKind.choices))
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_city_wide:
            del self.fields["district"]

"""Forms of the statistics and report pages (rendering and plain parsing; the checks that
matter — scope, month ranges — are in ``statistics.parse_filters`` and the services)."""
from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.reports import statistics
from skillguard.reports.models import ExportFormat, ReportKind, TableKind


class MonthInput(forms.TextInput):
    input_type = "month"


def district_choices(user, blank_label):
    from skillguard.registry.models import District

    allowed = statistics.allowed_districts(user)
    qs = District.objects.order_by("sort_order", "pk")
    if allowed is not None:
        qs = qs.filter(pk__in=allowed)
    return [("", blank_label)] + [(str(d.pk), d.name) for d in qs]


class StatisticsFilter(forms.Form):
    table = forms.ChoiceField(label=_("Table"), choices=TableKind.choices, required=False)
    district = forms.ChoiceField(label=_("District"), required=False)
    occupation = forms.ChoiceField(label=_("Occupation"), required=False)
    month_from = forms.CharField(label=_("First month"), required=False, widget=MonthInput)
    month_to = forms.CharField(label=_("Last month"), required=False, widget=MonthInput)

    def __init__(self, data=None, *, user, **kwargs):
        from skillguard.registry.models import Occupation

        super().__init__(data, **kwargs)
        allowed = statistics.allowed_districts(user)
        blank = _("Whole city") if allowed is None else _("All my districts")
        self.fields["district"].choices = district_choices(user, blank)
        self.fields["occupation"].choices = [("", _("All occupations"))] + [
            (str(o.pk), f"{o.code} {o.name}") for o in Occupation.objects.order_by("code")]


class ReportRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Report of"), choices=ReportKind.choices)
    district = forms.ChoiceField(label=_("District"), required=False)
    month = forms.CharField(label=_("Month"), widget=MonthInput)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        allowed = statistics.allowed_districts(user)
        self.user = user
        self.fields["district"].choices = district_choices(user, _("— for a district report —"))
        if allowed is not None:  # a district supervisor: district reports only
            self.fields["kind"].choices = [(ReportKind.DISTRICT, ReportKind.DISTRICT.label)]
        last_month = statistics.add_months(statistics.month_start(timezone.localdate()), -1)
        self.fields["month"].initial = f"{last_month:%Y-%m}"

    def clean_month(self):
        try:
            month = statistics.parse_month(self.cleaned_data["month"])
        except ValueError:
            month = None
        if month is None:
            raise forms.ValidationError(_("is not a month (YYYY-MM)"), code="invalid")
        return month

    def clean(self):
        from skillguard.registry.models import District

        data = super().clean()
        if data.get("kind") == ReportKind.DISTRICT:
            if not data.get("district"):
                self.add_error("district", _("is required for a district report"))
            else:
                data["district"] = District.objects.filter(pk=data["district"]).first()
        else:
            data["district"] = None
        return data


class ExportRequestForm(forms.Form):
    table = forms.ChoiceField(choices=TableKind.choices)
    format = forms.ChoiceField(choices=ExportFormat.choices)
    district = forms.CharField(required=False)
    occupation = forms.CharField(required=False)
    month_from = forms.CharField(required=False)
    month_to = forms.CharField(required=False)

"""Forms of the distribution pages: parse only; services validate and write."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.distribution.models import ANY_TYPE, RECORD_TYPES, Basis, Subscriber
from skillguard.registry.forms import ProblemsMixin
from skillguard.registry.models import District

TYPE_CHOICES = [(ANY_TYPE, _("Every record type (*)"))] + [(t, t) for t in RECORD_TYPES]


class RuleForm(ProblemsMixin, forms.Form):
    subscriber = forms.ModelChoiceField(Subscriber.objects.filter(active=True),
                                        label=_("subscriber"))
    record_type = forms.CharField(label=_("record type"), max_length=32, initial=ANY_TYPE,
                                  widget=forms.TextInput(attrs={"list": "record-types"}),
                                  help_text=_('A record type of the docking standard, or "*" '
                                              'for every type'))
    basis = forms.ChoiceField(label=_("basis"), choices=Basis.choices)
    district = forms.ModelChoiceField(District.objects.all(), label=_("district"),
                                      required=False,
                                      help_text=_("Empty: the subscriber's own district"))
    active = forms.BooleanField(label=_("active"), required=False, initial=True)
    reason = forms.CharField(label=_("reason for the change"), max_length=255, required=False,
                             widget=forms.TextInput)


class SubscriberForm(ProblemsMixin, forms.Form):
    name = forms.CharField(label=_("name"), max_length=128)
    district = forms.ModelChoiceField(District.objects.all(), label=_("district"),
                                      required=False,
                                      help_text=_("The district whose records its rules follow "
                                                  "by default; empty for a city-wide one"))
    webhook_url = forms.URLField(label=_("webhook URL"), required=False,
                                 help_text=_("Public http(s) address that receives signed POSTs; "
                                             "empty: the subscriber only pulls the feed"))
    active = forms.BooleanField(label=_("active"), required=False, initial=True)


class ReasonForm(ProblemsMixin, forms.Form):
    reason = forms.CharField(label=_("reason for the change"), max_length=255, required=False)


class QualityFilterForm(forms.Form):
    source = forms.ModelChoiceField(None, label=_("source"), required=False)
    start = forms.DateField(label=_("from"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("to"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    below = forms.BooleanField(label=_("only below 98 %"), required=False)

    def __init__(self, data, sources):
        super().__init__(data)
        self.fields["source"].queryset = sources

    def period(self) -> tuple[dt.date, dt.date]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=13)
        if start > end:
            start, end = end, start
        return start, min(end, start + dt.timedelta(days=366))

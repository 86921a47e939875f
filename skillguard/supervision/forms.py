"""Forms of the supervision pages: parse only; services validate and write."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.registry.forms import ProblemsMixin
from skillguard.registry.models import District
from skillguard.supervision.models import WarningStatus
from skillguard.supervision.rules.base import Period, RuleLevel, Severity

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _param_field(name, param, value):
    label = param.label
    help_text = param.help or ""
    if param.unit:
        help_text = f"{help_text} ({param.unit})" if help_text else f"({param.unit})"
    common = {"label": label, "help_text": help_text, "initial": value}
    if param.kind == "bool":
        return forms.BooleanField(required=False, **common)
    if param.kind == "choice":
        return forms.ChoiceField(choices=[(c[0], c[1] if len(c) > 1 else c[0])
                                          for c in param.choices], **common)
    # Ranges are checked by the service (bilingual problems naming the parameter).
    return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)


class RuleChangeForm(ProblemsMixin, forms.Form):
    """The parameters of a rule (one field per parameter, named as the parameter), then
    severity, period, on/off and the reason."""
    severity = forms.ChoiceField(label=_("severity"), choices=Severity.choices)
    level = forms.ChoiceField(label=_("level"), choices=RuleLevel.choices)
    period = forms.ChoiceField(label=_("period"), choices=Period.choices)
    enabled = forms.BooleanField(label=_("switched on"), required=False)
    comment = forms.CharField(label=_("reason for the change"), max_length=1000,
                              required=False, widget=forms.Textarea(attrs={"rows": 2}))

    FIXED = ("severity", "level", "period", "enabled", "comment")

    def __init__(self, data, *, rule, defn):
        version = rule.current_version
        initial = {"severity": version.severity, "level": version.level,
                   "period": version.period, "enabled": rule.enabled}
        super().__init__(data, initial=initial)
        fixed = {k: self.fields.pop(k) for k in self.FIXED}
        self.param_names = []
        for name, param in defn.params.items():
            if name in self.FIXED:
                continue  # a parameter may not shadow a fixed field (never in practice)
            self.fields[name] = _param_field(name, param, version.params.get(name,
                                                                             param.default))
            self.param_names.append(name)
        self.fields.update(fixed)

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"params": {n: d[n] for n in self.param_names}, "severity": d["severity"],
                "level": d["level"], "period": d["period"], "enabled": d["enabled"],
                "comment": d["comment"]}


class WindowForm(ProblemsMixin, forms.Form):
    window_start = forms.DateField(label=_("window from"), widget=DATE)
    window_end = forms.DateField(label=_("window to"), widget=DATE,
                                 help_text=_("inclusive (local dates)"))

    def __init__(self, data=None, **kwargs):
        today = timezone.localdate()
        kwargs.setdefault("initial", {"window_start": today - dt.timedelta(days=30),
                                      "window_end": today - dt.timedelta(days=1)})
        super().__init__(data, **kwargs)

    def window(self):
        d = self.cleaned_data
        return d["window_start"], d["window_end"] + dt.timedelta(days=1)


class WarningFilterForm(forms.Form):
    PERIODS = [("", _("any time")), ("today", _("today")), ("week", _("this week")),
               ("month", _("this month")), ("year", _("this year")),
               ("custom", _("custom"))]
    district = forms.ModelChoiceField(District.objects.none(), label=_("district"),
                                      required=False)
    institution = forms.ModelChoiceField(None, label=_("institution"), required=False)
    rule = forms.ChoiceField(label=_("rule"), required=False)
    severity = forms.ChoiceField(label=_("severity"), required=False,
                                 choices=[("", "—"), *Severity.choices])
    status = forms.ChoiceField(label=_("status"), required=False,
                               choices=[("", "—"), *WarningStatus.choices])
    level = forms.ChoiceField(label=_("level"), required=False,
                              choices=[("", "—"), *RuleLevel.choices])
    period = forms.ChoiceField(label=_("first raised"), required=False, choices=PERIODS)
    start = forms.DateField(label=_("from"), required=False, widget=DATE)
    end = forms.DateField(label=_("to"), required=False, widget=DATE)

    def __init__(self, data, *, districts, institutions, rule_choices):
        super().__init__(data)
        self.fields["district"].queryset = districts
        self.fields["institution"].queryset = institutions
        self.fields["rule"].choices = [("", "—"), *rule_choices]

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        self.is_valid()  # a field out of range or scope is dropped, the others apply
        d = self.cleaned_data
        return {k: v for k, v in d.items() if v not in (None, "")}


class BacktestForm(WindowForm):
    """A window and the parameters to try (initially those in force)."""

    def __init__(self, data, *, rule, defn):
        super().__init__(data)
        version = rule.current_version
        self.param_names = []
        for name, param in defn.params.items():
            if name in ("window_start", "window_end"):
                continue
            self.fields[name] = _param_field(name, param, version.params.get(name,
                                                                             param.default))
            self.param_names.append(name)

    def params(self) -> dict:
        return {n: self.cleaned_data[n] for n in self.param_names}

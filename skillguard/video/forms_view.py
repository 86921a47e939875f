"""Forms of the live, wall, playback and clip pages: they parse input; services validate."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from skillguard.registry.forms import ProblemsMixin
from skillguard.registry.models import District, Institution
from skillguard.video import playback

LAYOUTS = ((2, "2 × 2"), (3, "3 × 3"), (4, "4 × 4"))


class LocalDateTimeField(forms.CharField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        parsed = playback.parse_local(value)
        if parsed is None:
            raise forms.ValidationError(_("Enter a date and time (YYYY-MM-DD HH:MM:SS)."),
                                        code="invalid")
        return parsed

    def prepare_value(self, value):
        if hasattr(value, "tzinfo"):
            return playback.input_value(value)
        return value


class RangeForm(ProblemsMixin, forms.Form):
    starts_at = LocalDateTimeField(label=_("Start time"), required=False)
    ends_at = LocalDateTimeField(label=_("End time"), required=False)


class ClipForm(RangeForm):
    case_number = forms.CharField(label=_("Attach to case (case number)"), required=False,
                                  max_length=24)
    # set when the playback was opened from a spot-check item ("replay this session")
    spot_check_item = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AttachForm(ProblemsMixin, forms.Form):
    case_number = forms.CharField(label=_("Case number"), max_length=24)


class WallForm(forms.Form):
    layout = forms.TypedChoiceField(label=_("Layout"), choices=LAYOUTS, coerce=int, initial=3,
                                    required=False)
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.none(),
                                      required=False)
    institution = forms.ModelChoiceField(label=_("Institution"),
                                         queryset=Institution.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from skillguard.video.queries import viewable_cameras

        cameras = viewable_cameras(user)
        self.fields["district"].queryset = District.objects.filter(
            pk__in=cameras.values("district_id")).order_by("sort_order", "code")
        self.fields["institution"].queryset = Institution.objects.filter(
            pk__in=cameras.values("institution_id")).order_by("name")

    def filters(self) -> dict:
        if not self.is_valid():
            return {"layout": 3}
        data = self.cleaned_data
        return {"layout": data.get("layout") or 3,
                "district": data["district"].pk if data.get("district") else None,
                "institution": data["institution"].pk if data.get("institution") else None}

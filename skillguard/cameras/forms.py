"""Forms of the camera-estate pages: they parse input; ``cameras.services`` validates."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from skillguard.cameras.models import (
    CHECKLIST_ITEMS,
    CameraState,
    WorkOrderKind,
    WorkOrderState,
)
from skillguard.cases.forms import MultipleFileField
from skillguard.registry.forms import DateTimeInput, FilterForm, ProblemsMixin, _blank
from skillguard.registry.models import District, Institution, Room


def _room_label(room):
    return f"{room.venue.institution.name} · {room.venue.name} {room.name}"


class CameraFilter(FilterForm):
    q = forms.CharField(label=_("Search"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("Serial, stream, ICCID, institution or room")}))
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))
    institution = forms.ModelChoiceField(label=_("Institution"),
                                         queryset=Institution.objects.none(), required=False,
                                         empty_label=_("All"))
    state = forms.ChoiceField(label=_("State"), required=False,
                              choices=_blank(CameraState.choices))
    online = forms.ChoiceField(label=pgettext_lazy("camera", "Online"), required=False,
                               choices=_blank([("1", pgettext_lazy("camera", "Online")),
                                               ("0", _("Offline (in service)"))]))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_city_wide:
            del self.fields["district"]
        if user.institution_id:
            del self.fields["institution"]
        else:
            self.fields["institution"].queryset = Institution.objects.restrict(user).only(
                "pk", "name")


class WorkOrderFilter(FilterForm):
    kind = forms.ChoiceField(label=_("Kind"), required=False,
                             choices=_blank(WorkOrderKind.choices))
    state = forms.ChoiceField(label=_("State"), required=False, choices=_blank(
        [("open", _("All open")), *WorkOrderState.choices]))
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_city_wide:
            del self.fields["district"]


class EstateFilter(FilterForm):
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.all(),
                                      required=False, empty_label=_("All"))


class RoomChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _room_label(obj)


class RequestForm(ProblemsMixin, forms.Form):
    room = RoomChoiceField(label=_("Classroom"), queryset=Room.objects.none())
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = (Room.objects.restrict(user)
                                        .select_related("venue__institution")
                                        .order_by("venue__institution__name", "venue__name",
                                                  "name"))


class ScheduleForm(ProblemsMixin, forms.Form):
    technician_name = forms.CharField(label=_("Technician"), required=False, max_length=64)
    technician_phone = forms.CharField(label=_("Technician phone"), required=False,
                                       max_length=20)
    appointment_at = forms.DateTimeField(label=_("Appointment"), required=False,
                                         widget=DateTimeInput())


class InstallForm(ProblemsMixin, forms.Form):
    serial = forms.CharField(label=_("Serial number"), required=False, max_length=64)
    model = forms.CharField(label=_("Model"), required=False, max_length=64)
    iccid = forms.CharField(label=_("SIM card (ICCID)"), required=False, max_length=22)
    position_photo = forms.FileField(label=_("Position photo"), required=False)
    result = forms.CharField(label=_("Result"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    photos = MultipleFileField(label=_("Photos"))


class RepairVisitForm(ProblemsMixin, forms.Form):
    result = forms.CharField(label=_("Result"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    fixed = forms.BooleanField(label=_("Fixed: back in service"), required=False)
    photos = MultipleFileField(label=_("Photos"))


class InspectionForm(ProblemsMixin, forms.Form):
    performed_at = forms.DateTimeField(label=_("Performed"), required=False,
                                       widget=DateTimeInput())
    note = forms.CharField(label=_("Note"), required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    photos = MultipleFileField(label=_("Photos"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = {}
        for key, label in CHECKLIST_ITEMS:
            fields[f"{key}_ok"] = forms.ChoiceField(
                label=label, required=False,
                choices=[("", _("Choose…")), ("pass", _("Pass")), ("fail", _("Fail"))])
            fields[f"{key}_note"] = forms.CharField(
                label=_("Note: %(item)s") % {"item": label}, required=False, max_length=500)
        self.fields = {**fields, **self.fields}

    def checklist(self) -> dict:
        data = self.cleaned_data
        out = {}
        for key, _label in CHECKLIST_ITEMS:
            ok = data.get(f"{key}_ok")
            if ok in ("pass", "fail"):
                out[key] = {"ok": ok == "pass", "note": data.get(f"{key}_note") or ""}
        return out


class FaultForm(ProblemsMixin, forms.Form):
    fault_description = forms.CharField(label=_("Fault description"), required=False,
                                        max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class RelocationForm(ProblemsMixin, forms.Form):
    room = RoomChoiceField(label=_("New classroom"), queryset=Room.objects.none(),
                           required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, camera, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = (Room.objects.filter(
            venue__institution_id=camera.institution_id).exclude(pk=camera.room_id)
            .select_related("venue__institution").order_by("venue__name", "name"))


class CompleteRelocationForm(ProblemsMixin, forms.Form):
    position_photo = forms.FileField(label=_("Position photo"), required=False)
    result = forms.CharField(label=_("Result"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    photos = MultipleFileField(label=_("Photos"))


class ReasonForm(ProblemsMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ConfirmForm(ProblemsMixin, forms.Form):
    pass

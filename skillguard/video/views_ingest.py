"""Ingest pages: the media event list (every decision and incident of the pipeline)."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.pages import list_page, require
from skillguard.registry.models import District
from skillguard.registry.tables import Column, Table
from skillguard.video import queries
from skillguard.video.models import MediaEvent, MediaEventKind
from skillguard.video.services_ingest import reason_message

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MediaEventFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("event"), required=False,
                             choices=[("", "—"), *MediaEventKind.choices])
    district = forms.ModelChoiceField(District.objects.none(), label=_("district"),
                                      required=False)
    camera = forms.CharField(label=_("camera"), required=False, max_length=64,
                             help_text=_("Camera id, serial number or stream name."))
    start = forms.DateField(label=_("from"), required=False, widget=DATE)
    end = forms.DateField(label=_("to"), required=False, widget=DATE)

    def __init__(self, data, *, districts):
        super().__init__(data)
        self.fields["district"].queryset = districts

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        self.is_valid()  # a value out of range or scope is dropped, the others apply
        d = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        tz = timezone.get_current_timezone()
        if "start" in d:
            d["since"] = dt.datetime.combine(d.pop("start"), dt.time(), tzinfo=tz)
        if "end" in d:
            d["until"] = dt.datetime.combine(d.pop("end") + dt.timedelta(days=1), dt.time(),
                                             tzinfo=tz)
        return d


def _district_names() -> dict[int, str]:
    return dict(District.objects.values_list("pk", "name"))


class MediaEventTable(Table):
    row_template = "video/rows/media_event.html"
    default_order = ("-at", "-id")
    columns = {
        "at": Column(_("Time"), "at"),
        "kind": Column(_("Event"), "kind"),
        "camera": Column(_("Camera"), "camera__serial"),
        "stream": Column(_("Stream name"), "stream_name", "mono"),
        "district": Column(_("District"), "district_id"),
        "reason": Column(_("Reason")),
        "addr": Column(_("Client address"), "", "mono"),
    }
    export_fields = (
        (_("Time"), lambda o: timezone.localtime(o.at).strftime("%Y-%m-%d %H:%M:%S")),
        (_("Event"), lambda o: o.get_kind_display()),
        (_("Camera"), lambda o: o.camera.serial if o.camera_id else ""),
        (_("Stream name"), lambda o: o.stream_name),
        (_("District"), lambda o: MediaEventTable.district_name(o.district_id)),
        (_("Reason code"), lambda o: o.reason),
        (_("Reason"), lambda o: reason_message(o.reason) if o.reason else ""),
        (_("Client address"), lambda o: o.client_addr or ""),
    )
    _names: dict | None = None

    @classmethod
    def district_name(cls, pk):
        if cls._names is None or pk not in cls._names:
            cls._names = _district_names()
        return cls._names.get(pk, "")

    def __init__(self, queryset, request):
        super().__init__(queryset, request)
        names = _district_names()
        for event in self.page.object_list:
            event.district_name = names.get(event.district_id, "")
            event.reason_text = reason_message(event.reason) if event.reason else ""


@login_required
def event_list(request):
    user = request.user
    require(user, "view", MediaEvent)
    form = MediaEventFilterForm(request.GET or None,
                                districts=District.objects.restrict(user, "view")
                                .order_by("sort_order"))
    table = MediaEventTable(queries.media_events(user, **form.filters()), request)
    return list_page(
        request, title=_("Media events"), table=table, filter_form=form,
        intro=_("Every push accepted or refused, every stream ended, recorder and media "
                "server incident, with its reason."))

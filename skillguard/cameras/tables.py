"""List tables of cameras and work orders."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from skillguard.registry.tables import Column, Table


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


class CameraTable(Table):
    row_template = "cameras/rows/camera.html"
    default_order = ("institution__name", "serial")
    export_fields = (
        (_("Serial number"), lambda o: o.serial), (_("Model"), lambda o: o.model),
        (_("SIM card (ICCID)"), lambda o: o.iccid),
        (_("District"), lambda o: o.district.name),
        (_("Institution"), lambda o: o.institution.name),
        (_("Venue"), lambda o: o.venue.name if o.venue_id else ""),
        (_("Room"), lambda o: o.room.name if o.room_id else ""),
        (_("Stream name"), lambda o: o.stream_name),
        (_("State"), lambda o: o.get_state_display()),
        (pgettext_lazy("camera", "Online"),
         lambda o: _("yes") if getattr(o, "is_online", False) else ""),
        (_("Installed"), lambda o: _local(o.installed_at)),
        (_("In service since"), lambda o: _local(o.in_service_since)),
    )
    columns = {
        "serial": Column(_("Serial number"), "serial", "mono"),
        "institution": Column(_("Institution"), "institution__name"),
        "room": Column(_("Room"), "room__name"),
        "district": Column(_("District"), "district__sort_order"),
        "stream": Column(_("Stream name"), "stream_name", "mono"),
        "state": Column(_("State"), "state"),
        "online": Column(pgettext_lazy("camera", "Online"), "is_online"),
        "since": Column(_("In service since"), "in_service_since"),
    }


class WorkOrderTable(Table):
    row_template = "cameras/rows/workorder.html"
    export_fields = (
        (_("Work order"), lambda o: o.number), (_("Kind"), lambda o: o.get_kind_display()),
        (_("State"), lambda o: o.get_state_display()),
        (_("Camera"), lambda o: o.camera.serial),
        (_("District"), lambda o: o.district.name),
        (_("Institution"), lambda o: o.institution.name),
        (_("Room"), lambda o: o.room or ""),
        (_("Technician"), lambda o: o.technician_name),
        (_("Appointment"), lambda o: _local(o.appointment_at)),
        (_("Created"), lambda o: _local(o.created_at)),
        (_("Completed"), lambda o: _local(o.completed_at)),
    )
    columns = {
        "number": Column(_("Work order"), "id", "mono"),
        "kind": Column(_("Kind"), "kind"),
        "state": Column(_("State"), "state"),
        "camera": Column(_("Camera"), "camera__serial", "mono"),
        "institution": Column(_("Institution"), "institution__name"),
        "room": Column(_("Room")),
        "appointment": Column(_("Appointment"), "appointment_at"),
        "created": Column(_("Created"), "created_at"),
    }

"""List table of video clips."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.registry.tables import Column, Table


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


class ClipTable(Table):
    row_template = "video/rows/clip.html"
    default_order = ("-requested_at", "-pk")
    export_fields = (
        (_("Clip"), lambda o: o.pk),
        (_("Camera"), lambda o: o.camera.serial),
        (_("Institution"), lambda o: o.camera.institution.name),
        (_("Room"), lambda o: o.camera.room.name if o.camera.room_id else ""),
        (_("From"), lambda o: _local(o.starts_at)), (_("Until"), lambda o: _local(o.ends_at)),
        (_("State"), lambda o: o.get_state_display()),
        (_("Duration (s)"), lambda o: o.duration_s if o.duration_s is not None else ""),
        (_("Case"), lambda o: o.case.number if o.case_id else ""),
        (_("Requested by"), lambda o: o.requested_by),
        (_("Requested"), lambda o: _local(o.requested_at)),
    )
    columns = {
        "id": Column(_("Clip"), "id", "mono"),
        "camera": Column(_("Camera"), "camera__serial"),
        "institution": Column(_("Institution"), "camera__institution__name"),
        "from": Column(_("From"), "starts_at"),
        "until": Column(_("Until"), "ends_at"),
        "state": Column(_("State"), "state"),
        "duration": Column(_("Duration (s)"), "duration_s", "num"),
        "case": Column(_("Case"), "case__number"),
        "requested": Column(_("Requested"), "requested_at"),
    }

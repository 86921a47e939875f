"""The camera estate (监控点位): every classroom camera and its life.

``Camera``     one 4G camera point in a classroom: identity (serial, model, SIM), where it
               hangs (institution, venue, room, position photo), its stream name (public, used
               in URLs) and stream key (secret: only its keyed hash is kept; the key is shown
               once when issued). State machine (``services``):

                   requested → scheduled → installed → in_service
                   in_service → faulty → in_service          (repair work order)
                   in_service → relocating → scheduled …      (institution moves)
                   any → retired

               Only a camera ``in_service`` with a key that is not revoked may push a stream.
``WorkOrder``  field work (install, relocate removal / installation, repair, yearly
               inspection) with technician, appointment, result and photos.
``Inspection`` the yearly inspection's checklist (device, network, picture quality, picture
               position) and verdict.

Coverage (应装尽装): every approved classroom (a room used by a class that is approved or
running) should have a camera in service — ``queries.coverage``.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class CameraState(models.TextChoices):
    REQUESTED = "requested", _("Installation requested")
    SCHEDULED = "scheduled", _("Installation scheduled")
    INSTALLED = "installed", _("Installed")
    IN_SERVICE = "in_service", _("In service")
    FAULTY = "faulty", _("Faulty")
    RELOCATING = "relocating", _("Being relocated")
    RETIRED = "retired", _("Decommissioned")


class Camera(models.Model):
    district = models.ForeignKey("registry.District", verbose_name=_("district"),
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="cameras")
    venue = models.ForeignKey("registry.Venue", verbose_name=_("venue"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="cameras")
    room = models.ForeignKey("registry.Room", verbose_name=_("room"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="cameras")
    serial = models.CharField(_("serial number"), max_length=64, unique=True)
    model = models.CharField(_("model"), max_length=64, blank=True)
    iccid = models.CharField(_("SIM card (ICCID)"), max_length=22, blank=True)
    position_photo = models.FileField(_("position photo"), upload_to="cameras/", blank=True)
    # Public name of the stream (RTMP path, HLS URLs); never the secret.
    stream_name = models.CharField(_("stream name"), max_length=64, unique=True)
    # Keyed hash (core.crypto lookup hash) of the secret stream key; hint = last 4 chars.
    stream_key_hash = models.CharField(_("stream key hash"), max_length=64, blank=True,
                                       db_index=True)
    stream_key_hint = models.CharField(_("stream key (last characters)"), max_length=8,
                                       blank=True)
    stream_key_issued_at = models.DateTimeField(_("stream key issued"), null=True, blank=True)
    stream_key_revoked_at = models.DateTimeField(_("stream key revoked"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=CameraState.choices,
                             default=CameraState.REQUESTED)
    installed_at = models.DateTimeField(_("installed"), null=True, blank=True)
    in_service_since = models.DateTimeField(_("in service since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("institution",),
                  teacher=("institution__teachers",))

    class Meta:
        verbose_name = _("camera")
        verbose_name_plural = _("cameras")
        ordering = ["institution", "serial"]
        indexes = [models.Index(fields=["district", "state"], name="camera_district_state"),
                   models.Index(fields=["room"], name="camera_room")]
        constraints = [
            # One camera in service per room: the room's sessions map to one recording.
            models.UniqueConstraint(fields=["room"], condition=Q(state="in_service"),
                                    name="camera_one_in_service_per_room"),
        ]

    def __str__(self) -> str:
        return f"{self.serial} · {self.room or self.institution}"

    @property
    def may_stream(self) -> bool:
        return (self.state == CameraState.IN_SERVICE and bool(self.stream_key_hash)
                and self.stream_key_revoked_at is None)


class WorkOrderKind(models.TextChoices):
    INSTALL = "install", _("Installation")
    RELOCATION_REMOVAL = "relocation_removal", _("Relocation: removal")
    RELOCATION_INSTALL = "relocation_install", _("Relocation: installation")
    REPAIR = "repair", _("Repair")
    INSPECTION = "inspection", _("Yearly inspection")


class WorkOrderState(models.TextChoices):
    OPEN = "open", _("Open")
    SCHEDULED = "scheduled", _("Scheduled")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_WORK_ORDER_STATES = (WorkOrderState.OPEN, WorkOrderState.SCHEDULED)


class WorkOrder(models.Model):
    """One piece of field work on a camera (工单): who goes, when, what they found."""

    camera = models.ForeignKey(Camera, verbose_name=_("camera"), on_delete=models.CASCADE,
                               related_name="work_orders")
    district = models.ForeignKey("registry.District", verbose_name=_("district"),
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=24, choices=WorkOrderKind.choices)
    state = models.CharField(_("state"), max_length=16, choices=WorkOrderState.choices,
                             default=WorkOrderState.OPEN)
    # Where the work happens (installation / relocation target; the camera's room otherwise).
    venue = models.ForeignKey("registry.Venue", verbose_name=_("venue"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey("registry.Room", verbose_name=_("room"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    technician_name = models.CharField(_("technician"), max_length=64, blank=True)
    technician_phone = models.CharField(_("technician phone"), max_length=20, blank=True)
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    fault_description = models.TextField(_("fault description"), blank=True)
    result = models.TextField(_("result"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("institution",))

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["district", "kind", "state"], name="workorder_open"),
                   models.Index(fields=["camera", "kind", "state"], name="workorder_camera")]

    def __str__(self) -> str:
        return f"WO{self.pk or 0:06d} {self.get_kind_display()}"

    @property
    def number(self) -> str:
        return f"WO{self.pk or 0:06d}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_WORK_ORDER_STATES


class WorkOrderPhoto(models.Model):
    work_order = models.ForeignKey(WorkOrder, verbose_name=_("work order"),
                                   on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(_("file"), upload_to="cameras/workorders/%Y/%m/")
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"),
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("work_order__district",),
                  institution=("work_order__institution",))

    class Meta:
        verbose_name = _("work-order photo")
        verbose_name_plural = _("work-order photos")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def audit_anchors(self):
        return self.work_order.district_id, self.work_order.institution_id


# The yearly inspection's checklist (年检): each item pass / fail with a note.
CHECKLIST_ITEMS = (
    ("device", _("Device")),
    ("network", _("Network")),
    ("picture_quality", _("Picture quality")),
    ("picture_position", _("Picture position")),
)
INSPECTION_INTERVAL_DAYS = 365


class Inspection(models.Model):
    camera = models.ForeignKey(Camera, verbose_name=_("camera"), on_delete=models.CASCADE,
                               related_name="inspections")
    work_order = models.OneToOneField(WorkOrder, verbose_name=_("work order"), null=True,
                                      blank=True, on_delete=models.SET_NULL,
                                      related_name="inspection")
    district = models.ForeignKey("registry.District", verbose_name=_("district"),
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("registry.Institution", verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    # {"device": {"ok": true, "note": ""}, "network": …, "picture_quality": …,
    #  "picture_position": …}
    checklist = models.JSONField(_("checklist"), default=dict)
    passed = models.BooleanField(_("passed"))
    note = models.TextField(_("note"), blank=True)
    performed_at = models.DateTimeField(_("performed"))
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("institution",))

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        ordering = ["-performed_at", "-id"]
        indexes = [models.Index(fields=["camera", "passed", "performed_at"],
                                name="inspection_camera")]

    def __str__(self) -> str:
        return f"{self.year} · {self.camera_id}"

    def failed_items(self) -> list[str]:
        return [k for k, _label in CHECKLIST_ITEMS
                if not (self.checklist.get(k) or {}).get("ok")]

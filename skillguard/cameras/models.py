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
    RETIRED = "retired", _("Retired")


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

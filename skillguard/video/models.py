"""Video supervision (监管视频网): streams, recordings, health, coverage, clips.

``StreamSession``    one accepted push of a camera to the media server (publish → done). At
                     most one open per camera: a second push on the same key is refused.
``MediaEvent``       every decision and incident of the media pipeline, kept with its reason:
                     publish accepted / refused (unknown key, revoked, not in service, already
                     live, outside any session …), publish done, recorder crashed, disk full,
                     segment lost or corrupt, archive moved …
``RecordingSegment`` one recorded file (stream copy, MPEG-TS) of a camera: [started_at,
                     ended_at), size, storage backend and path. Monthly partitioned fact
                     (district_id in the key, no foreign keys into it).
``CameraHealth``     the camera's current state as seen by the pipeline: online, last seen,
                     bitrate, last snapshot. One row per camera, upserted.
``SessionCoverage``  for each scheduled session in a room with a camera: scheduled minutes,
                     minutes streamed and recorded, the gaps. Feeds the rule
                     CAMERA_OFFLINE_DURING_SESSION.
``Clip``             a cut of a time range of a camera (ffmpeg, stream copy) requested by a
                     supervisor, downloadable, attachable to a case or spot check.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from skillguard.core.scoping import RestrictedManager, Scope


class StreamSession(models.Model):
    camera = models.ForeignKey("cameras.Camera", verbose_name=_("camera"),
                               on_delete=models.PROTECT, related_name="stream_sessions")
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    server = models.CharField(_("media server"), max_length=32, default="nginx-rtmp")
    client_addr = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    # the media server's id of the publishing connection (nginx-rtmp ``clientid``): tells
    # this push's "done" from that of a refused second push on the same key
    client_id = models.CharField(_("media server client id"), max_length=32, blank=True)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=32, blank=True)
    bytes_in = models.BigIntegerField(_("bytes received"), default=0)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("stream session")
        verbose_name_plural = _("stream sessions")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["camera", "started_at"], name="stream_camera_time")]
        constraints = [models.UniqueConstraint(fields=["camera"],
                                               condition=Q(ended_at__isnull=True),
                                               name="stream_one_live_per_camera")]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.started_at:%Y-%m-%d %H:%M}"


class MediaEventKind(models.TextChoices):
    PUBLISH_ACCEPTED = "publish_accepted", _("Stream accepted")
    PUBLISH_REFUSED = "publish_refused", _("Stream refused")
    PUBLISH_DONE = "publish_done", _("Stream ended")
    RECORDER_STARTED = "recorder_started", _("Recording started")
    RECORDER_CRASHED = "recorder_crashed", _("Recorder crashed")
    DISK_FULL = "disk_full", _("Recording storage full")
    SEGMENT_LOST = "segment_lost", _("Segment lost or corrupt")
    ARCHIVED = "archived", _("Segments archived")
    SNAPSHOT_FAILED = "snapshot_failed", _("Snapshot failed")
    MEDIA_SERVER_DOWN = "media_server_down", _("Media server not running")


class MediaEvent(models.Model):
    at = models.DateTimeField(_("time"), db_index=True)
    kind = models.CharField(_("event"), max_length=24, choices=MediaEventKind.choices)
    camera = models.ForeignKey("cameras.Camera", verbose_name=_("camera"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    district_id = models.BigIntegerField(_("district"), null=True, blank=True)
    institution_id = models.BigIntegerField(_("institution"), null=True, blank=True)
    stream_name = models.CharField(_("stream name"), max_length=128, blank=True)
    client_addr = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    reason = models.CharField(_("reason code"), max_length=48, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("media event")
        verbose_name_plural = _("media events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["kind", "at"], name="mediaevent_kind_time"),
                   models.Index(fields=["camera", "at"], name="mediaevent_camera_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M:%S}"


class SegmentStatus(models.TextChoices):
    COMPLETE = "complete", _("Complete")
    DAMAGED = "damaged", _("Damaged (kept, partly playable)")
    LOST = "lost", _("Lost")


class StorageTier(models.TextChoices):
    ONLINE = "online", pgettext_lazy("storage tier", "Online")
    ARCHIVE = "archive", pgettext_lazy("storage tier", "Archive")


class RecordingSegment(models.Model):
    pk = models.CompositePrimaryKey("district_id", "started_at", "id")
    id = models.BigIntegerField(editable=False)
    district_id = models.BigIntegerField(_("district"))
    started_at = models.DateTimeField(_("start time"))
    ended_at = models.DateTimeField(_("end time"))
    camera_id = models.BigIntegerField(_("camera"))
    institution_id = models.BigIntegerField(_("institution"))
    stream_session_id = models.BigIntegerField(_("stream session"), null=True)
    duration_ms = models.IntegerField(_("duration (ms)"))
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    tier = models.CharField(_("storage"), max_length=8, choices=StorageTier.choices,
                            default=StorageTier.ONLINE)
    path = models.CharField(_("path"), max_length=255)  # relative to the tier's root
    status = models.CharField(_("status"), max_length=8, choices=SegmentStatus.choices,
                              default=SegmentStatus.COMPLETE)
    indexed_at = models.DateTimeField(_("indexed"))
    archived_at = models.DateTimeField(_("archived"), null=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        managed = False  # partitioned; created by migration 0001 in raw SQL
        db_table = "video_recordingsegment"
        verbose_name = _("recording segment")
        verbose_name_plural = _("recording segments")

    def __str__(self) -> str:
        return f"{self.camera_id} {self.started_at:%Y-%m-%d %H:%M:%S}"


class CameraHealth(models.Model):
    camera = models.OneToOneField("cameras.Camera", verbose_name=_("camera"),
                                  primary_key=True, on_delete=models.CASCADE,
                                  related_name="health")
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    online = models.BooleanField(_("online"), default=False)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    last_publish_at = models.DateTimeField(_("last stream start"), null=True, blank=True)
    bitrate_kbps = models.IntegerField(_("bitrate (kbit/s)"), null=True, blank=True)
    snapshot = models.CharField(_("last snapshot"), max_length=255, blank=True)
    snapshot_at = models.DateTimeField(_("snapshot taken"), null=True, blank=True)
    recording = models.BooleanField(_("recording"), default=False)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("camera health")
        verbose_name_plural = _("camera health")
        indexes = [models.Index(fields=["district_id", "online"], name="health_district")]


class SessionCoverage(models.Model):
    session = models.OneToOneField("registry.Session", verbose_name=_("session"),
                                   on_delete=models.CASCADE, related_name="video_coverage")
    camera = models.ForeignKey("cameras.Camera", verbose_name=_("camera"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    scheduled_minutes = models.IntegerField(_("scheduled minutes"))
    streamed_minutes = models.IntegerField(_("minutes streamed"), default=0)
    recorded_minutes = models.IntegerField(_("minutes recorded"), default=0)
    missing_minutes = models.IntegerField(_("minutes missing"), default=0)
    # [[start_iso, end_iso], …] of the scheduled time with no stream
    gaps = models.JSONField(_("gaps"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("session video coverage")
        verbose_name_plural = _("session video coverage")
        indexes = [models.Index(fields=["district_id", "missing_minutes"],
                                name="coverage_district_missing")]


class ClipState(models.TextChoices):
    PENDING = "pending", _("Being cut")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class Clip(models.Model):
    camera = models.ForeignKey("cameras.Camera", verbose_name=_("camera"),
                               on_delete=models.PROTECT, related_name="clips")
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"),
                                     on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    state = models.CharField(_("state"), max_length=8, choices=ClipState.choices,
                             default=ClipState.PENDING)
    file = models.CharField(_("file"), max_length=255, blank=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), null=True, blank=True)
    duration_s = models.FloatField(_("duration (s)"), null=True, blank=True)  # by ffprobe
    error = models.CharField(_("error"), max_length=200, blank=True)
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    spot_check_item = models.ForeignKey("cases.SpotCheckItem", verbose_name=_("spot check"),
                                        null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",))

    class Meta:
        verbose_name = _("video clip")
        verbose_name_plural = _("video clips")
        ordering = ["-requested_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="clip_times_ordered")]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"

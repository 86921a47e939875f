"""Online learning evidence pushed by whitelisted providers.

``LearningSession`` is one sitting of a learner on a course (start, end, device); the
high-volume ``LearningEvent`` fact table (monthly partitions) holds heartbeats, activity,
behaviour signals and random face checks; ``Assessment`` holds test results.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope


class LearningSession(models.Model):
    district_id = models.BigIntegerField(_("district"))
    institution = models.ForeignKey("registry.Institution", verbose_name=_("provider"),
                                    on_delete=models.PROTECT, related_name="+")
    enrolment = models.ForeignKey("registry.Enrolment", verbose_name=_("enrolment"),
                                  on_delete=models.PROTECT, related_name="learning_sessions")
    trainee = models.ForeignKey("registry.Trainee", verbose_name=_("learner"),
                                on_delete=models.PROTECT, related_name="+")
    course_unit = models.CharField(_("course unit"), max_length=128, blank=True)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    device_id = models.CharField(_("device"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    source_client_id = models.BigIntegerField(_("source"), null=True)
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution",),
                  trainee=("trainee",))

    class Meta:
        verbose_name = _("online learning session")
        verbose_name_plural = _("online learning sessions")
        indexes = [models.Index(fields=["trainee", "started_at"], name="learning_trainee_time")]
        constraints = [models.CheckConstraint(
            condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gt=models.F(
                "started_at")), name="learning_session_times_ordered")]


class LearningEventKind(models.TextChoices):
    HEARTBEAT = "heartbeat", _("Heartbeat")
    PLAY = "play", _("Play")
    PAUSE = "pause", _("Pause")
    SEEK = "seek", _("Seek")
    SPEED = "speed", _("Playback speed change")
    FOCUS_LOST = "focus_lost", _("Window left")
    FACE_CHECK = "face_check", _("Random face check")
    QUIZ = "quiz", _("In-course question")


class LearningEvent(models.Model):
    pk = models.CompositePrimaryKey("district_id", "occurred_at", "id")
    id = models.BigIntegerField(editable=False)
    district_id = models.BigIntegerField(_("district"))
    occurred_at = models.DateTimeField(_("time"))
    learning_session_id = models.BigIntegerField(_("learning session"))
    institution_id = models.BigIntegerField(_("provider"))
    trainee_id = models.BigIntegerField(_("learner"))
    kind = models.CharField(_("kind"), max_length=16, choices=LearningEventKind.choices)
    position_s = models.IntegerField(_("position (s)"), null=True)
    value = models.CharField(_("value"), max_length=64, blank=True)
    source_client_id = models.BigIntegerField(_("source"), null=True)
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    submission_id = models.UUIDField(_("submission"), null=True)
    received_at = models.DateTimeField(_("received"))

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution_id",),
                  trainee=("trainee_id",))

    class Meta:
        managed = False  # partitioned; created in raw SQL by migration
        db_table = "learning_learningevent"
        verbose_name = _("learning event")
        verbose_name_plural = _("learning events")


class Assessment(models.Model):
    district_id = models.BigIntegerField(_("district"))
    institution = models.ForeignKey("registry.Institution", verbose_name=_("provider"),
                                    on_delete=models.PROTECT, related_name="+")
    enrolment = models.ForeignKey("registry.Enrolment", verbose_name=_("enrolment"),
                                  on_delete=models.PROTECT, related_name="assessments")
    trainee = models.ForeignKey("registry.Trainee", verbose_name=_("learner"),
                                on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("assessment"), max_length=128)
    taken_at = models.DateTimeField(_("taken"))
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2)
    max_score = models.DecimalField(_("maximum score"), max_digits=6, decimal_places=2)
    passed = models.BooleanField(_("passed"))
    source_client_id = models.BigIntegerField(_("source"), null=True)
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("district_id",), institution=("institution",),
                  trainee=("trainee",))

    class Meta:
        verbose_name = _("assessment result")
        verbose_name_plural = _("assessment results")
        constraints = [models.CheckConstraint(
            condition=models.Q(score__gte=0) & models.Q(score__lte=models.F("max_score")),
            name="assessment_score_range")]

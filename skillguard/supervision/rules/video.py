"""Video rules (监管视频网): placeholders until the video module provides its tables."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .base import Param, Period, RuleDefinition, RuleLevel, Severity, Trigger, register


@register
class CameraOfflineDuringSession(RuleDefinition):
    code = "CAMERA_OFFLINE_DURING_SESSION"
    name = _("Camera offline during a session")
    description = _("Placeholder: the classroom camera was offline (or covered) while a "
                    "session was scheduled. It finds nothing until the video module provides "
                    "camera health data.")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.VIDEO})
    awaits_source = "video"
    params = {"min_offline_minutes": Param(15, _("Offline for at least"), minimum=1,
                                           maximum=600, unit="min")}

    def detect(self, ctx):
        return []


@register
class HeadcountBelowAttendance(RuleDefinition):
    code = "HEADCOUNT_BELOW_ATTENDANCE"
    name = _("Headcount below reported attendance")
    description = _("Placeholder: the people counted on video are fewer than the trainees "
                    "checked in. It finds nothing until the video module provides headcounts.")
    severity = Severity.HIGH
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.VIDEO})
    awaits_source = "video"
    params = {"tolerance": Param(2, _("Missing people tolerated"), minimum=0, maximum=50,
                                 unit=_("people"))}

    def detect(self, ctx):
        return []

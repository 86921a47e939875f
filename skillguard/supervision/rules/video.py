"""Video rules (监管视频网): camera coverage of sessions; headcount is still a placeholder."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import lazy_format

from .base import (
    Finding,
    Param,
    Period,
    RuleDefinition,
    RuleLevel,
    Severity,
    Trigger,
    register,
)
from .common import HELD, Query, SQLRule


@register
class CameraOfflineDuringSession(SQLRule):
    code = "CAMERA_OFFLINE_DURING_SESSION"
    name = _("Camera offline during a session")
    description = _("The classroom camera was not streaming for part of a scheduled session "
                    "(off, unplugged, out of network): the minutes missing from the session's "
                    "video coverage reach the threshold. Coverage is computed when the stream "
                    "ends and after each session (video.coverage).")
    severity = Severity.MEDIUM
    level = RuleLevel.DISTRICT
    period = Period.REALTIME
    triggers = frozenset({Trigger.VIDEO})
    params = {"min_offline_minutes": Param(15, _("Offline for at least"), minimum=1,
                                           maximum=600, unit="min")}

    def find(self, ctx):
        q = Query(ctx, min_missing=ctx.params["min_offline_minutes"])
        scope = q.scope(sessions=("cov.session_id",), institutions=("cov.institution_id",))
        rows = q.rows(f"""
            SELECT cov.session_id, cov.camera_id, cov.district_id, cov.institution_id,
                   cov.scheduled_minutes, cov.streamed_minutes, cov.missing_minutes, cov.gaps,
                   s.starts_at, s.ends_at, s.room_id, s.sequence, c.id AS class_id, c.code,
                   cam.serial
            FROM video_sessioncoverage cov
            JOIN registry_session s ON s.id = cov.session_id
            JOIN registry_trainingclass c ON c.id = s.training_class_id
            LEFT JOIN cameras_camera cam ON cam.id = cov.camera_id
            WHERE c.status IN {HELD} AND cov.missing_minutes >= %(min_missing)s
              AND s.starts_at >= %(ws)s AND s.starts_at < %(we)s AND {scope}
            ORDER BY s.starts_at, cov.session_id""")
        for r in rows:
            evidence = (("session", r["session_id"]), ("class", r["class_id"]))
            if r["room_id"]:
                evidence += (("room", r["room_id"]),)
            if r["camera_id"]:
                evidence += (("camera", r["camera_id"]),)
            yield Finding(
                subject=f"session:{r['session_id']}", district_id=r["district_id"],
                institution_id=r["institution_id"], occurred_at=r["starts_at"],
                summary=lazy_format(_("The camera %(camera)s of class %(code)s, session "
                                      "#%(seq)s, was offline for %(missing)s of %(total)s "
                                      "minutes."), camera=r["serial"] or "?",
                                    code=r["code"], seq=r["sequence"],
                                    missing=r["missing_minutes"],
                                    total=r["scheduled_minutes"]),
                details={"session_id": r["session_id"], "camera_id": r["camera_id"],
                         "camera_serial": r["serial"] or "",
                         "scheduled_minutes": r["scheduled_minutes"],
                         "streamed_minutes": r["streamed_minutes"],
                         "missing_minutes": r["missing_minutes"], "gaps": r["gaps"] or []},
                evidence=evidence)


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

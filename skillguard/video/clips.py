"""Clips (视频片段): a supervisor cuts a time range of a camera's recording, downloads it and
attaches it to a case or a spot check as evidence.

``request_clip`` validates (scope, order, maximum length ``VIDEO_CLIP_MAX_MINUTES``, the
range lies within recorded segments — a refusal names what is recorded), writes
``Clip(pending)``, audits and defers ``video.cut_clip`` in one transaction. The job
concatenates the segments with ffmpeg's concat demuxer (stream copy, output-side
``-ss``/``-to`` relative to the first segment's start: the first segment begins at most one
segment length before the clip, so little is read for nothing; with stream copy the clip
starts at a key frame when the camera's GOP is aligned — cameras send 1–2 s GOPs) into ``<video root>/clips/<id>.mp4``
(``+faststart``), measures the duration with ffprobe and sets the clip ready or failed
with the error. It is idempotent: a clip no longer pending is left alone.

Attaching sets ``Clip.case`` / ``Clip.spot_check_item``: the case page shows the clips
attached to it (the ``video_clips`` template tag it loads).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from procrastinate.contrib.django import app

from skillguard.audit import services as audit
from skillguard.audit.models import AuditAction
from skillguard.core.errors import BusinessRuleError, Problem, Problems, lazy_format
from skillguard.core.scoping import can
from skillguard.video import playback
from skillguard.video.models import Clip, ClipState

log = logging.getLogger(__name__)

# A segment boundary may be this much off the requested start / end and still count.
EDGE_TOLERANCE = dt.timedelta(milliseconds=500)


def _forbidden(record: str = ""):
    raise BusinessRuleError([Problem("", "forbidden", _("You may not do this for this record."),
                                     record=record)])


def clip_root() -> Path:
    return Path(settings.VIDEO_ROOT) / "clips"


def clip_path(clip: Clip) -> Path | None:
    if not clip.file:
        return None
    return Path(settings.VIDEO_ROOT) / clip.file


def _check_evidence_targets(user, camera, case, spot_check_item, problems: Problems):
    from skillguard.cases.models import Case
    from skillguard.video.queries import visible_spot_check_items

    if case is not None and not Case.objects.restrict(user, "view").filter(pk=case.pk).exists():
        problems.add("case", "not_found", _("No such case, or you may not see it."))
    if spot_check_item is not None and not visible_spot_check_items(user).filter(
            pk=spot_check_item.pk).exists():
        problems.add("spot_check_item", "not_found",
                     _("No such spot check, or you may not see it."))


def request_clip(user, camera, starts_at, ends_at, case=None, spot_check_item=None) -> Clip:
    """Ask for a clip of ``camera`` over [starts_at, ends_at); returns the pending Clip."""
    from skillguard.video.queries import replayable_cameras, segments_between

    record = str(camera)
    if not can(user, "add", Clip) or not replayable_cameras(user).filter(pk=camera.pk).exists():
        _forbidden(record)
    starts_at, ends_at = playback.parse_local(starts_at), playback.parse_local(ends_at)
    playback.check_range(Clip, starts_at, ends_at,
                         max_hours=settings.VIDEO_CLIP_MAX_MINUTES / 60, record=record)
    problems = Problems(Clip, record)
    _check_evidence_targets(user, camera, case, spot_check_item, problems)
    problems.raise_if_any()
    segments = segments_between(camera.pk, camera.district_id, starts_at, ends_at)
    spans = playback.recorded_spans(segments)
    covering = [s for s in spans if s[0] - EDGE_TOLERANCE <= starts_at
                and s[1] + EDGE_TOLERANCE >= ends_at]
    if not covering:
        nearby = playback.nearby_recordings(camera, starts_at, ends_at)
        problems.add("ends_at" if spans else "starts_at", "beyond_recording", lazy_format(
            _("%(start)s – %(end)s is beyond the recorded range of this camera. Recorded "
              "nearby: %(recorded)s."), start=playback.local_text(starts_at),
            end=playback.local_text(ends_at), recorded=playback.describe_spans(nearby)))
        problems.raise_if_any()
    with transaction.atomic():
        clip = Clip.objects.create(
            camera=camera, district_id=camera.district_id, institution_id=camera.institution_id,
            starts_at=starts_at, ends_at=ends_at, requested_by=user, case=case,
            spot_check_item=spot_check_item)
        audit.record_created(user, clip)
        cut_clip.defer(clip_id=clip.pk)
    return clip


def attach_clip(user, clip: Clip, *, case=None, spot_check_item=None) -> Clip:
    """Attach a clip as evidence to a case and/or a spot-check item (audited)."""
    if not can(user, "add", Clip):
        _forbidden(str(clip))
    problems = Problems(Clip, str(clip))
    if case is None and spot_check_item is None:
        problems.add("case", "required", _("Name the case or the spot check to attach to."))
    _check_evidence_targets(user, clip.camera, case, spot_check_item, problems)
    problems.raise_if_any()
    with transaction.atomic():
        before = audit.snapshot(clip)
        if case is not None:
            clip.case = case
        if spot_check_item is not None:
            clip.spot_check_item = spot_check_item
        clip.save(update_fields=["case", "spot_check_item"])
        audit.record_updated(user, clip, before, comment="attached as evidence")
    return clip


def record_download(user, clip: Clip) -> None:
    audit._event(user, AuditAction.EXPORT, clip, comment=(
        f"clip download {playback.local_text(clip.starts_at)} – "
        f"{playback.local_text(clip.ends_at)}")).save()


def clips_of_case(user, case):
    return (Clip.objects.restrict(user, "view").filter(case=case)
            .select_related("camera", "camera__room", "camera__institution"))


# --------------------------------------------------------------------------- the job


def probe_duration(path: Path) -> float:
    out = subprocess.run(
        [settings.FFPROBE_BINARY, "-v", "error", "-show_entries", "format=duration",
         "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
        capture_output=True, text=True, timeout=60, check=True)
    return float(out.stdout.strip())


def _fail(clip_id: int, message: str) -> str:
    Clip.objects.filter(pk=clip_id, state=ClipState.PENDING).update(
        state=ClipState.FAILED, error=message[:200])
    log.warning("clip %s failed: %s", clip_id, message)
    return ClipState.FAILED


def cut(clip: Clip) -> str:
    """Cut the clip now (the job's body); returns the final state."""
    from skillguard.video.queries import segments_between

    segments = segments_between(clip.camera_id, clip.district_id, clip.starts_at, clip.ends_at)
    if not segments:
        return _fail(clip.pk, "no recorded segment in the range any more")
    root = clip_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{clip.pk}.mp4"
    with tempfile.TemporaryDirectory(prefix="sg-clip-") as tmp:
        tmp = Path(tmp)
        listing = []
        for seg in segments:
            source = playback.segment_source(seg)
            if source is None:
                return _fail(clip.pk, f"segment file missing: {seg.tier}/{seg.path}")
            listing.append("file '" + source.replace("'", "'\\''") + "'")
        (tmp / "list.txt").write_text("\n".join(listing) + "\n")
        origin = segments[0].started_at
        start = max((clip.starts_at - origin).total_seconds(), 0.0)
        end = (clip.ends_at - origin).total_seconds()
        part = tmp / "clip.mp4"
        command = [settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-loglevel", "error",
                   "-y", "-f", "concat", "-safe", "0", "-i", str(tmp / "list.txt"),
                   "-ss", f"{start:.3f}", "-to", f"{end:.3f}", "-map", "0", "-c", "copy",
                   "-movflags", "+faststart", "-avoid_negative_ts", "make_zero", str(part)]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return _fail(clip.pk, f"ffmpeg: {exc}")
        if run.returncode != 0 or not part.exists():
            return _fail(clip.pk, "ffmpeg: " + (run.stderr.strip().splitlines() or ["failed"])[-1])
        try:
            duration = probe_duration(part)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            return _fail(clip.pk, f"ffprobe: {exc}")
        os.replace(part, final)
    updated = Clip.objects.filter(pk=clip.pk, state=ClipState.PENDING).update(
        state=ClipState.READY, file=str(final.relative_to(Path(settings.VIDEO_ROOT))),
        size_bytes=final.stat().st_size, duration_s=round(duration, 3), error="")
    return ClipState.READY if updated else Clip.objects.get(pk=clip.pk).state


@app.task(name="video.cut_clip", queue="video")
def cut_clip(clip_id: int) -> str:
    """Cut a requested clip (idempotent: a clip no longer pending is left as it is)."""
    clip = Clip.objects.filter(pk=clip_id).first()
    if clip is None or clip.state != ClipState.PENDING:
        return clip.state if clip else "missing"
    try:
        return cut(clip)
    except Exception as exc:  # never leave a clip pending for ever
        log.exception("clip %s", clip_id)
        return _fail(clip_id, f"{type(exc).__name__}: {exc}")

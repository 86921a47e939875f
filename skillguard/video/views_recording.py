"""Recording pages: what a camera recorded on a day (merged intervals, gaps) and the video
coverage of that day's sessions in its room. Thin: reads through ``coverage`` and scoping.

Like the API (``api_recording``), every role that may see the camera sees when it was
recorded; the links to replay appear only for roles that may replay recordings.
"""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from skillguard.cameras.models import Camera
from skillguard.core.scoping import access, can
from skillguard.video.coverage import recorded_intervals
from skillguard.video.models import RecordingSegment, SessionCoverage


def _day(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


@login_required
@require_safe
def camera_recordings(request, pk):
    user = request.user
    camera = access(Camera, user, pk, queryset=Camera.objects.select_related(
        "institution", "venue", "room"))
    day = _day(request.GET.get("day"))
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    data = recorded_intervals(camera.pk, start, start + dt.timedelta(days=1))
    may_replay = can(user, "view", RecordingSegment)
    for interval in data["intervals"]:
        interval["replay_url"] = (reverse("video:playback", args=[camera.pk]) + "?" + urlencode(
            {"from": timezone.localtime(interval["start"]).strftime("%Y-%m-%dT%H:%M:%S"),
             "to": timezone.localtime(interval["end"]).strftime("%Y-%m-%dT%H:%M:%S")})
            if may_replay else "")
    coverage = (SessionCoverage.objects.restrict(user, "view")
                .filter(camera=camera, session__starts_at__gte=start,
                        session__starts_at__lt=start + dt.timedelta(days=1))
                .select_related("session", "session__training_class")
                .order_by("session__starts_at"))
    coverage = list(coverage)
    for row in coverage:
        row.gap_spans = [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b))
                         for a, b in row.gaps or []]
    for gap in data["gaps"]:
        gap["minutes"] = round(gap["seconds"] / 60)
    return render(request, "video/recordings.html", {
        "camera": camera, "day": day, "data": data, "coverage": coverage,
        "recorded_minutes": round(data["recorded_seconds"] / 60),
        "previous_day": day - dt.timedelta(days=1), "next_day": day + dt.timedelta(days=1)})

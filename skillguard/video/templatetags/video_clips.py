"""``{% case_video_clips case %}``: the video clips attached to a case (on the case page).

The cases app only loads this tag; everything about clips stays in video."""
from __future__ import annotations

from django import template
from django.template.loader import render_to_string

register = template.Library()


@register.simple_tag(takes_context=True)
def case_video_clips(context, case) -> str:
    from skillguard.core.scoping import can
    from skillguard.video.clips import clips_of_case
    from skillguard.video.models import Clip

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not can(user, "view", Clip):
        return ""
    clips = list(clips_of_case(user, case))
    if not clips:
        return ""
    return render_to_string("video/_case_clips_panel.html", {"clips": clips}, request=request)


@register.simple_tag(takes_context=True)
def spot_check_item_video(context, item) -> str:
    """``{% spot_check_item_video item %}``: on a spot-check item, a link replaying the
    sampled session's recording (the camera of its room) and the clips attached to it."""
    from django.urls import reverse
    from django.utils.html import format_html, format_html_join
    from django.utils.http import urlencode
    from django.utils.translation import gettext

    from skillguard.video import playback
    from skillguard.video.models import Clip
    from skillguard.video.queries import replayable_cameras

    request = context.get("request")
    user = getattr(request, "user", None)
    session = getattr(item, "session", None)
    if user is None or session is None:
        return ""
    # one query per room and one per spot check, whatever the number of items shown
    cache = context.render_context.setdefault("video_clips_cache", {"rooms": {}, "clips": {}})
    if session.room_id not in cache["rooms"]:
        cache["rooms"][session.room_id] = (
            replayable_cameras(user).filter(room_id=session.room_id).order_by("-pk").first()
            if session.room_id else None)
    camera = cache["rooms"][session.room_id]
    if item.spot_check_id not in cache["clips"]:
        found: dict[int, list] = {}
        for clip in (Clip.objects.restrict(user, "view")
                     .filter(spot_check_item__spot_check_id=item.spot_check_id).order_by("pk")):
            found.setdefault(clip.spot_check_item_id, []).append(clip)
        cache["clips"][item.spot_check_id] = found
    clips = cache["clips"][item.spot_check_id].get(item.pk, [])
    parts = []
    if camera is not None:
        query = urlencode({"from": playback.input_value(session.starts_at),
                           "to": playback.input_value(session.ends_at), "item": item.pk})
        parts.append(format_html('<a class="small video-replay" href="{}?{}">{}</a>',
                                 reverse("video:playback", args=[camera.pk]), query,
                                 gettext("Replay the session's recording")))
    if clips:
        parts.append(format_html_join(" ", '<a class="small video-clip" href="{}">{} #{}</a>', (
            (reverse("video:clip_detail", args=[c.pk]), gettext("Video clip"), c.pk)
            for c in clips)))
    if not parts:
        return ""
    return format_html("<div>{}</div>", format_html_join(" · ", "{}", ((p,) for p in parts)))

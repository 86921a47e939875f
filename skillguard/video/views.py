"""Video pages (viewer): live view per camera, class, institution and district, the video
wall, playback from the segment index, clips.

Chromium check (2026-11-22, Debian chromium + the vendored hls.js 1.6): H.264 (baseline and
main) + AAC in MPEG-TS plays through hls.js/MSE (``MediaSource.isTypeSupported`` true for
avc1.42E01E / avc1.4D401E / mp4a.40.2; ``video.currentTime`` advances). Chromium also
answers ``canPlayType("application/vnd.apple.mpegurl")`` with "maybe": the player therefore
prefers hls.js whenever ``Hls.isSupported()`` and uses native HLS only as the fallback.

Every live page opened writes one audit event per camera shown (not per HLS fragment);
every playback opened writes one event (camera, range); every clip download one export.
Live HLS is served from ``<video root>/hls/<stream name>/`` (where nginx-rtmp writes it)
by scoped views: a camera missing or outside the user's scope answers the same 404.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from skillguard.cameras.models import CameraState
from skillguard.core.errors import BusinessRuleError
from skillguard.core.pages import list_page, require
from skillguard.core.scoping import can
from skillguard.registry import queries as registry_queries
from skillguard.registry.models import District
from skillguard.video import clips as clip_service
from skillguard.video import playback, queries
from skillguard.video.forms_view import AttachForm, ClipForm, RangeForm, WallForm
from skillguard.video.models import (
    Clip,
    ClipState,
    RecordingSegment,
    SegmentStatus,
    StreamSession,
)
from skillguard.video.tables_view import ClipTable

NOT_FOUND = _("No such record, or you may not see it.")
LIVE_FILE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.ts$")
LIVE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GRID_PAGE = 9  # cameras per page of the institution / district grids
LIVE_FRESH_S = 30  # a live playlist written within this many seconds: the camera is live
HLS_TYPE = "application/vnd.apple.mpegurl"


# --------------------------------------------------------------------------- helpers


def _health(camera):
    return getattr(camera, "health", None)


def _live_dir(camera) -> Path:
    root = Path(settings.VIDEO_ROOT) / "hls"
    if not LIVE_NAME_RE.match(camera.stream_name or ""):  # never a path out of hls/
        return root / "-"
    return root / camera.stream_name


def _is_live(camera) -> bool:
    playlist = _live_dir(camera) / "index.m3u8"
    try:
        return time.time() - playlist.stat().st_mtime < LIVE_FRESH_S
    except OSError:
        return False


def _tile(camera, session=None) -> dict:
    health = _health(camera)
    live = _is_live(camera)
    in_service = camera.state == CameraState.IN_SERVICE
    return {
        "camera": camera, "session": session,
        "training_class": session.training_class if session else None,
        "institution": camera.institution, "room": camera.room,
        "online": live or bool(health and health.online), "health": health,
        "in_service": in_service,
        "src": reverse("video:live_playlist", args=[camera.pk]) if in_service else "",
    }


def _running_session(camera, at=None):
    from skillguard.registry.models import Session

    if not camera.room_id:
        return None
    at = at or timezone.now()
    return (Session.objects.filter(room_id=camera.room_id, starts_at__lte=at, ends_at__gt=at)
            .select_related("training_class", "training_class__institution").first())


def _live_page(request, *, title, subtitle, tiles, page=None, columns=None, context=None,
               back=None):
    playback.audit_live_view(request.user, [t["camera"] for t in tiles], request.path)
    return render(request, "video/live.html", {
        "title": title, "subtitle": subtitle, "tiles": tiles, "page": page, "back": back,
        "columns": columns or (1 if len(tiles) <= 1 else 3), **(context or {})})


def _require_live(user):
    require(user, "view", StreamSession)


def _require_replay(user):
    require(user, "view", RecordingSegment)


# --------------------------------------------------------------------------- live pages


@login_required
@require_safe
def camera_live(request, pk):
    _require_live(request.user)
    camera = queries.access_live_camera(request.user, pk)
    session = _running_session(camera)
    return _live_page(request, title=_("Live: %(camera)s") % {"camera": camera.serial},
                      subtitle=" · ".join(str(x) for x in (camera.institution, camera.venue,
                                                           camera.room) if x),
                      tiles=[_tile(camera, session)],
                      context={"replay_camera": camera if can(request.user, "view",
                                                              RecordingSegment) else None})


@login_required
@require_safe
def class_live(request, pk):
    user = request.user
    _require_live(user)
    cls = registry_queries.access_class(user, pk)
    session = queries.session_for_class_live(cls)
    camera = None
    if session is not None and session.room_id:
        camera = (queries.viewable_cameras(user)
                  .filter(room_id=session.room_id, state=CameraState.IN_SERVICE)
                  .select_related("institution", "venue", "room", "health").first())
    tiles = [_tile(camera, session if session and session.starts_at <= timezone.now()
                   < session.ends_at else None)] if camera else []
    return _live_page(request, title=_("Live: %(cls)s") % {"cls": cls.name},
                      subtitle=f"{cls.code} · {cls.institution}", tiles=tiles,
                      back=reverse("registry:class_detail", args=[cls.pk]),
                      context={"class_session": session, "training_class": cls})


def _grid(request, cameras, *, title, subtitle, back=None):
    cameras = (cameras.exclude(state=CameraState.RETIRED)
               .select_related("institution", "venue", "room", "health")
               .order_by("institution__name", "serial"))
    page = Paginator(cameras, GRID_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    tiles = [_tile(c, _running_session(c, now)) for c in page.object_list]
    return _live_page(request, title=title, subtitle=subtitle, tiles=tiles, page=page,
                      columns=3, back=back)


@login_required
@require_safe
def institution_live(request, pk):
    user = request.user
    _require_live(user)
    inst = registry_queries.access_institution(user, pk)
    return _grid(request, queries.viewable_cameras(user).filter(institution=inst),
                 title=_("Live: %(institution)s") % {"institution": inst.name},
                 subtitle=str(inst.district))


@login_required
@require_safe
def district_live(request, pk):
    user = request.user
    _require_live(user)
    district = District.objects.filter(pk=pk).first()
    if district is None:
        raise Http404(NOT_FOUND)
    return _grid(request, queries.viewable_cameras(user).filter(district=district),
                 title=_("Live: %(district)s") % {"district": district.name}, subtitle="")


@login_required
@require_safe
def wall(request):
    user = request.user
    _require_live(user)
    form = WallForm(request.GET or None, user=user)
    filters = form.filters() if request.GET else {"layout": 3}
    layout = filters.pop("layout")
    running = queries.running_sessions(user, **{k: v for k, v in filters.items() if v})
    page = Paginator(running, layout * layout).get_page(request.GET.get("page"))
    tiles = [_tile(camera, session) for session, camera in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    playback.audit_live_view(user, [t["camera"] for t in tiles], request.path)
    return render(request, "video/wall.html", {
        "form": form, "tiles": tiles, "page": page, "layout": layout,
        "running_count": len(running), "query": query.urlencode(),
        "layouts": [(n, f"{n} × {n}") for n in (2, 3, 4)], "now": timezone.now()})


def _hls_response(path: Path):
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        raise Http404(NOT_FOUND)
    response = HttpResponse(text, content_type=HLS_TYPE)
    response["Cache-Control"] = "no-cache, no-store"
    return response


@login_required
@require_safe
def live_playlist(request, pk):
    _require_live(request.user)
    camera = queries.access_live_camera(request.user, pk)
    return _hls_response(_live_dir(camera) / "index.m3u8")


@login_required
@require_safe
def live_file(request, pk, name):
    _require_live(request.user)
    camera = queries.access_live_camera(request.user, pk)
    if not LIVE_FILE_RE.match(name):
        raise Http404(NOT_FOUND)
    path = _live_dir(camera) / name
    try:
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    except OSError:
        raise Http404(NOT_FOUND)
    response = FileResponse(handle, content_type="video/mp2t")
    response["Cache-Control"] = "private, max-age=60"
    return response


# --------------------------------------------------------------------------- playback


def _range_from(params):
    return (playback.parse_local(params.get("from") or params.get("starts_at")),
            playback.parse_local(params.get("to") or params.get("ends_at")))


def _playback_context(request, camera, form, clip_form=None):
    user = request.user
    ctx = {"camera": camera, "form": form, "src": "", "spans": [], "nearby": None,
           "clip_form": clip_form, "may_clip": can(user, "add", Clip)}
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["starts_at"], form.cleaned_data["ends_at"]
        try:
            playback.check_range(RecordingSegment, start, end, record=str(camera))
        except BusinessRuleError as err:
            form.add_problems(err)
        else:
            segments = queries.segments_between(camera.pk, camera.district_id, start, end)
            if not segments:
                ctx["nearby"] = playback.describe_spans(
                    playback.nearby_recordings(camera, start, end))
                form.add_error(None, gettext(
                    "Nothing was recorded by this camera between %(start)s and %(end)s.")
                    % {"start": playback.local_text(start), "end": playback.local_text(end)})
            else:
                playback.audit_playback(user, camera, start, end)
                ctx["spans"] = [(max(a, start), min(b, end))
                                for a, b in playback.recorded_spans(segments)]
                ctx["src"] = (reverse("video:playback_playlist", args=[camera.pk]) + "?"
                              + urlencode({"from": start.isoformat(), "to": end.isoformat()}))
                if ctx["may_clip"] and clip_form is None:
                    item = _spot_check_item(user, request.GET.get("item", "")
                                            if request.GET.get("item", "").isdigit() else None)
                    ctx["spot_check_item"] = item
                    ctx["clip_form"] = ClipForm(initial={
                        "starts_at": start, "ends_at": end,
                        "spot_check_item": item.pk if item else None})
    if ctx["may_clip"] and ctx["clip_form"] is None:
        ctx["clip_form"] = ClipForm()
    return ctx


@login_required
@require_safe
def playback_page(request, pk):
    user = request.user
    _require_replay(user)
    camera = queries.access_replay_camera(user, pk)
    params = request.GET
    bound = bool(params.get("from") or params.get("to") or params.get("starts_at")
                 or params.get("ends_at"))
    if bound:
        data = {"starts_at": params.get("from") or params.get("starts_at") or "",
                "ends_at": params.get("to") or params.get("ends_at") or ""}
        form = RangeForm(data)
    else:
        now = timezone.now().replace(microsecond=0)
        form = RangeForm(initial={"starts_at": now - dt.timedelta(hours=1), "ends_at": now})
    ctx = _playback_context(request, camera, form)
    return render(request, "video/playback.html", ctx,
                  status=400 if form.is_bound and form.errors else 200)


def _errors_json(err: BusinessRuleError, status=400):
    return JsonResponse({"errors": err.as_list()}, status=status)


@login_required
@require_safe
def playback_playlist(request, pk):
    user = request.user
    _require_replay(user)
    camera = queries.access_replay_camera(user, pk)
    start, end = _range_from(request.GET)
    try:
        playback.check_range(RecordingSegment, start, end, from_field="from", to_field="to",
                             record=str(camera))
    except BusinessRuleError as err:
        return _errors_json(err)
    segments = queries.segments_between(camera.pk, camera.district_id, start, end)
    if not segments:
        from skillguard.core.errors import Problem, lazy_format

        return _errors_json(BusinessRuleError([Problem(
            "from", "not_recorded", lazy_format(
                _("Nothing was recorded by this camera between %(start)s and %(end)s."),
                start=playback.local_text(start), end=playback.local_text(end)),
            record=str(camera))]), status=404)
    response = HttpResponse(playback.build_playlist(camera, segments), content_type=HLS_TYPE)
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_safe
def segment_file(request, pk, segment_id):
    user = request.user
    _require_replay(user)
    camera = queries.access_replay_camera(user, pk)
    rows = RecordingSegment.objects.filter(district_id=camera.district_id, camera_id=camera.pk,
                                           id=segment_id).exclude(status=SegmentStatus.LOST)
    at = request.GET.get("at", "")
    if at.isdigit():
        moment = dt.datetime.fromtimestamp(int(at) / 1000, tz=dt.UTC)
        rows = rows.filter(started_at__gte=moment - dt.timedelta(seconds=1),
                           started_at__lte=moment + dt.timedelta(seconds=1))
    segment = rows.first()
    handle = playback.open_segment(segment) if segment is not None else None
    if handle is None:
        raise Http404(NOT_FOUND)
    response = FileResponse(handle, content_type="video/mp2t")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --------------------------------------------------------------------------- clips


def _case_by_number(user, number):
    from skillguard.cases.models import Case

    number = (number or "").strip()
    if not number:
        return None, False
    case = Case.objects.restrict(user, "view").filter(number__iexact=number).first()
    return case, case is None


def _spot_check_item(user, pk):
    if not pk:
        return None
    return (queries.visible_spot_check_items(user).select_related("spot_check")
            .filter(pk=pk).first())


@login_required
@require_POST
def clip_request(request, pk):
    user = request.user
    _require_replay(user)
    require(user, "add", Clip)
    camera = queries.access_replay_camera(user, pk)
    form = ClipForm(request.POST)
    if form.is_valid():
        case, unknown = _case_by_number(user, form.cleaned_data["case_number"])
        item = _spot_check_item(user, form.cleaned_data.get("spot_check_item"))
        if unknown:
            form.add_error("case_number", _("No such case, or you may not see it."))
        elif form.cleaned_data.get("spot_check_item") and item is None:
            form.add_error(None, _("No such spot check, or you may not see it."))
        else:
            try:
                clip = clip_service.request_clip(user, camera, form.cleaned_data["starts_at"],
                                                 form.cleaned_data["ends_at"], case=case,
                                                 spot_check_item=item)
            except BusinessRuleError as err:
                if err.problems and all(p.code == "forbidden" for p in err.problems):
                    raise Http404(NOT_FOUND)
                form.add_problems(err)
            else:
                messages.success(request, gettext(
                    "The clip is being cut; it can be downloaded here when ready."))
                return redirect("video:clip_detail", clip.pk)
    cleaned = getattr(form, "cleaned_data", {})
    range_form = RangeForm(initial={"starts_at": cleaned.get("starts_at"),
                                    "ends_at": cleaned.get("ends_at")})
    ctx = _playback_context(request, camera, range_form, clip_form=form)
    return render(request, "video/playback.html", ctx, status=400)


@login_required
@require_safe
def clip_list(request):
    user = request.user
    require(user, "view", Clip)
    table = ClipTable(queries.clips(user), request)
    return list_page(request, title=_("Video clips"), table=table, intro=_(
        "Clips cut from camera recordings: download them or attach them to a case as "
        "evidence. Every download is recorded in the audit trail."))


def _clip_page(request, clip, attach_form=None, status=200):
    user = request.user
    ready_file = clip_service.clip_path(clip)
    return render(request, "video/clip_detail.html", {
        "clip": clip, "ready": clip.state == ClipState.READY and ready_file is not None
        and ready_file.exists(),
        "may_download": can(user, "export", Clip),
        "may_attach": can(user, "add", Clip),
        "attach_form": attach_form or AttachForm(),
        "may_replay": can(user, "view", RecordingSegment),
        "replay_query": urlencode({"from": playback.input_value(clip.starts_at),
                                   "to": playback.input_value(clip.ends_at)}),
    }, status=status)


@login_required
@require_safe
def clip_detail(request, pk):
    return _clip_page(request, queries.access_clip(request.user, pk))


@login_required
@require_POST
def clip_attach(request, pk):
    user = request.user
    clip = queries.access_clip(user, pk)
    require(user, "add", Clip)
    form = AttachForm(request.POST)
    if form.is_valid():
        case, unknown = _case_by_number(user, form.cleaned_data["case_number"])
        if unknown:
            form.add_error("case_number", _("No such case, or you may not see it."))
        else:
            try:
                clip_service.attach_clip(user, clip, case=case)
            except BusinessRuleError as err:
                form.add_problems(err)
            else:
                messages.success(request, gettext("Attached to case %(case)s.")
                                 % {"case": case.number})
                return redirect("video:clip_detail", clip.pk)
    return _clip_page(request, clip, attach_form=form, status=400)


@login_required
@require_safe
def clip_download(request, pk):
    user = request.user
    clip = queries.access_clip(user, pk)
    require(user, "export", Clip)
    path = clip_service.clip_path(clip)
    if clip.state != ClipState.READY or path is None:
        raise Http404(_("The clip is not ready."))
    try:
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    except OSError:
        raise Http404(_("The clip's file is missing."))
    clip_service.record_download(user, clip)
    name = (f"clip-{clip.camera.serial}-{timezone.localtime(clip.starts_at):%Y%m%d-%H%M%S}-"
            f"{timezone.localtime(clip.ends_at):%H%M%S}.mp4")
    return FileResponse(handle, as_attachment=True, filename=name, content_type="video/mp4")

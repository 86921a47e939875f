"""Viewer: playback built from the segment index, live HLS through SkillGuard, the wall,
clips cut with ffmpeg and measured with ffprobe, refusals, scope and audit."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from skillguard.core.skips import require_binary
from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.cameras.testing import make_camera
from skillguard.core.errors import BusinessRuleError
from skillguard.video import clips as clip_service
from skillguard.video import playback
from skillguard.video.indexing import SegmentFile, index_segments
from skillguard.video.models import Clip, ClipState

SEGMENT_S = 2


# --------------------------------------------------------------------------- media


def _encode_segments(out: Path, seconds: int, prefix: str) -> list[Path]:
    """Real MPEG-TS segments (H.264 with 1 s GOPs, AAC), ``SEGMENT_S`` seconds each."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline",
         "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
         "-c:a", "aac", "-f", "segment", "-segment_time", str(SEGMENT_S),
         "-segment_format", "mpegts", str(out / f"{prefix}%03d.ts")],
        check=True, timeout=120)
    return sorted(out.glob(f"{prefix}*.ts"))


@pytest.fixture(scope="module")
def media_files(tmp_path_factory):
    require_binary("ffmpeg", "segments are real MPEG-TS files")
    require_binary("ffprobe", "clip durations are measured")
    root = tmp_path_factory.mktemp("viewer-media")
    return {"first": _encode_segments(root, 6, "a"), "second": _encode_segments(root, 4, "b")}


def _base_time():
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(yesterday, dt.time(9, 0)))


def _place(camera, files, start, video_root: Path) -> list[SegmentFile]:
    """Copy files into the online tier the recorder's way and describe them for indexing."""
    items = []
    for n, source in enumerate(files):
        begins = start + dt.timedelta(seconds=SEGMENT_S * n)
        rel = (f"{camera.pk}/{timezone.localtime(begins):%Y%m%d}/"
               f"{timezone.localtime(begins):%H%M%S}000-{n}.ts")
        target = video_root / "online" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        items.append(SegmentFile(rel, begins, begins + dt.timedelta(seconds=SEGMENT_S),
                                 listed=True))
    return items


@pytest.fixture
def recorded(world, settings, tmp_path, media_files):
    """Camera A (world.a.room): 09:00:00–09:00:06 (stream session 1, three segments), a gap,
    09:00:10–09:00:14 (stream session 2, two segments), yesterday. Camera B in world.b."""
    settings.VIDEO_ROOT = tmp_path / "video"
    camera, _key = make_camera(world.a.room)
    other, _key = make_camera(world.b.room)
    base = _base_time()
    index_segments(camera, 1, _place(camera, media_files["first"], base, tmp_path / "video"))
    index_segments(camera, 2, _place(camera, media_files["second"],
                                     base + dt.timedelta(seconds=10), tmp_path / "video"))
    index_segments(other, 3, _place(other, media_files["first"], base, tmp_path / "video"))
    return {"camera": camera, "other": other, "base": base, "root": tmp_path / "video"}


def _q(start, end):
    return {"from": playback.input_value(start), "to": playback.input_value(end)}


def _views(camera, field):
    return AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL,
                                     object_type="cameras.camera", object_id=str(camera.pk),
                                     fields__contains=[field])


def _probe(path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


# --------------------------------------------------------------------------- playback


def test_playlist_is_built_from_the_index_with_a_discontinuity_across_the_gap(
        recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    client = login(world.a.users["district_supervisor"])
    url = reverse("video:playback_playlist", args=[camera.pk])
    response = client.get(url, _q(base, base + dt.timedelta(minutes=1)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    lines = response.content.decode().splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-TARGETDURATION:2" in lines and "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert lines.count("#EXTINF:2.000,") == 5
    uris = [x for x in lines if x.startswith("/")]
    assert len(uris) == 5
    # exactly one discontinuity: between the third segment (…06) and the fourth (…10)
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    assert lines.index("#EXT-X-DISCONTINUITY") == lines.index(uris[2]) + 1
    # a narrower range takes only the overlapping segments
    narrow = client.get(url, _q(base + dt.timedelta(seconds=3), base + dt.timedelta(seconds=5)))
    assert narrow.content.decode().count("#EXTINF") == 2
    assert "#EXT-X-DISCONTINUITY" not in narrow.content.decode()
    # each segment is served, byte for byte, from the online tier
    segment = client.get(uris[0])
    assert segment.status_code == 200 and segment["Content-Type"] == "video/mp2t"
    served = b"".join(segment.streaming_content)
    first = sorted((recorded["root"] / "online" / str(camera.pk)).rglob("*.ts"))[0]
    assert served == first.read_bytes()


def test_a_new_stream_session_is_a_discontinuity_even_without_a_gap(world, settings, tmp_path,
                                                                     media_files):
    settings.VIDEO_ROOT = tmp_path / "video"
    camera, _ = make_camera(world.a.room)
    base = _base_time()
    files = _place(camera, media_files["first"], base, tmp_path / "video")
    index_segments(camera, 7, files[:2])
    index_segments(camera, 8, files[2:])
    from skillguard.video.queries import segments_between

    text = playback.build_playlist(camera, segments_between(
        camera.pk, camera.district_id, base, base + dt.timedelta(seconds=6)))
    assert text.count("#EXT-X-DISCONTINUITY") == 1


def test_playback_page_plays_the_range_and_is_audited_once(recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    client = login(world.a.users["district_supervisor"])
    before = _views(camera, "recording").count()
    page = client.get(reverse("video:playback", args=[camera.pk]),
                      _q(base, base + dt.timedelta(seconds=20)))
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-sg-player" in html and reverse("video:playback_playlist",
                                                args=[camera.pk]) in html
    assert 'id="recorded-spans"' in html
    event = _views(camera, "recording").get()
    assert before == 0 and event.actor == world.a.users["district_supervisor"]
    assert "09:00:00" in event.comment and event.district_id == camera.district_id
    # the playlist and the segments the player then fetches add no further events
    playlist = client.get(reverse("video:playback_playlist", args=[camera.pk]),
                          _q(base, base + dt.timedelta(seconds=20)))
    client.get([x for x in playlist.content.decode().splitlines() if x.startswith("/")][0])
    assert _views(camera, "recording").count() == 1


@pytest.mark.parametrize("case", ["reversed", "too_long", "empty", "missing"])
def test_bad_ranges_answer_a_clear_message_not_an_error_page(recorded, world, login, case):
    camera, base = recorded["camera"], recorded["base"]
    client = login(world.a.users["district_supervisor"])
    client.cookies["django_language"] = "en"
    start, end = {
        "reversed": (base + dt.timedelta(hours=1), base),
        "too_long": (base, base + dt.timedelta(hours=13)),
        "empty": (base + dt.timedelta(hours=3), base + dt.timedelta(hours=4)),
        "missing": (base, None),
    }[case]
    query = {"from": playback.input_value(start), "to": playback.input_value(end)}
    page = client.get(reverse("video:playback", args=[camera.pk]), query,
                      HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 400
    html = page.content.decode()
    expected = {"reversed": "before or when it starts", "too_long": "at most 12 hours",
                "empty": "Nothing was recorded by this camera between",
                "missing": "Give the end of the range"}[case]
    assert expected in html
    assert "data-sg-player" not in html and not _views(camera, "recording").exists()
    if case == "empty":
        assert "Recorded nearby:" in html and "09:00:00–09:00:06" in html
    playlist = client.get(reverse("video:playback_playlist", args=[camera.pk]), query)
    assert playlist.status_code in (400, 404)
    problem = playlist.json()["errors"][0]
    assert problem["message_zh"] and problem["message_en"]  # both languages (the .po later)


def _same(content: bytes, path: str) -> str:
    """A page with its own path and the per-response CSRF token blanked."""
    text = content.decode().replace(path, "{path}")
    return re.sub(r'(csrfmiddlewaretoken"\s+value=|"X-CSRFToken"\s*:\s*)"[^"]*"', r'\1""',
                  text)


def test_recordings_out_of_scope_answer_like_missing_ones(recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    outsider = login(world.b.users["district_supervisor"])
    query = _q(base, base + dt.timedelta(minutes=1))
    for name, args in (("video:playback", [camera.pk]),
                       ("video:playback_playlist", [camera.pk]),
                       ("video:segment_file", [camera.pk, 1]),
                       ("video:camera_live", [camera.pk]),
                       ("video:live_playlist", [camera.pk])):
        out_path, missing_path = (reverse(name, args=args),
                                  reverse(name, args=[987654, *args[1:]]))
        out, missing = outsider.get(out_path, query), outsider.get(missing_path, query)
        assert out.status_code == missing.status_code == 404, name
        assert _same(out.content, out_path) == _same(missing.content, missing_path), name
    # B's supervisor does see B's own camera's recording
    other = recorded["other"]
    assert outsider.get(reverse("video:playback_playlist", args=[other.pk]),
                        query).status_code == 200
    # an institution may not replay at all (recordings are the supervisors')
    inst = login(world.a.users["institution_admin"])
    assert inst.get(reverse("video:playback", args=[camera.pk])).status_code == 403
    assert not _views(camera, "recording").exists()


# --------------------------------------------------------------------------- live


def _fake_live(root: Path, camera):
    hls = root / "hls" / camera.stream_name
    hls.mkdir(parents=True, exist_ok=True)
    (hls / "index.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n0.ts\n")
    (hls / "0.ts").write_bytes(b"G" * 188 * 4)
    return hls


def test_live_hls_is_served_through_scope_checked_views(recorded, world, login):
    camera, root = recorded["camera"], recorded["root"]
    _fake_live(root, camera)
    (root / "hls" / "secret.ts").write_bytes(b"x")
    client = login(world.a.users["district_supervisor"])
    playlist = client.get(reverse("video:live_playlist", args=[camera.pk]))
    assert playlist.status_code == 200 and b"0.ts" in playlist.content
    assert "no-cache" in playlist["Cache-Control"]
    frag = client.get(reverse("video:live_file", args=[camera.pk, "0.ts"]))
    assert frag.status_code == 200 and b"".join(frag.streaming_content) == b"G" * 752
    base = reverse("video:live_playlist", args=[camera.pk]).rsplit("/", 1)[0]
    for bad in ("..%2Fsecret.ts", "index.m3u8.ts.txt", "a.mp4", "..%2F..%2Fsecret.ts"):
        assert client.get(f"{base}/{bad}").status_code == 404, bad
    # a camera that does not stream: 404 (the player shows "offline" and retries)
    other_cam, _ = make_camera(world.a.room.venue.rooms.create(name="102"))
    assert client.get(reverse("video:live_playlist", args=[other_cam.pk])).status_code == 404
    # fragments are not audited; the page is, once per camera shown
    assert not _views(camera, "live video").exists()
    page = client.get(reverse("video:camera_live", args=[camera.pk]))
    assert page.status_code == 200
    assert reverse("video:live_playlist", args=[camera.pk]) in page.content.decode()
    assert _views(camera, "live video").count() == 1


def _session_now(side, room=None, sequence=99):
    from skillguard.registry.models import Session

    now = timezone.now()
    return Session.objects.create(
        training_class=side.approved_class, district_id=side.district.pk, sequence=sequence,
        starts_at=now - dt.timedelta(minutes=20), ends_at=now + dt.timedelta(hours=2),
        teacher=side.teacher, room=room or side.room)


def test_class_live_page_shows_the_camera_of_the_session_room(recorded, world, login):
    camera = recorded["camera"]
    _session_now(world.a)
    client = login(world.a.users["district_supervisor"])
    page = client.get(reverse("video:class_live", args=[world.a.approved_class.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert reverse("video:live_playlist", args=[camera.pk]) in html
    assert world.a.approved_class.name in html
    assert _views(camera, "live video").count() == 1
    # a class whose room has no camera says so
    world.b.room.cameras.all().delete()
    city = login(world.users["city_supervisor"])
    page = city.get(reverse("video:class_live", args=[world.b.approved_class.pk]))
    assert page.status_code == 200 and 'id="no-camera"' in page.content.decode()
    # B's class is not A's supervisor's business
    assert login(world.a.users["district_supervisor"]).get(
        reverse("video:class_live", args=[world.b.approved_class.pk])).status_code == 404


def test_the_wall_shows_running_sessions_in_scope_with_filters_and_layouts(recorded, world,
                                                                           login):
    camera, other = recorded["camera"], recorded["other"]
    _session_now(world.a)
    _session_now(world.b)
    sup = login(world.a.users["district_supervisor"])
    html = sup.get(reverse("video:wall")).content.decode()
    assert f'data-camera="{camera.pk}"' in html and f'data-camera="{other.pk}"' not in html
    assert world.a.approved_class.name in html and world.a.institution.name in html
    assert world.b.approved_class.name not in html
    assert 'data-online="0"' in html  # nothing streams: offline shown
    _fake_live(recorded["root"], camera)
    assert 'data-online="1"' in sup.get(reverse("video:wall")).content.decode()

    city = login(world.users["city_supervisor"])
    html = city.get(reverse("video:wall")).content.decode()
    assert html.count('class="video-tile"') == 2
    html = city.get(reverse("video:wall"), {"district": world.b.district.pk}).content.decode()
    assert f'data-camera="{other.pk}"' in html and f'data-camera="{camera.pk}"' not in html
    html = city.get(reverse("video:wall"), {"institution": world.a.institution.pk}).content.decode()
    assert f'data-camera="{camera.pk}"' in html and f'data-camera="{other.pk}"' not in html
    # 2×2 holds four tiles a page; with two running, one page; layout echoed
    html = city.get(reverse("video:wall"), {"layout": 2}).content.decode()
    assert 'data-layout="2"' in html and "cols-2" in html
    # a session that ended is not on the wall
    from skillguard.registry.models import Session

    Session.objects.filter(sequence=99).update(ends_at=timezone.now() - dt.timedelta(minutes=1))
    assert 'id="wall-empty"' in city.get(reverse("video:wall")).content.decode()
    # institutions and teachers do not watch the wall
    assert login(world.a.users["institution_admin"]).get(
        reverse("video:wall")).status_code == 403


def test_institution_and_district_grids_are_scoped(recorded, world, login):
    camera, other = recorded["camera"], recorded["other"]
    sup = login(world.a.users["district_supervisor"])
    html = sup.get(reverse("video:institution_live",
                           args=[world.a.institution.pk])).content.decode()
    assert f'data-camera="{camera.pk}"' in html
    assert sup.get(reverse("video:institution_live",
                           args=[world.b.institution.pk])).status_code == 404
    html = sup.get(reverse("video:district_live", args=[world.a.district.pk])).content.decode()
    assert f'data-camera="{camera.pk}"' in html and f'data-camera="{other.pk}"' not in html
    html = sup.get(reverse("video:district_live", args=[world.b.district.pk])).content.decode()
    assert f'data-camera="{other.pk}"' not in html and 'id="no-camera"' in html


# --------------------------------------------------------------------------- clips


def _job_count(clip):
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.filter(task_name="video.cut_clip",
                                           args__clip_id=clip.pk).count()


def test_a_clip_cut_from_three_segments_is_downloaded_with_the_asked_duration(
        recorded, world, login, tmp_path):
    camera, base = recorded["camera"], recorded["base"]
    user = world.a.users["district_supervisor"]
    start, end = base + dt.timedelta(seconds=1), base + dt.timedelta(seconds=5)
    clip = clip_service.request_clip(user, camera, start, end)
    assert clip.state == ClipState.PENDING and _job_count(clip) == 1
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_type="video.clip",
                                     object_id=str(clip.pk)).exists()
    assert clip_service.cut_clip(clip_id=clip.pk) == ClipState.READY
    clip.refresh_from_db()
    assert clip.state == ClipState.READY, clip.error
    assert abs(clip.duration_s - 4.0) <= 0.5 and clip.size_bytes > 10_000
    assert clip_service.cut_clip(clip_id=clip.pk) == ClipState.READY  # idempotent

    client = login(user)
    detail = client.get(reverse("video:clip_detail", args=[clip.pk]))
    assert detail.status_code == 200 and 'id="clip-download"' in detail.content.decode()
    response = client.get(reverse("video:clip_download", args=[clip.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert ".mp4" in response["Content-Disposition"]
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(b"".join(response.streaming_content))
    assert abs(_probe(downloaded) - 4.0) <= 0.5
    streams = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                              "-of", "csv=p=0", str(downloaded)], capture_output=True,
                             text=True, check=True).stdout.split()
    assert set(streams) == {"h264", "aac"}  # stream copy: the camera's own codecs
    export = AuditEvent.objects.get(action=AuditAction.EXPORT, object_type="video.clip",
                                    object_id=str(clip.pk))
    assert export.actor == user and "clip download" in export.comment
    # the clip list shows it; B's supervisor gets the same 404 as for a missing clip
    assert f"#{clip.pk}" in client.get(reverse("video:clip_list")).content.decode()
    outsider = login(world.b.users["district_supervisor"])
    for name in ("video:clip_detail", "video:clip_download"):
        assert outsider.get(reverse(name, args=[clip.pk])).status_code == 404
        assert outsider.get(reverse(name, args=[987654])).status_code == 404


def test_a_clip_across_the_gap_or_beyond_the_recording_is_refused_naming_what_is_recorded(
        recorded, world):
    camera, base = recorded["camera"], recorded["base"]
    user = world.a.users["district_supervisor"]
    for start, end in ((base + dt.timedelta(seconds=4), base + dt.timedelta(seconds=12)),
                       (base - dt.timedelta(seconds=30), base + dt.timedelta(seconds=2)),
                       (base + dt.timedelta(hours=2), base + dt.timedelta(hours=2, seconds=9))):
        with pytest.raises(BusinessRuleError) as err:
            clip_service.request_clip(user, camera, start, end)
        problem = err.value.as_list()[0]
        assert problem["code"] == "beyond_recording"
        assert "09:00:00–09:00:06" in problem["message_en"]
        assert "09:00:10–09:00:14" in problem["message_en"]
        assert problem["message_zh"] and problem["field"] in ("starts_at", "ends_at")
    with pytest.raises(BusinessRuleError) as err:
        clip_service.request_clip(user, camera, base + dt.timedelta(seconds=5), base)
    assert err.value.as_list()[0]["code"] == "reversed"
    with pytest.raises(BusinessRuleError) as err:
        clip_service.request_clip(user, camera, base, base + dt.timedelta(hours=3))
    assert err.value.as_list()[0]["code"] == "too_long"
    with pytest.raises(BusinessRuleError) as err:  # out of scope
        clip_service.request_clip(world.b.users["district_supervisor"], camera, base,
                                  base + dt.timedelta(seconds=2))
    assert err.value.as_list()[0]["code"] == "forbidden"
    with pytest.raises(BusinessRuleError):  # the auditor looks, never cuts
        clip_service.request_clip(world.users["auditor"], camera, base,
                                  base + dt.timedelta(seconds=2))
    assert not Clip.objects.exists()


def test_a_failed_cut_is_reported_not_left_pending(recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    clip = clip_service.request_clip(world.a.users["district_supervisor"], camera,
                                     base, base + dt.timedelta(seconds=2))
    client = login(world.a.users["district_supervisor"])
    pending = client.get(reverse("video:clip_detail", args=[clip.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in pending and 'id="clip-download"' not in pending
    assert client.get(reverse("video:clip_download", args=[clip.pk])).status_code == 404
    for f in (recorded["root"] / "online" / str(camera.pk)).rglob("*.ts"):
        f.unlink()
    assert clip_service.cut_clip(clip_id=clip.pk) == ClipState.FAILED
    clip.refresh_from_db()
    assert clip.state == ClipState.FAILED and "missing" in clip.error
    failed = client.get(reverse("video:clip_detail", args=[clip.pk])).content.decode()
    assert 'id="clip-error"' in failed and "every 2s" not in failed


def _case(side):
    from skillguard.cases import services as cases

    return cases.open_case(None, district=side.district, institution=side.institution,
                           title="video evidence", severity="medium")


def test_clip_attached_to_a_case_appears_on_the_case_page(recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    user = world.a.users["district_supervisor"]
    case = _case(world.a)
    client = login(user)
    response = client.post(reverse("video:clip_request", args=[camera.pk]), {
        "starts_at": playback.input_value(base), "ends_at":
        playback.input_value(base + dt.timedelta(seconds=4)), "case_number": case.number})
    assert response.status_code == 302
    clip = Clip.objects.get()
    assert clip.case == case
    page = client.get(reverse("cases:case_detail", args=[case.pk])).content.decode()
    assert 'id="case-video-clips"' in page and reverse("video:clip_detail",
                                                       args=[clip.pk]) in page
    # attach later to another case, by its number, from the clip page
    second = _case(world.a)
    response = client.post(reverse("video:clip_attach", args=[clip.pk]),
                           {"case_number": second.number})
    assert response.status_code == 302
    clip.refresh_from_db()
    assert clip.case == second
    # a case the user cannot see is refused like an unknown one
    foreign = _case(world.b)
    response = client.post(reverse("video:clip_attach", args=[clip.pk]),
                           {"case_number": foreign.number})
    assert response.status_code == 400
    clip.refresh_from_db()
    assert clip.case == second


def test_clip_request_form_shows_the_refusal_next_to_the_field(recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    client = login(world.a.users["district_supervisor"])
    client.cookies["django_language"] = "en"
    response = client.post(reverse("video:clip_request", args=[camera.pk]), {
        "starts_at": playback.input_value(base + dt.timedelta(seconds=4)),
        "ends_at": playback.input_value(base + dt.timedelta(seconds=12))})
    assert response.status_code == 400
    assert "beyond the recorded range" in response.content.decode()
    assert not Clip.objects.exists()
    assert login(world.users["auditor"]).post(
        reverse("video:clip_request", args=[camera.pk]), {}).status_code == 403


# --------------------------------------------------------------------------- API


def test_clip_api_request_poll_download(recorded, world, login):
    camera, base = recorded["camera"], recorded["base"]
    client = login(world.a.users["district_supervisor"])
    body = {"camera_id": camera.pk, "starts_at": base.isoformat(),
            "ends_at": (base + dt.timedelta(seconds=4)).isoformat()}
    created = client.post("/api/video/clips", body, content_type="application/json")
    assert created.status_code == 201, created.content
    clip_id = created.json()["id"]
    assert created.json()["state"] == "pending" and created.json()["download_url"] is None
    clip_service.cut_clip(clip_id=clip_id)
    got = client.get(f"/api/video/clips/{clip_id}").json()
    assert got["state"] == "ready" and abs(got["duration_s"] - 4) <= 0.5
    download = client.get(got["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "video/mp4"
    refused = client.post("/api/video/clips", {**body, "ends_at": (
        base + dt.timedelta(seconds=12)).isoformat()}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "beyond_recording"
    outsider = login(world.b.users["district_supervisor"])
    assert outsider.get(f"/api/video/clips/{clip_id}").status_code == 404
    assert outsider.post("/api/video/clips", body,
                         content_type="application/json").status_code == 404
    # playback URL for a range
    client = login(world.a.users["district_supervisor"])
    info = client.get(f"/api/video/cameras/{camera.pk}/playback",
                      _q(base, base + dt.timedelta(seconds=30)))
    assert info.status_code == 200, info.content
    assert info.json()["segments"] == 5 and len(info.json()["recorded"]) == 2
    assert client.get(info.json()["playlist_url"]).status_code == 200
    bad = client.get(f"/api/video/cameras/{camera.pk}/playback",
                     _q(base + dt.timedelta(seconds=30), base))
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "reversed"


def test_a_spot_check_item_links_to_its_session_recording_and_its_clips(recorded, world,
                                                                        login):
    from skillguard.cases import services as cases

    camera, base = recorded["camera"], recorded["base"]
    user = world.a.users["district_supervisor"]
    check = cases.draw_spot_check(None, kind="attendance", sample_size=3, seed="video",
                                  district=world.a.district)
    item = check.items.select_related("session").order_by("rank").first()
    assert item.session.room_id == world.a.room.pk
    client = login(user)
    page = client.get(reverse("cases:spotcheck_detail", args=[check.pk])).content.decode()
    replay = reverse("video:playback", args=[camera.pk])
    assert replay in page and f"item={item.pk}" in page
    # the playback opened from the item prepares a clip attached to it
    html = client.get(replay, {**_q(base, base + dt.timedelta(seconds=6)),
                               "item": item.pk}).content.decode()
    assert 'id="clip-for-item"' in html and f'value="{item.pk}"' in html
    response = client.post(reverse("video:clip_request", args=[camera.pk]), {
        "starts_at": playback.input_value(base),
        "ends_at": playback.input_value(base + dt.timedelta(seconds=2)),
        "spot_check_item": item.pk})
    assert response.status_code == 302
    clip = Clip.objects.get()
    assert clip.spot_check_item == item
    page = client.get(reverse("cases:spotcheck_detail", args=[check.pk])).content.decode()
    assert reverse("video:clip_detail", args=[clip.pk]) in page
    # B's supervisor cannot attach a clip to A's spot check
    other = login(world.b.users["district_supervisor"])
    response = other.post(reverse("video:clip_request", args=[recorded["other"].pk]), {
        "starts_at": playback.input_value(base),
        "ends_at": playback.input_value(base + dt.timedelta(seconds=2)),
        "spot_check_item": item.pk})
    assert response.status_code == 400
    assert not Clip.objects.filter(camera=recorded["other"]).exists()


def test_the_wall_pages_through_the_running_classrooms(recorded, world, login):
    from skillguard.registry import services as registry

    _session_now(world.a)
    for n in range(4):  # four more classrooms of A with a camera and a session now
        room = registry.add_room(None, world.a.venue, name=f"2{n:02d}")
        make_camera(room)
        _session_now(world.a, room=room, sequence=100 + n)
    client = login(world.a.users["district_supervisor"])
    first = client.get(reverse("video:wall"), {"layout": 2}).content.decode()
    second = client.get(reverse("video:wall"), {"layout": 2, "page": 2}).content.decode()
    assert first.count('class="video-tile"') == 4 and second.count('class="video-tile"') == 1
    assert "layout=2&amp;page=2" in first or "layout=2&page=2" in first
    assert client.get(reverse("video:wall"), {"layout": 3}).content.decode().count(
        'class="video-tile"') == 5

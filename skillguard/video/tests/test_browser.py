"""The viewer in a real browser (Debian Chromium, the vendored hls.js): a synthetic camera
pushes through the real nginx-rtmp into SkillGuard; a district supervisor opens the class's
live page and the video wall and the video plays (``currentTime`` advances); a past range of
indexed segments replays on the playback page."""
from __future__ import annotations

import datetime as dt
import importlib
import os
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from skillguard.core.skips import require_binary

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread


@pytest.fixture
def video_world(transactional_db):
    from skillguard.core.testing import build_world
    from skillguard.registry.models import District

    if not District.objects.exists():  # a previous transactional test flushed the seed rows
        seed = importlib.import_module("skillguard.registry.migrations.0002_seed_districts")
        District.objects.bulk_create([
            District(code=code, name=name, name_en=name_en, sort_order=order)
            for order, (code, name, name_en) in enumerate(seed.DISTRICTS, start=1)])
    return build_world()


def _session_now(side):
    from skillguard.registry.models import Session

    now = timezone.now()
    return Session.objects.create(
        training_class=side.approved_class, district_id=side.district.pk, sequence=99,
        starts_at=now - dt.timedelta(minutes=20), ends_at=now + dt.timedelta(hours=2),
        teacher=side.teacher, room=side.room)


def _assert_plays(page, selector: str, *, beyond: float = 1.0, timeout_ms: int = 40000):
    """The first video matching ``selector`` plays: its time passes ``beyond`` seconds and
    keeps advancing."""
    video = page.locator(selector).first
    video.wait_for(state="attached")
    page.wait_for_function(
        "([sel, t]) => { const v = document.querySelector(sel); return v && v.currentTime > t; }",
        arg=[selector, beyond], timeout=timeout_ms)
    first = video.evaluate("v => v.currentTime")
    time.sleep(1.5)
    second = video.evaluate("v => v.currentTime")
    assert second > first, (first, second)
    state = page.locator(selector).first.evaluate(
        "v => v.closest('[data-sg-player]').getAttribute('data-state')")
    assert state in ("playing", "buffering", "ended"), state
    return second


def test_class_live_page_and_wall_play_a_pushed_stream(video_world, page, browser_login,
                                                      live_server, settings, tmp_path):
    from skillguard.cameras.testing import make_camera
    from skillguard.video.media.nginx_rtmp import RTMP_MODULE
    from skillguard.video.testing import (
        hls_fragments,
        media_stack,
        push_test_stream,
        stop_stream,
        wait_for,
    )

    require_binary("nginx", "the media server cameras push to")
    require_binary(RTMP_MODULE, "nginx's RTMP module (libnginx-mod-rtmp)")
    require_binary("ffmpeg", "synthetic camera streams")
    world = video_world
    settings.VIDEO_ROOT = tmp_path / "video"
    _session_now(world.a)
    camera, key = make_camera(world.a.room)
    with media_stack(live_server.url, tmp_path / "video") as media:
        settings.MEDIA_STAT_PORT = media.stat_port
        browser_login(world.a.users["district_supervisor"].username)
        # before the camera streams: the player says it is offline …
        page.goto(page.base_url + reverse("video:camera_live", args=[camera.pk]))
        player = page.locator("[data-sg-player]").first
        page.wait_for_function(
            "() => document.querySelector('[data-sg-player]').dataset.state === 'offline'")
        assert player.locator(".sg-player-state").inner_text().strip()
        push = push_test_stream(media.publish_url(camera.stream_name, key),
                                size="320x180", log=tmp_path / "push.log")
        try:
            playlist = media.live_hls_playlist(camera.stream_name)
            wait_for(lambda: playlist.exists() and len(hls_fragments(playlist.parent)) >= 2,
                     30, message="live HLS from nginx-rtmp")
            # … and reconnects by itself once it does (no reload)
            _assert_plays(page, "[data-sg-player] video")

            page.goto(page.base_url + reverse("video:class_live",
                                              args=[world.a.approved_class.pk]))
            assert page.locator(f"[data-camera='{camera.pk}']").count() == 1
            _assert_plays(page, "#live-grid video")

            page.goto(page.base_url + reverse("video:wall") + "?layout=2")
            tile = page.locator(f"#wall-grid [data-camera='{camera.pk}']")
            assert tile.count() == 1
            assert world.a.approved_class.name in tile.inner_text()
            assert world.a.institution.name in tile.inner_text()
            _assert_plays(page, "#wall-grid video")
            assert tile.get_attribute("data-online") == "1"
            page.screenshot(path=str(tmp_path / "video-wall.png"), full_page=True)
            assert (tmp_path / "video-wall.png").stat().st_size > 10_000
        finally:
            stop_stream(push)
    # the page views were audited, once per camera shown
    from skillguard.audit.models import AuditAction, AuditEvent

    assert AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL,
                                     object_type="cameras.camera",
                                     object_id=str(camera.pk)).count() == 3


def test_playback_page_replays_a_past_range(video_world, page, browser_login, settings,
                                            tmp_path):
    from skillguard.cameras.testing import make_camera
    from skillguard.video import playback
    from skillguard.video.indexing import index_segments
    from skillguard.video.tests.test_viewer import _base_time, _encode_segments, _place

    require_binary("ffmpeg", "segments are real MPEG-TS files")
    world = video_world
    settings.VIDEO_ROOT = tmp_path / "video"
    camera, _key = make_camera(world.a.room)
    base = _base_time()
    # two stream sessions (each encode's timestamps start again at zero, as a camera's do
    # when it reconnects) with a 6-second gap: the player must cross the discontinuity
    first = _encode_segments(tmp_path / "media", 4, "p")
    second = _encode_segments(tmp_path / "media", 4, "q")
    index_segments(camera, 1, _place(camera, first, base, tmp_path / "video"))
    index_segments(camera, 2, _place(camera, second, base + dt.timedelta(seconds=10),
                                     tmp_path / "video"))
    browser_login(world.a.users["district_supervisor"].username)
    query = (f"?from={playback.input_value(base)}"
             f"&to={playback.input_value(base + dt.timedelta(minutes=5))}")
    page.goto(page.base_url + reverse("video:playback", args=[camera.pk]) + query)
    spans = page.locator("#recorded-spans").inner_text()
    assert "09:00:00" in spans and "09:00:10" in spans  # two recorded parts named
    reached = _assert_plays(page, "[data-sg-player] video", beyond=5.0)
    assert reached <= 8.5  # 8 s recorded in all: the gap is skipped, not played as black
    page.screenshot(path=str(tmp_path / "playback.png"))

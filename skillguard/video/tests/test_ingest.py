"""Ingest: a real nginx-rtmp, real ffmpeg pushes, SkillGuard's hooks deciding."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from skillguard.core.skips import require_binary
from skillguard.cameras.models import CameraState
from skillguard.cameras.testing import make_camera
from skillguard.video.media.nginx_rtmp import RTMP_MODULE
from skillguard.video.models import (
    CameraHealth,
    MediaEvent,
    MediaEventKind,
    StreamSession,
)
from skillguard.video.testing import (
    hls_fragments,
    media_stack,
    push_test_stream,
    stop_stream,
    wait_for,
)


@pytest.fixture
def binaries():
    require_binary("nginx", "the media server cameras push to")
    require_binary(RTMP_MODULE, "nginx's RTMP module (libnginx-mod-rtmp)")
    require_binary("ffmpeg", "synthetic camera streams")


def test_media_stack_produces_live_hls(binaries, tmp_path):
    with media_stack(None, tmp_path) as media:
        push = push_test_stream(media.publish_url("camtest", "anykey"), seconds=6)
        try:
            live = wait_for(lambda: media.live_streams().get("camtest"), 5,
                            message="stream live")
            assert live.publishing and live.client_addr == "127.0.0.1"
            wait_for(lambda: media.live_streams()["camtest"].bytes_in > 50_000, 5,
                     message="bytes counted by the stat page")
            playlist = media.live_hls_playlist("camtest")
            wait_for(lambda: playlist.exists() and len(hls_fragments(playlist.parent)) >= 2,
                     12, message="index.m3u8 and two fragments")
            assert push.wait(timeout=15) == 0
        finally:
            stop_stream(push)
        assert "#EXTM3U" in playlist.read_text()
        assert all(f.stat().st_size > 10_000 for f in hls_fragments(playlist.parent))
    assert not media.is_running()


# --------------------------------------------------------------------------- hooks end to end


def _session_now(side):
    from skillguard.registry.models import Session

    now = timezone.now()
    return Session.objects.create(
        training_class=side.approved_class, district_id=side.district.pk, sequence=99,
        starts_at=now - dt.timedelta(minutes=20), ends_at=now + dt.timedelta(hours=2),
        teacher=side.teacher, room=side.room)


def _events(kind, **filters):
    return list(MediaEvent.objects.filter(kind=kind, **filters).order_by("id"))


@pytest.fixture
def stack(binaries, live_server, tmp_path, settings, world):
    settings.VIDEO_ROOT = tmp_path / "video"
    with media_stack(live_server.url, tmp_path / "video") as media:
        settings.MEDIA_STAT_PORT = media.stat_port
        yield media


def test_accepted_push_second_push_refused_then_done(stack, world):
    media = stack
    _session_now(world.a)
    camera, key = make_camera(world.a.room)
    playlist = media.live_hls_playlist(camera.stream_name)
    first = push_test_stream(media.publish_url(camera.stream_name, key))
    try:
        session = wait_for(lambda: StreamSession.objects.filter(
            camera=camera, ended_at__isnull=True).first(), 15, message="session opened")
        health = CameraHealth.objects.get(camera=camera)
        assert health.online and health.last_publish_at is not None
        accepted = _events(MediaEventKind.PUBLISH_ACCEPTED, camera=camera)
        assert len(accepted) == 1 and accepted[0].detail["outside_session"] is False
        wait_for(lambda: playlist.exists() and len(hls_fragments(playlist.parent)) >= 2, 15,
                 message="live HLS of the accepted push")

        # a second push on the same key while the first is live: refused, first unharmed
        second = push_test_stream(media.publish_url(camera.stream_name, key), seconds=4)
        assert second.wait(timeout=20) != 0
        refused = _events(MediaEventKind.PUBLISH_REFUSED, camera=camera)
        assert [e.reason for e in refused] == ["already_live"]
        before = len(hls_fragments(playlist.parent))
        wait_for(lambda: len(hls_fragments(playlist.parent)) > before, 10,
                 message="the first push still producing fragments")
        assert first.poll() is None
        session.refresh_from_db()
        assert session.ended_at is None
        assert StreamSession.objects.filter(camera=camera).count() == 1
        assert media.live_streams()[camera.stream_name].publishing
    finally:
        stop_stream(first)
    session = wait_for(lambda: StreamSession.objects.filter(
        pk=session.pk, ended_at__isnull=False).first(), 10, message="session closed")
    assert session.end_reason == "publish_done"
    assert not CameraHealth.objects.get(camera=camera).online
    assert _events(MediaEventKind.PUBLISH_DONE, camera=camera)[0].reason == "publish_done"


def test_refused_pushes_each_with_its_reason(stack, world):
    media = stack
    good, good_key = make_camera(world.a.room)
    revoked, revoked_key = make_camera(world.b.room)
    revoked.stream_key_revoked_at = timezone.now()
    revoked.save(update_fields=["stream_key_revoked_at"])
    from skillguard.registry import services as registry

    other_room = registry.add_room(None, world.a.venue, name="202")
    idle, idle_key = make_camera(other_room, state=CameraState.INSTALLED)
    attempts = {
        "unknown_stream": media.publish_url("nosuchcamera", good_key),
        "bad_key": media.publish_url(good.stream_name, "wrong-" + good_key),
        "key_revoked": media.publish_url(revoked.stream_name, revoked_key),
        "not_in_service": media.publish_url(idle.stream_name, idle_key),
    }
    pushes = {reason: push_test_stream(url, seconds=4) for reason, url in attempts.items()}
    for reason, push in pushes.items():
        assert push.wait(timeout=20) != 0, reason
    events = _events(MediaEventKind.PUBLISH_REFUSED)
    assert sorted(e.reason for e in events) == sorted(attempts)
    by_reason = {e.reason: e for e in events}
    assert by_reason["unknown_stream"].camera_id is None
    assert by_reason["unknown_stream"].stream_name == "nosuchcamera"
    assert by_reason["bad_key"].camera_id == good.pk
    assert by_reason["key_revoked"].camera_id == revoked.pk
    assert by_reason["not_in_service"].camera_id == idle.pk
    assert not StreamSession.objects.exists()
    assert not CameraHealth.objects.filter(online=True).exists()
    assert not any(media.live_hls_playlist(c.stream_name).exists()
                   for c in (good, revoked, idle))


def test_push_outside_any_session_is_accepted_and_flagged(stack, world):
    media = stack
    camera, key = make_camera(world.b.room)  # world.b has no session around now
    push = push_test_stream(media.publish_url(camera.stream_name, key), seconds=3)
    assert push.wait(timeout=20) == 0
    event = wait_for(lambda: MediaEvent.objects.filter(
        kind=MediaEventKind.PUBLISH_ACCEPTED, camera=camera).first(), 5)
    assert event.detail["outside_session"] is True and event.reason == "outside_session"
    session = wait_for(lambda: StreamSession.objects.filter(
        camera=camera, ended_at__isnull=False).first(), 10, message="session closed")
    assert session.district_id == world.b.district.pk


@pytest.mark.django_db
def test_hooks_refuse_without_the_secret(client, world, settings):
    camera, key = make_camera(world.a.room)
    form = {"call": "publish", "name": camera.stream_name, "key": key, "addr": "10.0.0.9",
            "clientid": "7"}
    for name in ("hook_publish", "hook_publish_done", "hook_update"):
        from django.urls import reverse

        url = reverse(f"video:{name}")
        assert client.post(url, form).status_code == 403
        assert client.post(url + "?secret=wrong", form).status_code == 403
        assert client.get(url + "?secret=" + settings.MEDIA_HOOK_SECRET).status_code == 405
    assert not StreamSession.objects.exists() and not MediaEvent.objects.exists()
    from django.urls import reverse

    ok = client.post(reverse("video:hook_publish") + "?secret=" + settings.MEDIA_HOOK_SECRET,
                     form)
    assert ok.status_code == 200
    assert StreamSession.objects.get().client_addr == "10.0.0.9"


# --------------------------------------------------------------------------- health task

class _FakeServer:
    name = "fake"
    rtmp_port = 1

    def __init__(self, running):
        self.running = running

    def is_running(self):
        return self.running


@pytest.mark.django_db
def test_lost_heartbeat_closes_session_once(world):
    from skillguard.video import services_ingest
    from skillguard.video.tasks_health import check_health

    camera, key = make_camera(world.a.room)
    decision = services_ingest.authorise_publish(camera.stream_name, key, "10.1.1.1", "5")
    assert decision.accepted
    assert services_ingest.heartbeat(camera.stream_name, key, "5")
    later = timezone.now() + dt.timedelta(seconds=30)
    assert check_health(now=later, adapter=_FakeServer(True), snapshots=False)[
        "heartbeat_lost"] == 0  # 30 s of silence: still within the timeout
    much_later = timezone.now() + dt.timedelta(minutes=5)
    result = check_health(now=much_later, adapter=_FakeServer(True), snapshots=False)
    assert result["heartbeat_lost"] == 1
    session = StreamSession.objects.get(pk=decision.session.pk)
    assert session.end_reason == "heartbeat_lost" and session.ended_at == much_later
    assert not CameraHealth.objects.get(camera=camera).online
    assert check_health(now=much_later, adapter=_FakeServer(True), snapshots=False)[
        "heartbeat_lost"] == 0
    assert len(_events(MediaEventKind.PUBLISH_DONE, camera=camera)) == 1
    # the camera reconnects: accepted again
    assert services_ingest.authorise_publish(camera.stream_name, key, "10.1.1.1", "6").accepted


@pytest.mark.django_db
def test_stale_open_session_does_not_lock_the_camera_out(world):
    from skillguard.video import services_ingest

    camera, key = make_camera(world.a.room)
    first = services_ingest.authorise_publish(camera.stream_name, key, None, "1")
    assert not services_ingest.authorise_publish(camera.stream_name, key, None, "2").accepted
    old = timezone.now() - dt.timedelta(minutes=10)
    StreamSession.objects.filter(pk=first.session.pk).update(started_at=old)
    CameraHealth.objects.filter(camera=camera).update(last_seen_at=old)
    second = services_ingest.authorise_publish(camera.stream_name, key, None, "3")
    assert second.accepted
    assert StreamSession.objects.get(pk=first.session.pk).end_reason == "stale_replaced"


@pytest.mark.django_db
def test_heartbeat_drops_a_push_whose_key_was_revoked(client, world, settings,
                                                       monkeypatch):
    from django.urls import reverse

    camera, key = make_camera(world.a.room)
    secret = "?secret=" + settings.MEDIA_HOOK_SECRET
    form = {"name": camera.stream_name, "key": key, "clientid": "9", "addr": "127.0.0.1"}
    assert client.post(reverse("video:hook_publish") + secret, form).status_code == 200
    assert client.post(reverse("video:hook_update") + secret, form).status_code == 200
    # nginx reports its players too (the recorder pulling): another client, no key, kept
    assert client.post(reverse("video:hook_update") + secret,
                       {"call": "update_play", "name": camera.stream_name,
                        "clientid": "44", "addr": "127.0.0.1"}).status_code == 200
    # the refused second push's "done" (another client id) leaves the live session alone
    assert client.post(reverse("video:hook_publish") + secret,
                       {**form, "clientid": "10"}).status_code == 403
    assert client.post(reverse("video:hook_publish_done") + secret,
                       {**form, "clientid": "10"}).status_code == 200
    assert StreamSession.objects.get().ended_at is None
    # the bitrate and bytes come from the media server's stat page (nginx sends none)
    from skillguard.video import hooks
    from skillguard.video.media.base import StreamStats

    stats = StreamStats(name=camera.stream_name, publishing=True, bytes_in=5_000_000,
                        bw_in_kbps=812, uptime_s=50, clients=1)
    monkeypatch.setattr(hooks, "_live_stats", lambda: {camera.stream_name: stats})
    assert client.post(reverse("video:hook_update") + secret, form).status_code == 200
    assert CameraHealth.objects.get(camera=camera).bitrate_kbps == 812
    assert StreamSession.objects.get().bytes_in == 5_000_000
    camera.stream_key_revoked_at = timezone.now()
    camera.save(update_fields=["stream_key_revoked_at"])
    assert client.post(reverse("video:hook_update") + secret, form).status_code == 403
    session = StreamSession.objects.get()
    assert session.ended_at is not None and session.end_reason == "key_revoked"


@pytest.mark.django_db
def test_media_server_down_reported_once_while_cameras_expected(world):
    from skillguard.video.tasks_health import check_health

    now = timezone.now()
    assert not check_health(now=now, adapter=_FakeServer(False))["server_down_event"]
    make_camera(world.a.room)
    _session_now(world.a)
    assert check_health(now=now, adapter=_FakeServer(False))["server_down_event"]
    assert not check_health(now=now + dt.timedelta(minutes=1),
                            adapter=_FakeServer(False))["server_down_event"]
    assert len(_events(MediaEventKind.MEDIA_SERVER_DOWN)) == 1
    assert not check_health(now=now, adapter=_FakeServer(True))["server_down_event"]


@pytest.mark.django_db
def test_snapshot_of_a_live_camera_and_failure_reported(binaries, world, tmp_path, settings):
    from skillguard.video import services_ingest
    from skillguard.video.tasks_health import check_health, snapshot_path

    settings.VIDEO_ROOT = tmp_path / "video"
    live, live_key = make_camera(world.a.room)
    silent, silent_key = make_camera(world.b.room)
    with media_stack(None, tmp_path / "video") as media:  # no hooks: register by hand
        push = push_test_stream(media.publish_url(live.stream_name, live_key), seconds=12)
        try:
            assert services_ingest.authorise_publish(live.stream_name, live_key).accepted
            assert services_ingest.authorise_publish(silent.stream_name, silent_key).accepted
            playlist = media.live_hls_playlist(live.stream_name)
            wait_for(lambda: playlist.exists() and len(hls_fragments(playlist.parent)) >= 1,
                     12, message="a live fragment")
            result = check_health(adapter=media)
            again = check_health(adapter=media)  # the live one is not due; no 2nd event
        finally:
            stop_stream(push)
    assert result["snapshots"] == 1 and result["snapshot_failures"] == 1
    picture = snapshot_path(live.pk)
    assert picture.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    health = CameraHealth.objects.get(camera=live)
    assert health.snapshot == f"snapshots/{live.pk}.jpg" and health.snapshot_at
    failed = _events(MediaEventKind.SNAPSHOT_FAILED)
    assert [e.camera_id for e in failed] == [silent.pk]
    assert CameraHealth.objects.get(camera=silent).last_error.startswith("snapshot:")
    assert again["snapshots"] == 0 and again["snapshot_failures"] == 1


# --------------------------------------------------------------------------- skillguard run

def test_run_starts_and_stops_the_media_server(binaries, tmp_path, settings, monkeypatch,
                                               capsys):
    import argparse

    from skillguard import cli
    from skillguard.video.testing import free_port

    settings.DATA_DIR = tmp_path
    settings.VIDEO_ROOT = tmp_path / "video"
    settings.RTMP_PORT, settings.MEDIA_STAT_PORT = free_port(), free_port()
    monkeypatch.setattr(cli, "_recorder_process", lambda: None)
    args = argparse.Namespace(host="0.0.0.0", port=8123)
    media, recorder = cli._start_video(args)
    try:
        assert media is not None and media.is_running()
        conf = (tmp_path / "media-server" / "nginx.conf").read_text()
        assert ("on_publish http://127.0.0.1:8123/video/hooks/publish?secret="
                + settings.MEDIA_HOOK_SECRET) in conf
        out = capsys.readouterr().out
        assert f"rtmp://127.0.0.1:{settings.RTMP_PORT}/live/<stream name>?key=<stream key>" in out
    finally:
        cli._stop_video(media, recorder)
    assert not media.is_running() and not media.accepts_connections()

    settings.NGINX_RTMP_MODULE = str(tmp_path / "missing_module.so")
    assert cli._start_video(args) == (None, None)
    line = capsys.readouterr().out.strip()
    assert line.startswith("Video supervision off: nginx RTMP module not found")
    assert "\n" not in line


# --------------------------------------------------------------------------- events, health

def _some_events(world):
    from skillguard.video import services_ingest

    cam_a, _key_a = make_camera(world.a.room)
    cam_b, key_b = make_camera(world.b.room)
    services_ingest.authorise_publish(cam_a.stream_name, "wrong", "10.0.0.1", "1")
    services_ingest.authorise_publish(cam_b.stream_name, key_b, "10.0.0.2", "2")
    services_ingest.authorise_publish("ghost", "x", "10.0.0.3", "3")
    return cam_a, cam_b


@pytest.mark.django_db
def test_event_list_scoped_filtered_and_export_audited(login, world):
    from django.urls import reverse

    from skillguard.audit.models import AuditEvent

    cam_a, cam_b = _some_events(world)
    url = reverse("video:event_list")
    client = login(world.users["city_supervisor"])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert cam_a.serial in page and cam_b.serial in page and "ghost" in page
    refused = client.get(url, {"kind": "publish_refused"}).content.decode()
    assert cam_a.serial in refused and cam_b.serial not in refused
    by_camera = client.get(url, {"camera": str(cam_b.pk)}).content.decode()
    assert cam_b.serial in by_camera and cam_a.serial not in by_camera
    by_district = client.get(url, {"district": world.b.district.pk}).content.decode()
    assert cam_b.serial in by_district and cam_a.serial not in by_district

    district_a = login(world.a.users["district_supervisor"]).get(url).content.decode()
    assert cam_a.serial in district_a and cam_b.serial not in district_a
    assert "ghost" not in district_a  # an unknown stream belongs to no district

    csv = login(world.users["city_supervisor"]).get(url, {"export": "csv"})
    body = b"".join(csv.streaming_content).decode()
    assert "bad_key" in body and "ghost" in body
    assert AuditEvent.objects.filter(action="export", object_type="video.mediaevent").exists()

    assert login(world.a.users["teacher"]).get(url).status_code == 403


@pytest.mark.django_db
def test_api_events_and_camera_health(login, world):
    cam_a, cam_b = _some_events(world)
    client = login(world.a.users["district_supervisor"])
    body = client.get("/api/video/events").json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["reason"] == "bad_key" and item["camera_id"] == cam_a.pk
    assert item["reason_text"]["en"] == "The stream key is wrong."
    assert item["reason_text"]["zh"]
    city = login(world.users["city_supervisor"])
    assert city.get("/api/video/events", {"kind": "publish_accepted"}).json()["count"] == 1
    health = city.get(f"/api/cameras/{cam_b.pk}/health").json()
    assert health["online"] is True and health["live"] is True
    assert city.get(f"/api/cameras/{cam_a.pk}/health").json()["online"] is False
    # out of scope and missing answer the same 404
    district_a = login(world.a.users["district_supervisor"])
    out_of_scope = district_a.get(f"/api/cameras/{cam_b.pk}/health")
    missing = district_a.get("/api/cameras/999999/health")
    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.json() == missing.json()
    assert login(world.a.users["teacher"]).get("/api/video/events").status_code == 403
    teacher = login(world.a.users["teacher"])  # may not see health: like a missing camera
    assert teacher.get(f"/api/cameras/{cam_a.pk}/health").status_code == 404

"""Recording: real ffmpeg segments indexed, the recorder against a real nginx-rtmp, coverage
exact to the minute, the CAMERA_OFFLINE_DURING_SESSION rule, archive and purge."""
from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from skillguard.core.skips import require_binary
from skillguard.cameras.testing import make_camera
from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.registry.models import Session
from skillguard.video import storage
from skillguard.video.indexing import SegmentFile, index_segments
from skillguard.video.models import (
    CameraHealth,
    MediaEvent,
    MediaEventKind,
    RecordingSegment,
    SessionCoverage,
    StreamSession,
)

pytestmark = pytest.mark.django_db
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def video_root(tmp_path, settings):
    settings.VIDEO_ROOT = tmp_path / "video"
    settings.VIDEO_ONLINE_ROOT = None
    settings.VIDEO_ARCHIVE_ROOT = None
    return settings.VIDEO_ROOT


@pytest.fixture
def ffmpeg():
    require_binary("ffmpeg", "recording segments are written by ffmpeg")
    require_binary("ffprobe", "segments are measured by ffprobe")


def _camera(side, since=dt.datetime(2020, 1, 1, tzinfo=CST)):
    camera, key = make_camera(side.room)
    camera.in_service_since = since
    camera.save(update_fields=["in_service_since"])
    return camera, key


def _session(side, starts_at, ends_at, sequence):
    return Session.objects.create(
        training_class=side.approved_class, district_id=side.district.pk, sequence=sequence,
        starts_at=starts_at, ends_at=ends_at, teacher=side.teacher, room=side.room)


def _segments(camera):
    return list(RecordingSegment.objects.filter(camera_id=camera.pk).order_by("started_at"))


def _write_ts(directory: Path, seconds=6, segment=2) -> list[tuple[str, float, float]]:
    """Real MPEG-TS segments from an ffmpeg test source; [(name, start, end)] from its
    segment list."""
    directory.mkdir(parents=True, exist_ok=True)
    listing = directory / "list.csv"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f",
         "segment", "-segment_time", str(segment), "-segment_format", "mpegts",
         "-reset_timestamps", "1", "-segment_list", str(listing), "-segment_list_type",
         "csv", str(directory / "101500000-%05d.ts")], check=True, timeout=60)
    rows = [line.split(",") for line in listing.read_text().splitlines()]
    listing.unlink()
    return [(name, float(a), float(b)) for name, a, b in rows]


# --------------------------------------------------------------------------- indexing


def test_index_real_segments_times_sizes_idempotent_and_damage(world, video_root, ffmpeg):
    camera, _key = _camera(world.a)
    day = video_root / "online" / str(camera.pk) / "20260302"
    listed = _write_ts(day)
    assert len(listed) == 3
    launch = dt.datetime(2026, 3, 2, 10, 15, tzinfo=CST)
    files = [SegmentFile(f"{camera.pk}/20260302/{name}",
                         launch + dt.timedelta(seconds=a), launch + dt.timedelta(seconds=b),
                         listed=True) for name, a, b in listed]
    inserted = index_segments(camera, None, files[:2])
    assert len(inserted) == 2
    # the third one is probed (no times given): its start comes from the run's name
    probed = index_segments(camera.pk, None, [SegmentFile(files[2].path)])
    assert len(probed) == 1 and probed[0]["status"] == "complete"

    rows = list(RecordingSegment.objects.filter(camera_id=camera.pk).order_by("path"))
    assert [r.path for r in rows] == [f.path for f in files]
    assert rows[0].started_at == launch
    assert rows[1].started_at == rows[0].ended_at  # a run's segments join exactly
    assert all(r.size_bytes == (day / Path(r.path).name).stat().st_size for r in rows)
    assert all(r.district_id == world.a.district.pk and r.tier == "online" for r in rows)
    total = sum(r.duration_ms for r in rows) / 1000
    assert 5.5 <= total <= 6.6, total
    assert rows[2].started_at == launch  # probed: the name's local time (10:15:00.000)

    # re-indexing the same paths inserts nothing
    assert index_segments(camera, None, files) == []
    assert RecordingSegment.objects.filter(camera_id=camera.pk).count() == 3

    # a truncated segment (cut mid-packet) is kept and flagged damaged; garbage is lost
    whole = (day / listed[0][0]).read_bytes()
    (day / "101600000-00000.ts").write_bytes(whole[: len(whole) // 2 + 77])
    (day / "101700000-00000.ts").write_bytes(b"this is not video" * 50)
    flagged = index_segments(camera, None, [
        SegmentFile(f"{camera.pk}/20260302/101600000-00000.ts"),
        SegmentFile(f"{camera.pk}/20260302/101700000-00000.ts")])
    status = {Path(r["path"]).name: r["status"] for r in flagged}
    assert status == {"101600000-00000.ts": "damaged", "101700000-00000.ts": "lost"}
    events = MediaEvent.objects.filter(kind=MediaEventKind.SEGMENT_LOST, camera=camera)
    assert sorted(e.reason for e in events) == ["truncated", "unreadable"]
    assert (day / "101600000-00000.ts").exists() and (day / "101700000-00000.ts").exists()
    damaged = RecordingSegment.objects.get(camera_id=camera.pk, status="damaged")
    assert damaged.duration_ms > 0 and damaged.started_at == dt.datetime(
        2026, 3, 2, 10, 16, tzinfo=CST)


# --------------------------------------------------------------------------- the recorder


@pytest.fixture
def rtmp(video_root, ffmpeg):
    from skillguard.video.media.nginx_rtmp import RTMP_MODULE
    from skillguard.video.testing import media_stack

    require_binary("nginx", "the media server cameras push to")
    require_binary(RTMP_MODULE, "nginx's RTMP module (libnginx-mod-rtmp)")
    with media_stack(None, video_root, hls=False) as media:
        yield media


def _live(world, media):
    """A camera in world.a's room, a session now, its stream pushed and open."""
    from skillguard.video.testing import push_test_stream, wait_for

    camera, key = _camera(world.a)
    now = timezone.now()
    _session(world.a, now - dt.timedelta(minutes=5), now + dt.timedelta(hours=1), 90)
    push = push_test_stream(media.publish_url(camera.stream_name, key), size="320x180")
    wait_for(lambda: media.live_streams().get(camera.stream_name), 10, message="stream live")
    stream = StreamSession.objects.create(camera=camera, district_id=camera.district_id,
                                          institution_id=camera.institution_id,
                                          started_at=now)
    return camera, push, stream


def _run_until(recorder, predicate, timeout=25, now=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recorder.tick(now() if now else None)
        if predicate():
            return True
        time.sleep(0.4)
    raise AssertionError("timed out")


def test_recorder_records_segments_through_nginx_and_stops_with_the_stream(world, rtmp):
    from skillguard.video.recorder import Recorder
    from skillguard.video.testing import stop_stream

    camera, push, stream = _live(world, rtmp)
    recorder = Recorder(pull_url=rtmp.pull_url, segment_seconds=2, min_free_bytes=0,
                        state_dir=Path(rtmp.prefix) / "recorder")
    try:
        done = recorder.tick()
        assert done["started"] == [camera.pk]
        assert CameraHealth.objects.get(camera=camera).recording is True
        assert MediaEvent.objects.filter(kind=MediaEventKind.RECORDER_STARTED,
                                         camera=camera).count() == 1
        _run_until(recorder, lambda: len(_segments(camera)) >= 2)
        # the stream ends (publish_done closes the session): ffmpeg stopped, last segment in
        stream.ended_at = timezone.now()
        stream.save(update_fields=["ended_at"])
        done = recorder.tick()
        assert done["stopped"] == [camera.pk] and not recorder.jobs
    finally:
        stop_stream(push)
        recorder.stop_all()
    rows = _segments(camera)
    assert len(rows) >= 2
    assert not MediaEvent.objects.filter(kind=MediaEventKind.SEGMENT_LOST).exists()
    assert all(r.status == "complete" and r.stream_session_id == stream.pk for r in rows)
    for a, b in itertools.pairwise(rows):
        assert a.ended_at == b.started_at  # contiguous
    recorded = sum(r.duration_ms for r in rows) / 1000
    span = (rows[-1].ended_at - rows[0].started_at).total_seconds()
    assert abs(recorded - span) < 0.05 and recorded >= 4
    assert abs((rows[0].started_at - stream.started_at).total_seconds()) < 10
    for r in rows:
        path = storage.local_path(r)
        assert path.is_file() and path.stat().st_size == r.size_bytes
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                                "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                               check=True)
        assert set(probe.stdout.split()) == {"h264", "aac"}  # stream copy of the camera
    assert CameraHealth.objects.get(camera=camera).recording is False
    assert not list(recorder.state_dir.glob("*.csv"))


def test_recorder_reports_a_crash_restarts_and_stops_on_a_full_disk(world, rtmp):
    from skillguard.video.recorder import DISK_FULL_PREFIX, Recorder
    from skillguard.video.testing import stop_stream

    camera, push, _open = _live(world, rtmp)
    recorder = Recorder(pull_url=rtmp.pull_url, segment_seconds=2, min_free_bytes=0,
                        state_dir=Path(rtmp.prefix) / "recorder")
    clock = {"now": timezone.now()}
    try:
        recorder.tick()
        _run_until(recorder, lambda: len(_segments(camera)) >= 1)
        first = recorder.jobs[camera.pk].proc
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=5)
        clock["now"] = timezone.now()
        done = recorder.tick(clock["now"])
        assert done["crashed"] == [camera.pk] and camera.pk not in recorder.jobs
        crash = MediaEvent.objects.get(kind=MediaEventKind.RECORDER_CRASHED, camera=camera)
        assert crash.reason == "signal_9" and "stderr_tail" in crash.detail
        assert crash.detail["restart_in_seconds"] == 2
        assert recorder.tick(clock["now"] + dt.timedelta(seconds=1))["started"] == []  # backoff
        done = recorder.tick(clock["now"] + dt.timedelta(seconds=3))
        assert done["started"] == [camera.pk]
        assert recorder.jobs[camera.pk].proc.pid != first.pid
        before = len(_segments(camera))
        _run_until(recorder, lambda: len(_segments(camera)) > before)
        kept = [storage.local_path(r) for r in _segments(camera)]

        # the disk fills up: reported once, nothing new starts, nothing is deleted
        recorder.stop_all()
        recorder.min_free_bytes = 1 << 60
        for _ in range(2):
            done = recorder.tick()
            assert done["disk_full"] and done["started"] == []
        full = MediaEvent.objects.filter(kind=MediaEventKind.DISK_FULL)
        assert full.count() == 1 and full[0].detail["cameras_waiting"] == [camera.pk]
        health = CameraHealth.objects.get(camera=camera)
        assert health.last_error.startswith(DISK_FULL_PREFIX) and not health.recording
        assert all(p.is_file() for p in kept)
        assert RecordingSegment.objects.filter(camera_id=camera.pk).count() >= len(kept)
        # room again: recording resumes and the error clears
        recorder.min_free_bytes = 0
        assert recorder.tick()["started"] == [camera.pk]
        assert CameraHealth.objects.get(camera=camera).last_error == ""
    finally:
        stop_stream(push)
        recorder.stop_all()
    # the segment being written when ffmpeg was killed is kept and indexed; one that is
    # not complete is reported (a file cut before its first packet cannot be read: lost)
    rows = _segments(camera)
    assert sum(r.status == "complete" for r in rows) >= 2
    flagged = {e.detail["path"]: e.reason for e in MediaEvent.objects.filter(
        kind=MediaEventKind.SEGMENT_LOST, camera=camera)}
    for r in rows:
        assert storage.local_path(r).exists()
        if r.status != "complete":
            assert r.path in flagged


# --------------------------------------------------------------------------- coverage and rule


def _at(h, m):
    return dt.datetime(2026, 3, 2, h, m, tzinfo=CST)


def _stream(camera, start, end):
    return StreamSession.objects.create(camera=camera, district_id=camera.district_id,
                                        institution_id=camera.institution_id,
                                        started_at=start, ended_at=end)


def _fake_segments(camera, start, end, seconds=60):
    """Index rows for [start, end) in 60 s segments (files are not needed for coverage)."""
    ensure_monthly_partitions("video_recordingsegment", start.date(), end.date())
    with connection.cursor() as cur:
        t = start
        while t < end:
            e = min(end, t + dt.timedelta(seconds=seconds))
            cur.execute("""
                INSERT INTO video_recordingsegment (district_id, started_at, ended_at,
                    camera_id, institution_id, duration_ms, size_bytes, path, indexed_at)
                VALUES (%s, %s, %s, %s, %s, %s, 1000, %s, now())""",
                        [camera.district_id, t, e, camera.pk, camera.institution_id,
                         int((e - t).total_seconds() * 1000), f"{camera.pk}/{t:%H%M%S}.ts"])
            t = e


def test_coverage_is_exact_and_the_rule_fires_only_on_the_gap(world):
    from skillguard.supervision.models import Warning
    from skillguard.supervision.rules.base import RULES, RuleContext
    from skillguard.video.coverage import compute_session_coverage
    from skillguard.video.tasks import refresh_coverage

    camera, _key = _camera(world.a)
    gappy = _session(world.a, _at(10, 0), _at(10, 30), 91)
    full = _session(world.a, _at(14, 0), _at(14, 45), 92)
    _stream(camera, _at(9, 55), _at(10, 12))
    _stream(camera, _at(10, 17), _at(10, 35))
    _stream(camera, _at(13, 50), _at(14, 50))
    _fake_segments(camera, _at(9, 55), _at(10, 12))
    _fake_segments(camera, _at(10, 17), _at(10, 35))
    _fake_segments(camera, _at(13, 50), _at(14, 50))

    result = compute_session_coverage([gappy.pk, full.pk], now=_at(18, 0))
    assert result == {gappy.pk: 5, full.pk: 0}
    cov = SessionCoverage.objects.get(session=gappy)
    assert (cov.scheduled_minutes, cov.streamed_minutes, cov.recorded_minutes,
            cov.missing_minutes) == (30, 25, 25, 5)
    assert cov.camera_id == camera.pk and cov.institution_id == world.a.institution.pk
    assert [[dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)]
            for a, b in cov.gaps] == [[_at(10, 12), _at(10, 17)]]
    other = SessionCoverage.objects.get(session=full)
    assert (other.scheduled_minutes, other.streamed_minutes, other.missing_minutes,
            other.gaps) == (45, 45, 0, [])
    # idempotent
    assert compute_session_coverage([gappy.pk], now=_at(18, 0)) == {gappy.pk: 5}
    assert SessionCoverage.objects.count() == 2

    rule = RULES["CAMERA_OFFLINE_DURING_SESSION"]()
    assert not rule.awaits_source

    def detect(minutes, **ids):
        return list(rule.detect(RuleContext(
            params={"min_offline_minutes": minutes}, window_start=_at(0, 0),
            window_end=_at(23, 0), now=_at(18, 0), **ids)))

    found = detect(5)
    assert [f.subject for f in found] == [f"session:{gappy.pk}"]
    assert found[0].details["missing_minutes"] == 5
    assert ("camera", camera.pk) in found[0].evidence
    assert ("session", gappy.pk) in found[0].evidence
    assert camera.serial in str(found[0].summary)
    assert detect(6) == []
    assert [f.subject for f in detect(5, session_ids=frozenset({gappy.pk}))] == [
        f"session:{gappy.pk}"]
    assert detect(5, session_ids=frozenset({full.pk})) == []

    # through the engine (default threshold 15 minutes): a 20-minute outage raises a warning
    long = _session(world.a, _at(16, 0), _at(16, 40), 93)
    _stream(camera, _at(16, 20), _at(16, 45))
    refresh_coverage([long.pk, full.pk], now=_at(18, 0))
    warnings = Warning.objects.filter(rule__code="CAMERA_OFFLINE_DURING_SESSION")
    assert [w.subject for w in warnings] == [f"session:{long.pk}"]
    assert warnings[0].details["gaps"] and warnings[0].details["missing_minutes"] == 20


def test_coverage_of_a_running_session_counts_only_elapsed_time(world):
    from skillguard.video.coverage import compute_session_coverage

    camera, _key = _camera(world.a)
    running = _session(world.a, _at(10, 0), _at(11, 0), 94)
    StreamSession.objects.create(camera=camera, district_id=camera.district_id,
                                 institution_id=camera.institution_id, started_at=_at(10, 10))
    assert compute_session_coverage([running.pk], now=_at(10, 30)) == {running.pk: 10}
    cov = SessionCoverage.objects.get(session=running)
    assert (cov.scheduled_minutes, cov.streamed_minutes) == (60, 20)


def test_sessions_without_a_camera_in_service_get_no_coverage(world):
    from skillguard.video.coverage import compute_session_coverage

    _camera(world.a, since=_at(12, 0))  # installed after the session
    early = _session(world.a, _at(10, 0), _at(10, 30), 95)
    assert compute_session_coverage([early.pk], now=_at(18, 0)) == {}


# --------------------------------------------------------------------------- retention and API


def _real_segment(camera, started_at, name):
    online = storage.backend_for(storage.ONLINE)
    rel = f"{camera.pk}/{started_at:%Y%m%d}/{name}"
    target = online.local_path(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(os.urandom(188 * 50))
    ensure_monthly_partitions("video_recordingsegment", started_at.date(), started_at.date())
    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO video_recordingsegment (district_id, started_at, ended_at, camera_id,
                institution_id, duration_ms, size_bytes, path, indexed_at)
            VALUES (%s, %s, %s, %s, %s, 60000, %s, %s, now())""",
                    [camera.district_id, started_at, started_at + dt.timedelta(minutes=1),
                     camera.pk, camera.institution_id, 188 * 50, rel])
    return rel


def test_archive_moves_old_files_and_rows_and_playback_paths_still_resolve(world, video_root):
    from skillguard.video import playback
    from skillguard.video.tasks import archive_segments

    camera, _key = _camera(world.a)
    now = timezone.now()
    old = [_real_segment(camera, now - dt.timedelta(days=100, minutes=i), f"old{i}.ts")
           for i in range(3)]
    fresh = _real_segment(camera, now - dt.timedelta(days=2), "fresh.ts")
    online = storage.backend_for(storage.ONLINE)
    archive = storage.backend_for(storage.ARCHIVE)
    content = {p: online.local_path(p).read_bytes() for p in old}

    counts = archive_segments(now=now)
    assert counts["moved"] == 3 and counts["missing"] == 0 and counts["failed"] == 0
    for seg in RecordingSegment.objects.filter(camera_id=camera.pk, path__in=old):
        assert seg.tier == "archive" and seg.archived_at is not None
        path = storage.local_path(seg)
        assert path.is_file() and path.read_bytes() == content[seg.path]
        assert str(path).startswith(str(video_root / "archive"))
        with storage.open_segment(seg) as fh:
            assert fh.read(188) == content[seg.path][:188]
        assert playback.segment_source(seg) == str(path)  # what playback and clips read
        assert not online.exists(seg.path)
    assert RecordingSegment.objects.get(camera_id=camera.pk, path=fresh).tier == "online"
    assert online.exists(fresh) and not archive.exists(fresh)
    event = MediaEvent.objects.get(kind=MediaEventKind.ARCHIVED)
    assert event.detail["moved"] == 3 and event.detail["bytes"] == 3 * 188 * 50
    assert archive_segments(now=now)["moved"] == 0  # idempotent


def test_purge_keeps_segments_of_a_clip_under_an_open_case(world, video_root):
    from skillguard.cases import services as cases
    from skillguard.video.models import Clip
    from skillguard.video.tasks import purge_segments

    camera, _key = _camera(world.a)
    now = timezone.now()
    expired = now - dt.timedelta(days=6 * 366)
    gone = _real_segment(camera, expired, "gone.ts")
    held = _real_segment(camera, expired + dt.timedelta(hours=1), "held.ts")
    kept = _real_segment(camera, now - dt.timedelta(days=30), "kept.ts")
    case = cases.open_case(None, district=world.a.district, institution=world.a.institution,
                           title="evidence", severity="medium")
    Clip.objects.create(camera=camera, district_id=camera.district_id,
                        institution_id=camera.institution_id,
                        starts_at=expired + dt.timedelta(hours=1, seconds=10),
                        ends_at=expired + dt.timedelta(hours=1, seconds=40),
                        requested_by=world.users["district_supervisor"], case=case)
    counts = purge_segments(now=now)
    assert counts["purged"] == 1 and counts["held_for_open_cases"] == 1
    paths = set(RecordingSegment.objects.filter(camera_id=camera.pk).values_list("path",
                                                                                flat=True))
    assert paths == {held, kept}
    online = storage.backend_for(storage.ONLINE)
    assert not online.exists(gone) and online.exists(held) and online.exists(kept)


def test_recordings_api_merges_intervals_and_lists_gaps(world, login):
    camera, _key = _camera(world.a)
    _fake_segments(camera, _at(9, 0), _at(9, 10))
    _fake_segments(camera, _at(9, 15), _at(9, 20))
    client = login(world.users["district_supervisor"])
    url = f"/api/cameras/{camera.pk}/recordings"
    response = client.get(url, {"from": "2026-03-02T08:30:00+08:00",
                                "to": "2026-03-02T09:30:00+08:00"})
    assert response.status_code == 200, response.content
    body = response.json()
    spans = [(dt.datetime.fromisoformat(i["start"]), dt.datetime.fromisoformat(i["end"]),
              i["segments"]) for i in body["intervals"]]
    assert spans == [(_at(9, 0), _at(9, 10), 10), (_at(9, 15), _at(9, 20), 5)]
    gaps = [(dt.datetime.fromisoformat(g["start"]), dt.datetime.fromisoformat(g["end"]))
            for g in body["gaps"]]
    assert gaps == [(_at(8, 30), _at(9, 0)), (_at(9, 10), _at(9, 15)), (_at(9, 20), _at(9, 30))]
    assert body["recorded_seconds"] == 15 * 60
    # reversed range refused; a camera of another district answers like a missing one
    bad = client.get(url, {"from": "2026-03-02T10:00:00+08:00", "to": "2026-03-02T09:00:00"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"
    other, _ = _camera(world.b)
    assert client.get(f"/api/cameras/{other.pk}/recordings").status_code == 404
    assert client.get("/api/cameras/987654/recordings").status_code == 404


def test_recordings_page_shows_intervals_gaps_and_session_coverage(world, login):
    from django.urls import reverse

    from skillguard.video.coverage import compute_session_coverage

    camera, _key = _camera(world.a)
    session = _session(world.a, _at(10, 0), _at(10, 30), 96)
    _stream(camera, _at(9, 55), _at(10, 12))
    _stream(camera, _at(10, 17), _at(10, 35))
    _fake_segments(camera, _at(9, 55), _at(10, 12))
    _fake_segments(camera, _at(10, 17), _at(10, 35))
    compute_session_coverage([session.pk], now=_at(18, 0))
    url = reverse("video:camera_recordings", args=[camera.pk]) + "?day=2026-03-02"
    page = login(world.users["district_supervisor"]).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "09:55:00" in html and "10:12:00" in html and "10:17:00" in html
    assert "10:12:00–10:17:00" in html  # the session's gap
    assert reverse("video:playback", args=[camera.pk]) in html  # supervisors may replay
    # the institution sees its camera's recorded times, without replay links
    inst = login(world.users["institution_admin"]).get(url)
    assert inst.status_code == 200 and reverse("video:playback", args=[camera.pk]) not in (
        inst.content.decode())
    other, _ = _camera(world.b)
    assert login(world.users["institution_admin"]).get(
        reverse("video:camera_recordings", args=[other.pk])).status_code == 404


def test_a_restarted_recorder_indexes_what_the_previous_one_left(world, video_root, ffmpeg,
                                                                  tmp_path):
    from skillguard.video.recorder import Recorder

    camera, _key = _camera(world.a)
    stream = _stream(camera, _at(10, 0), None)
    day = video_root / "online" / str(camera.pk) / "20260302"
    listed = _write_ts(day)  # run 101500000 (10:15:00.000 local)
    state = tmp_path / "state"
    state.mkdir()
    csv_path = state / f"{camera.pk}-{stream.pk}-20260302-101500000.csv"
    csv_path.write_text("".join(f"{n},{a},{b}\n" for n, a, b in listed[:2]))
    recorder = Recorder(state_dir=state, min_free_bytes=0, refresh_coverage=False)
    assert recorder.recover() == 3  # two listed, the third probed after them
    rows = _segments(camera)
    assert [r.started_at for r in rows][:1] == [dt.datetime(2026, 3, 2, 10, 15, tzinfo=CST)]
    assert all(a.ended_at == b.started_at for a, b in itertools.pairwise(rows))
    assert {r.stream_session_id for r in rows} == {stream.pk}
    assert not csv_path.exists() and recorder.recover() == 0

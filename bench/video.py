#!/usr/bin/env python3
"""Benchmark: simultaneous camera streams through SkillGuard's video pipeline, against
nginx-rtmp alone in the same run.

    .venv/bin/python bench/video.py                  # N = 1, 2, 4, … 64 (cap --max-streams)
    .venv/bin/python bench/video.py --quick          # N = 1, 2, 4, shorter windows

One camera-like file (H.264 640x360 25 fps ~800 kbit/s + AAC) is encoded ONCE; each simulated
camera pushes it with ``ffmpeg -re -stream_loop -1 -c copy`` (no encoder running, so the
pushers cost little; their CPU is not counted: they stand in for the cameras).

For N = 1, 2, 4, 8, … (doubling, up to ``--max-streams``) and for two set-ups:

* **skillguard**: nginx-rtmp with SkillGuard's generated config (``on_publish`` /
  ``on_publish_done`` / ``on_update`` hooks into a real ``skillguard serve`` process, live
  HLS) + the real recorder process (``skillguard recorder``: one ``ffmpeg -c copy -f segment``
  per camera, segments indexed into PostgreSQL). Each camera is in service in its own room
  with a session scheduled now, so the recorder records every stream.
* **baseline**: nginx-rtmp alone with the same config minus the hooks (HLS only, no
  recorder, no SkillGuard process).

Per round: start the N pushes, wait until every stream is live (and, for skillguard,
being recorded), then measure a window of ``--window`` seconds:

* CPU seconds (user + system, psutil) of nginx (master + worker), of the recorder process
  and its ffmpeg children, and of the web server (the hooks) — per stream = total / N /
  window, as a percentage of one core;
* dropped segments: for each stream, the live HLS media seconds produced in the window
  (sum of ``#EXTINF`` of the new fragments, the playlist sampled every second; one
  fragment's length of slack since a window sees whole fragments) and, for skillguard, the recorded media seconds
  (``RecordingSegment`` rows of the camera clipped to the window, none damaged or lost, no
  ``RECORDER_CRASHED`` event). A stream is "dropped" if either falls below ``--min-ratio``
  (0.9) of the window;
* saturation: the CPU of the measured processes plus the pushers as a share of the whole
  machine; the run stops after a round with drops or above ``--cpu-limit`` (90 %). (The
  whole machine's CPU is printed too, but not used: on a shared machine other work fills
  it.)

Prints a table per set-up, the largest N with no dropped segment for each, and the ratio of
CPU per stream skillguard / baseline at each N both ran. PostgreSQL's own CPU is not counted
(it is shared with everything else on the machine); the hooks' web server is.
Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_city import _fresh_database

SEGMENT_SECONDS = 4  # recorder segment length in the bench (production: 60)


def _cpu_seconds(pids) -> dict[int, float]:
    import psutil

    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def _tree(pid) -> list[int]:
    import psutil

    try:
        p = psutil.Process(pid)
        return [pid] + [c.pid for c in p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _delta(before: dict, after: dict) -> float:
    return sum(after[p] - before.get(p, 0.0) for p in after)


_EXTINF = re.compile(r"#EXTINF:([\d.]+)")


def _hls_state(playlist: Path) -> dict[int, float]:
    """{media sequence number: duration} of the fragments listed now."""
    try:
        text = playlist.read_text()
    except OSError:
        return {}
    seq = 0
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    if m:
        seq = int(m.group(1))
    out, pending = {}, None
    for line in text.splitlines():
        m = _EXTINF.match(line.strip())
        if m:
            pending = float(m.group(1))
        elif line.strip() and not line.startswith("#") and pending is not None:
            out[seq] = pending
            seq += 1
            pending = None
    return out


def _hls_seconds(before: dict, after: dict) -> tuple[float, float]:
    """Media seconds of the fragments that appeared after ``before`` and the longest of
    them (the measurement's granularity: a window sees whole fragments only)."""
    last = max(before) if before else -1
    new = [d for s, d in after.items() if s > last]
    return sum(new), max(new, default=0.0)


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    print(f"  (timed out after {timeout}s waiting for {what})", flush=True)
    return False


def _terminate(proc, timeout=15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- fixtures


def build_cameras(n_max: int):
    """n_max cameras in service, each in its own room with a session scheduled now."""
    from django.utils import timezone

    from skillguard.cameras.testing import make_camera
    from skillguard.core.testing import build_world
    from skillguard.registry import services as registry
    from skillguard.registry.models import Session
    from skillguard.registry.seed import ensure_districts

    ensure_districts()
    world = build_world()
    side = world.a
    now = timezone.now()
    cameras = []
    for i in range(n_max):
        room = registry.add_room(None, side.venue, name=f"B{i + 1:03d}")
        Session.objects.create(training_class=side.approved_class,
                               district_id=side.district.pk, sequence=100 + i,
                               starts_at=now - dt.timedelta(minutes=30),
                               ends_at=now + dt.timedelta(hours=6), teacher=side.teacher,
                               room=room)
        cameras.append(make_camera(room))
    return cameras


# --------------------------------------------------------------------------- one round


def run_round(mode: str, n: int, cameras, source: Path, work: Path, args, env) -> dict:
    from skillguard.video.testing import free_port, media_stack, push_file, stop_stream

    root = work / f"{mode}-{n}"
    web = recorder = None
    pushes = []
    hook_base = None
    run_env = dict(env)
    if mode == "skillguard":
        web_port = free_port()
        hook_base = f"http://127.0.0.1:{web_port}"
    try:
        with media_stack(hook_base, root, hook_secret=env.get("SKILLGUARD_MEDIA_HOOK_SECRET", ""),
                         ) as media:
            run_env.update(SKILLGUARD_RTMP_PORT=str(media.rtmp_port),
                           SKILLGUARD_MEDIA_STAT_PORT=str(media.stat_port),
                           SKILLGUARD_VIDEO_ROOT=str(root),
                           SKILLGUARD_VIDEO_SEGMENT_SECONDS=str(SEGMENT_SECONDS),
                           SKILLGUARD_VIDEO_MIN_FREE_MB="64", SKILLGUARD_LOG_LEVEL="WARNING")
            if mode == "skillguard":
                web = subprocess.Popen([sys.executable, "-m", "skillguard.cli", "serve",
                                        "--port", str(web_port)], env=run_env,
                                       stdout=subprocess.DEVNULL,
                                       stderr=open(root / "web.log", "ab"))  # noqa: SIM115
                _wait(lambda: _port_open(web_port), 30, "the web server")
                recorder = subprocess.Popen(
                    [sys.executable, "-m", "skillguard.cli", "recorder", "--interval", "1"],
                    env=run_env, stdout=subprocess.DEVNULL,
                    stderr=open(root / "recorder.log", "ab"))  # noqa: SIM115
            chosen = cameras[:n]
            started = time.monotonic()
            for camera, key in chosen:
                pushes.append(push_file(media.publish_url(camera.stream_name, key), source,
                                        log=root / f"push-{camera.pk}.log"))
            playlists = [media.live_hls_playlist(c.stream_name) for c, _ in chosen]
            live = _wait(lambda: all(len(_hls_state(p)) >= 2 for p in playlists),
                         30 + 2 * n, "live HLS of every stream")
            if mode == "skillguard":
                from skillguard.video.models import CameraHealth

                live = live and _wait(lambda: CameraHealth.objects.filter(
                    camera_id__in=[c.pk for c, _ in chosen], recording=True).count() == n,
                    30 + 2 * n, "the recorder to record every stream")
                time.sleep(SEGMENT_SECONDS + 1)  # past the first (partial) segment
            startup_s = time.monotonic() - started

            import psutil

            def measured():
                pids = {"nginx": media.pids()}
                if recorder is not None:
                    pids["recorder"] = _tree(recorder.pid)
                    pids["web"] = _tree(web.pid)
                return pids

            pusher_pids = [p.pid for p in pushes]
            before = {k: _cpu_seconds(v) for k, v in measured().items()}
            pushers_before = _cpu_seconds(pusher_pids)
            hls_before = [_hls_state(p) for p in playlists]
            psutil.cpu_percent(None)
            t0_wall = dt.datetime.now(dt.UTC)
            t0 = time.monotonic()
            seen = [dict(h) for h in hls_before]  # playlists sampled every second: the
            while time.monotonic() - t0 < args.window:  # live list only holds ~20 s
                time.sleep(min(1.0, max(0.0, args.window - (time.monotonic() - t0))))
                for merged, p in zip(seen, playlists):
                    merged.update(_hls_state(p))
            window = time.monotonic() - t0
            t1_wall = dt.datetime.now(dt.UTC)
            machine = psutil.cpu_percent(None)
            after = {k: _cpu_seconds(v) for k, v in measured().items()}
            pushers_cpu = _delta(pushers_before, _cpu_seconds(pusher_pids))
            for merged, p in zip(seen, playlists):
                merged.update(_hls_state(p))
            hls_after = seen
            pushers_alive = sum(p.poll() is None for p in pushes)
            if mode == "skillguard":  # let the segments spanning t1 complete and be indexed
                time.sleep(SEGMENT_SECONDS + 2)
            for push in pushes:
                stop_stream(push)
            pushes = []
            cpu = {k: _delta(before.get(k, {}), after[k]) for k in after}
            hls = [_hls_seconds(b, a) for b, a in zip(hls_before, hls_after)]
            recorded = []
            problems = []
            if mode == "skillguard":
                _terminate(recorder)  # stops its ffmpeg cleanly and indexes what is left
                recorder = None
                recorded, problems = _recorded_seconds(chosen, t0_wall, t1_wall)
    finally:
        for push in pushes:
            stop_stream(push)
        _terminate(recorder)
        _terminate(web)
    limit = args.min_ratio * window
    # HLS: whole fragments only, so one fragment's length of slack; recordings are clipped
    # to the window exactly
    dropped = sum(1 for s, longest in hls if s + longest < limit)
    dropped += sum(1 for s in recorded if s < limit)
    dropped += len(problems) + (n - pushers_alive)
    total = sum(cpu.values())
    return {"mode": mode, "n": n, "window_s": round(window, 1), "startup_s": round(startup_s, 1),
            "live": live, "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "cpu_pct_per_stream": round(100 * total / window / n, 2),
            "machine_cpu_pct": machine, "load_avg": os.getloadavg()[0],
            "our_cpu_pct_of_machine": round(100 * (total + pushers_cpu) / window
                                            / (os.cpu_count() or 1), 1),
            "hls_s": [round(s, 1) for s, _ in hls],
            "recorded_s": [round(s, 1) for s in recorded], "problems": problems,
            "dropped": dropped if live else max(dropped, 1)}


def _port_open(port):
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def _recorded_seconds(chosen, t0, t1):
    """Recorded media seconds of each camera within [t0, t1) and the problems found."""
    from skillguard.video.models import (
        MediaEvent,
        MediaEventKind,
        RecordingSegment,
        SegmentStatus,
    )

    out, problems = [], []
    for camera, _ in chosen:
        rows = RecordingSegment.objects.filter(
            district_id=camera.district_id, camera_id=camera.pk,
            started_at__gte=t0 - dt.timedelta(minutes=5), started_at__lt=t1,
            ended_at__gt=t0)
        seconds = 0.0
        for seg in rows:
            if seg.status != SegmentStatus.COMPLETE:
                problems.append(f"camera {camera.pk}: segment {seg.started_at:%H:%M:%S} "
                                f"{seg.status}")
            lo, hi = max(seg.started_at, t0), min(seg.ended_at, t1)
            seconds += max(0.0, (hi - lo).total_seconds())
        out.append(seconds)
    for event in MediaEvent.objects.filter(kind=MediaEventKind.RECORDER_CRASHED,
                                           at__gte=t0, at__lt=t1):
        problems.append(f"recorder crashed: camera {event.camera_id} {event.reason}")
    return out, problems


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-streams", type=int, default=64)
    parser.add_argument("--min-streams", type=int, default=1, help="first N (then doubling)")
    parser.add_argument("--window", type=float, default=30.0,
                        help="measurement window per round, seconds")
    parser.add_argument("--min-ratio", type=float, default=0.9)
    parser.add_argument("--cpu-limit", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="N up to 4, 10 s windows")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_streams, args.window = min(args.max_streams, 4), 10.0

    nginx_ok = shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")
    if not (nginx_ok and os.path.exists("/usr/lib/nginx/modules/ngx_rtmp_module.so")
            and shutil.which("ffmpeg")):
        print("video benchmark skipped: nginx, its RTMP module or ffmpeg is not installed")
        print("RESULT " + json.dumps({"skipped": True}))
        return 0

    cleanup, where = _fresh_database(args.keep)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillguard.settings")
    import django

    django.setup()
    import logging

    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command

    from skillguard.video.testing import make_test_file

    work = Path(tempfile.mkdtemp(prefix="video-", dir=settings.DATA_DIR))
    try:
        call_command("migrate", verbosity=0, interactive=False)
        sizes = []
        n = max(1, args.min_streams)
        while n <= args.max_streams:
            sizes.append(n)
            n *= 2
        cameras = build_cameras(sizes[-1])
        source = make_test_file(work / "camera.flv", seconds=20)
        env = {**os.environ, "SKILLGUARD_MEDIA_HOOK_SECRET": settings.MEDIA_HOOK_SECRET,
               "DATABASE_URL": os.environ.get("DATABASE_URL", "")}
        if not env["DATABASE_URL"]:
            env.pop("DATABASE_URL")
        print(f"video benchmark — N = {', '.join(map(str, sizes))}, window {args.window:.0f} s, "
              f"{os.cpu_count()} CPUs, {where}", flush=True)
        print(f"test stream: {source.stat().st_size * 8 / 20 / 1000:.0f} kbit/s "
              f"640x360 25 fps H.264 + AAC, pushed with -c copy", flush=True)
        results = {"skillguard": [], "baseline": []}
        for mode in ("baseline", "skillguard"):
            for n in sizes:
                r = run_round(mode, n, cameras, source, work, args, env)
                results[mode].append(r)
                print(f"  {mode:10s} N={n:3d}  CPU/stream {r['cpu_pct_per_stream']:6.2f} % "
                      f"of a core  ({', '.join(f'{k} {v:.1f}s' for k, v in r['cpu_s'].items())})"
                      f"  streams+pushers {r['our_cpu_pct_of_machine']:4.1f} % of the machine"
                      f" (all processes {r['machine_cpu_pct']:5.1f} %, load {r['load_avg']:.1f})"
                      f"  dropped {r['dropped']}"
                      f"  hls min {min(r['hls_s'] or [0]):.1f}s"
                      + (f"  recorded min {min(r['recorded_s'] or [0]):.1f}s"
                         if r['recorded_s'] else "")
                      + (f"  problems {r['problems'][:3]}" if r['problems'] else ""),
                      flush=True)
                if r["dropped"] or r["our_cpu_pct_of_machine"] >= args.cpu_limit:
                    break
        report = summarise(results)
        print(report["text"])
        print("RESULT " + json.dumps({k: v for k, v in report.items() if k != "text"}))
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        cleanup()
    return 0


def summarise(results) -> dict:
    def largest_clean(rows):
        clean = [r["n"] for r in rows if not r["dropped"]]
        return max(clean) if clean else 0

    sg, base = results["skillguard"], results["baseline"]
    ratios = {}
    for r in sg:
        b = next((x for x in base if x["n"] == r["n"]), None)
        if b and b["cpu_pct_per_stream"] > 0:
            ratios[r["n"]] = round(r["cpu_pct_per_stream"] / b["cpu_pct_per_stream"], 2)
    lines = ["", "| N | baseline CPU/stream | SkillGuard CPU/stream | ratio | dropped (base / SG) |",
             "|---|---|---|---|---|"]
    for r in sg:
        b = next((x for x in base if x["n"] == r["n"]), None)
        lines.append(f"| {r['n']} | {b['cpu_pct_per_stream'] if b else '—'} % | "
                     f"{r['cpu_pct_per_stream']} % | {ratios.get(r['n'], '—')} | "
                     f"{b['dropped'] if b else '—'} / {r['dropped']} |")
    largest = {"skillguard": largest_clean(sg), "baseline": largest_clean(base)}
    lines.append(f"\nlargest N with no dropped segment: SkillGuard {largest['skillguard']}, "
                 f"nginx-rtmp alone {largest['baseline']} (cap: the largest N tried)")
    return {"text": "\n".join(lines), "largest_n": largest, "ratio_cpu_per_stream": ratios,
            "rounds": results}


if __name__ == "__main__":
    sys.exit(main())

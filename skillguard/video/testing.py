"""Test helpers for the video pipeline: a real nginx-rtmp and synthetic camera streams.

    from skillguard.video.testing import media_stack, push_test_stream, wait_for

    def test_something(live_server, tmp_path, settings):
        require_binary(...)                      # nginx, the RTMP module, ffmpeg
        settings.VIDEO_ROOT = tmp_path / "video"  # so SkillGuard looks where nginx writes
        with media_stack(live_server.url, tmp_path / "video") as media:
            push = push_test_stream(media.publish_url(camera.stream_name, key), seconds=6)
            wait_for(lambda: media.live_hls_playlist(camera.stream_name).exists(), 10)
            ...
            stop_stream(push)

``media_stack(hook_base_url, root)`` starts nginx with SkillGuard's generated configuration
on free ports: live HLS under ``root/hls/<stream>/``, nginx's prefix (config, pid, error log)
under ``root/nginx/``. ``hook_base_url`` is SkillGuard's base URL (``live_server.url``): the
callbacks go to ``<base>/video/hooks/…?secret=<settings.MEDIA_HOOK_SECRET>``; ``None`` runs
nginx-rtmp with no callbacks (every push accepted). It yields the ``NginxRtmpAdapter``
(``publish_url``, ``pull_url``, ``live_hls_dir``, ``live_streams()``, ``error_log``,
``rtmp_port``) and stops nginx on exit, whatever happened.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from skillguard.video.media.nginx_rtmp import NginxRtmpAdapter

FFMPEG = "ffmpeg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hook_secret() -> str:
    try:
        from django.conf import settings

        return settings.MEDIA_HOOK_SECRET
    except Exception:  # noqa: BLE001 - usable without Django (bench baseline)
        return ""


@contextlib.contextmanager
def media_stack(hook_base_url: str | None, root: Path | str, *, hls: bool = True,
                hook_secret: str | None = None) -> Iterator[NginxRtmpAdapter]:
    root = Path(root)
    media = NginxRtmpAdapter(
        prefix=root / "nginx", video_root=root, rtmp_port=free_port(), stat_port=free_port(),
        hook_base_url=hook_base_url, listen_host="127.0.0.1", hls=hls,
        hook_secret=_hook_secret() if hook_secret is None else hook_secret)
    media.start()
    try:
        yield media
    finally:
        media.stop()


def push_test_stream(rtmp_url: str, seconds: float | None = None, *, size: str = "640x360",
                     rate: int = 25, log: Path | str | None = None) -> subprocess.Popen:
    """A synthetic camera: ffmpeg test pattern + tone, H.264/AAC, pushed in real time.

    Runs ``seconds`` (None: until stopped with ``stop_stream``). stderr goes to ``log``
    (or is dropped) so a long push never blocks on a full pipe."""
    command = [shutil.which(FFMPEG) or FFMPEG, "-hide_banner", "-nostats", "-loglevel", "error",
               "-nostdin", "-re",
               "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    if seconds is not None:
        command += ["-t", str(seconds)]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                "-pix_fmt", "yuv420p", "-g", str(rate * 2), "-b:v", "800k",
                "-c:a", "aac", "-b:a", "64k", "-f", "flv", rtmp_url]
    return _popen(command, log)


def make_test_file(path: Path | str, seconds: float = 20, *, size: str = "640x360",
                   rate: int = 25) -> Path:
    """Encode a camera-like FLV once (for pushes with ``push_file``, no encoder running)."""
    path = Path(path)
    subprocess.run([shutil.which(FFMPEG) or FFMPEG, "-hide_banner", "-loglevel", "error",
                    "-nostdin", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", "-g", str(rate * 2), "-b:v", "800k",
                    "-c:a", "aac", "-b:a", "64k", "-f", "flv", str(path)], check=True)
    return path


def push_file(rtmp_url: str, path: Path | str, *, log: Path | str | None = None,
              seconds: float | None = None) -> subprocess.Popen:
    """Push a pre-encoded file in a loop, in real time, without re-encoding."""
    command = [shutil.which(FFMPEG) or FFMPEG, "-hide_banner", "-nostats", "-loglevel",
               "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", str(path)]
    if seconds is not None:
        command += ["-t", str(seconds)]
    command += ["-c", "copy", "-f", "flv", rtmp_url]
    return _popen(command, log)


def _popen(command: list[str], log) -> subprocess.Popen:
    err = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
    finally:
        if log:
            err.close()


def stop_stream(process: subprocess.Popen, timeout: float = 10) -> int | None:
    """End a push cleanly (SIGINT: ffmpeg closes the RTMP stream, so publish_done fires)."""
    if process.poll() is None:
        try:
            os.kill(process.pid, signal.SIGINT)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        except ProcessLookupError:
            pass
    return process.returncode


def wait_for(predicate: Callable[[], object], timeout: float = 15, interval: float = 0.2,
             message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def hls_fragments(directory: Path | str) -> list[Path]:
    return sorted(Path(directory).glob("*.ts"))

"""The media-server adapter: what SkillGuard needs from the server cameras push to.

SkillGuard never talks to a media server directly: it asks an adapter, chosen by the setting
``SKILLGUARD_MEDIA_SERVER`` (default ``nginx-rtmp``) from ``ADAPTERS``. An adapter

* renders the server's configuration from SkillGuard's settings (ports, where live HLS goes,
  the callback URLs carrying the hook secret) — ``render_config``;
* starts and stops the server process and says whether it runs — ``start``, ``stop``,
  ``is_running``;
* reports the streams being pushed now with their byte counts — ``live_streams``;
* names the URL a camera pushes to (``publish_url``), the URL the recorder pulls a live
  stream from (``pull_url``) and the directory of a stream's live HLS (``live_hls_dir``).

The server's decisions go through SkillGuard's hooks (``video.hooks``: publish, publish
done, update), which call ``services_ingest`` — the adapter only translates the server's
callback format into those calls.

Plugging in a GB/T 28181 server (e.g. a SIP platform such as ZLMediaKit with its GB28181
module, or WVP): write ``gb28181.py`` with a ``MediaServerAdapter`` subclass whose
``render_config`` writes that server's config (SIP domain and port, the RTP port range, its
web-hook URLs pointing at SkillGuard), whose ``publish_url`` returns the SIP device ID /
channel a camera registers with instead of an RTMP URL (the device ID takes the place of
``Camera.stream_name`` and the SIP registration password that of the stream key), whose
``live_streams`` reads the server's REST API, and whose ``pull_url`` gives the RTMP/RTSP
re-stream the server offers for each channel so the recorder is unchanged. Its hook view
(``on_publish`` / ``on_stream_changed`` style callbacks) maps the server's JSON to
``services_ingest.authorise_publish`` / ``publish_done`` / ``heartbeat``. Register it in
``ADAPTERS`` and set ``SKILLGUARD_MEDIA_SERVER=gb28181``; nothing else moves.
"""
from __future__ import annotations

import importlib
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

ADAPTERS = {
    "nginx-rtmp": "skillguard.video.media.nginx_rtmp.NginxRtmpAdapter",
}

HOOK_PATHS = {"publish": "/video/hooks/publish", "publish_done": "/video/hooks/publish-done",
              "update": "/video/hooks/update"}


@dataclass
class StreamStats:
    name: str
    publishing: bool
    bytes_in: int
    bw_in_kbps: int  # bitrate in, kbit/s, as the server measures it
    uptime_s: float
    clients: int
    client_addr: str = ""


class MediaServerAdapter(ABC):
    """One media server installation: its config, its process, its streams."""

    name = "abstract"

    def __init__(self, *, prefix: Path | str, video_root: Path | str, rtmp_port: int,
                 stat_port: int, hook_base_url: str | None, hook_secret: str = "",
                 public_host: str = "127.0.0.1", listen_host: str = "0.0.0.0",
                 hls: bool = True):
        self.prefix = Path(prefix).resolve()
        self.video_root = Path(video_root).resolve()
        self.hls_root = self.video_root / "hls"
        self.rtmp_port = int(rtmp_port)
        self.stat_port = int(stat_port)
        self.hook_base_url = hook_base_url.rstrip("/") if hook_base_url else None
        self.hook_secret = hook_secret
        self.public_host = public_host
        self.listen_host = listen_host
        self.hls = hls

    # ---- configuration -------------------------------------------------------------
    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this server can run here; (False, one-line reason) when not."""
        return True, ""

    @abstractmethod
    def render_config(self) -> str:
        """The server's configuration text for these settings."""

    def hook_url(self, which: str) -> str | None:
        if not self.hook_base_url:
            return None
        return f"{self.hook_base_url}{HOOK_PATHS[which]}?secret={self.hook_secret}"

    # ---- process -------------------------------------------------------------------
    @abstractmethod
    def start(self) -> None:
        """Write the config and start the server; returns once it accepts connections."""

    @abstractmethod
    def stop(self, timeout: float = 10) -> None:
        """Stop the server (idempotent)."""

    @abstractmethod
    def is_running(self) -> bool:
        """Whether the server runs now (also when started by another process)."""

    # ---- streams -------------------------------------------------------------------
    @abstractmethod
    def live_streams(self) -> dict[str, StreamStats]:
        """The streams being published now, by stream name."""

    def publish_url(self, stream_name: str, key: str | None = None) -> str:
        """Where a camera pushes (``key`` left as ``<stream key>`` when not given)."""
        return (f"rtmp://{self.public_host}:{self.rtmp_port}/live/{stream_name}"
                f"?key={key if key is not None else '<stream key>'}")

    def pull_url(self, stream_name: str) -> str:
        """Where the recorder and snapshots read a live stream (localhost)."""
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{stream_name}"

    def live_hls_dir(self, stream_name: str) -> Path:
        return self.hls_root / stream_name

    def live_hls_playlist(self, stream_name: str) -> Path:
        return self.live_hls_dir(stream_name) / "index.m3u8"

    def accepts_connections(self, timeout: float = 0.5) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.rtmp_port), timeout=timeout):
                return True
        except OSError:
            return False


def adapter_class(name: str | None = None) -> type[MediaServerAdapter]:
    from django.conf import settings

    name = name or settings.MEDIA_SERVER
    try:
        dotted = ADAPTERS[name]
    except KeyError:
        raise ValueError(f"Unknown media server {name!r} (SKILLGUARD_MEDIA_SERVER); "
                         f"known: {', '.join(ADAPTERS)}") from None
    module, _, cls = dotted.rpartition(".")
    return getattr(importlib.import_module(module), cls)


def get_adapter(name: str | None = None, **overrides) -> MediaServerAdapter:
    """The configured media server's adapter, from settings (overrides win)."""
    from django.conf import settings

    options = {"prefix": settings.DATA_DIR / "media-server",
               "video_root": settings.VIDEO_ROOT, "rtmp_port": settings.RTMP_PORT,
               "stat_port": settings.MEDIA_STAT_PORT, "hook_base_url": None,
               "hook_secret": settings.MEDIA_HOOK_SECRET,
               "public_host": settings.RTMP_PUBLIC_HOST}
    options.update(overrides)
    return adapter_class(name)(**options)

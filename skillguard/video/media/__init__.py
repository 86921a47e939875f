"""Media-server adapters (how SkillGuard drives the server cameras push to)."""
from skillguard.video.media.base import MediaServerAdapter, StreamStats, get_adapter

__all__ = ["MediaServerAdapter", "StreamStats", "get_adapter"]

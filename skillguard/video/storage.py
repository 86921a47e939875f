"""Where recordings live: two storage tiers behind one small interface.

``online``   where the recorder writes (fast local disks): ``<VIDEO_ROOT>/online`` unless
             ``SKILLGUARD_VIDEO_ONLINE_ROOT`` names another directory.
``archive``  where segments older than ``SKILLGUARD_VIDEO_ONLINE_DAYS`` (90) go, kept until
             ``SKILLGUARD_VIDEO_ARCHIVE_YEARS`` (5): ``<VIDEO_ROOT>/archive`` unless
             ``SKILLGUARD_VIDEO_ARCHIVE_ROOT`` names another one (a cheaper mount).

``RecordingSegment.path`` is relative to its tier's root (``<camera>/<YYYYMMDD>/<file>.ts``)
and ``RecordingSegment.tier`` names the tier, so moving a tier (another mount, another
backend) never rewrites rows.

The backend is chosen by ``SKILLGUARD_VIDEO_STORAGE`` (``BACKENDS``); only ``local`` exists.

An S3-compatible backend (not built) would implement ``StorageBackend`` for the archive tier:
``put`` = ``PutObject`` (multipart above 64 MiB) with the key ``<prefix>/<path>``,
``open`` = a streaming ``GetObject`` body, ``exists`` = ``HeadObject``, ``delete`` =
``DeleteObject``, ``locate`` = a presigned GET URL (ffmpeg reads ``https://`` inputs, so
clips cut from archived segments keep working), ``local_path`` = None, ``free_bytes`` =
a configured quota minus usage (or "unlimited"). ``copy_in`` uploads then verifies the
object's size (and ETag/MD5) before returning — the same "durable before the row moves"
guarantee that ``fsync`` gives locally. The online tier stays local: ffmpeg writes there.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings

ONLINE = "online"
ARCHIVE = "archive"
TIERS = (ONLINE, ARCHIVE)


class StorageError(Exception):
    pass


class StorageBackend:
    """One tier's store of segment files, addressed by a relative POSIX path."""

    tier: str = ONLINE

    def put(self, path: str, source: Path | str, *, move: bool = False) -> int:
        """Store the local file ``source`` at ``path`` durably; returns its size."""
        raise NotImplementedError

    def copy_in(self, path: str, other: StorageBackend) -> int:
        """Copy ``path`` from another tier's backend into this one, durably; its size."""
        raise NotImplementedError

    def open(self, path: str) -> BinaryIO:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def delete(self, path: str) -> bool:
        """Remove the file; False when there was none."""
        raise NotImplementedError

    def size(self, path: str) -> int | None:
        raise NotImplementedError

    def locate(self, path: str) -> str:
        """What ffmpeg/ffprobe can read: a local path or a URL."""
        raise NotImplementedError

    def local_path(self, path: str) -> Path | None:
        """The file on this machine, or None for a remote tier."""
        return None

    def free_bytes(self) -> int:
        raise NotImplementedError


def _clean(path: str) -> PurePosixPath:
    rel = PurePosixPath(str(path))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise StorageError(f"not a relative segment path: {path!r}")
    return rel


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(StorageBackend):
    """A directory on a local (or mounted) filesystem."""

    def __init__(self, root: Path | str, tier: str = ONLINE):
        self.root = Path(root)
        self.tier = tier

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r}, {self.tier!r})"

    def _full(self, path: str) -> Path:
        return self.root.joinpath(*_clean(path).parts)

    def local_path(self, path: str) -> Path:
        return self._full(path)

    def locate(self, path: str) -> str:
        return str(self._full(path))

    def exists(self, path: str) -> bool:
        return self._full(path).is_file()

    def size(self, path: str) -> int | None:
        try:
            return self._full(path).stat().st_size
        except OSError:
            return None

    def open(self, path: str) -> BinaryIO:
        return open(self._full(path), "rb")

    def _write_durably(self, path: str, copy) -> int:
        """Write through a temporary name, fsync the file, rename, fsync the directory:
        after a crash the target is either absent or complete, never half-written."""
        target = self._full(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        with open(tmp, "wb") as out:
            copy(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return target.stat().st_size

    def put(self, path: str, source: Path | str, *, move: bool = False) -> int:
        source = Path(source)
        if move and source.resolve() == self._full(path).resolve():
            return source.stat().st_size
        with open(source, "rb") as src:
            size = self._write_durably(path, lambda out: shutil.copyfileobj(src, out, 1 << 20))
        if move:
            source.unlink()
        return size

    def copy_in(self, path: str, other: StorageBackend) -> int:
        with other.open(path) as src:
            size = self._write_durably(path, lambda out: shutil.copyfileobj(src, out, 1 << 20))
        expected = other.size(path)
        if expected is not None and expected != size:
            raise StorageError(f"{path}: copied {size} bytes of {expected}")
        return size

    def delete(self, path: str) -> bool:
        target = self._full(path)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        for parent in (target.parent, target.parent.parent):  # empty day / camera folders
            try:
                if parent != self.root:
                    parent.rmdir()
            except OSError:
                break
        return True

    def free_bytes(self) -> int:
        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return shutil.disk_usage(probe).free


def tier_root(tier: str) -> Path:
    """The local directory of a tier (settings, read at call time: tests move VIDEO_ROOT)."""
    if tier not in TIERS:
        raise StorageError(f"unknown storage tier {tier!r}")
    explicit = getattr(settings, f"VIDEO_{tier.upper()}_ROOT", None)
    return Path(explicit) if explicit else Path(settings.VIDEO_ROOT) / tier


BACKENDS = {"local": LocalStorage}


def backend_for(tier: str) -> StorageBackend:
    kind = getattr(settings, "VIDEO_STORAGE", "local") or "local"
    try:
        cls = BACKENDS[kind]
    except KeyError:
        raise StorageError(f"SKILLGUARD_VIDEO_STORAGE={kind!r}: no such backend "
                           f"(known: {', '.join(sorted(BACKENDS))})") from None
    return cls(tier_root(tier), tier)


def local_path(segment) -> Path | None:
    """The file of a ``RecordingSegment`` on this machine (None for a remote tier)."""
    return backend_for(segment.tier).local_path(segment.path)


def locate(segment) -> str:
    """What ffmpeg can read for a ``RecordingSegment`` (path or URL), whatever its tier."""
    return backend_for(segment.tier).locate(segment.path)


def open_segment(segment) -> BinaryIO:
    return backend_for(segment.tier).open(segment.path)

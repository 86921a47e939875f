"""The recording supervisor (``skillguard recorder``): one plain process, one ffmpeg per
camera being recorded, polled every ~2 s.

Every ``tick(now)``:

1. **Which cameras should record**: a camera with an open ``StreamSession`` (its stream is
   live) whose room has a session of a held class (approved, in progress, finished)
   scheduled now, widened by ``VIDEO_RECORD_BEFORE_MIN`` / ``VIDEO_RECORD_AFTER_MIN``.
2. **Free space** of the online tier: below ``VIDEO_MIN_FREE_MB`` a ``DISK_FULL``
   MediaEvent is written (once per episode) and ``CameraHealth.last_error`` of the cameras
   that cannot start says so; no new recording starts, running ones go on, nothing is
   deleted.
3. **Each running ffmpeg**: the segments its segment list (CSV) names as finished are
   indexed (``indexing.index_segments``, in bulk). If the camera should not record any more
   (session window over, stream ended, another stream session) ffmpeg is stopped with
   SIGTERM — it closes the current segment and lists it — and the rest is indexed. If
   ffmpeg exited on its own while the stream is live: ``RECORDER_CRASHED`` with the tail of
   its stderr, what it wrote is indexed (a half-written last segment as ``damaged``), and it
   is restarted after a backoff (2, 4, 8 … 60 s). A clean exit (status 0: the input ended,
   the stream's publish_done not yet processed) is restarted once quietly; a second one in
   a row is reported like a crash.
4. **Start** ffmpeg for the cameras that should record and do not (stream copy, never
   re-encoded)::

       ffmpeg -nostdin -i rtmp://127.0.0.1:<port>/live/<stream> -map 0 -c copy -f segment
              -segment_time <N> -segment_format mpegts -reset_timestamps 1
              -segment_list <csv> -segment_list_type csv
              <online>/<camera>/<YYYYMMDD>/<HHMMSSmmm>-%05d.ts

   Files are numbered per run (the run's local launch time + a counter) rather than named by
   ``-strftime``: two segments cut within one second cannot overwrite each other, and the
   day's directory exists before ffmpeg writes (the segment muxer cannot create it).
5. ``CameraHealth.recording`` follows the set of running recorders.

Wall-clock times: segment *k* of a run starts at ``launch + (start_k − start_0)`` where
``start_k`` is its time in the segment list, so consecutive segments of a run join exactly;
the launch time (ms) and the stream session are in the CSV's name, so a recorder restarted
after a crash (``recover()``) indexes what an earlier one left, the same way.

SIGTERM / SIGINT: every ffmpeg is stopped cleanly and what is complete is indexed.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger("skillguard.recorder")

DISK_FULL_PREFIX = "录像存储空间不足 / Recording storage full"
_CSV_NAME = re.compile(r"^(?P<camera>\d+)-(?P<stream>\d+)-(?P<day>\d{8})-(?P<run>\d{9})\.csv$")


@dataclass(frozen=True)
class CameraRef:
    pk: int
    district_id: int
    institution_id: int


@dataclass(frozen=True)
class Wanted:
    camera: CameraRef
    stream_name: str
    stream_session_id: int


@dataclass
class Job:
    """One ffmpeg run recording one camera."""
    camera: CameraRef
    stream_name: str
    stream_session_id: int
    launched_at: dt.datetime
    day: str  # YYYYMMDD (local) of the launch: the run's directory
    run: str  # HHMMSSmmm (local) of the launch: the files' prefix
    csv_path: Path
    log_path: Path
    proc: subprocess.Popen | None = None
    csv_offset: int = 0
    first_start: float | None = None  # segment-list time of the run's first segment
    last_end: dt.datetime | None = None
    listed: set = field(default_factory=set)

    @property
    def directory(self) -> str:
        return f"{self.camera.pk}/{self.day}"

    def rel(self, name: str) -> str:
        return f"{self.directory}/{name}"


def _stderr_tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _die_with_parent():  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM if the recorder dies (no orphan ffmpeg recording)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001, S110 - not Linux: the child outlives a killed recorder
        pass


class Recorder:
    def __init__(self, *, pull_url=None, ffmpeg: str | None = None,
                 segment_seconds: int | None = None, min_free_bytes: int | None = None,
                 state_dir: Path | str | None = None, backoff_max: float = 60.0,
                 refresh_coverage: bool = True):
        from django.conf import settings

        self.settings = settings
        self._pull_url = pull_url
        self.ffmpeg = ffmpeg or getattr(settings, "FFMPEG_BINARY", "ffmpeg")
        self.segment_seconds = segment_seconds or settings.VIDEO_SEGMENT_SECONDS
        self.min_free_bytes = (min_free_bytes if min_free_bytes is not None
                               else settings.VIDEO_MIN_FREE_MB * 1024 * 1024)
        self.state_dir = Path(state_dir or Path(settings.VIDEO_ROOT) / "recorder")
        self.backoff_max = backoff_max
        self.refresh_coverage = refresh_coverage
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.jobs: dict[int, Job] = {}
        self.retry_at: dict[int, dt.datetime] = {}
        self.failures: dict[int, int] = {}
        self.disk_full = False
        self._recording: set[int] | None = None
        self._blocked: set[int] = set()
        self.stopping = False

    # ------------------------------------------------------------------ helpers

    def pull_url(self, stream_name: str) -> str:
        """Where ffmpeg reads the live stream: the media-server adapter's ``pull_url``."""
        if self._pull_url is None:
            try:
                from skillguard.video.media.base import get_adapter

                self._pull_url = get_adapter().pull_url
            except Exception:  # noqa: BLE001 - an adapter that cannot be built: nginx-rtmp's
                port = self.settings.RTMP_PORT
                self._pull_url = lambda name: f"rtmp://127.0.0.1:{port}/live/{name}"
        return self._pull_url(stream_name)

    @property
    def online(self):
        from skillguard.video import storage

        return storage.backend_for(storage.ONLINE)

    @property
    def online_root(self) -> Path:
        from skillguard.video import storage

        return storage.tier_root(storage.ONLINE)

    def _event(self, kind, camera: CameraRef | None, reason: str, detail: dict,
               now: dt.datetime, stream_name: str = ""):
        from skillguard.video.models import MediaEvent

        MediaEvent.objects.create(
            at=now, kind=kind, camera_id=camera.pk if camera else None,
            district_id=camera.district_id if camera else None,
            institution_id=camera.institution_id if camera else None,
            stream_name=stream_name, reason=reason, detail=detail)

    def wanted(self, now: dt.datetime) -> dict[int, Wanted]:
        """Cameras whose stream is live and whose room has a session scheduled now."""
        from django.db import connection

        settings = self.settings
        with connection.cursor() as cur:
            cur.execute("""
                SELECT DISTINCT ON (cam.id) cam.id, cam.district_id, cam.institution_id,
                       cam.stream_name, ss.id
                FROM video_streamsession ss
                JOIN cameras_camera cam ON cam.id = ss.camera_id
                JOIN registry_session s ON s.room_id = cam.room_id
                JOIN registry_trainingclass c ON c.id = s.training_class_id
                WHERE ss.ended_at IS NULL
                  AND c.status IN ('approved', 'in_progress', 'finished')
                  AND s.starts_at - make_interval(mins => %s) <= %s
                  AND s.ends_at + make_interval(mins => %s) > %s
                ORDER BY cam.id, ss.started_at DESC""",
                        [settings.VIDEO_RECORD_BEFORE_MIN, now,
                         settings.VIDEO_RECORD_AFTER_MIN, now])
            rows = cur.fetchall()
        return {r[0]: Wanted(CameraRef(r[0], r[1], r[2]), r[3], r[4]) for r in rows}

    # ------------------------------------------------------------------ the loop body

    def tick(self, now: dt.datetime | None = None) -> dict:
        """One pass of the supervisor; returns what it did (for logs and tests)."""
        from django.db import close_old_connections, connection
        from django.utils import timezone

        if not connection.in_atomic_block:  # a long-lived process: drop a dead connection
            close_old_connections()
        now = now or timezone.now()
        done = {"started": [], "stopped": [], "crashed": [], "indexed": 0, "disk_full": False}
        wanted = self.wanted(now)
        # A camera no longer wanted (its stream ended, its session is over) starts its next
        # recording with a clean slate: an earlier quiet end of input is not a first strike.
        for camera_id in [c for c in self.failures if c not in wanted and c not in self.jobs]:
            self.failures.pop(camera_id, None)
            self.retry_at.pop(camera_id, None)
        disk_ok = self._check_disk(wanted, now, done)
        ending = []
        for camera_id, job in list(self.jobs.items()):
            done["indexed"] += self._collect(job)
            want = wanted.get(camera_id)
            returncode = job.proc.poll() if job.proc else 0
            if want is None or want.stream_session_id != job.stream_session_id:
                self._signal(job)  # all at once; then each is waited for below
                ending.append(job)
            elif returncode is not None:
                done["indexed"] += self._crashed(job, returncode, now)
                del self.jobs[camera_id]
                done["crashed"].append(camera_id)
        deadline = time.monotonic() + 10
        for job in ending:
            done["indexed"] += self._stop(job, deadline=deadline)
            del self.jobs[job.camera.pk]
            self.failures.pop(job.camera.pk, None)
            done["stopped"].append(job.camera.pk)
            self._after_stream(job)
        for camera_id, want in wanted.items():
            if camera_id in self.jobs or not disk_ok:
                continue
            if self.retry_at.get(camera_id) and self.retry_at[camera_id] > now:
                continue
            self._start(want, now)
            done["started"].append(camera_id)
        for camera_id in list(self.retry_at):
            if camera_id not in wanted:
                self.retry_at.pop(camera_id)
        self._sync_health(wanted, disk_ok)
        return done

    def run(self, interval: float = 2.0) -> None:
        self.recover()
        while not self.stopping:
            started = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("recorder pass failed")
            while not self.stopping and time.monotonic() - started < interval:
                time.sleep(0.1)
        self.stop_all()

    # ------------------------------------------------------------------ disk

    def _check_disk(self, wanted, now, done) -> bool:
        from skillguard.video.models import CameraHealth, MediaEventKind

        free = self.online.free_bytes()
        ok = free >= self.min_free_bytes
        if not ok:
            done["disk_full"] = True
            blocked = set(wanted) - set(self.jobs)
            if not self.disk_full:
                log.error("recording storage full: %d MB free, %d MB needed", free >> 20,
                          self.min_free_bytes >> 20)
                self._event(MediaEventKind.DISK_FULL, None, "below_threshold",
                            {"free_bytes": free, "threshold_bytes": self.min_free_bytes,
                             "root": str(self.online_root),
                             "cameras_waiting": sorted(blocked)}, now)
            if blocked != self._blocked and blocked:
                message = (f"{DISK_FULL_PREFIX}: {free >> 20} MB < "
                           f"{self.min_free_bytes >> 20} MB")[:200]
                CameraHealth.objects.bulk_create(
                    [CameraHealth(camera_id=w.camera.pk, district_id=w.camera.district_id,
                                  institution_id=w.camera.institution_id, last_error=message)
                     for c, w in wanted.items() if c in blocked],
                    update_conflicts=True, unique_fields=["camera"],
                    update_fields=["last_error", "updated_at"])
            self._blocked = blocked
        elif self.disk_full:
            log.info("recording storage has room again: %d MB free", free >> 20)
            CameraHealth.objects.filter(last_error__startswith=DISK_FULL_PREFIX).update(
                last_error="")
            self._blocked = set()
        self.disk_full = not ok
        return ok

    # ------------------------------------------------------------------ ffmpeg runs

    def _start(self, want: Wanted, now: dt.datetime) -> Job:
        from skillguard.video.models import MediaEventKind

        local = now.astimezone(self.tz)
        day, run = local.strftime("%Y%m%d"), local.strftime("%H%M%S") + f"{local.microsecond // 1000:03d}"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{want.camera.pk}-{want.stream_session_id}-{day}-{run}"
        job = Job(camera=want.camera, stream_name=want.stream_name,
                  stream_session_id=want.stream_session_id, launched_at=now, day=day, run=run,
                  csv_path=self.state_dir / f"{stem}.csv", log_path=self.state_dir / f"{stem}.log")
        out_dir = self.online.local_path(job.directory)
        out_dir.mkdir(parents=True, exist_ok=True)
        command = [self.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
                   "-rw_timeout", "15000000", "-i", self.pull_url(want.stream_name),
                   "-map", "0", "-c", "copy", "-f", "segment",
                   "-segment_time", str(self.segment_seconds), "-segment_format", "mpegts",
                   "-reset_timestamps", "1", "-segment_list", str(job.csv_path),
                   "-segment_list_type", "csv", str(out_dir / f"{run}-%05d.ts")]
        with open(job.log_path, "ab") as err:
            job.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err,
                                        start_new_session=True,
                                        preexec_fn=_die_with_parent)  # noqa: PLW1509
        self.jobs[want.camera.pk] = job
        self.retry_at.pop(want.camera.pk, None)
        self._event(MediaEventKind.RECORDER_STARTED, want.camera, "",
                    {"stream_session_id": want.stream_session_id, "run": stem,
                     "pid": job.proc.pid, "restarts": self.failures.get(want.camera.pk, 0)},
                    now, stream_name=want.stream_name)
        log.info("camera %s: recording %s (pid %s)", want.camera.pk, want.stream_name,
                 job.proc.pid)
        return job

    def _read_csv(self, job: Job, final: bool = False) -> list:
        """New complete lines of the run's segment list, as SegmentFiles."""
        from skillguard.video.indexing import SegmentFile

        try:
            with open(job.csv_path, "rb") as fh:
                fh.seek(job.csv_offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        if final and end < len(data):
            end = len(data)
        job.csv_offset += end
        files = []
        for row in csv.reader(data[:end].decode("utf-8", "replace").splitlines()):
            if len(row) < 3:
                continue
            name, start, stop = row[0], float(row[1]), float(row[2])
            if job.first_start is None:
                job.first_start = start
            started = job.launched_at + dt.timedelta(seconds=start - job.first_start)
            ended = job.launched_at + dt.timedelta(seconds=stop - job.first_start)
            job.listed.add(name)
            job.last_end = ended
            files.append(SegmentFile(job.rel(name), started, ended, listed=True))
        return files

    def _index(self, job: Job, files) -> int:
        from skillguard.video.indexing import index_segments

        if not files:
            return 0
        return len(index_segments(job.camera, job.stream_session_id, files))

    def _collect(self, job: Job) -> int:
        return self._index(job, self._read_csv(job))

    def _leftovers(self, job: Job) -> list:
        """Files of the run its segment list does not name (the one being written when
        ffmpeg died): indexed after a probe, starting where the listed ones ended. An empty
        file (0 bytes: nothing was recorded in it) is removed instead."""
        from skillguard.video.indexing import SegmentFile

        directory = self.online.local_path(job.directory)
        files = []
        start = job.last_end or job.launched_at
        for path in sorted(directory.glob(f"{job.run}-*.ts")):
            if path.name in job.listed:
                continue
            if path.stat().st_size == 0:
                # opened for the next segment when ffmpeg stopped, nothing written: it holds
                # no recording, so it is removed rather than indexed as a lost segment
                path.unlink()
                continue
            files.append(SegmentFile(job.rel(path.name), started_at=start))
        return files

    def _finish(self, job: Job) -> int:
        files = self._read_csv(job, final=True)
        count = self._index(job, files)
        count += self._index(job, self._leftovers(job))
        for path in (job.csv_path, job.log_path):
            path.unlink(missing_ok=True)
        return count

    @staticmethod
    def _signal(job: Job) -> None:
        if job.proc is not None and job.proc.poll() is None:
            try:
                job.proc.send_signal(signal.SIGTERM)  # ffmpeg closes, lists the last segment
            except ProcessLookupError:
                pass

    def _stop(self, job: Job, deadline: float | None = None) -> int:
        proc = job.proc
        if proc is not None and proc.poll() is None:
            self._signal(job)
            try:
                proc.wait(timeout=max(0.5, (deadline or time.monotonic() + 10)
                                      - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.info("camera %s: recording stopped", job.camera.pk)
        return self._finish(job)

    def _crashed(self, job: Job, returncode: int, now: dt.datetime) -> int:
        from skillguard.video.models import MediaEventKind

        tail = _stderr_tail(job.log_path)
        count = self._finish(job)
        failures = self.failures.get(job.camera.pk, 0)
        ran = (now - job.launched_at).total_seconds()
        if ran > 2 * self.backoff_max:
            failures = 0  # it ran fine for a while: start the backoff over
        delay = min(self.backoff_max, 2.0 ** (failures + 1))
        self.failures[job.camera.pk] = failures + 1
        self.retry_at[job.camera.pk] = now + dt.timedelta(seconds=delay)
        if returncode == 0 and failures == 0:
            # a clean end of input (the camera stopped; publish_done not processed yet):
            # restarted quietly once; a second clean exit in a row is reported
            log.info("camera %s: ffmpeg input ended; restart in %.0f s", job.camera.pk, delay)
            return count
        self._event(MediaEventKind.RECORDER_CRASHED, job.camera,
                    f"exit_{returncode}" if returncode >= 0 else f"signal_{-returncode}",
                    {"returncode": returncode, "stderr_tail": tail,
                     "stream_session_id": job.stream_session_id, "ran_seconds": round(ran, 1),
                     "segments_indexed": count, "restart_in_seconds": delay},
                    now, stream_name=job.stream_name)
        log.error("camera %s: ffmpeg exited (%s) while the stream is live; restart in %.0f s: "
                  "%s", job.camera.pk, returncode, delay, tail[-300:])
        return count

    def _after_stream(self, job: Job) -> None:
        if not self.refresh_coverage:
            return
        try:
            from skillguard.video.tasks import refresh_coverage_for_stream

            refresh_coverage_for_stream(job.stream_session_id)
        except Exception:
            log.exception("coverage after stream %s failed", job.stream_session_id)

    def stop_all(self) -> int:
        count = 0
        for job in self.jobs.values():
            self._signal(job)
        deadline = time.monotonic() + 10
        for camera_id, job in list(self.jobs.items()):
            try:
                count += self._stop(job, deadline=deadline)
            except Exception:
                log.exception("stopping camera %s failed", camera_id)
            del self.jobs[camera_id]
        try:
            self._sync_health({}, True)
        except Exception:
            log.exception("health update at shutdown failed")
        return count

    def recover(self) -> int:
        """Index what runs of an earlier recorder process left (their segment lists are
        still in the state directory): same names, same times."""
        if not self.state_dir.is_dir():
            return 0
        from django.db import connection

        count = 0
        for path in sorted(self.state_dir.glob("*.csv")):
            m = _CSV_NAME.match(path.name)
            if not m:
                continue
            with connection.cursor() as cur:
                cur.execute("SELECT district_id, institution_id FROM cameras_camera "
                            "WHERE id = %s", [int(m["camera"])])
                row = cur.fetchone()
            if row is None:
                continue
            stamp = dt.datetime.strptime(m["day"] + m["run"][:6], "%Y%m%d%H%M%S")
            stamp = stamp.replace(microsecond=int(m["run"][6:]) * 1000, tzinfo=self.tz)
            job = Job(camera=CameraRef(int(m["camera"]), row[0], row[1]), stream_name="",
                      stream_session_id=int(m["stream"]), launched_at=stamp, day=m["day"],
                      run=m["run"], csv_path=path, log_path=path.with_suffix(".log"))
            try:
                count += self._finish(job)
            except Exception:
                log.exception("recovering %s failed", path.name)
        return count

    # ------------------------------------------------------------------ health

    def _sync_health(self, wanted: dict, disk_ok: bool) -> None:
        from skillguard.video.models import CameraHealth

        recording = set(self.jobs)
        if recording == self._recording:
            return
        previous = self._recording or set()
        refs = {c: j.camera for c, j in self.jobs.items()}
        if recording - previous:
            CameraHealth.objects.bulk_create(
                [CameraHealth(camera_id=c, district_id=refs[c].district_id,
                              institution_id=refs[c].institution_id, recording=True)
                 for c in sorted(recording - previous)],
                update_conflicts=True, unique_fields=["camera"],
                update_fields=["recording", "updated_at"])
        stale = CameraHealth.objects.filter(recording=True)
        if recording:
            stale = stale.exclude(camera_id__in=recording)
        stale.update(recording=False)
        self._recording = recording


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skillguard recorder",
        description="Record every camera whose room has a session now (stream copy, "
                    "segments indexed in PostgreSQL).")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes")
    parser.add_argument("--once", action="store_true", help="one pass, then stop (checks)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillguard.settings")
    import django

    django.setup()
    logging.basicConfig(level=logging.INFO)
    recorder = Recorder()

    def _stop(signum, _frame):
        log.info("signal %s: stopping the recorder", signum)
        recorder.stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if args.once:
        recorder.recover()
        print(recorder.tick())
        recorder.stop_all()
        return 0
    log.info("recorder: every %.1f s, segments of %d s into %s", args.interval,
             recorder.segment_seconds, recorder.online_root)
    recorder.run(args.interval)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

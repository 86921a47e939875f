"""Embedded PostgreSQL for the quick start and the tests.

When ``DATABASE_URL`` is unset, SkillGuard runs its own PostgreSQL cluster in
``$SKILLGUARD_DATA_DIR/pg``: the ``pgserver`` wheel ships the binaries; where it is
missing we fall back to ``initdb``/``pg_ctl`` on PATH. The cluster listens on a
Unix socket only (never on a network port), and is shared by every SkillGuard
process on the machine that uses the same data directory.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

DATABASE_NAME = "skillguard"


@dataclass(frozen=True)
class EmbeddedDatabase:
    socket_dir: str
    user: str
    name: str = DATABASE_NAME
    data_dir: str = ""
    bin_dir: str = ""

    def django_settings(self) -> dict:
        return {"ENGINE": "django.db.backends.postgresql", "NAME": self.name,
                "USER": self.user, "HOST": self.socket_dir, "PORT": "",
                "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}

    def url(self) -> str:
        return f"postgresql://{self.user}@/{self.name}?host={self.socket_dir}"


def _pg_bin_dir() -> Path | None:
    try:
        import pgserver  # noqa: F401
        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin"
        if (candidate / "pg_ctl").exists():
            return candidate
    except ImportError:
        pass
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _ensure_database(socket_dir: str, user: str, name: str) -> None:
    import psycopg

    with psycopg.connect(host=socket_dir, user=user, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'create database "{name}" encoding \'UTF8\' template template0')


def _start_with_pgserver(pgdata: Path) -> EmbeddedDatabase:
    import logging

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # before the import warns
    import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # chatty at interpreter exit

    # cleanup_mode=None: the cluster outlives this process so that web, worker and CLI
    # share it; `skillguard db stop` (or the run command on exit) stops it cleanly.
    server = pgserver.get_server(str(pgdata), cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    return EmbeddedDatabase(socket_dir=socket_dir, user="postgres", data_dir=str(pgdata),
                            bin_dir=str(Path(pgserver.__file__).parent / "pginstall" / "bin"))


def _run_as(user: str | None, argv: list[str]) -> None:
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout.strip()[-800:]}")


def _start_with_path_binaries(pgdata: Path, bin_dir: Path) -> EmbeddedDatabase:
    run_user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        run_user = "postgres"
        pwd.getpwnam(run_user)
    pgdata.mkdir(parents=True, exist_ok=True)
    socket_dir = pgdata.parent / "pg-socket"  # initdb wants an empty data folder
    socket_dir.mkdir(exist_ok=True)
    if run_user:
        entry = pwd.getpwnam(run_user)
        for p in (pgdata, socket_dir):
            os.chown(p, entry.pw_uid, entry.pw_gid)
        os.chmod(pgdata, 0o700)
    if not (pgdata / "PG_VERSION").exists():
        _run_as(run_user, [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres",
                           "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
    status = subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(pgdata), "status"],
                            capture_output=True)
    if status.returncode != 0:
        _run_as(run_user, [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-w", "-l",
                           str(pgdata / "server.log"), "start", "-o",
                           f"-k {socket_dir} -c listen_addresses=''"])
    return EmbeddedDatabase(socket_dir=str(socket_dir), user="postgres", data_dir=str(pgdata),
                            bin_dir=str(bin_dir))


def start(data_dir: Path) -> EmbeddedDatabase:
    """Initialise (first time) and start the embedded cluster; idempotent."""
    pgdata = Path(data_dir) / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(3):
        try:
            try:
                db = _start_with_pgserver(pgdata)
            except ImportError:
                bin_dir = _pg_bin_dir()
                if bin_dir is None:
                    raise RuntimeError(
                        "No PostgreSQL found: install the 'pgserver' wheel, put initdb/pg_ctl on "
                        "PATH, or set DATABASE_URL. / 未找到 PostgreSQL：请安装 pgserver、"
                        "将 initdb/pg_ctl 加入 PATH，或设置 DATABASE_URL。")
                db = _start_with_path_binaries(pgdata, bin_dir)
            _ensure_database(db.socket_dir, db.user, db.name)
            return db
        except Exception as exc:  # two processes racing to start the cluster
            last_error = exc
            time.sleep(1 + attempt)
    raise RuntimeError(f"embedded PostgreSQL did not start in {pgdata}: {last_error}")


def stop(data_dir: Path) -> bool:
    """Stop the embedded cluster (fast shutdown); returns whether one was running."""
    pgdata = Path(data_dir) / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return False
    bin_dir = _pg_bin_dir()
    owner = pgdata.stat().st_uid
    user = pwd.getpwuid(owner).pw_name if os.geteuid() == 0 and owner != 0 else None
    _run_as(user, [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"])
    return True

"""The embedded PostgreSQL: first start initialises, later starts reuse, stop stops."""
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from skillguard.core.skips import require_binary
from skillguard import dbserver


def _query(db: dbserver.EmbeddedDatabase, sql: str):
    with psycopg.connect(host=db.socket_dir, user=db.user, dbname=db.name) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="sg-pg-"))
    path.chmod(0o755)  # as root, the cluster runs as 'postgres', which must reach the folder
    yield path
    try:
        dbserver.stop(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_pgserver_cluster_starts_once_and_stops(data_dir):
    first = dbserver.start(data_dir)
    assert _query(first, "select current_database()") == "skillguard"
    assert _query(first, "show listen_addresses") == ""  # socket only, never a network port
    again = dbserver.start(data_dir)  # a second process finds it running
    assert again.socket_dir == first.socket_dir
    assert dbserver.stop(data_dir) is True
    with pytest.raises(psycopg.OperationalError):
        _query(first, "select 1")
    assert dbserver.stop(data_dir) is False


def test_falls_back_to_initdb_on_path(data_dir, monkeypatch):
    initdb = require_binary("initdb", "fallback when the pgserver wheel is missing")

    def no_wheel(_pgdata):
        raise ImportError("pgserver not installed")

    monkeypatch.setattr(dbserver, "_start_with_pgserver", no_wheel)
    monkeypatch.setattr(dbserver, "_pg_bin_dir", lambda: Path(initdb).resolve().parent)
    db = dbserver.start(data_dir)
    assert db.bin_dir == str(Path(initdb).resolve().parent)
    assert _query(db, "select current_database()") == "skillguard"
    assert dbserver.stop(data_dir) is True

"""The README's run command, end to end: a fresh data directory, embedded PostgreSQL,
migrations, the demo city, web + worker, printed logins, a real sign-in, a clean stop."""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

PASSWORD = "Quickstart-demo-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_until(proc, pattern: str, timeout: float) -> str:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)
    raise AssertionError(f"'{pattern}' not printed in {timeout}s:\n" + "".join(seen[-60:]))


def test_run_command_serves_the_demo_city_and_stops_cleanly():
    data_dir = Path(tempfile.mkdtemp(prefix="sg-quickstart-"))
    data_dir.chmod(0o755)  # as root the cluster runs as another user, which must reach it
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SKILLGUARD_DATA_DIR=str(data_dir), SKILLGUARD_DEMO_PASSWORD=PASSWORD,
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "skillguard.cli", "run", "--port", str(port), "--scale", "0.05"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        banner = _read_until(proc, rf"127\.0\.0\.1:{port}", timeout=300)
        banner += _read_until(proc, r"api_client", timeout=30)
        for username in ("city_admin", "xuhui_supervisor", "xuhui_school", "auditor"):
            assert username in banner
        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        for _ in range(60):  # the web server starts right after the banner
            try:
                assert opener.open(base + "/healthz", timeout=5).status == 200
                break
            except OSError:
                time.sleep(1)
        login_page = opener.open(base + "/accounts/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode({"username": "xuhui_supervisor", "password": PASSWORD,
                                       "csrfmiddlewaretoken": token}).encode()
        home = opener.open(urllib.request.Request(
            base + "/accounts/login/", data=form, headers={"Referer": base + "/accounts/login/"}))
        body = home.read().decode()
        assert home.url.rstrip("/") == base, "signed in users land on the home page"
        assert "xuhui_supervisor" in body or "徐汇" in body
        children = [" ".join(c.cmdline()) for c in psutil.Process(proc.pid).children(recursive=True)]
        assert any("skillguard.cli worker" in c for c in children), children
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert proc.returncode == 0, out[-3000:]
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "embedded PostgreSQL left running"

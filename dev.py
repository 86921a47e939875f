#!/usr/bin/env python3
"""SkillGuard from a fresh clone, on a bare Python 3.11 machine.

    python3 dev.py run     set up, then run the platform with the demo city
    python3 dev.py test    set up, then run the whole test suite

Set-up is a virtual environment in .venv with the project installed into it; it is
redone only when pyproject.toml changes. Extra arguments go to `skillguard run` or
pytest respectively (e.g. `python3 dev.py test -k audit`).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit("SkillGuard needs Python 3.11 or newer / 需要 Python 3.11 及以上")
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extras}]" if extras else "."
    print(f"Installing SkillGuard ({target}) into .venv …", flush=True)
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "-e", target], cwd=ROOT)
    stamp.write_text(digest)


def main() -> int:
    command, rest = (sys.argv[1] if len(sys.argv) > 1 else "run"), sys.argv[2:]
    os.chdir(ROOT)
    if command == "run":
        ensure_env("")
        return subprocess.call([str(VENV / "bin" / "skillguard"), "run", *rest])
    if command == "test":
        ensure_env("test")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("SKILLGUARD_DATA_DIR", str(ROOT / "var" / "test"))
        try:
            return subprocess.call([str(PY), "-m", "pytest", *rest], env=env)
        finally:
            if not env.get("DATABASE_URL"):  # leave no embedded PostgreSQL behind
                subprocess.call([str(VENV / "bin" / "skillguard"), "db", "stop"], env=env,
                                stdout=subprocess.DEVNULL)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())

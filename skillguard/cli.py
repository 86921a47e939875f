"""``skillguard`` — one entry point for running and operating the platform.

  skillguard run [--port 8000] [--scale 1]   migrate, build the demo city if empty,
                                             serve web + worker, print logins
  skillguard serve [--port 8000]             web server only (waitress)
  skillguard worker                          background worker (Procrastinate)
  skillguard migrate                         apply database migrations
  skillguard demo [--scale 1] [--seed 2026]  (re)build the demo city
  skillguard user create …                   create a user with a role
  skillguard db start|stop|url|dump FILE     the embedded PostgreSQL
  skillguard rotate-field-keys               re-seal personal data with the newest key
  skillguard manage <django command> …       any Django management command
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillguard.settings")
    import django

    django.setup()


def _call(*args, **kwargs) -> None:
    from django.core.management import call_command

    call_command(*args, **kwargs)


def _serve(host: str, port: int, threads: int = 8) -> None:
    from waitress import serve

    from skillguard.wsgi import application

    serve(application, host=host, port=port, threads=threads, ident="SkillGuard")


def _worker_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "skillguard.cli", "worker"],
                            env={**os.environ})


def cmd_run(args) -> int:
    _setup_django()
    _call("migrate", interactive=False, verbosity=0)
    from skillguard.registry.models import Institution

    if args.rebuild_demo or not Institution.objects.exists():
        print("Building the demo city … / 正在生成演示城市 …", flush=True)
        _call("demo", scale=args.scale, seed=args.seed, reset=args.rebuild_demo)
    from skillguard.demo.users import print_demo_logins

    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{args.port}/"
    print_demo_logins(url)
    worker = _worker_process()
    stop = threading.Event()

    def _shutdown(*_):
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _shutdown)
    try:
        _serve(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        if not os.environ.get("DATABASE_URL") and not args.keep_db:
            from django.conf import settings
            from django.db import connections

            from skillguard import dbserver

            connections.close_all()
            dbserver.stop(settings.DATA_DIR)
            print("Embedded PostgreSQL stopped. / 内置数据库已停止。")
    return 0


def cmd_serve(args) -> int:
    _setup_django()
    print(f"SkillGuard on http://{args.host}:{args.port}/", flush=True)
    _serve(args.host, args.port)
    return 0


def cmd_worker(args) -> int:
    _setup_django()
    _call("procrastinate", "worker")
    return 0


def cmd_db(args) -> int:
    from pathlib import Path

    from skillguard import dbserver

    data_dir = Path(os.environ.get("SKILLGUARD_DATA_DIR", Path.cwd() / "var")).resolve()
    if args.action == "stop":
        print("stopped" if dbserver.stop(data_dir) else "not running")
        return 0
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
        bin_dir = ""
    else:
        db = dbserver.start(data_dir)
        url, bin_dir = db.url(), db.bin_dir
    if args.action == "url":
        print(url)
    elif args.action == "start":
        print(f"running: {url}")
    elif args.action == "dump":
        pg_dump = os.path.join(bin_dir, "pg_dump") if bin_dir else "pg_dump"
        return subprocess.call([pg_dump, "--format=custom", "--file", args.file, url])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skillguard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="migrate, demo city, web + worker")
    p.add_argument("--host", default=os.environ.get("SKILLGUARD_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("SKILLGUARD_PORT", "8000")))
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--rebuild-demo", action="store_true")
    p.add_argument("--keep-db", action="store_true", help="leave the embedded database running")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="web server only")
    p.add_argument("--host", default=os.environ.get("SKILLGUARD_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("SKILLGUARD_PORT", "8000")))
    p.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="background worker").set_defaults(func=cmd_worker)

    p = sub.add_parser("db", help="embedded PostgreSQL")
    p.add_argument("action", choices=["start", "stop", "url", "dump"])
    p.add_argument("file", nargs="?", default="skillguard.dump")
    p.set_defaults(func=cmd_db)

    passthrough = {"migrate": ["migrate"], "demo": ["demo"], "user": ["user"],
                   "rotate-field-keys": ["rotate_field_keys"], "manage": []}
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in passthrough:
        _setup_django()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["skillguard"] + passthrough[argv[0]] + argv[1:])
        return 0
    for name in passthrough:
        sub.add_parser(name, help=f"Django '{passthrough[name][0] if passthrough[name] else '…'}'")
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

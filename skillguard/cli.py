"""``skillguard`` — one entry point for running and operating the platform.

  skillguard run [--port 8000] [--scale 1]   migrate, build the demo city if empty,
                                             serve web + worker, print logins
  skillguard serve [--port 8000]             web server only (waitress)
  skillguard worker                          background worker (Procrastinate)
  skillguard recorder                        video recording supervisor (run starts it)
  skillguard media-config [--hook-base URL]  print the generated media-server config
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
    media, recorder = _start_video(args)
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
        _stop_video(media, recorder)
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


def _hook_base(host: str, port: int) -> str:
    local = host in ("0.0.0.0", "", "::", "localhost")
    return f"http://{'127.0.0.1' if local else host}:{port}"


def _start_video(args):
    """Start the media server (nginx-rtmp, config rendered under the data dir) and the
    recorder when nginx and its RTMP module are installed; else say in one line that video
    is off. Returns (adapter or None, recorder process or None)."""
    from skillguard.video.media.base import adapter_class, get_adapter

    try:
        available, why = adapter_class().available()
    except ValueError as exc:  # SKILLGUARD_MEDIA_SERVER names no known server
        available, why = False, str(exc)
    if not available:
        print(f"Video supervision off: {why}. / 视频监管未启用：{why}", flush=True)
        return None, None
    media = get_adapter(hook_base_url=_hook_base(args.host, args.port))
    try:
        media.start()
    except (RuntimeError, OSError) as exc:
        print(f"Video supervision off: the media server did not start ({exc}). / "
              f"视频监管未启用：流媒体服务未能启动。", flush=True)
        return None, None
    recorder = _recorder_process()
    print(f"Video: cameras push to {media.publish_url('<stream name>')} "
          f"(media server {media.name}, config {getattr(media, 'conf_path', '')}; "
          f"recorder {'running' if recorder else 'not installed'}). / "
          f"视频：摄像头推流地址如上。", flush=True)
    return media, recorder


def _recorder_process() -> subprocess.Popen | None:
    import importlib.util

    if importlib.util.find_spec("skillguard.video.recorder") is None:
        return None
    return subprocess.Popen([sys.executable, "-m", "skillguard.cli", "recorder"],
                            env={**os.environ})


def _stop_video(media, recorder) -> None:
    if recorder is not None:
        recorder.terminate()
        try:
            recorder.wait(timeout=15)
        except subprocess.TimeoutExpired:
            recorder.kill()
    if media is not None:
        media.stop()


def cmd_recorder(args, rest: list[str]) -> int:
    _setup_django()
    from skillguard.video.recorder import main as recorder_main

    return recorder_main(rest) or 0


def cmd_media_config(args) -> int:
    _setup_django()
    from skillguard.video.media.base import get_adapter

    base = args.hook_base or _hook_base(os.environ.get("SKILLGUARD_HOST", "127.0.0.1"),
                                        int(os.environ.get("SKILLGUARD_PORT", "8000")))
    try:
        media = get_adapter(hook_base_url=base)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(media.render_config(), end="")
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

    p = sub.add_parser("media-config", help="print the generated media-server config")
    p.add_argument("--hook-base", default="",
                   help="SkillGuard's base URL for the callbacks (default from "
                        "SKILLGUARD_HOST/SKILLGUARD_PORT)")
    p.set_defaults(func=cmd_media_config)

    p = sub.add_parser("db", help="embedded PostgreSQL")
    p.add_argument("action", choices=["start", "stop", "url", "dump"])
    p.add_argument("file", nargs="?", default="skillguard.dump")
    p.set_defaults(func=cmd_db)

    passthrough = {"migrate": ["migrate"], "demo": ["demo"], "user": ["user"],
                   "rotate-field-keys": ["rotate_field_keys"], "manage": []}
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "recorder":  # its own options: skillguard.video.recorder.main
        return cmd_recorder(None, argv[1:])
    sub.add_parser("recorder", help="video recording supervisor (options: recorder --help)")
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

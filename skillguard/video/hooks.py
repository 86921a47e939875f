"""The media server's callbacks (nginx-rtmp ``on_publish``, ``on_publish_done``,
``on_update``): translate its form POST into ``services_ingest`` calls.

nginx-rtmp POSTs ``application/x-www-form-urlencoded``; what it really sends (logged from
nginx 1.22 + libnginx-mod-rtmp 1.2.2)::

    app=live&flashver=…&swfurl=&tcurl=rtmp://host:1935/live&pageurl=&addr=127.0.0.1
    &clientid=2&call=publish&name=cam12x1&type=live&key=<stream key>

The query string of the publish URL (``?key=…``) arrives as extra form fields, not in an
``args`` field; ``call`` is ``publish`` / ``update_publish`` / ``publish_done``;
``on_update`` adds ``time`` and ``timestamp`` but no byte counts (those come from the stat
endpoint), and is sent for players too (``call=update_play``: the recorder pulling a stream
has another client id and no key — it must not be dropped). A 2xx answer accepts (or keeps) the push; anything else refuses (or drops) it.

The hooks are exempt from login and CSRF; they are protected by the shared secret
``settings.MEDIA_HOOK_SECRET`` in the hook URL's query string (compared in constant time): no
secret or a wrong one answers 403 and does nothing.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time
from urllib.parse import parse_qs

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from skillguard.video import services_ingest

log = logging.getLogger(__name__)


def _secret_ok(request) -> bool:
    given = request.GET.get("secret", "")
    expected = settings.MEDIA_HOOK_SECRET
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(),
                                                                  expected.encode())


def _field(request, name: str) -> str:
    value = request.POST.get(name)
    if value is None and request.POST.get("args"):  # older modules send the query in args
        value = (parse_qs(request.POST["args"]).get(name) or [""])[0]
    return (value or "").strip()


def _hook(handler):
    @csrf_exempt
    @require_POST
    def view(request):
        if not _secret_ok(request):
            return HttpResponseForbidden("forbidden")
        return handler(request)
    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


_stats_cache: dict = {"at": -1e9, "port": None, "streams": {}}
_stats_lock = threading.Lock()
STATS_TTL_S = 3.0


def _live_stats() -> dict:
    """The media server's live streams, fetched at most every few seconds (2,000 cameras
    each sending a heartbeat every 10 s must not each fetch the whole stat page)."""
    with _stats_lock:
        now = time.monotonic()
        port = settings.MEDIA_STAT_PORT
        if now - _stats_cache["at"] < STATS_TTL_S and _stats_cache["port"] == port:
            return _stats_cache["streams"]
        try:
            from skillguard.video.media import get_adapter

            streams = get_adapter().live_streams()
        except Exception as exc:  # noqa: BLE001 - bitrate is best effort; heartbeat is not
            log.debug("media stat unavailable: %s", exc)
            streams = {}
        _stats_cache.update(at=now, port=port, streams=streams)
        return streams


def _answer(ok: bool, reason: str = "") -> HttpResponse:
    if ok:
        return HttpResponse("ok", content_type="text/plain")
    return HttpResponseForbidden(reason or "refused", content_type="text/plain")


@_hook
def on_publish(request):
    """A camera starts pushing: authorise it (2xx) or refuse it (403)."""
    decision = services_ingest.authorise_publish(
        _field(request, "name"), _field(request, "key"), _field(request, "addr") or None,
        client_id=_field(request, "clientid"))
    return _answer(decision.accepted, decision.reason)


@_hook
def on_publish_done(request):
    """A push ended (also sent for refused pushes: matched by client id)."""
    services_ingest.publish_done(_field(request, "name"), _field(request, "clientid"))
    return _answer(True)


@_hook
def on_update(request):
    """Heartbeat every few seconds while a push lives; 403 drops the publisher."""
    if _field(request, "call") == "update_play":
        # nginx also reports its players (the recorder, snapshots: localhost only, the
        # config denies everybody else): never drop them here
        return _answer(True)
    name = _field(request, "name")
    stats = _live_stats().get(name)
    ok = services_ingest.heartbeat(name, _field(request, "key"), _field(request, "clientid"),
                                   stats)
    return _answer(ok, "no open session")

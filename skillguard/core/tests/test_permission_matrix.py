"""The central guarantee: every page and every API operation, for every role.

The walker is generic. It visits EVERY URL pattern of the project's resolver (recursively
through includes) and EVERY operation of the OpenAPI document, as every role, and fills
path parameters with a record IN the user's scope (``world.a``) and one OUT of it
(``world.b``), plus a pk that does not exist. It asserts:

* anonymous: pages redirect to the login page, API operations answer 401;
* a record out of scope answers exactly like a record that does not exist (status and
  body): nothing tells an outsider that it exists;
* what a user scoped to ``world.a`` is shown never contains the names or codes of
  ``world.b``'s records (lists and filters included);
* the auditor never succeeds with POST/PUT/PATCH/DELETE (for pages, the form the city
  administrator is shown is replayed as the auditor);
* no 500 anywhere.

A page added later is covered automatically. If its URL has a parameter the walker
cannot fill, the test fails and says where to register a filler (``OBJECT_FILLERS``,
``VALUE_FILLERS`` or ``ROUTE_FILLERS`` below).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from django.urls.resolvers import RoutePattern

from skillguard.core.testing import make_credit_code, make_id_number

ROLES = ["city_admin", "city_supervisor", "district_supervisor", "institution_admin",
         "teacher", "trainee", "auditor", "api_client", "anonymous"]
CITY_WIDE = {"city_admin", "city_supervisor", "auditor"}  # world.b is in their scope
SCOPED_TO_A = {"district_supervisor", "institution_admin", "teacher", "trainee", "api_client"}

# Not walked: Django's admin (superusers only, its own auth), language switch, static files,
# and the API (walked operation by operation from the OpenAPI document below).
SKIP_PREFIXES = ("django-admin/", "i18n/", "static/", "media/", "api/")
# Pure-public pages: no login needed, nothing scoped on them.
PUBLIC_URL_NAMES = {"healthz", "accounts:login", "accounts:logout"}
# Media-server callbacks (video ingest): no login, protected by a shared secret in the query
# string. Without it everybody, anonymous included, gets 403 (a GET 405) and nothing changes.
HOOK_URL_NAMES = {"video:hook_publish", "video:hook_publish_done", "video:hook_update"}
# Pages that answer POST without writing anything (searches, exports, reveals) and that the
# auditor may therefore use. A write is still caught through the audit trail.
# reports:export_request: an export of a statistics table (inline, or queued as an export
# job, audited as an export) — exporting is reading, and the auditor may export.
UI_READ_ONLY_POSTS: set[str] = {"reports:export_request"}
# The docking API (/api/docking/v1/) authenticates by request signature, not by user: it
# has its own document and its own matrix (skillguard/trust/tests/test_docking_matrix.py).
DOCKING_API_PREFIX = "api/docking/v1/"
# API operations that must publish the schema but are not in it.
API_DOC_ROUTES = {"api/openapi.json", "api/docs", "api/"}
MISSING_PK = 987654321
MISSING_UUID = "00000000-0000-4000-8000-00000000dead"


def _missing(pk):
    """A key of the same type as ``pk`` that names no record."""
    return MISSING_UUID if isinstance(pk, __import__("uuid").UUID) else MISSING_PK
WRITE_ACTIONS = {"create", "update", "delete", "transition", "import"}


# --------------------------------------------------------------------------- fillers
#
# OBJECT_FILLERS: alias → world → (record in world.a, record in world.b or None when the
# record type is public reference data that every user may see).
# A parameter named ``pk``/``id`` takes its alias from the URL name (``class_detail`` →
# ``class``); ``<alias>_id``/``<alias>_pk``/``<alias>`` name it directly.


def _first(qs):
    obj = qs.order_by("pk").first()
    assert obj is not None, f"the test world has no {qs.model.__name__}"
    return obj


def _enrolment(side):
    return _first(side.draft_class.enrolments.filter(trainee=side.trainees[0]))


def _audit_event(world, side):
    from skillguard.audit.models import AuditEvent

    return _first(AuditEvent.objects.filter(institution_id=side.institution.pk))


def _import_batch(world, side):
    from skillguard.registry import imports
    from skillguard.registry.models import ImportBatch

    user = side.users["institution_admin"]
    existing = ImportBatch.objects.filter(uploaded_by=user).first()
    return existing or imports.start_import(user, "trainee", "walk.csv", b"not,a\nsheet")


def _docking_client(side):
    from skillguard.trust.testing import docking_client_for

    return docking_client_for(side.institution)


def _client_key(side):
    from skillguard.trust.testing import add_key

    client = _docking_client(side)
    return client.keys.order_by("pk").first() or add_key(client)[0]


def _subscriber(side):
    from skillguard.distribution.models import Subscriber

    return Subscriber.objects.get_or_create(name=f"walk {side.district.code}",
                                            defaults={"district": side.district})[0]


def _rule(side):
    from skillguard.distribution.models import Basis, DistributionRule

    subscriber = _subscriber(side)
    return (subscriber.rules.order_by("pk").first()
            or DistributionRule.objects.create(subscriber=subscriber, record_type="checkin",
                                               basis=Basis.VENUE_DISTRICT,
                                               district=side.district))


def _delivery(side):
    from skillguard.distribution.models import FeedEntry, WebhookDelivery

    subscriber = _subscriber(side)
    existing = subscriber.deliveries.order_by("pk").first()
    if existing:
        return existing
    entry = FeedEntry.objects.create(subscriber=subscriber, record_type="checkin",
                                     external_key="walk", payload={})
    return WebhookDelivery.objects.create(subscriber=subscriber, feed_entry=entry,
                                          last_entry_id=entry.pk)


def _quarantined(side):
    import uuid

    from skillguard.ingest.models import QuarantinedRecord

    client = _docking_client(side)
    return (QuarantinedRecord.objects.filter(client=client).order_by("pk").first()
            or QuarantinedRecord.objects.create(
                client=client, district_id=side.district.pk, institution_id=side.institution.pk,
                record_type="checkin", external_id="walk-1", submission_id=uuid.uuid4(),
                payload={"external_id": "walk-1"},
                problems=[{"field": "kind", "code": "wrong_type"}]))


def _ingest_batch(side):
    import uuid

    from django.utils import timezone

    from skillguard.ingest.models import BatchStatus, IngestBatch

    client = _docking_client(side)
    return (IngestBatch.objects.filter(client=client).first()
            or IngestBatch.objects.create(
                client=client, district_id=side.district.pk, institution_id=side.institution.pk,
                submission_id=uuid.uuid4(), submission_received_at=timezone.now(),
                record_type="checkin", file_format="jsonl", status=BatchStatus.DONE))


def _warning_rule():
    """A supervision rule's catalogue row (public: the same in and out of scope); its URL
    key is the code (URL_KEYS)."""
    from skillguard.supervision import engine
    from skillguard.supervision.models import Rule

    engine.ensure_catalogue()
    rule = Rule.objects.select_related("current_version").order_by("code").first()
    assert rule is not None, "no supervision rule is registered"
    return rule


def _rule_run(world):
    from django.utils import timezone

    from skillguard.supervision.models import RuleRun

    rule = _warning_rule()
    now = timezone.now()
    return (rule.runs.order_by("pk").first()
            or RuleRun.objects.create(rule=rule, version=rule.current_version, mode="backtest",
                                      window_start=now - dt.timedelta(days=7), window_end=now,
                                      status="ok", results={"count": 0}))


def _warning(side):
    from django.utils import timezone

    from skillguard.supervision.models import Warning

    rule = _warning_rule()
    now = timezone.now()
    return Warning.objects.get_or_create(
        rule=rule, fingerprint=f"walk-{side.institution.pk}",
        defaults={"rule_version": rule.current_version, "subject": f"walk:{side.institution.pk}",
                  "severity": "high", "level": "district", "district": side.district,
                  "institution": side.institution, "summary_zh": "走查预警",
                  "summary_en": "walk warning", "occurred_at": now, "first_seen_at": now,
                  "last_seen_at": now, "evidence": [["institution", side.institution.pk]]})[0]


def _case(side):
    """A case of the side's district, dispatched to its institution (so the institution
    admin sees it: a case never dispatched answers 404 to an institution)."""
    from django.utils import timezone

    from skillguard.cases import services as cases
    from skillguard.cases.models import Case

    existing = Case.objects.filter(district=side.district).order_by("pk").first()
    if existing:
        return existing
    case = cases.open_case(None, district=side.district, institution=side.institution,
                           title="walk case", severity="medium")
    cases.assign_case(None, case, assignee=side.users["district_supervisor"])
    return cases.dispatch_case(None, case, request_text="walk",
                               deadline=timezone.now() + dt.timedelta(days=3))


def _spot_check(side):
    from skillguard.cases import services as cases
    from skillguard.cases.models import SpotCheck

    return (SpotCheck.objects.filter(district=side.district).order_by("pk").first()
            or cases.draw_spot_check(None, kind="attendance", sample_size=3, seed="walk",
                                     district=side.district))


def _spot_check_item(side):
    return _first(_spot_check(side).items)


def _case_attachment(side):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = _case(side)
    return (case.attachments.order_by("pk").first()
            or __import__("skillguard.cases.services", fromlist=["x"]).attach_to_case(
                None, case, [SimpleUploadedFile("walk.txt", b"walk", "text/plain")])[0])


def _estate(kind, side):
    from skillguard.cameras.testing import estate_record

    return estate_record(kind, side)


def _clip(side):
    """A ready video clip of the side's camera (video viewer), its file in VIDEO_ROOT."""
    from pathlib import Path

    from django.conf import settings
    from django.utils import timezone

    from skillguard.video.models import Clip

    camera = _estate("camera", side)
    now = timezone.now().replace(microsecond=0)
    clip = (Clip.objects.filter(camera=camera).order_by("pk").first()
            or Clip.objects.create(camera=camera, district_id=camera.district_id,
                                   institution_id=camera.institution_id,
                                   starts_at=now - dt.timedelta(hours=1),
                                   ends_at=now - dt.timedelta(minutes=59), state="ready",
                                   file=f"clips/walk-{camera.pk}.mp4", size_bytes=4,
                                   requested_by=side.users["district_supervisor"]))
    path = Path(settings.VIDEO_ROOT) / clip.file  # ready: its download answers 200
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"walk")
    return clip


def _segment(side):
    """An indexed recording segment of the side's camera (its file need not exist)."""
    from django.db import connection
    from django.utils import timezone

    from skillguard.core.partitions import ensure_monthly_partitions
    from skillguard.video.models import RecordingSegment

    camera = _estate("camera", side)
    existing = RecordingSegment.objects.filter(camera_id=camera.pk).order_by("id").first()
    if existing:
        return existing
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    ensure_monthly_partitions("video_recordingsegment", timezone.localdate(start),
                              timezone.localdate(start))
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO video_recordingsegment (district_id, started_at, ended_at, camera_id,"
            " institution_id, duration_ms, size_bytes, path, indexed_at) VALUES "
            "(%s, %s, %s, %s, %s, 2000, 188, %s, now()) RETURNING id",
            [camera.district_id, start, start + dt.timedelta(seconds=2), camera.pk,
             camera.institution_id, f"{camera.pk}/walk.ts"])
        pk = cur.fetchone()[0]
    return RecordingSegment.objects.get(camera_id=camera.pk, id=pk)



def _export_job(side):
    """A finished export of the side's district (its file exists: the download answers)."""
    from django.core.files.base import ContentFile

    from skillguard.reports.models import ExportJob

    job = ExportJob.objects.filter(district=side.district).order_by("pk").first()
    if job is None:
        job = ExportJob.objects.create(table="training", format="csv", district=side.district,
                                       state="done", rows_done=1, rows_total=1,
                                       filters={"month_from": "2026-01", "month_to": "2026-01",
                                                "districts": [side.district.pk]},
                                       requested_by=side.users["district_supervisor"])
        job.file.save(job.file_name, ContentFile(b"walk\n"), save=True)
    return job


def _report(side):
    """An archived monthly report of the side's district (its file exists)."""
    import datetime

    from django.core.files.base import ContentFile

    from skillguard.reports.models import ReportArchive

    archive = ReportArchive.objects.filter(district=side.district).order_by("pk").first()
    if archive is None:
        archive = ReportArchive.objects.create(kind="district", district=side.district,
                                               month=datetime.date(2026, 1, 1), state="done",
                                               sha256="0" * 64, size=8)
        archive.file.save(archive.file_name, ContentFile(b"%PDF-1.7"), save=True)
    return archive


OBJECT_FILLERS = {
    "case": lambda w: (_case(w.a), _case(w.b)),
    "spotcheck": lambda w: (_spot_check(w.a), _spot_check(w.b)),
    "spotcheckitem": lambda w: (_spot_check_item(w.a), _spot_check_item(w.b)),
    "attachment": lambda w: (_case_attachment(w.a), _case_attachment(w.b)),
    "warningrule": lambda w: (_warning_rule(), None),
    "rulerun": lambda w: (_rule_run(w), None),
    "warning": lambda w: (_warning(w.a), _warning(w.b)),
    "ingestbatch": lambda w: (_ingest_batch(w.a), _ingest_batch(w.b)),
    "rule": lambda w: (_rule(w.a), _rule(w.b)),
    "subscriber": lambda w: (_subscriber(w.a), _subscriber(w.b)),
    "delivery": lambda w: (_delivery(w.a), _delivery(w.b)),
    "quarantine": lambda w: (_quarantined(w.a), _quarantined(w.b)),
    "district": lambda w: (w.a.district, None),
    "course": lambda w: (w.course, None),
    "occupation": lambda w: (w.course.occupation, None),
    "institution": lambda w: (w.a.institution, w.b.institution),
    "filing": lambda w: (_first(w.a.institution.filings), _first(w.b.institution.filings)),
    "venue": lambda w: (w.a.venue, w.b.venue),
    "room": lambda w: (w.a.room, w.b.room),
    "teacher": lambda w: (w.a.teacher, w.b.teacher),
    "qualification": lambda w: (_first(w.a.teacher.qualifications),
                                _first(w.b.teacher.qualifications)),
    "trainee": lambda w: (w.a.trainees[0], w.b.trainees[0]),
    "class": lambda w: (w.a.draft_class, w.b.draft_class),
    "review": lambda w: (_first(w.a.approved_class.reviews), _first(w.b.approved_class.reviews)),
    "session": lambda w: (_first(w.a.draft_class.sessions), _first(w.b.draft_class.sessions)),
    "enrolment": lambda w: (_enrolment(w.a), _enrolment(w.b)),
    "event": lambda w: (_audit_event(w, w.a), _audit_event(w, w.b)),
    "user": lambda w: (w.a.users["institution_admin"], w.b.users["institution_admin"]),
    "batch": lambda w: (_import_batch(w, w.a), _import_batch(w, w.b)),
    "client": lambda w: (_docking_client(w.a), _docking_client(w.b)),
    "key": lambda w: (_client_key(w.a), _client_key(w.b)),
    # statistics exports and monthly reports (skillguard.reports)
    "export": lambda w: (_export_job(w.a), _export_job(w.b)),
    "report": lambda w: (_report(w.a), _report(w.b)),
    # camera estate (skillguard.cameras.testing.estate_record)
    **{kind: (lambda w, kind=kind: (_estate(kind, w.a), _estate(kind, w.b)))
       for kind in ("camera", "workorder", "inspection", "photo")},
    # video viewer: clips, recording segments (URL key: the segment's id)
    "clip": lambda w: (_clip(w.a), _clip(w.b)),
    "segment": lambda w: (_segment(w.a), _segment(w.b)),
}
ALIASES = {"trainingclass": "class", "classes": "class", "institutionfiling": "filing",
           "teacherqualification": "qualification", "classreview": "review",
           "auditevent": "event", "importbatch": "batch", "import": "batch",
           "dockingclient": "client", "clientkey": "key",
           "distributionrule": "rule", "webhookdelivery": "delivery",
           "quarantinedrecord": "quarantine",
           # supervision: rules are named by their code in URLs; runs and back-tests by id
           "code": "warningrule", "run": "rulerun", "backtest": "rulerun"}
# How a record appears in a URL when it is not its pk.
URL_KEYS = {"warningrule": lambda rule: rule.code, "segment": lambda seg: seg.id}


def _url_key(alias, obj):
    return URL_KEYS[alias](obj) if alias in URL_KEYS else obj.pk
# Parameters that are not records: the same value in and out of scope.
VALUE_FILLERS = {"kind": "trainee", "fmt": "csv", "field": "id_number", "format": "csv"}
# (URL name, parameter) → alias or ("value", literal) where the rules above guess wrong.
ROUTE_FILLERS: dict[tuple[str, str], object] = {
    ("ingest_batches:batch", "pk"): "ingestbatch",  # docking batches, not spreadsheet imports
    ("ingest_batches:progress", "pk"): "ingestbatch",
    ("video:live_file", "name"): ("value", "0.ts"),  # a live HLS fragment's file name
}


class UnfillableRoute(Exception):
    pass


@dataclass
class Route:
    route: str  # "registry/classes/<int:pk>/"
    name: str  # "registry:class_detail"
    params: list[tuple[str, str]] = field(default_factory=list)  # (converter, name)

    def build(self, values: dict) -> str:
        path = self.route
        for conv, name in self.params:
            path = path.replace(f"<{conv}:{name}>" if conv else f"<{name}>",
                                str(values[name]))
        return "/" + path


PARAM_RE = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def walk_urlpatterns(patterns, prefix="", namespace=""):
    """Every URLPattern below ``patterns``, with its full route and namespaced name."""
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace) if x)
            if not isinstance(p.pattern, RoutePattern):
                yield Route(prefix + str(p.pattern), f"{ns}:<regex include>")
                continue
            yield from walk_urlpatterns(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = ":".join(x for x in (namespace, p.name or "") if x)
            route = prefix + str(p.pattern)
            regex = not isinstance(p.pattern, RoutePattern)
            params = [] if regex else [(m["conv"] or "", m["name"])
                                       for m in PARAM_RE.finditer(route)]
            yield Route(route if not regex else f"{prefix}<regex>{p.pattern}", name, params)


def _alias_for(route: Route, param: str):
    override = ROUTE_FILLERS.get((route.name, param))
    if override is not None:
        return override
    if param in VALUE_FILLERS:
        return ("value", VALUE_FILLERS[param])
    base = re.sub(r"_(id|pk)$", "", param)
    if param not in ("pk", "id", "object_id"):
        base = ALIASES.get(base, base)
        if base in OBJECT_FILLERS:
            return base
    else:
        # the path segment before the parameter ("institutions/<int:pk>/venues/new/" is an
        # institution), else a word of the URL name ("class_detail")
        placeholder = re.search(rf"<(?:[^>:]+:)?{param}>", route.route)
        before = route.route[:placeholder.start()] if placeholder else ""
        segment = before.rstrip("/").rsplit("/", 1)[-1]
        local = route.name.rsplit(":", 1)[-1]
        namespace = route.name.rsplit(":", 1)[0] if ":" in route.name else ""
        candidates = [segment, segment[:-1], segment[:-2],
                      *re.split(r"[_\-.]", local), *namespace.split(":")]
        for token in candidates:
            token = ALIASES.get(token, token)
            if token in OBJECT_FILLERS:
                return token
    raise UnfillableRoute(
        f"The permission matrix cannot fill <{param}> in /{route.route} "
        f"(URL name {route.name!r}). Register a filler in "
        f"skillguard/core/tests/test_permission_matrix.py: OBJECT_FILLERS (a record type: "
        f"world → (record in world.a, record in world.b)), VALUE_FILLERS (a plain value) or "
        f"ROUTE_FILLERS[({route.name!r}, {param!r})].")


def fill(route: Route, world) -> dict[str, dict | None]:
    """{"in": values, "out": values or None, "missing": values or None}."""
    inside, outside, missing = {}, {}, {}
    has_objects, public = False, False
    for _conv, param in route.params:
        alias = _alias_for(route, param)
        if isinstance(alias, tuple):
            inside[param] = outside[param] = missing[param] = alias[1]
            continue
        a, b = OBJECT_FILLERS[alias](world)
        has_objects = True
        inside[param], missing[param] = _url_key(alias, a), _missing(a.pk)
        if b is None:
            public = True
        else:
            outside[param] = _url_key(alias, b)
    return {"in": inside, "out": outside if has_objects and not public else None,
            "missing": missing if has_objects else None}


# --------------------------------------------------------------------------- what a user must not see


def secrets_for(world, role: str) -> list[str]:
    """Names and codes of records outside the role's scope (users scoped to world.a)."""
    if role not in SCOPED_TO_A:
        return []
    b = world.b
    out = [b.institution.name, b.venue.name, b.teacher.name, b.draft_class.code,
           b.approved_class.code, b.draft_class.name, b.approved_class.name,
           *[t.name for t in b.trainees]]
    if role == "trainee":  # a trainee sees themself, not their classmates
        out += [t.name for t in world.a.trainees[1:]]
    return out


# --------------------------------------------------------------------------- requests


@dataclass
class Result:
    status: int
    content: bytes
    location: str
    allow: str
    writes: int  # write events in the audit trail caused by the request
    error: str = ""


def call(client, method: str, path: str, data=None, json_body=None) -> Result:
    """One request, rolled back afterwards so requests cannot influence each other."""
    from skillguard.audit.models import AuditEvent

    kwargs = {}
    if json_body is not None:
        kwargs = {"data": json.dumps(json_body), "content_type": "application/json"}
    elif data is not None:
        kwargs = {"data": data}
    cookies = client.cookies
    client.cookies = copy.deepcopy(cookies)  # e.g. flash messages must not carry over
    with transaction.atomic():
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        try:
            response = getattr(client, method)(path, **kwargs)
        except Exception as exc:  # the test client re-raises what would be a 500
            transaction.set_rollback(True)
            client.cookies = cookies
            return Result(500, b"", "", "", 0, error="".join(
                traceback.format_exception_only(type(exc), exc)).strip()
                + "\n" + "".join(traceback.format_tb(exc.__traceback__)[-3:]))
        writes = AuditEvent.objects.filter(pk__gt=last, action__in=WRITE_ACTIONS).count()
        content = (b"".join(response.streaming_content) if response.streaming
                   else response.content)
        transaction.set_rollback(True)
    client.cookies = cookies
    return Result(response.status_code, content, response.get("Location", ""),
                  response.get("Allow", ""), writes)


def normalise(result: Result, path: str, pks) -> tuple:
    text = result.content.decode("utf-8", "replace")
    text = text.replace(path, "{path}")
    text = re.sub(r'(csrfmiddlewaretoken"\s+value=|csrf[-_]token"\s+content=|'
                  r'"X-CSRFToken"\s*:\s*)"[^"]*"', r'\1"…"', text)
    for pk in pks:
        text = re.sub(rf"(?<!\d){pk}(?!\d)", "{pk}", text)
    return result.status, text, result.location.replace(path, "{path}")


class Problems(list):
    def add(self, role, method, path, message, result: Result | None = None):
        detail = ""
        if result is not None:
            detail = f" → {result.status}" + (f"\n{result.error}" if result.error else "")
        self.append(f"[{role}] {method.upper()} {path}: {message}{detail}")


def assert_no_problems(problems: Problems) -> None:
    if problems:
        pytest.fail(f"{len(problems)} problems:\n" + "\n".join(problems[:60])
                    + ("\n…" if len(problems) > 60 else ""), pytrace=False)


# --------------------------------------------------------------------------- forms


class _FormParser(HTMLParser):
    """The forms of a page with the values they would submit as they stand."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self._form, self._select, self._textarea = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(),
                          "action": a.get("action") or "", "data": {}, "submit": None}
            self.forms.append(self._form)
        if self._form is None:
            return
        data, name = self._form["data"], a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image"):
                if self._form["submit"] is None:
                    self._form["submit"] = (name, a.get("value") or "")
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    data.setdefault(name, []).append(a.get("value") or "on")
            elif kind != "file":
                data.setdefault(name, []).append(a.get("value") or "")
        elif tag == "button" and name and (a.get("type") or "submit") == "submit":
            if self._form["submit"] is None:
                self._form["submit"] = (name, a.get("value") or "")
        elif tag == "select" and name:
            self._select = {"name": name, "first": None, "chosen": []}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["chosen"].append(value)
        elif tag == "textarea" and name:
            self._textarea = name
            data.setdefault(name, []).append("")

    def handle_data(self, text):
        if self._textarea and self._form is not None:
            self._form["data"][self._textarea][-1] += text

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            s = self._select
            values = s["chosen"] or ([s["first"]] if s["first"] is not None else [])
            if values:
                self._form["data"].setdefault(s["name"], []).extend(values)
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def replayable_form(html: bytes, path: str) -> dict:
    """The data of the page's POST form that submits to ``path`` itself (or {})."""
    parser = _FormParser()
    try:
        parser.feed(html.decode("utf-8", "replace"))
    except Exception:
        return {}
    for form in parser.forms:
        target = urlsplit(urljoin(path, form["action"])).path if form["action"] else path
        if form["method"] == "post" and target == path:
            data = dict(form["data"])
            data.pop("csrfmiddlewaretoken", None)
            if form["submit"]:
                data.setdefault(form["submit"][0], [form["submit"][1]])
            return data
    return {}


# --------------------------------------------------------------------------- clients


def client_for(world, role: str, api: bool = False) -> Client:
    if role == "anonymous":
        return Client()
    user = world.users[role]
    if api and role == "api_client":  # system clients use bearer tokens
        from skillguard.accounts.services import issue_api_token

        _, token = issue_api_token(None, user, name="permission matrix")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client = Client()
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- the UI walk


def ui_routes() -> list[Route]:
    routes = []
    for route in walk_urlpatterns(get_resolver().url_patterns):
        if route.route.startswith(SKIP_PREFIXES) or route.name in PUBLIC_URL_NAMES:
            continue
        routes.append(route)
    return routes


def _b_filters(world) -> dict:
    """Every record type as a query parameter (``institution=…``, ``institution_id=…``),
    naming world.b's record."""
    out = {}
    for alias, filler in OBJECT_FILLERS.items():
        if alias in ("event", "user", "batch"):
            continue
        _a, b = filler(world)
        if b is not None:
            out[alias] = out[f"{alias}_id"] = _url_key(alias, b)
    out["training_class"] = out["class"]
    return out


def _is_login_redirect(result: Result) -> bool:
    login = resolve_url("accounts:login")
    return result.status in (301, 302, 303) and urlsplit(result.location).path == login


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(world, role):
    assert_no_problems(walk_pages(world, role))


def walk_pages(world, role) -> Problems:
    problems = Problems()
    client = client_for(world, role)
    admin = client_for(world, "city_admin")
    secrets = secrets_for(world, role)
    for route in ui_routes():
        if "<regex" in route.route:
            problems.add(role, "any", route.route, "a regex URL pattern: use path() so the "
                         "permission matrix can fill it, or add it to SKIP_PREFIXES")
            continue
        try:
            values = fill(route, world)
        except UnfillableRoute as exc:
            problems.add(role, "any", route.route, str(exc))
            continue
        path = route.build(values["in"])

        if role == "anonymous" and route.name in HOOK_URL_NAMES:
            for method in ("get", "post"):
                result = call(client, method, path, data={"name": "walk", "key": "walk"})
                if result.status not in (403, 405) or result.writes:
                    problems.add(role, method, path, "a hook without its secret must answer "
                                 "403 and change nothing", result)
            continue
        if role == "anonymous":
            for method in ("get", "post"):
                result = call(client, method, path, data={})
                if method == "get" and result.status == 405 and "GET" not in result.allow:
                    continue
                if not _is_login_redirect(result):
                    problems.add(role, method, path, "must redirect to the login page", result)
            continue

        got = call(client, "get", path)
        if got.status >= 500:
            problems.add(role, "get", path, "server error", got)
        for secret in secrets:
            if secret.encode() in got.content:
                problems.add(role, "get", path, f"shows {secret!r}, outside the user's scope")

        if secrets and not route.params:
            # list pages filtered by world.b's records must stay clean too
            filtered = f"{path}?{urlencode(_b_filters(world))}"
            got = call(client, "get", filtered)
            if got.status >= 500:
                problems.add(role, "get", filtered, "server error", got)
            for secret in secrets:
                if secret.encode() in got.content:
                    problems.add(role, "get", filtered, f"shows {secret!r}, outside the "
                                 "user's scope")

        form = replayable_form(call(admin, "get", path).content, path)
        posted = call(client, "post", path, data=form)
        if posted.status >= 500:
            problems.add(role, "post", path, "server error", posted)
        if role == "auditor" and route.name not in UI_READ_ONLY_POSTS:
            succeeded = (posted.writes > 0 or posted.status in (201, 204)
                         or posted.status in (301, 302, 303) and not _is_login_redirect(posted))
            if succeeded:
                problems.add(role, "post", path, "the auditor changed something "
                             f"({posted.writes} write events)", posted)

        if values["missing"] is None:
            continue
        missing_path = route.build(values["missing"])
        for method in ("get", "post"):
            missing = call(client, method, missing_path, data=form if method == "post" else None)
            if missing.status >= 500:
                problems.add(role, method, missing_path, "server error", missing)
            if method == "get" and missing.status not in (403, 404, 405):
                problems.add(role, method, missing_path, "a missing record must answer 404",
                             missing)
            if values["out"] is None or role in CITY_WIDE:
                continue
            out_path = route.build(values["out"])
            out = call(client, method, out_path, data=form if method == "post" else None)
            pks = [*values["out"].values(), *values["missing"].values()]
            if normalise(out, out_path, pks) != normalise(missing, missing_path, pks):
                problems.add(role, method, out_path,
                             f"answers differently from a missing record ({missing.status})",
                             out)
    return problems


# --------------------------------------------------------------------------- the API walk


def _api_context(world):
    """Records the example bodies refer to; created once per test, before the walk."""
    from django.utils import timezone

    from skillguard.registry import services

    spare, _ = services.register_trainee(
        None, name="走查学员", id_number=make_id_number("310104", dt.date(1992, 3, 3), 901),
        category="unemployed", residence_district=world.a.district,
        institution=world.a.institution)
    start = world.a.draft_class.start_date
    starts = timezone.make_aware(dt.datetime.combine(start + dt.timedelta(days=1),
                                                     dt.time(14)))
    return {"spare_trainee": spare, "starts": starts, "start": start}


# operationId → (world, context) → a valid request body for the in-scope record. Every
# operation with a request body needs one (else the test says so).
API_BODIES = {
    "assignCase": lambda w, c: {"assignee": w.a.users["district_supervisor"].pk,
                                "comment": "walk"},
    "dispatchCase": lambda w, c: {"request_text": "walk", "answer_deadline": (
        c["starts"] + dt.timedelta(days=30)).isoformat()},
    "answerCase": lambda w, c: {"explanation": "walk"},
    "verifyCase": lambda w, c: {"note": "walk"},
    "closeCase": lambda w, c: {"conclusion": "unfounded", "comment": "walk"},
    "escalateCase": lambda w, c: {"reason": "walk"},
    "reopenCase": lambda w, c: {"reason": "walk"},
    "commentCase": lambda w, c: {"text": "walk"},
    # reports: an export of a statistics table (read-only), a district report of world.a
    "createExportJob": lambda w, c: {"table": "training", "format": "csv"},
    "generateReport": lambda w, c: {"kind": "district", "district": w.a.district.pk,
                                    "month": f"{dt.date.today():%Y-%m}"},
    "drawSpotCheck": lambda w, c: {"kind": "attendance", "sample_size": 2, "seed": "walk"},
    "recordSpotCheckResult": lambda w, c: {"outcome": "pass", "findings": "walk"},
    "createInstitution": lambda w, c: {
        "name": "走查机构", "credit_code": make_credit_code(90),
        "district": w.a.district.pk, "kind": "private_school"},
    "updateInstitution": lambda w, c: {"address": "走查路 1 号"},
    "createVenue": lambda w, c: {"institution": w.a.institution.pk, "name": "走查场地",
                                 "address": "走查路 2 号", "latitude": "31.1",
                                 "longitude": "121.4"},
    "updateVenue": lambda w, c: {"name": "走查场地改"},
    "createTeacher": lambda w, c: {
        "institution": w.a.institution.pk, "name": "走查老师",
        "id_number": make_id_number("310104", dt.date(1982, 3, 3), 903), "phone": "13900009999"},
    "updateTeacher": lambda w, c: {"phone": "13900008888"},
    "revealTeacherPersonalData": lambda w, c: {"field": "id_number"},
    "createTrainee": lambda w, c: {
        "name": "走查新学员", "id_number": make_id_number("310104", dt.date(1993, 4, 4), 904), "category": "employed",
        "institution": w.a.institution.pk, "residence_district": w.a.district.pk},
    "updateTrainee": lambda w, c: {"category": "employed"},
    "revealTraineePersonalData": lambda w, c: {"field": "phone"},
    "createClass": lambda w, c: {
        "institution": w.a.institution.pk, "name": "走查班", "course": w.course.pk,
        "venue": w.a.venue.pk, "start_date": str(c["start"]),
        "end_date": str(w.a.draft_class.end_date), "planned_hours": 80,
        "teachers": [w.a.teacher.pk]},
    "updateClass": lambda w, c: {"name": "走查班改"},
    "transitionClass": lambda w, c: {"step": "submit"},
    "createSession": lambda w, c: {
        "training_class": w.a.draft_class.pk, "starts_at": c["starts"].isoformat(),
        "ends_at": (c["starts"] + dt.timedelta(hours=2)).isoformat(),
        "teacher": w.a.teacher.pk},
    "updateSession": lambda w, c: {"topic": "走查"},
    "createEnrolment": lambda w, c: {"training_class": w.a.draft_class.pk,
                                     "trainee": c["spare_trainee"].pk},
    "updateEnrolment": lambda w, c: {"status": "withdrawn"},
    # supervision: a change the city admin may make (enabled flips), a back-test window
    "changeRule": lambda w, c: {"enabled": not _warning_rule().enabled, "comment": "walk"},
    "createRuleBacktest": lambda w, c: {
        "window_start": (c["starts"] - dt.timedelta(days=30)).isoformat(),
        "window_end": c["starts"].isoformat()},
    # video viewer: a clip of world.a's camera (refused: nothing is recorded in the walk)
    "requestClip": lambda w, c: {"camera_id": _estate("camera", w.a).pk,
                                 "starts_at": c["starts"].isoformat(),
                                 "ends_at": (c["starts"] + dt.timedelta(minutes=1)).isoformat()},
    # camera estate: bodies that leave world.a's camera in service (refusals where a step
    # would take it out: the video pages walked after must still find it streaming-ready)
    "requestCameraInstallation": lambda w, c: {"institution": w.a.institution.pk,
                                               "venue": w.a.venue.pk, "room": w.a.room.pk},
    "revokeStreamKey": lambda w, c: {"reason": ""},
    "reportCameraFault": lambda w, c: {"description": ""},
    "startCameraRelocation": lambda w, c: {"venue": w.a.venue.pk, "room": w.a.room.pk},
    "scheduleCameraInspection": lambda w, c: {},
    "retireCamera": lambda w, c: {"reason": ""},
    "scheduleWorkOrder": lambda w, c: {"technician_name": "walk",
                                       "technician_phone": "13800000000",
                                       "appointment_at": c["starts"].isoformat()},
    "recordInstallation": lambda w, c: {"serial": "walk"},
    "recordRepairVisit": lambda w, c: {"result": "walk"},
    "recordInspection": lambda w, c: {"checklist": {k: {"ok": True} for k in (
        "device", "network", "picture_quality", "picture_position")}},
    "cancelWorkOrder": lambda w, c: {"reason": "walk"},
}


def openapi_operations(client) -> list[dict]:
    doc = json.loads(client.get("/api/openapi.json").content)
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            ops.append({"path": path, "method": method, "op": op,
                        "id": op.get("operationId", f"{method} {path}")})
    return ops


def _collection_alias(path: str, param: str):
    """/api/classes/{id} → "class"; /api/classes/{class_id}/… → "class"."""
    base = re.sub(r"_(id|pk)$", "", param)
    if param not in ("id", "pk"):
        base = ALIASES.get(base, base)
        if base in OBJECT_FILLERS:
            return base
    segments = path.split("/")
    before = segments[segments.index("{" + param + "}") - 1]
    for candidate in (before, before[:-1], before[:-2]):
        candidate = ALIASES.get(candidate, candidate)
        if candidate in OBJECT_FILLERS:
            return candidate
    raise UnfillableRoute(
        f"The permission matrix cannot fill {{{param}}} in {path}: register a filler in "
        f"OBJECT_FILLERS / ALIASES of skillguard/core/tests/test_permission_matrix.py")


def fill_api(path: str, world) -> dict:
    params = re.findall(r"{(\w+)}", path)
    inside, outside, missing, public = {}, {}, {}, False
    models = {}
    for param in params:
        alias = _collection_alias(path, param)
        a, b = OBJECT_FILLERS[alias](world)
        models[param] = (type(a), a.pk)
        inside[param], missing[param] = _url_key(alias, a), _missing(a.pk)
        if b is None:
            public = True
        else:
            outside[param] = _url_key(alias, b)
    build = lambda values: re.sub(r"{(\w+)}", lambda m: str(values[m[1]]), path)  # noqa: E731
    return {"in": build(inside), "out": build(outside) if params and not public else None,
            "missing": build(missing) if params else None, "params": params,
            "objects": {p: models[p] for p in params}}


# Query parameters that name a record: asked with world.b's record, a list must stay clean.
def _query_filters(op, world) -> dict:
    out = {}
    for param in op.get("parameters", []):
        if param.get("in") != "query":
            continue
        name = param["name"]
        alias = ALIASES.get(name, name)
        if alias in OBJECT_FILLERS:
            _a, b = OBJECT_FILLERS[alias](world)
            if b is not None:
                out[name] = b.pk
    return out


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_every_api_operation_for_every_role(world, role):
    assert_no_problems(walk_api(world, role))


def walk_api(world, role) -> Problems:
    from skillguard.core.scoping import scope_q

    problems = Problems()
    client = client_for(world, role, api=True)
    secrets = secrets_for(world, role)
    context = _api_context(world)
    user = world.users.get(role)
    for entry in openapi_operations(Client()):
        method, op, op_id = entry["method"], entry["op"], entry["id"]
        try:
            filled = fill_api(entry["path"], world)
        except UnfillableRoute as exc:
            problems.add(role, method, entry["path"], str(exc))
            continue
        body = None
        if "requestBody" in op:
            if op_id not in API_BODIES:
                problems.add(role, method, entry["path"],
                             f"register an example body for {op_id} in API_BODIES")
                continue
            body = API_BODIES[op_id](world, context)
        path = filled["in"]

        if role == "anonymous":
            for target in filter(None, (path, filled["missing"])):
                result = call(client, method, target, json_body=body)
                codes = _error_codes(result)
                if result.status != 401 or codes != ["unauthenticated"]:
                    problems.add(role, method, target, "must answer 401 unauthenticated",
                                 result)
            continue

        got = call(client, method, path, json_body=body)
        if got.status >= 500:
            problems.add(role, method, path, "server error", got)
        if method == "get":
            for secret in secrets:
                if secret.encode() in got.content:
                    problems.add(role, method, path, f"shows {secret!r}, out of scope")
            if filled["params"]:
                model, pk = filled["objects"][filled["params"][-1]]
                visible = model.objects.filter(scope_q(model, user, "view"), pk=pk).exists()
                if got.status != (200 if visible else 404):
                    problems.add(role, method, path, f"expected {200 if visible else 404} "
                                 f"(record {'in' if visible else 'not in'} scope)", got)
            filters = _query_filters(op, world)
            if filters and not filled["params"]:
                for name, value in filters.items():
                    target = f"{path}?{name}={value}"
                    filtered = call(client, method, target)
                    if filtered.status >= 500:
                        problems.add(role, method, target, "server error", filtered)
                    for secret in secrets:
                        if secret.encode() in filtered.content:
                            problems.add(role, method, target, f"shows {secret!r}, out of scope")
        elif role == "auditor" and not op.get("x-skillguard-read-only"):
            if 200 <= got.status < 300 or got.writes:
                problems.add(role, method, path, "the auditor changed something", got)

        if filled["missing"] is None:
            continue
        missing = call(client, method, filled["missing"], json_body=body)
        if missing.status != 404 or _error_codes(missing) != ["not_found"]:
            problems.add(role, method, filled["missing"], "a missing record must answer 404 "
                         "not_found", missing)
        if filled["out"] is None or role in CITY_WIDE:
            continue
        out = call(client, method, filled["out"], json_body=body)
        if (out.status, out.content) != (missing.status, missing.content):
            problems.add(role, method, filled["out"], "answers differently from a missing "
                         f"record ({missing.status} {missing.content[:200]!r})", out)
    return problems


def _error_codes(result: Result) -> list[str]:
    try:
        return [e["code"] for e in json.loads(result.content)["errors"]]
    except Exception:
        return []


@pytest.mark.django_db
def test_every_api_url_is_in_the_openapi_document(client):
    """No hidden API endpoint escapes the walk above: every URL under /api/ is an
    operation of the published document (or the document and its viewer)."""
    documented = {re.sub(r"{(\w+)}", r"<\1>", e["path"]) for e in openapi_operations(client)}
    for route in walk_urlpatterns(get_resolver().url_patterns):
        if not route.route.startswith("api/") or route.route in API_DOC_ROUTES:
            continue
        if route.route.startswith(DOCKING_API_PREFIX):
            continue  # walked by skillguard/trust/tests/test_docking_matrix.py
        normalised = "/" + PARAM_RE.sub(lambda m: f"<{m['name']}>", route.route)
        assert normalised in documented, f"/{route.route} ({route.name}) is not in " \
                                         f"/api/openapi.json"


# --------------------------------------------------------------------------- the walker itself


def test_walker_descends_into_includes_and_reports_unfillable_parameters():
    def view(request, **kwargs):
        return HttpResponse()

    nested = ([path("gadgets/<int:gadget_id>/", view, name="gadget_detail"),
               path("classes/<int:pk>/", view, name="class_detail")], "shop")
    routes = {r.name: r for r in walk_urlpatterns([path("outer/", include(nested)),
                                                   path("x/", view, name="x")])}
    assert set(routes) == {"shop:gadget_detail", "shop:class_detail", "x"}
    assert routes["shop:class_detail"].route == "outer/classes/<int:pk>/"
    assert _alias_for(routes["shop:class_detail"], "pk") == "class"
    with pytest.raises(UnfillableRoute, match=r"Register a filler.*gadget_id"):
        _alias_for(routes["shop:gadget_detail"], "gadget_id")
    with pytest.raises(UnfillableRoute):
        _collection_alias("/api/gadgets/{id}", "id")
    assert _collection_alias("/api/classes/{id}/transitions", "id") == "class"


def test_form_replay_submits_what_the_page_shows():
    html = b"""<form method="post" action="/x/"><input name="csrfmiddlewaretoken" value="t">
      <input name="name" value="A &amp; B"><input type="checkbox" name="c" value="1" checked>
      <input type="checkbox" name="d" value="1"><select name="s"><option value="1">a
      <option value="2" selected>b</select><textarea name="t">hi</textarea>
      <button type="submit" name="step" value="approve">ok</button></form>
      <form method="post" action="/accounts/logout/"><input name="z" value="1"></form>"""
    assert replayable_form(html, "/x/") == {"name": ["A & B"], "c": ["1"], "s": ["2"],
                                            "t": ["hi"], "step": ["approve"]}
    assert replayable_form(html, "/elsewhere/") == {}


# --------------------------------------------------------------------------- the walker catches
#
# The walks run over a deliberately broken site: each defect must be reported.


def _leaky_list(request):
    from skillguard.registry.models import Institution

    return HttpResponse(", ".join(Institution.objects.values_list("name", flat=True)))


def _unscoped_filter(request):
    from skillguard.registry.models import Institution

    wanted = request.GET.get("institution") or 0
    return HttpResponse(" ".join(Institution.objects.filter(pk=wanted)
                                 .values_list("name", flat=True)))


def _unscoped_detail(request, pk):
    from skillguard.registry.models import Institution

    return HttpResponse(get_object_or_404(Institution, pk=pk).name[:2])


def _auditor_may_write(request, pk):
    from skillguard.registry import queries, services

    institution = queries.access_institution(request.user, pk)
    if request.method == "POST":
        services.update_institution(None, institution, address="walk")
    return HttpResponse("ok")


def _crash(request, pk):
    raise RuntimeError("boom")


def _broken_api():
    from ninja import NinjaAPI

    from skillguard.api_support import (
        BearerTokenAuth,
        SessionCookieAuth,
        install_error_handlers,
    )
    from skillguard.registry import services
    from skillguard.registry.models import Institution, TrainingClass, Venue

    api = NinjaAPI(urls_namespace="broken-api", auth=[BearerTokenAuth(), SessionCookieAuth()])
    install_error_handlers(api)

    @api.get("/institutions/{int:id}", operation_id="unscopedInstitution")
    def unscoped(request, id: int):
        return {"name": get_object_or_404(Institution, pk=id).name}

    @api.get("/classes", auth=None, operation_id="openClasses")
    def open_classes(request):
        return {"codes": list(TrainingClass.objects.values_list("code", flat=True))}

    @api.post("/venues/{int:id}", operation_id="anyoneWrites")
    def writes(request, id: int):
        services.update_venue(None, get_object_or_404(Venue, pk=id), name="walk")
        return {}

    return api


class _BrokenSite:
    urlpatterns = [
        path("accounts/", include("skillguard.accounts.urls")),
        path("", login_required(lambda request: HttpResponse("home")), name="home"),
        path("leaky/", login_required(_leaky_list), name="leaky_list"),
        path("filtered/", login_required(_unscoped_filter), name="filtered_list"),
        path("institutions/<int:pk>/", login_required(_unscoped_detail),
             name="institution_unscoped"),
        path("open/institutions/<int:pk>/", _unscoped_detail, name="institution_open"),
        path("institutions/<int:pk>/write/", login_required(_auditor_may_write),
             name="institution_write"),
        path("classes/<int:pk>/crash/", login_required(_crash), name="class_crash"),
        path("gadgets/<int:gadget_id>/", login_required(_crash), name="gadget"),
        path("api/", _broken_api().urls),
    ]


@pytest.mark.django_db
def test_the_page_walk_catches_what_it_promises_to(world, settings):
    settings.ROOT_URLCONF = _BrokenSite

    def report(role):
        return "\n".join(walk_pages(world, role))

    anonymous = report("anonymous")
    assert "GET /open/institutions/" in anonymous and "redirect to the login" in anonymous
    scoped = report("institution_admin")
    assert f"GET /leaky/: shows {world.b.institution.name!r}" in scoped
    assert "GET /filtered/?" in scoped and f"institution={world.b.institution.pk}" in scoped
    assert f"GET /institutions/{world.b.institution.pk}/: answers differently" in scoped
    assert "GET /classes/" in scoped and "server error" in scoped and "boom" in scoped
    assert "Register a filler" in scoped and "gadget_id" in scoped
    assert "the auditor changed" not in scoped  # others may write what is theirs
    auditor = report("auditor")
    assert f"POST /institutions/{world.a.institution.pk}/write/: the auditor changed" in auditor


@pytest.mark.django_db
def test_the_api_walk_catches_what_it_promises_to(world, settings):
    settings.ROOT_URLCONF = _BrokenSite

    def report(role):
        return "\n".join(walk_api(world, role))

    assert "GET /api/classes: must answer 401" in report("anonymous")
    scoped = report("district_supervisor")
    b_institution = f"/api/institutions/{world.b.institution.pk}"
    assert f"GET {b_institution}: answers differently from a missing record" in scoped
    assert f"GET /api/classes: shows {world.b.draft_class.code!r}" in scoped
    assert f"POST /api/venues/{world.a.venue.pk}: the auditor changed" in report("auditor")

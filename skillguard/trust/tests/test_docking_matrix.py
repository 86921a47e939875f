"""The signature matrix of the docking API (the main permission matrix leaves
/api/docking/v1/ to this file): EVERY operation of /api/docking/v1/openapi.json, with every
kind of credential a caller might try.

* no credentials, a user's bearer token, a signed-in session: 401 with a signature code;
* a revoked key, an expired key, a suspended client, a replayed request: 401 with that code;
* a valid signature: never 401, never 5xx;
* only the operations at PUBLIC_PATHS (published reference material) answer without a signature;
* every URL under /api/docking/v1/ is an operation of that document.
An operation added later is covered automatically."""
from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from skillguard.core.tests.test_permission_matrix import PARAM_RE, walk_urlpatterns
from skillguard.ingest import clients as client_services
from skillguard.trust.models import ClientKey
from skillguard.trust.testing import (
    DOCKING_PREFIX,
    Signer,
    add_key,
    docking_client_for,
    send,
)

pytestmark = pytest.mark.django_db
# Published reference material, deliberately readable without a signature (by path).
PUBLIC_PATHS = {"/api/docking/v1/server-keys", "/api/docking/v1/schemas",
                "/api/docking/v1/schemas/{record_type}.json"}
DOC_ROUTES = {"api/docking/v1/openapi.json", "api/docking/v1/docs", "api/docking/v1/"}


def operations():
    doc = json.loads(Client().get(DOCKING_PREFIX + "/openapi.json").content)
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def _fill(path, op, key_id):
    types = {p["name"]: p.get("schema", {}) for p in op.get("parameters", [])
             if p.get("in") == "path"}

    def value(match):
        name, schema = match[1], types.get(match[1], {})
        if name == "key_id":
            return key_id
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("type") == "integer":
            return "987654321"
        return "trainee"
    return re.sub(r"{(\w+)}", value, path)


def _codes(response):
    try:
        return [e["code"] for e in json.loads(response.content)["errors"]]
    except (ValueError, KeyError, TypeError):
        return []


@pytest.fixture
def callers(world):
    admin = world.users["city_admin"]
    good_client = docking_client_for(world.a.institution)
    good, good_private = add_key(good_client)
    revoked, revoked_private = add_key(good_client)
    from skillguard.trust import services

    services.revoke_key(admin, revoked)
    expired, expired_private = add_key(good_client)
    ClientKey.objects.filter(pk=expired.pk).update(not_after=timezone.now())
    suspended_client = docking_client_for(world.b.institution)
    suspended, suspended_private = add_key(suspended_client)
    client_services.set_client_status(admin, suspended_client, "suspended")
    from skillguard.accounts.services import issue_api_token

    _t, token = issue_api_token(None, world.users["api_client"], name="matrix")
    session = Client()
    session.force_login(admin)
    return {"good": (good, good_private), "revoked_key": (revoked, revoked_private),
            "expired_key": (expired, expired_private),
            "client_suspended": (suspended, suspended_private), "token": token,
            "session": session}


def test_every_docking_operation_requires_a_valid_signature(callers):
    problems = []
    good, good_private = callers["good"]
    victim, _ = add_key(good.client)  # what POST /keys/{key_id}/revoke may revoke
    seen = 0
    for path, method, op in operations():
        seen += 1
        url = _fill(path, op, victim.key_id)
        body = b"{}" if "requestBody" in op else b""
        ctype = "application/json" if body else ""
        where = f"{method.upper()} {path} ({op.get('operationId')})"
        if not op.get("security"):
            if path not in PUBLIC_PATHS:
                problems.append(f"{where}: answers without a signature")
            continue
        plain = {"Content-Type": ctype} if ctype else {}
        attempts = {
            "none": send(Client(), method, url, body, plain),
            "bearer": send(Client(), method, url, body,
                           {**plain, "Authorization": f"Bearer {callers['token']}"}),
            "session": send(callers["session"], method, url, body, plain),
        }
        for name, response in attempts.items():
            if response.status_code != 401 or _codes(response) != ["missing_signature"]:
                problems.append(f"{where} [{name}]: expected 401 missing_signature, got "
                                f"{response.status_code} {response.content[:160]!r}")
        for code in ("revoked_key", "expired_key", "client_suspended"):
            key, private_key = callers[code]
            response = Signer(Client(), key.key_id, private_key).request(
                method, url, body=body, content_type=ctype)
            if response.status_code != 401 or _codes(response) != [code]:
                problems.append(f"{where} [{code}]: got {response.status_code} "
                                f"{response.content[:160]!r}")
        headers = Signer(Client(), good.key_id, good_private).headers(
            method, url, body, ctype)
        first = send(Client(), method, url, body, headers)
        if first.status_code == 401 or first.status_code >= 500:
            problems.append(f"{where} [valid signature]: {first.status_code} "
                            f"{first.content[:200]!r}")
        replay = send(Client(), method, url, body, headers)
        if replay.status_code != 401 or _codes(replay) != ["replayed_nonce"]:
            problems.append(f"{where} [replay]: {replay.status_code} {replay.content[:160]!r}")
    assert seen >= 5
    assert not problems, "\n".join(problems)


def test_every_docking_url_is_in_the_docking_document(db):
    documented = {re.sub(r"{(\w+)}", r"<\1>", p) for p, _m, _o in operations()}
    for route in walk_urlpatterns(get_resolver().url_patterns):
        if not route.route.startswith("api/docking/v1/") or route.route in DOC_ROUTES:
            continue
        normalised = "/" + PARAM_RE.sub(lambda m: f"<{m['name']}>", route.route)
        assert normalised in documented, f"/{route.route} is not in the docking document"


def test_enrolment_header_does_not_open_other_operations(callers):
    """'Authorization: Enrolment' is accepted by POST /keys only."""
    good, _ = callers["good"]
    for path, method, op in operations():
        if op.get("operationId") == "registerKey" or not op.get("security"):
            continue
        url = _fill(path, op, good.key_id)
        response = send(Client(), method, url, b"", {"Authorization": "Enrolment EC-x"})
        assert response.status_code == 401, f"{method} {path}"

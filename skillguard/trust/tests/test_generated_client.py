"""A client written only from the published standard: generated at test time by a standard
OpenAPI generator (openapi-python-client) from /api/docking/v1/openapi.json as served by a
running server, then used to register a key, push signed data and read the results.

The only other thing the client takes from the platform is "how to sign" — the copyable
reference signer ``skillguard/trust/client.py`` (standard library + ``cryptography``),
plugged in as an httpx request hook: the generator knows nothing of RFC 9421."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skillguard.ingest.tests.test_pipeline import checkin

pytestmark = pytest.mark.slow

DOCKING = "/api/docking/v1"


def _generator() -> str:
    exe = Path(sys.executable).with_name("openapi-python-client")
    found = str(exe) if exe.exists() else shutil.which("openapi-python-client")
    if not found:
        message = "openapi-python-client not installed (pip install -e '.[test]')"
        if os.environ.get("SKILLGUARD_REQUIRE_ALL", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (SKILLGUARD_REQUIRE_ALL=1)")
        pytest.skip(message)
    return found


@pytest.fixture
def generated(live_server, tmp_path):
    """The package generated from the served OpenAPI document, imported."""
    import httpx

    document = httpx.get(live_server.url + DOCKING + "/openapi.json", timeout=30)
    assert document.status_code == 200
    spec = tmp_path / "openapi.json"
    spec.write_bytes(document.content)
    name = f"docking_client_{secrets.token_hex(4)}"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}"}
    done = subprocess.run([_generator(), "generate", "--path", str(spec), "--meta", "none",
                           "--output-path", str(tmp_path / name)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield _Generated(name), live_server.url
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


class _Generated:
    """Modules of the generated package by operation: ``gen.op("records", "push_records")``."""

    def __init__(self, name: str):
        self.name = name
        self.package = importlib.import_module(name)
        self.models = importlib.import_module(f"{name}.models")
        self.types = importlib.import_module(f"{name}.types")
        self.tags = {p.name.split("_")[0]: p.name
                     for p in Path(self.package.__file__).parent.joinpath("api").iterdir()
                     if p.is_dir() and not p.name.startswith("__")}

    def op(self, tag: str, operation: str):
        return importlib.import_module(f"{self.name}.api.{self.tags[tag]}.{operation}")


def signing_hook(key_id: str, private_key, alg: str, sent: list):
    """An httpx request hook signing each request with the reference signer."""
    from skillguard.trust import client as reference

    def sign(request):
        body = request.read()
        headers = reference.sign_request(request.method, request.url.path,
                                         request.url.query.decode("ascii"), body,
                                         request.headers.get("Content-Type", ""), key_id,
                                         private_key, alg)
        request.headers.update(headers)
        sent.append((request.method, request.url.path, body))
    return sign


def test_generated_client_registers_a_key_pushes_signed_data_and_reads_results(
        world, generated):
    from skillguard.ingest import batches
    from skillguard.ingest.clients import register_client
    from skillguard.ingest.tests.batch_helpers import checkin_records, jsonl
    from skillguard.trust import client as reference

    gen, base_url = generated
    # the city admin registers the institution's system and hands over the enrolment code
    _client, code = register_client(world.users["city_admin"], name="生成客户端机构",
                                    kind="institution", institution=world.a.institution)

    # 1. enrol a first key: Authorization: Enrolment <code>, signed with the new key
    private_key, public_pem = reference.generate_key("ed25519")
    sent: list = []
    enrol = gen.package.AuthenticatedClient(
        base_url=base_url, token=code, prefix="Enrolment",
        httpx_args={"event_hooks": {"request": [signing_hook(
            reference.proof_key_id(public_pem), private_key, "ed25519", sent)]}})
    res = gen.op("keys", "register_key").sync_detailed(
        client=enrol, body=gen.models.KeyIn(algorithm="ed25519", public_key_pem=public_pem))
    assert res.status_code == 201, res.content
    key = res.parsed
    assert isinstance(key, gen.models.KeyOut) and key.status == "active"
    assert key.fingerprint == reference.fingerprint(public_pem)

    signed = gen.package.Client(base_url=base_url, httpx_args={"event_hooks": {
        "request": [signing_hook(key.key_id, private_key, "ed25519", sent)]}})
    who = gen.op("keys", "whoami").sync(client=signed)
    assert not hasattr(who, "errors"), [e.to_dict() for e in who.errors]
    assert (who.client, who.key_id) == ("生成客户端机构", key.key_id)

    # 2. push signed records: one good check-in, one with an unknown method
    good, bad = checkin(world.a, 1), checkin(world.a, 2, method="telepathy")
    res = gen.op("records", "push_records").sync_detailed(
        "checkin", client=signed,
        body=gen.models.PushRecordsBody.from_dict({"records": [good, bad]}))
    assert res.status_code == 200, res.content
    pushed = res.parsed
    assert isinstance(pushed, gen.models.PushOut)
    assert (pushed.accepted, pushed.rejected, pushed.unchanged) == (1, 1, 0)
    assert [r.status for r in pushed.results] == ["accepted", "rejected"]
    assert pushed.results[1].problems[0].code == "invalid_code"
    assert pushed.results[1].problems[0].field == "method"
    body_sent = sent[-1][2]

    # 3. read the results back: the submission, the record, the quarantine
    sub = gen.op("records", "get_submission").sync(str(pushed.submission_id), client=signed)
    assert isinstance(sub, gen.models.SubmissionOut)
    assert sub.body_sha256 == hashlib.sha256(body_sent).hexdigest()
    assert (sub.key_id, sub.record_count, sub.body_size) == (key.key_id, 2, len(body_sent))
    trace = gen.op("records", "get_record").sync("checkin", "CI-1", client=signed)
    assert trace.version == 1 and trace.submission_ids == [pushed.submission_id]
    quarantine = gen.op("records", "list_quarantine").sync(client=signed)
    assert quarantine.count == 1 and quarantine.items[0].external_id == "CI-2"
    masked = quarantine.items[0].payload.to_dict()["trainee_id_number"]
    assert "*" * 11 in masked and masked != bad["trainee_id_number"]

    # 4. a batch file: 202 with a batch id; the worker processes it; status and problems
    records = checkin_records(world, 6, bad_every=3, prefix="gen")
    res = gen.op("batches", "upload_batch").sync_detailed(
        "checkin", client=signed, body=gen.types.File(payload=jsonl(records)),
        format_="jsonl")
    assert res.status_code == 202, res.content
    accepted = res.parsed
    assert batches.run_batch(accepted.batch_id) == "done"  # what the worker does
    status = gen.op("batches", "get_batch").sync(accepted.batch_id, client=signed)
    assert (status.status, status.total, status.accepted, status.rejected) == ("done", 6, 4, 2)
    problems = gen.op("batches", "list_batch_problems").sync(accepted.batch_id, client=signed)
    assert [p.line for p in problems.items] == [3, 6]

    # a request signed with a key the platform does not know is refused (401, its code)
    stranger_key, _pem = reference.generate_key("ed25519")
    stranger = gen.package.Client(base_url=base_url, httpx_args={"event_hooks": {
        "request": [signing_hook(key.key_id, stranger_key, "ed25519", [])]}})
    res = gen.op("keys", "whoami").sync_detailed(client=stranger)
    assert res.status_code == 401
    assert [e.code for e in res.parsed.errors] == ["bad_signature"]
    assert json.loads(res.content)["errors"][0]["code"] == "bad_signature"

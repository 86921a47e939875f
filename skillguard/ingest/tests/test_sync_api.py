"""The synchronous docking endpoints over HTTP, signed like a real client."""
from __future__ import annotations

import json

import pytest

from skillguard.ingest.models import Submission
from skillguard.ingest.sealing import submission_body, verify_submission
from skillguard.ingest.tests.test_pipeline import checkin, client_of
from skillguard.trust.testing import Signer, add_key

pytestmark = pytest.mark.django_db
URL = "/api/docking/v1"


@pytest.fixture
def signer(world, client):
    key, private = add_key(client_of(world.a))
    return Signer(client, key.key_id, private)


def test_push_answers_per_record_and_traces_back(world, signer):
    bad = checkin(world.a, 2, kind="sideways")
    res = signer.request("POST", f"{URL}/records/checkin",
                         json={"records": [checkin(world.a, 1), bad]})
    assert res.status_code == 200, res.content
    body = res.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["results"][1]["problems"][0]["code"] == "invalid_code"
    assert body["results"][1]["problems"][0]["field"] == "kind"
    sub_id = body["submission_id"]
    stored = Submission.objects.get(id=sub_id)
    assert b"CI-1" not in bytes(stored.body)  # sealed at rest
    assert json.loads(submission_body(stored))["records"][0]["external_id"] == "CI-1"
    assert stored.signature.startswith("sg=")
    # non-repudiation survives the sealing: the kept digest and signature still verify
    assert verify_submission(stored) == {"digest_ok": True, "signature_ok": True}

    res = signer.request("GET", f"{URL}/submissions/{sub_id}")
    assert res.status_code == 200 and res.json()["body_sha256"] == stored.body_sha256
    res = signer.request("GET", f"{URL}/records/checkin/CI-1")
    assert res.status_code == 200
    assert res.json()["version"] == 1 and res.json()["submission_ids"] == [sub_id]
    res = signer.request("GET", f"{URL}/quarantine")
    assert [q["external_id"] for q in res.json()["items"]] == ["CI-2"]


def test_other_clients_submission_is_not_found(world, client, signer):
    res = signer.request("POST", f"{URL}/records/checkin", json={"records": [checkin(world.a)]})
    sub_id = res.json()["submission_id"]
    key_b, private_b = add_key(client_of(world.b))
    other = Signer(client, key_b.key_id, private_b)
    assert other.request("GET", f"{URL}/submissions/{sub_id}").status_code == 404
    assert other.request("GET", f"{URL}/records/checkin/CI-1").status_code == 404


def test_request_errors(world, signer, client):
    res = signer.request("POST", f"{URL}/records/checkin", body=b"{not json")
    assert res.status_code == 400 and res.json()["errors"][0]["code"] == "malformed_json"
    res = signer.request("POST", f"{URL}/records/checkin", body=b"a,b", content_type="text/csv")
    assert res.status_code == 415
    res = signer.request("POST", f"{URL}/records/checkin",
                         json={"records": [{"external_id": str(i)} for i in range(1001)]})
    assert res.status_code == 413
    assert res.json()["errors"][0]["code"] == "batch_too_large"
    assert res.json()["batch_url"].endswith("/batches/checkin")
    # unsigned: refused by the signature check
    assert client.post(f"{URL}/records/checkin", data=b"{}",
                       content_type="application/json").status_code == 401


def test_schemas_are_public(client):
    res = client.get(f"{URL}/schemas")
    assert res.status_code == 200
    assert {t["type"] for t in res.json()["types"]} >= {"checkin", "trainee", "learning_event"}
    schema = client.get(f"{URL}/schemas/checkin.json").json()
    assert "occurred_at" in schema["required"]
    assert "签到" in json.dumps(schema, ensure_ascii=False)
    assert schema["additionalProperties"] is False
    assert client.get(f"{URL}/schemas/nope.json").status_code == 404


def test_nan_is_refused_as_malformed_json(world, signer):
    """NaN is no JSON (and jsonb cannot store it): refused with a code, never a 500."""
    res = signer.request("POST", "/api/docking/v1/records/checkin",
                         body=b'{"records": [{"external_id": "N-1", "latitude": NaN}]}')
    assert res.status_code == 400 and res.json()["errors"][0]["code"] == "malformed_json"
    from skillguard.ingest import batches
    from skillguard.ingest.tests.batch_helpers import VERIFIED, make_client

    client = make_client(world, name="NaN 系统")
    _batch, error = batches.create_batch(client, VERIFIED, "checkin", "application/x-ndjson",
                                        b'{"external_id": "N-2", "latitude": NaN}\n',
                                        path="/test", enqueue=False)
    assert error is not None and error.code == "malformed_jsonl" and error.line == 1

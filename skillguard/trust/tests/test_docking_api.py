"""Keys over the docking API: enrolment, rotation, revocation, expiry, suspension, replay,
scope — each taking effect on the very next request."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from skillguard.audit.models import AuditEvent
from skillguard.ingest import clients as client_services
from skillguard.trust import client as ref
from skillguard.trust import services
from skillguard.trust.models import ClientKey, EnrolmentCode, KeyStatus, SeenNonce
from skillguard.trust.testing import DOCKING_PREFIX as P
from skillguard.trust.testing import Signer, add_key, send

pytestmark = pytest.mark.django_db


def _codes(response):
    return [e["code"] for e in json.loads(response.content)["errors"]]


@pytest.fixture
def registered(world):
    """A client for world.a's institution, registered by the city admin: (client, code)."""
    return client_services.register_client(world.users["city_admin"], name="甲机构系统",
                                           kind="institution",
                                           institution=world.a.institution)


def _enrol(code, alg="ed25519", *, sign_with=None, keyid=None, http=None):
    private_key, public_pem = ref.generate_key(alg)
    body = json.dumps({"algorithm": alg, "public_key_pem": public_pem}).encode()
    signer_key = sign_with or private_key
    headers = ref.sign_request("POST", P + "/keys", "", body, "application/json",
                               keyid or ref.proof_key_id(public_pem), signer_key, alg)
    headers["Authorization"] = f"Enrolment {code}"
    return send(http or Client(), "POST", P + "/keys", body, headers), private_key


@pytest.mark.parametrize("alg", ["ed25519", "ecdsa-p256-sha256"])
def test_enrol_then_sign_requests(registered, alg):
    client, code = registered
    response, private_key = _enrol(code, alg)
    assert response.status_code == 201, response.content
    key_id = response.json()["key_id"]
    assert key_id.startswith("k_") and len(key_id) == 18
    key = ClientKey.objects.get(key_id=key_id)
    assert key.client == client and key.algorithm == alg
    assert abs((key.not_after - timezone.now()) - dt.timedelta(days=365)) < dt.timedelta(
        minutes=1)
    signer = Signer(Client(), key_id, private_key, alg)
    who = signer.request("GET", P + "/whoami")
    assert who.status_code == 200, who.content
    assert who.json() == {"client": "甲机构系统", "kind": "institution", "key_id": key_id}
    key.refresh_from_db()
    assert key.last_used_at is not None
    listed = signer.request("GET", P + "/keys")
    assert [k["key_id"] for k in listed.json()] == [key_id]
    assert AuditEvent.objects.filter(object_type="trust.clientkey", object_id=str(key.pk),
                                     action="create").exists()


def test_enrolment_code_is_single_use_and_expires(registered):
    _client, code = registered
    assert _enrol(code)[0].status_code == 201
    again, _ = _enrol(code)
    assert again.status_code == 401 and _codes(again) == ["enrolment_code_invalid"]
    client, _ = registered
    record, fresh = services.issue_enrolment_code(None, client)
    EnrolmentCode.objects.filter(pk=record.pk).update(expires_at=timezone.now())
    late, _ = _enrol(fresh)
    assert late.status_code == 401 and _codes(late) == ["enrolment_code_invalid"]
    assert _codes(_enrol("EC-made-up")[0]) == ["enrolment_code_invalid"]


def test_enrolment_needs_proof_of_possession(registered):
    _client, code = registered
    other, _pem = ref.generate_key("ed25519")
    wrong_signer, _ = _enrol(code, sign_with=other)  # signed with another key
    assert wrong_signer.status_code == 401 and _codes(wrong_signer) == ["bad_signature"]
    wrong_keyid, _ = _enrol(code, keyid="sha256:" + "0" * 64)
    assert wrong_keyid.status_code == 401 and _codes(wrong_keyid) == ["bad_signature"]
    unsigned = Client().post(P + "/keys", data={"algorithm": "ed25519", "public_key_pem": "x"},
                             content_type="application/json",
                             headers={"Authorization": f"Enrolment {code}"})
    assert unsigned.status_code == 401 and _codes(unsigned) == ["missing_signature"]
    # none of the failures used the code up
    assert _enrol(code)[0].status_code == 201


def test_rotation_revocation_and_expiry_act_on_the_next_request(world):
    from skillguard.trust.testing import docking_client_for

    client = docking_client_for(world.a.institution)
    old, old_private = add_key(client)
    signer = Signer(Client(), old.key_id, old_private)
    new_private, new_pem = ref.generate_key("ecdsa-p256-sha256")
    added = signer.request("POST", P + "/keys", json={"algorithm": "ecdsa-p256-sha256",
                                                      "public_key_pem": new_pem})
    assert added.status_code == 201, added.content
    new = Signer(Client(), added.json()["key_id"], new_private, "ecdsa-p256-sha256")
    assert new.request("GET", P + "/whoami").status_code == 200
    assert signer.request("GET", P + "/whoami").status_code == 200  # both active
    revoked = new.request("POST", P + f"/keys/{old.key_id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = signer.request("GET", P + "/whoami")
    assert refused.status_code == 401 and _codes(refused) == ["revoked_key"]
    ClientKey.objects.filter(key_id=new.key_id).update(not_after=timezone.now())
    expired = new.request("GET", P + "/whoami")
    assert expired.status_code == 401 and _codes(expired) == ["expired_key"]
    assert AuditEvent.objects.filter(object_type="trust.clientkey", object_id=str(old.pk),
                                     action="update").exists()


def test_revocation_by_the_city_and_suspension_act_at_once(world):
    from skillguard.trust.testing import docking_client_for

    admin = world.users["city_admin"]
    client = docking_client_for(world.a.institution)
    key, private_key = add_key(client)
    signer = Signer(Client(), key.key_id, private_key)
    assert signer.request("GET", P + "/whoami").status_code == 200
    client_services.set_client_status(admin, client, "suspended")
    assert _codes(signer.request("GET", P + "/whoami")) == ["client_suspended"]
    client_services.set_client_status(admin, client, "active")
    assert signer.request("GET", P + "/whoami").status_code == 200
    services.revoke_key(admin, key)
    assert _codes(signer.request("GET", P + "/whoami")) == ["revoked_key"]
    assert ClientKey.objects.get(pk=key.pk).revoked_by == admin


def test_replay_unknown_key_and_bad_signature(world):
    from skillguard.trust.testing import docking_client_for

    client = docking_client_for(world.a.institution)
    key, private_key = add_key(client)
    http = Client()
    headers = ref.sign_request("GET", P + "/whoami", "", b"", "", key.key_id, private_key)
    assert send(http, "GET", P + "/whoami", b"", headers).status_code == 200
    replay = send(http, "GET", P + "/whoami", b"", headers)
    assert replay.status_code == 401 and _codes(replay) == ["replayed_nonce"]
    assert SeenNonce.objects.filter(key_id=key.key_id).count() == 1
    unknown = Signer(http, "k_doesnotexist0000", private_key).request("GET", P + "/whoami")
    assert _codes(unknown) == ["unknown_key"]
    other, _pem = ref.generate_key("ed25519")
    forged = Signer(http, key.key_id, other).request("GET", P + "/whoami")
    assert _codes(forged) == ["bad_signature"]
    wrong_alg, _ = ref.generate_key("ecdsa-p256-sha256")
    mismatch = Signer(http, key.key_id, wrong_alg, "ecdsa-p256-sha256").request(
        "GET", P + "/whoami")
    assert _codes(mismatch) == ["bad_signature"]
    stale = Signer(http, key.key_id, private_key).request(
        "GET", P + "/whoami", created=int(timezone.now().timestamp()) - 301)
    assert _codes(stale) == ["stale_timestamp"]
    body = json.loads(stale.content)["errors"][0]
    assert body["message_zh"] and body["message_en"] and body["field"] == "Signature"


def test_query_is_covered(world):
    from skillguard.trust.testing import docking_client_for

    key, private_key = add_key(docking_client_for(world.a.institution))
    headers = ref.sign_request("GET", P + "/whoami", "a=1", b"", "", key.key_id, private_key)
    assert send(Client(), "GET", P + "/whoami?a=1", b"", headers).status_code == 200
    headers = ref.sign_request("GET", P + "/whoami", "a=1", b"", "", key.key_id, private_key)
    tampered = send(Client(), "GET", P + "/whoami?a=2", b"", headers)
    assert _codes(tampered) == ["bad_signature"]


def test_text_plain_added_by_the_server_to_a_bodiless_request_is_tolerated(world):
    """wsgiref (Django's development and live test servers) reports "text/plain" for a
    request sent without Content-Type: a bodiless request signed with none still verifies —
    and only that case: with a body, the Content-Type signed is the one that counts."""
    from skillguard.trust.testing import docking_client_for

    key, private_key = add_key(docking_client_for(world.a.institution))
    headers = ref.sign_request("GET", P + "/whoami", "", b"", "", key.key_id, private_key)
    as_wsgiref = Client().generic("GET", P + "/whoami", headers=headers,
                                  content_type="text/plain")
    assert as_wsgiref.status_code == 200, as_wsgiref.content
    body = b'{"records": []}'
    headers = ref.sign_request("POST", P + "/records/checkin", "", body, "", key.key_id,
                               private_key)
    relabelled = Client().generic("POST", P + "/records/checkin", data=body, headers=headers,
                                  content_type="text/plain")
    assert _codes(relabelled) == ["bad_signature"]


def test_a_client_sees_and_revokes_only_its_own_keys(world):
    from skillguard.trust.testing import docking_client_for

    mine = docking_client_for(world.a.institution)
    theirs = docking_client_for(world.b.institution)
    same_institution = docking_client_for(world.a.institution, name="甲机构第二系统")
    key, private_key = add_key(mine)
    their_key, _ = add_key(theirs)
    neighbour_key, _ = add_key(same_institution)
    signer = Signer(Client(), key.key_id, private_key)
    listed = signer.request("GET", P + "/keys").json()
    assert [k["key_id"] for k in listed] == [key.key_id]
    missing = signer.request("POST", P + "/keys/k_doesnotexist0000/revoke")
    for other in (their_key, neighbour_key):
        response = signer.request("POST", P + f"/keys/{other.key_id}/revoke")
        assert (response.status_code, response.content) == (404, missing.content)
        assert ClientKey.objects.get(pk=other.pk).status == KeyStatus.ACTIVE


def test_key_validation(world):
    from skillguard.trust.testing import docking_client_for

    key, private_key = add_key(docking_client_for(world.a.institution))
    signer = Signer(Client(), key.key_id, private_key)
    _p, ec_pem = ref.generate_key("ecdsa-p256-sha256")
    cases = [({"algorithm": "ed25519", "public_key_pem": ec_pem}, "wrong_key_type"),
             ({"algorithm": "sm2-sm3", "public_key_pem": ec_pem}, "unsupported_algorithm"),
             ({"algorithm": "ed25519", "public_key_pem": "garbage"}, "invalid"),
             ({"algorithm": "ed25519", "public_key_pem": key.public_key_pem}, "duplicate")]
    for body, code in cases:
        response = signer.request("POST", P + "/keys", json=body)
        assert response.status_code == 422 and code in _codes(response), response.content


def test_server_keys_are_public(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    response = Client().get(P + "/server-keys")
    assert response.status_code == 200
    doc = response.json()
    assert doc["current"].startswith("s_")
    assert "BEGIN PUBLIC KEY" in doc["keys"][0]["public_key_pem"]


def test_purge_forgets_only_old_nonces(db):
    from skillguard.trust.tasks import purge_nonces

    now = timezone.now()
    SeenNonce.objects.create(key_id="k", nonce="old-nonce", seen_at=now - dt.timedelta(
        seconds=601))
    SeenNonce.objects.create(key_id="k", nonce="new-nonce", seen_at=now - dt.timedelta(
        seconds=599))
    assert purge_nonces(now) == 1
    assert list(SeenNonce.objects.values_list("nonce", flat=True)) == ["new-nonce"]

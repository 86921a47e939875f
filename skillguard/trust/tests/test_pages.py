"""The docking-clients pages: the city registers, suspends and revokes; supervisors read
within their scope; others are refused."""
from __future__ import annotations

import re

import pytest

from skillguard.audit.models import AuditEvent
from skillguard.ingest.models import DockingClient
from skillguard.trust.models import ClientKey, EnrolmentCode, KeyStatus
from skillguard.trust.services import hash_code
from skillguard.trust.testing import add_key, docking_client_for

pytestmark = pytest.mark.django_db


def test_city_admin_registers_a_client_and_sees_the_code_once(world, login):
    http = login(world.users["city_admin"])
    assert http.get("/trust/clients/new/").status_code == 200
    response = http.post("/trust/clients/new/", {
        "name": "浦东区对接系统", "kind": "district_system", "district": world.a.district.pk})
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Cache-Control"] == "no-store"
    code = re.search(rb'id="enrolment-code"[^>]*>(EC-[^<]+)<', response.content)[1].decode()
    client = DockingClient.objects.get(name="浦东区对接系统")
    assert client.user.role == "api_client" and client.user.district == world.a.district
    record = EnrolmentCode.objects.get(client=client)
    assert record.code_hash == hash_code(code) and code not in str(record.__dict__)
    assert AuditEvent.objects.filter(object_type="ingest.dockingclient",
                                     object_id=str(client.pk)).exists()
    detail = http.get(f"/trust/clients/{client.pk}/")
    assert code.encode() not in detail.content


def test_client_page_lists_keys_and_actions_work(world, login):
    http = login(world.users["city_admin"])
    client = docking_client_for(world.a.institution)
    key, _ = add_key(client)
    listing = http.get("/trust/clients/")
    assert client.name.encode() in listing.content
    detail = http.get(f"/trust/clients/{client.pk}/")
    assert key.key_id.encode() in detail.content and b"Ed25519" in detail.content
    assert http.post(f"/trust/keys/{key.pk}/revoke/").status_code == 302
    assert ClientKey.objects.get(pk=key.pk).status == KeyStatus.REVOKED
    assert http.post(f"/trust/clients/{client.pk}/status/",
                     {"status": "suspended"}).status_code == 302
    client.refresh_from_db()
    assert client.status == "suspended"


def test_supervisors_read_within_scope_and_may_not_change(world, login):
    mine = docking_client_for(world.a.institution)
    theirs = docking_client_for(world.b.institution)
    key, _ = add_key(mine)
    http = login(world.users["district_supervisor"])
    listing = http.get("/trust/clients/")
    assert mine.name.encode() in listing.content and theirs.name.encode() not in listing.content
    assert http.get(f"/trust/clients/{mine.pk}/").status_code == 200
    assert http.get(f"/trust/clients/{theirs.pk}/").status_code == 404
    assert http.post(f"/trust/keys/{key.pk}/revoke/").status_code == 404
    assert ClientKey.objects.get(pk=key.pk).status == KeyStatus.ACTIVE
    assert http.get("/trust/clients/new/").status_code == 403
    for role in ("institution_admin", "teacher", "trainee", "api_client"):
        assert login(world.users[role]).get("/trust/clients/").status_code == 403, role
    auditor = login(world.users["auditor"])
    assert auditor.get("/trust/clients/").status_code == 200
    assert auditor.post(f"/trust/clients/{mine.pk}/status/",
                        {"status": "suspended"}).status_code == 404


def test_menu_entry_only_for_viewers(world):
    from skillguard.core.navigation import menu_for

    def names(role):
        return [i["name"] for i in menu_for(world.users[role])]

    assert "trust:client_list" in names("city_admin")
    assert "trust:client_list" in names("district_supervisor")
    assert "trust:client_list" not in names("institution_admin")

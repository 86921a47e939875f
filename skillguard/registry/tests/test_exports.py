"""CSV exports: the page's scope and filters, masked personal data, audited, refused
for roles without the export permission."""
import csv
import io

import pytest

from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core import crypto

pytestmark = pytest.mark.django_db


def _rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_district_supervisor_exports_only_their_district_masked_and_audited(world, login):
    client = login(world.users["district_supervisor"])
    response = client.get("/registry/trainees/?export=csv", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = _rows(response)
    assert header[:2] == ["Real name", "ID number"]
    names = {r[0] for r in rows}
    assert names == {t.name for t in world.a.trainees}
    for trainee in world.a.trainees:
        full = crypto.unseal(trainee.id_number_enc)
        assert trainee.id_number_masked in {r[1] for r in rows}
        assert full not in {r[1] for r in rows}
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).latest("pk")
    assert event.object_type == "registry.trainee" and event.object_repr == "3"
    assert event.actor == world.users["district_supervisor"]


def test_export_follows_the_filters_of_the_page(world, login):
    client = login(world.users["city_supervisor"])
    code = world.a.approved_class.code
    header, *rows = _rows(client.get(f"/registry/classes/?q={code}&export=csv"))
    assert [r[0] for r in rows] == [code]


def test_roles_without_export_permission_are_refused(world, login):
    client = login(world.users["teacher"])
    assert client.get("/registry/trainees/?export=csv").status_code == 403
    assert "export=csv" not in client.get("/registry/trainees/").content.decode()

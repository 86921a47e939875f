"""/django-admin/: superusers only; edits audited; sealed columns never shown."""
import pytest
from django.test import Client

from skillguard.accounts.models import User
from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.personal_data import unseal

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(world):
    return User.objects.create_superuser("root", "root@example.invalid", "Sg-root-pass-2026",
                                         role="city_admin")


@pytest.fixture
def admin_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_only_superusers_enter(world, superuser):
    staff = world.users["city_admin"]
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    client = Client()
    client.force_login(User.objects.get(pk=staff.pk))
    response = client.get("/django-admin/")
    assert response.status_code == 302 and "/django-admin/login/" in response["Location"]
    client.force_login(superuser)
    assert client.get("/django-admin/").status_code == 200


def test_admin_edit_is_audited(world, admin_client, superuser):
    inst = world.a.institution
    page = admin_client.get(f"/django-admin/registry/institution/{inst.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"district": inst.district_id, "address": "应急修改路 9 号",
                 "licence_valid_until": ""})
    response = admin_client.post(f"/django-admin/registry/institution/{inst.pk}/change/",
                                 data)
    assert response.status_code == 302, page.context["adminform"].form.errors
    inst.refresh_from_db()
    assert inst.address == "应急修改路 9 号"
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="registry.institution",
                                   object_id=str(inst.pk))
    assert event.actor == superuser and event.comment == "django-admin"
    assert event.changes["address"][1] == "应急修改路 9 号"


def test_admin_delete_is_audited(world, admin_client):
    room = world.b.room
    from skillguard.registry.models import Room

    spare = Room.objects.create(venue=room.venue, name="999")
    response = admin_client.post(f"/django-admin/registry/room/{spare.pk}/delete/",
                                 {"post": "yes"})
    assert response.status_code == 302
    assert not Room.objects.filter(pk=spare.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.DELETE, object_type="registry.room",
                                   object_id=str(spare.pk))
    assert event.changes["name"] == ["999", None]


def test_sealed_columns_are_never_shown(world, admin_client):
    trainee = world.a.trainees[0]
    for path in (f"/django-admin/registry/trainee/{trainee.pk}/change/",
                 "/django-admin/registry/trainee/",
                 f"/django-admin/registry/teacher/{world.a.teacher.pk}/change/"):
        html = admin_client.get(path).content.decode()
        assert "_enc" not in html and "_hash" not in html, path
        assert unseal(trainee, "id_number") not in html
    html = admin_client.get(f"/django-admin/registry/trainee/{trainee.pk}/change/") \
        .content.decode()
    assert trainee.id_number_masked in html


def test_audit_trail_is_read_only_in_the_admin(world, admin_client):
    event = AuditEvent.objects.first()
    assert admin_client.get("/django-admin/audit/auditevent/").status_code == 200
    assert admin_client.get(f"/django-admin/audit/auditevent/{event.pk}/change/") \
        .status_code == 200
    assert admin_client.get("/django-admin/audit/auditevent/add/").status_code == 403
    assert admin_client.post(f"/django-admin/audit/auditevent/{event.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert admin_client.post(f"/django-admin/audit/auditevent/{event.pk}/change/",
                             {"comment": "x"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, comment="x").count() == 0


def test_class_review_history_is_read_only(world, admin_client):
    review = world.a.approved_class.reviews.first()
    assert admin_client.post(f"/django-admin/registry/classreview/{review.pk}/delete/",
                             {"post": "yes"}).status_code == 403


def test_tokens_are_revoked_through_the_service(world, admin_client, superuser):
    from skillguard.accounts.services import authenticate_api_token, issue_api_token

    token, plaintext = issue_api_token(None, world.users["api_client"])
    html = admin_client.get("/django-admin/accounts/apitoken/").content.decode()
    assert token.prefix in html and token.token_hash not in html
    response = admin_client.post("/django-admin/accounts/apitoken/",
                                 {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    assert authenticate_api_token(plaintext) is None
    assert AuditEvent.objects.filter(object_type="accounts.apitoken", action="update",
                                     actor=superuser).exists()

"""Users and API tokens: created through accounts.services, validated and audited."""
import json

import pytest
from django.contrib.auth import authenticate

from skillguard.accounts import services
from skillguard.accounts.models import ApiToken, User
from skillguard.accounts.roles import Role
from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.errors import BusinessRuleError

pytestmark = pytest.mark.django_db
GOOD_PASSWORD = "Walk-the-matrix-2026"


def problems(exc_info) -> set[tuple[str, str]]:
    return {(p["field"], p["code"]) for p in exc_info.value.as_list()}


def test_create_user_with_anchor_is_audited_without_the_password(world):
    actor = world.users["city_admin"]
    user = services.create_user(actor, "district9", Role.DISTRICT_SUPERVISOR, GOOD_PASSWORD,
                                district=world.b.district)
    assert user.district == world.b.district and user.check_password(GOOD_PASSWORD)
    assert authenticate(username="district9", password=GOOD_PASSWORD) == user
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="accounts.user",
                                   object_id=str(user.pk))
    assert event.actor == actor
    assert "password" not in event.changes
    assert user.password not in json.dumps(event.changes)
    assert event.changes["role"] == [None, "district_supervisor"]


@pytest.mark.parametrize("role, field", [(Role.DISTRICT_SUPERVISOR, "district"),
                                         (Role.INSTITUTION_ADMIN, "institution"),
                                         (Role.TEACHER, "teacher"),
                                         (Role.TRAINEE, "trainee"),
                                         (Role.API_CLIENT, "institution")])
def test_a_role_needs_its_anchor(world, role, field):
    with pytest.raises(BusinessRuleError) as exc:
        services.create_user(None, "x1", role, GOOD_PASSWORD)
    assert (field, "required") in problems(exc)
    assert not User.objects.filter(username="x1").exists()


def test_refusals_name_the_field_and_write_nothing(world):
    before = AuditEvent.objects.count()
    with pytest.raises(BusinessRuleError) as exc:
        services.create_user(None, "inst1", Role.INSTITUTION_ADMIN, "123",
                             institution=world.a.institution)
    assert ("username", "duplicate") in problems(exc)
    assert ("password", "weak_password") in problems(exc)
    with pytest.raises(BusinessRuleError) as exc:
        services.create_user(None, "y", "emperor", GOOD_PASSWORD)
    assert ("role", "invalid_choice") in problems(exc)
    assert AuditEvent.objects.count() == before


def test_only_user_managers_create_users(world):
    with pytest.raises(BusinessRuleError) as exc:
        services.create_user(world.users["district_supervisor"], "z", Role.AUDITOR,
                             GOOD_PASSWORD)
    assert problems(exc) == {("", "forbidden")}
    assert services.create_user(world.users["city_admin"], "z", Role.AUDITOR, GOOD_PASSWORD)


def test_api_client_without_password_cannot_sign_in(world):
    user = services.create_user(None, "sync", Role.API_CLIENT, None,
                                institution=world.a.institution)
    assert not user.has_usable_password()
    assert authenticate(username="sync", password="") is None


def test_token_is_shown_once_and_stored_hashed(world):
    owner = world.users["api_client"]
    token, plaintext = services.issue_api_token(None, owner, name="nightly")
    assert plaintext.startswith("sg_") and len(plaintext) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.prefix == plaintext[:11]
    assert plaintext not in stored.token_hash and len(stored.token_hash) == 64
    assert services.authenticate_api_token(plaintext) == owner
    assert services.authenticate_api_token(plaintext + "x") is None
    event = AuditEvent.objects.get(object_type="accounts.apitoken", object_id=str(token.pk))
    text = json.dumps(event.changes)
    assert stored.token_hash not in text and plaintext not in text


def test_revoked_token_stops_working_and_revocation_is_audited(world):
    owner = world.users["api_client"]
    token, plaintext = services.issue_api_token(owner, owner)
    services.revoke_api_token(owner, token)
    assert services.authenticate_api_token(plaintext) is None
    event = AuditEvent.objects.filter(object_type="accounts.apitoken", action="update").get()
    assert event.changes["revoked_at"][0] is None and event.changes["revoked_at"][1]


def test_tokens_for_others_need_the_user_permission(world):
    with pytest.raises(BusinessRuleError):
        services.issue_api_token(world.users["institution_admin"], world.users["api_client"])
    token, _ = services.issue_api_token(world.users["city_admin"], world.users["api_client"])
    with pytest.raises(BusinessRuleError):
        services.revoke_api_token(world.users["institution_admin"], token)
    with pytest.raises(BusinessRuleError) as exc:
        services.issue_api_token(None, world.users["api_client"], days=0)
    assert ("expires_at", "out_of_range") in problems(exc)


@pytest.mark.django_db
def test_deactivated_account_cannot_sign_in_and_its_tokens_stop(world, client):
    from skillguard.accounts import services as accounts
    from skillguard.core.testing import PASSWORD

    user = world.users["api_client"]
    token, plaintext = accounts.issue_api_token(None, user)
    accounts.deactivate_user(world.users["city_admin"], user, "contract ended")
    assert not client.login(username=user.username, password=PASSWORD)
    token.refresh_from_db()
    assert token.revoked_at is not None
    from django.test import Client

    assert Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}").get("/api/me").status_code == 401
    user.refresh_from_db()
    assert user.pk and not user.is_active  # kept, never deleted


@pytest.mark.django_db
def test_repeated_failed_sign_ins_lock_the_account_for_a_while(world, client):
    from skillguard.core.testing import PASSWORD

    user = world.users["district_supervisor"]
    for _ in range(5):
        page = client.post("/accounts/login/", {"username": user.username, "password": "wrong"},
                           HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
    page = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD},
                       HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in client.session
    other = world.users["institution_admin"]  # other accounts are unaffected
    page = client.post("/accounts/login/", {"username": other.username, "password": PASSWORD})
    assert page.status_code == 302

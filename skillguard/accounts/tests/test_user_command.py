"""`skillguard user create|token|revoke`."""
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from skillguard.accounts.models import ApiToken, User
from skillguard.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("user", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_with_district_code_and_password(world):
    out, _ = run("create", "--username", "xuhui", "--role", "district_supervisor",
                 "--district-code", "310104", "--password", "Long-enough-pass-1")
    user = User.objects.get(username="xuhui")
    assert user.district.code == "310104" and user.check_password("Long-enough-pass-1")
    assert "password:" not in out
    assert AuditEvent.objects.filter(object_type="accounts.user", object_id=str(user.pk),
                                     actor_name="system").exists()


def test_create_generates_a_password_once(world):
    out, _ = run("create", "--username", "school", "--role", "institution_admin",
                 "--institution-credit-code", world.a.institution.credit_code.lower())
    password = [line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("password: ")][0]
    user = User.objects.get(username="school")
    assert user.institution == world.a.institution and user.check_password(password)


def test_create_refuses_with_the_reason(world):
    with pytest.raises(CommandError, match="310999"):
        run("create", "--username", "n", "--role", "district_supervisor",
            "--district-code", "310999")
    with pytest.raises(CommandError, match="district"):
        run("create", "--username", "n", "--role", "district_supervisor")
    assert not User.objects.filter(username="n").exists()


def test_token_is_printed_once_and_authenticates(world):
    out, err = run("token", "--username", "apiclient", "--name", "sync")
    token = out.strip()
    assert token.startswith("sg_") and "Shown once" in err
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/me")
    assert response.status_code == 200 and response.json()["username"] == "apiclient"
    stored = ApiToken.objects.get(owner__username="apiclient")
    assert token not in stored.token_hash

    out, _ = run("revoke", "--prefix", stored.prefix)
    assert "revoked" in out
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/me").status_code == 401
    with pytest.raises(CommandError):
        run("token", "--username", "nobody")

"""All writes to accounts: users and API tokens — validate, write, audit, in one transaction.

``actor=None`` is the system itself (the ``skillguard user`` command, the demo generator).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.models import ApiToken, User
from skillguard.accounts.roles import Role, role_allows
from skillguard.audit import services as audit
from skillguard.core.errors import Problems

TOKEN_PREFIX = "sg_"
PREFIX_LENGTH = 11  # "sg_" + 8 characters: enough to recognise a token in a list
# last_used_at is written at most this often per token (every API call would be a write)
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

# What each role must be anchored to, and what it must not carry.
ROLE_ANCHORS = {
    Role.DISTRICT_SUPERVISOR: "district",
    Role.INSTITUTION_ADMIN: "institution",
    Role.TEACHER: "teacher",
    Role.TRAINEE: "trainee",
}


def _ensure_may_manage_users(actor, action: str, record: str = "") -> None:
    if actor is None or actor.is_superuser:
        return
    if not role_allows(actor.role, "user", action):
        problems = Problems(User, record)
        problems.add("", "forbidden", _("You may not do this for this record."))
        problems.raise_if_any()


@transaction.atomic
def create_user(actor, username: str, role: str, password: str | None = None, *,
                district=None, institution=None, teacher=None, trainee=None,
                display_name: str = "", email: str = "") -> User:
    """Create a user with a role and its anchor. ``password=None`` leaves the account
    without a usable password (API clients sign in with tokens only)."""
    _ensure_may_manage_users(actor, "add", username)
    username = (username or "").strip()
    problems = Problems(User, username)
    if not username:
        problems.add("username", "required", _("is required"))
    elif User.objects.filter(username__iexact=username).exists():
        problems.add("username", "duplicate", _("is already taken"))
    if role not in Role.values:
        problems.add("role", "invalid_choice", _("is not a known role"))
    anchor = ROLE_ANCHORS.get(role)
    anchors = {"district": district, "institution": institution, "teacher": teacher,
               "trainee": trainee}
    if anchor and anchors[anchor] is None:
        problems.add(anchor, "required", _("is required for this role"))
    if role == Role.API_CLIENT and district is None and institution is None:
        problems.add("institution", "required",
                     _("an API client acts for an institution or a district"))
    if teacher is not None and institution is None:
        anchors["institution"] = institution = teacher.institution
    if district is None and institution is not None and role == Role.DISTRICT_SUPERVISOR:
        problems.add("district", "required", _("is required for this role"))
    user = User(username=username, role=role, display_name=display_name or username,
                email=email, **anchors)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            for message in exc.messages:
                problems.add("password", "weak_password", message)
    problems.raise_if_any()
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    audit.record_created(actor, user)
    return user


@transaction.atomic
def deactivate_user(actor, user: User, comment: str = "") -> User:
    """Close an account. Accounts are never deleted: the audit trail names its actors for
    five years, and its rows cannot be changed to forget them."""
    _ensure_may_manage_users(actor, "change", user.username)
    before = audit.snapshot(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit.record_updated(actor, user, before, comment=comment)
    return user


SIGN_IN_FAILURES_ALLOWED = 5
SIGN_IN_LOCK_MINUTES = 15


def sign_in_blocked(username: str) -> bool:
    """Too many failed sign-ins for this user name lately (since its last success)?

    Counted from the audit trail, so every web process agrees and nothing extra is stored."""
    from skillguard.audit.models import AuditAction, AuditEvent

    since = timezone.now() - dt.timedelta(minutes=SIGN_IN_LOCK_MINUTES)
    name = (username or "")[:150]
    last_success = (AuditEvent.objects.filter(action=AuditAction.LOGIN, actor_name=name,
                                              at__gte=since)
                    .order_by("-at").values_list("at", flat=True).first())
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_name=name,
                                         at__gte=last_success or since)
    return failures.count() >= SIGN_IN_FAILURES_ALLOWED


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_api_token(actor, owner: User, *, name: str = "", days: int | None = 365
                    ) -> tuple[ApiToken, str]:
    """A new bearer token for ``owner``: returns the record and the plaintext, which is
    never stored and cannot be shown again. Users may issue tokens for themselves;
    issuing for somebody else needs the 'change user' permission."""
    if actor is not None and actor.pk != owner.pk:
        _ensure_may_manage_users(actor, "change", owner.username)
    problems = Problems(ApiToken, owner.username)
    if not owner.is_active:
        problems.add("owner", "inactive", _("the account is disabled"))
    if days is not None and days <= 0:
        problems.add("expires_at", "out_of_range", _("must be in the future"))
    problems.raise_if_any()
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(owner=owner, name=name[:64], prefix=plaintext[:PREFIX_LENGTH],
                     token_hash=_hash(plaintext),
                     expires_at=timezone.now() + dt.timedelta(days=days) if days else None)
    token.save()
    audit.record_created(actor, token)
    return token, plaintext


@transaction.atomic
def revoke_api_token(actor, token: ApiToken, comment: str = "") -> ApiToken:
    if actor is not None and actor.pk != token.owner_id:
        _ensure_may_manage_users(actor, "change", token.prefix)
    if token.revoked_at is not None:
        return token
    before = audit.snapshot(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record_updated(actor, token, before, comment=comment)
    return token


def authenticate_api_token(plaintext: str) -> User | None:
    """The active owner of a valid, unexpired, unrevoked token, else None."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    token = (ApiToken.objects.select_related("owner")
             .filter(token_hash=_hash(plaintext)).first())
    now = timezone.now()
    if token is None or not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # Bookkeeping, not a change of the record: not audited.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.owner

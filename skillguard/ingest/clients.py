"""Writes to docking clients (数据对接客户端): registration by the city, suspension,
reactivation. Keys and enrolment codes are in ``skillguard.trust.services``."""
from __future__ import annotations

import secrets

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.roles import Role
from skillguard.audit import services as audit
from skillguard.core.errors import Problems
from skillguard.core.scoping import access, can
from skillguard.ingest.models import ClientKind, ClientStatus, DockingClient


def _forbidden(record: str = ""):
    problems = Problems(DockingClient, record)
    problems.add("", "forbidden", _("You may not do this for this record."))
    problems.raise_if_any()


@transaction.atomic
def register_client(actor, *, name: str, kind: str, district=None, institution=None,
                    record_types=None, note: str = ""):
    """A new client with its own api_client account anchored to its scope, and a first
    enrolment code. Returns ``(client, enrolment_code_plaintext)``; the code is shown once."""
    from skillguard.accounts.services import create_user
    from skillguard.trust import services as trust

    if actor is not None and not can(actor, "add", DockingClient):
        _forbidden(name)
    name = (name or "").strip()
    problems = Problems(DockingClient, name)
    if not name:
        problems.add("name", "required", _("is required"))
    elif DockingClient.objects.filter(name=name).exists():
        problems.add("name", "duplicate", _("is already taken"))
    if kind not in ClientKind.values:
        problems.add("kind", "invalid_choice", _("is not a known client type"))
    if district is None and institution is None:
        problems.add("institution", "required",
                     _("a client acts for an institution or a district"))
    if district is not None and institution is not None:
        problems.add("district", "ambiguous",
                     _("give either a district or an institution, not both"))
    if kind == ClientKind.INSTITUTION and institution is None:
        problems.add("institution", "required", _("is required for this client type"))
    if kind == ClientKind.DISTRICT_SYSTEM and district is None:
        problems.add("district", "required", _("is required for this client type"))
    problems.raise_if_any()
    user = create_user(actor, f"dock_{secrets.token_hex(5)}", Role.API_CLIENT,
                       district=district, institution=institution, display_name=name[:150])
    client = DockingClient(name=name, kind=kind, user=user, district=district,
                           institution=institution, record_types=list(record_types or []),
                           created_by=actor if getattr(actor, "pk", None) else None,
                           note=note)
    client.full_clean(exclude=["user", "created_by"])
    client.save()
    audit.record_created(actor, client)
    _code, plaintext = trust.issue_enrolment_code(actor, client)
    return client, plaintext


@transaction.atomic
def set_client_status(actor, client: DockingClient, status: str, comment: str = ""):
    """Suspend, reactivate or revoke a client. Its keys stop (or resume) working at once."""
    if actor is not None:
        client = access(DockingClient, actor, client.pk, "change")
    client = DockingClient.objects.select_for_update().get(pk=client.pk)
    if status not in ClientStatus.values:
        problems = Problems(DockingClient, client.name)
        problems.add("status", "invalid_choice", _("is not a known status"))
        problems.raise_if_any()
    if client.status == status:
        return client
    if client.status == ClientStatus.REVOKED:
        problems = Problems(DockingClient, client.name)
        problems.add("status", "final", _("a revoked client cannot be reactivated"))
        problems.raise_if_any()
    before = client.status
    client.status = status
    client.save(update_fields=["status"])
    audit.record_transition(actor, client, before, status, comment)
    return client

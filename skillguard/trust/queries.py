"""Scoped reads of docking clients and their keys."""
from __future__ import annotations

from django.db.models import Prefetch

from skillguard.core.scoping import access
from skillguard.ingest.models import DockingClient
from skillguard.trust.models import ClientKey


def clients(user):
    return (DockingClient.objects.restrict(user, "view")
            .select_related("district", "institution", "institution__district")
            .prefetch_related(Prefetch("keys", queryset=ClientKey.objects.order_by("-created_at")))
            .order_by("name"))


def access_client(user, pk, action: str = "view") -> DockingClient:
    return access(DockingClient, user, pk, action)


def keys_of(user, client):
    return ClientKey.objects.restrict(user, "view").filter(client=client).order_by(
        "-created_at", "-id")


def access_key(user, pk, action: str = "view") -> ClientKey:
    return access(ClientKey, user, pk, action,
                  queryset=ClientKey.objects.select_related("client"))


def own_keys(client: DockingClient):
    """A signed-in docking client's own keys (docking API)."""
    return ClientKey.objects.filter(client=client).order_by("-created_at", "-id")


def own_key(client: DockingClient, key_id: str) -> ClientKey | None:
    """One of the client's own keys; None for others' and for missing ones alike."""
    return own_keys(client).filter(key_id=key_id).first()

"""Writing the audit trail. Called by every service in the same transaction as its write."""
from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.fields.files import FieldFile

from skillguard.audit.middleware import client_ip, current_request
from skillguard.audit.models import AuditAction, AuditEvent

# Columns that must never reach the trail: sealed values and their lookup hashes, and
# password hashes (accounts.User).
_HIDDEN_SUFFIXES = ("_enc", "_hash")
_HIDDEN_NAMES = ("password",)


def _plain(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, FieldFile):
        return value.name or ""
    return value


def snapshot(instance: models.Model) -> dict:
    """Concrete field values, safe to store: personal data only in masked form."""
    out = {}
    for f in instance._meta.concrete_fields:
        if f.name.endswith(_HIDDEN_SUFFIXES) or f.name in _HIDDEN_NAMES:
            continue
        out[f.attname] = _plain(getattr(instance, f.attname))
    return out


def diff(before: dict | None, after: dict | None) -> dict:
    before, after = before or {}, after or {}
    keys = set(before) | set(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(keys)
            if before.get(k) != after.get(k) and k not in ("updated_at",)}


def _anchors(instance) -> tuple[int | None, int | None]:
    """District and institution the record belongs to, for scoping the trail."""
    if hasattr(instance, "audit_anchors"):
        return instance.audit_anchors()
    district = getattr(instance, "district_id", None)
    institution = getattr(instance, "institution_id", None)
    if instance._meta.model_name == "institution":
        institution = instance.pk
    if instance._meta.model_name == "district":
        district = instance.pk
    if district is None and institution is not None:
        inst = getattr(instance, "institution", None)
        district = getattr(inst, "district_id", None)
    return district, institution


def _event(actor, action, instance=None, *, object_type="", object_id="", object_repr="",
           changes=None, fields=None, comment="") -> AuditEvent:
    request = current_request.get()
    district_id = institution_id = None
    if instance is not None:
        object_type = instance._meta.label_lower
        object_id = str(instance.pk)
        object_repr = str(instance)[:200]
        district_id, institution_id = _anchors(instance)
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        actor=actor_obj,
        actor_name=getattr(actor_obj, "username", "") or ("system" if actor is None else ""),
        actor_role=getattr(actor_obj, "role", "") or "",
        action=action, object_type=object_type, object_id=object_id, object_repr=object_repr,
        district_id=district_id, institution_id=institution_id, changes=changes or {},
        fields=list(fields or []), comment=comment,
        ip=client_ip(request) if request else None,
        request_id=getattr(request, "request_id", "") if request else "",
    )


def record_created(actor, instance) -> None:
    _event(actor, AuditAction.CREATE, instance, changes=diff(None, snapshot(instance))).save()


def record_many_created(actor, instances: Iterable[models.Model], comment="") -> int:
    events = [_event(actor, AuditAction.CREATE, obj, changes=diff(None, snapshot(obj)),
                     comment=comment) for obj in instances]
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    return len(events)


def record_updated(actor, instance, before: dict, comment="") -> None:
    changes = diff(before, snapshot(instance))
    if changes:
        _event(actor, AuditAction.UPDATE, instance, changes=changes, comment=comment).save()


def record_deleted(actor, instance, before: dict | None = None, comment="") -> None:
    _event(actor, AuditAction.DELETE, instance, changes=diff(before or snapshot(instance), None),
           comment=comment).save()


def record_transition(actor, instance, from_status: str, to_status: str, comment="") -> None:
    _event(actor, AuditAction.TRANSITION, instance,
           changes={"status": [from_status, to_status]}, comment=comment).save()


def record_personal_read(actor, instance, fields: Iterable[str], purpose="") -> None:
    _event(actor, AuditAction.READ_PERSONAL, instance, fields=fields, comment=purpose).save()


def record_many_personal_reads(actor, instances: Iterable[models.Model], fields, purpose=""):
    events = [_event(actor, AuditAction.READ_PERSONAL, obj, fields=fields, comment=purpose)
              for obj in instances]
    AuditEvent.objects.bulk_create(events, batch_size=2000)


def record_export(actor, object_type: str, count: int, comment="") -> None:
    _event(actor, AuditAction.EXPORT, object_type=object_type, object_repr=f"{count}",
           comment=comment).save()


def record_sign_in(user, action: str, username: str = "") -> None:
    event = _event(user, action, object_type="accounts.user",
                   object_id=str(getattr(user, "pk", "") or ""),
                   object_repr=username or str(user or ""))
    if user is None:
        event.actor_name = username[:150]
    event.save()


def reveal_personal_data(actor, instance, field: str, purpose: str = "") -> str:
    """The full value of one personal-data field, if the actor may see it; the read is logged."""
    from skillguard.core.personal_data import unseal
    from skillguard.core.scoping import access

    if field not in getattr(instance, "personal_fields", ()):
        raise PermissionDenied
    access(type(instance), actor, instance.pk, "reveal")  # same 404 when out of scope
    value = unseal(instance, field) if field != "photo" else getattr(instance, field).name
    record_personal_read(actor, instance, [field], purpose)
    return value

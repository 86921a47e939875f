"""Writes of aggregation and distribution (汇集分发): publishing accepted records into the
subscribers' change feeds, webhook deliveries, and the distribution rules themselves.

``publish(record_type, items)`` is the hook the ingest pipeline calls after it has written
accepted records (same transaction): one query for the active rules, one bulk insert of
feed entries, one bulk insert of webhook deliveries and one job per webhook subscriber.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import urllib.parse
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from procrastinate.exceptions import AlreadyEnqueued

from skillguard.audit import services as audit
from skillguard.core.errors import Problems
from skillguard.distribution.models import (
    ANY_TYPE,
    RECORD_TYPES,
    Basis,
    DeliveryStatus,
    DistributionRule,
    FeedEntry,
    Subscriber,
    WebhookDelivery,
)
from skillguard.ingest.models import ClientKind, DockingClient

WEBHOOK_MAX_ATTEMPTS = 8  # then the delivery stays FAILED, visible, re-sendable from the UI
WEBHOOK_BASE_WAIT_S = 10  # procrastinate waits 10·2^(attempt-1) s between attempts
WEBHOOK_TIMEOUT_S = 10
WEBHOOK_MAX_ENTRIES = 500  # entries per POST
SIGNATURE_HEADER = "X-SkillGuard-Signature"
TIMESTAMP_HEADER = "X-SkillGuard-Timestamp"
DELIVERY_HEADER = "X-SkillGuard-Delivery"

DISTRICT_BASES = (Basis.VENUE_DISTRICT, Basis.RESIDENCE_DISTRICT, Basis.INSTITUTION_DISTRICT)


class FeedItem(NamedTuple):
    """One accepted record version, as the pipeline hands it to ``publish``.

    ``district_ids``: the districts the record belongs to. Preferably a mapping
    ``{"venue_district": id | {ids}, "residence_district": …, "institution_district": …}``
    (unknown bases left out or None), so each rule matches on its own basis. A plain set of
    district ids is accepted too: then every district-based rule matches any district in
    it (the basis cannot be told apart)."""
    external_key: str
    district_ids: Mapping[str, object] | Iterable[int]
    institution_id: int | None
    payload: dict
    version: int = 1


def _districts_by_basis(district_ids) -> dict[str, set[int]]:
    if isinstance(district_ids, Mapping):
        out = {}
        for basis in DISTRICT_BASES:
            value = district_ids.get(basis.value)
            if value is None:
                out[basis.value] = set()
            elif isinstance(value, int):
                out[basis.value] = {value}
            else:
                out[basis.value] = {int(v) for v in value if v}
        return out
    known = {int(d) for d in district_ids or () if d}
    return {basis.value: known for basis in DISTRICT_BASES}


def _active_rules(record_type: str) -> list[tuple[int, str, int | None, bool]]:
    """(subscriber id, basis, effective district, has webhook) of every active rule."""
    rows = (DistributionRule.objects
            .filter(active=True, subscriber__active=True, record_type__in=[record_type, ANY_TYPE])
            .values_list("subscriber_id", "basis", "district_id", "subscriber__district_id",
                         "subscriber__webhook_url"))
    return [(sid, basis, district or own, bool(url)) for sid, basis, district, own, url in rows]


def routes_for(record_type: str) -> list[tuple[int, str, int | None, bool]]:
    """The active rules for a record type (empty: nothing to publish, so a caller need not
    prepare its feed items)."""
    ensure_district_subscribers()
    return _active_rules(record_type)


def publish(record_type: str, items: list[FeedItem], *, routes=None) -> int:
    """Route accepted records to the subscribers whose active rules match; returns the number
    of feed entries written. Call inside the transaction that wrote the records.
    ``routes``: ``routes_for(record_type)`` when the caller already asked."""
    if not items:
        return 0
    rules = routes_for(record_type) if routes is None else routes
    if not rules:
        return 0
    entries: list[FeedEntry] = []
    webhook_subscribers = {sid for sid, _b, _d, hook in rules if hook}
    for item in items:
        item = FeedItem(*item)
        by_basis = _districts_by_basis(item.district_ids)
        targets: set[int] = set()
        for sid, basis, district, _hook in rules:
            if sid in targets:
                continue
            if basis == Basis.ALL or (district is not None and district in by_basis[basis]):
                targets.add(sid)
        entries.extend(FeedEntry(subscriber_id=sid, record_type=record_type,
                                 external_key=str(item.external_key)[:160],
                                 version=item.version or 1, payload=item.payload)
                       for sid in sorted(targets))
    if not entries:
        return 0
    FeedEntry.objects.bulk_create(entries, batch_size=2000)
    _enqueue_webhooks([e for e in entries if e.subscriber_id in webhook_subscribers])
    return len(entries)


def _enqueue_webhooks(entries: list[FeedEntry]) -> None:
    if not entries:
        return
    by_subscriber: dict[int, list[int]] = {}
    for e in entries:
        by_subscriber.setdefault(e.subscriber_id, []).append(e.id)
    deliveries = []
    for sid, ids in by_subscriber.items():
        ids.sort()
        for start in range(0, len(ids), WEBHOOK_MAX_ENTRIES):
            chunk = ids[start:start + WEBHOOK_MAX_ENTRIES]
            deliveries.append(WebhookDelivery(subscriber_id=sid, feed_entry_id=chunk[0],
                                              last_entry_id=chunk[-1], entry_count=len(chunk),
                                              next_attempt_at=timezone.now()))
    WebhookDelivery.objects.bulk_create(deliveries)
    for d in deliveries:
        _defer(d.pk)


def _defer(delivery_id: int) -> None:
    from skillguard.distribution.tasks import deliver_webhook

    try:
        with transaction.atomic():  # savepoint: a refused insert must not abort the caller
            deliver_webhook.configure(queueing_lock=f"webhook-{delivery_id}").defer(
                delivery_id=delivery_id)
    except (AlreadyEnqueued, IntegrityError):
        pass  # a job for this delivery is still queued: it will send it


# --------------------------------------------------------------------------- webhooks


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_webhook(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_webhook(secret, timestamp, body), signature or "")


def entry_json(e: FeedEntry) -> dict:
    return {"id": e.id, "record_type": e.record_type, "external_key": e.external_key,
            "version": e.version, "payload": e.payload, "created_at": e.created_at.isoformat()}


def webhook_body(delivery: WebhookDelivery) -> bytes:
    entries = (FeedEntry.objects.filter(subscriber_id=delivery.subscriber_id,
                                        id__gte=delivery.feed_entry_id,
                                        id__lte=delivery.last_entry_id).order_by("id"))
    body = {"delivery": delivery.pk, "subscriber": delivery.subscriber.name,
            "entries": [entry_json(e) for e in entries]}
    return json.dumps(body, ensure_ascii=False, cls=DjangoJSONEncoder,
                      separators=(",", ":")).encode()


class DeliveryFailed(Exception):
    pass


def webhook_target_problem(url: str):
    """Why the server must not POST to ``url`` (a translatable message), or None.

    Only http(s); every address the host resolves to must be public unless
    ``SKILLGUARD_WEBHOOK_ALLOW_PRIVATE``: a subscriber may not make the server reach
    loopback, private, link-local (cloud metadata) or reserved addresses. Checked when the
    URL is saved and again before each delivery (DNS may have changed since)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("The webhook URL must be an http:// or https:// address with a host name.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return _("The webhook host name does not resolve.")
    if getattr(settings, "SKILLGUARD_WEBHOOK_ALLOW_PRIVATE", False):
        return None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            return _("The webhook host resolves to a loopback, private, link-local or reserved "
                     "address, which the server does not call.")
    return None


def _check_webhook_url(sub: Subscriber) -> None:
    if not sub.webhook_url:
        return
    problem = webhook_target_problem(sub.webhook_url)
    if problem:
        problems = Problems(Subscriber, sub.name)
        problems.add("webhook_url", "webhook_target_refused", problem)
        problems.raise_if_any()


def attempt_delivery(delivery_id: int) -> WebhookDelivery:
    """POST one delivery. Raises ``DeliveryFailed`` (after recording the failure) so that the
    job is retried; a delivered or finally failed delivery is left alone."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update().select_related("subscriber")
                    .get(pk=delivery_id))
        if delivery.status == DeliveryStatus.DELIVERED:
            return delivery
        subscriber = delivery.subscriber
        body = webhook_body(delivery)
    refused = webhook_target_problem(subscriber.webhook_url)
    timestamp = str(int(timezone.now().timestamp()))
    request = urllib.request.Request(subscriber.webhook_url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign_webhook(subscriber.webhook_secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp, DELIVERY_HEADER: str(delivery.pk),
        "User-Agent": "SkillGuard-Webhook/1"})
    status, error = None, ""
    try:
        if refused:
            raise ValueError(str(refused))
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}: {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        delivery.last_status = status
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = \
                DeliveryStatus.DELIVERED, now, ""
            delivery.next_attempt_at = None
        else:
            delivery.last_error = error or f"HTTP {status}"
            if delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            else:
                delivery.status = DeliveryStatus.RETRYING
                delivery.next_attempt_at = now + dt.timedelta(
                    seconds=WEBHOOK_BASE_WAIT_S * 2 ** (delivery.attempts - 1))
        delivery.save()
    if delivery.status != DeliveryStatus.DELIVERED:
        raise DeliveryFailed(delivery.last_error)
    return delivery


def redeliver(actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a failed delivery again (a fresh round of attempts)."""
    with transaction.atomic():
        before = audit.snapshot(delivery)
        delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
        delivery.next_attempt_at = timezone.now()
        delivery.save()
        audit.record_updated(actor, delivery, before, comment="redeliver")
        _defer(delivery.pk)
    return delivery


# --------------------------------------------------------------------------- subscribers


def ensure_district_subscribers() -> list[Subscriber]:
    """Every district system client has a subscriber with the default rules: everything whose
    venue district or trainee residence district is its own. Cheap when nothing is missing."""
    missing = list(DockingClient.objects.filter(kind=ClientKind.DISTRICT_SYSTEM,
                                                district__isnull=False,
                                                subscriber__isnull=True))
    created = []
    for client in missing:
        sub = Subscriber.objects.create(name=client.name, client=client,
                                        district_id=client.district_id)
        audit.record_created(None, sub)
        for basis in (Basis.VENUE_DISTRICT, Basis.RESIDENCE_DISTRICT):
            rule = DistributionRule.objects.create(
                subscriber=sub, record_type=ANY_TYPE, basis=basis,
                reason="default rule of a district system")
            audit.record_created(None, rule)
        created.append(sub)
    return created


def create_subscriber(actor, *, name: str, district=None, client=None, webhook_url: str = "",
                      active: bool = True) -> Subscriber:
    sub = Subscriber(name=name, district=district, client=client, webhook_url=webhook_url,
                     webhook_secret=secrets.token_urlsafe(32) if webhook_url else "",
                     active=active)
    _check_webhook_url(sub)
    with transaction.atomic():
        sub.save()
        audit.record_created(actor, sub)
    return sub


def update_subscriber(actor, sub: Subscriber, **fields) -> Subscriber:
    with transaction.atomic():
        before = audit.snapshot(sub)
        for name, value in fields.items():
            setattr(sub, name, value)
        _check_webhook_url(sub)
        if sub.webhook_url and not sub.webhook_secret:
            sub.webhook_secret = secrets.token_urlsafe(32)
        sub.save()
        audit.record_updated(actor, sub, before)
    return sub


def rotate_webhook_secret(actor, sub: Subscriber) -> str:
    """A new HMAC key for the subscriber's webhooks; returned once (stored sealed, never
    audited in clear). The old one stops verifying at once."""
    problems = Problems(Subscriber, sub.name)
    if not sub.webhook_url:
        problems.add("webhook_url", "no_webhook", _("The subscriber has no webhook URL."))
    problems.raise_if_any()
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        before = audit.snapshot(sub)
        sub.webhook_secret = secret
        sub.save(update_fields=["webhook_secret_enc"])
        audit.record_updated(actor, sub, before, comment="webhook secret rotated")
    return secret


# --------------------------------------------------------------------------- rules

RULE_FIELDS = ("subscriber", "record_type", "basis", "district", "active")


def _validate_rule(rule: DistributionRule, *, reason_required: bool, reason: str) -> None:
    problems = Problems(DistributionRule, str(rule) if rule.pk else "")
    if rule.record_type != ANY_TYPE and rule.record_type not in RECORD_TYPES:
        problems.add("record_type", "unknown_record_type", _(
            'Unknown record type: use one of the docking standard\'s types or "*".'))
    if rule.basis not in Basis.values:
        problems.add("basis", "invalid_choice", _("Unknown basis."))
    elif rule.basis == Basis.ALL:
        if rule.district_id:
            problems.add("district", "district_not_used",
                         _("A rule for everything takes no district; leave it empty."))
    elif not (rule.district_id or rule.subscriber.district_id):
        problems.add("district", "district_required", _(
            "A district rule needs a district: this subscriber has no district of its own."))
    if reason_required and not (reason or "").strip():
        problems.add("reason", "reason_required", _("Say why the rule is changed."))
    if rule.active and not problems.items:
        same = DistributionRule.objects.filter(
            subscriber_id=rule.subscriber_id, record_type=rule.record_type, basis=rule.basis,
            active=True).select_related("subscriber").exclude(pk=rule.pk)
        if any(other.effective_district_id == rule.effective_district_id for other in same):
            problems.add("record_type", "duplicate_rule",
                         _("An active rule with the same subscriber, record type, basis and "
                           "district already exists."))
    problems.raise_if_any()


def create_rule(actor, *, subscriber: Subscriber, record_type: str, basis: str, district=None,
                active: bool = True, reason: str = "") -> DistributionRule:
    rule = DistributionRule(subscriber=subscriber, record_type=(record_type or "").strip(),
                            basis=basis, district=district, active=active,
                            reason=reason or "", changed_by=_user(actor))
    with transaction.atomic():
        _validate_rule(rule, reason_required=False, reason=reason)
        rule.save()
        audit.record_created(actor, rule)
    return rule


def update_rule(actor, rule: DistributionRule, *, reason: str, **fields) -> DistributionRule:
    """Change a rule: the reason is required; the version goes up; the audit trail keeps
    who changed what (old and new values) and why."""
    with transaction.atomic():
        rule = DistributionRule.objects.select_for_update().select_related("subscriber").get(
            pk=rule.pk)
        before = audit.snapshot(rule)
        for name, value in fields.items():
            if name not in RULE_FIELDS:
                raise TypeError(name)
            setattr(rule, name, value.strip() if name == "record_type" else value)
        _validate_rule(rule, reason_required=True, reason=reason)
        rule.version += 1
        rule.reason, rule.changed_by = reason.strip(), _user(actor)
        rule.save()
        audit.record_updated(actor, rule, before, comment=reason.strip())
    return rule


def deactivate_rule(actor, rule: DistributionRule, *, reason: str) -> DistributionRule:
    return update_rule(actor, rule, reason=reason, active=False)


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None

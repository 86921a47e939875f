"""Scoped reads of distribution: rules, subscribers, deliveries, the feed, data quality."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import access
from skillguard.distribution import quality
from skillguard.distribution.models import (
    DistributionRule,
    FeedEntry,
    QualitySource,
    Subscriber,
    WebhookDelivery,
)

FEED_MAX_LIMIT = 1000


def rules(user):
    return (DistributionRule.objects.restrict(user, "view")
            .select_related("subscriber", "district", "changed_by"))


def access_rule(user, pk, action="view") -> DistributionRule:
    return access(DistributionRule, user, pk, action,
                  queryset=DistributionRule.objects.select_related("subscriber"))


def subscribers(user):
    return Subscriber.objects.restrict(user, "view").select_related("district", "client")


def access_subscriber(user, pk, action="view") -> Subscriber:
    return access(Subscriber, user, pk, action)


def deliveries(user):
    return WebhookDelivery.objects.restrict(user, "view").select_related("subscriber")


def access_delivery(user, pk, action="view") -> WebhookDelivery:
    return access(WebhookDelivery, user, pk, action)


def subscriber_for_client(client) -> Subscriber:
    """The active subscriber a docking client reads the feed as; 404 when it has none."""
    sub = Subscriber.objects.filter(client=client, active=True).first() if client else None
    if sub is None:
        raise Http404(_("No such record, or you may not see it."))
    return sub


def feed_page(subscriber: Subscriber, cursor: int = 0, limit: int = 100):
    """Entries after ``cursor`` in id order, at most ``limit`` (≤ 1000); returns
    ``(entries, next_cursor)``. ``next_cursor`` is the last id returned, or ``cursor``
    itself when nothing is new: store it only after processing the entries (at-least-once).

    Ids come from one sequence, so they are ordered; but a transaction that commits late
    can make an id below one already read visible afterwards. The feed therefore serves
    only entries older than ``SKILLGUARD_FEED_SETTLE_S`` seconds (default 5): ingest
    transactions that stay open longer than that could still be skipped (see the docking
    standard, change feed)."""
    limit = max(1, min(int(limit), FEED_MAX_LIMIT))
    settled = timezone.now() - dt.timedelta(
        seconds=getattr(settings, "SKILLGUARD_FEED_SETTLE_S", 5))
    entries = list(FeedEntry.objects.filter(subscriber=subscriber, id__gt=max(cursor, 0),
                                            created_at__lte=settled)
                   .order_by("id")[:limit])
    return entries, (entries[-1].id if entries else max(cursor, 0))


def quality_sources(user):
    return QualitySource.objects.restrict(user, "view").order_by("name")


def quality_rows(user, start: dt.date, end: dt.date, client_id: int | None = None):
    sources = quality_sources(user)
    if client_id:
        sources = sources.filter(pk=client_id)
    names = dict(sources.values_list("pk", "name"))
    return quality.compute(list(names), start, end, names)

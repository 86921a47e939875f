"""Scoped reads of distribution: rules, subscribers, deliveries, the feed, data quality."""
from __future__ import annotations

import datetime as dt

from django.db import connection
from django.http import Http404
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

    Ids come from one sequence, but transactions commit in another order: an ingest chunk
    that took id 5 and commits after the transaction that took id 6 would be skipped by a
    reader that had already moved its cursor to 6. So the feed serves an entry only when
    no transaction that was already open when the entry's id was taken is still open
    (``acquired_at`` before the start of the oldest open transaction): every id such a
    transaction holds or will take is then larger. A long transaction delays the feed; it
    never makes it skip."""
    limit = max(1, min(int(limit), FEED_MAX_LIMIT))
    horizon = _open_transactions_horizon()
    qs = FeedEntry.objects.filter(subscriber=subscriber, id__gt=max(cursor, 0))
    if horizon is not None:
        qs = qs.filter(acquired_at__lt=horizon)
    entries = list(qs.order_by("id")[:limit])
    # Served in id order up to the first entry held back: nothing past a gap.
    if entries and horizon is not None:
        first_held = (FeedEntry.objects.filter(subscriber=subscriber, id__gt=max(cursor, 0),
                                               acquired_at__gte=horizon)
                      .order_by("id").values_list("id", flat=True).first())
        if first_held is not None:
            entries = [e for e in entries if e.id < first_held]
    return entries, (entries[-1].id if entries else max(cursor, 0))


def _open_transactions_horizon():
    """Start of the oldest transaction open in this database, other than this one (None:
    none). Needs the application's own sessions visible in pg_stat_activity: web and
    workers connect as one role (or a role with pg_read_all_stats)."""
    with connection.cursor() as cur:
        cur.execute("SELECT min(xact_start) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
                    "AND backend_type = 'client backend'")
        return cur.fetchone()[0]


def quality_sources(user):
    return QualitySource.objects.restrict(user, "view").order_by("name")


def quality_rows(user, start: dt.date, end: dt.date, client_id: int | None = None,
                 fresh: quality.Freshness | None = None):
    sources = quality_sources(user)
    if client_id:
        sources = sources.filter(pk=client_id)
    names = dict(sources.values_list("pk", "name"))
    return quality.compute(list(names), start, end, names, fresh)

"""Background jobs of identity and trust (Procrastinate)."""
from __future__ import annotations

import datetime as dt

from procrastinate.contrib.django import app


def purge_nonces(now=None) -> int:
    """Forget nonces older than twice the allowed clock skew: a request that old is
    refused as stale anyway, so its nonce can no longer be replayed."""
    from django.utils import timezone

    from skillguard.trust.models import SeenNonce
    from skillguard.trust.signatures import skew_seconds

    cutoff = (now or timezone.now()) - dt.timedelta(seconds=2 * skew_seconds())
    deleted, _ = SeenNonce.objects.filter(seen_at__lt=cutoff).delete()
    return deleted


@app.periodic(cron="*/10 * * * *", periodic_id="purge_seen_nonces")
@app.task(name="trust.purge_seen_nonces", queueing_lock="trust.purge_seen_nonces")
def purge_seen_nonces(timestamp: int) -> int:
    return purge_nonces()

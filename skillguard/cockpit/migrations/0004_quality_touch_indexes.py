"""Indexes on the ingest timestamps the quality rollup (``cockpit.rollups``, "quality") and the
live days of ``distribution.quality`` read: "accepted / replaced / quarantined since the
high-water mark" and "on this day" without a full scan of tables of hundreds of millions of
rows.

Built ``CONCURRENTLY`` (no write lock on ingest while they build), hence a non-atomic
migration in raw SQL: ``AddIndexConcurrently`` only knows the models of its own app, and the
cockpit is the only reader of these indexes. ``RecordIdentity`` and ``RecordVersion`` are
written in time order, so a BRIN index (a few pages) is enough; ``QuarantinedRecord`` rows are
updated when resolved and the table is small, so it gets a B-tree.
``ingest_submission`` is partitioned by ``received_at`` already (partition pruning)."""
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cockpit", "0003_quality_daily"),
        ("ingest", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS cockpit_touch_identity_created ON "
            "ingest_recordidentity USING brin (created_at);",
            "DROP INDEX CONCURRENTLY IF EXISTS cockpit_touch_identity_created;"),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS cockpit_touch_version_replaced ON "
            "ingest_recordversion USING brin (replaced_at);",
            "DROP INDEX CONCURRENTLY IF EXISTS cockpit_touch_version_replaced;"),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS cockpit_touch_quarantine_created ON "
            "ingest_quarantinedrecord (created_at);",
            "DROP INDEX CONCURRENTLY IF EXISTS cockpit_touch_quarantine_created;"),
    ]

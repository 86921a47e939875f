"""Large submission bodies are stored in parts.

A sealed body larger than one part (``ingest.bodies.PART_SEGMENTS`` sealed segments, about
16 MiB) goes into ``ingest_submissionpart`` rows instead of the ``body`` column: PostgreSQL
refuses a single bytea parameter of a few hundred MB (its 1 GB allocation limit after
escaping), so 300 MB batches could not be stored. Same monthly partitioning and key as the
submission (Citus: ``district_id`` leads the key; no foreign key into a partitioned fact).
"""
from django.db import migrations, models

SQL = """
ALTER TABLE ingest_submission ADD COLUMN body_parts integer NOT NULL DEFAULT 0;
ALTER TABLE ingest_submission ADD COLUMN body_stored_size bigint;
CREATE TABLE ingest_submissionpart (
  district_id bigint NOT NULL, received_at timestamptz NOT NULL, submission_id uuid NOT NULL,
  seq integer NOT NULL CHECK (seq >= 0), data bytea NOT NULL,
  PRIMARY KEY (district_id, received_at, submission_id, seq)) PARTITION BY RANGE (received_at);
CREATE TABLE ingest_submissionpart_default PARTITION OF ingest_submissionpart DEFAULT;
"""
REVERSE = """
DROP TABLE IF EXISTS ingest_submissionpart CASCADE;
ALTER TABLE ingest_submission DROP COLUMN IF EXISTS body_parts;
ALTER TABLE ingest_submission DROP COLUMN IF EXISTS body_stored_size;
"""


def create_existing_months(apps, schema_editor):
    """Every month the submissions already have gets its part partition."""
    from skillguard.core.partitions import ensure_monthly_partitions

    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT min(received_at), max(received_at) FROM ingest_submission")
        first, last = cur.fetchone()
    if first is not None:
        from django.utils import timezone

        ensure_monthly_partitions("ingest_submissionpart", timezone.localtime(first).date(),
                                  timezone.localtime(last).date())


class Migration(migrations.Migration):

    dependencies = [("ingest", "0002_sealed_personal_data")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SQL, REVERSE)],
            state_operations=[
                migrations.AddField(model_name="submission", name="body_parts",
                                    field=models.IntegerField(default=0, editable=False)),
                migrations.AddField(model_name="submission", name="body_stored_size",
                                    field=models.BigIntegerField(null=True, editable=False)),
            ]),
        migrations.RunPython(create_existing_months, migrations.RunPython.noop),
    ]

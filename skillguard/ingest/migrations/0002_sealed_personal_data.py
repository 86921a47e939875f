"""Personal data at rest in the docking tables: sealed submission bodies and payloads.

Adds ``ingest_submission.body_key`` (the partitioned table is unmanaged: raw SQL) and
``payload_enc`` to quarantined records and record versions, then seals what earlier
versions stored in clear (``ingest.sealing.rotate`` is resumable and idempotent)."""
from django.db import migrations, models

ADD = "ALTER TABLE ingest_submission ADD COLUMN body_key varchar(32) NOT NULL DEFAULT '';"
DROP = "ALTER TABLE ingest_submission DROP COLUMN IF EXISTS body_key;"


def seal_existing(apps, schema_editor):
    from skillguard.ingest import sealing

    sealing.rotate()


class Migration(migrations.Migration):

    dependencies = [
        ("ingest", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(ADD, DROP)],
            state_operations=[migrations.AddField(
                model_name="submission", name="body_key",
                field=models.CharField(blank=True, default="", editable=False, max_length=32))],
        ),
        migrations.AddField(
            model_name="quarantinedrecord", name="payload_enc",
            field=models.TextField(blank=True, default="", editable=False)),
        migrations.AddField(
            model_name="recordversion", name="payload_enc",
            field=models.TextField(blank=True, default="", editable=False)),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
    ]

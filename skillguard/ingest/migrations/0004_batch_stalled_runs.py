from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("ingest", "0003_submission_body_parts")]

    operations = [
        migrations.AddField(
            model_name="ingestbatch", name="stalled_runs",
            field=models.PositiveIntegerField(default=0, verbose_name="runs without progress")),
        migrations.AddField(
            model_name="ingestbatch", name="stalled_cursor",
            field=models.PositiveIntegerField(default=0, editable=False)),
    ]

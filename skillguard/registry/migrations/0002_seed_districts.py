"""Shanghai's 16 districts (seed data) and the sequence behind class codes."""
from django.db import migrations

from skillguard.registry.seed import ensure_districts


def seed(apps, schema_editor):
    ensure_districts(apps.get_model("registry", "District"))


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [
        migrations.RunSQL("CREATE SEQUENCE IF NOT EXISTS registry_class_code_seq",
                          "DROP SEQUENCE IF EXISTS registry_class_code_seq"),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]

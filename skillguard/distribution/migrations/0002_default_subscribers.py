"""Every district system already registered gets a subscriber with the default rules:
everything whose venue district or trainee residence district is its own."""
from django.db import migrations


def forwards(apps, schema_editor):
    DockingClient = apps.get_model("ingest", "DockingClient")
    Subscriber = apps.get_model("distribution", "Subscriber")
    Rule = apps.get_model("distribution", "DistributionRule")
    for client in DockingClient.objects.filter(kind="district_system", district__isnull=False,
                                               subscriber__isnull=True):
        sub = Subscriber.objects.create(name=client.name, client=client,
                                        district_id=client.district_id)
        for basis in ("venue_district", "residence_district"):
            Rule.objects.create(subscriber=sub, record_type="*", basis=basis,
                                reason="default rule of a district system")


class Migration(migrations.Migration):
    dependencies = [("distribution", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

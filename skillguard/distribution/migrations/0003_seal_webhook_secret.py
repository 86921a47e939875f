"""Webhook secrets are sealed at rest (they were stored, and audited, in plain text)."""
from django.db import migrations, models


def seal_existing(apps, schema_editor):
    from skillguard.core.crypto import seal

    Subscriber = apps.get_model("distribution", "Subscriber")
    for sub in Subscriber.objects.exclude(webhook_secret="").only("pk", "webhook_secret"):
        Subscriber.objects.filter(pk=sub.pk).update(webhook_secret_enc=seal(sub.webhook_secret))


def unseal_existing(apps, schema_editor):
    from skillguard.core.crypto import unseal

    Subscriber = apps.get_model("distribution", "Subscriber")
    for sub in Subscriber.objects.exclude(webhook_secret_enc="").only("pk", "webhook_secret_enc"):
        Subscriber.objects.filter(pk=sub.pk).update(
            webhook_secret=unseal(sub.webhook_secret_enc))


class Migration(migrations.Migration):

    dependencies = [("distribution", "0002_default_subscribers")]

    operations = [
        migrations.AddField(
            model_name="subscriber", name="webhook_secret_enc",
            field=models.TextField(blank=True, verbose_name="webhook secret (sealed)")),
        migrations.RunPython(seal_existing, unseal_existing),
        migrations.RemoveField(model_name="subscriber", name="webhook_secret"),
    ]

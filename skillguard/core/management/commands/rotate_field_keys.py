"""Re-seal every personal-data value with the current (last configured) key.

Rotation: add a new key at the end of SKILLGUARD_FIELD_KEYS (or the data-dir key file),
restart, run this command, then remove the old key. Idempotent and resumable.
"""
from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from skillguard.audit import services as audit
from skillguard.core import crypto
from skillguard.core.personal_data import PersonalData

BATCH = 2000


def personal_data_models():
    for model in apps.get_models():
        names = [n for n, v in vars(model).items() if isinstance(v, PersonalData)]
        if names:
            yield model, names


class Command(BaseCommand):
    help = "Re-encrypt personal data with the newest field key"

    def handle(self, *args, **options):
        ring = crypto.keyring()
        total = 0
        for model, names in personal_data_models():
            columns = [f"{n}_enc" for n in names]
            last_pk = 0
            while True:
                rows = list(model._base_manager.filter(pk__gt=last_pk).order_by("pk")
                            .only("pk", *columns)[:BATCH])
                if not rows:
                    break
                last_pk = rows[-1].pk
                changed = []
                for row in rows:
                    dirty = False
                    for col in columns:
                        sealed = getattr(row, col)
                        if sealed and ring.needs_rotation(sealed):
                            setattr(row, col, ring.seal(ring.open(sealed)))
                            dirty = True
                    if dirty:
                        changed.append(row)
                with transaction.atomic():
                    model._base_manager.bulk_update(changed, columns)
                total += len(changed)
            self.stdout.write(f"{model._meta.label}: done")
        for config in apps.get_app_configs():  # sealed data outside PersonalData columns
            if hasattr(config, "rotate_sealed_data"):
                total += config.rotate_sealed_data(ring)
        audit._event(None, "update", object_type="core.fieldkeys",
                     object_repr=f"re-sealed {total} rows with key {ring.current_id}").save()
        self.stdout.write(self.style.SUCCESS(f"re-sealed {total} rows with key {ring.current_id}"))

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IngestConfig(AppConfig):
    name = "skillguard.ingest"
    label = "ingest"
    verbose_name = _("Data docking")

    def rotate_sealed_data(self, ring) -> int:
        """Called by ``skillguard rotate-field-keys``: re-seal submission bodies and
        quarantined / earlier-version payloads with the newest field key."""
        from skillguard.ingest.sealing import rotate

        return rotate(ring)

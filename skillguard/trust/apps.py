from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrustConfig(AppConfig):
    name = "skillguard.trust"
    label = "trust"
    verbose_name = _("Identity and trust")
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CamerasConfig(AppConfig):
    name = "skillguard.cameras"
    label = "cameras"
    verbose_name = _("Camera estate")

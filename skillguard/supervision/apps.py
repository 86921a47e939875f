from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "skillguard.supervision"
    label = "supervision"
    verbose_name = _("Supervision")

    def ready(self) -> None:
        # Rules plug in by module path (settings.SUPERVISION_RULE_MODULES); importing a
        # module registers its rules — the engine never names a rule.
        from skillguard.supervision.rules.base import load_rule_modules

        load_rule_modules()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VideoConfig(AppConfig):
    name = "skillguard.video"
    label = "video"
    verbose_name = _("Video supervision")

    def ready(self) -> None:
        # periodic jobs outside ``tasks.py`` (procrastinate autodiscovers that one only)
        from skillguard.video import tasks_health  # noqa: F401
        from skillguard.video import clips  # noqa: F401  (the job video.cut_clip)

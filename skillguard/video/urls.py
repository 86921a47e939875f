"""Video pages. Each part of the pipeline has its own URL module, included here."""
from skillguard.video import urls_hooks, urls_recording, urls_view

app_name = "video"
urlpatterns = urls_hooks.urlpatterns + urls_recording.urlpatterns + urls_view.urlpatterns

"""Ingest URLs: the media server's callbacks (secret in the query string; no login, no
CSRF) and the media event list."""
from django.urls import path

from skillguard.video import hooks, views_ingest

urlpatterns: list = [
    path("hooks/publish", hooks.on_publish, name="hook_publish"),
    path("hooks/publish-done", hooks.on_publish_done, name="hook_publish_done"),
    path("hooks/update", hooks.on_update, name="hook_update"),
    path("events/", views_ingest.event_list, name="event_list"),
]

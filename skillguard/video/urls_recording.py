"""Pages of the recorder: a camera's recordings on a day."""
from django.urls import path

from skillguard.video import views_recording

urlpatterns: list = [
    path("cameras/<int:pk>/recordings/", views_recording.camera_recordings,
         name="camera_recordings"),
]

"""Pages of the viewer: live view, video wall, playback, clips."""
from django.urls import path

from skillguard.video import views

urlpatterns: list = [
    path("wall/", views.wall, name="wall"),
    path("live/cameras/<int:pk>/", views.camera_live, name="camera_live"),
    path("live/cameras/<int:pk>/hls/index.m3u8", views.live_playlist,
         name="live_playlist"),
    path("live/cameras/<int:pk>/hls/<str:name>", views.live_file, name="live_file"),
    path("live/classes/<int:pk>/", views.class_live, name="class_live"),
    path("live/institutions/<int:pk>/", views.institution_live, name="institution_live"),
    path("live/districts/<int:pk>/", views.district_live, name="district_live"),
    path("playback/cameras/<int:pk>/", views.playback_page, name="playback"),
    path("playback/cameras/<int:pk>/index.m3u8", views.playback_playlist,
         name="playback_playlist"),
    path("playback/cameras/<int:pk>/segments/<int:segment_id>.ts", views.segment_file,
         name="segment_file"),
    path("playback/cameras/<int:pk>/clip/", views.clip_request, name="clip_request"),
    path("clips/", views.clip_list, name="clip_list"),
    path("clips/<int:pk>/", views.clip_detail, name="clip_detail"),
    path("clips/<int:pk>/attach/", views.clip_attach, name="clip_attach"),
    path("clips/<int:pk>/download/", views.clip_download, name="clip_download"),
]

from django.urls import path

from skillguard.cameras import views

app_name = "cameras"
urlpatterns = [
    path("", views.camera_list, name="camera_list"),
    path("estate/", views.estate, name="estate"),
    path("request/", views.camera_request, name="camera_request"),
    path("<int:pk>/", views.camera_detail, name="camera_detail"),
    path("<int:pk>/act/", views.camera_act, name="camera_act"),
    path("<int:pk>/position-photo/", views.camera_photo, name="camera_photo"),
    path("work-orders/", views.workorder_list, name="workorder_list"),
    path("work-orders/<int:pk>/", views.workorder_detail, name="workorder_detail"),
    path("work-orders/<int:pk>/act/", views.workorder_act, name="workorder_act"),
    path("photos/<int:pk>/", views.photo_download, name="photo_download"),
]

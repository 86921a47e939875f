from django.urls import path

from skillguard.cockpit import views

app_name = "cockpit"
urlpatterns = [
    path("", views.home, name="home"),
    path("city/", views.city, name="city"),
    path("districts/<int:pk>/", views.district, name="district"),
    path("institutions/<int:pk>/", views.institution, name="institution"),
]

from django.urls import path

from skillguard.registry import import_views

app_name = "imports"
urlpatterns = [
    path("<str:kind>/", import_views.start, name="start"),
]

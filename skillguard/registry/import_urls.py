from django.urls import path

from skillguard.registry import import_views

app_name = "imports"
urlpatterns = [
    path("", import_views.batch_list, name="list"),
    path("batch/<int:pk>/", import_views.batch_detail, name="batch"),
    path("batch/<int:pk>/progress/", import_views.batch_progress, name="progress"),
    path("batch/<int:pk>/errors.<str:fmt>", import_views.error_report, name="errors"),
    path("<str:kind>/template.xlsx", import_views.template_file, name="template"),
    path("<str:kind>/", import_views.start, name="start"),
]

from django.urls import path

from skillguard.reports import views

app_name = "reports"
urlpatterns = [
    path("statistics/", views.statistics_page, name="statistics"),
    path("exports/new/", views.export_request, name="export_request"),
    path("exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/<int:pk>/progress/", views.export_progress, name="export_progress"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("archive/", views.report_list, name="report_list"),
    path("archive/<int:pk>/", views.report_detail, name="report_detail"),
    path("archive/<int:pk>/progress/", views.report_progress, name="report_progress"),
    path("archive/<int:pk>/download/", views.report_download, name="report_download"),
    path("usage/", views.usage_page, name="usage"),
]

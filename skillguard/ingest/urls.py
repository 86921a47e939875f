from django.urls import path

from skillguard.ingest import views

app_name = "ingest"
urlpatterns = [
    path("quarantine/", views.quarantine_list, name="quarantine_list"),
    path("quarantine/<int:pk>/", views.quarantine_detail, name="quarantine_detail"),
    path("quarantine/<int:pk>/withdraw/", views.quarantine_withdraw, name="quarantine_withdraw"),
]

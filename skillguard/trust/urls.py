from django.urls import path

from skillguard.trust import views

app_name = "trust"
urlpatterns = [
    path("clients/", views.client_list, name="client_list"),
    path("clients/new/", views.client_create, name="client_create"),
    path("clients/<int:pk>/", views.client_detail, name="client_detail"),
    path("clients/<int:pk>/status/", views.client_status, name="client_status"),
    path("clients/<int:pk>/enrolment-code/", views.client_enrolment_code,
         name="client_enrolment_code"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
]

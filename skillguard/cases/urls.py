from django.urls import path

from skillguard.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("<int:pk>/", views.case_detail, name="case_detail"),
    path("<int:pk>/act/", views.case_act, name="case_act"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment_download"),
    path("spot-checks/", views.spotcheck_list, name="spotcheck_list"),
    path("spot-checks/new/", views.spotcheck_create, name="spotcheck_create"),
    path("spot-checks/<int:pk>/", views.spotcheck_detail, name="spotcheck_detail"),
    path("spot-check-items/<int:pk>/result/", views.spotcheckitem_result,
         name="spotcheckitem_result"),
]

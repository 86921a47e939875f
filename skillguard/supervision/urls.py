from django.urls import path

from skillguard.supervision import views

app_name = "supervision"
urlpatterns = [
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/<str:code>/", views.rule_detail, name="rule_detail"),
    path("rules/<str:code>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<str:code>/run/", views.rule_run, name="rule_run"),
    path("rules/<str:code>/backtest/", views.rule_backtest, name="rule_backtest"),
    path("rules/<str:code>/runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("warnings/", views.warning_list, name="warning_list"),
    path("warnings/<int:pk>/", views.warning_detail, name="warning_detail"),
]

from django.urls import path

from skillguard.distribution import views

app_name = "distribution"
urlpatterns = [
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/deactivate/", views.rule_deactivate, name="rule_deactivate"),
    path("subscribers/", views.subscriber_list, name="subscriber_list"),
    path("subscribers/new/", views.subscriber_create, name="subscriber_create"),
    path("subscribers/<int:pk>/edit/", views.subscriber_edit, name="subscriber_edit"),
    path("subscribers/<int:pk>/secret/", views.subscriber_secret, name="subscriber_secret"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path("deliveries/<int:pk>/redeliver/", views.delivery_redeliver, name="delivery_redeliver"),
    path("quality/", views.quality, name="quality"),
]

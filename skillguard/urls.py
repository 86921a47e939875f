from django.contrib import admin
from django.urls import include, path

from skillguard.api import api
from skillguard.core import views as core_views
from skillguard.ingest.api import docking_api

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("skillguard.accounts.urls")),
    path("registry/import/", include("skillguard.registry.import_urls")),
    path("registry/", include("skillguard.registry.urls")),
    path("audit/", include("skillguard.audit.urls")),
    path("trust/", include("skillguard.trust.urls")),
    path("distribution/", include("skillguard.distribution.urls")),
    path("attendance/", include("skillguard.attendance.urls")),
    path("subsidies/", include("skillguard.subsidies.urls")),
    path("supervision/", include("skillguard.supervision.urls")),
    path("cases/", include("skillguard.cases.urls")),
    path("cameras/", include("skillguard.cameras.urls")),
    path("video/", include("skillguard.video.urls")),
    path("cockpit/", include("skillguard.cockpit.urls")),
    path("reports/", include("skillguard.reports.urls")),
    path("docking/batches/", include("skillguard.ingest.views_batches")),
    path("docking/", include("skillguard.ingest.urls")),
    path("api/docking/v1/", docking_api.urls),
    path("api/", api.urls),
    path("django-admin/", admin.site.urls),
]

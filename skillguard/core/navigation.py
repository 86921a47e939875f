"""The main menu, built from what the signed-in user's role may see."""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import can

# (label, url name, app_label.model whose view permission shows the item — or "role:<role>"
# for a page only that role may open)
MENU = [
    (_("Home"), "home", None),
    (_("Data cockpit"), "cockpit:home", "cockpit.dailytraining"),
    (_("Institutions"), "registry:institution_list", "registry.institution"),
    (_("Classes"), "registry:class_list", "registry.trainingclass"),
    (_("Sessions"), "registry:session_list", "registry.session"),
    (_("Trainees"), "registry:trainee_list", "registry.trainee"),
    (_("Teachers"), "registry:teacher_list", "registry.teacher"),
    (_("Catalogue"), "registry:course_list", "registry.course"),
    (_("Districts"), "registry:district_list", "registry.district"),
    (_("Distribution rules"), "distribution:rule_list", "distribution.distributionrule"),
    (_("Data quality"), "distribution:quality", "distribution.qualitysource"),
    (_("Docking clients"), "trust:client_list", "ingest.dockingclient"),
    (_("Quarantine"), "ingest:quarantine_list", "ingest.quarantinedrecord"),
    (_("Warnings"), "supervision:warning_list", "supervision.warning"),
    (_("Warning rules"), "supervision:rule_list", "supervision.rule"),
    (_("Cases"), "cases:case_list", "cases.case"),
    (_("Spot checks"), "cases:spotcheck_list", "cases.spotcheck"),
    (_("Video wall"), "video:wall", "video.streamsession"),
    (_("Video clips"), "video:clip_list", "video.clip"),
    (_("Cameras"), "cameras:camera_list", "cameras.camera"),
    (_("Camera estate"), "cameras:estate", "cameras.camera"),
    (_("Statistics"), "reports:statistics", "reports.exportjob"),
    (_("Reports"), "reports:report_list", "reports.reportarchive"),
    (_("Usage"), "reports:usage", "role:city_admin"),
    (_("Audit trail"), "audit:event_list", "audit.auditevent"),
]


def menu_for(user) -> list[dict]:
    from django.apps import apps

    if not getattr(user, "is_authenticated", False):
        return []
    items = []
    for label, url_name, model_label in MENU:
        if model_label and model_label.startswith("role:"):  # a page of one role only
            if getattr(user, "role", None) != model_label[5:]:
                continue
        elif model_label:
            try:
                model = apps.get_model(model_label)
            except LookupError:  # app not built yet
                continue
            if not can(user, "view", model):
                continue
        try:
            items.append({"label": label, "url": reverse(url_name), "name": url_name})
        except NoReverseMatch:  # page not built yet
            continue
    return items

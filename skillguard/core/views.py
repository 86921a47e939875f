from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import can
from skillguard.registry.models import (
    ClassStatus,
    Institution,
    Session,
    Teacher,
    Trainee,
    TrainingClass,
)


def _link(name: str, **params) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(params)}" if params else url


@login_required
def home(request):
    """Key counts for the signed-in user's scope, each a link into the matching list."""
    user, today = request.user, timezone.localdate()
    tiles = []
    to_do = []

    if can(user, "view", TrainingClass):
        by_status = dict(TrainingClass.objects.restrict(user).order_by()
                         .values_list("status").annotate(n=Count("pk")))
        if can(user, "approve", TrainingClass):
            pending = (TrainingClass.objects.restrict(user, "approve")
                       .filter(status=ClassStatus.SUBMITTED).count())
            to_do.append({"label": _("Applications waiting for your review"), "count": pending,
                          "url": _link("registry:class_list", status=ClassStatus.SUBMITTED),
                          "tone": "info"})
        if can(user, "submit", TrainingClass):
            to_do.append({"label": _("Applications returned for correction"),
                          "count": by_status.get(ClassStatus.RETURNED, 0),
                          "url": _link("registry:class_list", status=ClassStatus.RETURNED),
                          "tone": "warn"})
            to_do.append({"label": _("Drafts not yet submitted"),
                          "count": by_status.get(ClassStatus.DRAFT, 0),
                          "url": _link("registry:class_list", status=ClassStatus.DRAFT),
                          "tone": "muted"})
        class_statuses = [{"value": value, "label": label, "count": by_status.get(value, 0),
                           "url": _link("registry:class_list", status=value)}
                          for value, label in ClassStatus.choices]
    else:
        class_statuses = []

    if can(user, "view", Institution):
        tiles.append({"label": _("Training institutions"),
                      "count": Institution.objects.restrict(user).count(),
                      "url": _link("registry:institution_list")})
    if can(user, "view", TrainingClass):
        running = sum(c["count"] for c in class_statuses if c["value"] == ClassStatus.IN_PROGRESS)
        tiles.append({"label": _("Classes in progress"), "count": running,
                      "url": _link("registry:class_list", status=ClassStatus.IN_PROGRESS)})
    if can(user, "view", Session):
        tiles.append({"label": _("Sessions today"),
                      "count": Session.objects.restrict(user)
                      .filter(starts_at__date=today).count(),
                      "url": _link("registry:session_list", date_from=today.isoformat(),
                                   date_to=today.isoformat())})
    if can(user, "view", Trainee):
        tiles.append({"label": _("Trainees"), "count": Trainee.objects.restrict(user).count(),
                      "url": _link("registry:trainee_list")})
    if can(user, "view", Teacher):
        tiles.append({"label": _("Teachers"), "count": Teacher.objects.restrict(user).count(),
                      "url": _link("registry:teacher_list")})

    return render(request, "core/home.html", {
        "tiles": tiles, "to_do": to_do, "class_statuses": class_statuses, "today": today})


def healthz(request):
    with connection.cursor() as cur:
        cur.execute("select 1")
    return JsonResponse({"status": "ok"})

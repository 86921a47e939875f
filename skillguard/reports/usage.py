"""Usage analytics (使用情况) from the audit trail, for the city administrator.

What the audit trail records — and therefore what this page can count — is every change,
every read of personal data, every export and download, sign-ins and sign-outs, and every
view of live or recorded video (``video.playback`` writes a ``read_personal`` event on the
camera with the field ``live video`` or ``recording``). **Page views are not audited**
(there is no per-request audit middleware, by design: the trail is for accountability, not
traffic), so "most used pages" is answered with the most used *functions*: the (action,
record type) pairs users performed most. A per-request page log would be a separate,
high-volume table; it is not added here.

Active users are distinct signed-in actors; their district is the actor's own anchor (the
district of a district supervisor, of an institution's users their institution's district;
city-wide roles have none and are listed as "city").
"""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import Problem, Problems

GRAINS = (("day", _("Day")), ("week", _("Week")), ("month", _("Month")))
TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
MAX_DAYS = 366
VIDEO_TYPES = ("cameras.camera", "video.clip", "video.recordingsegment", "video.streamsession")


def may_view(user) -> bool:
    from skillguard.accounts.roles import Role

    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_superuser or user.role == Role.CITY_ADMIN))


def _refuse(field, code, message):
    from skillguard.audit.models import AuditEvent

    problems = Problems(AuditEvent)
    label = {"date_from": _("From"), "date_to": _("To")}.get(field, field)
    problems.items.append(Problem(field=field, code=code, message=message, label=label))
    problems.raise_if_any()


def parse_period(date_from, date_to) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    try:
        d_to = dt.date.fromisoformat(date_to) if date_to else today
        d_from = dt.date.fromisoformat(date_from) if date_from else d_to - dt.timedelta(days=29)
    except (TypeError, ValueError):
        _refuse("date_from", "invalid", _("is not a date (YYYY-MM-DD)"))
    if d_to < d_from:
        _refuse("date_to", "reversed_range", _("is before the first day: swap them"))
    if (d_to - d_from).days + 1 > MAX_DAYS:
        _refuse("date_to", "range_too_long", _("the period is longer than a year: choose at "
                                               "most 366 days"))
    return d_from, d_to


def _events(d_from: dt.date, d_to: dt.date):
    from skillguard.audit.models import AuditEvent

    start = timezone.make_aware(dt.datetime.combine(d_from, dt.time()))
    end = timezone.make_aware(dt.datetime.combine(d_to + dt.timedelta(days=1), dt.time()))
    return AuditEvent.objects.filter(at__gte=start, at__lt=end)


def summary(d_from: dt.date, d_to: dt.date, *, grain: str = "day") -> dict:
    from skillguard.accounts.roles import Role
    from skillguard.audit.models import AuditAction
    from skillguard.registry.models import District

    if grain not in TRUNC:
        grain = "day"
    events = _events(d_from, d_to)
    signed = events.filter(actor__isnull=False)
    roles = dict(Role.choices)
    districts = dict(District.objects.values_list("pk", "name"))

    by_role = [{"role": r["actor_role"], "label": str(roles.get(r["actor_role"],
                                                                r["actor_role"] or "—")),
                "users": r["n"], "events": r["events"]}
               for r in signed.values("actor_role").annotate(
                   n=Count("actor", distinct=True), events=Count("id")).order_by("-n")]
    anchored = signed.annotate(actor_district=Coalesce(
        F("actor__district_id"), F("actor__institution__district_id")))
    by_district = [{"district_id": r["actor_district"],
                    "label": districts.get(r["actor_district"], str(_("City level"))),
                    "users": r["n"]}
                   for r in anchored.values("actor_district").annotate(
                       n=Count("actor", distinct=True)).order_by("-n")]
    active = [{"period": r["p"].date().isoformat() if isinstance(r["p"], dt.datetime)
               else str(r["p"]), "users": r["n"]}
              for r in signed.annotate(p=TRUNC[grain]("at")).values("p").annotate(
                  n=Count("actor", distinct=True)).order_by("p")]
    actions = dict(AuditAction.choices)
    functions = [{"action": r["action"], "action_label": str(actions.get(r["action"],
                                                                          r["action"])),
                  "object_type": r["object_type"], "events": r["n"],
                  "users": r["users"]}
                 for r in events.values("action", "object_type").annotate(
                     n=Count("id"), users=Count("actor", distinct=True)).order_by("-n")[:20]]
    exports = events.filter(action=AuditAction.EXPORT)
    export_counts = [{"object_type": r["object_type"], "events": r["n"]}
                     for r in exports.values("object_type").annotate(n=Count("id"))
                     .order_by("-n")[:20]]
    video = events.filter(object_type__in=VIDEO_TYPES)
    video_views = video.filter(action=AuditAction.READ_PERSONAL)
    video_counts = {
        "live": video_views.filter(fields__contains=["live video"]).count(),
        "recording": video_views.filter(fields__contains=["recording"]).count(),
        "views": video_views.count(),
        "clip_exports": video.filter(action=AuditAction.EXPORT).count(),
        "viewers": video_views.filter(actor__isnull=False).values("actor").distinct().count(),
    }
    totals = signed.aggregate(users=Count("actor", distinct=True), events=Count("id"))
    totals.update(events.aggregate(
        all_events=Count("id"), exports=Count("id", filter=Q(action=AuditAction.EXPORT)),
        sign_ins=Count("id", filter=Q(action=AuditAction.LOGIN)),
        personal_reads=Count("id", filter=Q(action=AuditAction.READ_PERSONAL)),
        changes=Count("id", filter=Q(action__in=(AuditAction.CREATE, AuditAction.UPDATE,
                                                 AuditAction.DELETE,
                                                 AuditAction.TRANSITION)))))
    return {"grain": grain, "by_role": by_role, "by_district": by_district,
            "active": active, "functions": functions, "exports": export_counts,
            "video": video_counts, "totals": totals, "page_views_audited": False}

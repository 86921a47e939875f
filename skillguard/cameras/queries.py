"""Scoped reads of the camera estate: cameras, work orders, inspections, coverage (应装尽装),
overdue inspections and the per-district estate summary.

Coverage: an institution's *approved classrooms* are the rooms used by sessions of its
classes that are approved or in progress (``registry.ClassStatus``); a classroom is covered
when a camera in service hangs in it. Rate = covered / approved classrooms.

Overdue inspection: a camera in service whose last passed inspection (or, never inspected,
its start of service) is more than ``INSPECTION_INTERVAL_DAYS`` (365) days ago.

Online rate: in-service cameras whose ``video.CameraHealth.online`` is true, over the
in-service cameras (no health row = offline).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from skillguard.cameras.models import (
    INSPECTION_INTERVAL_DAYS,
    OPEN_WORK_ORDER_STATES,
    Camera,
    CameraState,
    Inspection,
    WorkOrder,
    WorkOrderKind,
    WorkOrderPhoto,
)
from skillguard.core.scoping import access

APPROVED_CLASS_STATES = ("approved", "in_progress")  # registry.ClassStatus


def _truthy(value) -> bool | None:
    if value in (True, "1", "true", "yes", "on"):
        return True
    if value in (False, "0", "false", "no", "off"):
        return False
    return None


def _online_q():
    from skillguard.video.models import CameraHealth

    return Exists(CameraHealth.objects.filter(camera_id=OuterRef("pk"), online=True))


# --------------------------------------------------------------------------- cameras


def access_camera(user, pk, action="view") -> Camera:
    return access(Camera, user, pk, action, queryset=Camera.objects.select_related(
        "district", "institution", "venue", "room"))


def cameras(user, *, q=None, district=None, institution=None, state=None, online=None,
            venue=None, room=None) -> QuerySet:
    qs = (Camera.objects.restrict(user)
            .select_related("district", "institution", "venue", "room")
          .annotate(is_online=_online_q()))
    if q:
        q = q.strip()
        qs = qs.filter(Q(serial__icontains=q) | Q(stream_name__icontains=q)
                       | Q(iccid__icontains=q) | Q(institution__name__icontains=q)
                       | Q(room__name__icontains=q))
    if district:
        qs = qs.filter(district_id=district)
    if institution:
        qs = qs.filter(institution_id=institution)
    if venue:
        qs = qs.filter(venue_id=venue)
    if room:
        qs = qs.filter(room_id=room)
    if state:
        qs = qs.filter(state=state)
    online = _truthy(online)
    if online is True:
        qs = qs.filter(is_online=True)
    elif online is False:
        qs = qs.filter(is_online=False, state=CameraState.IN_SERVICE)
    return qs


def health(camera):
    from skillguard.video.models import CameraHealth

    return CameraHealth.objects.filter(camera_id=camera.pk).first()


# --------------------------------------------------------------------------- work orders


def access_work_order(user, pk, action="view") -> WorkOrder:
    return access(WorkOrder, user, pk, action, queryset=WorkOrder.objects.select_related(
        "camera", "camera__room", "camera__venue", "district", "institution", "venue", "room",
        "created_by"))


def work_orders(user, *, camera=None, kind=None, state=None, district=None, institution=None,
                open=None) -> QuerySet:
    qs = WorkOrder.objects.restrict(user).select_related("camera", "district", "institution",
                                                         "venue", "room")
    if camera:
        qs = qs.filter(camera_id=camera)
    if kind:
        qs = qs.filter(kind=kind)
    if state == "open" or _truthy(open):
        qs = qs.filter(state__in=OPEN_WORK_ORDER_STATES)
    elif state:
        qs = qs.filter(state=state)
    if district:
        qs = qs.filter(district_id=district)
    if institution:
        qs = qs.filter(institution_id=institution)
    return qs


def photos(order) -> QuerySet:
    return WorkOrderPhoto.objects.filter(work_order=order).select_related("uploaded_by")


def access_photo(user, pk) -> WorkOrderPhoto:
    """A work-order photo, through its work order's scope (the same 404 otherwise)."""
    from django.http import Http404
    from django.utils.translation import gettext_lazy as _

    try:
        return (WorkOrderPhoto.objects.select_related("work_order")
                .filter(work_order__in=WorkOrder.objects.restrict(user).values("pk"))
                .get(pk=int(pk)))
    except (WorkOrderPhoto.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such record, or you may not see it."))


# --------------------------------------------------------------------------- inspections


def access_inspection(user, pk, action="view") -> Inspection:
    return access(Inspection, user, pk, action, queryset=Inspection.objects.select_related(
        "camera", "work_order", "district", "institution", "performed_by"))


def inspections(user, *, camera=None, district=None, institution=None, year=None,
                passed=None) -> QuerySet:
    qs = Inspection.objects.restrict(user).select_related("camera", "district", "institution")
    if camera:
        qs = qs.filter(camera_id=camera)
    if district:
        qs = qs.filter(district_id=district)
    if institution:
        qs = qs.filter(institution_id=institution)
    if year:
        qs = qs.filter(year=year)
    passed = _truthy(passed)
    if passed is not None:
        qs = qs.filter(passed=passed)
    return qs


def overdue_inspections(user, *, district=None, now=None) -> QuerySet:
    """Cameras in service whose inspection is due: no passed inspection within 365 days of
    the last one (or of the start of service)."""
    qs = inspection_due(Camera.objects.restrict(user), now=now)
    if district:
        qs = qs.filter(district_id=district)
    return qs.order_by("due_from", "pk")


def inspection_due(cameras_qs, *, now=None) -> QuerySet:
    """Of ``cameras_qs``: those in service whose yearly inspection is due (unscoped
    helper: the caller scopes)."""
    now = now or timezone.now()
    return (cameras_qs.filter(state=CameraState.IN_SERVICE)
            .select_related("district", "institution", "venue", "room")
            .annotate(last_passed=Max("inspections__performed_at",
                                      filter=Q(inspections__passed=True)))
            .annotate(due_from=Coalesce(F("last_passed"), F("in_service_since"),
                                        F("installed_at"), F("created_at")))
            .filter(due_from__lt=now - dt.timedelta(days=INSPECTION_INTERVAL_DAYS)))


# --------------------------------------------------------------------------- coverage


def coverage(user, district=None, *, institution=None) -> list[dict]:
    """应装尽装 per institution in the user's scope that has approved classrooms:
    {institution, district, approved, covered, rate (0–1), missing: [rooms]}, lowest rate
    first."""
    from skillguard.registry.models import Institution, Room, Session

    insts = Institution.objects.restrict(user).select_related("district")
    if district:
        insts = insts.filter(district_id=district)
    if institution:
        insts = insts.filter(pk=institution)
    pairs = (Session.objects.filter(training_class__status__in=APPROVED_CLASS_STATES,
                                    training_class__institution__in=insts.values("pk"),
                                    room__isnull=False)
             .values_list("training_class__institution_id", "room_id").distinct())
    rooms_of: dict[int, set[int]] = defaultdict(set)
    for inst_id, room_id in pairs:
        rooms_of[inst_id].add(room_id)
    all_rooms = set().union(*rooms_of.values()) if rooms_of else set()
    covered_rooms = set(Camera.objects.filter(state=CameraState.IN_SERVICE,
                                              room_id__in=all_rooms)
                        .values_list("room_id", flat=True))
    rooms = {r.pk: r for r in Room.objects.filter(pk__in=all_rooms - covered_rooms)
             .select_related("venue")}
    out = []
    for inst in insts.filter(pk__in=list(rooms_of)):
        approved = rooms_of[inst.pk]
        covered = approved & covered_rooms
        missing = sorted((rooms[r] for r in approved - covered),
                         key=lambda r: (r.venue.name, r.name))
        out.append({"institution": inst, "district": inst.district, "approved": len(approved),
                    "covered": len(covered), "rate": len(covered) / len(approved),
                    "missing": missing})
    out.sort(key=lambda row: (row["rate"], row["district"].sort_order, row["institution"].name))
    return out


# --------------------------------------------------------------------------- summary


def estate_summary(user, *, now=None) -> dict:
    """Per district in the user's scope: cameras by state, in service, online and online
    rate, open faults (open repair orders), overdue inspections, approved classrooms and
    coverage rate; plus the totals."""
    from skillguard.registry.models import District

    now = now or timezone.now()
    cams = Camera.objects.restrict(user)
    by_state = defaultdict(dict)
    for row in cams.order_by().values("district_id", "state").annotate(n=Count("id")):
        by_state[row["district_id"]][row["state"]] = row["n"]
    online = dict(cams.filter(state=CameraState.IN_SERVICE).annotate(is_online=_online_q())
                  .filter(is_online=True).order_by().values("district_id")
                  .annotate(n=Count("id")).values_list("district_id", "n"))
    faults = dict(WorkOrder.objects.restrict(user)
                  .filter(kind=WorkOrderKind.REPAIR, state__in=OPEN_WORK_ORDER_STATES)
                  .order_by().values("district_id").annotate(n=Count("id"))
                  .values_list("district_id", "n"))
    overdue = dict(overdue_inspections(user, now=now).order_by().values("district_id")
                   .annotate(n=Count("id")).values_list("district_id", "n"))
    approved, covered = defaultdict(int), defaultdict(int)
    for row in coverage(user):
        approved[row["district"].pk] += row["approved"]
        covered[row["district"].pk] += row["covered"]
    ids = set(by_state) | set(approved) | set(faults)
    rows = []
    for d in District.objects.filter(pk__in=ids).order_by("sort_order", "code"):
        states = by_state.get(d.pk, {})
        in_service = states.get(CameraState.IN_SERVICE, 0)
        rows.append(_summary_row(d, states, in_service, online.get(d.pk, 0),
                                 faults.get(d.pk, 0), overdue.get(d.pk, 0),
                                 approved.get(d.pk, 0), covered.get(d.pk, 0)))
    total_states = defaultdict(int)
    for row in rows:
        for k, v in row["by_state"].items():
            total_states[k] += v
    totals = _summary_row(None, dict(total_states), sum(r["in_service"] for r in rows),
                          sum(r["online"] for r in rows), sum(r["open_faults"] for r in rows),
                          sum(r["overdue_inspections"] for r in rows),
                          sum(r["approved_rooms"] for r in rows),
                          sum(r["covered_rooms"] for r in rows))
    return {"districts": rows, "totals": totals}


def _summary_row(district, states, in_service, online, faults, overdue, approved, covered):
    return {"district": district, "by_state": {s: states.get(s, 0) for s in CameraState.values},
            "cameras": sum(v for k, v in states.items() if k != CameraState.RETIRED),
            "in_service": in_service, "online": online,
            "online_rate": (online / in_service) if in_service else None,
            "open_faults": faults, "overdue_inspections": overdue,
            "approved_rooms": approved, "covered_rooms": covered,
            "coverage_rate": (covered / approved) if approved else None,
            "online_pct": _pct(online, in_service), "coverage_pct": _pct(covered, approved)}


def _pct(part, whole):
    return round(100 * part / whole, 1) if whole else None

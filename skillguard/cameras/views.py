"""Pages of the camera estate (thin: queries read, services write).

A new stream key (put in service, rotate) is shown once, in the answer to the POST that
issued it (never stored, never redirected to, not cached)."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from skillguard.cameras import forms, queries, services
from skillguard.cameras.models import (
    CHECKLIST_ITEMS,
    Camera,
    CameraState,
    WorkOrder,
    WorkOrderKind,
)
from skillguard.cameras.tables import CameraTable, WorkOrderTable
from skillguard.core.errors import BusinessRuleError
from skillguard.core.pages import action, form_page, list_page, require
from skillguard.core.scoping import can

S, K = CameraState, WorkOrderKind

CAMERA_STEPS = {
    "put_in_service": (_("Put in service"), forms.ConfirmForm),
    "rotate_key": (_("Issue a new stream key"), forms.ConfirmForm),
    "revoke_key": (_("Revoke the stream key"), forms.ReasonForm),
    "report_fault": (_("Report a fault"), forms.FaultForm),
    "start_relocation": (_("Relocate"), forms.RelocationForm),
    "complete_relocation": (_("Installed at the new site"), forms.CompleteRelocationForm),
    "schedule_inspection": (_("Order the yearly inspection"), forms.ScheduleForm),
    "retire": (_("Retire"), forms.ReasonForm),
}
ORDER_STEPS = {
    "schedule": (_("Schedule"), forms.ScheduleForm),
    "record_installation": (_("Record the installation"), forms.InstallForm),
    "repair_visit": (_("Record a repair visit"), forms.RepairVisitForm),
    "record_inspection": (_("Record the inspection"), forms.InspectionForm),
    "cancel": (_("Cancel the work order"), forms.ReasonForm),
}


def _refused(request) -> int:
    return 200 if request.headers.get("HX-Request") == "true" else 400


def _may_request(user) -> bool:
    return can(user, "add", Camera) or can(user, "add", WorkOrder)


# --------------------------------------------------------------------------- lists


@login_required
@require_safe
def camera_list(request):
    user = request.user
    require(user, "view", Camera)
    filter_form = forms.CameraFilter(request.GET or None, user=user)
    filters = filter_form.filters() if request.GET else {}
    table = CameraTable(queries.cameras(user, **filters), request)
    actions = [action(_("Estate overview"), reverse("cameras:estate")),
               action(_("Work orders"), reverse("cameras:workorder_list"))]
    if _may_request(user):
        actions.append(action(_("Request a camera"), reverse("cameras:camera_request"),
                              "primary"))
    return list_page(request, title=_("Cameras"), table=table, filter_form=filter_form,
                     actions=actions, intro=_(
                         "Every classroom camera point (监控点位): where it hangs, its state "
                         "and whether it is online."))


@login_required
@require_safe
def workorder_list(request):
    user = request.user
    require(user, "view", WorkOrder)
    filter_form = forms.WorkOrderFilter(request.GET or None, user=user)
    filters = filter_form.filters() if request.GET else {}
    table = WorkOrderTable(queries.work_orders(user, **filters), request)
    return list_page(request, title=_("Work orders"), table=table, filter_form=filter_form,
                     actions=[action(_("Cameras"), reverse("cameras:camera_list"))],
                     intro=_("Field work on cameras: installation, relocation, repair and "
                             "yearly inspection."))


@login_required
@require_safe
def estate(request):
    user = request.user
    require(user, "view", Camera)
    filter_form = forms.EstateFilter(request.GET or None) if user.is_city_wide else None
    district = (filter_form.filters().get("district") if filter_form is not None
                and request.GET else None)
    summary = queries.estate_summary(user)
    if district:
        summary["districts"] = [r for r in summary["districts"] if r["district"].pk == district]
    gaps = [row for row in queries.coverage(user, district=district) if row["rate"] < 1]
    overdue = list(queries.overdue_inspections(user, district=district)[:50])
    return render(request, "cameras/estate.html", {
        "summary": summary, "gaps": gaps, "overdue": overdue, "filter_form": filter_form,
        "states": CameraState.choices, "may_request": _may_request(user)})


# --------------------------------------------------------------------------- request


@login_required
def camera_request(request):
    user = request.user
    if not _may_request(user):
        raise PermissionDenied
    initial = {"room": request.GET.get("room")} if request.GET.get("room", "").isdigit() else {}
    form = forms.RequestForm(request.POST if request.method == "POST" else None, user=user,
                             initial=initial)

    def save(data):
        room = data["room"]
        return services.request_installation(user, institution=room.venue.institution,
                                             venue=room.venue, room=room, note=data["note"])

    return form_page(request, form, title=_("Request a camera"), save=save,
                     success=lambda order: reverse("cameras:workorder_detail", args=[order.pk]),
                     cancel_url=reverse("cameras:camera_list"),
                     subtitle=_("A camera point for an approved classroom (应装尽装)."))


# --------------------------------------------------------------------------- camera


def _camera_steps(user, camera) -> list[str]:
    operate = services.may_operate(user, camera)
    order = services.may_order(user, camera)
    steps = []
    if operate and camera.state == S.INSTALLED:
        steps.append("put_in_service")
    if operate and camera.state in (S.INSTALLED, S.IN_SERVICE, S.FAULTY):
        steps.append("rotate_key")
    if operate and camera.stream_key_hash and camera.stream_key_revoked_at is None:
        steps.append("revoke_key")
    if order and camera.state == S.IN_SERVICE:
        steps.append("report_fault")
    if order and camera.state in (S.INSTALLED, S.IN_SERVICE, S.FAULTY):
        steps.append("start_relocation")
    if operate and camera.state == S.RELOCATING:
        steps.append("complete_relocation")
    if order and camera.state in (S.IN_SERVICE, S.FAULTY):
        steps.append("schedule_inspection")
    if operate and camera.state != S.RETIRED:
        steps.append("retire")
    return steps


def _camera_form(step, camera, data=None, files=None):
    cls = CAMERA_STEPS[step][1]
    kwargs = {"camera": camera} if step == "start_relocation" else {}
    return cls(data, files, prefix=step, **kwargs)


def _camera_page(request, camera, *, bound=None, status=200, new_key=None):
    user = request.user
    step_forms = []
    for step in _camera_steps(user, camera):
        form = bound if bound is not None and bound.prefix == step else _camera_form(step, camera)
        step_forms.append({"step": step, "label": CAMERA_STEPS[step][0], "form": form,
                           "open": bound is not None and bound.prefix == step})
    response = render(request, "cameras/camera_detail.html", {
        "camera": camera, "health": queries.health(camera),
        "orders": queries.work_orders(user, camera=camera.pk).order_by("-created_at", "-pk"),
        "inspections": queries.inspections(user, camera=camera.pk),
        "step_forms": step_forms, "new_key": new_key,
        "publish_url": (f"rtmp://{getattr(settings, 'RTMP_PUBLIC_HOST', '<host>')}:"
                        f"{getattr(settings, 'RTMP_PORT', 1935)}/live/{camera.stream_name}?key="),
    }, status=status)
    if new_key:
        add_never_cache_headers(response)
    return response


@login_required
@require_safe
def camera_detail(request, pk):
    return _camera_page(request, queries.access_camera(request.user, pk))


@login_required
@require_safe
def camera_photo(request, pk):
    camera = queries.access_camera(request.user, pk)
    if not camera.position_photo:
        raise Http404(_("No such record, or you may not see it."))
    try:
        handle = camera.position_photo.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("No such record, or you may not see it."))
    return FileResponse(handle, filename=camera.position_photo.name.rsplit("/", 1)[-1])


def _forbidden_only(err: BusinessRuleError) -> bool:
    return bool(err.problems) and all(p.code == "forbidden" for p in err.problems)


@login_required
@require_POST
def camera_act(request, pk):
    user = request.user
    camera = queries.access_camera(user, pk)
    step = request.POST.get("step", "")
    if step not in CAMERA_STEPS:
        return _camera_page(request, camera, status=400)
    form = _camera_form(step, camera, request.POST, request.FILES)
    new_key = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            if step == "put_in_service":
                camera, new_key = services.put_in_service(user, camera)
            elif step == "rotate_key":
                camera, new_key = services.rotate_stream_key(user, camera)
            elif step == "revoke_key":
                services.revoke_stream_key(user, camera, reason=data["reason"])
            elif step == "report_fault":
                services.report_fault(user, camera, description=data["fault_description"])
            elif step == "start_relocation":
                room = data.get("room")
                services.start_relocation(user, camera, venue=room.venue if room else None,
                                          room=room, reason=data["reason"])
            elif step == "complete_relocation":
                services.complete_relocation(user, camera, result=data["result"],
                                             position_photo=data.get("position_photo"),
                                             photos=data["photos"])
            elif step == "schedule_inspection":
                services.schedule_inspection(user, camera,
                                             technician_name=data["technician_name"],
                                             technician_phone=data["technician_phone"],
                                             appointment_at=data["appointment_at"])
            elif step == "retire":
                services.retire(user, camera, reason=data["reason"])
        except BusinessRuleError as err:
            if _forbidden_only(err):
                raise PermissionDenied
            form.add_problems(err)
        else:
            camera = queries.access_camera(user, pk)
            if new_key:  # shown once, on this answer only
                messages.success(request, gettext(
                    "%(camera)s: new stream key issued. Copy it now: it is not shown again.")
                    % {"camera": camera.serial})
                return _camera_page(request, camera, new_key=new_key)
            messages.success(request, gettext("%(camera)s: %(step)s — done. State: %(state)s")
                             % {"camera": camera.serial, "step": CAMERA_STEPS[step][0],
                                "state": camera.get_state_display()})
            return redirect("cameras:camera_detail", camera.pk)
    return _camera_page(request, camera, bound=form, status=_refused(request))


# --------------------------------------------------------------------------- work order


def _order_steps(user, order) -> list[str]:
    if not order.is_open or not services.may_operate(user, order.camera):
        return []
    steps = ["schedule"]
    if order.kind == K.INSTALL and order.camera.state == S.SCHEDULED:
        steps.append("record_installation")
    if order.kind == K.REPAIR:
        steps.append("repair_visit")
    if order.kind == K.INSPECTION:
        steps.append("record_inspection")
    if order.kind in (K.REPAIR, K.INSPECTION):
        steps.append("cancel")
    return steps


def _order_form(step, order, data=None, files=None):
    cls = ORDER_STEPS[step][1]
    initial = {}
    if step == "schedule":
        initial = {"technician_name": order.technician_name,
                   "technician_phone": order.technician_phone,
                   "appointment_at": order.appointment_at}
    return cls(data, files, prefix=step, initial=initial)


def _order_page(request, order, *, bound=None, status=200):
    user = request.user
    step_forms = []
    for step in _order_steps(user, order):
        form = bound if bound is not None and bound.prefix == step else _order_form(step, order)
        step_forms.append({"step": step, "label": ORDER_STEPS[step][0], "form": form,
                           "open": bound is not None and bound.prefix == step})
    inspection = getattr(order, "inspection", None) if order.kind == K.INSPECTION else None
    checklist = []
    if inspection is not None:
        for key, label in CHECKLIST_ITEMS:
            item = inspection.checklist.get(key) or {}
            checklist.append({"label": label, "ok": item.get("ok"), "note": item.get("note")})
    return render(request, "cameras/workorder_detail.html", {
        "order": order, "camera": order.camera, "photos": queries.photos(order),
        "inspection": inspection, "checklist": checklist, "step_forms": step_forms,
    }, status=status)


@login_required
@require_safe
def workorder_detail(request, pk):
    return _order_page(request, queries.access_work_order(request.user, pk))


@login_required
@require_POST
def workorder_act(request, pk):
    user = request.user
    order = queries.access_work_order(user, pk)
    step = request.POST.get("step", "")
    if step not in ORDER_STEPS:
        return _order_page(request, order, status=400)
    form = _order_form(step, order, request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if step == "schedule":
                services.schedule_work_order(user, order, technician_name=data["technician_name"],
                                             technician_phone=data["technician_phone"],
                                             appointment_at=data["appointment_at"])
            elif step == "record_installation":
                services.record_installation(
                    user, order, serial=data["serial"], model=data["model"], iccid=data["iccid"],
                    position_photo=data.get("position_photo"), result=data["result"],
                    photos=data["photos"])
            elif step == "repair_visit":
                services.record_repair_visit(user, order, result=data["result"],
                                             fixed=data["fixed"], photos=data["photos"])
            elif step == "record_inspection":
                services.record_inspection(user, order, checklist=form.checklist(),
                                           performed_at=data.get("performed_at"),
                                           note=data["note"], photos=data["photos"])
            elif step == "cancel":
                services.cancel_work_order(user, order, reason=data["reason"])
        except BusinessRuleError as err:
            if _forbidden_only(err):
                raise PermissionDenied
            form.add_problems(err)
        else:
            order = queries.access_work_order(user, pk)
            messages.success(request, gettext("%(order)s: %(step)s — done. State: %(state)s")
                             % {"order": order.number, "step": ORDER_STEPS[step][0],
                                "state": order.get_state_display()})
            return redirect("cameras:workorder_detail", order.pk)
    return _order_page(request, order, bound=form, status=_refused(request))


@login_required
@require_safe
def photo_download(request, pk):
    photo = queries.access_photo(request.user, pk)
    try:
        handle = photo.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("No such record, or you may not see it."))
    return FileResponse(handle, filename=photo.name)

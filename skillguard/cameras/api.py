"""HTTP API of the camera estate (thin router over queries and services).

A camera, work order or inspection that is missing or outside the caller's scope answers
404 with the same body; a visible record the caller may not act on answers 403; a refused
step answers 422 naming each field. A stream key is in the answer of the call that issued
it, and never again.
"""
from django.utils.translation import gettext_lazy as _
from ninja import File, Form, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate

from skillguard.api_support import ERROR_RESPONSES, Pagination
from skillguard.cameras import queries, services
from skillguard.cameras.models import Camera
from skillguard.cameras.schemas import (
    CameraDetailOut,
    CameraFilters,
    CameraOut,
    CoverageFilters,
    CoverageOut,
    EstateSummaryOut,
    FaultIn,
    InspectionFilters,
    InspectionIn,
    InspectionOut,
    InstallationIn,
    InstallationRequestIn,
    KeyOut,
    ReasonIn,
    RelocationIn,
    RepairVisitIn,
    ScheduleIn,
    WorkOrderFilters,
    WorkOrderOut,
)
from skillguard.core.errors import Problems

router = Router(tags=["cameras"])
R = {**ERROR_RESPONSES}


def _op(op_id, summary, description, tag="cameras", **extra):
    return {"operation_id": op_id, "summary": summary, "description": description,
            "tags": [tag], **extra}


def _ref(model, pk, field, qs):
    obj = qs.filter(pk=pk).first()
    if obj is None:
        problems = Problems(model)
        problems.add(field, "unknown_reference", _("no such record, or you may not use it"))
        problems.raise_if_any()
    return obj


def _detail(user, camera):
    camera = queries.access_camera(user, camera.pk)
    camera._health = queries.health(camera)
    camera._work_orders = list(queries.work_orders(user, camera=camera.pk))
    camera._inspections = list(queries.inspections(user, camera=camera.pk))
    return camera


def _summary_row(row):
    d = row["district"]
    return {**row, "district_id": d.pk if d else None, "district": d.name if d else "",
            "by_state": {str(k): v for k, v in row["by_state"].items()}}


# --------------------------------------------------------------------------- cameras


@router.get("/cameras", response={200: list[CameraOut], **R},
            **_op("listCameras", "List cameras", "监控点位列表（按权限范围）。Cameras in the "
                  "caller's scope, by district, institution, state and online."))
@paginate(Pagination)
def list_cameras(request, filters: Query[CameraFilters]):
    data = filters.dict(exclude_none=True)
    if "state" in data:
        data["state"] = data["state"].value
    return queries.cameras(request.auth, **data).order_by("institution__name", "serial")


@router.get("/cameras/estate", response={200: EstateSummaryOut, **R},
            **_op("cameraEstateSummary", "Camera estate summary",
                  "监控网概况：各区在线率、故障、逾期年检、应装尽装覆盖率。Per district: cameras "
                  "by state, online rate, open faults, overdue inspections, coverage."))
def estate_summary(request):
    summary = queries.estate_summary(request.auth)
    return {"districts": [_summary_row(r) for r in summary["districts"]],
            "totals": _summary_row(summary["totals"])}


@router.get("/cameras/coverage", response={200: list[CoverageOut], **R},
            **_op("cameraCoverage", "Camera coverage (every approved classroom has a camera)",
                  "每个机构已批准教室中有在用摄像头的比例及缺装教室。Per institution: approved "
                  "classrooms, those with a camera in service, the rate and the rooms missing "
                  "one."))
def coverage(request, filters: Query[CoverageFilters]):
    return [{"institution_id": r["institution"].pk, "institution": r["institution"].name,
             "district_id": r["district"].pk, "approved_rooms": r["approved"],
             "covered_rooms": r["covered"], "rate": r["rate"],
             "missing": [{"id": m.pk, "venue_id": m.venue_id, "venue": m.venue.name,
                          "name": m.name} for m in r["missing"]]}
            for r in queries.coverage(request.auth, district=filters.district)]


@router.get("/cameras/{int:id}", response={200: CameraDetailOut, **R},
            **_op("getCamera", "Get a camera", "摄像头详情：状态、健康、工单、年检。One camera "
                  "with its health, work orders and inspections."))
def get_camera(request, id: int):
    return _detail(request.auth, queries.access_camera(request.auth, id))


@router.post("/cameras/requests", response={201: WorkOrderOut, **R},
             **_op("requestCameraInstallation", "Request a camera installation",
                   "申请安装摄像头（机构或监管人员）。Asks for a camera in a classroom: a camera "
                   "point in state requested and its installation work order."))
def request_installation(request, payload: InstallationRequestIn):
    from skillguard.registry.models import Institution, Room, Venue

    user = request.auth
    institution = _ref(Camera, payload.institution, "institution",
                       Institution.objects.restrict(user))
    venue = _ref(Camera, payload.venue, "venue", Venue.objects.restrict(user))
    room = _ref(Camera, payload.room, "room", Room.objects.restrict(user))
    return 201, services.request_installation(user, institution=institution, venue=venue,
                                              room=room, note=payload.note)


@router.post("/cameras/{int:id}/put-in-service", response={200: KeyOut, **R},
             **_op("putCameraInService", "Put a camera in service",
                   "投入使用并签发推流密钥（仅此一次显示）。Starts service and issues the stream "
                   "key, returned once."))
def put_in_service(request, id: int):
    camera, key = services.put_in_service(request.auth, queries.access_camera(request.auth, id))
    return {"camera": camera, "stream_key": key}


@router.post("/cameras/{int:id}/rotate-key", response={200: KeyOut, **R},
             **_op("rotateStreamKey", "Issue a new stream key",
                   "更换推流密钥（旧密钥立即失效，新密钥仅此一次显示）。The old key stops working "
                   "at once; the new one is returned once."))
def rotate_key(request, id: int):
    camera, key = services.rotate_stream_key(request.auth,
                                             queries.access_camera(request.auth, id))
    return {"camera": camera, "stream_key": key}


@router.post("/cameras/{int:id}/revoke-key", response={200: CameraOut, **R},
             **_op("revokeStreamKey", "Revoke the stream key",
                   "吊销推流密钥。Pushes with the key are refused from now on."))
def revoke_key(request, id: int, payload: ReasonIn):
    return services.revoke_stream_key(request.auth, queries.access_camera(request.auth, id),
                                      reason=payload.reason)


@router.post("/cameras/{int:id}/faults", response={201: WorkOrderOut, **R},
             **_op("reportCameraFault", "Report a fault",
                   "报修：摄像头转为故障并生成维修工单。The camera becomes faulty and a repair "
                   "work order opens."))
def report_fault(request, id: int, payload: FaultIn):
    camera = queries.access_camera(request.auth, id)
    return 201, services.report_fault(request.auth, camera, description=payload.description)


@router.post("/cameras/{int:id}/relocation", response={201: list[WorkOrderOut], **R},
             **_op("startCameraRelocation", "Relocate a camera",
                   "迁移：原址拆除与新址安装工单。A removal order at the old site and an "
                   "installation order at the new one."))
def start_relocation(request, id: int, payload: RelocationIn):
    from skillguard.registry.models import Room, Venue

    user = request.auth
    camera = queries.access_camera(user, id)
    venue = _ref(Camera, payload.venue, "venue", Venue.objects.restrict(user))
    room = _ref(Camera, payload.room, "room", Room.objects.restrict(user))
    return 201, list(services.start_relocation(user, camera, venue=venue, room=room,
                                               reason=payload.reason))


@router.post("/cameras/{int:id}/inspections", response={201: WorkOrderOut, **R},
             **_op("scheduleCameraInspection", "Order the yearly inspection",
                   "安排年检工单。An inspection work order (technician and appointment "
                   "optional)."))
def schedule_inspection(request, id: int, payload: ScheduleIn):
    camera = queries.access_camera(request.auth, id)
    return 201, services.schedule_inspection(
        request.auth, camera, technician_name=payload.technician_name,
        technician_phone=payload.technician_phone, appointment_at=payload.appointment_at)


@router.post("/cameras/{int:id}/retire", response={200: CameraOut, **R},
             **_op("retireCamera", "Retire a camera",
                   "报废/撤除：吊销密钥，取消未完成工单。The key is revoked and open work orders "
                   "are cancelled."))
def retire(request, id: int, payload: ReasonIn):
    return services.retire(request.auth, queries.access_camera(request.auth, id),
                           reason=payload.reason)


# --------------------------------------------------------------------------- work orders


@router.get("/workorders", response={200: list[WorkOrderOut], **R},
            **_op("listWorkOrders", "List work orders", "工单列表。Installation, relocation, "
                  "repair and inspection work orders in the caller's scope.", "work orders"))
@paginate(Pagination)
def list_work_orders(request, filters: Query[WorkOrderFilters]):
    data = filters.dict(exclude_none=True)
    if "kind" in data:
        data["kind"] = data["kind"].value
    return queries.work_orders(request.auth, **data)


@router.get("/workorders/{int:id}", response={200: WorkOrderOut, **R},
            **_op("getWorkOrder", "Get a work order", "工单详情。One work order.",
                  "work orders"))
def get_work_order(request, id: int):
    return queries.access_work_order(request.auth, id)


def _order(request, id):
    return queries.access_work_order(request.auth, id)


@router.post("/workorders/{int:id}/schedule", response={200: WorkOrderOut, **R},
             **_op("scheduleWorkOrder", "Schedule a work order",
                   "派工：技术员与预约时间。Technician and appointment; an installation's camera "
                   "becomes scheduled.", "work orders"))
def schedule(request, id: int, payload: ScheduleIn):
    return services.schedule_work_order(
        request.auth, _order(request, id), technician_name=payload.technician_name,
        technician_phone=payload.technician_phone, appointment_at=payload.appointment_at)


@router.post("/workorders/{int:id}/installation", response={200: CameraOut, **R},
             **_op("recordInstallation", "Record an installation",
                   "安装完成：序列号、型号、ICCID、点位照片（multipart）。Serial, model, ICCID "
                   "and the position photo (multipart form).", "work orders"))
def record_installation(request, id: int, payload: Form[InstallationIn],
                        position_photo: File[UploadedFile] = None):
    return services.record_installation(
        request.auth, _order(request, id), serial=payload.serial, model=payload.model,
        iccid=payload.iccid, position_photo=position_photo, result=payload.result)


@router.post("/workorders/{int:id}/repair-visit", response={200: WorkOrderOut, **R},
             **_op("recordRepairVisit", "Record a repair visit",
                   "维修上门记录；fixed=true 时恢复使用。The visit's result; fixed puts the "
                   "camera back in service.", "work orders"))
def repair_visit(request, id: int, payload: RepairVisitIn):
    return services.record_repair_visit(request.auth, _order(request, id),
                                        result=payload.result, fixed=payload.fixed)


@router.post("/workorders/{int:id}/inspection", response={201: InspectionOut, **R},
             **_op("recordInspection", "Record an inspection",
                   "年检结果：device、network、picture_quality、picture_position 逐项合格/不合格；"
                   "不合格则转故障并生成维修工单。Each checklist item ok or not (a failed item "
                   "needs a note); a failure makes the camera faulty with a repair order.",
                   "work orders"))
def record_inspection(request, id: int, payload: InspectionIn):
    checklist = {k: v.dict() for k, v in payload.checklist.items()}
    return 201, services.record_inspection(request.auth, _order(request, id),
                                           checklist=checklist,
                                           performed_at=payload.performed_at,
                                           note=payload.note)


@router.post("/workorders/{int:id}/cancel", response={200: WorkOrderOut, **R},
             **_op("cancelWorkOrder", "Cancel a work order",
                   "取消维修或年检工单。A repair or inspection order that will not be done.",
                   "work orders"))
def cancel(request, id: int, payload: ReasonIn):
    return services.cancel_work_order(request.auth, _order(request, id), reason=payload.reason)


# --------------------------------------------------------------------------- inspections


@router.get("/inspections", response={200: list[InspectionOut], **R},
            **_op("listInspections", "List inspections", "年检记录列表。Yearly inspections in "
                  "the caller's scope.", "work orders"))
@paginate(Pagination)
def list_inspections(request, filters: Query[InspectionFilters]):
    return queries.inspections(request.auth, **filters.dict(exclude_none=True))


@router.get("/inspections/{int:id}", response={200: InspectionOut, **R},
            **_op("getInspection", "Get an inspection", "年检详情（检查单）。One inspection "
                  "with its checklist.", "work orders"))
def get_inspection(request, id: int):
    return queries.access_inspection(request.auth, id)


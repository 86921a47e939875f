"""Request and response bodies of the camera-estate API."""
from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from skillguard.cameras.models import CameraState, WorkOrderKind, WorkOrderState
from skillguard.registry.schemas import In

Id = int


class CameraOut(Schema):
    id: Id
    serial: str
    model: str
    iccid: str
    district_id: Id
    institution_id: Id
    venue_id: Id | None
    room_id: Id | None
    stream_name: str
    stream_key_hint: str
    stream_key_issued_at: dt.datetime | None
    stream_key_revoked_at: dt.datetime | None
    state: CameraState
    installed_at: dt.datetime | None
    in_service_since: dt.datetime | None
    online: bool | None = None

    @staticmethod
    def resolve_online(obj):
        value = getattr(obj, "is_online", None)
        if value is None:
            health = getattr(obj, "_health", None)
            return bool(health.online) if health else None
        return bool(value)


class HealthOut(Schema):
    online: bool
    last_seen_at: dt.datetime | None
    last_publish_at: dt.datetime | None
    bitrate_kbps: int | None
    recording: bool
    last_error: str


class WorkOrderOut(Schema):
    id: Id
    number: str
    camera_id: Id
    district_id: Id
    institution_id: Id
    kind: WorkOrderKind
    state: WorkOrderState
    venue_id: Id | None
    room_id: Id | None
    technician_name: str
    technician_phone: str
    appointment_at: dt.datetime | None
    fault_description: str
    result: str
    created_at: dt.datetime
    completed_at: dt.datetime | None


class InspectionOut(Schema):
    id: Id
    camera_id: Id
    work_order_id: Id | None
    district_id: Id
    institution_id: Id
    year: int
    checklist: dict
    passed: bool
    note: str
    performed_at: dt.datetime


class CameraDetailOut(CameraOut):
    health: HealthOut | None = None
    work_orders: list[WorkOrderOut] = []
    inspections: list[InspectionOut] = []

    @staticmethod
    def resolve_health(obj):
        return getattr(obj, "_health", None)

    @staticmethod
    def resolve_work_orders(obj):
        return getattr(obj, "_work_orders", [])

    @staticmethod
    def resolve_inspections(obj):
        return getattr(obj, "_inspections", [])


class KeyOut(Schema):
    camera: CameraOut
    stream_key: str = Field(..., description="Shown once: only its fingerprint is kept")


class CameraFilters(In):
    q: str | None = Field(None, max_length=100)
    district: Id | None = None
    institution: Id | None = None
    state: CameraState | None = None
    online: bool | None = None


class WorkOrderFilters(In):
    camera: Id | None = None
    kind: WorkOrderKind | None = None
    state: str | None = Field(None, max_length=16,
                                 description="A state, or “open” for open and scheduled")
    district: Id | None = None
    institution: Id | None = None


class InspectionFilters(In):
    camera: Id | None = None
    district: Id | None = None
    institution: Id | None = None
    year: int | None = None
    passed: bool | None = None


class CoverageFilters(In):
    district: Id | None = None


class RoomRefOut(Schema):
    id: Id
    venue_id: Id
    venue: str
    name: str


class CoverageOut(Schema):
    institution_id: Id
    institution: str
    district_id: Id
    approved_rooms: int
    covered_rooms: int
    rate: float
    missing: list[RoomRefOut]


class DistrictSummaryOut(Schema):
    district_id: Id | None
    district: str
    cameras: int
    by_state: dict[str, int]
    in_service: int
    online: int
    online_rate: float | None
    open_faults: int
    overdue_inspections: int
    approved_rooms: int
    covered_rooms: int
    coverage_rate: float | None


class EstateSummaryOut(Schema):
    districts: list[DistrictSummaryOut]
    totals: DistrictSummaryOut


class InstallationRequestIn(In):
    institution: Id
    venue: Id
    room: Id
    note: str = Field("", max_length=2000)


class FaultIn(In):
    description: str = Field("", max_length=5000)


class ScheduleIn(In):
    technician_name: str = Field("", max_length=64)
    technician_phone: str = Field("", max_length=20)
    appointment_at: dt.datetime | None = None


class InstallationIn(In):
    serial: str = Field("", max_length=64)
    model: str = Field("", max_length=64)
    iccid: str = Field("", max_length=22)
    result: str = Field("", max_length=5000)


class RepairVisitIn(In):
    result: str = Field("", max_length=5000)
    fixed: bool = False


class ChecklistItemIn(In):
    ok: bool
    note: str = Field("", max_length=500)


class InspectionIn(In):
    checklist: dict[str, ChecklistItemIn]
    performed_at: dt.datetime | None = None
    note: str = Field("", max_length=5000)


class RelocationIn(In):
    venue: Id
    room: Id
    reason: str = Field("", max_length=2000)


class ReasonIn(In):
    reason: str = Field("", max_length=2000)

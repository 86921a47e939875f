"""Response bodies of the learning-hours API (学时认定)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

Id = int


class EvidenceOut(Schema):
    id: Id
    kind: str = Field(..., description="in | out")
    method: str = Field(..., description="face | qr | gps | card")
    occurred_at: dt.datetime
    received_at: dt.datetime
    device_id: str
    distance_m: Decimal | None = Field(None, description="Metres from the session's venue")
    geofence_radius_m: int | None = None
    counts: bool = Field(..., description="Valid evidence (not flagged)")
    used: bool = Field(False, description="The first valid check-in or last valid check-out")
    not_counted: list[str] = Field(default_factory=list, description=(
        "Why it did not count: superseded, skewed, outside_geofence, outside_window"))


class SessionHoursOut(Schema):
    session_id: Id
    sequence: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    first_in: dt.datetime | None
    last_out: dt.datetime | None
    attended_minutes: int
    scheduled_hours: Decimal
    valid_hours: Decimal
    excluded_hours: Decimal
    status: str = Field(..., description="present | partial | absent | pending")
    flags: list[str]
    evidence_count: int
    evidence: list[EvidenceOut]


class EnrolmentHoursOut(Schema):
    enrolment_id: Id
    training_class_id: Id
    class_code: str
    trainee_id: Id
    planned_hours: Decimal
    required_hours: Decimal
    scheduled_hours: Decimal
    valid_hours: Decimal
    excluded_hours: Decimal
    attendance_rate: Decimal | None
    sessions_attended: int
    sessions_held: int
    completion: str = Field(..., description="qualifies | not_qualified | pending")
    computed_at: dt.datetime | None = Field(None, description="null: not computed yet")
    sessions: list[SessionHoursOut]


class TraineeHoursOut(Schema):
    trainee_id: Id
    enrolments: list[EnrolmentHoursOut]

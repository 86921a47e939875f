"""Request and response bodies of the registry API (the docking standard's registry part).

Personal data leaves the server masked only (``id_number_masked``, ``phone_masked``); the
full value is available through the logged ``…/reveal`` operations. Inputs take the plain
values, which the services seal before anything is stored.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Optional

from ninja import Field, Schema
from pydantic import field_validator

from skillguard.core.validators import mask_phone
from skillguard.registry.models import (
    ClassStatus,
    EnrolmentStatus,
    Gender,
    InstitutionKind,
    InstitutionStatus,
    Level,
    SubsidyType,
    TraineeCategory,
    TrainingMode,
    WhitelistStatus,
)
from skillguard.registry.services import TRANSITIONS

Id = int


def _enum(name: str, values) -> type[Enum]:
    return StrEnum(name, {v: v for v in values})


WorkflowStep = _enum("WorkflowStep", TRANSITIONS)
PersonalField = _enum("PersonalField", ("id_number", "phone"))


class In(Schema):
    """Every request body and query: text must not hold NUL characters (PostgreSQL
    cannot store them; the request is refused with 422 naming the field)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL (\\x00) characters")
        return value


# --------------------------------------------------------------------------- errors


class ErrorItem(Schema):
    record: str = Field("", description="Which record: a class code, an import row, …")
    field: str = Field("", description="The field at fault; empty for the whole record")
    code: str = Field(..., description="Machine-readable reason, e.g. not_found, "
                                       "invalid_id_number, class_full")
    message_zh: str = Field(..., description="说明（简体中文）")
    message_en: str = Field(..., description="Explanation (English)")


class ErrorsOut(Schema):
    errors: list[ErrorItem]


# --------------------------------------------------------------------------- catalogue


class DistrictOut(Schema):
    id: Id
    code: str = Field(..., description="Administrative division code (GB/T 2260)")
    name: str
    name_en: str
    institution_count: Optional[int] = Field(
        None, description="Institutions in the district that the caller may see (lists only)")


class CourseOut(Schema):
    id: Id
    occupation_id: Id
    occupation_code: str = Field(..., alias="occupation.code")
    occupation_name: str = Field(..., alias="occupation.name")
    level: Optional[Level] = None
    standard_hours: int
    subsidy_type: SubsidyType
    subsidy_amount: Decimal
    active: bool


# --------------------------------------------------------------------------- institutions


class InstitutionOut(Schema):
    id: Id
    name: str
    credit_code: str = Field(..., description="Unified social credit code (GB 32100)")
    district_id: Id
    district_name: str = Field(..., alias="district.name")
    kind: InstitutionKind
    licence_number: str
    licence_valid_until: Optional[dt.date] = None
    address: str
    contact_name: str
    contact_phone_masked: str
    whitelist_status: WhitelistStatus
    status: InstitutionStatus
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_contact_phone_masked(obj) -> str:
        return mask_phone(obj.contact_phone) if obj.contact_phone else ""


class InstitutionIn(In):
    name: str = Field(..., min_length=1, max_length=128)
    credit_code: str = Field(..., min_length=18, max_length=18)
    district: Id = Field(..., description="District id")
    kind: InstitutionKind
    licence_number: str = Field("", max_length=64)
    licence_valid_until: Optional[dt.date] = None
    address: str = Field("", max_length=200)
    contact_name: str = Field("", max_length=32)
    contact_phone: str = Field("", max_length=20)
    whitelist_status: WhitelistStatus = WhitelistStatus.NONE


class InstitutionPatch(In):
    name: Optional[str] = Field(None, min_length=1, max_length=128)
    district: Optional[Id] = None
    kind: Optional[InstitutionKind] = None
    licence_number: Optional[str] = Field(None, max_length=64)
    licence_valid_until: Optional[dt.date] = None
    address: Optional[str] = Field(None, max_length=200)
    contact_name: Optional[str] = Field(None, max_length=32)
    contact_phone: Optional[str] = Field(None, max_length=20)
    whitelist_status: Optional[WhitelistStatus] = None
    status: Optional[InstitutionStatus] = None


class VenueOut(Schema):
    id: Id
    institution_id: Id
    district_id: Id
    name: str
    address: str
    latitude: Decimal
    longitude: Decimal
    geofence_radius_m: int
    active: bool


class VenueIn(In):
    institution: Optional[Id] = Field(
        None, description="Institution id; defaults to the caller's own institution")
    name: str = Field(..., min_length=1, max_length=128)
    address: str = Field(..., min_length=1, max_length=200)
    latitude: Decimal = Field(..., ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal = Field(..., ge=-180, le=180, max_digits=9, decimal_places=6)
    geofence_radius_m: int = Field(200, ge=10, le=5000)


class VenuePatch(In):
    name: Optional[str] = Field(None, min_length=1, max_length=128)
    address: Optional[str] = Field(None, min_length=1, max_length=200)
    latitude: Optional[Decimal] = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Optional[Decimal] = Field(None, ge=-180, le=180, max_digits=9,
                                         decimal_places=6)
    geofence_radius_m: Optional[int] = Field(None, ge=10, le=5000)
    active: Optional[bool] = None


# --------------------------------------------------------------------------- people


class QualificationOut(Schema):
    id: Id
    occupation_id: Id
    occupation_name: str = Field(..., alias="occupation.name")
    level: Optional[Level] = None
    certificate_number: str
    valid_until: Optional[dt.date] = None


class QualificationIn(In):
    occupation: Id
    level: Optional[Level] = None
    certificate_number: str = Field(..., min_length=1, max_length=64)
    valid_until: Optional[dt.date] = None


class TeacherOut(Schema):
    id: Id
    institution_id: Id
    institution_name: str = Field(..., alias="institution.name")
    name: str
    gender: str
    id_number_masked: str = Field(..., description="ID number, masked (310***********1234)")
    phone_masked: str
    active: bool
    created_at: dt.datetime


class TeacherDetailOut(TeacherOut):
    qualifications: list[QualificationOut]

    @staticmethod
    def resolve_qualifications(obj):
        return list(obj.qualifications.select_related("occupation"))


class TeacherIn(In):
    institution: Optional[Id] = Field(
        None, description="Institution id; defaults to the caller's own institution")
    name: str = Field(..., min_length=1, max_length=32)
    id_number: str = Field(..., min_length=1, max_length=32,
                           description="Resident ID number (GB 11643); stored encrypted")
    phone: str = Field("", max_length=20, description="Mobile number; stored encrypted")
    gender: Optional[Gender] = None
    qualifications: list[QualificationIn] = Field(default_factory=list, max_length=20)


class TeacherPatch(In):
    name: Optional[str] = Field(None, min_length=1, max_length=32)
    phone: Optional[str] = Field(None, max_length=20)
    gender: Optional[Gender] = None
    active: Optional[bool] = None


class TraineeOut(Schema):
    id: Id
    name: str
    gender: str
    birth_year: Optional[int] = None
    id_number_masked: str = Field(..., description="ID number, masked (310***********1234)")
    phone_masked: str
    category: TraineeCategory
    residence_district_id: Optional[Id] = None
    registered_by_id: Optional[Id] = None
    id_verified: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class TraineeIn(In):
    name: str = Field(..., min_length=1, max_length=32)
    id_number: str = Field(..., min_length=1, max_length=32,
                           description="Resident ID number (GB 11643); stored encrypted. "
                                       "The same person is one trainee city-wide: an ID "
                                       "number already registered returns that trainee.")
    category: TraineeCategory
    phone: str = Field("", max_length=20, description="Mobile number; stored encrypted")
    residence_district: Optional[Id] = None
    institution: Optional[Id] = Field(
        None, description="Registering institution; defaults to the caller's own institution")


class TraineePatch(In):
    name: Optional[str] = Field(None, min_length=1, max_length=32)
    phone: Optional[str] = Field(None, max_length=20)
    category: Optional[TraineeCategory] = None
    residence_district: Optional[Id] = None


class RevealIn(In):
    field: PersonalField
    purpose: str = Field("", max_length=200, description="Why the full value is needed "
                                                         "(kept in the audit trail)")


class RevealOut(Schema):
    field: str
    value: str


# --------------------------------------------------------------------------- classes


class ClassOut(Schema):
    id: Id
    code: str
    name: str
    institution_id: Id
    institution_name: str = Field(..., alias="institution.name")
    district_id: Id
    course_id: Id
    venue_id: Optional[Id] = None
    mode: TrainingMode
    start_date: dt.date
    end_date: dt.date
    planned_hours: int
    capacity: int
    min_attendance_rate: Decimal
    teacher_ids: list[Id]
    status: ClassStatus
    submitted_at: Optional[dt.datetime] = None
    decided_at: Optional[dt.datetime] = None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_teacher_ids(obj) -> list[int]:
        return sorted(t.pk for t in obj.teachers.all())


class ReviewOut(Schema):
    from_status: ClassStatus
    to_status: ClassStatus
    comment: str
    at: dt.datetime


class ClassDetailOut(ClassOut):
    reviews: list[ReviewOut]
    allowed_steps: list[str] = Field(..., description="Workflow steps the caller may take now")

    @staticmethod
    def resolve_reviews(obj):
        return list(obj.reviews.all())

    @staticmethod
    def resolve_allowed_steps(obj, context):
        from skillguard.registry.services import allowed_transitions

        return allowed_transitions(context["request"].auth, obj)


class ClassIn(In):
    institution: Optional[Id] = Field(
        None, description="Institution id; defaults to the caller's own institution")
    name: str = Field(..., min_length=1, max_length=128)
    course: Id
    venue: Optional[Id] = None
    mode: TrainingMode = TrainingMode.OFFLINE
    start_date: dt.date
    end_date: dt.date
    planned_hours: int = Field(..., ge=1, le=10000)
    capacity: int = Field(40, ge=1, le=10000)
    min_attendance_rate: Decimal = Field(Decimal("0.800"), ge=0, le=1, max_digits=4,
                                         decimal_places=3)
    teachers: list[Id] = Field(default_factory=list, max_length=50)


class ClassPatch(In):
    name: Optional[str] = Field(None, min_length=1, max_length=128)
    course: Optional[Id] = None
    venue: Optional[Id] = None
    mode: Optional[TrainingMode] = None
    start_date: Optional[dt.date] = None
    end_date: Optional[dt.date] = None
    planned_hours: Optional[int] = Field(None, ge=1, le=10000)
    capacity: Optional[int] = Field(None, ge=1, le=10000)
    min_attendance_rate: Optional[Decimal] = Field(None, ge=0, le=1, max_digits=4,
                                                   decimal_places=3)
    teachers: Optional[list[Id]] = Field(None, max_length=50)


class TransitionIn(In):
    step: WorkflowStep = Field(..., description="submit, approve, return, start, finish "
                                                "or cancel")
    comment: str = Field("", max_length=2000,
                         description="Required when returning an application")


# --------------------------------------------------------------------------- sessions


class SessionOut(Schema):
    id: Id
    training_class_id: Id
    class_code: str = Field(..., alias="training_class.code")
    district_id: Id
    sequence: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    room_id: Optional[Id] = None
    teacher_id: Id
    teacher_name: str = Field(..., alias="teacher.name")
    topic: str
    class_hours: float = Field(..., description="Scheduled class hours (45 minutes each)")


class SessionIn(In):
    training_class: Id
    starts_at: dt.datetime
    ends_at: dt.datetime
    teacher: Id
    room: Optional[Id] = None
    topic: str = Field("", max_length=128)
    sequence: Optional[int] = Field(None, ge=1, le=100000)


class SessionPatch(In):
    starts_at: Optional[dt.datetime] = None
    ends_at: Optional[dt.datetime] = None
    teacher: Optional[Id] = None
    room: Optional[Id] = None
    topic: Optional[str] = Field(None, max_length=128)


class EnrolmentOut(Schema):
    id: Id
    training_class_id: Id
    class_code: str = Field(..., alias="training_class.code")
    trainee_id: Id
    trainee_name: str = Field(..., alias="trainee.name")
    district_id: Id
    institution_id: Id
    status: EnrolmentStatus
    enrolled_at: dt.datetime


class EnrolmentIn(In):
    training_class: Id
    trainee: Id | None = Field(None, description="A trainee the caller can already see; or "
                               "give id_number and name instead")
    id_number: str | None = Field(None, description="Resident ID number (GB 11643) of the "
                                  "person to enrol: the trainee is found, or registered, by it")
    name: str | None = Field(None, description="Real name; must match the ID number's record")
    category: str | None = Field(None, description="Trainee category when registering a new "
                                 "person (unemployed, employed, retired, student, other)")


class EnrolmentPatch(In):
    status: _enum("EnrolmentChange", (EnrolmentStatus.WITHDRAWN.value,)) = Field(
        ..., description="Only withdrawal is possible through the API")


# --------------------------------------------------------------------------- list filters


class InstitutionFilters(In):
    q: Optional[str] = Field(None, max_length=100, description="Name, credit code or licence")
    district: Optional[Id] = None
    kind: Optional[InstitutionKind] = None
    whitelist_status: Optional[WhitelistStatus] = None
    status: Optional[InstitutionStatus] = None


class CourseFilters(In):
    q: Optional[str] = Field(None, max_length=100, description="Occupation name or code")
    level: Optional[Level] = None
    subsidy_type: Optional[SubsidyType] = None


class VenueFilters(In):
    q: Optional[str] = Field(None, max_length=100, description="Name or address")
    institution: Optional[Id] = None
    district: Optional[Id] = None


class TeacherFilters(In):
    q: Optional[str] = Field(None, max_length=100,
                             description="Name, or an exact ID number or mobile number")
    institution: Optional[Id] = None


class TraineeFilters(In):
    q: Optional[str] = Field(None, max_length=100,
                             description="Name, or an exact ID number or mobile number")
    category: Optional[TraineeCategory] = None
    district: Optional[Id] = Field(None, description="District of residence")
    training_class: Optional[Id] = None


class ClassFilters(In):
    q: Optional[str] = Field(None, max_length=100, description="Code, name or institution")
    district: Optional[Id] = None
    institution: Optional[Id] = None
    status: Optional[ClassStatus] = None
    course: Optional[Id] = None
    mode: Optional[TrainingMode] = None


class SessionFilters(In):
    training_class: Optional[Id] = None
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    district: Optional[Id] = None
    teacher: Optional[Id] = None


class EnrolmentFilters(In):
    training_class: Optional[Id] = None
    trainee: Optional[Id] = None
    status: Optional[EnrolmentStatus] = None

"""A small, fully wired training world for tests: two districts, each with an institution,
catalogue, teachers, trainees, classes and sessions, and one user per role.

Built through the services (so validation and audit run as in production)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from skillguard.accounts.models import User
from skillguard.accounts.roles import Role
from skillguard.core.validators import id_check_char, uscc_check_char
from skillguard.registry import services
from skillguard.registry.models import (
    Course,
    District,
    Institution,
    InstitutionKind,
    Occupation,
    SubsidyType,
    TraineeCategory,
    TrainingClass,
)

PASSWORD = "Sg-test-pass-2026"


def make_id_number(region: str, birth: dt.date, serial: int) -> str:
    body = f"{region}{birth:%Y%m%d}{serial:03d}"
    return body + id_check_char(body)


def make_credit_code(serial: int) -> str:
    body = f"52310000{serial:09d}"
    return body + uscc_check_char(body)


@dataclass
class Side:
    """Everything one institution owns."""
    district: District
    institution: Institution
    venue: object = None
    room: object = None
    teacher: object = None
    trainees: list = field(default_factory=list)
    draft_class: TrainingClass | None = None
    approved_class: TrainingClass | None = None
    users: dict = field(default_factory=dict)


@dataclass
class World:
    course: Course
    a: Side
    b: Side
    users: dict


def _local(d: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(d, dt.time(hour, minute)))


def build_world(today: dt.date | None = None) -> World:
    today = today or timezone.localdate()
    occupation = Occupation.objects.create(code="4-10-01-01", name="保育师",
                                           name_en="Childcare worker")
    course = Course.objects.create(occupation=occupation, level=4, standard_hours=80,
                                   subsidy_type=SubsidyType.SKILL_CERTIFICATE,
                                   subsidy_amount="1500.00")
    sides = []
    for n, code in enumerate(("310104", "310115")):
        district = District.objects.get(code=code)
        inst = services.register_institution(
            None, name=f"测试培训学校{n + 1}", credit_code=make_credit_code(n + 1),
            district=district, kind=InstitutionKind.PRIVATE_SCHOOL,
            licence_number=f"LIC-{n + 1}")
        services.file_course(None, inst, course, today - dt.timedelta(days=400))
        venue = services.add_venue(None, inst, name=f"校区{n + 1}", address=f"{district.name}路1号",
                                   latitude="31.200000", longitude="121.400000")
        room = services.add_room(None, venue, name="101")
        teacher = services.register_teacher(
            None, inst, name=f"王老师{n + 1}",
            id_number=make_id_number(code, dt.date(1980, 1, 1 + n), 11 + n),
            phone=f"1390000000{n}",
            qualifications=[{"occupation": occupation, "level": 3,
                             "certificate_number": f"Q-{n + 1}"}])
        trainees = []
        for k in range(3):
            trainee, _ = services.register_trainee(
                None, name=f"学员{n + 1}-{k + 1}",
                id_number=make_id_number(code, dt.date(1990, 2, 1 + k), 100 + 10 * n + k),
                phone=f"1370000{n}{k:03d}", category=TraineeCategory.UNEMPLOYED,
                residence_district=district, institution=inst)
            trainees.append(trainee)

        def new_class(name, start, end):
            cls = services.create_class(None, inst, name=name, course=course, venue=venue,
                                        start_date=start, end_date=end, planned_hours=80,
                                        capacity=30, teachers=[teacher])
            services.add_session(None, cls, starts_at=_local(start, 9),
                                 ends_at=_local(start, 12), teacher=teacher, room=room)
            return cls

        draft = new_class(f"保育师四级班{n + 1}A", today + dt.timedelta(days=10),
                          today + dt.timedelta(days=40))
        approved = new_class(f"保育师四级班{n + 1}B", today - dt.timedelta(days=5),
                             today + dt.timedelta(days=25))
        for t in trainees:
            services.enrol_trainee(None, draft, t)
            services.enrol_trainee(None, approved, t)
        services.transition_class(None, approved, "submit")
        approved = services.transition_class(None, approved, "approve", "ok")
        side = Side(district, inst, venue, room, teacher, trainees, draft, approved)
        side.users = {
            "district_supervisor": _user(f"district{n + 1}", Role.DISTRICT_SUPERVISOR,
                                         district=district),
            "institution_admin": _user(f"inst{n + 1}", Role.INSTITUTION_ADMIN, institution=inst),
            "teacher": _user(f"teacher{n + 1}", Role.TEACHER, teacher=teacher,
                             institution=inst),
            "trainee": _user(f"trainee{n + 1}", Role.TRAINEE, trainee=trainees[0]),
        }
        sides.append(side)
    users = {
        "city_admin": _user("cityadmin", Role.CITY_ADMIN),
        "city_supervisor": _user("citysup", Role.CITY_SUPERVISOR),
        "auditor": _user("auditor", Role.AUDITOR),
        "api_client": _user("apiclient", Role.API_CLIENT, institution=sides[0].institution),
        **sides[0].users,
    }
    return World(course=course, a=sides[0], b=sides[1], users=users)


def _user(username: str, role: str, **anchors) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, role=role,
                                    display_name=username, **anchors)

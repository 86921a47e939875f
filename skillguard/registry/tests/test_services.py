"""Bad input to the registry services: each refused with a bilingual message that names the
field, and nothing half-written.

No translation catalogue exists yet, so ``zh_catalog`` stands in for one: it gives the
Chinese text of the messages these tests look at, which proves that ``message_zh`` is
rendered in Chinese and ``message_en`` in English whatever language is active."""
from __future__ import annotations

import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone, translation

from skillguard.audit.models import AuditEvent
from skillguard.core.errors import BusinessRuleError
from skillguard.core.testing import make_credit_code, make_id_number
from skillguard.registry import services
from skillguard.registry.models import (
    ClassReview,
    ClassStatus,
    Enrolment,
    Institution,
    InstitutionKind,
    Session,
    Teacher,
    Trainee,
    TraineeCategory,
    TrainingClass,
)

ZH = {
    "ID number": "身份证号",
    "check digit does not match (GB 11643)": "校验位不符（GB 11643）",
    "mobile phone": "手机号",
    "must be an 11-digit mainland mobile number": "须为11位大陆手机号码",
    "unified social credit code": "统一社会信用代码",
    "check character does not match (GB 32100)": "校验码不符（GB 32100）",
    "end date": "结束日期",
    "must not be before the start date": "不得早于开始日期",
    "starts at": "开始时间",
    "must lie within the class period %(start)s – %(end)s": "须在开班期间 %(start)s – %(end)s 内",
    "teacher": "教师",
    "teachers": "教师",
    "holds no valid qualification for %(course)s": "不具备%(course)s的有效资格",
    "%(name)s holds no valid qualification for %(course)s": "%(name)s不具备%(course)s的有效资格",
    "trainee": "学员",
    "%(name)s is already enrolled in this class": "%(name)s已在本班报名",
    "enrolments": "报名",
    "the roster is empty: enrol trainees first": "花名册为空：请先报名学员",
    "comment": "意见",
    "say what must be corrected when returning an application":
        "退回申请时须说明需要更正的内容",
    "status": "状态",
    "cannot %(step)s a class that is %(status)s": "不能对%(status)s的班级执行%(step)s",
    # imports
    "class code": "班级编号",
    "no class with this code, or it is not yours": "无此班级，或不是本机构的班级",
    "repeats row %(row)d of this file": "与本文件第%(row)d行重复",
    "was stored as a number, so Excel has rounded its last digits; format the column as "
    "text and enter the number again": "被存为数字，Excel 已舍入末几位；请将该列设为文本后重新输入",
}


@pytest.fixture
def zh_catalog(monkeypatch):
    """Chinese for the messages under test, as a translator will provide them."""
    catalogue = translation.trans_real.translation("zh-hans")
    original = catalogue.gettext
    monkeypatch.setattr(catalogue, "gettext", lambda message: ZH.get(message, original(message)))
    return ZH


def refusal(call) -> list[dict]:
    with pytest.raises(BusinessRuleError) as caught:
        call()
    return caught.value.as_list()


def only(problems: list[dict], field: str) -> dict:
    assert [p["field"] for p in problems] == [field], problems
    return problems[0]


def snapshot():
    """Row counts of everything a refused write could leave behind."""
    return {m.__name__: m.objects.count() for m in (
        Institution, Teacher, Trainee, TrainingClass, Session, Enrolment, ClassReview,
        AuditEvent)}


def local(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def new_id(serial: int) -> str:
    return make_id_number("310104", dt.date(1991, 5, 6), serial)


def spoil_check_char(id_number: str) -> str:
    wrong = "0" if id_number[-1] != "0" else "1"
    return id_number[:-1] + wrong


@pytest.mark.django_db
def test_invalid_id_checksum_is_refused_naming_the_id_number(world, zh_catalog):
    before = snapshot()
    admin = world.users["institution_admin"]
    problems = refusal(lambda: services.register_trainee(
        admin, name="周一", id_number=spoil_check_char(new_id(501)),
        category=TraineeCategory.UNEMPLOYED, phone="13912345678",
        institution=world.a.institution))
    p = only(problems, "id_number")
    assert p["code"] == "invalid_id_number"
    assert p["message_en"] == "ID number: check digit does not match (GB 11643)"
    assert p["message_zh"] == "身份证号: 校验位不符（GB 11643）"
    assert snapshot() == before


@pytest.mark.django_db
def test_id_and_phone_problems_come_together(world, zh_catalog):
    before = snapshot()
    problems = refusal(lambda: services.register_teacher(
        world.users["institution_admin"], world.a.institution, name="吴老师",
        id_number=spoil_check_char(new_id(502)), phone="1391234"))
    assert {p["field"] for p in problems} == {"id_number", "phone"}
    phone = next(p for p in problems if p["field"] == "phone")
    assert "must be an 11-digit mainland mobile number" in phone["message_en"]
    assert "须为11位大陆手机号码" in phone["message_zh"]
    assert snapshot() == before


@pytest.mark.django_db
def test_invalid_credit_code_checksum_is_refused(world, zh_catalog):
    before = snapshot()
    good = make_credit_code(777)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    problems = refusal(lambda: services.register_institution(
        world.users["city_admin"], name="新机构", credit_code=bad, district=world.a.district,
        kind=InstitutionKind.PRIVATE_SCHOOL))
    p = only(problems, "credit_code")
    assert p["message_en"] == ("unified social credit code: "
                               "check character does not match (GB 32100)")
    assert p["message_zh"] == "统一社会信用代码: 校验码不符（GB 32100）"
    assert snapshot() == before


@pytest.mark.django_db
def test_class_dates_out_of_order_are_refused(world, zh_catalog):
    before = snapshot()
    today = timezone.localdate()
    problems = refusal(lambda: services.create_class(
        world.users["institution_admin"], world.a.institution, name="倒序班",
        course=world.course, venue=world.a.venue, start_date=today + dt.timedelta(days=20),
        end_date=today + dt.timedelta(days=5), planned_hours=80, teachers=[world.a.teacher]))
    p = only(problems, "end_date")
    assert p["code"] == "dates_out_of_order"
    assert p["message_en"] == "end date: must not be before the start date"
    assert p["message_zh"] == "结束日期: 不得早于开始日期"
    assert snapshot() == before


@pytest.mark.django_db
def test_session_outside_the_class_period_is_refused(world):
    cls = world.a.draft_class
    before = snapshot()
    with translation.override("en"):
        problems = refusal(lambda: services.add_session(
            world.users["institution_admin"], cls,
            starts_at=local(cls.end_date + dt.timedelta(days=1), 9),
            ends_at=local(cls.end_date + dt.timedelta(days=1), 11), teacher=world.a.teacher))
    p = only(problems, "starts_at")
    assert p["code"] == "outside_class_period"
    assert p["message_en"] == (f"starts at: must lie within the class period "
                               f"{cls.start_date} – {cls.end_date}")
    assert snapshot() == before


def _unqualified_teacher(world) -> Teacher:
    """A teacher of institution A qualified at level 5 only: below the level-4 course."""
    return services.register_teacher(
        None, world.a.institution, name="钱老师", id_number=new_id(503),
        qualifications=[{"occupation": world.course.occupation, "level": 5,
                         "certificate_number": "Q-LOW"}])


@pytest.mark.django_db
def test_class_teacher_without_qualification_is_refused_and_no_class_is_left(world):
    teacher = _unqualified_teacher(world)
    before = snapshot()
    today = timezone.localdate()
    with translation.override("en"):
        problems = refusal(lambda: services.create_class(
            world.users["institution_admin"], world.a.institution, name="无资质班",
            course=world.course, venue=world.a.venue, start_date=today,
            end_date=today + dt.timedelta(days=30), planned_hours=80, teachers=[teacher]))
    p = only(problems, "teachers")
    assert p["code"] == "unqualified_teacher"
    assert p["message_en"].startswith("teachers: 钱老师 holds no valid qualification for")
    assert snapshot() == before  # the class row written before the check is rolled back


@pytest.mark.django_db
def test_session_teacher_without_qualification_is_refused(world):
    teacher = _unqualified_teacher(world)
    cls = world.a.draft_class
    before = snapshot()
    with translation.override("en"):
        problems = refusal(lambda: services.add_session(
            world.users["institution_admin"], cls, starts_at=local(cls.start_date, 13),
            ends_at=local(cls.start_date, 16), teacher=teacher))
    p = only(problems, "teacher")
    assert p["code"] == "unqualified_teacher"
    assert p["message_en"].startswith("teacher: holds no valid qualification for")
    assert snapshot() == before


@pytest.mark.django_db
def test_the_same_trainee_cannot_be_enrolled_twice_in_one_class(world):
    trainee = world.a.trainees[0]
    before = snapshot()
    with translation.override("en"):
        problems = refusal(lambda: services.enrol_trainee(
            world.users["institution_admin"], world.a.draft_class, trainee))
    p = only(problems, "trainee")
    assert p["code"] == "duplicate_enrolment"
    assert p["message_en"] == f"trainee: {trainee.name} is already enrolled in this class"
    assert snapshot() == before


def _class_without_roster(world) -> TrainingClass:
    today = timezone.localdate()
    cls = services.create_class(None, world.a.institution, name="空班", course=world.course,
                                venue=world.a.venue, start_date=today + dt.timedelta(days=3),
                                end_date=today + dt.timedelta(days=30), planned_hours=80,
                                teachers=[world.a.teacher])
    services.add_session(None, cls, starts_at=local(cls.start_date, 9),
                         ends_at=local(cls.start_date, 12), teacher=world.a.teacher)
    return cls


@pytest.mark.django_db
def test_a_class_without_roster_cannot_be_submitted(world, zh_catalog):
    cls = _class_without_roster(world)
    before = snapshot()
    problems = refusal(lambda: services.transition_class(
        world.users["institution_admin"], cls, "submit"))
    p = only(problems, "enrolments")
    assert p["code"] == "no_roster"
    assert "the roster is empty: enrol trainees first" in p["message_en"]
    assert "花名册为空：请先报名学员" in p["message_zh"]
    cls.refresh_from_db()
    assert cls.status == ClassStatus.DRAFT and cls.submitted_at is None
    assert snapshot() == before


@pytest.mark.django_db
def test_a_class_whose_roster_emptied_after_submission_cannot_be_approved(world, zh_catalog):
    cls = _class_without_roster(world)
    enrolment = services.enrol_trainee(None, cls, world.a.trainees[0])
    services.transition_class(None, cls, "submit")
    services.withdraw_enrolment(None, enrolment)
    before = snapshot()
    problems = refusal(lambda: services.transition_class(
        world.users["district_supervisor"], cls, "approve", "看起来没问题"))
    p = only(problems, "enrolments")
    assert p["code"] == "no_roster"
    assert "花名册为空" in p["message_zh"] and "roster is empty" in p["message_en"]
    cls.refresh_from_db()
    assert cls.status == ClassStatus.SUBMITTED and cls.decided_at is None
    assert snapshot() == before


def _submitted_class(side) -> TrainingClass:
    return services.transition_class(None, side.draft_class, "submit")


@pytest.mark.django_db
def test_returning_an_application_needs_a_comment(world, zh_catalog):
    cls = _submitted_class(world.a)
    before = snapshot()
    problems = refusal(lambda: services.transition_class(
        world.users["district_supervisor"], cls, "return", "   "))
    p = only(problems, "comment")
    assert p["code"] == "required"
    assert p["message_en"] == ("comment: say what must be corrected when returning "
                               "an application")
    assert p["message_zh"] == "意见: 退回申请时须说明需要更正的内容"
    cls.refresh_from_db()
    assert cls.status == ClassStatus.SUBMITTED
    assert snapshot() == before


@pytest.mark.django_db
def test_a_draft_cannot_be_approved(world):
    cls = world.a.draft_class
    before = snapshot()
    with translation.override("en"):
        problems = refusal(lambda: services.transition_class(
            world.users["district_supervisor"], cls, "approve", "ok"))
    p = only(problems, "status")
    assert p["code"] == "invalid_transition"
    assert p["message_en"] == "status: cannot approve a class that is Draft"
    cls.refresh_from_db()
    assert cls.status == ClassStatus.DRAFT
    assert snapshot() == before


@pytest.mark.django_db
def test_a_district_supervisor_cannot_approve_another_districts_class(world):
    cls = _submitted_class(world.b)
    before = snapshot()
    with pytest.raises(Http404):
        services.transition_class(world.users["district_supervisor"], cls, "approve", "ok")
    cls.refresh_from_db()
    assert cls.status == ClassStatus.SUBMITTED and cls.decided_by is None
    assert snapshot() == before
    # the same answer as for a class that does not exist at all
    ghost = TrainingClass(pk=cls.pk + 10_000, code="K-NONE")
    with pytest.raises(Http404):
        services.transition_class(world.users["district_supervisor"], ghost, "approve", "ok")


@pytest.mark.django_db
def test_parametrised_service_messages_are_bilingual(world, zh_catalog):
    problems = refusal(lambda: services.enrol_trainee(None, world.a.draft_class,
                                                      world.a.trainees[0]))
    p = only(problems, "trainee")
    assert "is already enrolled in this class" in p["message_en"]
    assert "已在本班报名" in p["message_zh"]

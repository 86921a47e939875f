"""The demo city at a small scale: valid identifiers, every workflow state, consistent
schedules and rosters, demo users with the right scope, no plaintext personal data.

The city is built once for the module inside a transaction that is rolled back at the
end, so the test database is left as it was found."""
from __future__ import annotations

import datetime as dt
import io
import re
from collections import defaultdict

import pytest
from django.db import transaction
from django.utils import timezone

from skillguard.core import crypto
from skillguard.core.validators import (
    id_number_problem,
    mask_id_number,
    mask_phone,
    uscc_problem,
)

from .conftest import ensure_districts

SCALE, SEED = 0.05, 4242
ID_RE = re.compile(r"\d{17}[\dX]")


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from skillguard.demo.generator import build_city

    with django_db_blocker.unblock():
        with transaction.atomic():
            ensure_districts()
            report = build_city(scale=SCALE, seed=SEED, today=timezone.localdate())
            yield report
            transaction.set_rollback(True)


@pytest.fixture
def m(city, db):
    from skillguard.registry import models

    return models


def test_report_counts(city):
    counts = city.counts
    assert counts["registry.occupation"] >= 40
    assert counts["registry.institution"] >= 16
    assert counts["registry.enrolment"] >= 20 * counts["registry.trainingclass"] * 0.9
    assert counts["registry.session"] > counts["registry.trainingclass"]


def test_catalogue_is_idempotent_and_in_range(m):
    from skillguard.registry.data import load_catalogue

    assert load_catalogue() == {"occupations_created": 0, "occupations_updated": 0,
                                "courses_created": 0, "courses_updated": 0}
    for course in m.Course.objects.all():
        assert 40 <= course.standard_hours <= 240
        if course.subsidy_type == "skill_certificate":
            assert 1500 <= course.subsidy_amount <= 3500 and course.level in range(1, 6)
        if course.subsidy_type == "enterprise_online":
            assert 600 <= course.subsidy_amount <= 1800
    names = set(m.Occupation.objects.values_list("name", flat=True))
    assert {"保育师", "养老护理员", "电工", "焊工", "中式烹调师", "网约配送员",
            "人工智能训练师"} <= names


def test_identifiers_validate_and_seal_consistently(m):
    for model in (m.Trainee, m.Teacher):
        for row in model.objects.values("id_number_enc", "id_number_hash", "id_number_masked",
                                        "phone_enc", "phone_hash", "phone_masked", "gender"):
            number = crypto.unseal(row["id_number_enc"])
            assert id_number_problem(number) is None, number
            assert row["id_number_hash"] == crypto.lookup_hash(number)
            assert row["id_number_masked"] == mask_id_number(number)
            assert row["gender"] == ("M" if int(number[16]) % 2 else "F")
            phone = crypto.unseal(row["phone_enc"])
            assert re.fullmatch(r"1[3-9]\d{9}", phone)
            assert row["phone_hash"] == crypto.lookup_hash(phone)
            assert row["phone_masked"] == mask_phone(phone)
    for code in m.Institution.objects.values_list("credit_code", flat=True):
        assert uscc_problem(code) is None, code
    hashes = list(m.Trainee.objects.values_list("id_number_hash", flat=True))
    assert len(hashes) == len(set(hashes))


def test_trainees_look_like_people(m):
    trainees = list(m.Trainee.objects.values("name", "birth_year", "category",
                                             "residence_district_id", "id_number_enc"))
    assert len(trainees) > 500
    assert all(2 <= len(t["name"]) <= 4 for t in trainees)
    categories = defaultdict(int)
    shanghai = 0
    for t in trainees:
        categories[t["category"]] += 1
        assert t["residence_district_id"] is not None
        number = crypto.unseal(t["id_number_enc"])
        shanghai += number.startswith("31")
        age = timezone.localdate().year - t["birth_year"]
        assert 15 <= age <= 72
        if t["category"] == "retired":
            assert age >= 50
        if t["category"] == "student":
            assert age <= 25
    assert set(categories) == {"unemployed", "employed", "retired", "student", "other"}
    assert categories["employed"] + categories["unemployed"] > 0.7 * len(trainees)
    assert 0.4 < shanghai / len(trainees) < 0.8


def test_every_workflow_state_with_history(m):
    statuses = set(m.TrainingClass.objects.values_list("status", flat=True))
    assert statuses == {"draft", "submitted", "returned", "approved", "in_progress", "finished",
                        "cancelled"}
    today = timezone.localdate()
    reviews = defaultdict(list)
    for r in m.ClassReview.objects.order_by("at", "id"):
        reviews[r.training_class_id].append(r)
    for cls in m.TrainingClass.objects.all():
        steps = reviews[cls.pk]
        chain = "draft"
        for step in steps:
            assert step.from_status == chain
            chain = step.to_status
            assert step.at <= timezone.now()
        assert chain == cls.status, cls.code
        if cls.status == "returned":
            assert steps[-1].comment
        if cls.status in ("approved", "in_progress", "finished"):
            approval = next(s for s in steps if s.to_status == "approved")
            assert approval.actor is not None and approval.actor.district_id == cls.district_id
            assert cls.decided_by_id == approval.actor_id
            assert approval.at.date() <= cls.start_date
        if cls.status == "in_progress":
            assert cls.start_date <= today <= cls.end_date
        if cls.status == "finished":
            assert cls.end_date < today
        if cls.status in ("approved", "submitted", "returned", "draft"):
            assert cls.start_date > today
        assert cls.created_at <= timezone.now()
        assert re.fullmatch(rf"K{cls.start_date.year}{cls.district.code}\d{{6}}", cls.code)
        assert cls.planned_hours == cls.course.standard_hours


def test_sessions_inside_period_taught_by_qualified_class_teachers(m):
    from skillguard.registry.services import _qualified

    classes = {c.pk: c for c in m.TrainingClass.objects.select_related("course", "venue")
               .prefetch_related("teachers__qualifications")}
    busy_teacher, busy_room = set(), set()
    hours = defaultdict(float)
    for s in m.Session.objects.select_related("room__venue"):
        cls = classes[s.training_class_id]
        start, end = timezone.localtime(s.starts_at), timezone.localtime(s.ends_at)
        assert cls.start_date <= start.date() <= end.date() <= cls.end_date
        assert (start.time(), end.time()) in {(dt.time(9), dt.time(12)),
                                              (dt.time(13, 30), dt.time(16, 30)),
                                              (dt.time(18, 30), dt.time(21))}
        teachers = {t.pk: t for t in cls.teachers.all()}
        assert s.teacher_id in teachers
        assert _qualified(teachers[s.teacher_id], cls.course, cls.start_date)
        assert s.district_id == cls.district_id
        if cls.mode == "online":
            assert s.room is None
        else:
            assert s.room.venue_id == cls.venue_id
            assert (s.room_id, s.starts_at) not in busy_room
            busy_room.add((s.room_id, s.starts_at))
        assert (s.teacher_id, s.starts_at) not in busy_teacher
        busy_teacher.add((s.teacher_id, s.starts_at))
        hours[cls.pk] += s.class_hours
    for pk, cls in classes.items():
        assert hours[pk] >= cls.planned_hours - 0.01, cls.code


def test_rosters(m):
    classes = {c.pk: c for c in m.TrainingClass.objects.all()}
    seen = set()
    periods = defaultdict(list)
    sizes = defaultdict(int)
    for e in m.Enrolment.objects.all():
        cls = classes[e.training_class_id]
        assert (e.training_class_id, e.trainee_id) not in seen
        seen.add((e.training_class_id, e.trainee_id))
        assert e.district_id == cls.district_id and e.institution_id == cls.institution_id
        assert e.enrolled_at <= timezone.now()
        sizes[cls.pk] += 1
        periods[e.trainee_id].append(cls)
    assert all(20 <= sizes[pk] <= 40 for pk in classes)
    for trainee_classes in periods.values():
        for i, a in enumerate(trainee_classes):
            for b in trainee_classes[i + 1:]:
                assert a.course.occupation_id != b.course.occupation_id
                assert a.end_date < b.start_date or b.end_date < a.start_date
    assert len(periods) < len(seen)  # some trainees come back for a second course


def test_institutions_venues_filings(m):
    insts = list(m.Institution.objects.all())
    kinds = {i.kind for i in insts}
    assert "private_school" in kinds
    assert len({i.name for i in insts}) == len(insts)
    for v in m.Venue.objects.select_related("district"):
        assert 30.6 < v.latitude < 31.9 and 120.8 < v.longitude < 122.1
    filed = set(m.InstitutionFiling.objects.values_list("institution_id", "course_id"))
    for cls in m.TrainingClass.objects.all():
        assert (cls.institution_id, cls.course_id) in filed
        if cls.venue_id:
            assert cls.venue.institution_id == cls.institution_id
            assert cls.district_id == cls.venue.district_id
    assert all(m.Room.objects.filter(venue=v).exists() for v in m.Venue.objects.all())


def test_demo_users_and_their_scope(m):
    from skillguard.accounts.models import User
    from skillguard.demo.users import FEATURED

    users = {u.username: u for u in User.objects.filter(username__in=FEATURED)}
    assert set(users) == set(FEATURED)
    roles = {u.role for u in users.values()}
    assert roles == {"city_admin", "city_supervisor", "district_supervisor",
                     "institution_admin", "teacher", "trainee", "auditor", "api_client"}
    assert users["admin"].is_superuser
    assert users["xuhui_supervisor"].district.code == "310104"
    assert users["pudong_supervisor"].district.code == "310115"
    assert users["xuhui_school"].institution.district.code == "310104"
    assert users["pudong_school"].institution.district.code == "310115"
    assert users["api_client"].institution_id == users["pudong_school"].institution_id
    assert User.objects.filter(role="district_supervisor").count() >= 16

    C = m.TrainingClass
    xuhui = C.objects.restrict(users["xuhui_supervisor"])
    assert xuhui.exists()
    assert set(xuhui.values_list("district__code", flat=True)) == {"310104"}
    assert xuhui.count() == C.objects.filter(district__code="310104").count()
    assert set(C.objects.restrict(users["pudong_supervisor"])
               .values_list("district__code", flat=True)) == {"310115"}
    school = C.objects.restrict(users["xuhui_school"])
    assert set(school.values_list("institution_id", flat=True)) == {
        users["xuhui_school"].institution_id}
    assert set(school.values_list("status", flat=True)) == {
        "draft", "submitted", "returned", "approved", "in_progress", "finished", "cancelled"}
    assert C.objects.restrict(users["city_supervisor"]).count() == C.objects.count()

    teacher = users["teacher_demo"]
    taught = C.objects.restrict(teacher)
    assert taught.filter(status="in_progress").exists()
    assert all(teacher.teacher_id in c.teachers.values_list("pk", flat=True) for c in taught)
    trainee = users["trainee_demo"]
    mine = C.objects.restrict(trainee)
    assert mine.filter(status="in_progress").exists()
    assert m.Enrolment.objects.restrict(trainee).filter(
        training_class__status="in_progress", status="enrolled").exists()
    assert m.Trainee.objects.restrict(trainee).get().pk == trainee.trainee_id


def test_showcase_is_audited_row_by_row_and_bulk_per_chunk(m, city):
    from skillguard.accounts.models import User
    from skillguard.audit.models import AuditEvent

    school = User.objects.get(username="xuhui_school")
    supervisor = User.objects.get(username="xuhui_supervisor")
    assert AuditEvent.objects.filter(actor=school, action="create",
                                     object_type="registry.enrolment").count() >= 100
    assert AuditEvent.objects.filter(actor=supervisor, action="transition").exists()
    imports = AuditEvent.objects.filter(action="import", object_type="registry.enrolment")
    assert imports.count() == city.stats.chunks
    for event in imports:
        assert re.fullmatch(rf"demo city generator, seed {SEED}, \d+ rows", event.comment)
        assert event.actor_name == "system" and event.district_id is not None
    total = sum(int(e.object_repr.split()[0]) for e in imports)
    assert total == m.Enrolment.objects.exclude(institution__users=school).exclude(
        institution__users__username="pudong_school").count()


def test_no_plaintext_personal_data_in_masked_or_audit_columns(m):
    from django.db import connection

    numbers, phones = set(), set()
    for model in (m.Trainee, m.Teacher):
        for enc, ph in model.objects.values_list("id_number_enc", "phone_enc"):
            numbers.add(crypto.unseal(enc))
            phones.add(crypto.unseal(ph))
    for model in (m.Trainee, m.Teacher):
        for masked, phone_masked in model.objects.values_list("id_number_masked",
                                                              "phone_masked"):
            assert masked not in numbers and "*" in masked
            assert phone_masked not in phones and "*" in phone_masked
    with connection.cursor() as c:
        c.execute("select concat_ws(' ', object_repr, comment, changes::text, fields::text) "
                  "from audit_auditevent")
        for (text,) in c.fetchall():
            for found in ID_RE.findall(text):
                assert found not in numbers
            for found in re.findall(r"1[3-9]\d{9}", text):
                assert found not in phones


def test_refuses_to_build_over_existing_data(city, db):
    from django.core.management import CommandError, call_command

    from skillguard.demo.generator import DemoError, build_city

    with pytest.raises(DemoError):
        build_city(scale=0.01, seed=1)
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", scale=0.01, seed=1, stdout=io.StringIO())


def test_print_demo_logins(city, db):
    from skillguard.demo.users import FEATURED, demo_password, print_demo_logins

    out = io.StringIO()
    print_demo_logins("http://127.0.0.1:8000/", out)
    text = out.getvalue()
    for username in FEATURED:
        assert username in text
    assert demo_password() in text
    assert "http://127.0.0.1:8000/" in text
    assert "区级监管 · District supervisor" in text and "徐汇区" in text
    assert not ID_RE.search(text)


def test_reset_removes_demo_data_only(city, db):
    from skillguard.accounts.models import User
    from skillguard.audit.models import AuditEvent
    from skillguard.demo.generator import reset_demo
    from skillguard.registry import models as m

    keeper = User.objects.create_user("someone_else", password=None, role="city_supervisor")
    events = AuditEvent.objects.count()
    reset_demo()
    assert not m.Institution.objects.exists() and not m.Trainee.objects.exists()
    assert not m.Enrolment.objects.exists() and not m.Session.objects.exists()
    assert not User.objects.filter(username__in=["city_admin", "xuhui_school", "admin"]).exists()
    assert User.objects.filter(pk=keeper.pk).exists()
    assert m.District.objects.count() == 16 and m.Course.objects.exists()
    assert AuditEvent.objects.count() > events  # the trail is kept and records the reset

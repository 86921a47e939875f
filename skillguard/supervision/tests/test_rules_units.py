"""Focused tests per rule family on the small test world: what each rule decides, and that
an incremental run (``ctx.session_ids`` / ``trainee_ids`` / ``institution_ids``) only
reports what those ids touch."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.utils import timezone

from skillguard.core.partitions import ensure_monthly_partitions
from skillguard.registry import models as m
from skillguard.supervision.rules.base import RULES, RuleContext

WINDOW = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
_codes = itertools.count(1)


def detect(code, params=None, **ids):
    rule = RULES[code]()
    values = dict(rule.defaults(), **(params or {}))
    return sorted(f.subject for f in rule.detect(RuleContext(
        params=values, window_start=WINDOW[0], window_end=WINDOW[1], now=timezone.now(),
        **{k: frozenset(v) for k, v in ids.items()})))


def local(day, hour):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def finished_class(side, course, start, *, enrol=(), hours=(9, 12)):
    cls = m.TrainingClass.objects.create(
        code=f"TEST{next(_codes):06d}", name="test", institution=side.institution,
        district=side.district, course=course, venue=side.venue, start_date=start,
        end_date=start + dt.timedelta(days=2), planned_hours=8, status="finished")
    session = m.Session.objects.create(
        training_class=cls, district=side.district, sequence=1, starts_at=local(start, hours[0]),
        ends_at=local(start, hours[1]), teacher=side.teacher, room=side.room)
    for trainee in enrol:
        m.Enrolment.objects.create(training_class=cls, trainee=trainee, district=side.district,
                                   institution=side.institution, status="completed")
    return cls, session


# --------------------------------------------------------------------------- schedule


def test_trainee_overlap_and_its_incremental_restriction(world):
    a, b = world.a, world.b
    today = timezone.localdate()
    trainee = a.trainees[0]
    start = today - dt.timedelta(days=60)
    cls_a, _s_a = finished_class(a, world.course, start, enrol=[trainee])
    cls_b, s_b = finished_class(b, world.course, start, enrol=[trainee], hours=(11, 14))
    _other, s_other = finished_class(b, world.course, start - dt.timedelta(days=9),
                                     enrol=[b.trainees[0]])
    subject = f"trainee:{trainee.pk}|class:{cls_a.pk}|class:{cls_b.pk}"
    assert detect("TRAINEE_OVERLAP") == [subject]
    # one hour of overlap: below a 90-minute threshold it is not reported
    assert detect("TRAINEE_OVERLAP", {"min_overlap_minutes": 90}) == []
    assert detect("TRAINEE_OVERLAP", session_ids=[s_b.pk]) == [subject]
    assert detect("TRAINEE_OVERLAP", session_ids=[s_other.pk]) == []
    assert detect("TRAINEE_OVERLAP", trainee_ids=[b.trainees[0].pk]) == []
    assert detect("TRAINEE_OVERLAP", institution_ids=[b.institution.pk]) == [subject]
    # a withdrawn enrolment is no overlap
    m.Enrolment.objects.filter(training_class=cls_b).update(status="withdrawn")
    assert detect("TRAINEE_OVERLAP") == []


def test_teacher_and_room_double_booking(world):
    a = world.a
    start = timezone.localdate() - dt.timedelta(days=30)
    _c1, s1 = finished_class(a, world.course, start)
    _c2, s2 = finished_class(a, world.course, start, hours=(10, 13))
    assert detect("TEACHER_DOUBLE_BOOKED") == [f"teacher:{a.teacher.pk}|sessions:{s1.pk},{s2.pk}"]
    assert detect("ROOM_DOUBLE_BOOKED") == [f"room:{a.room.pk}|sessions:{s1.pk},{s2.pk}"]
    assert detect("ROOM_DOUBLE_BOOKED", session_ids=[world.b.approved_class.sessions.get().pk]) == []
    m.Session.objects.filter(pk=s2.pk).update(room=None, teacher=world.b.teacher)
    assert detect("TEACHER_DOUBLE_BOOKED") == detect("ROOM_DOUBLE_BOOKED") == []


# --------------------------------------------------------------------------- check-ins


def _checkin(session, enrolment, *, at, lat="31.200000", lon="121.400000", device="d",
             received=None):
    ensure_monthly_partitions("attendance_checkin", at.date(), at.date())
    cls = session.training_class
    with connection.cursor() as c:
        c.execute("""INSERT INTO attendance_checkin (district_id, occurred_at, kind, method,
                         session_id, training_class_id, institution_id, enrolment_id,
                         trainee_id, device_id, latitude, longitude, received_at)
                     VALUES (%s, %s, 'in', 'gps', %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                  [session.district_id, at, session.pk, cls.pk, cls.institution_id,
                   enrolment.pk, enrolment.trainee_id, device, lat, lon, received or at])


def test_checkin_rules_and_their_incremental_restriction(world):
    a, b = world.a, world.b
    sa = a.approved_class.sessions.get()
    sb = b.approved_class.sessions.get()
    ea = list(a.approved_class.enrolments.order_by("pk"))
    eb = list(b.approved_class.enrolments.order_by("pk"))
    before = sa.starts_at - dt.timedelta(minutes=10)
    _checkin(sa, ea[0], at=before, device="phone-1")  # inside the 200 m geofence
    _checkin(sa, ea[1], at=before, lat="31.250000", device="phone-2")  # ≈ 5.5 km away
    _checkin(sb, eb[0], at=sb.starts_at - dt.timedelta(hours=3), lat="31.201500",
             device="phone-3")  # ≈ 170 m: inside; but three hours early
    _checkin(sb, eb[1], at=sb.starts_at + dt.timedelta(minutes=1), device="phone-4",
             received=sb.starts_at - dt.timedelta(minutes=20))  # dated after its receipt
    far = f"enrolment:{ea[1].pk}|session:{sa.pk}"
    early = f"enrolment:{eb[0].pk}|session:{sb.pk}"
    skew = f"enrolment:{eb[1].pk}|session:{sb.pk}"
    assert detect("CHECKIN_OUTSIDE_GEOFENCE") == [far]
    assert detect("CHECKIN_OUTSIDE_GEOFENCE", {"tolerance_m": 5000}) == [far]
    assert detect("CHECKIN_OUTSIDE_GEOFENCE", {"tolerance_m": 5900}) == []
    assert detect("CHECKIN_OUTSIDE_GEOFENCE", session_ids=[sb.pk]) == []
    assert detect("CHECKIN_OUTSIDE_GEOFENCE", trainee_ids=[ea[1].trainee_id]) == [far]
    assert detect("CHECKIN_OUTSIDE_WINDOW") == [early]
    assert detect("CHECKIN_OUTSIDE_WINDOW", {"early_minutes": 200}) == []
    assert detect("CHECKIN_OUTSIDE_WINDOW", institution_ids=[a.institution.pk]) == []
    assert detect("CLOCK_SKEW") == [skew]
    assert detect("CLOCK_SKEW", {"tolerance_minutes": 30}) == []
    assert detect("CLOCK_SKEW", session_ids=[sa.pk]) == []
    # the same phone for three trainees: a shared device at a threshold of three
    with connection.cursor() as c:
        c.execute("UPDATE attendance_checkin SET device_id = 'phone-x' "
                  "WHERE device_id IN ('phone-1', 'phone-2', 'phone-3')")
    assert detect("SHARED_DEVICE", {"min_trainees": 3}) == ["device:phone-x"]
    assert detect("SHARED_DEVICE", {"min_trainees": 4}) == []
    assert detect("SHARED_DEVICE", {"min_trainees": 3}, session_ids=[sb.pk]) == [
        "device:phone-x"]  # the anomaly involves that session too
    assert detect("SHARED_DEVICE", {"min_trainees": 3}, trainee_ids=[eb[1].trainee_id]) == []


# --------------------------------------------------------------------------- subsidy


def test_excess_subsidy_branches(world):
    a, b = world.a, world.b
    occupation = world.course.occupation
    level5 = m.Course.objects.create(occupation=occupation, level=5, standard_hours=60,
                                     subsidy_type="skill_certificate", subsidy_amount="1000")
    others = [m.Course.objects.create(
        occupation=m.Occupation.objects.create(code=f"9-99-0{k}", name=f"职业{k}"),
        level=None, standard_hours=40, subsidy_type=kind, subsidy_amount="500")
        for k, kind in enumerate(("special_ability", "entrepreneurship", "enterprise_online"))]
    year = timezone.localdate().year - 1
    t_lower, t_same, t_many = a.trainees
    day = dt.date(year, 2, 1)
    finished_class(a, world.course, day, enrol=[t_lower, t_same, t_many])  # level 4
    finished_class(b, level5, dt.date(year, 5, 1), enrol=[t_lower])  # lower after higher
    finished_class(b, world.course, dt.date(year + 1, 3, 1), enrol=[t_same])  # again, next year
    for k, course in enumerate(others):  # four subsidised classes in one year
        finished_class(b, course, dt.date(year, 6 + k, 1), enrol=[t_many])
    assert detect("EXCESS_SUBSIDY") == sorted([
        f"trainee:{t_lower.pk}|occupation:{occupation.pk}|lower:5",
        f"trainee:{t_lower.pk}|year:{year}|subsidy:skill_certificate",
        f"trainee:{t_same.pk}|occupation:{occupation.pk}|level:4",
        f"trainee:{t_many.pk}|year:{year}|classes",
    ])
    assert f"trainee:{t_many.pk}|year:{year}|classes" not in detect(
        "EXCESS_SUBSIDY", {"max_per_year": 4})
    assert detect("EXCESS_SUBSIDY", trainee_ids=[t_same.pk]) == [
        f"trainee:{t_same.pk}|occupation:{occupation.pk}|level:4"]
    assert detect("EXCESS_SUBSIDY", trainee_ids=[b.trainees[0].pk]) == []


# --------------------------------------------------------------------------- registry


def test_registry_rules(world):
    a = world.a
    cls = a.approved_class
    assert detect("INELIGIBLE_CATEGORY") == []
    m.Trainee.objects.filter(pk=a.trainees[0].pk).update(category="retired")
    subject = f"trainee:{a.trainees[0].pk}|class:{cls.pk}"
    assert detect("INELIGIBLE_CATEGORY") == [subject]
    assert detect("INELIGIBLE_CATEGORY", {"retired": False}) == []
    assert detect("INELIGIBLE_CATEGORY", institution_ids=[world.b.institution.pk]) == []
    # the draft class is no subsidised training yet
    assert all(f"class:{a.draft_class.pk}" not in s for s in detect("INELIGIBLE_CATEGORY"))

    assert detect("UNQUALIFIED_TEACHER") == []
    m.TeacherQualification.objects.filter(teacher=a.teacher).update(level=5)  # below level 4
    session = cls.sessions.get()
    assert detect("UNQUALIFIED_TEACHER") == [f"teacher:{a.teacher.pk}|class:{cls.pk}"]
    assert detect("UNQUALIFIED_TEACHER", session_ids=[world.b.approved_class.sessions.get().pk]) == []
    assert detect("UNQUALIFIED_TEACHER", session_ids=[session.pk]) == [
        f"teacher:{a.teacher.pk}|class:{cls.pk}"]

    assert detect("UNFILED_OCCUPATION") == []
    m.InstitutionFiling.objects.filter(institution=a.institution).update(
        filed_on=cls.start_date + dt.timedelta(days=1))
    assert detect("UNFILED_OCCUPATION") == [f"class:{cls.pk}"]
    assert detect("UNFILED_OCCUPATION", institution_ids=[world.b.institution.pk]) == []


# --------------------------------------------------------------------------- online


@pytest.mark.parametrize("spans,code,found", [
    (((20, 0, 21, 0), (20, 30, 21, 30)), "ONLINE_CONCURRENT_SESSIONS", True),
    (((20, 0, 21, 0), (21, 0, 22, 0)), "ONLINE_CONCURRENT_SESSIONS", False),
    (((6, 0, 11, 0), (11, 30, 16, 30), (17, 0, 22, 0)), "ONLINE_EXCESSIVE_DAILY_HOURS", True),
    (((6, 0, 11, 0), (11, 30, 16, 30)), "ONLINE_EXCESSIVE_DAILY_HOURS", False),
])
def test_online_rules(world, spans, code, found):
    from skillguard.learning.models import LearningSession

    enrolment = world.a.approved_class.enrolments.first()
    day = timezone.localdate() - dt.timedelta(days=2)
    for h1, m1, h2, m2 in spans:
        LearningSession.objects.create(
            district_id=enrolment.district_id, institution=world.a.institution,
            enrolment=enrolment, trainee=enrolment.trainee,
            started_at=timezone.make_aware(dt.datetime.combine(day, dt.time(h1, m1))),
            ended_at=timezone.make_aware(dt.datetime.combine(day, dt.time(h2, m2))))
    subjects = detect(code)
    assert bool(subjects) is found
    if found:
        assert subjects[0].startswith(f"trainee:{enrolment.trainee_id}|")
        assert detect(code, trainee_ids=[world.b.trainees[0].pk]) == []

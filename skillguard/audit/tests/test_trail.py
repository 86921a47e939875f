"""The audit trail: every service write leaves an event in its own transaction, with a
before/after diff, never personal data in plaintext; the database refuses to rewrite it;
reading personal data is logged."""
import datetime as dt
import inspect
import json

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.http import Http404
from django.utils import timezone

from skillguard.accounts import services as accounts
from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.audit.services import reveal_personal_data
from skillguard.core.errors import BusinessRuleError
from skillguard.core.personal_data import unseal
from skillguard.core.testing import make_credit_code, make_id_number
from skillguard.registry import services
from skillguard.registry.models import Session, Teacher, Trainee

pytestmark = pytest.mark.django_db


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _spare_trainee(w):
    trainee, _ = services.register_trainee(
        None, name="候补", id_number=make_id_number("310104", dt.date(1991, 1, 9), 777),
        category="unemployed", institution=w.a.institution)
    return trainee


# Every write service, called once as a user would: module.function → world → the record
# written. A service added later must be added here (test_every_write_service_is_covered).
SERVICE_CALLS = {
    "registry.register_institution": lambda w: services.register_institution(
        w.users["city_admin"], name="审计机构", credit_code=make_credit_code(55),
        district=w.a.district, kind="private_school"),
    "registry.update_institution": lambda w: services.update_institution(
        w.users["district_supervisor"], w.a.institution, address="新地址"),
    "registry.file_course": lambda w: services.file_course(
        w.users["city_admin"], w.b.institution, _other_course(w), timezone.localdate()),
    "registry.add_venue": lambda w: services.add_venue(
        w.users["institution_admin"], w.a.institution, name="二号场地", address="某路",
        latitude="31.2", longitude="121.4"),
    "registry.update_venue": lambda w: services.update_venue(
        w.users["institution_admin"], w.a.venue, name="改名场地"),
    "registry.add_room": lambda w: services.add_room(
        w.users["institution_admin"], w.a.venue, name="202"),
    "registry.register_teacher": lambda w: services.register_teacher(
        w.users["institution_admin"], w.a.institution, name="新老师",
        id_number=make_id_number("310104", dt.date(1979, 9, 9), 31), phone="13811110000"),
    "registry.add_qualification": lambda w: services.add_qualification(
        w.users["institution_admin"], w.a.teacher, occupation=w.course.occupation, level=2,
        certificate_number="Q-2"),
    "registry.register_trainee": lambda w: services.register_trainee(
        w.users["institution_admin"], name="新学员",
        id_number=make_id_number("310104", dt.date(1995, 5, 5), 55), category="employed",
        institution=w.a.institution)[0],
    "registry.update_trainee": lambda w: services.update_trainee(
        w.users["institution_admin"], w.a.trainees[1], phone="13700001234"),
    "registry.update_teacher": lambda w: services.update_teacher(
        w.users["institution_admin"], w.a.teacher, phone="13700004321"),
    "registry.create_class": lambda w: services.create_class(
        w.users["institution_admin"], w.a.institution, name="审计班", course=w.course,
        venue=w.a.venue, start_date=w.a.draft_class.start_date,
        end_date=w.a.draft_class.end_date, planned_hours=40),
    "registry.update_class": lambda w: services.update_class(
        w.users["institution_admin"], w.a.draft_class, name="改名班"),
    "registry.set_class_teachers": lambda w: services.set_class_teachers(
        w.users["institution_admin"], w.a.draft_class, []) or w.a.draft_class,
    "registry.add_session": lambda w: services.add_session(
        w.users["institution_admin"], w.a.draft_class,
        starts_at=_at(w.a.draft_class.start_date, 14), ends_at=_at(w.a.draft_class.start_date, 16),
        teacher=w.a.teacher),
    "registry.update_session": lambda w: services.update_session(
        w.users["institution_admin"], w.a.draft_class.sessions.first(), topic="安全"),
    "registry.delete_session": lambda w: _deleted(
        w.a.draft_class.sessions.first(),
        lambda s: services.delete_session(w.users["institution_admin"], s)),
    "registry.enrol_trainee": lambda w: services.enrol_trainee(
        w.users["institution_admin"], w.a.draft_class, _spare_trainee(w)),
    "registry.withdraw_enrolment": lambda w: services.withdraw_enrolment(
        w.users["institution_admin"], w.a.draft_class.enrolments.first()),
    "registry.transition_class": lambda w: services.transition_class(
        w.users["institution_admin"], w.a.draft_class, "submit", "请审核"),
    "accounts.create_user": lambda w: accounts.create_user(
        w.users["city_admin"], "newauditor", "auditor", "Long-enough-pass-1"),
    "accounts.issue_api_token": lambda w: accounts.issue_api_token(
        w.users["city_admin"], w.users["api_client"])[0],
    "accounts.revoke_api_token": lambda w: accounts.revoke_api_token(
        w.users["city_admin"],
        accounts.issue_api_token(w.users["city_admin"], w.users["api_client"])[0]),
    "accounts.deactivate_user": lambda w: accounts.deactivate_user(
        w.users["city_admin"], w.users["teacher"], "left the institution"),
}
SERVICE_MODULES = {"registry": services, "accounts": accounts}


def _other_course(w):
    from skillguard.registry.models import Course

    return Course.objects.create(occupation=w.course.occupation, level=3, standard_hours=120,
                                 subsidy_amount="2000.00")


def _deleted(obj, delete):
    pk = obj.pk
    delete(obj)
    obj.pk = pk
    return obj


def write_services() -> set[str]:
    """Public functions of the service modules that run in a transaction (the writes)."""
    found = set()
    for prefix, module in SERVICE_MODULES.items():
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or func.__module__ != module.__name__:
                continue
            if hasattr(func, "__wrapped__"):  # @transaction.atomic
                found.add(f"{prefix}.{name}")
    return found


def test_every_write_service_is_covered():
    missing = write_services() - set(SERVICE_CALLS)
    assert not missing, (f"add {sorted(missing)} to SERVICE_CALLS in "
                         f"skillguard/audit/tests/test_trail.py")
    assert len(write_services()) >= 20


@pytest.mark.parametrize("name", sorted(SERVICE_CALLS))
def test_every_service_write_leaves_an_event(world, name):
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    obj = SERVICE_CALLS[name](world)
    events = AuditEvent.objects.filter(pk__gt=last, object_type=obj._meta.label_lower,
                                       object_id=str(obj.pk))
    assert events.exists(), f"{name} wrote {obj!r} without an audit event"
    actors = set(events.values_list("actor_name", flat=True))
    assert actors <= {u.username for u in world.users.values()} and actors


def database_state() -> dict:
    state = {}
    for app_label in ("registry", "accounts"):
        for model in apps.get_app_config(app_label).get_models(include_auto_created=True):
            state[model._meta.label] = list(model._base_manager.order_by("pk").values())
    return state


@pytest.mark.parametrize("name", sorted(SERVICE_CALLS))
def test_a_write_whose_event_fails_is_rolled_back(world, name, monkeypatch):
    """The event is written in the write's own transaction: no event, no write."""
    _spare_trainee(world)  # some calls need it; create it before the snapshot
    before = database_state()

    def refuse(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(AuditEvent, "save", refuse)
    monkeypatch.setattr(AuditEvent.objects, "bulk_create", refuse)
    with pytest.raises(RuntimeError, match="audit store unavailable"):
        with transaction.atomic():  # as a view or the API would call it
            SERVICE_CALLS[name](world)
    assert database_state() == before


def test_a_refused_write_leaves_no_event(world):
    empty = _empty_class(world)
    count = AuditEvent.objects.count()
    with pytest.raises(BusinessRuleError):  # refused before anything is written
        services.register_trainee(world.users["institution_admin"], name="坏", category="other",
                                  id_number="310104199001011231", institution=world.a.institution)
    with pytest.raises(BusinessRuleError):  # refused after the status check: roster empty
        services.transition_class(world.users["institution_admin"], empty, "submit")
    with pytest.raises(BusinessRuleError):  # refused after the changes were applied
        services.update_class(world.users["institution_admin"], world.a.draft_class,
                              end_date=world.a.draft_class.start_date - dt.timedelta(days=1))
    with pytest.raises(BusinessRuleError):
        services.enrol_trainee(world.users["institution_admin"], world.a.draft_class,
                               world.a.trainees[0])
    with pytest.raises(BusinessRuleError):  # the database refuses (unique credit code)
        services.register_institution(None, name="重复", district=world.a.district,
                                      credit_code=world.b.institution.credit_code,
                                      kind="private_school")
    assert AuditEvent.objects.count() == count
    empty.refresh_from_db()
    assert empty.status == "draft"


def _empty_class(w):
    return services.create_class(w.users["institution_admin"], w.a.institution, name="空班",
                                 course=w.course, venue=w.a.venue,
                                 start_date=w.a.draft_class.start_date,
                                 end_date=w.a.draft_class.end_date, planned_hours=10)


# --------------------------------------------------------------------------- diffs


def test_update_records_exactly_what_changed(world):
    inst = world.a.institution
    old = inst.address
    services.update_institution(world.users["city_admin"], inst, address="新地址 1 号",
                                licence_number=inst.licence_number)
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE,
                                      object_type="registry.institution").get()
    assert event.changes == {"address": [old, "新地址 1 号"]}
    assert event.object_id == str(inst.pk) and event.object_repr == inst.name
    assert (event.district_id, event.institution_id) == (inst.district_id, inst.pk)
    # no change, no event
    services.update_institution(world.users["city_admin"], inst, address="新地址 1 号")
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE,
                                     object_type="registry.institution").count() == 1


def test_create_and_delete_record_the_whole_row(world):
    room = services.add_room(world.users["institution_admin"], world.a.venue, name="303",
                             capacity=12)
    created = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="registry.room",
                                     object_id=str(room.pk))
    assert created.changes["name"] == [None, "303"]
    assert created.changes["capacity"] == [None, 12]
    session = world.a.draft_class.sessions.first()
    pk, topic = session.pk, session.topic
    services.delete_session(world.users["institution_admin"], session)
    deleted = AuditEvent.objects.get(action=AuditAction.DELETE, object_id=str(pk),
                                     object_type="registry.session")
    assert deleted.changes["teacher_id"] == [world.a.teacher.pk, None]
    assert deleted.changes.get("topic", [topic, None]) == [topic, None]
    assert not Session.objects.filter(pk=pk).exists()


def test_workflow_step_is_recorded_with_its_comment(world):
    services.transition_class(world.users["institution_admin"], world.a.draft_class, "submit",
                              "  材料齐全 ")
    event = AuditEvent.objects.get(action=AuditAction.TRANSITION,
                                   object_id=str(world.a.draft_class.pk),
                                   actor=world.users["institution_admin"])
    assert event.changes == {"status": ["draft", "submitted"]}
    assert event.comment == "材料齐全"


def test_personal_data_never_reaches_the_trail_in_plaintext(world):
    trainee, teacher = world.a.trainees[0], world.a.teacher
    old_values = [unseal(trainee, "phone"), unseal(teacher, "phone")]
    services.update_trainee(world.users["institution_admin"], trainee, phone="13512345678")
    services.update_teacher(world.users["institution_admin"], teacher, phone="13587654321")
    reveal_personal_data(world.users["auditor"], trainee, "id_number", "fund audit")
    plaintexts = old_values + ["13512345678", "13587654321"]
    for model in (Trainee, Teacher):
        for row in model.objects.all():
            plaintexts += [unseal(row, "id_number"), unseal(row, "phone")]
    trail = json.dumps([[e.changes, e.fields, e.comment, e.object_repr]
                        for e in AuditEvent.objects.all()], ensure_ascii=False)
    assert "phone_masked" in trail and "id_number_masked" in trail
    for value in plaintexts:
        assert value not in trail
    assert "_enc" not in trail and "_hash" not in trail
    event = AuditEvent.objects.filter(object_id=str(trainee.pk), action="update").get()
    assert event.changes == {"phone_masked": ["137****0000", "135****5678"]}


# --------------------------------------------------------------------------- append-only


@pytest.mark.parametrize("sql", ["UPDATE audit_auditevent SET comment = 'rewritten'",
                                 "DELETE FROM audit_auditevent"])
def test_database_refuses_to_rewrite_the_trail(world, sql):
    count = AuditEvent.objects.count()
    assert count > 0
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.count() == count
    assert not AuditEvent.objects.filter(comment="rewritten").exists()


def test_orm_cannot_rewrite_the_trail_either(world):
    event = AuditEvent.objects.first()
    event.comment = "rewritten"
    for attempt in (event.save, event.delete,
                    lambda: AuditEvent.objects.filter(pk=event.pk).update(comment="x")):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic():
                attempt()
    assert AuditEvent.objects.get(pk=event.pk).comment != "rewritten"


# --------------------------------------------------------------------------- reading personal data


def test_reveal_logs_the_read(world):
    trainee = world.a.trainees[2]
    value = reveal_personal_data(world.users["district_supervisor"], trainee, "phone",
                                 "回访核实")
    assert value == unseal(trainee, "phone") and len(value) == 11
    event = AuditEvent.objects.get(action=AuditAction.READ_PERSONAL)
    assert (event.actor, event.object_type, event.object_id, event.fields, event.comment) == (
        world.users["district_supervisor"], "registry.trainee", str(trainee.pk), ["phone"],
        "回访核实")
    assert value not in json.dumps([event.changes, event.comment, event.object_repr])


@pytest.mark.parametrize("role", ["teacher", "api_client"])
def test_reveal_refused_without_the_permission(world, role):
    with pytest.raises(Http404):
        reveal_personal_data(world.users[role], world.a.trainees[0], "id_number")
    assert not AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL).exists()


def test_reveal_out_of_scope_is_404_and_unknown_fields_refused(world):
    with pytest.raises(Http404):
        reveal_personal_data(world.users["institution_admin"], world.b.trainees[0], "phone")
    with pytest.raises(Http404):
        reveal_personal_data(world.b.users["district_supervisor"], world.a.teacher, "phone")
    with pytest.raises(PermissionDenied):
        reveal_personal_data(world.users["city_admin"], world.a.trainees[0], "name")
    assert not AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL).exists()
    # the trainee may see their own number, and that read is logged too
    reveal_personal_data(world.users["trainee"], world.a.trainees[0], "id_number")
    assert AuditEvent.objects.filter(action=AuditAction.READ_PERSONAL,
                                     actor=world.users["trainee"]).count() == 1

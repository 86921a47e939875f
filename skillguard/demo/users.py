"""Demo logins: one account per role, memorable names, one shared generated password.

The password is generated at first start and kept in ``$SKILLGUARD_DATA_DIR/keys/
demo-password`` (or taken from ``SKILLGUARD_DEMO_PASSWORD``); nothing secret is in the
repository. ``print_demo_logins(url)`` prints the bilingual table that ``skillguard run``
shows on start.
"""
from __future__ import annotations

import os
import secrets
import sys
import unicodedata

from django.conf import settings

from skillguard.demo import names as N

PASSWORD_ENV = "SKILLGUARD_DEMO_PASSWORD"

ROLE_NAMES = {
    "superuser": ("超级管理员", "Superuser (/django-admin/)"),
    "city_admin": ("市级管理员", "City administrator"),
    "city_supervisor": ("市级监管", "City supervisor"),
    "district_supervisor": ("区级监管", "District supervisor"),
    "institution_admin": ("培训机构", "Training institution"),
    "teacher": ("师资", "Teacher"),
    "trainee": ("学员", "Trainee"),
    "auditor": ("审计", "Auditor (read-only)"),
    "api_client": ("数据对接客户端", "API client"),
}

# The accounts the table shows, in this order.
FEATURED = ("city_admin", "city_supervisor", "xuhui_supervisor", "pudong_supervisor",
            "xuhui_school", "pudong_school", "teacher_demo", "trainee_demo", "auditor",
            "api_client", "admin")


def supervisor_username(district_code: str) -> str:
    return f"{N.DISTRICTS[district_code][0]}_supervisor"


def demo_usernames() -> list[str]:
    """Every account the demo creates (and ``--reset`` removes)."""
    return sorted(set(FEATURED) | {supervisor_username(c) for c in N.DISTRICTS})


# --------------------------------------------------------------------------- password


def _password_path():
    return settings.DATA_DIR / "keys" / "demo-password"


def demo_password() -> str:
    """The shared demo password: from the environment, else generated once into the data dir."""
    env = os.environ.get(PASSWORD_ENV, "").strip()
    if env:
        return env
    path = _password_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"demo-password.{os.getpid()}.tmp")
        tmp.write_text("Sg-" + secrets.token_urlsafe(12) + "\n")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: two processes starting at once agree on one password
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


# --------------------------------------------------------------------------- accounts


def delete_users(queryset) -> int:
    """Delete user accounts without touching the audit trail.

    Django's own delete would SET NULL ``AuditEvent.actor``, which the append-only trail
    refuses (and should: the trail outlives accounts, it keeps actor name and role as
    text). Everything else that points at the users is handled by its ``on_delete``."""
    from django.db import connection, models, transaction

    from skillguard.accounts.models import User
    from skillguard.audit.models import AuditEvent
    from skillguard.demo.generator import DemoError

    ids = list(queryset.values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        for rel in User._meta.related_objects:
            model = rel.related_model
            if model is AuditEvent or rel.many_to_many:
                continue
            related = model._base_manager.filter(**{f"{rel.field.name}__in": ids})
            if rel.on_delete is models.CASCADE:
                related.delete()
            elif rel.on_delete is models.SET_NULL:
                related.update(**{rel.field.name: None})
            elif rel.on_delete in (models.PROTECT, models.RESTRICT) and related.exists():
                raise DemoError(f"demo users are still referenced by {model._meta.label}; "
                                "remove those records first")
        for f in User._meta.many_to_many:
            f.remote_field.through._base_manager.filter(
                **{f"{f.m2m_field_name()}__in": ids}).delete()
        with connection.cursor() as c:
            c.execute(f'DELETE FROM "{User._meta.db_table}" WHERE id = ANY(%s)', [ids])
    return len(ids)


def _replace(username: str, create):
    """Create a demo account, replacing an earlier demo account of the same name."""
    from skillguard.accounts.models import User

    delete_users(User.objects.filter(username=username))
    return create()


_HASHED: dict[str, str] = {}


def _hashed(password: str) -> str:
    """One PBKDF2 hash for the shared password (hashing is deliberately slow: ~0.5 s each)."""
    if password not in _HASHED:
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.password_validation import validate_password

        validate_password(password)
        _HASHED[password] = make_password(password)
    return _HASHED[password]


def _set_password(user, password: str):
    user.password = _hashed(password)
    user.save(update_fields=["password"])
    return user


def _create(username, role, password, display_name, **anchors):
    from skillguard.accounts import services

    def create():
        user = services.create_user(None, username, role, None, display_name=display_name,
                                    **anchors)
        return _set_password(user, password)

    return _replace(username, create)


def create_staff_users(password: str, districts) -> dict:
    """The city-wide accounts, a supervisor for every district and the superuser ``admin``."""
    from skillguard.accounts.models import User
    from skillguard.audit import services as audit

    users = {
        "city_admin": _create("city_admin", "city_admin", password, "市人社局管理员"),
        "city_supervisor": _create("city_supervisor", "city_supervisor", password, "市级监管员"),
        "auditor": _create("auditor", "auditor", password, "审计员"),
    }
    for d in districts:
        username = supervisor_username(d.code)
        users[username] = _create(username, "district_supervisor", password,
                                  f"{d.name}监管员", district=d)

    def make_admin():
        user = User.objects.create_superuser(username="admin", password=None,
                                             role="city_admin", display_name="超级管理员")
        audit.record_created(None, user)
        return _set_password(user, password)

    users["admin"] = _replace("admin", make_admin)
    return users


def create_institution_admin(username: str, institution, password: str):
    return _create(username, "institution_admin", password, f"{institution.name}管理员",
                   institution=institution)


def create_person_users(password: str, xuhui_plan, api_institution) -> dict:
    """teacher_demo and trainee_demo from the Xuhui showcase's class in progress, and an
    API client bound to the Pudong showcase institution."""
    from skillguard.registry.models import Teacher, Trainee

    cls = next(c for c in xuhui_plan.classes if c.status == "in_progress")
    teacher = Teacher.objects.get(pk=cls.sessions[0].teacher.db_id)
    trainee_plan = next(t for t, state, _at in cls.enrolments if state == "enrolled")
    trainee = Trainee.objects.get(pk=trainee_plan.db_id)
    return {
        "teacher_demo": _create("teacher_demo", "teacher", password, teacher.name,
                                teacher=teacher, institution=teacher.institution),
        "trainee_demo": _create("trainee_demo", "trainee", password, trainee.name,
                                trainee=trainee),
        "api_client": _create("api_client", "api_client", password,
                              f"{api_institution.name}（数据对接）", institution=api_institution),
    }


# --------------------------------------------------------------------------- the table


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _scope(user) -> str:
    if user.is_superuser:
        return "全部 · everything"
    if user.role in ("city_admin", "city_supervisor", "auditor"):
        return "全市 · whole city"
    if user.role == "district_supervisor" and user.district_id:
        return f"{user.district.name} · {user.district.name_en}"
    if user.role == "teacher" and user.teacher_id:
        return f"{user.teacher.name} @ {user.teacher.institution.name}"
    if user.role == "trainee" and user.trainee_id:
        return f"{user.trainee.name}（{user.trainee.id_number_masked}）"
    if user.institution_id:
        return user.institution.name
    if user.district_id:
        return user.district.name
    return "—"


def login_rows() -> list[tuple[str, str, str]]:
    """(username, role zh/en, scope) of the featured demo accounts that exist."""
    from skillguard.accounts.models import User

    users = {u.username: u for u in User.objects.filter(username__in=FEATURED).select_related(
        "district", "institution", "teacher__institution", "trainee")}
    rows = []
    for username in FEATURED:
        user = users.get(username)
        if user is None:
            continue
        zh, en = ROLE_NAMES["superuser" if user.is_superuser else user.role]
        rows.append((username, f"{zh} · {en}", _scope(user)))
    return rows


def print_demo_logins(url: str, stream=None) -> None:
    """Print the demo logins as a neat bilingual table (nothing when there are none)."""
    stream = stream or sys.stdout
    rows = login_rows()
    if not rows:
        stream.write(f"\nSkillGuard: {url}\n(no demo accounts / 无演示账号)\n")
        return
    password = demo_password()
    source = (f"${PASSWORD_ENV}" if os.environ.get(PASSWORD_ENV, "").strip()
              else str(_password_path()))
    head = ("用户名 Username", "角色 Role", "范围 Scope", "密码 Password")
    table = [head] + [r + (password,) for r in rows]
    widths = [max(_width(r[i]) for r in table) for i in range(4)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [
        "",
        f"SkillGuard 职业技能培训综合监管平台 — {url}",
        f"演示账号（密码相同，保存在 {source}）",
        f"Demo logins (one shared password, kept in {source}):",
        line,
        "| " + " | ".join(_pad(h, w) for h, w in zip(head, widths)) + " |",
        line,
    ]
    for row in table[1:]:
        out.append("| " + " | ".join(_pad(c, w) for c, w in zip(row, widths)) + " |")
    out.append(line)
    out.append("每个区另有区级监管账号 <区拼音>_supervisor，如 jingan_supervisor。 / "
               "Every district has a supervisor, <district>_supervisor (e.g. jingan_supervisor).")
    out.append(f"Django admin: {url.rstrip('/')}/django-admin/ (admin)")
    stream.write("\n".join(out) + "\n\n")
    stream.flush()

"""Central scoping: every read goes through ``Model.objects.restrict(user, action)``.

Each model declares ``scope = Scope(...)``: the lookup paths from the model to a district,
an institution, a teacher and a trainee. The user's role decides which path applies
(a district supervisor is limited through the district path, an institution through the
institution path, …) and ``accounts.roles`` decides whether the action is allowed at all.
A path that crosses a to-many relation is applied as ``pk IN (subquery)`` so the result
never holds duplicates.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

Paths = tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    district: Paths = ()
    institution: Paths = ()
    teacher: Paths = ()
    trainee: Paths = ()
    public: bool = False  # reference data: every signed-in user may view it


NOTHING = Q(pk__in=[])


def _crosses_many(model, path: str) -> bool:
    current = model
    for part in path.split("__"):
        if part == "pk":
            return False
        field = current._meta.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        if not field.is_relation:
            return False
        current = field.related_model
    return False


def _match(model, paths: Paths, value) -> Q:
    if value is None or not paths:
        return NOTHING
    q = NOTHING
    for path in paths:
        if _crosses_many(model, path):
            part = Q(pk__in=model._base_manager.filter(**{path: value}).values("pk"))
        else:
            part = Q(**{path: value})
        q = part if q is NOTHING else (q | part)
    return q


def scope_q(model, user, action: str) -> Q:
    from skillguard.accounts.roles import CITY_WIDE, Role, role_allows

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return Q()
    if not role_allows(user.role, model._meta.model_name, action):
        return NOTHING
    scope: Scope = getattr(model, "scope", Scope())
    if user.role in CITY_WIDE:
        return Q()
    if scope.public and action == "view":
        return Q()
    if user.role == Role.DISTRICT_SUPERVISOR:
        return _match(model, scope.district, user.district_id)
    if user.role == Role.INSTITUTION_ADMIN:
        return _match(model, scope.institution, user.institution_id)
    if user.role == Role.API_CLIENT:
        if user.institution_id:
            return _match(model, scope.institution, user.institution_id)
        return _match(model, scope.district, user.district_id)
    if user.role == Role.TEACHER:
        return _match(model, scope.teacher, user.teacher_id)
    if user.role == Role.TRAINEE:
        return _match(model, scope.trainee, user.trainee_id)
    return NOTHING


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view"):
        q = scope_q(self.model, user, action)
        if q is NOTHING:
            return self.none()
        return self.filter(q) if q else self.all()


RestrictedManager = models.Manager.from_queryset(RestrictedQuerySet)


def access(model, user, pk, action: str = "view", queryset=None):
    """The object if ``user`` may do ``action`` on it; the same 404 for missing and forbidden."""
    qs = queryset if queryset is not None else model.objects.all()
    try:
        return qs.restrict(user, action).get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such record, or you may not see it."))


def can(user, action: str, model) -> bool:
    """Whether the role may do ``action`` on some objects of ``model`` (menu items, buttons)."""
    from skillguard.accounts.roles import role_allows

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return role_allows(user.role, model._meta.model_name, action)

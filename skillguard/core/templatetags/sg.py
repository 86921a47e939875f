"""Template helpers shared by every page: permissions, badges, scope, audit changes."""
from __future__ import annotations

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import can as role_can

register = template.Library()

# Badge colour families; the status value itself is also emitted as a class for tests/CSS.
_TONES = {
    "draft": "muted", "submitted": "info", "returned": "warn", "approved": "ok",
    "in_progress": "primary", "finished": "muted", "cancelled": "danger",
    "active": "ok", "suspended": "danger", "closed": "muted",
    "whitelisted": "ok", "pending": "info", "none": "muted",
    "enrolled": "ok", "withdrawn": "muted", "completed": "primary",
    "create": "ok", "update": "info", "delete": "danger", "transition": "primary",
    "read_personal": "warn", "export": "info", "import": "info", "login": "muted",
    "login_failed": "danger", "logout": "muted",
    "open": "warn", "in_case": "info", "queued": "info", "running": "primary", "ok": "ok",
    "failed": "danger", "low": "muted", "medium": "info", "high": "warn", "critical": "danger",
}


def _model(model_or_label):
    if isinstance(model_or_label, str):
        return apps.get_model(model_or_label)
    return model_or_label if isinstance(model_or_label, type) else type(model_or_label)


@register.simple_tag(takes_context=True)
def can(context, action: str, model_or_label) -> bool:
    """``{% can 'add' 'registry.trainee' as may_add %}`` — the role may do this at all.

    Object scope is the server's business (every view re-checks through ``access``)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return role_can(user, action, _model(model_or_label))


@register.simple_tag
def badge(value, label=None):
    value = value or ""
    return format_html('<span class="badge tone-{} status-{}">{}</span>',
                       _TONES.get(str(value), "muted"), value, label or value)


@register.simple_tag(takes_context=True)
def nav_class(context, item) -> str:
    """'active' for the menu item whose section holds the current page."""
    request = context.get("request")
    path = getattr(request, "path", "")
    url = item["url"]
    if url == "/":
        return "active" if path == "/" else ""
    return "active" if path.startswith(url) else ""


@register.filter
def role_scope(user) -> str:
    """What the user's view is limited to, in words: 'Xuhui', 'Institution 1', 'whole city'."""
    if not getattr(user, "is_authenticated", False):
        return ""
    if user.is_city_wide:
        return str(_("whole city"))
    parts = []
    if user.institution_id:
        parts.append(str(user.institution))
    elif user.district_id:
        parts.append(str(user.district))
    if user.teacher_id and not parts:
        parts.append(str(user.teacher))
    if user.trainee_id:
        parts.append(str(user.trainee))
    return " · ".join(parts)


@register.filter
def record_type_label(object_type: str) -> str:
    try:
        return capfirst(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


# Record types with a page of their own, for links from the audit trail.
_DETAIL_PAGES = {
    "registry.institution": "registry:institution_detail",
    "registry.venue": "registry:venue_detail",
    "registry.teacher": "registry:teacher_detail",
    "registry.trainee": "registry:trainee_detail",
    "registry.trainingclass": "registry:class_detail",
}


@register.filter
def record_url(event) -> str:
    """The record's page, if it has one (the page itself still checks scope)."""
    name = _DETAIL_PAGES.get(event.object_type)
    if not name or not (event.object_id or "").isdigit():
        return ""
    try:
        return reverse(name, args=[int(event.object_id)])
    except NoReverseMatch:
        return ""


def _choice_label(choices: dict, value):
    if isinstance(value, (str, int)) and value in choices:
        return choices[value]
    return value


@register.filter
def audit_changes(event) -> list[dict]:
    """Rows of (field label, before, after) for an audit event's change set."""
    try:
        model = apps.get_model(event.object_type)
    except (LookupError, ValueError):
        model = None
    rows = []
    for name, pair in (event.changes or {}).items():
        before, after = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        label, choices = name, {}
        if model is not None:
            for candidate in (name, name.removesuffix("_id"), name.removesuffix("_masked")):
                try:
                    field = model._meta.get_field(candidate)
                except FieldDoesNotExist:
                    continue
                label = capfirst(getattr(field, "verbose_name", candidate))
                choices = dict(field.flatchoices) if getattr(field, "choices", None) else {}
                break
        # Coded values read as their labels; the stored code stays in the trail itself.
        rows.append({"field": label, "before": _choice_label(choices, before),
                     "after": _choice_label(choices, after)})
    return rows


@register.filter
def verbose_name(model_or_label, plural: str = "") -> str:
    meta = _model(model_or_label)._meta
    return str(meta.verbose_name_plural if plural else meta.verbose_name)


@register.filter
def field_label(model_or_instance, name: str) -> str:
    return str(_model(model_or_instance)._meta.get_field(name).verbose_name)


@register.filter
def role_label(value: str) -> str:
    from skillguard.accounts.roles import Role

    try:
        return str(Role(value).label)
    except ValueError:
        return value

"""The "learning hours" sections that registry pages include (trainee page, class page):
``{% load attendance_tags %}{% trainee_hours trainee %}`` / ``{% class_attendance cls %}``.
Each reads through ``attendance.queries`` with the signed-in user's scope."""
from __future__ import annotations

from django import template
from django.utils.html import format_html

from skillguard.attendance import queries

register = template.Library()

TONES = {"present": "ok", "partial": "warn", "absent": "danger", "pending": "info",
         "qualifies": "ok", "not_qualified": "danger", "eligible": "ok",
         "not_eligible": "danger", "pending_evidence": "info"}


def _user(context):
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.simple_tag
def hours_badge(value, label=None):
    value = value or ""
    return format_html('<span class="badge tone-{} status-{}">{}</span>',
                       TONES.get(str(value), "muted"), value, label or value)


@register.filter
def percent(value):
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.filter
def hours(value):
    """2 decimals without trailing zeros: 4, 3.33."""
    if value is None:
        return "—"
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


@register.inclusion_tag("attendance/_trainee_hours.html", takes_context=True)
def trainee_hours(context, trainee):
    from skillguard.registry import queries as registry

    user = _user(context)
    if not queries.may_view_hours(user):
        return {"visible": False}
    enrolments = registry.enrolments(user, trainee=trainee.pk).select_related(
        "training_class__course__occupation", "training_class__institution")
    return {"visible": True, "items": queries.explain_enrolments(user, enrolments)}


@register.inclusion_tag("attendance/_class_attendance.html", takes_context=True)
def class_attendance(context, cls):
    from skillguard.registry import queries as registry

    user = _user(context)
    if not queries.may_view_hours(user):
        return {"visible": False}
    enrolments = registry.enrolments(user, training_class=cls.pk).order_by("id")
    return {"visible": True, "cls": cls,
            "items": queries.explain_enrolments(user, enrolments, with_evidence=False)}

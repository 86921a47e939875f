"""Bilingual, field-naming problems raised by services and shown by UI, API and imports."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.functional import Promise, lazy


def lazy_format(message, **params):
    """``message % params`` rendered in the language active when it is shown, not when it is
    built (``gettext_lazy(...) % {...}`` would freeze today's language into the message)."""
    def render():
        values = {k: str(v) if isinstance(v, Promise) else v for k, v in params.items()}
        return str(message) % values
    return lazy(render, str)()


def both_languages(message) -> dict[str, str]:
    out = {}
    for lang, key in (("zh-hans", "message_zh"), ("en", "message_en")):
        with translation.override(lang):
            out[key] = str(message)
    return out


@dataclass
class Problem:
    field: str
    code: str
    message: object  # lazy translatable string
    label: object = ""  # the field's verbose name
    record: str = ""  # which record: "row 12", "TrainingClass K2026-…"

    def text(self) -> str:
        return f"{self.label}: {self.message}" if self.label else str(self.message)

    def as_dict(self) -> dict:
        out = {"record": self.record, "field": self.field, "code": self.code}
        with translation.override("zh-hans"):
            out["message_zh"] = self.text()
        with translation.override("en"):
            out["message_en"] = self.text()
        return out


@dataclass
class BusinessRuleError(Exception):
    """Raised by a service when a write is refused; nothing has been written."""
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(p.text() for p in self.problems)

    def as_list(self) -> list[dict]:
        return [p.as_dict() for p in self.problems]

    def to_validation_error(self) -> ValidationError:
        errors: dict[str, list] = {}
        for p in self.problems:
            errors.setdefault(p.field or "__all__", []).append(
                ValidationError(p.message, code=p.code))
        return ValidationError(errors)


def field_label(model, name: str):
    for candidate in (name, f"{name}_masked"):  # personal data: see core.personal_data
        try:
            return model._meta.get_field(candidate).verbose_name
        except Exception:
            continue
    return name


def from_validation_error(model, exc: ValidationError, record: str = "") -> BusinessRuleError:
    problems = []
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            for err in errors:
                message = err.message % err.params if err.params else err.message
                problems.append(Problem(
                    field="" if name == "__all__" else name, code=err.code or "invalid",
                    message=message, label="" if name == "__all__" else field_label(model, name),
                    record=record))
    else:
        for err in exc.error_list:
            message = err.message % err.params if err.params else err.message
            problems.append(Problem(field="", code=err.code or "invalid", message=message,
                                    record=record))
    return BusinessRuleError(problems)


class Problems:
    """Collects problems for one record, then raises them all at once."""

    def __init__(self, model, record: str = ""):
        self.model, self.record, self.items = model, record, []

    def add(self, field_name: str, code: str, message) -> None:
        self.items.append(Problem(field=field_name, code=code, message=message,
                                  label=field_label(self.model, field_name) if field_name else "",
                                  record=self.record))

    def raise_if_any(self) -> None:
        if self.items:
            raise BusinessRuleError(list(self.items))

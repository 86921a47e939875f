"""The plug-in interface of the supervision engine (监管督导预警规则).

A rule is a class decorated with ``@register``. It only *detects*: given a ``RuleContext``
(its parameters, a time window and, when run incrementally, the sessions / trainees /
institutions that new evidence touched) it returns ``Finding`` objects. Everything else —
parameter versions and who changed them, runs, isolation of a rule that fails, turning
findings into deduplicated warnings, back-tests, routing warnings into cases — belongs to
the engine (``supervision.engine``) and never to a rule.

Rules read the database with set-based SQL (one query per rule and run, never a loop over
rows). Fact tables are partitioned by ``occurred_at`` and keyed by ``district_id``: filter on
both where possible so partitions and (later) Citus shards are pruned.

A new rule plugs in without touching the engine: put it in a module listed in
``settings.SUPERVISION_RULE_MODULES`` (or ``SKILLGUARD_EXTRA_RULE_MODULES``); the supervision
app imports those modules when Django starts and the catalogue row is created on first use.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import Problem, lazy_format


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class RuleLevel(models.TextChoices):
    DISTRICT = "district", _("District")
    CITY = "city", _("City")


class Period(models.TextChoices):
    REALTIME = "realtime", _("Real time")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    YEARLY = "yearly", _("Yearly")


class Trigger(models.TextChoices):
    """Kinds of arriving data that make a real-time rule run at once (incrementally)."""
    CHECKIN = "checkin", _("Check-in")
    SESSION = "session", _("Session")
    ENROLMENT = "enrolment", _("Enrolment")
    LEARNING = "learning", _("Online learning")
    ASSESSMENT = "assessment", _("Assessment")
    VIDEO = "video", _("Video")


@dataclass(frozen=True)
class Param:
    """One editable parameter of a rule. ``kind`` is "int", "float", "bool" or "choice"."""
    default: Any
    label: Any  # gettext_lazy
    help: Any = ""
    kind: str = "int"
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""  # shown after the field: "min", "m", "%", "s", "trainees" …
    choices: tuple = ()

    def check(self, name: str, value: Any) -> tuple[Any, list[Problem]]:
        """Coerce one submitted value; return it with any problems (bilingual, naming it)."""
        problems: list[Problem] = []
        try:
            if self.kind == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                value = int(value)
            elif self.kind == "float":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
            elif self.kind == "bool":
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "on", "off"):
                        raise ValueError
                    value = value.lower() in ("true", "1", "on")
                else:
                    value = bool(value)
            elif self.kind == "choice" and value not in [c[0] for c in self.choices]:
                raise ValueError
        except (TypeError, ValueError):
            return value, [Problem(name, "parameter_invalid",
                                   lazy_format(_("“%(value)s” is not a valid value."),
                                               value=value), label=self.label)]
        if self.minimum is not None and value < self.minimum:
            problems.append(Problem(name, "parameter_below_minimum", lazy_format(
                _("Must be at least %(minimum)s."), minimum=self.minimum), label=self.label))
        if self.maximum is not None and value > self.maximum:
            problems.append(Problem(name, "parameter_above_maximum", lazy_format(
                _("Must be at most %(maximum)s."), maximum=self.maximum), label=self.label))
        return value, problems


@dataclass(frozen=True)
class RuleContext:
    """What one run of one rule may look at.

    ``window_start``/``window_end``: the evidence window (half-open) — a sweep's period, a
    back-test's range, or for a real-time run a short window around the new evidence.
    ``session_ids`` / ``trainee_ids`` / ``institution_ids``: when not None the run is
    incremental and a rule should only report anomalies that involve at least one of them
    (it may still read everything it needs to decide, e.g. the *other* class of an overlap).
    """
    params: Mapping[str, Any]
    window_start: dt.datetime
    window_end: dt.datetime
    now: dt.datetime
    session_ids: frozenset[int] | None = None
    trainee_ids: frozenset[int] | None = None
    institution_ids: frozenset[int] | None = None

    @property
    def incremental(self) -> bool:
        return any(x is not None for x in (self.session_ids, self.trainee_ids,
                                            self.institution_ids))

    def ids(self, name: str) -> list[int] | None:
        """The ids as a list for a ``= ANY(%s)`` SQL parameter, or None (no restriction)."""
        value = getattr(self, name)
        return None if value is None else sorted(value)


@dataclass(frozen=True)
class Finding:
    """One anomaly, as a rule reports it.

    ``subject`` is the anomaly's stable identity within its rule: the same anomaly found by
    the next run (or the next sweep) must give the same subject, so it raises one warning,
    not one per run — e.g. ``"trainee:12|class:4|class:9"`` for an overlap, or
    ``"institution:7|week:2026-W14"`` for a weekly spike. The engine fingerprints it.

    ``affected_hours``: the (enrolment_id, session_id) pairs whose hours a confirmed-fraud
    conclusion of the case excludes from the trainee's eligible total. ``evidence``: refs the
    warning page links to, as (kind, id) with kind in "session", "enrolment", "trainee",
    "teacher", "room", "institution", "class", "checkin" (id = "district:iso-time:id"),
    "device", "ip", "learning_session".
    """
    subject: str
    district_id: int
    summary: Any  # lazy, bilingual: core.errors.lazy_format(_("…%(x)s…"), x=…)
    occurred_at: dt.datetime
    institution_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts
    evidence: tuple[tuple[str, Any], ...] = ()
    affected_hours: tuple[tuple[int, int], ...] = ()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.subject.encode()).hexdigest()[:40]


class RuleDefinition:
    """Base class of every rule. Subclasses set the class attributes and ``detect``."""
    code: ClassVar[str]  # stable, e.g. "TRAINEE_OVERLAP"; the catalogue key
    name: ClassVar[Any]  # gettext_lazy — shown in zh and en
    description: ClassVar[Any]
    severity: ClassVar[str] = Severity.MEDIUM
    level: ClassVar[str] = RuleLevel.DISTRICT
    period: ClassVar[str] = Period.DAILY  # the default schedule of its sweep
    params: ClassVar[dict[str, Param]] = {}
    triggers: ClassVar[frozenset[str]] = frozenset()  # real-time triggers; empty: sweeps only
    # A rule waiting for a data source a later module provides ("video", "online"): kept in
    # the catalogue and runnable, it finds nothing until that source writes data.
    awaits_source: ClassVar[str] = ""

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def check_params(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """Coerce and range-check every parameter, then ``check_consistency``. Unknown
        names and missing names are problems too."""
        clean, problems = {}, []
        for name in values:
            if name not in self.params:
                problems.append(Problem(name, "parameter_unknown",
                                        _("This rule has no such parameter.")))
        for name, param in self.params.items():
            if name not in values:
                problems.append(Problem(name, "parameter_missing", _("A value is required."),
                                        label=param.label))
                continue
            clean[name], found = param.check(name, values[name])
            problems += found
        if not problems:
            problems += self.check_consistency(clean)
        return clean, problems

    def check_consistency(self, values: Mapping[str, Any]) -> list[Problem]:
        """Cross-parameter checks (e.g. a minimum below its maximum). Override as needed."""
        return []

    def detect(self, ctx: RuleContext) -> Iterable[Finding]:
        raise NotImplementedError


RULES: dict[str, type[RuleDefinition]] = {}


def register(cls: type[RuleDefinition]) -> type[RuleDefinition]:
    if not getattr(cls, "code", ""):
        raise TypeError(f"{cls.__name__} has no code")
    if cls.code in RULES and RULES[cls.code] is not cls:
        raise ValueError(f"rule code {cls.code} registered twice")
    RULES[cls.code] = cls
    return cls


def get_rule(code: str) -> RuleDefinition:
    return RULES[code]()


def load_rule_modules() -> None:
    for module in getattr(settings, "SUPERVISION_RULE_MODULES", ()):
        importlib.import_module(module)

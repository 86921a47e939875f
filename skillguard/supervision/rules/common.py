"""Helpers shared by the catalogue's rules: one SQL statement per run, the window and the
incremental restriction as SQL fragments, refs in the form the warning pages link to.

Every rule builds its statement with ``Query``: named parameters (``%(ws)s`` and ``%(we)s``
for the window, ``%(tz)s`` for the city's time zone), ``scope()`` for the incremental
restriction (``TRUE`` on a sweep), then ``rows()`` runs it once.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import Problem, lazy_format

from .base import RuleContext, RuleDefinition

# Classes whose sessions really take place (or are about to): the rules never look at
# drafts, applications under review or cancelled classes.
HELD = "('approved', 'in_progress', 'finished')"


class SQLRule(RuleDefinition):
    """A rule whose ``find`` yields findings from one SQL statement; ``detect`` returns them
    as a list, so an error surfaces inside the engine's isolation, not later."""

    def detect(self, ctx):
        return list(self.find(ctx))

    def find(self, ctx):
        raise NotImplementedError


class Query:
    def __init__(self, ctx: RuleContext, **params: Any):
        self.ctx = ctx
        self.params: dict[str, Any] = {"ws": ctx.window_start, "we": ctx.window_end,
                                       "now": ctx.now, "tz": settings.TIME_ZONE,
                                       # schedule rules triggered by new registry data look
                                       # ahead: a clash next month is worth a warning now
                                       "ahead": ctx.incremental}
        self.params.update(params)

    def p(self, name: str, value: Any) -> str:
        self.params[name] = value
        return f"%({name})s"

    def scope(self, *, sessions=(), trainees=(), institutions=(), classes=(),
              session_institutions=()) -> str:
        """SQL that is TRUE when the row involves the ids of an incremental run.

        ``sessions`` / ``trainees`` / ``institutions``: SQL expressions compared with the
        ids of that kind; ``classes``: class-id expressions matched through the sessions
        given (a session of that class); ``session_institutions``: institution-id
        expressions matched through the sessions given (rules that see institutions only).
        """
        ctx = self.ctx
        if not ctx.incremental:
            return "TRUE"
        parts = []
        if ctx.session_ids is not None:
            sids = self.p("scope_sessions", ctx.ids("session_ids"))
            parts += [f"{e} = ANY({sids}::bigint[])" for e in sessions]
            parts += [f"{e} IN (SELECT training_class_id FROM registry_session "
                      f"WHERE id = ANY({sids}::bigint[]))" for e in classes]
            parts += [f"{e} IN (SELECT c.institution_id FROM registry_session s JOIN "
                      f"registry_trainingclass c ON c.id = s.training_class_id "
                      f"WHERE s.id = ANY({sids}::bigint[]))" for e in session_institutions]
        if ctx.trainee_ids is not None:
            tids = self.p("scope_trainees", ctx.ids("trainee_ids"))
            parts += [f"{e} = ANY({tids}::bigint[])" for e in trainees]
        if ctx.institution_ids is not None:
            iids = self.p("scope_institutions", ctx.ids("institution_ids"))
            parts += [f"{e} = ANY({iids}::bigint[])" for e in institutions]
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with connection.cursor() as cur:
            cur.execute(sql, self.params)
            names = [c.name for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]


def checkin_ref(district_id: int, occurred_at: dt.datetime, pk: int) -> str:
    return f"{district_id}:{occurred_at.isoformat()}:{pk}"


def pairs(values) -> tuple[tuple[int, int], ...]:
    """(enrolment, session) pairs from SQL arrays of [enrolment, session] arrays, sorted."""
    return tuple(sorted({(int(a), int(b)) for a, b in (values or ())}))


def ordered_range(values, low: str, high: str, label_low, label_high) -> list[Problem]:
    """A consistency problem when ``values[low]`` is not below ``values[high]``."""
    if values[low] >= values[high]:
        return [Problem(high, "parameter_inconsistent", lazy_format(
            _("Must be greater than “%(other)s” (%(value)s)."), other=label_low,
            value=values[low]), label=label_high)]
    return []


def local_day(moment: dt.datetime) -> dt.date:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()

"""Writes of case handling (督导处置) and spot checks (抽查).

CONTRACT (other apps call only these):
* ``route_warnings(warning_ids)`` — called by the supervision engine in the transaction that
  created the warnings: each opens or joins a case routed to the responsible district.

Every transition validates (bilingual ``BusinessRuleError``), writes, adds a ``CaseEvent``
and audits, in one transaction. Who may do what:

* district supervisors of the case's district: every handling step ("handle") while the case
  is not escalated; city supervisors: every handling step city-wide (escalated cases are
  theirs alone);
* the institution admin: answer (and comment on) a case dispatched to its institution;
* the auditor and everybody else: nothing.

Handling deadline per severity (working days from opening, ``models.DEADLINE_WORKING_DAYS``):
critical 2, high 5, medium 10, low 15. The periodic task ``cases.tasks.escalate_overdue``
marks open cases past their deadline overdue and escalates them to the city (idempotent).

Joining: an open warning-case joins later warnings of the same rule and institution (or,
without institution, the same rule and district) whose anomaly falls in the same calendar
month (``Case.period``, Asia/Shanghai).

Spot-check risk score of a session (documented formula, computed in one SQL query):

    risk = Σ weight(w) over open or in-case warnings w of the session's institution
         + 2 · Σ weight(w) over open or in-case warnings w whose evidence names the session's
               class ("class", id) or the session itself ("session", id)

with weight low 1, medium 2, high 3, critical 5. The sample is the first N sessions of the
filtered population ordered by md5(seed || session id): the same seed and filters give the
same sample, whatever the database's physical order.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.roles import ANSWER, HANDLE, Role, role_allows
from skillguard.audit import services as audit
from skillguard.core.errors import BusinessRuleError, Problem, Problems, lazy_format
from skillguard.supervision.rules.base import Severity

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ALLOWED_EXTENSIONS = {".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".txt",
                      ".doc", ".docx", ".xls", ".xlsx", ".csv", ".mp4", ".mov"}
SEVERITY_WEIGHT = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 5}
MAX_SAMPLE = 500


# --------------------------------------------------------------------------- helpers


def _models():
    from skillguard.cases import models as m

    return m


def _refuse(model, field: str, code: str, message, record: str = ""):
    problems = Problems(model, record)
    problems.add(field, code, message)
    problems.raise_if_any()


def _forbidden(model, record: str = ""):
    raise BusinessRuleError([Problem("", "forbidden", _("You may not do this for this record."),
                                     record=record)])


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """``start`` plus ``days`` working days (Monday–Friday), same local time of day."""
    current = timezone.localtime(start)
    added = 0
    while added < days:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def deadline_for(severity: str, opened_at: dt.datetime) -> dt.datetime:
    m = _models()
    return add_working_days(opened_at, m.DEADLINE_WORKING_DAYS.get(severity, 10))


def may_handle(user, case) -> bool:
    """The user may take handling steps on this case (assign, dispatch, verify, close …)."""
    if user is None:
        return True  # the system (periodic tasks, the engine)
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not role_allows(user.role, "case", HANDLE):
        return False
    if user.role == Role.CITY_SUPERVISOR:
        return True
    if user.role == Role.DISTRICT_SUPERVISOR:
        return case.district_id == user.district_id and case.escalated_at is None
    return False


def may_answer(user, case) -> bool:
    m = _models()
    return (user is not None and getattr(user, "is_authenticated", False) and user.is_active
            and role_allows(user.role, "case", ANSWER)
            and user.institution_id is not None
            and case.dispatched_to_id == user.institution_id
            and case.state == m.CaseState.DISPATCHED)


def may_comment(user, case) -> bool:
    if user is None or may_handle(user, case):
        return True
    return (user is not None and getattr(user, "is_authenticated", False)
            and role_allows(user.role, "case", ANSWER)
            and user.institution_id is not None and case.dispatched_to_id == user.institution_id)


def _require_handle(actor, case):
    if not may_handle(actor, case):
        _forbidden(type(case), str(case))


def _require_state(case, states, step_label):
    if case.state not in states:
        _refuse(type(case), "", "wrong_state", lazy_format(
            _("The case is %(state)s: it cannot be %(step)s now."),
            state=case.get_state_display(), step=step_label), str(case))


def _event(case, step, actor, from_state="", to_state="", comment=""):
    m = _models()
    return m.CaseEvent(case=case, step=step, actor=actor if getattr(
        actor, "is_authenticated", False) else None, from_state=from_state or "",
        to_state=to_state or "", comment=comment or "", at=timezone.now())


def _transition(actor, case, step, to_state, comment="", *, fields=()):
    """Save ``case`` in ``to_state`` with its changed ``fields``; history and audit."""
    from_state = case.state
    case.state = to_state
    case.save(update_fields=["state", "updated_at", *fields])
    _event(case, step, actor, from_state, to_state, comment).save()
    audit.record_transition(actor, case, from_state, to_state, comment=f"{step}: {comment}"[:2000])
    return case


def _locked(case):
    m = _models()
    return m.Case.objects.select_for_update().get(pk=case.pk)


def _period(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m")


def _number(prefix: str, obj) -> str:
    """"DC2026-000123": prefix, local year of opening, the id on six digits."""
    year = timezone.localtime(getattr(obj, "opened_at", None) or timezone.now()).year
    return f"{prefix}{year}-{obj.pk:06d}"


# --------------------------------------------------------------------------- attachments


def _check_upload(upload, model, field="files"):
    name = os.path.basename(getattr(upload, "name", "") or "")
    ext = os.path.splitext(name)[1].lower()
    problems = Problems(model)
    if not name or ext not in ALLOWED_EXTENSIONS:
        problems.add("", "file_type", lazy_format(
            _("“%(name)s”: this type of file is not accepted (allowed: %(allowed)s)."),
            name=name, allowed=", ".join(sorted(ALLOWED_EXTENSIONS))))
    if (upload.size or 0) > MAX_ATTACHMENT_BYTES:
        problems.add("", "file_too_large", lazy_format(
            _("“%(name)s” is larger than %(mb)s MB."), name=name,
            mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)))
    if not upload.size:
        problems.add("", "file_empty", lazy_format(_("“%(name)s” is empty."), name=name))
    for p in problems.items:
        p.field = field
    problems.raise_if_any()
    return name


def _attach(actor, files, *, case=None, item=None):
    m = _models()
    out = []
    for upload in files or ():
        name = _check_upload(upload, m.Attachment)
        att = m.Attachment(case=case, item=item, name=name[:200], size=upload.size,
                           content_type=(getattr(upload, "content_type", "") or "")[:100],
                           uploaded_by=actor if getattr(actor, "is_authenticated", False)
                           else None)
        att.file.save(name, upload, save=False)
        att.save()
        audit.record_created(actor, att)
        out.append(att)
    return out


def _validate_files(files, model):
    for upload in files or ():
        _check_upload(upload, model)


def attach_to_case(actor, case, files, comment=""):
    """Attach files to a case (handlers, or the institution it was dispatched to)."""
    m = _models()
    if not may_comment(actor, case):
        _forbidden(m.Case, str(case))
    if not files:
        _refuse(m.Case, "files", "required", _("Choose at least one file."), str(case))
    with transaction.atomic():
        atts = _attach(actor, files, case=case)
        _event(case, m.CaseStep.ATTACH, actor, case.state, case.state,
               comment or ", ".join(a.name for a in atts)).save()
    return atts


# --------------------------------------------------------------------------- opening


def open_case(actor, *, district, title, severity, origin=None, institution=None,
              description="", rule=None, period=""):
    """Open one case (by hand or from a failed spot check)."""
    m = _models()
    origin = origin or m.CaseOrigin.MANUAL
    if actor is not None and not may_handle(actor, m.Case(district=district)):
        _forbidden(m.Case)
    problems = Problems(m.Case)
    if not (title or "").strip():
        problems.add("title", "required", _("A title is required."))
    if severity not in Severity.values:
        problems.add("severity", "invalid", _("Choose a severity."))
    if institution is not None and institution.district_id != district.pk:
        problems.add("institution", "other_district",
                     _("The institution is not in the responsible district."))
    problems.raise_if_any()
    now = timezone.now()
    with transaction.atomic():
        case = m.Case.objects.create(
            district=district, institution=institution, origin=origin, rule=rule,
            period=period or _period(now), title=title.strip()[:200], description=description,
            severity=severity, opened_at=now, deadline=deadline_for(severity, now))
        case.number = _number("DC", case)
        case.save(update_fields=["number"])
        _event(case, m.CaseStep.OPEN, actor, "", case.state, description).save()
        audit.record_created(actor, case)
    return case


def _rule_name(rule) -> str:
    from skillguard.supervision.rules.base import RULES

    definition = RULES.get(rule.code)
    return str(definition.name) if definition is not None else rule.code


def route_warnings(warning_ids):
    """Open or join a case for each new warning (bulk; in the caller's transaction).

    Returns the cases touched. Warnings already in a case, or not open, are left alone."""
    with transaction.atomic():
        return _route_warnings(warning_ids)


def _route_warnings(warning_ids):
    from skillguard.supervision.models import RuleLevel, Warning, WarningStatus

    m = _models()
    ids = sorted({int(i) for i in warning_ids or ()})
    if not ids:
        return []
    warnings = list(Warning.objects.select_for_update(of=("self",))
                    .filter(pk__in=ids, status=WarningStatus.OPEN, case_link__isnull=True)
                    .select_related("rule", "institution", "district").order_by("id"))
    if not warnings:
        return []

    def key(rule_id, institution_id, district_id, period):
        return (rule_id, institution_id, None if institution_id else district_id, period)

    groups: dict[tuple, list] = {}
    for w in warnings:
        groups.setdefault(key(w.rule_id, w.institution_id, w.district_id, _period(w.occurred_at)),
                          []).append(w)
    # Concurrent runs routing warnings of the same key wait for each other (transaction-
    # scoped advisory locks, taken in a fixed order), so a key never opens two cases.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(%s::text[]) k "
                       "ORDER BY k", [sorted({f"cases.route:{k}" for k in groups})])
    existing = {}
    for case in (m.Case.objects.select_for_update()
                 .filter(origin=m.CaseOrigin.WARNING, state__in=m.OPEN_STATES,
                         rule_id__in={k[0] for k in groups}, period__in={k[3] for k in groups})
                 .order_by("id")):
        existing.setdefault(key(case.rule_id, case.institution_id, case.district_id,
                                case.period), case)

    now = timezone.now()
    new_cases, new_groups = [], []
    with translation.override("zh-hans"):
        for k, ws in groups.items():
            if k in existing:
                continue
            first = ws[0]
            severity = max((w.severity for w in ws), key=lambda s: m.SEVERITY_RANK.get(s, 0))
            place = first.institution.name if first.institution_id else first.district.name
            new_cases.append(m.Case(
                district_id=first.district_id, institution_id=first.institution_id,
                origin=m.CaseOrigin.WARNING, rule_id=first.rule_id, period=k[3],
                title=f"{_rule_name(first.rule)} · {place}"[:200],
                description=first.summary_zh, severity=severity, opened_at=now,
                deadline=deadline_for(severity, now),
                escalated_at=now if any(w.level == RuleLevel.CITY for w in ws) else None))
            new_groups.append(k)
    if new_cases:
        m.Case.objects.bulk_create(new_cases)
        for case in new_cases:
            case.number = _number("DC", case)
        m.Case.objects.bulk_update(new_cases, ["number"])
        existing.update(zip(new_groups, new_cases))
        audit.record_many_created(None, new_cases, comment="route_warnings")

    links, events, raised = [], [], {}
    created = {c.pk for c in new_cases}
    for k, ws in groups.items():
        case = existing[k]
        if case.pk in created:
            events.append(_event(case, m.CaseStep.OPEN, None, "", case.state,
                                 f"{len(ws)} warning(s)"))
        for w in ws:
            links.append(m.CaseWarning(case=case, warning=w))
            if case.pk not in created:
                events.append(_event(case, m.CaseStep.JOIN, None, case.state, case.state,
                                     f"#{w.pk} {w.summary_zh}"[:2000]))
                if m.SEVERITY_RANK.get(w.severity, 0) > m.SEVERITY_RANK.get(case.severity, 0):
                    case.severity = w.severity  # a graver warning: a shorter deadline too
                    case.deadline = min(case.deadline, deadline_for(w.severity, case.opened_at))
                    raised[case.pk] = case
    m.CaseWarning.objects.bulk_create(links)
    m.CaseEvent.objects.bulk_create(events)
    if raised:
        m.Case.objects.bulk_update(list(raised.values()), ["severity", "deadline"])
    Warning.objects.filter(pk__in=[w.pk for w in warnings]).update(status=WarningStatus.IN_CASE)
    return list({c.pk: c for c in existing.values()}.values())


# --------------------------------------------------------------------------- transitions


def _check_assignee(case, assignee, escalated: bool):
    m = _models()
    ok = (assignee is not None and assignee.is_active and (
        assignee.role == Role.CITY_SUPERVISOR
        or (not escalated and assignee.role == Role.DISTRICT_SUPERVISOR
            and assignee.district_id == case.district_id)))
    if not ok:
        _refuse(m.Case, "assignee", "invalid_assignee", _(
            "Choose a supervisor of the case's district (or of the city for an escalated "
            "case)."), str(case))


def assign_case(actor, case, *, assignee, comment=""):
    m = _models()
    with transaction.atomic():
        case = _locked(case)
        _require_handle(actor, case)
        _require_state(case, m.OPEN_STATES, _("assigned"))
        _check_assignee(case, assignee, case.escalated_at is not None)
        case.assignee = assignee
        to = m.CaseState.ASSIGNED if case.state == m.CaseState.NEW else case.state
        note = lazy_format(_("Assigned to %(user)s."), user=assignee.display_name or assignee)
        return _transition(actor, case, m.CaseStep.ASSIGN, to,
                           f"{note} {comment or ''}".strip(), fields=["assignee"])


def dispatch_case(actor, case, *, request_text, deadline, comment=""):
    m = _models()
    with transaction.atomic():
        case = _locked(case)
        _require_handle(actor, case)
        _require_state(case, (m.CaseState.ASSIGNED, m.CaseState.ANSWERED), _("dispatched"))
        problems = Problems(m.Case, str(case))
        if case.institution_id is None:
            problems.add("institution", "no_institution",
                         _("The case names no institution to dispatch it to."))
        if not (request_text or "").strip():
            problems.add("request_text", "required",
                         _("Say what the institution must explain or provide."))
        if deadline is None:
            problems.add("answer_deadline", "required", _("A deadline is required."))
        elif deadline <= timezone.now():
            problems.add("answer_deadline", "in_past", _("The deadline must be in the future."))
        problems.raise_if_any()
        case.request_text = request_text.strip()
        case.answer_deadline = deadline
        case.dispatched_to_id = case.institution_id
        return _transition(actor, case, m.CaseStep.DISPATCH, m.CaseState.DISPATCHED,
                           f"{case.request_text}\n{comment or ''}".strip(),
                           fields=["request_text", "answer_deadline", "dispatched_to"])


def answer_case(actor, case, *, explanation, files=()):
    m = _models()
    with transaction.atomic():
        case = _locked(case)
        if not may_answer(actor, case):
            if case.state != m.CaseState.DISPATCHED and actor is not None and \
                    actor.institution_id and actor.institution_id == case.dispatched_to_id:
                _require_state(case, (m.CaseState.DISPATCHED,), _("answered"))
            _forbidden(m.Case, str(case))
        if not (explanation or "").strip():
            _refuse(m.Case, "answer_text", "required", _("An explanation is required."),
                    str(case))
        _validate_files(files, m.Attachment)
        case.answer_text = explanation.strip()
        case.answered_at = timezone.now()
        _attach(actor, files, case=case)
        return _transition(actor, case, m.CaseStep.ANSWER, m.CaseState.ANSWERED,
                           case.answer_text, fields=["answer_text", "answered_at"])


def _clean_pairs(case, pairs, field="extra_pairs"):
    """(enrolment_id, session_id) pairs of the case's district, each session of the
    enrolment's class; refused otherwise (one query)."""
    from skillguard.registry.models import Enrolment, Session

    m = _models()
    clean = set()
    problems = Problems(m.Case, str(case))
    for pair in pairs or ():
        try:
            e, s = (int(x) for x in pair)
        except (TypeError, ValueError):
            problems.add(field, "invalid_pair",
                         _("Each pair must be an enrolment id and a session id."))
            problems.raise_if_any()
        clean.add((e, s))
    if not clean:
        return []
    enrolments = dict(Enrolment.objects.filter(pk__in={e for e, _s in clean},
                                               district_id=case.district_id)
                      .values_list("pk", "training_class_id"))
    sessions = dict(Session.objects.filter(pk__in={s for _e, s in clean})
                    .values_list("pk", "training_class_id"))
    for e, s in sorted(clean):
        if e not in enrolments or sessions.get(s) != enrolments[e]:
            problems.add(field, "unknown_pair", lazy_format(
                _("Enrolment %(e)s and session %(s)s are not a session of that enrolment in "
                  "the case's district."), e=e, s=s))
    problems.raise_if_any()
    return sorted([list(p) for p in clean])


def verify_case(actor, case, *, note, extra_pairs=()):
    m = _models()
    with transaction.atomic():
        case = _locked(case)
        _require_handle(actor, case)
        _require_state(case, (m.CaseState.ANSWERED, m.CaseState.ASSIGNED), _("verified"))
        if not (note or "").strip():
            _refuse(m.Case, "verification_note", "required",
                    _("Write down what was verified."), str(case))
        pairs = _clean_pairs(case, extra_pairs)
        case.verification_note = note.strip()
        case.verified_at = timezone.now()
        case.extra_pairs = sorted({tuple(p) for p in [*case.extra_pairs, *pairs]})
        case.extra_pairs = [list(p) for p in case.extra_pairs]
        return _transition(actor, case, m.CaseStep.VERIFY, m.CaseState.VERIFIED,
                           case.verification_note,
                           fields=["verification_note", "verified_at", "extra_pairs"])


def affected_pairs(case) -> list[tuple[int, int]]:
    """The union of the linked warnings' affected hours and the verifier's pairs."""
    from skillguard.supervision.models import Warning

    pairs = set()
    for hours in Warning.objects.filter(case_link__case=case).values_list("affected_hours",
                                                                         flat=True):
        for pair in hours or ():
            try:
                pairs.add((int(pair[0]), int(pair[1])))
            except (TypeError, ValueError, IndexError):
                continue
    for pair in case.extra_pairs or ():
        pairs.add((int(pair[0]), int(pair[1])))
    return sorted(pairs)


def close_case(actor, case, *, conclusion, comment, extra_pairs=()):
    from skillguard.attendance import services as attendance
    from skillguard.supervision.models import Warning, WarningStatus

    m = _models()
    with transaction.atomic():
        case = _locked(case)
        _require_handle(actor, case)
        _require_state(case, (m.CaseState.VERIFIED,), _("closed"))
        problems = Problems(m.Case, str(case))
        if conclusion not in m.Conclusion.values:
            problems.add("conclusion", "required", _("Choose a conclusion."))
        if not (comment or "").strip():
            problems.add("conclusion_comment", "required", _("Explain the conclusion."))
        problems.raise_if_any()
        pairs = _clean_pairs(case, extra_pairs)
        if pairs:
            case.extra_pairs = [list(p) for p in sorted(
                {tuple(p) for p in [*case.extra_pairs, *pairs]})]
        case.conclusion = conclusion
        case.conclusion_comment = comment.strip()
        case.closed_at = timezone.now()
        case.closed_by = actor if getattr(actor, "is_authenticated", False) else None
        _transition(actor, case, m.CaseStep.CLOSE, m.CaseState.CLOSED, case.conclusion_comment,
                    fields=["conclusion", "conclusion_comment", "closed_at", "closed_by",
                            "extra_pairs"])
        Warning.objects.filter(case_link__case=case).update(status=WarningStatus.CLOSED)
        if conclusion == m.Conclusion.CONFIRMED_FRAUD:
            attendance.exclude_hours(actor, case_id=case.pk, pairs=affected_pairs(case),
                                     reason=f"{case.number}: {case.conclusion_comment}")
        return case


def escalate_case(actor, case, *, reason):
    m = _models()
    with transaction.atomic():
        case = _locked(case)
        _require_handle(actor, case)
        _require_state(case, m.OPEN_STATES, _("escalated"))
        if case.escalated_at is not None:
            _refuse(m.Case, "", "already_escalated", _("The case is already with the city."),
                    str(case))
        if not (reason or "").strip():
            _refuse(m.Case, "reason", "required", _("Give a reason for the escalation."),
                    str(case))
        case.escalated_at = timezone.now()
        case.save(update_fields=["escalated_at", "updated_at"])
        _event(case, m.CaseStep.ESCALATE, actor, case.state, case.state, reason.strip()).save()
        audit.record_transition(actor, case, "district", "city", comment=reason.strip())
        return case


def reopen_case(actor, case, *, reason):
    from skillguard.attendance import services as attendance
    from skillguard.supervision.models import Warning, WarningStatus

    m = _models()
    with transaction.atomic():
        case = _locked(case)
        _require_handle(actor, case)
        _require_state(case, (m.CaseState.CLOSED,), _("reopened"))
        if not (reason or "").strip():
            _refuse(m.Case, "reason", "required", _("Give a reason for reopening."), str(case))
        was_fraud = case.conclusion == m.Conclusion.CONFIRMED_FRAUD
        now = timezone.now()
        case.conclusion, case.closed_at, case.closed_by = "", None, None
        case.deadline, case.overdue = deadline_for(case.severity, now), False
        to = m.CaseState.ASSIGNED if case.assignee_id else m.CaseState.NEW
        _transition(actor, case, m.CaseStep.REOPEN, to, reason.strip(),
                    fields=["conclusion", "closed_at", "closed_by", "deadline", "overdue"])
        Warning.objects.filter(case_link__case=case).update(status=WarningStatus.IN_CASE)
        if was_fraud:
            attendance.restore_hours(actor, case_id=case.pk)
        return case


def comment_case(actor, case, *, text, files=()):
    m = _models()
    if not may_comment(actor, case):
        _forbidden(m.Case, str(case))
    if not (text or "").strip():
        _refuse(m.Case, "text", "required", _("Write a comment."), str(case))
    _validate_files(files, m.Attachment)
    with transaction.atomic():
        event = _event(case, m.CaseStep.COMMENT, actor, case.state, case.state, text.strip())
        event.save()
        audit.record_created(actor, event)
        _attach(actor, files, case=case)
    return event


def escalate_overdue(now=None) -> int:
    """Mark open cases past their deadline overdue and escalate them to the city.

    Idempotent: a case already marked overdue and escalated is left alone."""
    m = _models()
    now = now or timezone.now()
    with transaction.atomic():
        due = list(m.Case.objects.select_for_update(skip_locked=True)
                   .filter(state__in=m.OPEN_STATES, deadline__lt=now)
                   .filter(Q(overdue=False) | Q(escalated_at__isnull=True)).order_by("id"))
        if not due:
            return 0
        events = []
        for case in due:
            if not case.overdue:
                case.overdue = True
                due_at = timezone.localtime(case.deadline)
                events.append(_event(case, m.CaseStep.OVERDUE, None, case.state, case.state,
                                     f"deadline {due_at:%Y-%m-%d %H:%M}"))
            if case.escalated_at is None:
                case.escalated_at = now
                events.append(_event(case, m.CaseStep.ESCALATE, None, case.state, case.state,
                                     "overdue"))
        m.Case.objects.bulk_update(due, ["overdue", "escalated_at"])
        m.CaseEvent.objects.bulk_create(events)
        for case in due:
            audit.record_transition(None, case, "district", "city", comment="overdue")
    return len(due)


# --------------------------------------------------------------------------- spot checks

_DRAW_SQL = """
WITH pop AS ({population}),
wt AS (
  SELECT w.id, w.institution_id, w.evidence,
         CASE w.severity WHEN 'critical' THEN 5 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                         ELSE 1 END AS weight
  FROM supervision_warning w WHERE w.status IN ('open', 'in_case')),
inst AS (SELECT institution_id, SUM(weight) AS score FROM wt
         WHERE institution_id IS NOT NULL GROUP BY institution_id),
refs AS (
  SELECT kind, ref, SUM(weight) AS score FROM (
    SELECT DISTINCT wt.id, wt.weight, COALESCE(e->>0, e->>'kind') AS kind,
           COALESCE(e->>1, e->>'id') AS ref
    FROM wt, jsonb_array_elements(CASE WHEN jsonb_typeof(wt.evidence) = 'array'
                                       THEN wt.evidence ELSE '[]'::jsonb END) e) x
  WHERE kind IN ('class', 'session') GROUP BY kind, ref),
scored AS (
  SELECT p.id, p.district_id, p.institution_id, p.training_class_id,
         COALESCE(i.score, 0) + 2 * COALESCE(rc.score, 0) + 2 * COALESCE(rs.score, 0) AS risk
  FROM pop p
  LEFT JOIN inst i ON i.institution_id = p.institution_id
  LEFT JOIN refs rc ON rc.kind = 'class' AND rc.ref = p.training_class_id::text
  LEFT JOIN refs rs ON rs.kind = 'session' AND rs.ref = p.id::text)
SELECT id, district_id, institution_id, training_class_id, risk, COUNT(*) OVER () AS population
FROM scored WHERE risk >= %s
ORDER BY md5(%s || id::text), id
LIMIT %s
"""


def _population(actor, *, kind, district, institution, occupation, date_from, date_to):
    from skillguard.registry.models import Session

    m = _models()
    qs = Session.objects.restrict(actor) if actor is not None else Session.objects.all()
    if district is not None:
        qs = qs.filter(district=district)
    if institution is not None:
        qs = qs.filter(training_class__institution=institution)
    if occupation is not None:
        qs = qs.filter(training_class__course__occupation=occupation)
    if date_from is not None:
        qs = qs.filter(starts_at__date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(starts_at__date__lte=date_to)
    if kind == m.SpotCheckKind.CLASS_OPENING:
        qs = qs.filter(sequence=1)  # did the class really open?
    return qs.values("id", "district_id", "training_class__institution_id", "training_class_id")


def sample_sessions(actor, *, kind, seed, sample_size, min_risk=0, district=None,
                    institution=None, occupation=None, date_from=None, date_to=None):
    """[(session_id, district_id, institution_id, class_id, risk)], population — the
    reproducible sample (see the module's docstring)."""
    qs = _population(actor, kind=kind, district=district, institution=institution,
                     occupation=occupation, date_from=date_from, date_to=date_to)
    sql, params = qs.query.sql_with_params()
    inner = (f"SELECT s.id, s.district_id, s.institution_id, s.training_class_id FROM ("
             f"{sql}) AS s(id, district_id, institution_id, training_class_id)")
    with connection.cursor() as cursor:
        cursor.execute(_DRAW_SQL.format(population=inner),
                       [*params, int(min_risk or 0), str(seed), int(sample_size)])
        rows = cursor.fetchall()
    population = rows[0][5] if rows else 0
    return [r[:5] for r in rows], population


def draw_spot_check(actor, *, kind, sample_size, seed="", district=None, institution=None,
                    occupation=None, date_from=None, date_to=None, min_risk=0):
    from skillguard.registry.models import Enrolment, EnrolmentStatus

    m = _models()
    problems = Problems(m.SpotCheck)
    if actor is not None and not (actor.is_superuser
                                  or role_allows(actor.role, "spotcheck", "add")):
        _forbidden(m.SpotCheck)
    if actor is not None and not actor.is_superuser and actor.role == Role.DISTRICT_SUPERVISOR:
        if district is not None and district.pk != actor.district_id:
            problems.add("district", "out_of_scope", _("Choose your own district."))
        district = district or actor.district
    if kind not in m.SpotCheckKind.values:
        problems.add("kind", "required", _("Choose what the check verifies."))
    if not sample_size or sample_size < 1 or sample_size > MAX_SAMPLE:
        problems.add("sample_size", "out_of_range", lazy_format(
            _("Draw between 1 and %(max)s sessions."), max=MAX_SAMPLE))
    if date_from and date_to and date_from > date_to:
        problems.add("date_to", "before_start", _("The end of the range is before its start."))
    if institution is not None and district is not None and institution.district_id != district.pk:
        problems.add("institution", "other_district",
                     _("The institution is not in the chosen district."))
    if min_risk is not None and min_risk < 0:
        problems.add("min_risk", "out_of_range", _("Must be at least 0."))
    problems.raise_if_any()
    seed = (seed or "").strip() or secrets.token_hex(8)
    rows, population = sample_sessions(
        actor, kind=kind, seed=seed, sample_size=sample_size, min_risk=min_risk or 0,
        district=district, institution=institution, occupation=occupation,
        date_from=date_from, date_to=date_to)
    with transaction.atomic():
        check = m.SpotCheck.objects.create(
            kind=kind, district=district, institution=institution, occupation=occupation,
            date_from=date_from, date_to=date_to, min_risk=min_risk or 0,
            sample_size=sample_size, seed=seed, population=population,
            created_by=actor if getattr(actor, "is_authenticated", False) else None)
        check.number = f"SC{timezone.localtime(check.created_at).year}-{check.pk:06d}"
        check.save(update_fields=["number"])
        enrolled = dict(Enrolment.objects.filter(
            training_class_id__in={r[3] for r in rows}, status=EnrolmentStatus.ENROLLED)
            .values("training_class_id").annotate(n=Count("id"))
            .values_list("training_class_id", "n"))
        m.SpotCheckItem.objects.bulk_create([
            m.SpotCheckItem(spot_check=check, rank=n + 1, session_id=sid, district_id=did,
                            institution_id=iid, risk_score=risk,
                            enrolled_count=enrolled.get(cid, 0))
            for n, (sid, did, iid, cid, risk) in enumerate(rows)])
        audit.record_created(actor, check)
    return check


def may_inspect(user, item) -> bool:
    if user is None:
        return True
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not role_allows(user.role, "spotcheck", "change"):
        return False
    if user.role == Role.DISTRICT_SUPERVISOR:
        return item.district_id == user.district_id
    return user.role == Role.CITY_SUPERVISOR


def record_spot_check_result(actor, item, *, outcome, findings, headcount_observed=None,
                             files=()):
    """The inspector's record of one sampled session; a fail opens a case (origin spot
    check) routed to the session's district."""
    m = _models()
    with transaction.atomic():
        item = m.SpotCheckItem.objects.select_for_update().select_related(
            "spot_check", "session__training_class", "institution").get(pk=item.pk)
        if not may_inspect(actor, item):
            _forbidden(m.SpotCheckItem, str(item))
        problems = Problems(m.SpotCheckItem, str(item))
        if item.outcome != m.SpotOutcome.PENDING:
            problems.add("outcome", "already_recorded", _("This session has been checked."))
        if outcome not in (m.SpotOutcome.PASS, m.SpotOutcome.FAIL, m.SpotOutcome.UNVERIFIABLE):
            problems.add("outcome", "required", _("Choose an outcome."))
        if not (findings or "").strip():
            problems.add("findings", "required", _("Write down the findings."))
        if headcount_observed is not None and headcount_observed < 0:
            problems.add("headcount_observed", "out_of_range", _("Must be at least 0."))
        problems.raise_if_any()
        _validate_files(files, m.Attachment)
        before = audit.snapshot(item)
        item.outcome, item.findings = outcome, findings.strip()
        item.headcount_observed = headcount_observed
        item.inspector = actor if getattr(actor, "is_authenticated", False) else None
        item.checked_at = timezone.now()
        if outcome == m.SpotOutcome.FAIL:
            session = item.session
            with translation.override("zh-hans"):
                title = str(lazy_format(_("Spot check %(check)s failed: %(cls)s session %(n)s"),
                                        check=item.spot_check, cls=session.training_class.code,
                                        n=session.sequence))
            item.case = open_case(
                None, district=item.district, institution=item.institution, title=title,
                severity=Severity.HIGH, origin=m.CaseOrigin.SPOT_CHECK,
                description=item.findings)
        item.save()
        audit.record_updated(actor, item, before)
        _attach(actor, files, item=item)
        if item.case_id:
            m.Attachment.objects.filter(item=item).update(case=item.case)
        return item

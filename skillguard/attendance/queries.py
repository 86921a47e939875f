"""Scoped reads of attendance evidence and of the hours computed from it.

``explain_enrolments`` is what the trainee page and the hours API show: per enrolment the
totals, the subsidy verdict and, per session, every check-in / check-out with whether it
counted and why not."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.http import Http404
from django.utils.translation import gettext_lazy as _

from skillguard.attendance import hours
from skillguard.attendance.models import (
    CheckIn,
    CheckMethod,
    EnrolmentHours,
    HoursFlag,
    SessionAttendance,
)
from skillguard.core.scoping import access, can


def checkins_for(user, *, session_id=None, trainee_id=None, include_superseded=False):
    qs = CheckIn.objects.restrict(user, "view")
    if not include_superseded:
        qs = qs.filter(superseded=False)
    if session_id is not None:
        qs = qs.filter(session_id=session_id)
    if trainee_id is not None:
        qs = qs.filter(trainee_id=trainee_id)
    return qs.order_by("occurred_at", "id")


# Why a piece of evidence did not count, in the reader's language.
NOT_COUNTED = {
    "superseded": _("replaced by a later version of the same record"),
    "skewed": _("device clock ahead of the server (clock skew)"),
    "outside_geofence": _("outside the venue's geofence"),
    "outside_window": _("outside the check-in / check-out window"),
}


def may_view_hours(user) -> bool:
    return can(user, "view", EnrolmentHours)


def access_enrolment_hours(user, enrolment_id):
    """The enrolment (404 when missing or out of scope; the same 404 when the role sees
    enrolments but not their hours)."""
    from skillguard.registry.models import Enrolment

    enrolment = access(Enrolment, user, enrolment_id, queryset=Enrolment.objects.select_related(
        "training_class__course__occupation", "training_class__institution", "trainee"))
    if not may_view_hours(user):
        raise Http404(_("No such record, or you may not see it."))
    return enrolment


@dataclass
class SessionExplained:
    row: SessionAttendance
    sequence: int | None
    topic: str
    evidence: list[dict] = field(default_factory=list)

    @property
    def flags(self):
        return [{"code": f, "label": HoursFlag(f).label if f in HoursFlag.values else f}
                for f in self.row.flags]


@dataclass
class EnrolmentExplained:
    enrolment: object
    totals: EnrolmentHours | None
    verdict: object | None
    sessions: list[SessionExplained] = field(default_factory=list)


def explain_enrolments(user, enrolments, *, with_evidence: bool = True) -> list[EnrolmentExplained]:
    """Totals, verdicts, session rows and evidence of these (already scoped) enrolments,
    in a fixed number of queries."""
    from skillguard.registry.models import Session
    from skillguard.subsidies.models import SubsidyVerdict

    enrolments = list(enrolments)
    if not enrolments or not may_view_hours(user):
        return []
    ids = [e.pk for e in enrolments]
    totals = {h.enrolment_id: h for h in
              EnrolmentHours.objects.restrict(user).filter(enrolment_id__in=ids)}
    verdicts = {v.enrolment_id: v for v in
                SubsidyVerdict.objects.restrict(user).filter(enrolment_id__in=ids)}
    rows = list(SessionAttendance.objects.restrict(user).filter(enrolment_id__in=ids)
                .order_by("starts_at", "session_id"))
    sessions = {pk: (seq, topic) for pk, seq, topic in Session.objects.filter(
        pk__in={r.session_id for r in rows}).values_list("pk", "sequence", "topic")}
    evidence: dict[tuple[int, int], list[dict]] = {}
    if with_evidence and can(user, "view", CheckIn):
        for ev in hours.evidence_rows(ids):
            evidence.setdefault((ev["enrolment_id"], ev["session_id"]), []).append(ev)
    out = {e.pk: EnrolmentExplained(e, totals.get(e.pk), verdicts.get(e.pk)) for e in enrolments}
    for r in rows:
        items = evidence.get((r.enrolment_id, r.session_id), [])
        for ev in items:
            ev["used"] = ev["counts"] and (
                (ev["kind"] == "in" and ev["occurred_at"] == r.first_in)
                or (ev["kind"] == "out" and ev["occurred_at"] == r.last_out))
            ev["why_not"] = [NOT_COUNTED[c] for c in ev["not_counted"]]
            ev["method_label"] = (CheckMethod(ev["method"]).label
                                  if ev["method"] in CheckMethod.values else ev["method"])
        seq, topic = sessions.get(r.session_id, (None, ""))
        out[r.enrolment_id].sessions.append(SessionExplained(r, seq, topic, items))
    return [out[e.pk] for e in enrolments]

"""Scoped reads of subsidy verdicts."""
from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _

from skillguard.core.errors import both_languages
from skillguard.core.scoping import access, can
from skillguard.subsidies.models import SubsidyVerdict
from skillguard.subsidies.rules import reason_text


def access_enrolment_verdict(user, enrolment_id):
    """(enrolment, verdict or None); 404 when the enrolment is missing or out of scope,
    the same 404 when the role sees enrolments but not verdicts."""
    from skillguard.registry.models import Enrolment

    enrolment = access(Enrolment, user, enrolment_id,
                       queryset=Enrolment.objects.select_related("training_class__course"))
    if not can(user, "view", SubsidyVerdict):
        raise Http404(_("No such record, or you may not see it."))
    verdict = SubsidyVerdict.objects.restrict(user).filter(enrolment_id=enrolment.pk).first()
    return enrolment, verdict


def reasons_out(verdict) -> list[dict]:
    if verdict is None:
        return []
    return [{"code": r.get("code", ""), "params": r.get("params") or {},
             **both_languages(reason_text(r))} for r in verdict.reasons]

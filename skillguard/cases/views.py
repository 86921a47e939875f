"""Pages of case handling and spot checks (thin: queries read, services write)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from skillguard.cases import forms, queries, services
from skillguard.cases.models import Case, CaseState, SpotCheck
from skillguard.cases.tables import CaseTable, SpotCheckTable
from skillguard.core.errors import BusinessRuleError
from skillguard.core.pages import action, form_page, list_page, require
from skillguard.core.scoping import can

STEP_LABELS = {
    "assign": _("Assign"), "dispatch": _("Dispatch to the institution"),
    "answer": _("Answer"), "verify": _("Verify"), "close": _("Close the case"),
    "escalate": _("Escalate to the city"), "reopen": _("Reopen"), "comment": _("Comment"),
}


def _refused(request) -> int:
    """A refused form: 400, except for htmx, which swaps only 2xx answers (the page with
    the problems next to the fields replaces <main>)."""
    return 200 if request.headers.get("HX-Request") == "true" else 400


# --------------------------------------------------------------------------- cases


@login_required
@require_safe
def case_list(request):
    user = request.user
    require(user, "view", Case)
    filter_form = forms.CaseFilter(request.GET or None, user=user)
    filters = filter_form.filters() if request.GET else {}
    qs = queries.cases(user, **filters)
    table = CaseTable(qs, request)
    actions = []
    if can(user, "view", SpotCheck):
        actions.append(action(_("Spot checks"), reverse("cases:spotcheck_list")))
    return list_page(
        request, title=_("Cases"), table=table, filter_form=filter_form, actions=actions,
        intro=_("Warnings, failed spot checks and matters opened by hand that a supervisor "
                "must handle (督导处置)."),
        results_template="cases/_results.html",
        context={"counts": queries.counts(qs, by_district=user.is_city_wide)})


def _steps(user, case) -> list[str]:
    handle = services.may_handle(user, case)
    open_ = case.state != CaseState.CLOSED
    steps = []
    if handle and open_:
        steps.append("assign")
    if handle and case.state in (CaseState.ASSIGNED, CaseState.ANSWERED) and case.institution_id:
        steps.append("dispatch")
    if services.may_answer(user, case):
        steps.append("answer")
    if handle and case.state in (CaseState.ANSWERED, CaseState.ASSIGNED):
        steps.append("verify")
    if handle and case.state == CaseState.VERIFIED:
        steps.append("close")
    if handle and open_ and case.escalated_at is None:
        steps.append("escalate")
    if handle and not open_:
        steps.append("reopen")
    if services.may_comment(user, case):
        steps.append("comment")
    return steps


def _form(step, case, data=None, files=None):
    cls = forms.STEP_FORMS[step]
    kwargs = {"case": case} if step == "assign" else {}
    return cls(data, files, prefix=step, **kwargs)


EVIDENCE_PAGES = {"class": "registry:class_detail", "trainee": "registry:trainee_detail",
                  "institution": "registry:institution_detail",
                  "teacher": "registry:teacher_detail", "session": None}


def _evidence_refs(evidence) -> list[dict]:
    """A warning's evidence refs, linked to the registry page where there is one."""
    out = []
    for ref in evidence or ():
        try:
            kind, ident = ref[0], ref[1]
        except (TypeError, IndexError, KeyError):
            continue
        url = None
        if EVIDENCE_PAGES.get(kind):
            try:
                url = reverse(EVIDENCE_PAGES[kind], args=[int(ident)])
            except (NoReverseMatch, TypeError, ValueError):
                url = None
        out.append({"kind": kind, "id": ident, "url": url})
    return out


def _case_page(request, case, *, bound=None, status=200):
    user = request.user
    step_forms = []
    for step in _steps(user, case):
        form = bound if bound is not None and bound.prefix == step else _form(step, case)
        step_forms.append({"step": step, "label": STEP_LABELS[step], "form": form,
                           "open": bound is not None and bound.prefix == step})
    warnings = list(queries.linked_warnings(case))
    for w in warnings:
        w.refs = _evidence_refs(w.evidence)
    context = {
        "case": case, "warnings": warnings, "events": queries.history(case),
        "attachments": queries.attachments(case), "step_forms": step_forms,
        "pairs": services.affected_pairs(case) if services.may_handle(user, case) else [],
        "spot_items": case.spot_check_items.select_related("spot_check", "session"),
        "may_handle": services.may_handle(user, case),
    }
    return render(request, "cases/case_detail.html", context, status=status)


@login_required
@require_safe
def case_detail(request, pk):
    return _case_page(request, queries.access_case(request.user, pk))


@login_required
@require_POST
def case_act(request, pk):
    user = request.user
    case = queries.access_case(user, pk)
    step = request.POST.get("step", "")
    if step not in forms.STEP_FORMS:
        return _case_page(request, case, status=400)
    form = _form(step, case, request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if step == "assign":
                services.assign_case(user, case, assignee=data["assignee"],
                                     comment=data["comment"])
            elif step == "dispatch":
                services.dispatch_case(user, case, request_text=data["request_text"],
                                       deadline=data["answer_deadline"])
            elif step == "answer":
                services.answer_case(user, case, explanation=data["answer_text"],
                                     files=data["files"])
            elif step == "verify":
                services.verify_case(user, case, note=data["verification_note"],
                                     extra_pairs=data["extra_pairs"])
            elif step == "close":
                services.close_case(user, case, conclusion=data["conclusion"],
                                    comment=data["conclusion_comment"],
                                    extra_pairs=data["extra_pairs"])
            elif step == "escalate":
                services.escalate_case(user, case, reason=data["reason"])
            elif step == "reopen":
                services.reopen_case(user, case, reason=data["reason"])
            elif step == "comment":
                services.comment_case(user, case, text=data["text"], files=data["files"])
        except BusinessRuleError as err:
            if err.problems and all(p.code == "forbidden" for p in err.problems):
                raise PermissionDenied
            form.add_problems(err)
        else:
            case.refresh_from_db()
            messages.success(request, gettext("%(case)s: %(step)s — done. State: %(state)s")
                             % {"case": case.number, "step": STEP_LABELS[step],
                                "state": case.get_state_display()})
            return redirect("cases:case_detail", case.pk)
    return _case_page(request, case, bound=form, status=_refused(request))


@login_required
@require_safe
def attachment_download(request, pk):
    att = queries.access_attachment(request.user, pk)
    try:
        handle = att.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("No such record, or you may not see it."))
    return FileResponse(handle, as_attachment=True, filename=att.name)


# --------------------------------------------------------------------------- spot checks


@login_required
@require_safe
def spotcheck_list(request):
    user = request.user
    require(user, "view", SpotCheck)
    filter_form = forms.SpotCheckFilter(request.GET or None, user=user)
    filters = filter_form.filters() if request.GET else {}
    table = SpotCheckTable(queries.spot_checks(user, **filters), request)
    actions = [action(_("Cases"), reverse("cases:case_list"))]
    if can(user, "add", SpotCheck):
        actions.append(action(_("Draw a sample"), reverse("cases:spotcheck_create"), "primary"))
    return list_page(request, title=_("Spot checks"), table=table, filter_form=filter_form,
                     actions=actions, intro=_(
                         "Reproducible random samples of sessions for attendance and "
                         "class-opening verification (抽查)."))


@login_required
def spotcheck_create(request):
    user = request.user
    require(user, "add", SpotCheck)
    form = forms.SpotCheckForm(request.POST if request.method == "POST" else None, user=user)

    def save(data):
        return services.draw_spot_check(
            user, kind=data["kind"], sample_size=data["sample_size"], seed=data["seed"],
            district=data.get("district"), institution=data.get("institution"),
            occupation=data.get("occupation"), date_from=data.get("date_from"),
            date_to=data.get("date_to"), min_risk=data.get("min_risk") or 0)

    return form_page(request, form, title=_("Draw a spot-check sample"), save=save,
                     success=lambda check: reverse("cases:spotcheck_detail", args=[check.pk]),
                     cancel_url=reverse("cases:spotcheck_list"))


def _spotcheck_page(request, check, *, bound=None, bound_item=None, status=200):
    user = request.user
    rows = []
    for item in queries.items(check):
        form = None
        if item.outcome == "pending" and services.may_inspect(user, item):
            form = (bound if bound_item == item.pk else
                    forms.ItemResultForm(prefix=f"item{item.pk}"))
        rows.append({"item": item, "form": form})
    return render(request, "cases/spotcheck_detail.html",
                  {"check": check, "rows": rows}, status=status)


@login_required
@require_safe
def spotcheck_detail(request, pk):
    return _spotcheck_page(request, queries.access_spot_check(request.user, pk))


@login_required
@require_POST
def spotcheckitem_result(request, pk):
    user = request.user
    item = queries.access_item(user, pk)
    check = item.spot_check
    form = forms.ItemResultForm(request.POST, request.FILES, prefix=f"item{item.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            item = services.record_spot_check_result(
                user, item, outcome=data["outcome"], findings=data["findings"],
                headcount_observed=data["headcount_observed"], files=data["files"])
        except BusinessRuleError as err:
            if err.problems and all(p.code == "forbidden" for p in err.problems):
                raise PermissionDenied
            form.add_problems(err)
        else:
            if item.case_id:
                messages.warning(request, gettext("Recorded. The failed check opened case "
                                                  "%(case)s.") % {"case": item.case.number})
            else:
                messages.success(request, gettext("Recorded."))
            return redirect(reverse("cases:spotcheck_detail", args=[check.pk])
                            + f"#item-{item.pk}")
    return _spotcheck_page(request, check, bound=form, bound_item=item.pk,
                           status=_refused(request))

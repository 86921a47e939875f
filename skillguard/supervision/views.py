"""Supervision pages: the rule catalogue, a rule (parameters, versions, runs, back-tests),
warnings (filters, counts, CSV export) and a warning."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from skillguard.core.pages import action, form_page, list_page, require, wants_fragment
from skillguard.core.scoping import can
from skillguard.registry.models import District
from skillguard.registry.tables import Column, Table
from skillguard.supervision import engine, forms, queries, services
from skillguard.supervision.models import Rule, RunMode, RunStatus, Warning


def _defn_name(code):
    defn = engine.definition(code)
    return defn.name if defn else code


class RuleTable(Table):
    row_template = "supervision/rows/rule.html"
    default_order = ("code",)
    columns = {
        "code": Column(_("Code"), "code", "mono"),
        "name": Column(_("Name")),
        "severity": Column(_("Severity"), "current_version__severity"),
        "level": Column(_("Level"), "current_version__level"),
        "period": Column(pgettext_lazy("rule schedule", "Period"), "current_version__period"),
        "enabled": Column(_("Status"), "enabled"),
        "version": Column(_("Version"), "", "num"),
        "last_run": Column(_("Last run")),
        "open": Column(_("Open warnings"), "open_warnings", "num"),
    }

    def __init__(self, queryset, request):
        super().__init__(queryset, request)
        for rule in self.page.object_list:
            rule.definition = engine.definition(rule.code)
            rule.last_run_label = (RunStatus(rule.last_run_status).label
                                   if rule.last_run_status in RunStatus.values else "")


class WarningTable(Table):
    row_template = "supervision/rows/warning.html"
    default_order = ("-first_seen_at", "-pk")
    columns = {
        "first_seen": Column(_("First raised"), "first_seen_at"),
        "rule": Column(_("Rule"), "rule__code"),
        "severity": Column(_("Severity"), "severity"),
        "level": Column(_("Level"), "level"),
        "district": Column(_("District"), "district__sort_order"),
        "institution": Column(_("Institution"), "institution__name"),
        "summary": Column(_("Summary")),
        "seen": Column(_("Times seen"), "seen_count", "num"),
        "status": Column(_("Status"), "status"),
    }
    export_fields = (
        (_("Warning"), lambda o: o.pk), (_("Rule"), lambda o: o.rule.code),
        (_("Severity"), lambda o: o.get_severity_display()),
        (_("Level"), lambda o: o.get_level_display()),
        (_("District"), lambda o: o.district.name),
        (_("Institution"), lambda o: o.institution.name if o.institution_id else ""),
        (_("Summary"), lambda o: o.summary),
        (_("Occurred"), lambda o: timezone.localtime(o.occurred_at).strftime("%Y-%m-%d %H:%M")),
        (_("First raised"),
         lambda o: timezone.localtime(o.first_seen_at).strftime("%Y-%m-%d %H:%M")),
        (_("Last seen"), lambda o: timezone.localtime(o.last_seen_at).strftime("%Y-%m-%d %H:%M")),
        (_("Times seen"), lambda o: o.seen_count), (_("Status"), lambda o: o.get_status_display()),
    )


# --------------------------------------------------------------------------- rules


@login_required
def rule_list(request):
    user = request.user
    require(user, "view", Rule)
    actions = []
    if can(user, "view", Warning):
        actions.append(action(_("Warnings"), reverse("supervision:warning_list")))
    return list_page(request, title=_("Warning rules"), table=RuleTable(queries.rules(user),
                                                                         request),
                     actions=actions,
                     intro=_("Rules over legality, duplication and regularity "
                             "(合法性、重复性、规律性). Parameters are versioned; every change "
                             "says who, when and why."))


def _rule_context(request, rule):
    user = request.user
    defn = engine.definition(rule.code)
    version = rule.current_version
    params = []
    if defn:
        for name, p in defn.params.items():
            params.append({"name": name, "label": p.label, "help": p.help, "unit": p.unit,
                           "value": version.params.get(name, p.default), "default": p.default,
                           "minimum": p.minimum, "maximum": p.maximum})
    runs = list(queries.runs(user, rule)[:20])
    return {"rule": rule, "definition": defn, "version": version, "params": params,
            "history": queries.version_changes(rule), "runs": runs,
            "open_warnings": queries.warnings(user, rule=rule.code, status="open").count(),
            "may_change": can(user, "change", Rule)}


@login_required
def rule_detail(request, code):
    rule = queries.access_rule(request.user, code)
    return render(request, "supervision/rule_detail.html", _rule_context(request, rule))


def _installed(rule):
    defn = engine.definition(rule.code)
    if defn is None:
        from django.http import Http404

        raise Http404(queries.NOT_FOUND)
    return defn


@login_required
def rule_edit(request, code):
    user = request.user
    rule = queries.access_rule(user, code)
    require(user, "change", Rule)
    defn = _installed(rule)
    form = forms.RuleChangeForm(request.POST if request.method == "POST" else None,
                                rule=rule, defn=defn)
    detail = reverse("supervision:rule_detail", args=[rule.code])
    return form_page(request, form, title=_("Change the rule"),
                     subtitle=f"{rule.code} · {defn.name}",
                     save=lambda d: services.change_rule(user, rule.code,
                                                         **form.service_kwargs()),
                     success=lambda obj: detail, cancel_url=detail)


@login_required
def rule_run(request, code):
    """"Run now" over a chosen window (city admin); the run page follows it."""
    user = request.user
    rule = queries.access_rule(user, code)
    require(user, "change", Rule)
    defn = _installed(rule)
    form = forms.WindowForm(request.POST if request.method == "POST" else None)

    def save(d):
        start, end = form.window()
        return services.request_run(user, rule.code, window_start=start, window_end=end)
    return form_page(request, form, title=_("Run the rule now"),
                     subtitle=f"{rule.code} · {defn.name}", save=save,
                     success=lambda run: reverse("supervision:run_detail",
                                                 args=[rule.code, run.pk]),
                     cancel_url=reverse("supervision:rule_detail", args=[rule.code]))


@login_required
def rule_backtest(request, code):
    """Back-test the parameters shown (those in force, or changed here) over past data."""
    user = request.user
    rule = queries.access_rule(user, code)
    require(user, "change", Rule)
    defn = _installed(rule)
    form = forms.BacktestForm(request.POST if request.method == "POST" else None,
                              rule=rule, defn=defn)

    def save(d):
        start, end = form.window()
        return services.run_backtest(user, rule.code, window_start=start, window_end=end,
                                     params=form.params())
    return form_page(request, form, title=_("Back-test the rule"),
                     subtitle=f"{rule.code} · {defn.name}", save=save,
                     success=lambda run: reverse("supervision:run_detail",
                                                 args=[rule.code, run.pk]),
                     cancel_url=reverse("supervision:rule_detail", args=[rule.code]))


@login_required
def run_detail(request, code, pk):
    user = request.user
    rule = queries.access_rule(user, code)
    run = queries.access_run(user, rule, pk)
    context = {"rule": rule, "run": run, "results": queries.visible_results(user, run),
               "definition": engine.definition(rule.code),
               "pending": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
               "is_backtest": run.mode == RunMode.BACKTEST}
    template = ("supervision/_run_status.html" if wants_fragment(request, "run-status")
                else "supervision/run_detail.html")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --------------------------------------------------------------------------- warnings


@login_required
def warning_list(request):
    user = request.user
    require(user, "view", Warning)
    rule_choices = [(code, f"{code} · {_defn_name(code)}")
                    for code in queries.rules(user).values_list("code", flat=True)]
    form = forms.WarningFilterForm(
        request.GET or None,
        districts=District.objects.restrict(user, "view").filter(
            pk__in=queries.warnings(user).order_by().values("district_id")).order_by(
            "sort_order"),
        institutions=queries.warning_institutions(user), rule_choices=rule_choices)
    qs = queries.warnings(user, **form.filters())
    table = WarningTable(qs, request)
    actions = []
    if can(user, "view", Rule):
        actions.append(action(_("Warning rules"), reverse("supervision:rule_list")))
    return list_page(
        request, title=_("Warnings"), table=table, filter_form=form, actions=actions,
        intro=_("One warning (预警) per anomaly, however often the rules find it again."),
        results_template="supervision/_warning_results.html",
        context={"counts": queries.warning_counts(qs)})


@login_required
def warning_detail(request, pk):
    user = request.user
    warning = queries.access_warning(user, pk)
    return render(request, "supervision/warning_detail.html", {
        "warning": warning, "definition": engine.definition(warning.rule.code),
        "evidence": queries.evidence_links(user, warning),
        "details": sorted((warning.details or {}).items()),
        "case_panel": queries.case_panel(user, warning)})


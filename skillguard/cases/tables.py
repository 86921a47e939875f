"""List tables of cases and spot checks."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from skillguard.registry.tables import Column, Table


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


class CaseTable(Table):
    row_template = "cases/rows/case.html"
    export_fields = (
        (_("Case number"), lambda o: o.number), (_("Title"), lambda o: o.title),
        (_("District"), lambda o: o.district.name),
        (_("Institution"), lambda o: o.institution.name if o.institution_id else ""),
        (_("Origin"), lambda o: o.get_origin_display()),
        (_("Rule"), lambda o: o.rule.code if o.rule_id else ""),
        (_("Severity"), lambda o: o.get_severity_display()),
        (_("State"), lambda o: o.get_state_display()),
        (_("Assigned to"), lambda o: o.assignee or ""),
        (_("Opened"), lambda o: _local(o.opened_at)),
        (_("Handling deadline"), lambda o: _local(o.deadline)),
        (_("Overdue"), lambda o: _("yes") if o.is_overdue else ""),
        (_("Escalated to the city"), lambda o: _local(o.escalated_at)),
        (_("Conclusion"), lambda o: o.get_conclusion_display() if o.conclusion else ""),
    )
    columns = {
        "number": Column(_("Case number"), "number", "mono"),
        "title": Column(_("Title"), "title"),
        "district": Column(_("District"), "district__sort_order"),
        "institution": Column(_("Institution"), "institution__name"),
        "severity": Column(_("Severity"), "severity"),
        "state": Column(_("State"), "state"),
        "assignee": Column(_("Assigned to")),
        "opened": Column(_("Opened"), "opened_at"),
        "deadline": Column(_("Handling deadline"), "deadline"),
    }


class SpotCheckTable(Table):
    row_template = "cases/rows/spotcheck.html"
    export_fields = (
        (_("Spot-check number"), lambda o: o.number), (_("Kind"), lambda o: o.get_kind_display()),
        (_("District"), lambda o: o.district.name if o.district_id else ""),
        (_("Seed"), lambda o: o.seed), (_("Sample size"), lambda o: o.sample_size),
        (_("Sessions matching"), lambda o: o.population),
        (_("Checked"), lambda o: o.checked), (_("Failed"), lambda o: o.failed),
        (_("Drawn"), lambda o: _local(o.created_at)),
    )
    columns = {
        "number": Column(_("Spot-check number"), "number", "mono"),
        "kind": Column(_("Kind"), "kind"),
        "district": Column(_("District"), "district__sort_order"),
        "seed": Column(_("Seed"), "", "mono"),
        "items": Column(_("Checked"), "", "num"),
        "failed": Column(_("Failed"), "", "num"),
        "created": Column(_("Drawn"), "created_at"),
    }

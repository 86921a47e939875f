"""List tables: columns, safe sorting (by column name, never a raw ORM path) and paging."""
from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PER_PAGE = 50


@dataclass(frozen=True)
class Column:
    label: object
    sort: str = ""  # ORM ordering path; empty = not sortable
    css: str = ""


class Table:
    columns: dict[str, Column] = {}
    row_template = ""
    default_order: tuple[str, ...] = ("pk",)  # when the query has no order of its own
    # CSV export: (header, value of a row); personal data only in its masked form.
    export_fields: tuple = ()
    empty_text = _("Nothing matches these filters.")

    def __init__(self, queryset, request):
        self.sort = request.GET.get("sort", "")
        key = self.sort.lstrip("-")
        column = self.columns.get(key)
        if column and column.sort:
            direction = "-" if self.sort.startswith("-") else ""
            queryset = queryset.order_by(direction + column.sort, direction + "pk")
        else:
            self.sort = ""
            if not queryset.ordered:
                queryset = queryset.order_by(*self.default_order)
        self.queryset = queryset
        self.page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))

    @property
    def rows(self):
        return self.page.object_list

    def headers(self) -> list[dict]:
        out = []
        for name, column in self.columns.items():
            state = ""
            if self.sort == name:
                state = "asc"
            elif self.sort == "-" + name:
                state = "desc"
            out.append({"label": column.label, "css": column.css, "sortable": bool(column.sort),
                        "state": state, "next": ("-" + name) if state == "asc" else name})
        return out


class InstitutionTable(Table):
    row_template = "registry/rows/institution.html"
    export_fields = (
        (_("Name"), lambda o: o.name), (_("Credit code"), lambda o: o.credit_code),
        (_("District"), lambda o: o.district.name), (_("Type"), lambda o: o.get_kind_display()),
        (_("Licence number"), lambda o: o.licence_number),
        (_("Licence valid until"), lambda o: o.licence_valid_until),
        (_("Whitelist"), lambda o: o.get_whitelist_status_display()),
        (_("Status"), lambda o: o.get_status_display()),
    )
    columns = {
        "name": Column(_("Name"), "name"),
        "credit_code": Column(_("Credit code"), "credit_code", "mono"),
        "district": Column(_("District"), "district__sort_order"),
        "kind": Column(_("Type"), "kind"),
        "licence": Column(_("Licence valid until"), "licence_valid_until"),
        "whitelist": Column(_("Whitelist"), "whitelist_status"),
        "status": Column(_("Status"), "status"),
    }


class ClassTable(Table):
    row_template = "registry/rows/class.html"
    export_fields = (
        (_("Class code"), lambda o: o.code), (_("Class name"), lambda o: o.name),
        (_("Institution"), lambda o: o.institution.name), (_("District"), lambda o: o.district.name),
        (_("Course"), lambda o: o.course), (_("Start date"), lambda o: o.start_date),
        (_("End date"), lambda o: o.end_date), (_("Planned class hours"), lambda o: o.planned_hours),
        (_("Mode"), lambda o: o.get_mode_display()), (_("Status"), lambda o: o.get_status_display()),
    )
    columns = {
        "code": Column(_("Class code"), "code", "mono"),
        "name": Column(_("Class name"), "name"),
        "institution": Column(_("Institution"), "institution__name"),
        "district": Column(_("District"), "district__sort_order"),
        "course": Column(_("Course")),
        "period": Column(_("Period"), "start_date"),
        "mode": Column(_("Mode"), "mode"),
        "status": Column(_("Status"), "status"),
    }


class SessionTable(Table):
    row_template = "registry/rows/session.html"
    export_fields = (
        (_("Class"), lambda o: o.training_class.code), (_("No."), lambda o: o.sequence),
        (_("Starts at"), lambda o: timezone.localtime(o.starts_at).strftime("%Y-%m-%d %H:%M")),
        (_("Ends at"), lambda o: timezone.localtime(o.ends_at).strftime("%Y-%m-%d %H:%M")),
        (_("Teacher"), lambda o: o.teacher.name), (_("Room"), lambda o: o.room or ""),
        (_("Class hours"), lambda o: o.class_hours),
    )
    columns = {
        "starts_at": Column(_("Time"), "starts_at"),
        "class": Column(_("Class"), "training_class__code"),
        "sequence": Column(_("No."), "sequence", "num"),
        "topic": Column(_("Topic")),
        "teacher": Column(_("Teacher"), "teacher__name"),
        "room": Column(_("Room")),
        "hours": Column(_("Class hours"), "", "num"),
    }


class TraineeTable(Table):
    row_template = "registry/rows/trainee.html"
    export_fields = (
        (_("Real name"), lambda o: o.name), (_("ID number"), lambda o: o.id_number),
        (_("Mobile phone"), lambda o: o.phone), (_("Category"), lambda o: o.get_category_display()),
        (_("District of residence"), lambda o: o.residence_district or ""),
    )
    columns = {
        "name": Column(_("Real name"), "name"),
        "id_number": Column(_("ID number")),
        "phone": Column(_("Mobile phone")),
        "category": Column(_("Category"), "category"),
        "district": Column(_("District of residence"), "residence_district__sort_order"),
        "verified": Column(_("ID checked")),
        "created": Column(_("Registered"), "created_at"),
    }


class TeacherTable(Table):
    row_template = "registry/rows/teacher.html"
    export_fields = (
        (_("Real name"), lambda o: o.name), (_("Institution"), lambda o: o.institution.name),
        (_("ID number"), lambda o: o.id_number), (_("Mobile phone"), lambda o: o.phone),
    )
    columns = {
        "name": Column(_("Name"), "name"),
        "institution": Column(_("Institution"), "institution__name"),
        "id_number": Column(_("ID number")),
        "phone": Column(_("Mobile phone")),
        "active": Column(_("Active"), "active"),
    }


class CourseTable(Table):
    row_template = "registry/rows/course.html"
    columns = {
        "code": Column(_("Occupation code"), "occupation__code", "mono"),
        "occupation": Column(_("Occupation"), "occupation__name"),
        "level": Column(_("Level"), "level"),
        "hours": Column(_("Standard class hours"), "standard_hours", "num"),
        "subsidy_type": Column(_("Subsidy type"), "subsidy_type"),
        "subsidy": Column(_("Subsidy (CNY)"), "subsidy_amount", "num"),
        "active": Column(_("Active"), "active"),
    }


class DistrictTable(Table):
    row_template = "registry/rows/district.html"
    default_order = ("sort_order", "code")
    columns = {
        "code": Column(_("Administrative code"), "code", "mono"),
        "name": Column(_("Name"), "sort_order"),
        "institutions": Column(_("Training institutions"), "institution_count", "num"),
    }

"""Seed data shipped with the registry: the catalogue of occupations and courses.

``catalogue.json`` lists occupations of the national classification with the courses
(level × subsidy type) that the city subsidises, their standard class hours and subsidy
amounts. ``load_catalogue()`` brings the database in line with it, idempotently: it
creates what is missing, updates what differs and leaves everything else alone (it never
deletes a course, since classes may point at it).
"""
from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")


@lru_cache(maxsize=1)
def catalogue() -> dict:
    """The parsed catalogue file."""
    return json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))


def occupation_groups() -> dict[str, str]:
    """Occupation code → group key (care, catering, …) used to give institutions a profile."""
    return {o["code"]: o["group"] for o in catalogue()["occupations"]}


def load_catalogue(actor=None) -> dict[str, int]:
    """Create or update the catalogue; returns counts of created and updated rows.

    Changes are recorded in the audit trail as one import event per table."""
    from django.db import transaction

    from skillguard.audit import services as audit
    from skillguard.audit.models import AuditAction
    from skillguard.registry.models import Course, Occupation

    counts = {"occupations_created": 0, "occupations_updated": 0,
              "courses_created": 0, "courses_updated": 0}
    with transaction.atomic():
        existing_occ = {o.code: o for o in Occupation.objects.all()}
        existing_courses = {(c.occupation_id, c.level, c.subsidy_type): c
                            for c in Course.objects.all()}
        for entry in catalogue()["occupations"]:
            occ = existing_occ.get(entry["code"])
            if occ is None:
                occ = Occupation.objects.create(code=entry["code"], name=entry["name"],
                                                name_en=entry["name_en"])
                counts["occupations_created"] += 1
            elif (occ.name, occ.name_en) != (entry["name"], entry["name_en"]):
                occ.name, occ.name_en = entry["name"], entry["name_en"]
                occ.save(update_fields=["name", "name_en"])
                counts["occupations_updated"] += 1
            for c in entry["courses"]:
                key = (occ.pk, c["level"], c["subsidy_type"])
                values = {"standard_hours": int(c["standard_hours"]),
                          "subsidy_amount": Decimal(c["subsidy_amount"])}
                course = existing_courses.get(key)
                if course is None:
                    Course.objects.create(occupation=occ, level=c["level"],
                                          subsidy_type=c["subsidy_type"], active=True, **values)
                    counts["courses_created"] += 1
                elif any(getattr(course, k) != v for k, v in values.items()):
                    for k, v in values.items():
                        setattr(course, k, v)
                    course.save(update_fields=list(values))
                    counts["courses_updated"] += 1
        for table, created, updated in (
                ("registry.occupation", counts["occupations_created"],
                 counts["occupations_updated"]),
                ("registry.course", counts["courses_created"], counts["courses_updated"])):
            if created or updated:
                audit._event(actor, AuditAction.IMPORT, object_type=table,
                             object_repr=f"{created} created, {updated} updated",
                             comment=f"catalogue.json: {created} created, "
                                     f"{updated} updated").save()
    return counts

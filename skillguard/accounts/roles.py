"""Roles and what each may do, by model and action: the one permission table.

Object-level limits (which district, which institution) are applied separately by
``core.scoping``; this table only says whether a role may do an action at all.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITY_ADMIN = "city_admin", _("City administrator")
    CITY_SUPERVISOR = "city_supervisor", _("City supervisor")
    DISTRICT_SUPERVISOR = "district_supervisor", _("District supervisor")
    INSTITUTION_ADMIN = "institution_admin", _("Institution administrator")
    TEACHER = "teacher", _("Teacher")
    TRAINEE = "trainee", _("Trainee")
    AUDITOR = "auditor", _("Auditor")
    API_CLIENT = "api_client", _("API client")


# Roles whose scope is the whole city.
CITY_WIDE = {Role.CITY_ADMIN, Role.CITY_SUPERVISOR, Role.AUDITOR}

VIEW = "view"
ADD = "add"
CHANGE = "change"
DELETE = "delete"
APPROVE = "approve"  # approve / return a class-opening application
SUBMIT = "submit"  # submit / start / finish a class (the institution's side)
REVEAL = "reveal"  # see a personal-data value in full (logged)
IMPORT = "import"
EXPORT = "export"
HANDLE = "handle"  # supervisors: assign, dispatch, verify, close, escalate a case
ANSWER = "answer"  # an institution answers a case dispatched to it

ALL = "*"
REGISTRY = ("district", "institution", "institutionfiling", "venue", "room", "occupation",
            "course", "teacher", "teacherqualification", "trainee", "trainingclass",
            "classreview", "session", "enrolment")
CATALOGUE = ("district", "occupation", "course")  # reference data every user may read
# Evidence and what the server computes from it (学时认定, 补贴资格).
EVIDENCE = ("checkin", "sessionattendance", "enrolmenthours", "hoursexclusion",
            "subsidyverdict")
# The supervision engine's catalogue, runs and warnings.
SUPERVISION = ("rule", "ruleversion", "rulerun", "warning")
# The camera estate and what the media pipeline records about it (监管视频网).
CAMERA_ESTATE = ("camera", "workorder", "inspection")
VIDEO = ("streamsession", "mediaevent", "recordingsegment", "camerahealth", "sessioncoverage",
         "clip")
# Cockpit rollups and the statistics / report archive (数据驾驶舱, 统计报表).
COCKPIT = ("dailytraining", "rollupstate", "monthlytraining", "warningdaily", "casedaily",
           "subsidydaily")
REPORTS = ("reportarchive", "exportjob")

PERMISSIONS: dict[str, dict[str, set[str]]] = {
    Role.CITY_ADMIN: {ALL: {VIEW, ADD, CHANGE, DELETE, APPROVE, REVEAL, IMPORT, EXPORT},
                      "user": {VIEW, ADD, CHANGE}, "auditevent": {VIEW, EXPORT}},
    Role.CITY_SUPERVISOR: {**{m: {VIEW, EXPORT} for m in REGISTRY},
                           "trainingclass": {VIEW, APPROVE, EXPORT},
                           "trainee": {VIEW, REVEAL, EXPORT}, "teacher": {VIEW, REVEAL, EXPORT},
                           "auditevent": {VIEW}, "qualitysource": {VIEW},
                           "distributionrule": {VIEW}, "webhookdelivery": {VIEW},
                           "dockingclient": {VIEW}, "clientkey": {VIEW},
                           "quarantinedrecord": {VIEW}, "recordidentity": {VIEW},
                           "ingestbatch": {VIEW},
                           **{m: {VIEW, EXPORT} for m in EVIDENCE + SUPERVISION},
                           "case": {VIEW, HANDLE, EXPORT}, "caseevent": {VIEW},
                           "spotcheck": {VIEW, ADD, CHANGE, EXPORT},
                           **{m: {VIEW, EXPORT} for m in CAMERA_ESTATE + VIDEO + COCKPIT},
                           "workorder": {VIEW, ADD, EXPORT}, "clip": {VIEW, ADD, EXPORT},
                           "reportarchive": {VIEW, ADD, EXPORT}, "exportjob": {VIEW, ADD}},
    Role.DISTRICT_SUPERVISOR: {**{m: {VIEW, EXPORT} for m in REGISTRY},
                               "institution": {VIEW, ADD, CHANGE, EXPORT, IMPORT},
                               "institutionfiling": {VIEW, ADD, CHANGE, DELETE},
                               "venue": {VIEW, ADD, CHANGE},
                               "trainingclass": {VIEW, APPROVE, EXPORT},
                               "trainee": {VIEW, REVEAL, EXPORT},
                               "teacher": {VIEW, REVEAL, EXPORT},
                               "auditevent": {VIEW}, "qualitysource": {VIEW},
                               "dockingclient": {VIEW}, "clientkey": {VIEW},
                               "quarantinedrecord": {VIEW}, "recordidentity": {VIEW},
                               "ingestbatch": {VIEW},
                               **{m: {VIEW, EXPORT} for m in EVIDENCE + SUPERVISION},
                               "case": {VIEW, HANDLE, EXPORT}, "caseevent": {VIEW},
                               "spotcheck": {VIEW, ADD, CHANGE, EXPORT},
                               **{m: {VIEW, EXPORT} for m in CAMERA_ESTATE + VIDEO + COCKPIT},
                               "workorder": {VIEW, ADD, EXPORT}, "clip": {VIEW, ADD, EXPORT},
                               "reportarchive": {VIEW, ADD, EXPORT}, "exportjob": {VIEW, ADD}},
    Role.INSTITUTION_ADMIN: {**{m: {VIEW} for m in REGISTRY},
                             "venue": {VIEW, ADD, CHANGE}, "room": {VIEW, ADD, CHANGE, DELETE},
                             "teacher": {VIEW, ADD, CHANGE, REVEAL, IMPORT},
                             "teacherqualification": {VIEW, ADD, CHANGE, DELETE},
                             "trainee": {VIEW, ADD, CHANGE, REVEAL, IMPORT, EXPORT},
                             "trainingclass": {VIEW, ADD, CHANGE, SUBMIT, EXPORT},
                             "session": {VIEW, ADD, CHANGE, DELETE, IMPORT},
                             "enrolment": {VIEW, ADD, CHANGE, DELETE, IMPORT, EXPORT},
                             "quarantinedrecord": {VIEW, CHANGE, REVEAL}, "recordidentity": {VIEW},
                             "ingestbatch": {VIEW},
                             **{m: {VIEW} for m in EVIDENCE},
                             # only cases dispatched to the institution (cases.queries)
                             "case": {VIEW, ANSWER}, "caseevent": {VIEW},
                             # its cameras: request installation, report faults, see health
                             # and coverage (recordings and clips are the supervisors')
                             "camera": {VIEW, ADD}, "workorder": {VIEW, ADD},
                             "inspection": {VIEW}, "camerahealth": {VIEW},
                             "sessioncoverage": {VIEW},
                             # its own cockpit
                             **{m: {VIEW} for m in COCKPIT}},
    Role.TEACHER: {**{m: {VIEW} for m in ("district", "institution", "venue", "room",
                                          "occupation", "course", "teacher",
                                          "teacherqualification", "trainee", "trainingclass",
                                          "session", "enrolment")},
                   # hours of the classes they teach (not the raw evidence)
                   **{m: {VIEW} for m in ("sessionattendance", "enrolmenthours",
                                          "subsidyverdict")}},
    Role.TRAINEE: {**{m: {VIEW} for m in ("district", "institution", "venue", "room",
                                          "occupation", "course", "trainingclass", "session",
                                          "enrolment")},
                   "trainee": {VIEW, REVEAL},
                   **{m: {VIEW} for m in ("checkin", "sessionattendance", "enrolmenthours",
                                          "subsidyverdict")}},
    Role.AUDITOR: {ALL: {VIEW, REVEAL, EXPORT}, "auditevent": {VIEW, EXPORT}},
    Role.API_CLIENT: {**{m: {VIEW} for m in REGISTRY},
                      **{m: {VIEW, ADD, CHANGE} for m in ("venue", "room", "teacher", "trainee",
                                                          "session", "enrolment",
                                                          "trainingclass", "teacherqualification")},
                      "quarantinedrecord": {VIEW}, "recordidentity": {VIEW},
                           "ingestbatch": {VIEW},
                      # computed hours and verdicts of its institution / district
                      **{m: {VIEW} for m in ("sessionattendance", "enrolmenthours",
                                             "subsidyverdict")}},
}


def role_allows(role: str, model_name: str, action: str) -> bool:
    table = PERMISSIONS.get(role, {})
    allowed = table.get(model_name)
    if allowed is None:
        allowed = table.get(ALL, set())
    return action in allowed

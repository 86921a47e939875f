"""Legality and compliance checks of pushed records (合法性、合规性检测), in bulk.

``validate_records`` parses each raw record against its v1 schema, then checks code tables,
ID checksums, references and business rules for the whole chunk at once: one query per
reference kind per chunk, never one per record. Every refusal is a bilingual ``Problem``
naming the record (external id and line) and the field.

References outside the client's scope (another institution's class, another district's
session) are refused exactly like missing ones (``unknown_reference``), so that a client
cannot probe what exists elsewhere.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError as PydanticError

from skillguard.core.crypto import lookup_hash
from skillguard.core.errors import Problem, lazy_format
from skillguard.core.validators import (
    PHONE_PATTERN,
    id_number_problem,
    normalise_id_number,
)
from skillguard.ingest.records import RECORD_TYPES, Record

WINDOW_TOLERANCE = dt.timedelta(minutes=30)
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass
class NormalisedRecord:
    index: int  # position in the chunk (0-based)
    line: int  # first_line + index
    record_type: str
    external_id: str
    data: Record  # the parsed record
    payload: dict  # canonical JSON form (what is hashed and kept in versions)
    sha256: str
    refs: dict = field(default_factory=dict)  # resolved platform ids
    district_id: int = 0
    institution_id: int | None = None

    @property
    def label(self) -> str:
        return record_label(self.external_id, self.line)


def record_label(external_id: str, line: int) -> str:
    return f"{external_id} (#{line})" if external_id else f"#{line}"


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(payload: dict) -> tuple[dict, str]:
    """The payload and the SHA-256 of its canonical JSON (sorted keys, compact, UTF-8) —
    what idempotency compares; the encoder is built once (json.dumps builds one per call)."""
    text = _CANONICAL.encode(payload)
    return payload, hashlib.sha256(text.encode()).hexdigest()


def target_of(model, pk) -> str:
    return f"{model._meta.db_table}:{pk}"


def target_pk(target: str) -> int | None:
    try:
        return int(target.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- schema

def _schema_problems(exc: PydanticError, label: str) -> list[Problem]:
    out, seen = [], set()
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        name = ".".join(loc)
        kind = err["type"]
        if kind == "missing":
            code, message = "missing_field", _("is required")
        elif kind == "extra_forbidden":
            code, message = "extra_field", _("is not a field of this record type")
        elif kind in ("enum", "literal_error"):
            code = "invalid_code"
            message = lazy_format(_("is not in the code table (allowed: %(allowed)s)"),
                                  allowed=err.get("ctx", {}).get("expected", ""))
        elif kind == "timezone_aware":
            code, message = "wrong_type", _("must be an ISO 8601 time with a UTC offset")
        elif kind.endswith(("_type", "_parsing")) or kind in ("is_instance_of", "union_tag_invalid",
                                                              "ip_any_address"):
            code, message = "wrong_type", lazy_format(_("has the wrong type (%(detail)s)"),
                                                      detail=err["msg"])
        elif kind.startswith("ip_") or "ip" in kind:
            code, message = "wrong_type", _("must be an IPv4 or IPv6 address")
        else:
            code, message = "invalid_value", lazy_format(_("is not acceptable (%(detail)s)"),
                                                         detail=err["msg"])
        # A union (ipv4 | ipv6 | null) reports once per member: keep one problem per field.
        top = loc[0] if loc else ""
        key = (top if top == "ip" else name, code)
        if key in seen:
            continue
        seen.add(key)
        out.append(Problem(field=top if top == "ip" else name, code=code, message=message,
                           label=top if top == "ip" else name, record=label))
    return out


# --------------------------------------------------------------------------- context

class Checker:
    """Per-chunk state: the client, its scope, and the problems found so far."""

    def __init__(self, client, record_type: str):
        self.client, self.record_type = client, record_type
        self.user = client.user
        self.problems: dict[int, list[Problem]] = defaultdict(list)
        self.now = timezone.now()

    def add(self, rec: NormalisedRecord, field_name: str, code: str, message) -> None:
        self.problems[rec.index].append(Problem(field=field_name, code=code, message=message,
                                                label=field_name, record=rec.label))

    def unknown(self, rec, field_name: str) -> None:
        self.add(rec, field_name, "unknown_reference",
                 _("refers to nothing known within your data scope"))

    def ok(self, rec) -> bool:
        return rec.index not in self.problems

    # ---- bulk lookups (one query each) ----

    def identity_targets(self, record_type: str, external_ids) -> dict[str, int]:
        from skillguard.ingest.models import RecordIdentity

        ids = {e for e in external_ids if e}
        if not ids:
            return {}
        rows = RecordIdentity.objects.filter(client=self.client, record_type=record_type,
                                             external_id__in=ids).values_list("external_id",
                                                                              "target")
        return {e: target_pk(t) for e, t in rows if target_pk(t)}

    def classes(self, recs, code_attr="class_code", ext_attr="class_external_id",
                required=True) -> dict[int, dict]:
        """Resolve each record's class reference; {record index: class values}."""
        from skillguard.registry.models import TrainingClass

        codes = {getattr(r.data, code_attr) for r in recs if getattr(r.data, code_attr, None)}
        ext = self.identity_targets("class", (getattr(r.data, ext_attr, None) for r in recs)) \
            if ext_attr else {}
        rows = TrainingClass.objects.restrict(self.user, "view").filter(
            code__in=codes) if codes else TrainingClass.objects.none()
        by_code = {c["code"]: c for c in rows.values(
            "pk", "code", "institution_id", "district_id", "status", "start_date", "end_date",
            "venue_id", "course_id")}
        by_pk = {}
        if ext:
            by_pk = {c["pk"]: c for c in TrainingClass.objects.restrict(self.user, "view").filter(
                pk__in=ext.values()).values("pk", "code", "institution_id", "district_id",
                                            "status", "start_date", "end_date", "venue_id",
                                            "course_id")}
        out = {}
        for r in recs:
            code = getattr(r.data, code_attr, None)
            ext_id = getattr(r.data, ext_attr, None) if ext_attr else None
            if code:
                found = by_code.get(code)
                if not found:
                    self.unknown(r, code_attr)
                    continue
            elif ext_id:
                found = by_pk.get(ext.get(ext_id))
                if not found:
                    self.unknown(r, ext_attr)
                    continue
            else:
                if required:
                    self.add(r, code_attr, "missing_field",
                             lazy_format(_("is required (or give %(other)s)"),
                                         other=ext_attr or code_attr))
                continue
            out[r.index] = found
        return out

    def sessions(self, class_codes: set, session_external_ids: set):
        """Sessions in the client's scope named by class code (all their sessions, keyed by
        (code, sequence)) and by the external id of a pushed session (keyed by pk):
        ``(by_code, by_pk, {external id: pk})``."""
        from skillguard.registry.models import Session

        ext = self.identity_targets("session", session_external_ids)
        fields = ("pk", "sequence", "starts_at", "ends_at", "training_class_id",
                  "training_class__code", "training_class__institution_id", "district_id")
        visible = Session.objects.restrict(self.user, "view")
        by_code = {(s["training_class__code"], s["sequence"]): s for s in visible.filter(
            training_class__code__in=class_codes).values(*fields)} if class_codes else {}
        by_pk = {s["pk"]: s for s in visible.filter(pk__in=set(ext.values())).values(
            *fields)} if ext else {}
        return by_code, by_pk, ext

    def id_hashes(self, recs, attr: str) -> dict[int, str]:
        """Check the ID numbers' checksums; {record index: lookup hash} of the valid ones."""
        out = {}
        seen: dict[str, tuple] = {}  # a chunk names the same few people many times
        for r in recs:
            raw = getattr(r.data, attr) or ""
            known = seen.get(raw)
            if known is None:
                value = normalise_id_number(raw)
                reason = id_number_problem(value)
                known = seen[raw] = (reason, None if reason else lookup_hash(value))
            if known[0]:
                self.add(r, attr, "invalid_id_number", known[0])
            else:
                out[r.index] = known[1]
        return out

    def trainees(self, recs, attr="trainee_id_number") -> dict[int, dict]:
        """Trainees visible in the client's scope, by record; unknown ones are refused."""
        from skillguard.registry.models import Trainee

        hashes = self.id_hashes(recs, attr)
        rows = {t["id_number_hash"]: t for t in Trainee.objects.restrict(self.user, "view").filter(
            id_number_hash__in=set(hashes.values())).values("pk", "id_number_hash", "name")} \
            if hashes else {}
        out = {}
        for r in recs:
            h = hashes.get(r.index)
            if h is None:
                continue
            if h not in rows:
                self.unknown(r, attr)
            else:
                out[r.index] = rows[h]
        return out

    def enrolments(self, pairs: dict[int, tuple[int, int]]) -> dict[tuple[int, int], int]:
        """{(class id, trainee id): enrolment id} for the pairs asked."""
        from skillguard.registry.models import Enrolment, EnrolmentStatus

        if not pairs:
            return {}
        classes = {c for c, _ in pairs.values()}
        trainees = {t for _, t in pairs.values()}
        rows = Enrolment.objects.filter(training_class_id__in=classes, trainee_id__in=trainees) \
            .exclude(status=EnrolmentStatus.WITHDRAWN).values_list("training_class_id",
                                                                   "trainee_id", "pk")
        return {(c, t): pk for c, t, pk in rows}

    def not_in_future(self, rec, attr: str) -> None:
        value = getattr(rec.data, attr, None)
        if value and value > self.now + CLOCK_SKEW:
            self.add(rec, attr, "future_time", _("lies in the future"))

    def need_institution(self, recs) -> list:
        if self.client.institution_id:
            return recs
        for r in recs:
            self.add(r, "", "type_not_allowed",
                     _("only an institution's client may send this record type"))
        return []

    def default_anchor(self, rec) -> None:
        rec.district_id = self.client.district_key
        rec.institution_id = self.client.institution_id


# --------------------------------------------------------------------------- per type

def check_trainee(ck: Checker, recs) -> None:
    from skillguard.registry.models import District

    ck.id_hashes(recs, "id_number")
    codes = {r.data.residence_district for r in recs if r.data.residence_district}
    districts = dict(District.objects.filter(code__in=codes).values_list("code", "pk")) \
        if codes else {}
    for r in recs:
        ck.default_anchor(r)
        if r.data.phone and not PHONE_PATTERN.match(r.data.phone):
            ck.add(r, "phone", "invalid_phone", _("must be an 11-digit mainland mobile number"))
        code = r.data.residence_district
        if code:
            if code not in districts:
                ck.add(r, "residence_district", "invalid_code",
                       _("is not a district code of this city"))
            else:
                r.refs["residence_district_id"] = districts[code]


def check_teacher(ck: Checker, recs) -> None:
    from skillguard.registry.models import Occupation

    recs = ck.need_institution(recs)
    ck.id_hashes(recs, "id_number")
    codes = {q.occupation_code for r in recs for q in r.data.qualifications}
    occupations = dict(Occupation.objects.filter(code__in=codes).values_list("code", "pk")) \
        if codes else {}
    for r in recs:
        ck.default_anchor(r)
        if r.data.phone and not PHONE_PATTERN.match(r.data.phone):
            ck.add(r, "phone", "invalid_phone", _("must be an 11-digit mainland mobile number"))
        for i, q in enumerate(r.data.qualifications):
            if q.occupation_code not in occupations:
                ck.add(r, f"qualifications.{i}.occupation_code", "invalid_code",
                       _("is not an occupation of the catalogue"))
        r.refs["occupations"] = occupations


def check_class(ck: Checker, recs) -> None:
    from skillguard.registry.models import Course, Teacher, Venue

    recs = ck.need_institution(recs)
    inst = ck.client.institution_id
    codes = {r.data.occupation_code for r in recs}
    courses = {(c["occupation__code"], c["level"]): c["pk"] for c in Course.objects.filter(
        occupation__code__in=codes, active=True).values("pk", "occupation__code", "level")} \
        if codes else {}
    venues = list(Venue.objects.filter(institution_id=inst).values("pk", "name", "district_id"))
    hashes = {}
    for r in recs:
        for i, value in enumerate(r.data.teacher_id_numbers):
            reason = id_number_problem(normalise_id_number(value))
            if reason:
                ck.add(r, f"teacher_id_numbers.{i}", "invalid_id_number", reason)
            else:
                hashes[(r.index, i)] = lookup_hash(normalise_id_number(value))
    teachers = dict(Teacher.objects.filter(institution_id=inst, id_number_hash__in=set(
        hashes.values())).values_list("id_number_hash", "pk")) if hashes else {}
    for r in recs:
        ck.default_anchor(r)
        course = courses.get((r.data.occupation_code, r.data.level))
        if course is None:
            ck.add(r, "occupation_code", "unknown_reference",
                   _("no active catalogue course has this occupation and level"))
        r.refs["course_id"] = course
        venue = None
        if r.data.venue:
            venue = next((v for v in venues if str(v["pk"]) == r.data.venue
                          or v["name"] == r.data.venue), None)
            if venue is None:
                ck.unknown(r, "venue")
        r.refs["venue_id"] = venue and venue["pk"]
        if venue:
            r.district_id = venue["district_id"]
        if r.data.end_date < r.data.start_date:
            ck.add(r, "end_date", "dates_out_of_order", _("must not be before the start date"))
        ids = []
        for i, _value in enumerate(r.data.teacher_id_numbers):
            h = hashes.get((r.index, i))
            if h is None:
                continue
            if h not in teachers:
                ck.unknown(r, f"teacher_id_numbers.{i}")
            else:
                ids.append(teachers[h])
        r.refs["teacher_ids"] = ids


def check_roster(ck: Checker, recs) -> None:
    classes = ck.classes(recs)
    trainees = ck.trainees(recs)
    for r in recs:
        cls, trainee = classes.get(r.index), trainees.get(r.index)
        if trainee and trainee["name"] != r.data.trainee_name:
            ck.add(r, "trainee_name", "name_mismatch",
                   _("does not match the name registered for this ID number"))
        if cls:
            r.district_id, r.institution_id = cls["district_id"], cls["institution_id"]
            r.refs["class_id"] = cls["pk"]
        if trainee:
            r.refs["trainee_id"] = trainee["pk"]


def check_session(ck: Checker, recs) -> None:
    from skillguard.registry.models import Room, Teacher

    classes = ck.classes(recs)
    hashes = ck.id_hashes(recs, "teacher_id_number")
    insts = {c["institution_id"] for c in classes.values()}
    teachers = {(t["institution_id"], t["id_number_hash"]): t["pk"] for t in Teacher.objects.filter(
        institution_id__in=insts, id_number_hash__in=set(hashes.values())).values(
        "pk", "institution_id", "id_number_hash")} if hashes and insts else {}
    venues = {c["venue_id"] for c in classes.values() if c["venue_id"]}
    rooms = {(v, n): pk for pk, v, n in Room.objects.filter(venue_id__in=venues).values_list(
        "pk", "venue_id", "name")} if venues else {}
    for r in recs:
        if r.data.ends_at <= r.data.starts_at:
            ck.add(r, "ends_at", "dates_out_of_order", _("must be after the start"))
        cls = classes.get(r.index)
        if not cls:
            continue
        r.district_id, r.institution_id = cls["district_id"], cls["institution_id"]
        r.refs["class_id"] = cls["pk"]
        h = hashes.get(r.index)
        if h is not None:
            teacher = teachers.get((cls["institution_id"], h))
            if teacher is None:
                ck.unknown(r, "teacher_id_number")
            r.refs["teacher_id"] = teacher
        if r.data.room:
            room = rooms.get((cls["venue_id"], r.data.room))
            if room is None:
                ck.unknown(r, "room")
            r.refs["room_id"] = room


def check_checkin(ck: Checker, recs) -> None:
    # Session references: class code + sequence, or the external id of a pushed session.
    by_code, by_ext = [], []
    for r in recs:
        if r.data.session_external_id:
            by_ext.append(r)
        elif r.data.class_code and r.data.session_sequence:
            by_code.append(r)
        else:
            ck.add(r, "session_external_id", "missing_field",
                   _("give class_code and session_sequence, or session_external_id"))
    sessions_by_code, sessions_by_pk, ext = ck.sessions(
        {r.data.class_code for r in by_code}, {r.data.session_external_id for r in by_ext})
    sessions = {}
    for r in by_code:
        s = sessions_by_code.get((r.data.class_code, r.data.session_sequence))
        if s is None:
            ck.unknown(r, "class_code" if not any(k[0] == r.data.class_code
                                                 for k in sessions_by_code) else
                       "session_sequence")
        else:
            sessions[r.index] = s
    for r in by_ext:
        s = sessions_by_pk.get(ext.get(r.data.session_external_id))
        if s is None:
            ck.unknown(r, "session_external_id")
        else:
            sessions[r.index] = s
    trainees = ck.trainees(recs)
    pairs = {i: (sessions[i]["training_class_id"], trainees[i]["pk"])
             for i in sessions if i in trainees}
    enrolments = ck.enrolments(pairs)
    for r in recs:
        ck.not_in_future(r, "occurred_at")
        s = sessions.get(r.index)
        if s is None:
            continue
        r.district_id = s["district_id"]
        r.institution_id = s["training_class__institution_id"]
        r.refs.update(session_id=s["pk"], class_id=s["training_class_id"])
        if not (s["starts_at"] - WINDOW_TOLERANCE <= r.data.occurred_at
                <= s["ends_at"] + WINDOW_TOLERANCE):
            ck.add(r, "occurred_at", "outside_session_window", lazy_format(
                _("lies outside the session window %(start)s – %(end)s (± 30 minutes)"),
                start=timezone.localtime(s["starts_at"]).strftime("%Y-%m-%d %H:%M"),
                end=timezone.localtime(s["ends_at"]).strftime("%H:%M")))
        _link_enrolment(ck, r, pairs, enrolments, trainees)


def _link_enrolment(ck: Checker, r, pairs, enrolments, trainees) -> None:
    """The trainee's enrolment in the record's class, or a not_enrolled problem."""
    if r.index not in pairs:
        return
    enrolment = enrolments.get(pairs[r.index])
    if enrolment is None:
        ck.add(r, "trainee_id_number", "not_enrolled",
               _("the trainee is not enrolled in this class"))
    r.refs.update(trainee_id=trainees[r.index]["pk"], enrolment_id=enrolment)


def _class_trainee_enrolment(ck: Checker, recs) -> None:
    classes = ck.classes(recs, ext_attr=None)
    trainees = ck.trainees(recs)
    pairs = {i: (classes[i]["pk"], trainees[i]["pk"]) for i in classes if i in trainees}
    enrolments = ck.enrolments(pairs)
    for r in recs:
        cls = classes.get(r.index)
        if cls:
            r.district_id, r.institution_id = cls["district_id"], cls["institution_id"]
            r.refs["class_id"] = cls["pk"]
        _link_enrolment(ck, r, pairs, enrolments, trainees)


def check_learning_session(ck: Checker, recs) -> None:
    _class_trainee_enrolment(ck, recs)
    for r in recs:
        ck.not_in_future(r, "started_at")
        ck.not_in_future(r, "ended_at")
        if r.data.ended_at and r.data.ended_at <= r.data.started_at:
            ck.add(r, "ended_at", "dates_out_of_order", _("must be after the start"))


def check_learning_event(ck: Checker, recs) -> None:
    from skillguard.learning.models import LearningSession

    ext = ck.identity_targets("learning_session",
                              (r.data.learning_session_external_id for r in recs))
    rows = {s["pk"]: s for s in LearningSession.objects.filter(
        pk__in=set(ext.values()), source_client_id=ck.client.pk).values(
        "pk", "district_id", "institution_id", "trainee_id", "started_at")} if ext else {}
    for r in recs:
        ck.not_in_future(r, "occurred_at")
        s = rows.get(ext.get(r.data.learning_session_external_id))
        if s is None:
            ck.unknown(r, "learning_session_external_id")
            continue
        r.district_id, r.institution_id = s["district_id"], s["institution_id"]
        r.refs.update(learning_session_id=s["pk"], trainee_id=s["trainee_id"])


def check_assessment(ck: Checker, recs) -> None:
    _class_trainee_enrolment(ck, recs)
    for r in recs:
        ck.not_in_future(r, "taken_at")
        if r.data.score > r.data.max_score:
            ck.add(r, "score", "invalid_value", _("must not exceed the maximum score"))


CHECKS = {"trainee": check_trainee, "teacher": check_teacher, "class": check_class,
          "roster": check_roster, "session": check_session, "checkin": check_checkin,
          "learning_session": check_learning_session, "learning_event": check_learning_event,
          "assessment": check_assessment}


# --------------------------------------------------------------------------- entry point

def unknown_type_problem(record_type: str) -> Problem:
    return Problem(field="record_type", code="unknown_record_type",
                   message=lazy_format(_("%(type)s is not a record type of this standard"),
                                       type=record_type), label="record_type")


def validate_records(client, record_type: str, raws: list, first_line: int = 1, *,
                     lines: list[int] | None = None
                     ) -> tuple[list[NormalisedRecord], list[tuple[int, list[Problem]]]]:
    """Split a chunk into valid, normalised records and (index, problems) of the others.
    Line numbers: ``first_line`` onwards, or one per record in ``lines``."""
    model = RECORD_TYPES.get(record_type)
    if model is None:
        return [], [(i, [unknown_type_problem(record_type)]) for i in range(len(raws))]
    ck = Checker(client, record_type)
    allowed = client.record_types or []
    seen: set[str] = set()
    candidates = []
    for i, raw in enumerate(raws):
        line = lines[i] if lines is not None else first_line + i
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        ext = ext.strip() if isinstance(ext, str) else ""
        label = record_label(ext, line)
        if not isinstance(raw, dict):
            ck.problems[i].append(Problem(field="", code="wrong_type",
                                          message=_("a record must be a JSON object"),
                                          record=label))
            continue
        if allowed and record_type not in allowed:
            ck.problems[i].append(Problem(field="", code="type_not_allowed", message=_(
                "your client is not registered for this record type"), record=label))
            continue
        if ext:
            if ext in seen:
                ck.problems[i].append(Problem(
                    field="external_id", code="duplicate_in_submission", label="external_id",
                    message=_("appears more than once in this submission"), record=label))
            seen.add(ext)
        try:
            data = model.model_validate(raw)
        except PydanticError as exc:
            ck.problems[i].extend(_schema_problems(exc, label))
            continue
        if ck.problems.get(i):
            continue
        payload, sha = canonical(data.model_dump(mode="json"))
        candidates.append(NormalisedRecord(index=i, line=line, record_type=record_type,
                                           external_id=data.external_id, data=data,
                                           payload=payload, sha256=sha))
    if candidates:
        CHECKS[record_type](ck, candidates)
    valid = [r for r in candidates if ck.ok(r)]
    problems = sorted((i, ps) for i, ps in ck.problems.items() if ps)
    return valid, problems

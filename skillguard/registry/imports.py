"""Bulk import of registry records from Excel (XLSX) or CSV, with a per-row error report.

An upload becomes an ``ImportBatch`` (the bytes kept sealed, with their SHA-256). Each row
is parsed column by column, checked for duplicates inside the file, then written through
the registry services, which validate and audit exactly as for a single record. Nothing
is lost and nothing is silent: every refused row is kept with all its reasons in both
languages, and the user downloads them next to the original values to fix and re-upload.

Modes: *all or nothing* runs every row in one transaction and rolls it back if any row is
bad (every row is still checked, so the report is complete); *valid rows only* commits in
chunks, a savepoint per row. Re-importing a file is harmless: rows whose record exists
already are counted as "already present", not written again.

Small files are processed in the request; larger ones by ``registry.tasks``.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from skillguard.accounts.roles import Role
from skillguard.audit import services as audit
from skillguard.audit.models import AuditAction
from skillguard.core import crypto
from skillguard.core.errors import lazy_format, BusinessRuleError, Problem, both_languages, from_validation_error
from skillguard.core.personal_data import lookup
from skillguard.core.scoping import can
from skillguard.core.validators import (
    ID_PATTERN,
    PHONE_PATTERN,
    id_number_problem,
    mask_id_number,
    normalise_id_number,
    uscc_problem,
)
from skillguard.registry import services
from skillguard.registry.models import (
    District,
    Enrolment,
    ImportBatch,
    ImportKind,
    ImportMode,
    ImportRowProblem,
    ImportStatus,
    Institution,
    InstitutionKind,
    Level,
    Occupation,
    Room,
    Session,
    Teacher,
    Trainee,
    TraineeCategory,
    TrainingClass,
)

log = logging.getLogger(__name__)

KIND_MODELS = {ImportKind.TRAINEE: Trainee, ImportKind.TEACHER: Teacher,
               ImportKind.INSTITUTION: Institution, ImportKind.SESSION: Session,
               ImportKind.ENROLMENT: Enrolment}

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
CHUNK_ROWS = 500  # valid-only mode commits (and reports progress) every CHUNK_ROWS rows
PROGRESS_EVERY = 200  # all-or-nothing mode reports progress through a second connection
_CONTENT_AAD = b"skillguard-import-v1"


def inline_max_rows() -> int:
    """Files with at most this many rows are processed in the request, larger ones queued."""
    return int(getattr(settings, "SKILLGUARD_IMPORT_INLINE_ROWS", 2000))


class _Join:
    """A list of lazy strings that renders in the active language."""

    def __init__(self, items, sep=", "):
        self.items, self.sep = list(items), sep

    def __str__(self):
        return self.sep.join(str(i) for i in self.items)


class FileProblem(Exception):
    """The file as a whole cannot be read; nothing in it was imported."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# --------------------------------------------------------------------------- reading files


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list]]  # (row number as the spreadsheet shows it, cells)
    header_row: int = 1


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_table(content: bytes, file_name: str = "") -> Table:
    """Rows of the first sheet (XLSX) or of a CSV file; raises ``FileProblem``."""
    if not content:
        raise FileProblem(_("The file is empty."))
    if content[:4] == b"PK\x03\x04":
        raw_rows = _xlsx_rows(content)
    elif content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileProblem(_("Old Excel 97-2003 (.xls) files cannot be read: save the file "
                            "as .xlsx or as CSV and upload it again."))
    elif file_name.lower().endswith((".xlsx", ".xlsm")):
        raise FileProblem(_("The file is named .xlsx but is not an Excel workbook."))
    else:
        raw_rows = _csv_rows(content)
    return _table(raw_rows)


def _xlsx_rows(content: bytes) -> Iterable[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged archive
        raise FileProblem(_("The file could not be read as an Excel workbook (.xlsx); "
                            "it may be damaged or password-protected.")) from None
    try:
        if not workbook.worksheets:
            raise FileProblem(_("The workbook has no sheet."))
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong size; read every row
        try:
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
        except FileProblem:
            raise
        except Exception:
            raise FileProblem(_("The first sheet of the workbook could not be read; "
                                "it may be damaged.")) from None
    finally:
        workbook.close()


def _decode(content: bytes) -> str:
    if content[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return content.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileProblem(_("The file is neither UTF-8 nor GBK/GB18030 text; save it as "
                        "\"CSV UTF-8\" or as .xlsx."))


def _csv_rows(content: bytes) -> Iterable[list]:
    text = _decode(content)
    if "\x00" in text:
        raise FileProblem(_("The file contains binary data; upload a CSV text file or "
                          "an .xlsx workbook."))
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count) if first_line else ","
    if first_line.count(delimiter) == 0:
        delimiter = ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise FileProblem(lazy_format(_("The CSV file is malformed (%(detail)s)."),
                                       detail=str(exc))) from None


def _table(raw_rows: Iterable[list]) -> Table:
    header: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list]] = []
    for number, cells in enumerate(raw_rows, start=1):
        if all(_blank(c) for c in cells):
            continue
        if header is None:
            # A title line above the headers ("2026 年学员名单") is common; the header row
            # is the first one with at least two known column names.
            if number <= 10 and _known_header_count(cells) < 2:
                continue
            header = [("" if c is None else str(c)).strip() for c in cells]
            header_row = number
            continue
        rows.append((number, cells))
        if len(rows) > MAX_ROWS:
            raise FileProblem(lazy_format(
                _("The file has more than %(max)d rows; split it into smaller files."),
                max=MAX_ROWS))
    if header is None:
        raise FileProblem(_("No header row found: the first row must hold the column names "
                            "of the template."))
    if not rows:
        raise FileProblem(_("The file has a header row but no data rows."))
    return Table(headers=header, rows=rows, header_row=header_row)


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    key: str  # also the English header
    label: object  # lazy English label, shown in messages
    zh: str  # the Chinese header of the template
    type: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: object = ""


def _norm_header(text) -> str:
    return re.sub(r"[\s_\-*＊:：()（）/.。]", "", str(text or "")).lower()


_NAME = Column("name", _("name"), "姓名", required=True,
               aliases=("学员姓名", "教师姓名", "真实姓名", "realname", "fullname"))
_ID = Column("id_number", _("ID number"), "身份证号", "id_number", required=True,
             aliases=("身份证号码", "公民身份号码", "身份证", "证件号码", "idno", "id"),
             help=_("18 characters; format the column as text in Excel"))
_PHONE = Column("phone", _("mobile phone"), "手机号", "phone",
                aliases=("手机号码", "手机", "联系电话", "电话", "mobile", "mobilephone"))
_CLASS = Column("class_code", _("class code"), "班级编号", required=True,
                aliases=("班级代码", "开班编号", "班级", "class"))

COLUMNS: dict[str, list[Column]] = {
    ImportKind.TRAINEE: [
        _NAME, _ID, _PHONE,
        Column("category", _("category"), "人员类别", "category", required=True,
               aliases=("类别", "学员类别", "人员类型"),
               help=_("unemployed / employed / retired / student / other, or in Chinese")),
        Column("district", _("district of residence"), "居住区", "district",
               aliases=("户籍区", "常住区", "所在区", "区", "residencedistrict")),
        Column("class_code", _("class code"), "班级编号",
               aliases=_CLASS.aliases, help=_("optional: enrol the trainee into this class")),
    ],
    ImportKind.TEACHER: [
        _NAME, _ID, _PHONE,
        Column("occupation_code", _("occupation code"), "职业编码", "occupation",
               required=True, aliases=("职业代码", "职业", "occupation")),
        Column("level", _("level"), "等级", "level",
               aliases=("技能等级", "职业等级", "证书等级"), help=_("1 (highest) to 5")),
        Column("certificate_number", _("certificate number"), "证书编号", required=True,
               aliases=("证书号", "证书号码", "certificateno", "certificate")),
        Column("valid_until", _("valid until"), "证书有效期至", "date",
               aliases=("有效期至", "有效期", "certificatevaliduntil")),
        Column("institution_credit_code", _("institution credit code"), "机构统一社会信用代码",
               "credit_code", aliases=("机构信用代码", "机构代码", "institution"),
               help=_("only for city administrators; institutions import their own")),
    ],
    ImportKind.INSTITUTION: [
        Column("name", _("name"), "机构名称", required=True,
               aliases=("名称", "机构", "institutionname")),
        Column("credit_code", _("unified social credit code"), "统一社会信用代码",
               "credit_code", required=True, aliases=("信用代码", "社会信用代码", "uscc")),
        Column("district", _("district"), "所在区", "district", aliases=("区", "所属区", "辖区"),
               help=_("a district supervisor may leave it empty: their own district")),
        Column("kind", _("type"), "机构类型", "kind", required=True,
               aliases=("类型", "type", "机构性质")),
        Column("licence_number", _("licence number"), "办学许可证号",
               aliases=("许可证号", "办学许可证", "licenseno", "licencenumber", "licence",
                        "licensenumber")),
        Column("licence_valid_until", _("licence valid until"), "许可证有效期至", "date",
               aliases=("许可证有效期", "licensevaliduntil")),
        Column("address", _("address"), "地址", aliases=("办学地址", "注册地址")),
        Column("contact_name", _("contact person"), "联系人", aliases=("contact",)),
        Column("contact_phone", _("contact phone"), "联系电话", aliases=("联系人电话",)),
    ],
    ImportKind.SESSION: [
        _CLASS,
        Column("sequence", _("session no."), "课次序号", "int",
               aliases=("课次", "序列号", "sessionno", "session"),
               help=_("optional; numbered after the last session when empty")),
        Column("date", _("date"), "上课日期", "date", required=True, aliases=("日期",)),
        Column("start", _("start time"), "开始时间", "time", required=True,
               aliases=("开始", "startsat", "starttime")),
        Column("end", _("end time"), "结束时间", "time", required=True,
               aliases=("结束", "endsat", "endtime")),
        Column("teacher", _("teacher"), "授课教师", required=True,
               aliases=("教师", "教师身份证号", "教师姓名", "teacheridnumber"),
               help=_("the teacher's ID number, or name if unique in the institution")),
        Column("room", _("room"), "教室", aliases=("上课教室",)),
        Column("topic", _("topic"), "课程内容", aliases=("主题", "内容", "授课内容")),
    ],
    ImportKind.ENROLMENT: [
        _CLASS, _ID,
        Column("name", _("name"), "姓名", aliases=_NAME.aliases,
               help=_("optional: checked against the registered name")),
    ],
}

# Columns that our own files carry (serial numbers, the error report's extra columns).
IGNORED_HEADERS = {_norm_header(h) for h in ("序号", "行号", "原行号", "no", "row", "#",
                                              "错误原因", "problems", "rowintheoriginalfile")}

_ALL_HEADER_WORDS: set[str] | None = None


def _header_words(column: Column) -> set[str]:
    words = {column.key, column.zh, *column.aliases}
    for lang in ("en", "zh-hans"):
        with translation.override(lang):
            words.add(str(column.label))
    return {_norm_header(w) for w in words}


def _known_header_count(cells) -> int:
    global _ALL_HEADER_WORDS
    if _ALL_HEADER_WORDS is None:
        _ALL_HEADER_WORDS = set().union(*(_header_words(c) for cols in COLUMNS.values()
                                          for c in cols))
    return sum(1 for c in cells if not _blank(c) and _norm_header(c) in _ALL_HEADER_WORDS)


def map_headers(kind: str, headers: list[str]) -> tuple[dict[str, int], list]:
    """Column key → cell index; raises ``FileProblem`` for missing or repeated columns.
    Returns notes (lazy strings) about columns that were ignored."""
    columns = COLUMNS[kind]
    index: dict[str, int] = {}
    ignored = []
    for position, header in enumerate(headers):
        if not header:
            continue
        parts = [header] + [p for p in re.split(r"[/|]", header) if p.strip()]
        normalised = [_norm_header(p) for p in parts]
        match = next((c for c in columns for n in normalised if n in _header_words(c)), None)
        if match is None:
            if not any(n in IGNORED_HEADERS for n in normalised):
                ignored.append(header)
            continue
        if match.key in index:
            raise FileProblem(lazy_format(_("The column \"%(column)s\" appears twice."),
                                           column=header))
        index[match.key] = position
    missing = [c.label for c in columns if c.required and c.key not in index]
    if missing:
        raise FileProblem(lazy_format(
            _("Required columns are missing: %(columns)s. Download the template to see the "
              "expected column names."), columns=_Join(missing)))
    notes = []
    if ignored:
        notes.append(lazy_format(_("These columns were not recognised and were ignored: "
                                    "%(columns)s"), columns=", ".join(ignored)))
    return index, notes


# --------------------------------------------------------------------------- cell values


class CellError(Exception):
    def __init__(self, code: str, message):
        super().__init__(str(message))
        self.code, self.message = code, message


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _choice_words(choices, extra: dict[str, str]) -> dict[str, str]:
    words = {}
    for value, label in choices.choices:
        words[_norm_header(value)] = value
        for lang in ("en", "zh-hans"):
            with translation.override(lang):
                words[_norm_header(label)] = value
    words.update({_norm_header(k): v for k, v in extra.items()})
    return words


CATEGORY_WORDS = {
    "失业人员": TraineeCategory.UNEMPLOYED, "失业": TraineeCategory.UNEMPLOYED,
    "登记失业人员": TraineeCategory.UNEMPLOYED, "在职": TraineeCategory.EMPLOYED,
    "在职职工": TraineeCategory.EMPLOYED, "职工": TraineeCategory.EMPLOYED,
    "企业职工": TraineeCategory.EMPLOYED, "在职人员": TraineeCategory.EMPLOYED,
    "退休": TraineeCategory.RETIRED, "退休人员": TraineeCategory.RETIRED,
    "学生": TraineeCategory.STUDENT, "在校学生": TraineeCategory.STUDENT,
    "其他": TraineeCategory.OTHER, "其它": TraineeCategory.OTHER,
}
KIND_WORDS = {
    "民办职业培训学校": InstitutionKind.PRIVATE_SCHOOL, "民办培训学校": InstitutionKind.PRIVATE_SCHOOL,
    "职业培训学校": InstitutionKind.PRIVATE_SCHOOL, "培训学校": InstitutionKind.PRIVATE_SCHOOL,
    "技工院校": InstitutionKind.TECHNICAL_COLLEGE, "技工学校": InstitutionKind.TECHNICAL_COLLEGE,
    "技师学院": InstitutionKind.TECHNICAL_COLLEGE, "职业院校": InstitutionKind.TECHNICAL_COLLEGE,
    "企业培训中心": InstitutionKind.ENTERPRISE, "企业": InstitutionKind.ENTERPRISE,
    "线上培训平台": InstitutionKind.ONLINE_PLATFORM, "线上平台": InstitutionKind.ONLINE_PLATFORM,
    "网络培训平台": InstitutionKind.ONLINE_PLATFORM,
    "公共实训基地": InstitutionKind.PUBLIC_CENTRE, "公共培训中心": InstitutionKind.PUBLIC_CENTRE,
    "公共实训中心": InstitutionKind.PUBLIC_CENTRE,
}
LEVEL_WORDS = {
    "一级": 1, "高级技师": 1, "二级": 2, "技师": 2, "三级": 3, "高级工": 3, "四级": 4,
    "中级工": 4, "五级": 5, "初级工": 5, **{f"{n}级": n for n in range(1, 6)},
    **{f"level{n}": n for n in range(1, 6)},
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H时%M分", "%H.%M")


# --------------------------------------------------------------------------- importers


@dataclass
class ParsedRow:
    number: int
    values: dict
    problems: list[Problem] = field(default_factory=list)
    label: str = ""


@dataclass
class RowOutcome:
    row: ParsedRow
    created: bool = False
    problems: list[dict] = field(default_factory=list)


class Importer:
    """Parses rows of one kind and writes each through the registry services."""

    kind: str
    duplicate_columns: tuple[str, ...] = ()
    field_columns: dict[str, str] = {}  # service problem field → column key
    scope_column = ""  # the column to blame when the service says "not yours"

    def __init__(self, actor, index: dict[str, int]):
        self.actor, self.index = actor, index
        self.columns = {c.key: c for c in COLUMNS[self.kind]}
        self._classes: dict[str, TrainingClass | None] = {}
        self._districts: dict[str, District] | None = None
        self._occupations: dict[str, Occupation | None] = {}
        self._categories = _choice_words(TraineeCategory, CATEGORY_WORDS)
        self._kinds = _choice_words(InstitutionKind, KIND_WORDS)
        self._levels = {**{_norm_header(k): v for k, v in _choice_words(Level, {}).items()},
                        **{_norm_header(k): v for k, v in LEVEL_WORDS.items()}}

    # ----- scope of the actor

    @property
    def own_institution(self) -> Institution | None:
        if self.actor.role == Role.INSTITUTION_ADMIN and not self.actor.is_superuser:
            return self.actor.institution
        return None

    def refuse(self, column: str, code: str, message):
        raise BusinessRuleError([self.problem(column, code, message)])

    def problem(self, column: str, code: str, message) -> Problem:
        col = self.columns.get(column)
        return Problem(field=column if col else "", code=code, message=message,
                       label=col.label if col else "")

    def training_class(self, code: str) -> TrainingClass:
        """A class the actor may change; the same refusal for missing and someone else's."""
        if code not in self._classes:
            self._classes[code] = (TrainingClass.objects.restrict(self.actor, "change")
                                   .select_related("course", "institution", "venue")
                                   .filter(code=code).first())
        cls = self._classes[code]
        if cls is None:
            self.refuse("class_code", "not_found",
                        _("no class with this code, or it is not yours"))
        return cls

    # ----- parsing

    def parse(self, number: int, cells: list) -> ParsedRow:
        row = ParsedRow(number=number, values={})
        raw_values = {}
        for key, col in self.columns.items():
            position = self.index.get(key)
            raw = cells[position] if position is not None and position < len(cells) else None
            raw_values[key] = "" if _blank(raw) else _text(raw)
            if _blank(raw):
                row.values[key] = None
                if col.required:
                    row.problems.append(self.problem(key, "required", _("is required")))
                continue
            try:
                row.values[key] = getattr(self, f"parse_{col.type}")(raw)
            except CellError as exc:
                row.values[key] = None
                row.problems.append(self.problem(key, exc.code, exc.message))
        # the label names the row on screen: the raw text where a value did not parse
        shown = {k: v if v is not None else (raw_values[k] or None)
                 for k, v in row.values.items()}
        row.label = self.row_label(shown)[:200]
        return row

    def parse_text(self, raw) -> str:
        return _text(raw)

    def parse_id_number(self, raw) -> str:
        if isinstance(raw, float):
            raise CellError("number_cell", _(
                "was stored as a number, so Excel has rounded its last digits; format the "
                "column as text and enter the number again"))
        value = normalise_id_number(_text(raw))
        reason = id_number_problem(value)
        if reason:
            raise CellError("invalid_id_number", reason)
        return value

    def parse_phone(self, raw) -> str:
        value = _text(raw).replace(" ", "").replace("-", "")
        if value.startswith("+86"):
            value = value[3:]
        if not PHONE_PATTERN.match(value):
            raise CellError("invalid_phone", _("must be an 11-digit mainland mobile number"))
        return value

    def parse_credit_code(self, raw) -> str:
        value = _text(raw).upper()
        reason = uscc_problem(value)
        if reason:
            raise CellError("invalid_credit_code", reason)
        return value

    def parse_int(self, raw) -> int:
        text = _text(raw)
        if not text.isdigit() or int(text) <= 0:
            raise CellError("invalid_number", _("must be a whole number greater than zero"))
        return int(text)

    def parse_date(self, raw) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        text = _text(raw)
        for fmt in DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise CellError("invalid_date", _("must be a date such as 2026-03-01"))

    def parse_time(self, raw) -> dt.time:
        if isinstance(raw, dt.datetime):
            return raw.time()
        if isinstance(raw, dt.time):
            return raw
        text = _text(raw).replace("：", ":")
        for fmt in TIME_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).time()
            except ValueError:
                continue
        raise CellError("invalid_time", _("must be a time such as 09:00"))

    def parse_category(self, raw) -> str:
        value = self._categories.get(_norm_header(_text(raw)))
        if value is None:
            raise CellError("invalid_choice", lazy_format(
                _("\"%(value)s\" is not a category (allowed: %(allowed)s)"), value=_text(raw),
                allowed=_Join(label for _v, label in TraineeCategory.choices)))
        return value

    def parse_kind(self, raw) -> str:
        value = self._kinds.get(_norm_header(_text(raw)))
        if value is None:
            raise CellError("invalid_choice", lazy_format(
                _("\"%(value)s\" is not an institution type (allowed: %(allowed)s)"),
                value=_text(raw), allowed=_Join(label for _v, label in InstitutionKind.choices)))
        return value

    def parse_level(self, raw) -> int:
        text = _text(raw)
        value = int(text) if text.isdigit() else self._levels.get(_norm_header(text))
        if value not in Level.values:
            raise CellError("invalid_level", _("must be a level from 1 (highest) to 5"))
        return value

    def parse_district(self, raw) -> District:
        if self._districts is None:
            self._districts = {}
            for d in District.objects.all():
                for word in (d.code, d.name, d.name.removesuffix("新区").removesuffix("区"),
                             d.name_en, d.name_en.removesuffix(" New Area")):
                    if word:
                        self._districts[_norm_header(word)] = d
        district = self._districts.get(_norm_header(_text(raw)))
        if district is None:
            raise CellError("not_found", lazy_format(_("\"%(value)s\" is not a district"),
                                                      value=_text(raw)))
        return district

    def parse_occupation(self, raw) -> Occupation:
        code = _text(raw)
        if code not in self._occupations:
            self._occupations[code] = Occupation.objects.filter(code=code).first()
        if self._occupations[code] is None:
            raise CellError("not_found", lazy_format(
                _("\"%(value)s\" is not in the occupation catalogue"), value=code))
        return self._occupations[code]

    def row_label(self, values: dict) -> str:
        parts = [str(values.get("name") or "")]
        if values.get("id_number"):
            parts.append(mask_id_number(values["id_number"]))
        return " ".join(p for p in parts if p)

    def duplicate_key(self, values: dict):
        key = tuple(values.get(c) for c in self.duplicate_columns)
        return None if any(v is None for v in key) else key

    # ----- writing

    def apply(self, values: dict, record: str) -> bool:
        """Write one row; True if something was created, False if already present."""
        raise NotImplementedError

    def service_problems(self, exc: BusinessRuleError) -> list[Problem]:
        out = []
        for p in exc.problems:
            column = self.scope_column if p.code == "forbidden" else \
                self.field_columns.get(p.field, p.field)
            if column in self.columns:
                out.append(Problem(field=column, code=p.code, message=p.message,
                                   label=self.columns[column].label))
            else:
                out.append(Problem(field="", code=p.code, message=p.message, label=p.label))
        return out


class TraineeImporter(Importer):
    kind = ImportKind.TRAINEE
    duplicate_columns = ("id_number", "class_code")
    field_columns = {"residence_district": "district", "training_class": "class_code",
                     "trainee": "id_number", "status": "class_code"}
    scope_column = "class_code"

    def duplicate_key(self, values):
        if not values.get("id_number"):
            return None
        return (values["id_number"], values.get("class_code") or "")

    def apply(self, values, record):
        cls = self.training_class(values["class_code"]) if values["class_code"] else None
        institution = self.own_institution or (cls.institution if cls else None)
        trainee, created = services.register_trainee(
            self.actor, name=values["name"], id_number=values["id_number"],
            category=values["category"], phone=values["phone"] or "",
            residence_district=values["district"], institution=institution, record=record)
        if cls is None or Enrolment.objects.filter(training_class=cls, trainee=trainee).exists():
            return created
        services.enrol_trainee(self.actor, cls, trainee, record=record)
        return True


class TeacherImporter(Importer):
    kind = ImportKind.TEACHER
    duplicate_columns = ("id_number", "occupation_code", "level")
    field_columns = {"occupation": "occupation_code"}
    scope_column = "institution_credit_code"

    def duplicate_key(self, values):
        if not values.get("id_number") or not values.get("occupation_code"):
            return None
        return (values["id_number"], values["occupation_code"].pk, values.get("level"))

    def institution(self, credit_code: str | None) -> Institution:
        own = self.own_institution
        if own is not None and (not credit_code or credit_code == own.credit_code):
            return own
        if own is None and not credit_code:
            self.refuse("institution_credit_code", "required",
                        _("is required: say which institution the teacher belongs to"))
        found = Institution.objects.restrict(self.actor, "view").filter(
            credit_code=credit_code).first() if own is None else None
        if found is None:
            self.refuse("institution_credit_code", "not_found",
                        _("no institution with this credit code, or it is not yours"))
        return found

    def apply(self, values, record):
        institution = self.institution(values["institution_credit_code"])
        qualification = {"occupation": values["occupation_code"], "level": values["level"],
                         "certificate_number": values["certificate_number"],
                         "valid_until": values["valid_until"]}
        teacher = Teacher.objects.filter(institution=institution,
                                         **lookup("id_number", values["id_number"])).first()
        if teacher is None:
            services.register_teacher(self.actor, institution, name=values["name"],
                                      id_number=values["id_number"],
                                      phone=values["phone"] or "",
                                      qualifications=[qualification], record=record)
            return True
        if teacher.name != values["name"]:
            self.refuse("name", "name_mismatch", _(
                "does not match the name already registered for this ID number"))
        if teacher.qualifications.filter(occupation=values["occupation_code"],
                                         level=values["level"]).exists():
            return False
        services.add_qualification(self.actor, teacher, **qualification)
        return True


class InstitutionImporter(Importer):
    kind = ImportKind.INSTITUTION
    duplicate_columns = ("credit_code",)
    scope_column = "district"

    def row_label(self, values):
        return " ".join(str(v) for v in (values.get("name"), values.get("credit_code")) if v)

    def apply(self, values, record):
        if Institution.objects.filter(credit_code=values["credit_code"]).exists():
            return False
        district = values["district"]
        if district is None and self.actor.role == Role.DISTRICT_SUPERVISOR:
            district = self.actor.district
        if district is None:
            self.refuse("district", "required", _("is required"))
        services.register_institution(
            self.actor, name=values["name"], credit_code=values["credit_code"],
            district=district, kind=values["kind"],
            licence_number=values["licence_number"] or "",
            licence_valid_until=values["licence_valid_until"],
            address=values["address"] or "", contact_name=values["contact_name"] or "",
            contact_phone=values["contact_phone"] or "")
        return True


class SessionImporter(Importer):
    kind = ImportKind.SESSION
    field_columns = {"starts_at": "date", "ends_at": "end", "status": "class_code",
                     "training_class": "class_code"}
    scope_column = "class_code"

    def duplicate_key(self, values):
        if not values.get("class_code"):
            return None
        if values.get("sequence"):
            return (values["class_code"], "#", values["sequence"])
        if values.get("date") and values.get("start"):
            return (values["class_code"], values["date"], values["start"])
        return None

    def row_label(self, values):
        return " ".join(str(v) for v in (values.get("class_code"), values.get("date"),
                                         values.get("start")) if v)

    def teacher(self, cls: TrainingClass, value: str) -> Teacher:
        ident = normalise_id_number(value)
        candidates = Teacher.objects.filter(institution_id=cls.institution_id)
        if ID_PATTERN.match(ident):
            found = list(candidates.filter(**lookup("id_number", ident))[:2])
        else:
            found = list(candidates.filter(name=value.strip())[:2])
        if not found:
            self.refuse("teacher", "not_found",
                        _("no teacher of the class's institution has this ID number or name"))
        if len(found) > 1:
            self.refuse("teacher", "ambiguous",
                        _("several teachers have this name: give the ID number instead"))
        return found[0]

    def room(self, cls: TrainingClass, name: str | None) -> Room | None:
        if not name:
            return None
        rooms = list(Room.objects.filter(venue__institution_id=cls.institution_id,
                                         name=name.strip()).select_related("venue"))
        in_venue = [r for r in rooms if r.venue_id == cls.venue_id]
        if len(in_venue) == 1:
            return in_venue[0]
        if len(rooms) == 1:
            return rooms[0]
        if not rooms:
            self.refuse("room", "not_found", _("no room of the institution has this name"))
        self.refuse("room", "ambiguous",
                    _("several venues have a room with this name; use the class's venue"))

    def apply(self, values, record):
        cls = self.training_class(values["class_code"])
        starts_at = timezone.make_aware(dt.datetime.combine(values["date"], values["start"]))
        ends_at = timezone.make_aware(dt.datetime.combine(values["date"], values["end"]))
        sequence = values["sequence"]
        if sequence:
            same_number = cls.sessions.filter(sequence=sequence).first()
            if same_number is not None:
                if same_number.starts_at == starts_at and same_number.ends_at == ends_at:
                    return False
                self.refuse("sequence", "conflicts_existing", lazy_format(
                    _("session no. %(n)d of this class already exists at another time"),
                    n=sequence))
        same_start = cls.sessions.filter(starts_at=starts_at).first()
        if same_start is not None:
            if same_start.ends_at == ends_at and not sequence:
                return False
            self.refuse("start", "conflicts_existing",
                        _("another session of this class already starts at this time"))
        services.add_session(self.actor, cls, starts_at=starts_at, ends_at=ends_at,
                             teacher=self.teacher(cls, values["teacher"]),
                             room=self.room(cls, values["room"]), topic=values["topic"] or "",
                             sequence=sequence, record=record)
        return True


class EnrolmentImporter(Importer):
    kind = ImportKind.ENROLMENT
    duplicate_columns = ("class_code", "id_number")
    field_columns = {"trainee": "id_number", "training_class": "class_code",
                     "status": "class_code"}
    scope_column = "class_code"

    def row_label(self, values):
        parts = [str(values.get("class_code") or ""), str(values.get("name") or "")]
        if values.get("id_number"):
            parts.append(mask_id_number(values["id_number"]))
        return " ".join(p for p in parts if p)

    def apply(self, values, record):
        cls = self.training_class(values["class_code"])
        trainee = Trainee.objects.filter(**lookup("id_number", values["id_number"])).first()
        if trainee is None:
            self.refuse("id_number", "not_registered", _(
                "no trainee is registered with this ID number; import the trainee first "
                "(the trainee import can enrol into a class directly)"))
        if values["name"] and values["name"] != trainee.name:
            self.refuse("name", "name_mismatch", _(
                "does not match the name registered for this ID number"))
        if Enrolment.objects.filter(training_class=cls, trainee=trainee).exists():
            return False
        services.enrol_trainee(self.actor, cls, trainee, record=record)
        return True


IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls for cls in (TraineeImporter, TeacherImporter, InstitutionImporter,
                              SessionImporter, EnrolmentImporter)}


def parse_rows(importer: Importer, table: Table) -> list[ParsedRow]:
    """Every row parsed, with repeated rows of the file flagged (first occurrence wins)."""
    seen: dict = {}
    parsed = []
    for number, cells in table.rows:
        row = importer.parse(number, cells)
        key = importer.duplicate_key(row.values)
        if key is not None:
            if key in seen:
                column = importer.duplicate_columns[0] if importer.duplicate_columns \
                    else "class_code"
                row.problems.append(importer.problem(column, "duplicate_in_file", lazy_format(
                    _("repeats row %(row)d of this file"), row=seen[key])))
            else:
                seen[key] = number
        parsed.append(row)
    return parsed


def _apply_row(importer: Importer, row: ParsedRow) -> RowOutcome:
    if row.problems:
        return RowOutcome(row, problems=[p.as_dict() for p in row.problems])
    try:
        with transaction.atomic():  # savepoint: a refused row leaves nothing behind
            created = importer.apply(row.values, record=f"#{row.number}")
    except BusinessRuleError as exc:
        return RowOutcome(row, problems=[p.as_dict() for p in importer.service_problems(exc)])
    except ValidationError as exc:
        exc = from_validation_error(KIND_MODELS[importer.kind], exc)
        return RowOutcome(row, problems=[p.as_dict() for p in importer.service_problems(exc)])
    return RowOutcome(row, created=created)


# --------------------------------------------------------------------------- the batch


def _seal_bytes(data: bytes) -> tuple[str, bytes]:
    ring = crypto.keyring()
    nonce = os.urandom(12)
    return ring.current_id, nonce + ring.keys[ring.current_id].encrypt(nonce, data, _CONTENT_AAD)


def uploaded_bytes(batch: ImportBatch) -> bytes:
    raw = bytes(batch.content)
    return crypto.keyring().keys[batch.content_key].decrypt(raw[:12], raw[12:], _CONTENT_AAD)


def _note(message) -> dict:
    return both_languages(message)


def start_import(actor, kind: str, file_name: str, content: bytes,
                 mode: str = ImportMode.ALL_OR_NOTHING) -> ImportBatch:
    """Keep the upload as a batch, then process it now (small file) or queue it."""
    if kind not in KIND_MODELS or not can(actor, "import", KIND_MODELS[kind]):
        raise PermissionDenied
    if mode not in ImportMode.values:
        mode = ImportMode.ALL_OR_NOTHING
    institution = actor.institution if actor.role == Role.INSTITUTION_ADMIN else None
    key_id, sealed = _seal_bytes(content)
    batch = ImportBatch(
        kind=kind, mode=mode, uploaded_by=actor, institution=institution,
        district_id=actor.district_id or getattr(institution, "district_id", None),
        file_name=os.path.basename(file_name or "upload")[:255], file_size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), content=sealed, content_key=key_id)
    earlier = ImportBatch.objects.filter(uploaded_by=actor, kind=kind, sha256=batch.sha256) \
        .exclude(status=ImportStatus.REJECTED).order_by("-created_at").only("pk", "created_at") \
        .first()
    if earlier is not None:
        batch.notes.append(_note(lazy_format(
            _("You uploaded the same file before (batch #%(id)d, %(at)s); rows already "
              "imported are reported as already present."), id=earlier.pk,
            at=timezone.localtime(earlier.created_at).strftime("%Y-%m-%d %H:%M"))))
    try:
        table = read_table(content, batch.file_name)
        _index, notes = map_headers(kind, table.headers)
    except FileProblem as exc:
        texts = both_languages(exc.message)
        batch.file_problem_zh, batch.file_problem_en = texts["message_zh"], texts["message_en"]
        batch.status, batch.finished_at = ImportStatus.REJECTED, timezone.now()
        with transaction.atomic():
            batch.save()
            _record_audit(batch)
        return batch
    batch.notes += [_note(n) for n in notes]
    batch.total_rows = len(table.rows)
    inline = batch.total_rows <= inline_max_rows()
    with transaction.atomic():
        batch.save()
        if not inline:
            from skillguard.registry.tasks import process_import_batch

            process_import_batch.configure(
                queueing_lock=f"import-batch-{batch.pk}").defer(batch_id=batch.pk)
    if inline:
        try:
            process_batch(batch.pk)
        except Exception:  # recorded on the batch by _fail; the page shows it
            pass
    batch.refresh_from_db()
    return batch


class _BatchLock:
    """A session-level advisory lock, so two workers never run the same batch at once."""

    NAMESPACE = 71101

    def __init__(self, batch_id: int):
        self.args = [self.NAMESPACE, batch_id % 2_147_483_647]

    def __enter__(self) -> bool:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", self.args)
            self.held = cur.fetchone()[0]
        return self.held

    def __exit__(self, *exc):
        if self.held:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", self.args)


class _ProgressChannel:
    """Progress written through a second connection: the all-or-nothing transaction is
    still open, so the batch page would otherwise see nothing until the end."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.conn = connections.create_connection(DEFAULT_DB_ALIAS)

    def report(self, processed: int) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute("SET lock_timeout = '1s'")
                cur.execute(f"UPDATE {ImportBatch._meta.db_table} SET processed_rows = %s "
                            "WHERE id = %s", [processed, self.batch_id])
        except DatabaseError:  # progress is a courtesy; the import itself goes on
            log.warning("import batch %s: progress not written", self.batch_id, exc_info=True)

    def close(self) -> None:
        self.conn.close()


class _RollBack(Exception):
    pass


def process_batch(batch_id: int, *, report_progress: bool = False) -> ImportBatch:
    """Process a batch; does nothing for one that is finished or being processed."""
    batch = ImportBatch.objects.select_related("uploaded_by").get(pk=batch_id)
    if batch.is_finished:
        return batch
    with _BatchLock(batch.pk) as locked:
        if not locked:
            return batch
        batch.refresh_from_db()
        if batch.is_finished:
            return batch
        try:
            _run(batch, report_progress)
        except Exception as exc:
            _fail(batch, exc)
            raise
    batch.refresh_from_db()
    return batch


def _run(batch: ImportBatch, report_progress: bool) -> None:
    try:
        table = read_table(uploaded_bytes(batch), batch.file_name)
        index, _notes = map_headers(batch.kind, table.headers)
    except FileProblem as exc:  # checked at upload; only a changed rule could get here
        texts = both_languages(exc.message)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.REJECTED, file_problem_zh=texts["message_zh"],
            file_problem_en=texts["message_en"], finished_at=timezone.now())
        return
    importer = IMPORTERS[batch.kind](batch.uploaded_by, index)
    rows = parse_rows(importer, table)
    ImportBatch.objects.filter(pk=batch.pk).update(  # a resumed run clears the old failure
        status=ImportStatus.RUNNING, total_rows=len(rows), file_problem_zh="",
        file_problem_en="", started_at=batch.started_at or timezone.now())
    if batch.mode == ImportMode.ALL_OR_NOTHING:
        _run_all_or_nothing(batch, importer, rows, report_progress)
    else:
        _run_valid_only(batch, importer, rows)


def _save_problems(batch: ImportBatch, outcomes: list[RowOutcome]) -> None:
    ImportRowProblem.objects.bulk_create([
        ImportRowProblem(batch=batch, row_number=o.row.number, row_label=o.row.label,
                         column=p["field"], code=p["code"][:64], message_zh=p["message_zh"],
                         message_en=p["message_en"])
        for o in outcomes for p in o.problems], batch_size=1000)


def _run_all_or_nothing(batch, importer, rows, report_progress) -> None:
    outcomes: list[RowOutcome] = []
    channel = _ProgressChannel(batch.pk) if report_progress else None
    try:
        with transaction.atomic():
            for n, row in enumerate(rows, start=1):
                outcomes.append(_apply_row(importer, row))
                if channel and n % PROGRESS_EVERY == 0:
                    channel.report(n)
            if any(o.problems for o in outcomes):
                raise _RollBack  # keep going above so that every bad row is reported
    except _RollBack:
        pass
    finally:
        if channel:
            channel.close()
    bad = [o for o in outcomes if o.problems]
    with transaction.atomic():
        ImportRowProblem.objects.filter(batch=batch).delete()  # from an interrupted run
        _save_problems(batch, bad)
        ImportBatch.objects.filter(pk=batch.pk).update(
            processed_rows=len(rows),
            created_count=0 if bad else sum(o.created for o in outcomes),
            existing_count=sum(1 for o in outcomes if not o.problems and not o.created),
            error_count=len(bad),
            status=ImportStatus.REJECTED if bad else ImportStatus.DONE,
            finished_at=timezone.now())
        batch.refresh_from_db()
        _record_audit(batch)


def _run_valid_only(batch, importer, rows) -> None:
    # Each chunk commits its rows with its counts, so an interrupted run resumes where it
    # stopped and the counts stay exact.
    for start in range(batch.processed_rows, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        with transaction.atomic():
            outcomes = [_apply_row(importer, row) for row in chunk]
            bad = [o for o in outcomes if o.problems]
            _save_problems(batch, bad)
            ImportBatch.objects.filter(pk=batch.pk).update(
                processed_rows=start + len(chunk),
                created_count=F("created_count") + sum(o.created for o in outcomes),
                existing_count=F("existing_count") + sum(
                    1 for o in outcomes if not o.problems and not o.created),
                error_count=F("error_count") + len(bad))
    with transaction.atomic():
        batch.refresh_from_db()
        batch.status = ImportStatus.PARTIAL if batch.error_count else ImportStatus.DONE
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "finished_at"])
        _record_audit(batch)


def _fail(batch: ImportBatch, exc: Exception) -> None:
    log.exception("import batch %s failed", batch.pk)
    texts = both_languages(lazy_format(
        _("The import stopped because of an internal error (%(error)s); rows already "
          "reported as imported are kept. Please tell the service desk."),
        error=type(exc).__name__))
    try:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED, file_problem_zh=texts["message_zh"],
            file_problem_en=texts["message_en"], finished_at=timezone.now())
        batch.refresh_from_db()
        _record_audit(batch)
    except DatabaseError:
        log.exception("import batch %s: failure not recorded", batch.pk)


def _record_audit(batch: ImportBatch) -> None:
    audit._event(batch.uploaded_by, AuditAction.IMPORT, batch, changes={
        "kind": batch.kind, "mode": batch.mode, "file_name": batch.file_name,
        "sha256": batch.sha256, "status": batch.status, "rows": batch.total_rows,
        "created": batch.created_count, "already_present": batch.existing_count,
        "rejected": batch.error_count}).save()


# --------------------------------------------------------------------------- reads


def batches_for(user):
    """The user's own uploads (they hold personal data: nobody browses other people's)."""
    return ImportBatch.objects.filter(uploaded_by=user).defer("content")


def access_batch(user, pk) -> ImportBatch:
    from django.http import Http404

    qs = ImportBatch.objects.defer("content").select_related("uploaded_by")
    if not user.is_superuser:
        qs = qs.filter(uploaded_by=user)
    try:
        return qs.get(pk=pk)
    except (ImportBatch.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such record, or you may not see it.")) from None


def bad_rows(batch: ImportBatch) -> list[tuple[int, str, list[ImportRowProblem]]]:
    """(row number, row label, its problems) for each refused row, in file order."""
    grouped: dict[int, tuple[str, list]] = {}
    for p in batch.problems.all():
        p.column_label = column_label(batch.kind, p.column)
        grouped.setdefault(p.row_number, (p.row_label, []))[1].append(p)
    return [(n, label, problems) for n, (label, problems) in sorted(grouped.items())]


def column_label(kind: str, key: str):
    return next((c.label for c in COLUMNS[kind] if c.key == key), "")


# --------------------------------------------------------------------------- files out


def _safe_cell(value):
    """Spreadsheet cells that start like a formula are written as text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _header_text(column: Column) -> str:
    zh = (translation.get_language() or "").startswith("zh")
    return (column.zh if zh else column.key) + (" *" if column.required else "")


def template_workbook(kind: str) -> bytes:
    """An empty XLSX with the headers of ``kind`` and a sheet explaining the columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(_("Data"))
    for position, column in enumerate(COLUMNS[kind], start=1):
        cell = sheet.cell(row=1, column=position, value=_header_text(column))
        cell.font = Font(bold=True)
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = 22
        if column.type in ("text", "id_number", "phone", "credit_code"):
            sheet.column_dimensions[letter].number_format = "@"  # keep 18-digit IDs intact
    sheet.freeze_panes = "A2"
    guide = workbook.create_sheet(str(_("Instructions")))
    guide.append([str(_("Column")), str(_("Also accepted")), str(_("Required")),
                  str(_("Notes"))])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for column in COLUMNS[kind]:
        guide.append([_header_text(column), f"{column.zh} / {column.key}",
                      str(_("yes")) if column.required else str(_("no")), str(column.help)])
    guide.append([])
    guide.append([str(_("Only the first sheet is read. Row 1 holds the column names; each "
                        "further row is one record. CSV files may be UTF-8 or GBK."))])
    for letter, width in (("A", 24), ("B", 36), ("C", 10), ("D", 70)):
        guide.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def error_report(actor, batch: ImportBatch, fmt: str) -> tuple[bytes, str, str]:
    """The refused rows with their original values and all reasons, as XLSX or CSV.

    Holds the personal data the user uploaded, so the download is recorded."""
    batch = ImportBatch.objects.get(pk=batch.pk)  # with the content
    reasons: dict[int, list[str]] = {}
    for number, _label, problems in bad_rows(batch):
        reasons[number] = [p.message for p in problems]
    headers: list[str] = []
    rows: list[list] = []
    try:
        table = read_table(uploaded_bytes(batch), batch.file_name)
        headers = table.headers
        keep = [i for i, h in enumerate(headers)
                if _norm_header(h) not in IGNORED_HEADERS]
        headers = [headers[i] for i in keep]
        for number, cells in table.rows:
            if number in reasons:
                values = [cells[i] if i < len(cells) else None for i in keep]
                rows.append([number, *values, "; ".join(reasons[number])])
    except FileProblem as exc:
        rows.append([None, *([""] * len(headers)), str(exc.message)])
    title = [str(_("Row in the original file")), *headers, str(_("Problems"))]
    audit.record_export(actor, "registry.importbatch", len(rows),
                        comment=f"error report of import batch #{batch.pk}")
    stem = os.path.splitext(batch.file_name)[0] or "import"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(title)
        for row in rows:
            writer.writerow(["" if v is None else _safe_cell(_text(v)) for v in row])
        return (out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8",
                f"{stem}-errors.csv")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(title)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula
    out = io.BytesIO()
    workbook.save(out)
    return (out.getvalue(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            f"{stem}-errors.xlsx")

"""The v1 docking record types (数据对接记录类型): what a client may push, field by field.

Each type is a pydantic model whose JSON Schema is published at
``GET /api/docking/v1/schemas/{type}.json``; descriptions are bilingual ("English / 中文").
Unknown fields are refused (``extra_field``), so a typo never silently drops data.

References to platform objects:

* a class is named by its platform code (``class_code``, e.g. ``K2026310104000012``) or by
  the ``external_id`` of a ``class`` record the same client sent (``class_external_id``);
* a session by ``class_code`` + ``session_sequence`` or by the ``external_id`` of a
  ``session`` record the same client sent (``session_external_id``);
* people by their resident ID number (the platform only stores its keyed hash).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum, IntEnum
from ipaddress import IPv4Address, IPv6Address

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = "v1"


def _f(en: str, zh: str, **kw):
    return Field(description=f"{en} / {zh}", **kw)


# --------------------------------------------------------------------------- code tables


class TraineeCategoryCode(str, Enum):
    unemployed = "unemployed"
    employed = "employed"
    retired = "retired"
    student = "student"
    other = "other"


class LevelCode(IntEnum):
    """1 = senior technician … 5 = junior worker (国家职业技能等级, 一级最高)."""
    senior_technician = 1
    technician = 2
    advanced = 3
    intermediate = 4
    junior = 5


class TrainingModeCode(str, Enum):
    offline = "offline"
    online = "online"
    blended = "blended"


class CheckKindCode(str, Enum):
    check_in = "in"
    check_out = "out"


class CheckMethodCode(str, Enum):
    face = "face"
    qr = "qr"
    gps = "gps"
    card = "card"


class LearningEventKindCode(str, Enum):
    heartbeat = "heartbeat"
    play = "play"
    pause = "pause"
    seek = "seek"
    speed = "speed"
    focus_lost = "focus_lost"
    face_check = "face_check"
    quiz = "quiz"


# --------------------------------------------------------------------------- records

ID_NUMBER = {"min_length": 18, "max_length": 18}
PHONE = {"max_length": 20}


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              use_enum_values=True)

    external_id: str = _f("The sender's own unique id of this record (idempotency key)",
                          "发送方对本记录的唯一标识（幂等键）", min_length=1, max_length=64)


class Qualification(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=True)

    occupation_code: str = _f("Occupation code (national classification)", "职业编码",
                              min_length=1, max_length=16)
    level: LevelCode | None = _f("Level held, 1 (highest) – 5", "等级，1（最高）至 5",
                                 default=None)
    certificate_number: str = _f("Certificate number", "证书编号", min_length=1, max_length=64)
    valid_until: dt.date | None = _f("Valid until", "有效期至", default=None)


class TraineeRecord(Record):
    """A trainee (学员), identified city-wide by the resident ID number."""
    name: str = _f("Real name", "真实姓名", min_length=1, max_length=32)
    id_number: str = _f("Resident ID number (GB 11643, 18 characters)", "居民身份证号码（18 位）",
                        **ID_NUMBER)
    phone: str = _f("Mobile phone (11 digits)", "手机号码（11 位）", default="", **PHONE)
    category: TraineeCategoryCode = _f("Category", "人员类别")
    residence_district: str | None = _f("Administrative code of the district of residence",
                                        "户籍/常住区行政区划代码", default=None,
                                        min_length=6, max_length=6)


class TeacherRecord(Record):
    """A teacher (师资) of the sending institution, with qualifications."""
    name: str = _f("Real name", "真实姓名", min_length=1, max_length=32)
    id_number: str = _f("Resident ID number", "居民身份证号码", **ID_NUMBER)
    phone: str = _f("Mobile phone", "手机号码", default="", **PHONE)
    qualifications: list[Qualification] = _f("Qualifications held", "职业资格/技能等级证书",
                                             default_factory=list)


class ClassRecord(Record):
    """A class-opening application (开班申请), filed as a draft."""
    name: str = _f("Class name", "班级名称", min_length=1, max_length=128)
    occupation_code: str = _f("Occupation code of the catalogue course", "培训职业编码",
                              min_length=1, max_length=16)
    level: LevelCode | None = _f("Level of the catalogue course", "培训等级", default=None)
    mode: TrainingModeCode = _f("Training mode", "培训方式", default=TrainingModeCode.offline)
    venue: str | None = _f("Venue: platform id or exact name of one of the institution's venues",
                           "培训场地：平台编号或场地名称", default=None, max_length=128)
    start_date: dt.date = _f("First day", "开班日期")
    end_date: dt.date = _f("Last day", "结业日期")
    planned_hours: int = _f("Planned class hours (45 minutes each)", "计划课时（每课时 45 分钟）",
                            gt=0, le=10000)
    capacity: int = _f("Capacity", "班级容量", default=40, gt=0, le=1000)
    teacher_id_numbers: list[str] = _f("ID numbers of the class's teachers", "授课教师身份证号",
                                       default_factory=list)


class RosterRecord(Record):
    """An enrolment (花名册): a registered trainee in a class."""
    class_code: str | None = _f("Platform class code", "平台班级编号", default=None,
                                max_length=32)
    class_external_id: str | None = _f("external_id of a class record you sent",
                                       "本方已推送班级记录的 external_id", default=None,
                                       max_length=64)
    trainee_id_number: str = _f("Trainee's ID number", "学员身份证号", **ID_NUMBER)
    trainee_name: str = _f("Trainee's real name (must match the registration)",
                           "学员姓名（须与登记一致）", min_length=1, max_length=32)


class SessionRecord(Record):
    """A scheduled session (课次) of a class."""
    class_code: str | None = _f("Platform class code", "平台班级编号", default=None,
                                max_length=32)
    class_external_id: str | None = _f("external_id of a class record you sent",
                                       "本方已推送班级记录的 external_id", default=None,
                                       max_length=64)
    sequence: int | None = _f("Session number within the class (default: next)", "课次序号",
                              default=None, gt=0)
    starts_at: AwareDatetime = _f("Start, ISO 8601 with offset", "开始时间（含时区）")
    ends_at: AwareDatetime = _f("End, ISO 8601 with offset", "结束时间（含时区）")
    teacher_id_number: str = _f("Teacher's ID number", "授课教师身份证号", **ID_NUMBER)
    room: str | None = _f("Room name in the class's venue", "教室名称", default=None,
                          max_length=64)
    topic: str = _f("Topic", "授课内容", default="", max_length=128)


class CheckInRecord(Record):
    """A check-in or check-out (签到/签退) of a trainee at a session."""
    class_code: str | None = _f("Platform class code (with session_sequence)",
                                "平台班级编号（与课次序号同用）", default=None, max_length=32)
    session_sequence: int | None = _f("Session number (with class_code)", "课次序号",
                                      default=None, gt=0)
    session_external_id: str | None = _f("external_id of a session record you sent "
                                         "(instead of class_code + session_sequence)",
                                         "本方已推送课次记录的 external_id", default=None,
                                         max_length=64)
    trainee_id_number: str = _f("Trainee's ID number", "学员身份证号", **ID_NUMBER)
    kind: CheckKindCode = _f("in = check-in, out = check-out", "in 签到 / out 签退")
    method: CheckMethodCode = _f("How the person was checked", "签到方式")
    occurred_at: AwareDatetime = _f("When, ISO 8601 with offset", "发生时间（含时区）")
    device_id: str = _f("Device id", "设备编号", default="", max_length=64)
    latitude: Decimal | None = _f("Latitude (WGS 84)", "纬度", default=None, ge=-90, le=90,
                                  max_digits=9, decimal_places=6)
    longitude: Decimal | None = _f("Longitude (WGS 84)", "经度", default=None, ge=-180,
                                   le=180, max_digits=9, decimal_places=6)
    ip: IPv4Address | IPv6Address | None = _f("Client IP address", "客户端 IP", default=None)


class LearningSessionRecord(Record):
    """One sitting of an online learner on a course (在线学习记录)."""
    class_code: str = _f("Platform class code", "平台班级编号", max_length=32)
    trainee_id_number: str = _f("Learner's ID number", "学员身份证号", **ID_NUMBER)
    course_unit: str = _f("Course unit / courseware id", "课件/章节", default="",
                          max_length=128)
    started_at: AwareDatetime = _f("Started", "开始时间")
    ended_at: AwareDatetime | None = _f("Ended", "结束时间", default=None)
    device_id: str = _f("Device id", "设备编号", default="", max_length=64)
    ip: IPv4Address | IPv6Address | None = _f("Client IP address", "客户端 IP", default=None)


class LearningEventRecord(Record):
    """A heartbeat, activity or behaviour signal inside a learning session (学习行为)."""
    learning_session_external_id: str = _f("external_id of the learning_session record",
                                           "学习记录的 external_id", max_length=64)
    kind: LearningEventKindCode = _f("Event kind", "事件类型")
    occurred_at: AwareDatetime = _f("When", "发生时间")
    position_s: int | None = _f("Position in the media (seconds)", "播放位置（秒）",
                                default=None, ge=0)
    value: str = _f("Kind-specific value (speed, face-check result, quiz answer)",
                    "附加值（倍速、人脸核验结果、答题结果）", default="", max_length=64)


class AssessmentRecord(Record):
    """A test result (考核结果)."""
    class_code: str = _f("Platform class code", "平台班级编号", max_length=32)
    trainee_id_number: str = _f("Trainee's ID number", "学员身份证号", **ID_NUMBER)
    name: str = _f("Assessment name", "考核名称", min_length=1, max_length=128)
    taken_at: AwareDatetime = _f("Taken", "考核时间")
    score: Decimal = _f("Score", "得分", ge=0, max_digits=6, decimal_places=2)
    max_score: Decimal = _f("Maximum score", "满分", gt=0, max_digits=6, decimal_places=2)
    passed: bool = _f("Passed", "是否通过")


RECORD_TYPES: dict[str, type[Record]] = {
    "trainee": TraineeRecord,
    "teacher": TeacherRecord,
    "class": ClassRecord,
    "roster": RosterRecord,
    "session": SessionRecord,
    "checkin": CheckInRecord,
    "learning_session": LearningSessionRecord,
    "learning_event": LearningEventRecord,
    "assessment": AssessmentRecord,
}

# Types written as facts with COPY into partitioned tables; the rest through services.
FACT_TYPES = {"checkin": "attendance_checkin", "learning_event": "learning_learningevent"}


def json_schema(record_type: str) -> dict:
    model = RECORD_TYPES[record_type]
    schema = model.model_json_schema()
    schema["$id"] = f"/api/docking/{SCHEMA_VERSION}/schemas/{record_type}.json"
    schema["title"] = record_type
    return schema

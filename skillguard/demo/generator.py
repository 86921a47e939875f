"""The demo city: a deterministic, believable, synthetic Shanghai for SkillGuard.

``build_city(scale, seed)`` fills the registry: the catalogue (``registry/data``), a few
hundred training institutions per unit of scale with filings, venues, rooms, teachers and
their qualifications, trainees, classes in every workflow state with their review history,
sessions and enrolments, and the demo users of every role.

Two writers share one planner, so both produce the same column values:

* the **showcase** institutions of the demo logins (one in Xuhui, one in Pudong) are
  written through ``registry.services`` — validated and audited row by row, with the demo
  users as actors — so that the workflow the demo shows is the real one;
* everything else is written in chunks with PostgreSQL binary ``COPY`` (ID numbers and
  phones sealed with ``core.crypto`` exactly as ``PersonalData`` does, district
  denormalised onto classes, sessions and enrolments, class codes drawn from
  ``registry_class_code_seq``) and audited with one ``import`` event per table and chunk.

Randomness comes only from ``random.Random(seed)``: the same seed (and the same day)
gives the same names, ID numbers, class codes and schedules.
"""
from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from skillguard.core import crypto, validators
from skillguard.demo import names as N
from skillguard.registry.data import load_catalogue, occupation_groups

INSTITUTIONS_PER_SCALE = 320  # ≈ 20 per district at --scale 1
CLASSES_PER_INSTITUTION = 4.0  # median over the ~7 months the demo covers
# Enrolments that one unit of scale yields on average (measured; used to pick the scale
# for a target number of enrolments, e.g. the 700,000 of the benchmark).
ENROLMENTS_PER_SCALE = 41_700
CHUNK_INSTITUTIONS = 40  # institutions planned and written per COPY transaction
RESERVOIR_SIZE = 20_000  # trainees remembered for enrolling them again in a later class

SHOWCASE = (("310104", "xuhui_school"), ("310115", "pudong_school"))
SHOWCASE_STATUSES = ("finished", "in_progress", "approved", "submitted", "returned", "draft",
                     "cancelled")
STATUS_WEIGHTS = (("finished", 42), ("in_progress", 20), ("approved", 10), ("submitted", 8),
                  ("returned", 4), ("draft", 9), ("cancelled", 7))
KIND_WEIGHTS = (("private_school", 72), ("technical_college", 7), ("enterprise", 11),
                ("online_platform", 5), ("public_centre", 5))
GROUP_WEIGHTS = (("care", 22), ("catering", 16), ("beauty", 11), ("mechanical", 12),
                 ("auto", 8), ("digital", 14), ("business", 11), ("health", 6))
FEMALE_SHARE = {"care": 0.85, "catering": 0.45, "beauty": 0.8, "mechanical": 0.08,
                "auto": 0.15, "digital": 0.5, "business": 0.4, "health": 0.7}
CATEGORY_WEIGHTS = (("unemployed", 38), ("employed", 45), ("retired", 3), ("student", 7),
                    ("other", 7))
# Retired people and full-time students are not eligible for subsidised training: they
# appear only on applications not (yet) approved; the review screens them out of held
# classes (the INELIGIBLE_CATEGORY rule and demo.fraud show what happens when it does not).
INELIGIBLE_CATEGORIES = ("retired", "student")
HELD_STATUSES = ("approved", "in_progress", "finished")
CATEGORY_AGES = {"unemployed": (20, 55, 34), "employed": (20, 58, 32), "retired": (55, 70, 60),
                 "student": (17, 23, 19), "other": (18, 60, 36)}

# Session slots: 09:00–12:00, 13:30–16:30, 18:30–21:00 (class hours of 45 minutes).
SLOTS = ((dt.time(9, 0), dt.time(12, 0)), (dt.time(13, 30), dt.time(16, 30)),
         (dt.time(18, 30), dt.time(21, 0)))
SLOT_HOURS = tuple(round((s[1].hour * 60 + s[1].minute - s[0].hour * 60 - s[0].minute) / 45, 2)
                   for s in SLOTS)
# (weekdays, slots, weight): full weekdays, half days, evenings, weekends.
PATTERNS = (((0, 1, 2, 3, 4), (0, 1), 30), ((0, 1, 2, 3, 4), (0,), 15),
            ((0, 1, 2, 3, 4), (1,), 8), ((0, 2, 4), (2,), 8), ((1, 3), (2,), 6),
            ((0, 1, 2, 3), (2,), 7), ((5, 6), (0, 1), 16), ((5,), (0, 1), 6),
            ((6,), (0, 1), 4))
ONLINE_PATTERNS = (((0, 2, 4), (2,), 4), ((1, 3), (2,), 3), ((5, 6), (0, 1), 2),
                   ((0, 1, 2, 3, 4), (2,), 3))


class DemoError(Exception):
    """The demo city cannot be built (bilingual message)."""


def scale_for_enrolments(enrolments: int) -> float:
    return enrolments / ENROLMENTS_PER_SCALE


# --------------------------------------------------------------------------- randomness


class Weighted:
    """A weighted choice that costs one random number and a bisect."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs):
        self.items = [p[0] for p in pairs]
        total, self.cum = 0.0, []
        for _item, weight in pairs:
            total += weight
            self.cum.append(total)
        self.total = total

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def _org_code(rng: random.Random, enterprise: bool) -> str:
    """A GB 11714 organisation code (8 characters and its check character)."""
    if enterprise:  # codes issued since 2015 start with MA
        body = "MA" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2)))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


# --------------------------------------------------------------------------- plans


class PersonPlan:
    __slots__ = ("name", "gender", "birth_year", "id_number", "phone", "category",
                 "residence_id", "registered_by", "created_at", "db_id", "history")

    def __init__(self, name, gender, birth_year, id_number, phone):
        self.name, self.gender, self.birth_year = name, gender, birth_year
        self.id_number, self.phone = id_number, phone
        self.category = self.residence_id = self.registered_by = self.created_at = None
        self.db_id = None
        self.history = []  # (year, subsidy type, occupation id, start, end) of classes


class TeacherPlan:
    __slots__ = ("person", "quals", "created_at", "db_id", "busy")

    def __init__(self, person, quals, created_at):
        self.person, self.quals, self.created_at = person, quals, created_at
        self.db_id = None
        self.busy = set()

    def covers(self, course) -> bool:
        for occupation_id, level, _cert, _until in self.quals:
            if occupation_id == course.occupation_id and (
                    course.level is None or (level is not None and level <= course.level)):
                return True
        return False


class RoomPlan:
    __slots__ = ("name", "capacity", "db_id", "busy")

    def __init__(self, name, capacity):
        self.name, self.capacity, self.db_id, self.busy = name, capacity, None, set()


class VenuePlan:
    __slots__ = ("name", "address", "latitude", "longitude", "radius", "district", "rooms",
                 "db_id")

    def __init__(self, name, address, latitude, longitude, radius, district, rooms):
        self.name, self.address, self.latitude, self.longitude = name, address, latitude, longitude
        self.radius, self.district, self.rooms, self.db_id = radius, district, rooms, None


@dataclass
class SessionPlan:
    starts_at: dt.datetime
    ends_at: dt.datetime
    room: RoomPlan | None
    teacher: TeacherPlan
    topic: str


@dataclass
class ClassPlan:
    name: str
    course: object
    venue: VenuePlan | None
    district: object
    mode: str
    start_date: dt.date
    end_date: dt.date
    capacity: int
    status: str
    teachers: list
    sessions: list
    enrolments: list = field(default_factory=list)  # (PersonPlan, status, enrolled_at)
    reviews: list = field(default_factory=list)  # (from, to, "institution"|"supervisor", comment, at)
    created_at: dt.datetime | None = None
    submitted_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    db_id: int | None = None


@dataclass
class InstitutionPlan:
    name: str
    credit_code: str
    district: object
    kind: str
    group: str
    licence_number: str
    licence_valid_until: dt.date | None
    address: str
    contact_name: str
    contact_phone: str
    whitelist_status: str
    status: str
    created_at: dt.datetime
    filings: list = field(default_factory=list)  # (course, filed_on, valid_until)
    venues: list = field(default_factory=list)
    teachers: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    new_trainees: list = field(default_factory=list)
    db_id: int | None = None


# --------------------------------------------------------------------------- planner


class Planner:
    """Draws the city. Knows nothing about the database except the catalogue and districts."""

    def __init__(self, seed: int, today: dt.date, now: dt.datetime, districts, courses):
        self.rng = random.Random(seed)
        self.seed, self.today, self.now = seed, today, now
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.districts = {d.code: d for d in districts}
        self.courses = list(courses)
        groups = occupation_groups()
        self.course_group = {c.pk: groups.get(c.occupation.code, "business") for c in self.courses}
        self.by_group: dict[str, list] = defaultdict(list)
        for c in self.courses:
            self.by_group[self.course_group[c.pk]].append(c)
        self.online_courses = [c for c in self.courses if c.subsidy_type == "enterprise_online"]
        self.surnames = Weighted(N.SURNAMES)
        self.sh_regions = Weighted(N.SHANGHAI_REGIONS)
        self.other_regions = Weighted(N.OTHER_REGIONS)
        self.statuses = Weighted(STATUS_WEIGHTS)
        self.kinds = Weighted(KIND_WEIGHTS)
        self.groups = Weighted(GROUP_WEIGHTS)
        self.categories = Weighted(CATEGORY_WEIGHTS)
        self.patterns = Weighted([((p[0], p[1]), p[2]) for p in PATTERNS])
        self.online_patterns = Weighted([((p[0], p[1]), p[2]) for p in ONLINE_PATTERNS])
        self.id_counters: dict = {}
        self.names_used: set = set()
        self.org_codes: set = set()
        self.public_centres: set = set()
        self.licence_serial = 0
        self.cert_serial = 0
        self.reservoir: list[PersonPlan] = []
        self.reservoir_seen = 0
        self.topics: dict = {}
        self.holidays = {dt.date.fromisoformat(d) for d in N.HOLIDAYS}

    # ------------------------------------------------------------------ small things

    def _at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    def _office_time(self, day: dt.date) -> dt.datetime:
        r = self.rng.random()
        return self._at(day, 9 + int(r * 8), int(r * 480) % 60)

    def _clamp(self, moment: dt.datetime, floor: dt.datetime | None = None) -> dt.datetime:
        """Never in the future; never before ``floor`` (plus a minute)."""
        if moment > self.now:
            moment = self.now - dt.timedelta(minutes=5)
        if floor is not None and moment <= floor:
            moment = min(floor + dt.timedelta(minutes=1), self.now)
        return moment

    def person_name(self, female: bool) -> str:
        rng = self.rng
        pool = N.GIVEN_FEMALE if female else N.GIVEN_MALE
        first = rng.choice(pool if rng.random() < 0.8 else N.GIVEN_NEUTRAL)
        given = first if rng.random() < 0.22 else first + rng.choice(pool)
        return self.surnames.pick(rng) + given

    def phone(self) -> str:
        return self.rng.choice(N.MOBILE_PREFIXES) + f"{self.rng.randrange(100_000_000):08d}"

    def birth_date(self, lo: float, hi: float, mode: float) -> dt.date:
        age = self.rng.triangular(lo, hi, mode)
        return self.today - dt.timedelta(days=int(age * 365.25))

    def id_number(self, birth: dt.date, male: bool, shanghai_share: float) -> str:
        """A valid GB 11643 number, unique by construction: the order code is a counter per
        region, month of birth and sex, so no two people ever share one."""
        rng = self.rng
        region = (self.sh_regions if rng.random() < shanghai_share else self.other_regions).pick(rng)
        while True:
            key = (region, birth.year, birth.month, male)
            counter = self.id_counters.get(key)
            counter = rng.randint(1, 30) if counter is None else counter + rng.randint(1, 3)
            if counter <= 499:
                self.id_counters[key] = counter
                break
            birth = birth.replace(day=1) - dt.timedelta(days=rng.randint(1, 27))  # month before
        body = f"{region}{birth:%Y%m%d}{2 * counter + (1 if male else 0):03d}"
        return body + validators.id_check_char(body)

    def person(self, female_share: float, ages, shanghai_share=N.SHANGHAI_ID_SHARE) -> PersonPlan:
        female = self.rng.random() < female_share
        birth = self.birth_date(*ages)
        number = self.id_number(birth, not female, shanghai_share)
        return PersonPlan(self.person_name(female), "F" if female else "M",
                          int(number[6:10]), number, self.phone())

    def _unique_name(self, make) -> str:
        for _ in range(30):
            name = make()
            if name not in self.names_used:
                self.names_used.add(name)
                return name
        name = make() + f"（{len(self.names_used)}）"
        self.names_used.add(name)
        return name

    def _brand(self) -> str:
        a, b = self.rng.sample(N.BRAND_CHARS, 2)
        return a + b

    def credit_code(self, kind: str, district_code: str) -> str:
        prefix = {"private_school": "52", "public_centre": "12", "technical_college": "12",
                  "enterprise": "91", "online_platform": "91"}[kind]
        while True:
            org = _org_code(self.rng, prefix == "91")
            if org not in self.org_codes:
                self.org_codes.add(org)
                break
        body = f"{prefix}{district_code}{org}"
        return body + validators.uscc_check_char(body)

    def coordinates(self, district_code: str) -> tuple[Decimal, Decimal]:
        _stem, lat, lon, spread, _roads, _places = N.DISTRICTS[district_code]
        rng = self.rng
        return (Decimal(f"{lat + rng.triangular(-spread, spread, 0):.6f}"),
                Decimal(f"{lon + rng.triangular(-spread, spread, 0) * 1.15:.6f}"))

    def address(self, district, extra: str = "") -> str:
        roads = N.DISTRICTS[district.code][4]
        return f"上海市{district.name}{self.rng.choice(roads)}{self.rng.randint(1, 2999)}号{extra}"

    # ------------------------------------------------------------------ institutions

    def institution(self, district_code: str, *, showcase: bool = False) -> InstitutionPlan:
        rng = self.rng
        district = self.districts[district_code]
        kind = "private_school" if showcase else self.kinds.pick(rng)
        if kind == "public_centre" and district_code in self.public_centres:
            kind = "private_school"
        group = "care" if showcase and district_code == "310104" else (
            "catering" if showcase else self.groups.pick(rng))
        if kind == "technical_college" and group not in ("mechanical", "auto", "digital"):
            group = rng.choice(("mechanical", "auto", "digital"))
        if kind == "online_platform":
            group = "digital"
        places = N.DISTRICTS[district_code][5]
        brand_spec = N.SCHOOL_SPECIALTY[group]

        def make_name():
            brand = self._brand()
            if kind == "private_school":
                form = rng.random()
                if form < 0.4:
                    return f"上海{district.name}{brand}职业技能培训学校"
                if form < 0.75:
                    return f"上海{brand}{rng.choice(brand_spec)}职业技能培训学校"
                return f"上海{rng.choice(places)}{brand}{rng.choice(brand_spec)}培训中心"
            if kind == "technical_college":
                form = rng.random()
                if form < 0.4:
                    return f"上海市{district.name}{brand}职业技术学校"
                if form < 0.7:
                    return f"上海{brand}技师学院"
                return f"上海市{rng.choice(places)}{brand}高级技工学校"
            if kind == "enterprise":
                return f"上海{brand}{rng.choice(N.ENTERPRISE_INDUSTRY[group])}"
            if kind == "online_platform":
                return f"上海{brand}{rng.choice(('网络科技', '在线教育科技', '数字技术'))}有限公司"
            return f"上海市{district.name}职业技能公共实训基地"

        name = self._unique_name(make_name)
        if kind == "public_centre":
            self.public_centres.add(district_code)
        status = "active"
        if not showcase:
            r = rng.random()
            status = "suspended" if r < 0.03 else "closed" if r < 0.04 else "active"
        whitelist = "none"
        if kind == "online_platform":
            r = rng.random()
            whitelist = "whitelisted" if r < 0.8 else "pending" if r < 0.9 else "suspended"
        founded = self.today - dt.timedelta(days=rng.randint(400, 3300))
        licence, valid_until = "", None
        if kind in ("private_school", "technical_college", "public_centre"):
            self.licence_serial += 1
            issued = founded.year
            licence = {"private_school": f"人社民{district_code}{issued}{self.licence_serial:04d}号",
                       "technical_college": f"沪人社技{issued}{self.licence_serial:04d}号",
                       "public_centre": f"沪人社培{issued}{self.licence_serial:04d}号"}[kind]
            valid_until = founded + dt.timedelta(days=5 * 365)
            if valid_until < self.today + dt.timedelta(days=60) and status == "active":
                valid_until = self.today + dt.timedelta(days=rng.randint(90, 1700))
        contact_name, contact_phone = self.person_name(rng.random() < 0.6), self.phone()
        plan = InstitutionPlan(
            name=name, credit_code=self.credit_code(kind, district_code), district=district,
            kind=kind, group=group, licence_number=licence, licence_valid_until=valid_until,
            address=self.address(district), contact_name=contact_name,
            contact_phone=contact_phone if rng.random() < 0.7
            else f"021-{rng.choice('3456'):s}{rng.randrange(10_000_000):07d}",
            whitelist_status=whitelist, status=status, created_at=self._office_time(founded))
        self._filings(plan, founded)
        self._venues(plan, showcase)
        self._teachers(plan, founded)
        if showcase:
            statuses = list(SHOWCASE_STATUSES)
        elif status == "closed":
            statuses = ["finished"] * rng.randint(0, 1)
        else:
            n = max(1, round(CLASSES_PER_INSTITUTION * rng.lognormvariate(0, 0.5)))
            if kind == "online_platform":
                n += 2
            statuses = [self.statuses.pick(rng) for _ in range(n)]
            if status == "suspended":
                statuses = [s if s in ("finished", "cancelled") else "finished" for s in statuses]
        period: dict = defaultdict(int)
        for s in statuses:
            self._class(plan, s, period, showcase)
        return plan

    def _filings(self, plan: InstitutionPlan, founded: dt.date) -> None:
        rng = self.rng
        if plan.kind == "online_platform":
            chosen = rng.sample(self.online_courses, min(len(self.online_courses),
                                                         rng.randint(4, 8)))
        else:
            pool = [c for c in self.by_group[plan.group] if c.subsidy_type != "enterprise_online"]
            if plan.kind == "technical_college":
                pool += [c for c in self.by_group[rng.choice(("mechanical", "auto", "digital"))]
                         if c.subsidy_type != "enterprise_online" and c not in pool]
            # ordered by occupation code, not by primary key: the same city on any database
            codes = {c.occupation_id: c.occupation.code for c in pool}
            occupations = sorted(codes, key=codes.get)
            k = min(len(occupations), rng.randint(2, 4) if plan.kind != "technical_college"
                    else rng.randint(4, 6))
            if plan.kind == "public_centre":
                k = min(len(occupations), 5)
            picked = rng.sample(occupations, k)
            chosen = []
            for occ in picked:
                courses = sorted((c for c in pool if c.occupation_id == occ),
                                 key=lambda c: (c.level is None, -(c.level or 0)))
                levelled = [c for c in courses if c.level is not None]
                depth = 1 + (rng.random() < 0.6) + (rng.random() < 0.3) + (
                    plan.kind == "technical_college")
                chosen += levelled[:depth]
                chosen += [c for c in courses if c.level is None and rng.random() < 0.6]
            if plan.kind == "enterprise" and rng.random() < 0.3:
                chosen += rng.sample(self.online_courses, 1)
        seen = set()
        for course in chosen:
            if course.pk in seen:
                continue
            seen.add(course.pk)
            filed = founded + dt.timedelta(days=rng.randint(10, 300))
            filed = min(filed, self.today - dt.timedelta(days=200))
            until = filed + dt.timedelta(days=3 * 365)
            if until < self.today + dt.timedelta(days=60):
                until = self.today + dt.timedelta(days=rng.randint(120, 1000))
            plan.filings.append((course, filed, until))

    def _venues(self, plan: InstitutionPlan, showcase: bool = False) -> None:
        rng = self.rng
        district = plan.district
        if plan.kind == "online_platform" or showcase:
            count = 1
        else:
            r = rng.random()
            count = 1 if r < 0.8 else 2 if r < 0.98 else 3
        for i in range(count):
            d = district
            if i > 0 and rng.random() < 0.3:
                d = self.districts[rng.choice(N.NEIGHBOURS[district.code])]
            if plan.kind == "online_platform":
                name = "运营中心"
            elif i == 0:
                name = "总部校区" if plan.kind != "enterprise" else "职工培训中心"
            else:
                name = f"{rng.choice(N.DISTRICTS[d.code][5])}教学点"
            lat, lon = self.coordinates(d.code)
            rooms_needed = 1 if plan.kind == "online_platform" else rng.randint(2, 5)
            specials = list(N.SPECIALTY_ROOMS.get(plan.group, ()))
            names = specials[:rng.randint(0, len(specials))] + list(N.ROOM_NAMES)
            rooms = [RoomPlan(names[k], rng.choice((30, 36, 40, 45, 50, 60)))
                     for k in range(rooms_needed)]
            if plan.kind == "online_platform":
                rooms = [RoomPlan("直播室", 10)]
            venue = VenuePlan(name if name not in {v.name for v in plan.venues} else f"{name}{i + 1}",
                              self.address(d, f"{rng.randint(1, 6)}楼" if rng.random() < 0.5 else ""),
                              lat, lon, rng.choice((100, 150, 200, 200, 300, 500)), d, rooms)
            plan.venues.append(venue)

    def _teachers(self, plan: InstitutionPlan, founded: dt.date) -> None:
        rng = self.rng
        female = FEMALE_SHARE[plan.group]
        by_occ: dict[int, list] = defaultdict(list)
        for course, _filed, _until in plan.filings:
            by_occ[course.occupation_id].append(course.level)
        occupations = list(by_occ)
        for occ in occupations:
            levels = [lv for lv in by_occ[occ] if lv is not None]
            need = min(levels) if levels else 3
            for _ in range(1 + (rng.random() < 0.55)):
                level = max(1, need - (rng.random() < 0.35))
                quals = [self._qual(occ, level)]
                others = [o for o in occupations if o != occ]
                if others and rng.random() < 0.3:
                    other = rng.choice(others)
                    other_levels = [lv for lv in by_occ[other] if lv is not None]
                    quals.append(self._qual(other, min(other_levels) if other_levels else 3))
                person = self.person(female, (28, 62, 42), 0.7)
                joined = founded + dt.timedelta(days=rng.randint(0, 360))
                plan.teachers.append(TeacherPlan(person, quals, self._office_time(joined)))

    def _qual(self, occupation_id: int, level: int):
        self.cert_serial += 1
        year = self.today.year - self.rng.randint(1, 12)
        until = None if self.rng.random() < 0.2 else self.today + dt.timedelta(
            days=self.rng.randint(400, 2500))
        return (occupation_id, level, f"ZS{year}{self.cert_serial:08d}", until)

    # ------------------------------------------------------------------ classes

    def _class(self, plan: InstitutionPlan, status: str, period: dict, showcase: bool) -> None:
        rng = self.rng
        filed = [c for c, _f, _u in plan.filings]
        if plan.kind == "online_platform":
            usable = [c for c in filed if c.subsidy_type == "enterprise_online"] or filed
        else:
            usable = [c for c in filed if c.subsidy_type != "enterprise_online"
                      or rng.random() < 0.5] or filed
        if showcase:  # short courses keep the audited path quick
            usable = sorted(usable, key=lambda c: c.standard_hours)[:2]
        weights = [(c, 3 if c.level == 5 else 2 if c.level in (4, None) else 1) for c in usable]
        course = Weighted(weights).pick(rng)
        qualified = [t for t in plan.teachers if t.covers(course)]
        if not qualified:
            return
        teachers = rng.sample(qualified, min(len(qualified), 1 + (rng.random() < 0.4)))
        online = course.subsidy_type == "enterprise_online"
        mode = "online" if online else ("blended" if rng.random() < 0.06 else "offline")
        venue = None if online else rng.choice(plan.venues)
        district = venue.district if venue else plan.district
        days, slots = (self.online_patterns if online else self.patterns).pick(rng)
        home = rng.choice(venue.rooms) if venue else None
        hours = course.standard_hours
        per_week = sum(SLOT_HOURS[s] for s in slots) * len(days)
        if hours / per_week * 7 > 120:  # months of evenings: run it on full weekdays instead
            days, slots = (0, 1, 2, 3, 4), (0, 1) if not online else (2,)
            per_week = sum(SLOT_HOURS[s] for s in slots) * len(days)
        est = max(1, math.ceil(hours / per_week * 7))
        t = self.today
        if status == "finished":  # started within the last ~6 months, over by now
            start = t - dt.timedelta(days=rng.randint(est + 3, max(est + 3, 185)))
        elif status == "in_progress":
            start = t - dt.timedelta(days=rng.randint(1, max(1, int(est * 0.8))))
        elif status == "approved":
            start = t + dt.timedelta(days=rng.randint(3, 30))
        elif status in ("submitted", "returned"):
            start = t + dt.timedelta(days=rng.randint(7, 35))
        elif status == "draft":
            start = t + dt.timedelta(days=rng.randint(10, 40))
        else:  # cancelled
            start = t + dt.timedelta(days=rng.randint(-120, 30))
        sessions = None
        for _attempt in range(4):
            sessions = self._schedule(start, days, slots, hours, teachers, home, venue)
            if not sessions:
                return
            first, last = sessions[0][0], sessions[-1][0]
            if status == "finished" and last >= t - dt.timedelta(days=1):
                start -= dt.timedelta(days=(last - t).days + 3)
            elif status == "in_progress" and last < t:
                start += dt.timedelta(days=(t - last).days + 1)
            elif status == "in_progress" and first > t:
                start -= dt.timedelta(days=(first - t).days + 1)
            else:
                break
        first, last = sessions[0][0], sessions[-1][0]
        if status == "in_progress" and last < t:
            status = "finished"
        elif status == "in_progress" and first > t:
            status = "approved"
        elif status == "finished" and last >= t:
            status = "in_progress" if first <= t else "approved"
        occupation = course.occupation
        topics = self._topics(occupation.name)
        session_plans = []
        count = len(sessions)
        for i, (day, slot, teacher, room) in enumerate(sessions):
            teacher.busy.add((day, slot))
            if room is not None:
                room.busy.add((day, slot))
            begin, end = SLOTS[slot]
            topic = topics[0] if i == 0 else topics[-1] if i == count - 1 else \
                topics[1 + (i * len(topics[1:-1])) // count]
            session_plans.append(SessionPlan(
                dt.datetime.combine(day, begin, tzinfo=self.tz),
                dt.datetime.combine(day, end, tzinfo=self.tz), room, teacher, topic))
        year = first.year
        period[(course.pk, year)] += 1
        if course.subsidy_type == "enterprise_online":
            label = "企业职工线上培训"
        elif course.level is None:
            label = "专项能力培训班"
        else:
            label = f"（{N.LEVEL_NAMES[course.level]}）培训班"
        name = f"{occupation.name}{label}（{year}年第{period[(course.pk, year)]}期）"
        capacity = rng.choice((30, 35, 40, 45, 50)) if not online else rng.choice((40, 50, 60))
        cls = ClassPlan(name=name, course=course, venue=venue, district=district, mode=mode,
                        start_date=first, end_date=last, capacity=capacity, status=status,
                        teachers=teachers, sessions=session_plans)
        self._timeline(cls)
        self._roster(plan, cls, online, showcase)
        plan.classes.append(cls)

    def _topics(self, occupation: str) -> list[str]:
        topics = self.topics.get(occupation)
        if topics is None:
            topics = ([f"开班仪式与{occupation}职业概述"]
                      + [f"{occupation}：{m}" for m in N.SESSION_MODULES]
                      + [f"{occupation}：考前辅导与模拟考核"])
            self.topics[occupation] = topics
        return topics

    def _schedule(self, start, days, slots, hours, teachers, home, venue):
        """(date, slot, teacher, room) for each session from ``start`` until the hours are
        covered; a teacher or room already busy in a slot is never booked twice."""
        result, total, day = [], 0.0, start
        rooms = [home] + [r for r in venue.rooms if r is not home] if venue else [None]
        n_teachers = len(teachers)
        limit = start + dt.timedelta(days=400)
        while total < hours and day < limit:
            if day.weekday() in days and day not in self.holidays:
                for slot in slots:
                    key = (day, slot)
                    teacher = None
                    for k in range(n_teachers):
                        cand = teachers[(len(result) + k) % n_teachers]
                        if key not in cand.busy:
                            teacher = cand
                            break
                    if teacher is None:
                        continue
                    room = None
                    for cand in rooms:
                        if cand is None or key not in cand.busy:
                            room = cand
                            break
                    else:
                        continue
                    result.append((day, slot, teacher, room))
                    total += SLOT_HOURS[slot]
                    if total >= hours:
                        break
            day += dt.timedelta(days=1)
        return result

    def _timeline(self, cls: ClassPlan) -> None:
        """Creation, submission, decision and workflow steps, all in the past and in order."""
        rng = self.rng
        now = self.now
        start_at = self._at(cls.start_date, 8, 0)
        hour = dt.timedelta(hours=1)
        reviews = cls.reviews

        def jitter(lo_days, hi_days):
            return dt.timedelta(minutes=rng.randint(int(lo_days * 1440), int(hi_days * 1440)))

        status = cls.status
        if status == "draft":
            cls.created_at = self._clamp(now - jitter(0.5, 14))
            cls.updated_at = cls.created_at
            return
        if status in ("submitted", "returned"):
            submitted = self._clamp(now - jitter(0.3, 5) - (jitter(2, 5) if status == "returned"
                                                            else dt.timedelta()))
            cls.created_at = submitted - jitter(1, 10)
            reviews.append(("draft", "submitted", "institution", "", submitted))
            cls.submitted_at = cls.updated_at = submitted
            if status == "returned":
                decided = self._clamp(submitted + jitter(0.2, 2), submitted)
                reviews.append(("submitted", "returned", "supervisor",
                                rng.choice(N.RETURN_COMMENTS), decided))
                cls.decided_at = cls.updated_at = decided
            return
        if status == "cancelled":
            cancelled = self._clamp(min(now - jitter(0.05, 10), start_at - jitter(1, 6)))
            if rng.random() < 0.5:
                cls.created_at = cancelled - jitter(3, 20)
            else:
                returned = cancelled - jitter(1, 5)
                submitted = returned - jitter(0.2, 2)
                cls.created_at = submitted - jitter(1, 10)
                cls.submitted_at, cls.decided_at = submitted, returned
                reviews.append(("draft", "submitted", "institution", "", submitted))
                reviews.append(("submitted", "returned", "supervisor",
                                rng.choice(N.RETURN_COMMENTS), returned))
            reviews.append((reviews[-1][1] if reviews else "draft", "cancelled", "institution",
                            rng.choice(N.CANCEL_COMMENTS), cancelled))
            cls.updated_at = cancelled
            return
        # approved, in progress, finished: approved before the first session
        approved = self._clamp(min(now - jitter(0.05, 6), start_at - jitter(2, 10)))
        submitted = approved - jitter(0.5, 5)
        steps = []
        if rng.random() < 0.15:
            returned = submitted
            first_submit = returned - jitter(0.3, 2)
            submitted = returned + jitter(0.5, 3)
            if submitted >= approved:
                submitted = approved - hour
            steps += [("draft", "submitted", "institution", "", first_submit),
                      ("submitted", "returned", "supervisor", rng.choice(N.RETURN_COMMENTS),
                       returned),
                      ("returned", "submitted", "institution", "", submitted)]
        else:
            steps.append(("draft", "submitted", "institution", "", submitted))
        steps.append(("submitted", "approved", "supervisor", rng.choice(N.APPROVE_COMMENTS),
                      approved))
        cls.created_at = steps[0][4] - jitter(1, 12)
        cls.submitted_at, cls.decided_at, cls.updated_at = submitted, approved, approved
        if status in ("in_progress", "finished"):
            started = self._clamp(start_at + dt.timedelta(minutes=rng.randint(0, 50)), approved)
            steps.append(("approved", "in_progress", "institution", "", started))
            cls.updated_at = started
        if status == "finished":
            finished = self._clamp(self._at(cls.end_date, 17, 0) + jitter(0, 3), cls.updated_at)
            steps.append(("in_progress", "finished", "institution", "", finished))
            cls.updated_at = finished
        reviews.extend(steps)

    def _roster(self, plan: InstitutionPlan, cls: ClassPlan, online: bool,
                showcase: bool = False) -> None:
        rng = self.rng
        course = cls.course
        size = rng.randint(20, min(22 if showcase else 40, cls.capacity))
        year = cls.start_date.year
        record = (year, course.subsidy_type, course.occupation_id, cls.start_date, cls.end_date)
        female = FEMALE_SHARE[self.course_group[course.pk]]
        until = cls.submitted_at or self._clamp(cls.created_at + dt.timedelta(days=10))
        window = max(60, int((until - cls.created_at).total_seconds()))
        status = cls.status
        reservoir = self.reservoir
        # people come back for a second kind of subsidy (one per kind and year)
        reuse = 0.1 if course.subsidy_type == "skill_certificate" else 0.45
        for _ in range(size):
            trainee = None
            if reservoir and rng.random() < reuse:
                for _try in range(6):
                    cand = reservoir[rng.randrange(len(reservoir))]
                    if self._eligible(cand, record, online, status in HELD_STATUSES):
                        trainee = cand
                        break
            enrolled = cls.created_at + dt.timedelta(seconds=rng.randrange(window))
            if trainee is None:
                category = "employed" if online else self.categories.pick(rng)
                if category in INELIGIBLE_CATEGORIES and status in HELD_STATUSES:
                    category = "unemployed" if rng.random() < 0.45 else "employed"
                trainee = self.person(female, CATEGORY_AGES[category])
                trainee.category = category
                r = rng.random()
                home = plan.district.code
                trainee.residence_id = self.districts[
                    home if r < 0.6 else rng.choice(N.NEIGHBOURS[home]) if r < 0.9
                    else rng.choice(list(self.districts))].pk
                trainee.registered_by = plan
                trainee.created_at = enrolled - dt.timedelta(minutes=rng.randint(1, 240))
                plan.new_trainees.append(trainee)
                self._remember(trainee)
            trainee.history.append(record)
            if status == "finished":
                r = rng.random()
                state = "completed" if r < 0.88 else "withdrawn" if r < 0.93 else "enrolled"
            elif status == "in_progress":
                state = "withdrawn" if rng.random() < 0.04 else "enrolled"
            elif status == "cancelled":
                state = "withdrawn"
            else:
                state = "enrolled"
            cls.enrolments.append((trainee, state, enrolled))

    @staticmethod
    def _eligible(trainee: PersonPlan, record, online: bool, held: bool = False) -> bool:
        """May this person take another subsidised class? Per calendar year each subsidy
        type once and at most three in all; never the same occupation twice; never two
        classes at once; never retired people or students in a held class."""
        year, subsidy, occupation, start, end = record
        if held and trainee.category in INELIGIBLE_CATEGORIES:
            return False
        if online and trainee.category != "employed":
            return False
        same_year = 0
        for y, s, o, a, b in trainee.history:
            if o == occupation or (a <= end and start <= b):
                return False
            if y == year:
                if s == subsidy:
                    return False
                same_year += 1
        return same_year < 3

    def _remember(self, trainee: PersonPlan) -> None:
        """Keep a bounded, uniform sample of trainees (reservoir sampling)."""
        self.reservoir_seen += 1
        if len(self.reservoir) < RESERVOIR_SIZE:
            self.reservoir.append(trainee)
        else:
            k = self.rng.randrange(self.reservoir_seen)
            if k < RESERVOIR_SIZE:
                self.reservoir[k] = trainee


# --------------------------------------------------------------------------- bulk writer

_PG_TYPES = {
    "AutoField": "int4", "BigAutoField": "int8", "SmallAutoField": "int2",
    "BigIntegerField": "int8", "IntegerField": "int4", "PositiveIntegerField": "int4",
    "PositiveBigIntegerField": "int8", "SmallIntegerField": "int2",
    "PositiveSmallIntegerField": "int2", "CharField": "varchar", "SlugField": "varchar",
    "EmailField": "varchar", "URLField": "varchar", "FileField": "varchar",
    "ImageField": "varchar", "FilePathField": "varchar", "TextField": "text",
    "DateField": "date", "DateTimeField": "timestamptz", "TimeField": "time",
    "DurationField": "interval", "BooleanField": "bool", "DecimalField": "numeric",
    "FloatField": "float8", "JSONField": "jsonb", "UUIDField": "uuid",
    "GenericIPAddressField": "inet", "BinaryField": "bytea",
}


def _pg_type(f) -> str:
    target = f.target_field if f.is_relation else f
    internal = target.get_internal_type()
    try:
        return _PG_TYPES[internal]
    except KeyError:
        raise DemoError(f"demo generator cannot COPY a {internal} column ({f})") from None


class Table:
    """A model's table for COPY: the columns the generator fills, in order, plus any other
    column filled with its model default (so a field added later does not break the demo)."""

    def __init__(self, model, columns: tuple[str, ...]):
        self.model = model
        self.label = model._meta.label_lower
        self.db_table = model._meta.db_table
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        missing = [c for c in columns if c not in by_attname]
        if missing:
            raise DemoError(f"{self.label} has no column(s) {missing}")
        self.columns = tuple(columns)
        self.extra_constant: list = []
        self.extra_callable: list = []
        for f in model._meta.concrete_fields:
            if f.attname in columns or (f.primary_key and isinstance(f, models.AutoField)):
                continue
            if f.db_default is not models.NOT_PROVIDED:
                continue
            if f.has_default() and callable(f.default):
                self.extra_callable.append(f)
            else:
                self.extra_constant.append((f, f.get_default()))
        names = list(columns) + [f.attname for f, _v in self.extra_constant] + [
            f.attname for f in self.extra_callable]
        self.all_columns = names
        self.types = [_pg_type(by_attname[n]) for n in names]
        self.constant_tail = tuple(self._json(f, v) for f, v in self.extra_constant)
        self.sql = (f'COPY "{self.db_table}" ({", ".join(chr(34) + n + chr(34) for n in names)})'
                    " FROM STDIN (FORMAT BINARY)")

    @staticmethod
    def _json(f, value):
        if f.get_internal_type() == "JSONField":
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def copy(self, rows: list) -> None:
        if not rows:
            return
        tail = self.constant_tail
        callables = self.extra_callable
        with connection.cursor() as c:
            raw = c.connection
            with raw.cursor() as cur, cur.copy(self.sql) as copy:
                copy.set_types(self.types)
                write = copy.write_row
                if not tail and not callables:
                    for row in rows:
                        write(row)
                else:
                    for row in rows:
                        write(row + tail + tuple(self._json(f, f.get_default())
                                                 for f in callables))


def _sealed(value: str, normalise, mask) -> tuple[str, str, str]:
    """The three columns ``PersonalData.__set__`` writes for one value."""
    value = normalise(value or "")
    return crypto.seal(value), crypto.lookup_hash(value), (mask(value) if value else "")


@dataclass
class Stats:
    rows: dict = field(default_factory=lambda: defaultdict(int))
    copy_seconds: dict = field(default_factory=lambda: defaultdict(float))
    plan_seconds: float = 0.0
    rows_seconds: float = 0.0
    other_seconds: float = 0.0
    chunks: int = 0


class BulkWriter:
    def __init__(self, seed: int, stats: Stats, supervisors: dict[int, int]):
        from skillguard.registry import models as m

        self.seed, self.stats, self.supervisors = seed, stats, supervisors
        self.m = m
        id_ = validators.normalise_id_number
        self.id_seal = (id_, validators.mask_id_number)
        self.phone_seal = (str.strip, validators.mask_phone)
        t = Table
        self.institution = t(m.Institution, (
            "id", "name", "credit_code", "district_id", "kind", "licence_number",
            "licence_valid_until", "address", "contact_name", "contact_phone", "whitelist_status",
            "status", "created_at", "updated_at"))
        self.filing = t(m.InstitutionFiling, ("institution_id", "course_id", "filed_on",
                                              "valid_until"))
        self.venue = t(m.Venue, ("id", "institution_id", "district_id", "name", "address",
                                 "latitude", "longitude", "geofence_radius_m", "active"))
        self.room = t(m.Room, ("id", "venue_id", "name", "capacity"))
        self.teacher = t(m.Teacher, (
            "id", "institution_id", "name", "gender", "id_number_enc", "id_number_hash",
            "id_number_masked", "phone_enc", "phone_hash", "phone_masked", "photo", "active",
            "created_at"))
        self.qualification = t(m.TeacherQualification, (
            "teacher_id", "occupation_id", "level", "certificate_number", "valid_until"))
        self.trainee = t(m.Trainee, (
            "id", "name", "gender", "birth_year", "id_number_enc", "id_number_hash",
            "id_number_masked", "phone_enc", "phone_hash", "phone_masked", "category",
            "residence_district_id", "registered_by_id", "id_verified", "created_at",
            "updated_at"))
        self.training_class = t(m.TrainingClass, (
            "id", "code", "name", "institution_id", "district_id", "course_id", "venue_id",
            "mode", "start_date", "end_date", "planned_hours", "capacity", "min_attendance_rate",
            "status", "submitted_at", "decided_at", "decided_by_id", "created_at",
            "updated_at"))
        self.class_teachers = t(m.TrainingClass.teachers.through, ("trainingclass_id",
                                                                   "teacher_id"))
        self.review = t(m.ClassReview, ("training_class_id", "from_status", "to_status",
                                        "actor_id", "comment", "at"))
        self.session = t(m.Session, ("training_class_id", "district_id", "sequence",
                                     "starts_at", "ends_at", "room_id", "teacher_id", "topic"))
        self.enrolment = t(m.Enrolment, ("training_class_id", "trainee_id", "district_id",
                                         "institution_id", "status", "enrolled_at"))
        self.min_rate = m.TrainingClass._meta.get_field("min_attendance_rate").default
        self._sequences: dict[str, str] = {}

    def _ids(self, table: Table, n: int) -> list[int]:
        if n == 0:
            return []
        seq = self._sequences.get(table.db_table)
        with connection.cursor() as c:
            if seq is None:
                c.execute("select pg_get_serial_sequence(%s, 'id')", [table.db_table])
                seq = self._sequences[table.db_table] = c.fetchone()[0]
            c.execute("select nextval(%s) from generate_series(1, %s)", [seq, n])
            return sorted(r[0] for r in c.fetchall())

    def _class_codes(self, n: int) -> list[int]:
        with connection.cursor() as c:
            c.execute("select nextval('registry_class_code_seq') from generate_series(1, %s)", [n])
            return sorted(r[0] for r in c.fetchall())

    def write(self, district, plans: list[InstitutionPlan]) -> None:
        stats = self.stats
        with transaction.atomic():
            with connection.cursor() as c:
                # foreign keys checked in each COPY (not queued to commit); demo data can be
                # rebuilt, so a commit need not wait for the disk
                c.execute("SET CONSTRAINTS ALL IMMEDIATE")
                c.execute("SET LOCAL synchronous_commit TO OFF")
            started = time.perf_counter()
            tables = self._rows(plans)
            stats.rows_seconds += time.perf_counter() - started
            for table, rows in tables:
                t0 = time.perf_counter()
                table.copy(rows)
                stats.copy_seconds[table.label] += time.perf_counter() - t0
                stats.rows[table.label] += len(rows)
            t0 = time.perf_counter()
            self._audit(district, tables)
            with connection.cursor() as c:
                c.execute("SET CONSTRAINTS ALL DEFERRED")
            stats.other_seconds += time.perf_counter() - t0
        stats.chunks += 1

    def _audit(self, district, tables) -> None:
        from skillguard.audit import services as audit
        from skillguard.audit.models import AuditAction, AuditEvent

        events = []
        for table, rows in tables:
            if not rows:
                continue
            n = len(rows)
            event = audit._event(None, AuditAction.IMPORT, object_type=table.label,
                                 object_repr=f"{n} rows",
                                 comment=f"demo city generator, seed {self.seed}, {n} rows")
            event.district_id = district.pk
            events.append(event)
        AuditEvent.objects.bulk_create(events)

    def _rows(self, plans: list[InstitutionPlan]):
        venues = [v for p in plans for v in p.venues]
        rooms = [r for v in venues for r in v.rooms]
        teachers = [t for p in plans for t in p.teachers]
        trainees = [t for p in plans for t in p.new_trainees]
        classes = [c for p in plans for c in p.classes]
        for objs, table in ((plans, self.institution), (venues, self.venue), (rooms, self.room),
                            (teachers, self.teacher), (trainees, self.trainee),
                            (classes, self.training_class)):
            for obj, pk in zip(objs, self._ids(table, len(objs))):
                obj.db_id = pk
        codes = self._class_codes(len(classes))
        id_norm, id_mask = self.id_seal
        ph_norm, ph_mask = self.phone_seal

        inst_rows, filing_rows, venue_rows, room_rows = [], [], [], []
        teacher_rows, qual_rows, trainee_rows = [], [], []
        class_rows, ct_rows, review_rows, session_rows, enrol_rows = [], [], [], [], []
        for p in plans:
            inst_rows.append((p.db_id, p.name, p.credit_code.strip().upper(), p.district.pk,
                              p.kind, p.licence_number, p.licence_valid_until, p.address,
                              p.contact_name, p.contact_phone, p.whitelist_status, p.status,
                              p.created_at, p.created_at))
            for course, filed, until in p.filings:
                filing_rows.append((p.db_id, course.pk, filed, until))
            for v in p.venues:
                venue_rows.append((v.db_id, p.db_id, v.district.pk, v.name, v.address,
                                   v.latitude, v.longitude, v.radius, True))
                for r in v.rooms:
                    room_rows.append((r.db_id, v.db_id, r.name, r.capacity))
            for t in p.teachers:
                person = t.person
                teacher_rows.append(
                    (t.db_id, p.db_id, person.name.strip(), person.gender
                     or validators.id_gender(person.id_number))
                    + _sealed(person.id_number, id_norm, id_mask)
                    + _sealed(person.phone, ph_norm, ph_mask)
                    + ("", True, t.created_at))
                for occupation_id, level, cert, until in t.quals:
                    qual_rows.append((t.db_id, occupation_id, level, cert, until))
            for tr in p.new_trainees:
                trainee_rows.append(
                    (tr.db_id, tr.name.strip(), validators.id_gender(tr.id_number),
                     validators.id_birth_date(tr.id_number).year)
                    + _sealed(tr.id_number, id_norm, id_mask)
                    + _sealed(tr.phone, ph_norm, ph_mask)
                    + (tr.category, tr.residence_id, p.db_id, True, tr.created_at,
                       tr.created_at))
        by_class_inst = {id(c): p for p in plans for c in p.classes}
        for cls, n in zip(classes, codes):
            p = by_class_inst[id(cls)]
            district = cls.district
            year = cls.start_date.year
            code = f"K{year}{district.code}{n:06d}"
            supervisor = self.supervisors.get(district.pk)
            decided_by = supervisor if cls.decided_at else None
            class_rows.append((
                cls.db_id, code, cls.name, p.db_id, district.pk, cls.course.pk,
                cls.venue.db_id if cls.venue else None, cls.mode, cls.start_date, cls.end_date,
                cls.course.standard_hours, cls.capacity, self.min_rate, cls.status,
                cls.submitted_at, cls.decided_at, decided_by, cls.created_at, cls.updated_at))
            for t in cls.teachers:
                ct_rows.append((cls.db_id, t.db_id))
            for frm, to, who, comment, at in cls.reviews:
                review_rows.append((cls.db_id, frm, to, supervisor if who == "supervisor"
                                    else None, comment, at))
            for seq, s in enumerate(cls.sessions, 1):
                session_rows.append((cls.db_id, district.pk, seq, s.starts_at, s.ends_at,
                                     s.room.db_id if s.room else None, s.teacher.db_id, s.topic))
            for trainee, state, enrolled in cls.enrolments:
                enrol_rows.append((cls.db_id, trainee.db_id, district.pk, p.db_id, state,
                                   enrolled))
        return [(self.institution, inst_rows), (self.filing, filing_rows),
                (self.venue, venue_rows), (self.room, room_rows),
                (self.teacher, teacher_rows), (self.qualification, qual_rows),
                (self.trainee, trainee_rows), (self.training_class, class_rows),
                (self.class_teachers, ct_rows), (self.review, review_rows),
                (self.session, session_rows), (self.enrolment, enrol_rows)]


def _release(plans: list[InstitutionPlan]) -> None:
    """Drop what the reservoir does not need once a chunk is written (flat memory)."""
    for p in plans:
        for t in p.new_trainees:
            t.name = t.id_number = t.phone = t.registered_by = None
        p.new_trainees = p.classes = p.teachers = p.venues = p.filings = []


# --------------------------------------------------------------------------- service writer


class ServiceWriter:
    """Writes one institution plan through ``registry.services`` with demo users as actors,
    then moves the workflow timestamps to the planned (past) moments."""

    def __init__(self, stats: Stats):
        self.stats = stats

    def write(self, plan: InstitutionPlan, supervisor, make_admin):
        from skillguard.registry import models as m
        from skillguard.registry import services as s

        t0 = time.perf_counter()
        inst = s.register_institution(
            supervisor, name=plan.name, credit_code=plan.credit_code, district=plan.district,
            kind=plan.kind, licence_number=plan.licence_number,
            licence_valid_until=plan.licence_valid_until, address=plan.address,
            contact_name=plan.contact_name, contact_phone=plan.contact_phone,
            whitelist_status=plan.whitelist_status, status=plan.status)
        plan.db_id = inst.pk
        admin = make_admin(inst)
        for course, filed, until in plan.filings:
            s.file_course(supervisor, inst, course, filed, until)
        for v in plan.venues:
            venue = s.add_venue(admin, inst, name=v.name, address=v.address,
                                latitude=v.latitude, longitude=v.longitude,
                                geofence_radius_m=v.radius, district=v.district)
            v.db_id = venue.pk
            for r in v.rooms:
                r.db_id = s.add_room(admin, venue, name=r.name, capacity=r.capacity).pk
        rooms = {r.pk: r for r in m.Room.objects.filter(venue__institution=inst)}
        teachers = {}
        for t in plan.teachers:
            teacher = s.register_teacher(
                admin, inst, name=t.person.name, id_number=t.person.id_number,
                phone=t.person.phone, gender=t.person.gender,
                qualifications=[{"occupation_id": o, "level": lv, "certificate_number": c,
                                 "valid_until": u} for o, lv, c, u in t.quals])
            t.db_id = teacher.pk
            teachers[t.db_id] = teacher
        for tr in plan.new_trainees:
            trainee, _created = s.register_trainee(
                admin, name=tr.name, id_number=tr.id_number, category=tr.category,
                phone=tr.phone, residence_district=m.District.objects.get(pk=tr.residence_id),
                institution=inst)
            tr.db_id = trainee.pk
        venues = {v.db_id: m.Venue.objects.get(pk=v.db_id) for v in plan.venues}
        trainees = {t.pk: t for t in m.Trainee.objects.filter(
            pk__in={tr.db_id for c in plan.classes for tr, _s, _e in c.enrolments})}
        for cls in plan.classes:
            obj = s.create_class(
                admin, inst, teachers=[teachers[t.db_id] for t in cls.teachers], name=cls.name,
                course=cls.course, venue=venues[cls.venue.db_id] if cls.venue else None,
                mode=cls.mode, start_date=cls.start_date, end_date=cls.end_date,
                planned_hours=cls.course.standard_hours, capacity=cls.capacity)
            cls.db_id = obj.pk
            for seq, sp in enumerate(cls.sessions, 1):
                s.add_session(admin, obj, starts_at=sp.starts_at, ends_at=sp.ends_at,
                              teacher=teachers[sp.teacher.db_id],
                              room=rooms[sp.room.db_id] if sp.room else None, topic=sp.topic,
                              sequence=seq)
            enrolments = []
            for tr, _state, _at in cls.enrolments:
                enrolments.append(s.enrol_trainee(admin, obj, trainees[tr.db_id]))
            for frm, to, who, comment, _at in cls.reviews:
                step = {"submitted": "submit", "approved": "approve", "returned": "return",
                        "in_progress": "start", "finished": "finish",
                        "cancelled": "cancel"}[to]
                obj = s.transition_class(supervisor if who == "supervisor" else admin, obj,
                                         step, comment)
            for e, (_tr, state, _at) in zip(enrolments, cls.enrolments):
                if state == "withdrawn":
                    s.withdraw_enrolment(admin, e)
                elif state == "completed":
                    self._complete(admin, e)
            self._backdate(cls, obj)
        m.Institution.objects.filter(pk=inst.pk).update(created_at=plan.created_at,
                                                        updated_at=plan.created_at)
        for t in plan.teachers:
            m.Teacher.objects.filter(pk=t.db_id).update(created_at=t.created_at)
        for tr in plan.new_trainees:
            m.Trainee.objects.filter(pk=tr.db_id).update(created_at=tr.created_at,
                                                         updated_at=tr.created_at)
        self.stats.other_seconds += time.perf_counter() - t0
        return inst

    @staticmethod
    def _complete(actor, enrolment) -> None:
        from skillguard.audit import services as audit

        before = audit.snapshot(enrolment)
        enrolment.status = "completed"
        enrolment.save(update_fields=["status"])
        audit.record_updated(actor, enrolment, before, comment="class finished")

    @staticmethod
    def _backdate(cls: ClassPlan, obj) -> None:
        """The services stamp 'now'; the plan says when each step happened in the story.
        (The audit trail keeps the real moments at which the demo wrote the rows.)"""
        from skillguard.registry import models as m

        m.TrainingClass.objects.filter(pk=obj.pk).update(
            created_at=cls.created_at, updated_at=cls.updated_at,
            submitted_at=cls.submitted_at, decided_at=cls.decided_at)
        reviews = list(m.ClassReview.objects.filter(training_class=obj).order_by("id")
                       .values_list("pk", flat=True))
        for pk, (_f, _t, _w, _c, at) in zip(reviews, cls.reviews):
            m.ClassReview.objects.filter(pk=pk).update(at=at)
        enrolments = list(m.Enrolment.objects.filter(training_class=obj).order_by("id")
                          .values_list("pk", flat=True))
        for pk, (_tr, _s, at) in zip(enrolments, cls.enrolments):
            m.Enrolment.objects.filter(pk=pk).update(enrolled_at=at)


# --------------------------------------------------------------------------- reset


def _registry_data_tables() -> tuple[list[str], list[str]]:
    """(tables to TRUNCATE, tables to DELETE FROM in order) for a reset.

    All registry tables except the reference data (districts, catalogue), plus every table
    that references them, directly or not (other apps' facts about classes and sessions).
    Tables that user accounts point at (institutions, teachers, trainees) cannot be
    truncated without truncating the users, so they are emptied with DELETE after the
    users anchored to them are removed."""
    from skillguard.accounts.models import User

    keep = {"registry_district", "registry_occupation", "registry_course"}
    start = set()
    for model in apps.get_app_config("registry").get_models(include_auto_created=True):
        if model._meta.db_table not in keep and not model._meta.proxy:
            start.add(model._meta.db_table)
    user_table = User._meta.db_table
    with connection.cursor() as c:
        c.execute("""select src.relname, dst.relname
                     from pg_constraint k
                     join pg_class src on src.oid = k.conrelid
                     join pg_class dst on dst.oid = k.confrelid
                     join pg_namespace n on n.oid = src.relnamespace
                     where k.contype = 'f' and n.nspname = current_schema()""")
        edges = c.fetchall()
    tables = set(start)
    changed = True
    while changed:
        changed = False
        for src, dst in edges:
            if dst in tables and src not in tables and src != user_table:
                tables.add(src)
                changed = True
    referenced_by_users = {dst for src, dst in edges if src == user_table and dst in tables}
    truncate = sorted(tables - referenced_by_users)
    delete, remaining = [], set(referenced_by_users)
    while remaining:  # children first
        ready = sorted(t for t in remaining
                       if not any(dst == t and src in remaining and src != t
                                  for src, dst in edges))
        if not ready:
            raise DemoError(f"cannot order reset of {sorted(remaining)}")
        delete += ready
        remaining -= set(ready)
    return truncate, delete


def reset_demo(stdout=None) -> dict[str, int]:
    """Empty the registry (except districts and the catalogue) and remove the demo users.

    Destructive by design: this is what ``demo --reset`` does. The audit trail is kept
    (it is append-only); the reset itself is recorded in it."""
    from skillguard.accounts.models import User
    from skillguard.audit import services as audit
    from skillguard.audit.models import AuditAction, AuditEvent
    from skillguard.demo.users import delete_users, demo_usernames

    truncate, delete = _registry_data_tables()
    counts = {}
    with transaction.atomic():
        with connection.cursor() as c:
            for table in truncate + delete:
                c.execute(f'select count(*) from "{table}"')
                counts[table] = c.fetchone()[0]
            if truncate:
                c.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in truncate) + " RESTART IDENTITY")
            # check-ins point at sessions and enrolments without foreign keys (partitioned
            # fact table): they go with the registry
            c.execute("select count(*) from attendance_checkin")
            counts["attendance_checkin"] = c.fetchone()[0]
            c.execute("TRUNCATE attendance_checkin")
        anchored = User.objects.filter(
            models.Q(username__in=demo_usernames()) | models.Q(institution__isnull=False)
            | models.Q(teacher__isnull=False) | models.Q(trainee__isnull=False))
        counts["accounts_user"] = delete_users(anchored)
        with connection.cursor() as c:
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in delete:
                c.execute(f'DELETE FROM "{table}"')
                c.execute("select pg_get_serial_sequence(%s, 'id')", [table])
                seq = c.fetchone()[0]
                if seq:
                    c.execute("select setval(%s, 1, false)", [seq])
            c.execute("ALTER SEQUENCE registry_class_code_seq RESTART WITH 1")
            c.execute("SET CONSTRAINTS ALL DEFERRED")
        AuditEvent.objects.bulk_create([
            audit._event(None, AuditAction.DELETE, object_type=table, object_repr=f"{n} rows",
                         comment=f"demo city reset (--reset): {n} rows removed")
            for table, n in counts.items() if n])
    if stdout:
        removed = sum(counts.values())
        stdout.write(f"Reset: {removed} rows removed from {len(counts)} tables / 已清空演示数据\n")
    return counts


# --------------------------------------------------------------------------- build


@dataclass
class BuildReport:
    scale: float
    seed: int
    seconds: float
    counts: dict
    stats: Stats
    institutions: int = 0


def registry_has_data() -> bool:
    from skillguard.registry.models import Institution, Trainee, TrainingClass

    return (Institution.objects.exists() or Trainee.objects.exists()
            or TrainingClass.objects.exists())


def district_quota(scale: float) -> dict[str, int]:
    total = sum(N.DISTRICT_WEIGHTS.values())
    return {code: max(1, round(INSTITUTIONS_PER_SCALE * scale * w / total))
            for code, w in N.DISTRICT_WEIGHTS.items()}


def build_city(scale: float = 1.0, seed: int = 2026, *, reset: bool = False,
               today: dt.date | None = None, stdout=None, chunk: int = CHUNK_INSTITUTIONS,
               analyze: bool = True, on_chunk=None) -> BuildReport:
    """Build the demo city. Refuses (DemoError) when the registry already holds data,
    unless ``reset`` — which empties it first. ``on_chunk(stats)`` is called after each
    COPY chunk (the benchmark samples memory there)."""
    from skillguard.demo import users as demo_users
    from skillguard.registry.models import Course, District

    started = time.perf_counter()
    if scale <= 0:
        raise DemoError("--scale must be positive / 规模必须为正数")
    if reset:
        reset_demo(stdout)
    elif registry_has_data():
        raise DemoError(
            "The registry already holds data; run `skillguard demo --reset` to replace it with "
            "the demo city (this deletes all registry data). / 登记库中已有数据；如需用演示城市替换"
            "（将删除全部登记数据），请使用 --reset。")
    else:
        from skillguard.accounts.models import User

        taken = sorted(User.objects.filter(username__in=demo_users.demo_usernames())
                       .values_list("username", flat=True))
        if taken:
            raise DemoError(
                f"Accounts with demo names already exist ({', '.join(taken)}); run `skillguard "
                "demo --reset` to replace them. / 已存在与演示账号同名的账号，如需替换请使用 --reset。")
    stats = Stats()
    load_catalogue()
    real_today = timezone.localdate()
    today = today or real_today
    tz = ZoneInfo(settings.TIME_ZONE)
    if today > real_today:
        raise DemoError("the demo city cannot be built for a future day")
    now = timezone.now().replace(microsecond=0) if today == real_today else \
        dt.datetime.combine(today, dt.time(18, 0), tzinfo=tz)
    districts = list(District.objects.order_by("sort_order", "code"))
    if len(districts) < 16:
        raise DemoError("the 16 districts are missing: run `skillguard migrate` first")
    courses = list(Course.objects.select_related("occupation").filter(active=True)
                   .order_by("occupation__code", "level", "subsidy_type"))
    planner = Planner(seed, today, now, districts, courses)
    password = demo_users.demo_password()
    quota = district_quota(scale)
    service_writer = ServiceWriter(stats)
    showcase = {}
    # 1. the demo users and the showcase institutions, through the services, all or nothing
    with transaction.atomic():
        staff = demo_users.create_staff_users(password, districts)
        supervisors = {u.district_id: u.pk for u in staff.values()
                       if u.role == "district_supervisor"}
        for code, username in SHOWCASE:
            t0 = time.perf_counter()
            plan = planner.institution(code, showcase=True)
            stats.plan_seconds += time.perf_counter() - t0
            supervisor = staff[demo_users.supervisor_username(code)]
            inst = service_writer.write(
                plan, supervisor,
                lambda inst, u=username: demo_users.create_institution_admin(u, inst, password))
            showcase[code] = (plan, inst)
            quota[code] = max(0, quota[code] - 1)
        demo_users.create_person_users(password, showcase["310104"][0],
                                       showcase["310115"][1])

    # 2. everything else, in chunks with COPY (a writer thread that overlapped planning with
    # COPY measured slower: the GIL convoy costs more than the overlap gains)
    writer = BulkWriter(seed, stats, supervisors)
    institutions = 2
    for district in districts:
        remaining = quota[district.code]
        while remaining > 0:
            n = min(chunk, remaining)
            t0 = time.perf_counter()
            plans = [planner.institution(district.code) for _ in range(n)]
            stats.plan_seconds += time.perf_counter() - t0
            writer.write(district, plans)
            _release(plans)
            remaining -= n
            institutions += n
            if on_chunk:
                on_chunk(stats)
            if stdout and stats.chunks % 10 == 0:
                stdout.write(f"  … {institutions} institutions, "
                             f"{stats.rows['registry.enrolment']} enrolments\n")
    if analyze:  # fresh statistics, or the planner picks nested loops over millions of rows
        t0 = time.perf_counter()
        with connection.cursor() as c:
            for table in (writer.institution, writer.venue, writer.teacher, writer.trainee,
                          writer.training_class, writer.session, writer.enrolment,
                          writer.review):
                c.execute(f'ANALYZE "{table.db_table}"')
        stats.other_seconds += time.perf_counter() - t0
    counts = table_counts()
    return BuildReport(scale=scale, seed=seed, seconds=time.perf_counter() - started,
                       counts=counts, stats=stats, institutions=institutions)


def table_counts() -> dict[str, int]:
    from skillguard.accounts.models import User
    from skillguard.registry import models as m

    result = {}
    for model in (m.Occupation, m.Course, m.Institution, m.InstitutionFiling, m.Venue, m.Room,
                  m.Teacher, m.TeacherQualification, m.Trainee, m.TrainingClass,
                  m.TrainingClass.teachers.through, m.ClassReview, m.Session, m.Enrolment, User):
        result[model._meta.label_lower] = model.objects.count() if hasattr(model, "objects") \
            else model._default_manager.count()
    return result

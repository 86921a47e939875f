"""The synthetic fraud city: labelled anomalies injected into a clean demo city.

``inject_fraud(seed=…)`` works on a demo city that already has its clean check-ins
(``demo.attendance.generate_checkins``). Each pattern changes or adds a few rows so that
exactly one rule fires on exactly one subject, and returns its label — the pair
``(rule code, subject)`` the rule reports. Patterns pick their targets with ``md5`` of the
seed (deterministic) and never reuse a class, session or trainee another pattern touched,
so one injection never trips a second rule. Patterns that find no suitable target in a
very small city are skipped (and so have no label).

The labels are what the tests (and a back-test of a rule version) compare findings with:
recall and precision per rule.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

HELD = "('approved', 'in_progress', 'finished')"
ELIGIBLE = "('unemployed', 'employed', 'other')"
FRAUD_DEVICE = "demo-fraud-phone-{seed}"


@dataclass
class _State:
    seed: str
    now: dt.datetime
    classes: set = field(default_factory=set)  # touched by a pattern: never reused
    trainees: set = field(default_factory=set)
    institutions: set = field(default_factory=set)

    def params(self, **extra):
        return {"seed": self.seed, "now": self.now, "tz": settings.TIME_ZONE,
                "used_classes": sorted(self.classes) or [0],
                "used_trainees": sorted(self.trainees) or [0],
                "used_institutions": sorted(self.institutions) or [0], **extra}


def _one(sql: str, params) -> dict | None:
    with connection.cursor() as c:
        c.execute(sql, params)
        row = c.fetchone()
        return None if row is None else dict(zip([d.name for d in c.description], row))


def _all(sql: str, params) -> list[dict]:
    with connection.cursor() as c:
        c.execute(sql, params)
        names = [d.name for d in c.description]
        return [dict(zip(names, row)) for row in c.fetchall()]


def _exec(sql: str, params) -> int:
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.rowcount


FREE_CLASS = "{c}.id <> ALL(%(used_classes)s::bigint[])"


# --------------------------------------------------------------------------- schedule


def trainee_overlap(st: _State) -> list[tuple[str, str]]:
    """A trainee of class A is also enrolled in class B of another institution whose
    sessions overlap A's (B is in progress, so no subsidy rule sees it)."""
    row = _one(f"""
        SELECT x.trainee_id, x.a, b.id AS b, b.district_id, b.institution_id
        FROM (SELECT b.*, md5(%(seed)s || ':overlap:' || b.id) AS pick
              FROM registry_trainingclass b
              WHERE b.status = 'in_progress' AND b.mode <> 'online' AND {FREE_CLASS.format(c="b")}
              ORDER BY pick LIMIT 40) b
        CROSS JOIN LATERAL (
            SELECT e.trainee_id, a.id AS a
            FROM registry_session s2
            JOIN registry_session s1 ON s1.starts_at = s2.starts_at AND s1.ends_at = s2.ends_at
            JOIN registry_trainingclass a ON a.id = s1.training_class_id
            JOIN registry_enrolment e ON e.training_class_id = a.id AND e.status <> 'withdrawn'
            JOIN registry_trainee t ON t.id = e.trainee_id AND t.category IN {ELIGIBLE}
            WHERE s2.training_class_id = b.id AND a.status IN ('in_progress', 'finished')
              AND a.institution_id <> b.institution_id AND {FREE_CLASS.format(c="a")}
              AND e.trainee_id <> ALL(%(used_trainees)s::bigint[])
              AND (SELECT count(*) FROM registry_enrolment x
                   WHERE x.trainee_id = e.trainee_id) = 1
            ORDER BY md5(%(seed)s || ':overlap:' || e.id) LIMIT 1) x
        ORDER BY b.pick LIMIT 1""", st.params())
    if not row:
        return []
    _exec("""INSERT INTO registry_enrolment (training_class_id, trainee_id, district_id,
                 institution_id, status, enrolled_at)
             SELECT %(b)s, %(trainee)s, %(district)s, %(institution)s, 'enrolled',
                    min(enrolled_at) FROM registry_enrolment WHERE training_class_id = %(b)s""",
          {"b": row["b"], "trainee": row["trainee_id"], "district": row["district_id"],
           "institution": row["institution_id"]})
    st.classes |= {row["a"], row["b"]}
    st.trainees.add(row["trainee_id"])
    a, b = sorted((row["a"], row["b"]))
    return [("TRAINEE_OVERLAP", f"trainee:{row['trainee_id']}|class:{a}|class:{b}")]


def _same_slot_pair(st: _State, extra: str) -> dict | None:
    return _one(f"""
        SELECT s1.id AS s1, s2.id AS s2, s1.teacher_id AS t1, s2.teacher_id AS t2,
               s1.room_id AS r1, s2.room_id AS r2, a.id AS a, b.id AS b,
               co.occupation_id, co.level
        FROM registry_session s1
        JOIN registry_trainingclass a ON a.id = s1.training_class_id
        JOIN registry_session s2 ON s2.starts_at = s1.starts_at AND s2.ends_at = s1.ends_at
             AND s2.training_class_id <> s1.training_class_id
        JOIN registry_trainingclass b ON b.id = s2.training_class_id
        JOIN registry_course co ON co.id = b.course_id
        WHERE a.status = 'finished' AND b.status = 'finished' AND s2.id > s1.id
          AND s1.teacher_id <> s2.teacher_id
          AND {FREE_CLASS.format(c="a")} AND {FREE_CLASS.format(c="b")}
          AND a.institution_id <> ALL(%(used_institutions)s::bigint[])
          AND b.institution_id <> ALL(%(used_institutions)s::bigint[]) AND {extra}
        ORDER BY md5(%(seed)s || ':slot:' || s1.id || ':' || s2.id) LIMIT 1""", st.params())


def teacher_double_booked(st: _State) -> list[tuple[str, str]]:
    """The teacher of one session is also put on another class's session at the same time
    (and given a qualification for it, so that only the double booking shows)."""
    row = _same_slot_pair(st, "TRUE")
    if not row:
        return []
    _exec("UPDATE registry_session SET teacher_id = %(t)s WHERE id = %(s)s",
          {"t": row["t1"], "s": row["s2"]})
    _exec("""INSERT INTO registry_teacherqualification (teacher_id, occupation_id, level,
                 certificate_number, valid_until)
             VALUES (%(t)s, %(o)s, %(l)s, 'DEMO-RENTED', NULL)
             ON CONFLICT (teacher_id, occupation_id, level) DO UPDATE SET valid_until = NULL""",
          {"t": row["t1"], "o": row["occupation_id"], "l": row["level"]})
    st.classes |= {row["a"], row["b"]}
    a, b = sorted((row["s1"], row["s2"]))
    return [("TEACHER_DOUBLE_BOOKED", f"teacher:{row['t1']}|sessions:{a},{b}")]


def room_double_booked(st: _State) -> list[tuple[str, str]]:
    """Two classes' sessions at the same time put in the same room."""
    row = _same_slot_pair(st, "s1.room_id IS NOT NULL AND s2.room_id IS NOT NULL "
                              "AND s1.room_id <> s2.room_id")
    if not row:
        return []
    _exec("UPDATE registry_session SET room_id = %(r)s WHERE id = %(s)s",
          {"r": row["r1"], "s": row["s2"]})
    st.classes |= {row["a"], row["b"]}
    a, b = sorted((row["s1"], row["s2"]))
    return [("ROOM_DOUBLE_BOOKED", f"room:{row['r1']}|sessions:{a},{b}")]


# --------------------------------------------------------------------------- check-ins


CANDIDATES = """
    WITH cand AS (
        SELECT c.id FROM registry_trainingclass c
        WHERE c.status IN ('in_progress', 'finished') AND c.mode <> 'online'
          AND {free} ORDER BY md5(%(seed)s || ':{tag}:class:' || c.id) LIMIT 30
    ), cand_sessions AS (
        SELECT s.id FROM registry_session s JOIN cand ON cand.id = s.training_class_id
    )"""


def _checkins(st: _State, n: int, extra: str = "TRUE", tag: str = "") -> list[dict]:
    """n check-ins of different, untouched classes (one per class), among the check-ins
    of a few candidate classes (read through the session index: cheap at any scale)."""
    return _all(CANDIDATES.format(free=FREE_CLASS.format(c="c"), tag=tag) + f"""
        SELECT * FROM (
            SELECT DISTINCT ON (ci.training_class_id) ci.id, ci.district_id, ci.occurred_at,
                   ci.session_id, ci.enrolment_id, ci.training_class_id AS class_id,
                   md5(%(seed)s || ':{tag}:' || ci.training_class_id) AS pick
            FROM attendance_checkin ci
            WHERE ci.session_id IN (SELECT id FROM cand_sessions)
              AND ci.source_client_id IS NULL AND ci.external_id LIKE 'demo-%%'
              AND NOT ci.superseded AND {extra}
            ORDER BY ci.training_class_id,
                     md5(%(seed)s || ':{tag}:' || ci.enrolment_id || ':' || ci.session_id
                         || ci.kind)) x
        ORDER BY x.pick LIMIT {int(n)}""", st.params())


def _key(rows):
    return {"ids": [r["id"] for r in rows], "districts": [r["district_id"] for r in rows],
            "times": [r["occurred_at"] for r in rows]}


WHERE_ROWS = ("(district_id, occurred_at, id) IN (SELECT * FROM unnest(%(districts)s::bigint[], "
              "%(times)s::timestamptz[], %(ids)s::bigint[]))")


def checkin_outside_geofence(st: _State) -> list[tuple[str, str]]:
    """Two location check-ins moved about 5.5 km from their venue."""
    rows = _checkins(st, 2, "ci.kind = 'in' AND ci.latitude IS NOT NULL", "geo")
    _exec(f"UPDATE attendance_checkin SET latitude = latitude + 0.05 WHERE {WHERE_ROWS}",
          _key(rows))
    st.classes |= {r["class_id"] for r in rows}
    return [("CHECKIN_OUTSIDE_GEOFENCE", f"enrolment:{r['enrolment_id']}|session:{r['session_id']}")
            for r in rows]


def checkin_outside_window(st: _State) -> list[tuple[str, str]]:
    """Two check-ins moved to three hours before their session starts."""
    rows = _checkins(st, 2, "ci.kind = 'in'", "window")
    _exec(f"""UPDATE attendance_checkin ci
              SET occurred_at = s.starts_at - interval '3 hours',
                  received_at = s.starts_at - interval '3 hours' + interval '12 seconds'
              FROM registry_session s WHERE s.id = ci.session_id AND {WHERE_ROWS.replace(
                  "(district_id, occurred_at, id)", "(ci.district_id, ci.occurred_at, ci.id)")}""",
          _key(rows))
    st.classes |= {r["class_id"] for r in rows}
    return [("CHECKIN_OUTSIDE_WINDOW", f"enrolment:{r['enrolment_id']}|session:{r['session_id']}")
            for r in rows]


def clock_skew(st: _State) -> list[tuple[str, str]]:
    """A check-out received half an hour before it (claims to have) happened."""
    rows = _checkins(st, 1, "ci.kind = 'out'", "skew")
    _exec(f"UPDATE attendance_checkin SET received_at = occurred_at - interval '30 minutes' "
          f"WHERE {WHERE_ROWS}", _key(rows))
    st.classes |= {r["class_id"] for r in rows}
    return [("CLOCK_SKEW", f"enrolment:{r['enrolment_id']}|session:{r['session_id']}")
            for r in rows]


def _session_with(st: _State, n: int, tag: str) -> dict | None:
    return _one(CANDIDATES.format(free=FREE_CLASS.format(c="c"), tag=tag) + f"""
        SELECT ci.session_id, ci.training_class_id AS class_id,
               (array_agg(ci.trainee_id ORDER BY md5(%(seed)s || ci.trainee_id)))[1:{n}]
                   AS trainees
        FROM attendance_checkin ci
        WHERE ci.session_id IN (SELECT id FROM cand_sessions)
          AND ci.kind = 'in' AND ci.external_id LIKE 'demo-%%'
        GROUP BY ci.session_id, ci.training_class_id HAVING count(*) >= {n + 2}
        ORDER BY md5(%(seed)s || ':{tag}:' || ci.session_id) LIMIT 1""", st.params())


def proxy_checkin_burst(st: _State) -> list[tuple[str, str]]:
    """Six check-ins of one session rewritten to six consecutive seconds."""
    row = _session_with(st, 6, "burst")
    if not row:
        return []
    _exec("""WITH picked AS (
                 SELECT ci.district_id, ci.occurred_at, ci.id, s.starts_at,
                        row_number() OVER (ORDER BY ci.trainee_id) AS k
                 FROM attendance_checkin ci JOIN registry_session s ON s.id = ci.session_id
                 WHERE ci.session_id = %(session)s AND ci.kind = 'in'
                   AND ci.trainee_id = ANY(%(trainees)s))
             UPDATE attendance_checkin ci
             SET occurred_at = p.starts_at - interval '5 minutes' + make_interval(secs => p.k),
                 received_at = p.starts_at - interval '5 minutes' + make_interval(secs => p.k + 3)
             FROM picked p WHERE (ci.district_id, ci.occurred_at, ci.id)
                                 = (p.district_id, p.occurred_at, p.id)""",
          {"session": row["session_id"], "trainees": row["trainees"]})
    st.classes.add(row["class_id"])
    return [("PROXY_CHECKIN_BURST", f"session:{row['session_id']}")]


def shared_device(st: _State) -> list[tuple[str, str]]:
    """Six trainees of one class check in from one phone; six of another from one IP."""
    labels = []
    row = _session_with(st, 6, "device")
    if row:
        device = FRAUD_DEVICE.format(seed=st.seed)
        _exec("UPDATE attendance_checkin SET device_id = %(device)s "
              "WHERE training_class_id = %(cls)s AND trainee_id = ANY(%(trainees)s)",
              {"device": device, "cls": row["class_id"], "trainees": row["trainees"]})
        st.classes.add(row["class_id"])
        labels.append(("SHARED_DEVICE", f"device:{device}"))
    row = _session_with(st, 6, "ip")
    if row:
        ip = f"203.0.113.{int(st.seed) % 250 + 1}"
        _exec("UPDATE attendance_checkin SET ip = %(ip)s::inet "
              "WHERE session_id = %(session)s AND trainee_id = ANY(%(trainees)s)",
              {"ip": ip, "session": row["session_id"], "trainees": row["trainees"]})
        st.classes.add(row["class_id"])
        labels.append(("SHARED_DEVICE", f"ip:{ip}"))
    return labels


def uniform_full_attendance(st: _State) -> list[tuple[str, str]]:
    """A finished class whose missing check-ins are filled in: everyone at every session."""
    row = _one(f"""
        SELECT c.id FROM registry_trainingclass c
        WHERE c.status = 'finished' AND c.mode <> 'online' AND {FREE_CLASS.format(c="c")}
          AND (SELECT count(*) FROM registry_enrolment e
               WHERE e.training_class_id = c.id AND e.status <> 'withdrawn') >= 12
          AND (SELECT count(*) FROM registry_session s WHERE s.training_class_id = c.id) >= 4
        ORDER BY md5(%(seed)s || ':uniform:' || c.id) LIMIT 1""", st.params())
    if not row:
        return []
    _exec("""
        INSERT INTO attendance_checkin (id, district_id, occurred_at, kind, method, session_id,
            training_class_id, institution_id, enrolment_id, trainee_id, device_id, ip,
            source_client_id, external_id, received_at)
        WITH missing AS (
            SELECT s.id AS sid, s.district_id, s.starts_at, s.ends_at, c.id AS cid,
                   c.institution_id, e.id AS eid, e.trainee_id,
                   row_number() OVER (PARTITION BY s.id ORDER BY e.id) AS rk
            FROM registry_trainingclass c
            JOIN registry_session s ON s.training_class_id = c.id
            JOIN registry_enrolment e ON e.training_class_id = c.id AND e.status <> 'withdrawn'
            WHERE c.id = %(cls)s AND NOT EXISTS (
                SELECT 1 FROM attendance_checkin x WHERE x.session_id = s.id
                  AND x.enrolment_id = e.id AND x.kind = 'in')
        )
        SELECT nextval('attendance_checkin_id_seq'), m.district_id, t.at, t.kind, 'face', m.sid,
               m.cid, m.institution_id, m.eid, m.trainee_id,
               'demo-' || substr(md5(%(seed)s || ':t:' || m.trainee_id), 1, 16),
               '100.64.0.0'::inet + (m.trainee_id * 2 %% 4194304), NULL,
               'demo-' || %(seed)s || '-' || m.eid || '-' || m.sid || '-' || t.kind || '-u',
               t.at + interval '9 seconds'
        FROM missing m CROSS JOIN LATERAL (VALUES
            ('in', m.starts_at - interval '45 minutes' + make_interval(secs => m.rk * 29)),
            ('out', m.ends_at + interval '2 minutes' + make_interval(secs => m.rk * 31))) t(kind, at)
        """, {"cls": row["id"], "seed": st.seed})
    st.classes.add(row["id"])
    return [("UNIFORM_FULL_ATTENDANCE", f"class:{row['id']}")]


# --------------------------------------------------------------------------- registry


def ineligible_category(st: _State) -> list[tuple[str, str]]:
    """A retired person and a student in subsidised classes."""
    rows = _all(f"""
        SELECT e.trainee_id, e.training_class_id AS class_id FROM registry_enrolment e
        JOIN registry_trainingclass c ON c.id = e.training_class_id
        JOIN registry_trainee t ON t.id = e.trainee_id
        WHERE e.status <> 'withdrawn' AND c.status IN {HELD} AND t.category IN {ELIGIBLE}
          AND {FREE_CLASS.format(c="c")} AND e.trainee_id <> ALL(%(used_trainees)s::bigint[])
          AND (SELECT count(*) FROM registry_enrolment x WHERE x.trainee_id = e.trainee_id) = 1
        ORDER BY md5(%(seed)s || ':category:' || e.id) LIMIT 2""", st.params())
    labels = []
    for row, category in zip(rows, ("retired", "student")):
        _exec("UPDATE registry_trainee SET category = %(c)s WHERE id = %(t)s",
              {"c": category, "t": row["trainee_id"]})
        st.trainees.add(row["trainee_id"])
        labels.append(("INELIGIBLE_CATEGORY",
                       f"trainee:{row['trainee_id']}|class:{row['class_id']}"))
    return labels


def excess_subsidy(st: _State) -> list[tuple[str, str]]:
    """A trainee of a finished class also completes another finished class of the same
    subsidy type in the same year (another occupation, another institution, no overlap)."""
    row = _one(f"""
        SELECT x.trainee_id, x.a, y.b, y.district_id, y.institution_id, x.year,
               x.subsidy_type, y.created_at
        FROM (SELECT e.id AS eid, e.trainee_id, a.id AS a, a.institution_id,
                     extract(year FROM a.start_date)::int AS year, ca.subsidy_type,
                     ca.occupation_id, md5(%(seed)s || ':excess:' || e.id) AS pick
              FROM registry_enrolment e
              JOIN registry_trainee t ON t.id = e.trainee_id AND t.category IN {ELIGIBLE}
              JOIN registry_trainingclass a ON a.id = e.training_class_id
              JOIN registry_course ca ON ca.id = a.course_id
              WHERE a.status = 'finished' AND e.status <> 'withdrawn' AND ca.subsidy_type <> ''
                AND {FREE_CLASS.format(c="a")}
                AND e.trainee_id <> ALL(%(used_trainees)s::bigint[])
                AND (SELECT count(*) FROM registry_enrolment x
                     WHERE x.trainee_id = e.trainee_id) = 1
              ORDER BY pick LIMIT 40) x
        CROSS JOIN LATERAL (
            SELECT b.id AS b, b.district_id, b.institution_id, b.created_at
            FROM registry_trainingclass b
            JOIN registry_course cb ON cb.id = b.course_id
            WHERE b.status = 'finished' AND b.id <> x.a AND b.institution_id <> x.institution_id
              AND extract(year FROM b.start_date) = x.year
              AND cb.subsidy_type = x.subsidy_type AND cb.occupation_id <> x.occupation_id
              AND {FREE_CLASS.format(c="b")}
              AND NOT EXISTS (SELECT 1 FROM registry_session sa JOIN registry_session sb
                              ON sb.training_class_id = b.id AND sb.starts_at < sa.ends_at
                              AND sa.starts_at < sb.ends_at WHERE sa.training_class_id = x.a)
            ORDER BY md5(%(seed)s || ':excess:' || b.id) LIMIT 1) y
        ORDER BY x.pick LIMIT 1""", st.params())
    if not row:
        return []
    _exec("""INSERT INTO registry_enrolment (training_class_id, trainee_id, district_id,
                 institution_id, status, enrolled_at)
             VALUES (%(b)s, %(t)s, %(d)s, %(i)s, 'completed', %(at)s)""",
          {"b": row["b"], "t": row["trainee_id"], "d": row["district_id"],
           "i": row["institution_id"], "at": row["created_at"] + dt.timedelta(hours=2)})
    st.classes |= {row["a"], row["b"]}
    st.trainees.add(row["trainee_id"])
    return [("EXCESS_SUBSIDY",
             f"trainee:{row['trainee_id']}|year:{row['year']}|subsidy:{row['subsidy_type']}")]


def lower_level_after_higher(st: _State) -> list[tuple[str, str]]:
    """A trainee who finished a class of an occupation is then subsidised for a lower level
    of the same occupation (elsewhere, after the first ended). In the same year that is
    also the same subsidy type twice: both are labelled."""
    row = _one(f"""
        SELECT x.trainee_id, x.a, y.b, y.district_id, y.institution_id, x.year, y.year_b,
               x.subsidy_type, x.occupation_id, y.level, y.same_type, y.created_at
        FROM (SELECT e.id AS eid, e.trainee_id, a.id AS a, a.institution_id, a.end_date,
                     extract(year FROM a.start_date)::int AS year, ca.subsidy_type,
                     ca.occupation_id, ca.level, md5(%(seed)s || ':lower:' || e.id) AS pick
              FROM registry_enrolment e
              JOIN registry_trainee t ON t.id = e.trainee_id AND t.category IN {ELIGIBLE}
              JOIN registry_trainingclass a ON a.id = e.training_class_id
              JOIN registry_course ca ON ca.id = a.course_id
              WHERE a.status = 'finished' AND e.status <> 'withdrawn' AND ca.level IS NOT NULL
                AND ca.subsidy_type <> '' AND {FREE_CLASS.format(c="a")}
                AND e.trainee_id <> ALL(%(used_trainees)s::bigint[])
                AND (SELECT count(*) FROM registry_enrolment x
                     WHERE x.trainee_id = e.trainee_id) = 1
              ORDER BY pick LIMIT 200) x
        CROSS JOIN LATERAL (
            SELECT b.id AS b, b.district_id, b.institution_id, b.created_at, cb.level,
                   extract(year FROM b.start_date)::int AS year_b,
                   cb.subsidy_type = x.subsidy_type
                   AND extract(year FROM b.start_date) = x.year AS same_type
            FROM registry_trainingclass b
            JOIN registry_course cb ON cb.id = b.course_id
            WHERE b.status = 'finished' AND b.institution_id <> x.institution_id
              AND b.start_date > x.end_date AND cb.occupation_id = x.occupation_id
              AND cb.level > x.level AND cb.subsidy_type <> '' AND {FREE_CLASS.format(c="b")}
            ORDER BY md5(%(seed)s || ':lower:' || b.id) LIMIT 1) y
        ORDER BY x.pick LIMIT 1""", st.params())
    if not row:
        return []
    _exec("""INSERT INTO registry_enrolment (training_class_id, trainee_id, district_id,
                 institution_id, status, enrolled_at)
             VALUES (%(b)s, %(t)s, %(d)s, %(i)s, 'completed', %(at)s)""",
          {"b": row["b"], "t": row["trainee_id"], "d": row["district_id"],
           "i": row["institution_id"], "at": row["created_at"] + dt.timedelta(hours=2)})
    st.classes |= {row["a"], row["b"]}
    st.trainees.add(row["trainee_id"])
    t = row["trainee_id"]
    lower = f"trainee:{t}|occupation:{row['occupation_id']}|lower:{row['level']}"
    labels = [("EXCESS_SUBSIDY", lower)]
    if row["same_type"]:
        labels.append(("EXCESS_SUBSIDY",
                       f"trainee:{t}|year:{row['year_b']}|subsidy:{row['subsidy_type']}"))
    return labels


def unqualified_teacher(st: _State) -> list[tuple[str, str]]:
    """One session handed to a colleague who holds no qualification for the course."""
    row = _one(f"""
        SELECT s.id AS session_id, c.id AS class_id, t2.id AS teacher_id
        FROM registry_session s
        JOIN registry_trainingclass c ON c.id = s.training_class_id
        JOIN registry_course co ON co.id = c.course_id
        JOIN registry_teacher t2 ON t2.institution_id = c.institution_id
             AND t2.id <> s.teacher_id
        WHERE c.status IN ('in_progress', 'finished') AND {FREE_CLASS.format(c="c")}
          AND s.ends_at < %(now)s  -- a session already held: a sweep up to now must see it
          AND NOT EXISTS (
              SELECT 1 FROM registry_teacherqualification tq
              WHERE tq.teacher_id = t2.id AND tq.occupation_id = co.occupation_id)
          AND NOT EXISTS (
              SELECT 1 FROM registry_session o WHERE o.teacher_id = t2.id
                AND o.starts_at < s.ends_at AND s.starts_at < o.ends_at)
        ORDER BY md5(%(seed)s || ':unqualified:' || s.id || ':' || t2.id) LIMIT 1""",
               st.params())
    if not row:
        return []
    _exec("UPDATE registry_session SET teacher_id = %(t)s WHERE id = %(s)s",
          {"t": row["teacher_id"], "s": row["session_id"]})
    st.classes.add(row["class_id"])
    return [("UNQUALIFIED_TEACHER", f"teacher:{row['teacher_id']}|class:{row['class_id']}")]


def unfiled_occupation(st: _State) -> list[tuple[str, str]]:
    """A class whose course the institution filed only after the class had started."""
    row = _one(f"""
        SELECT c.id, c.institution_id, c.course_id, c.start_date FROM registry_trainingclass c
        WHERE c.status IN {HELD} AND {FREE_CLASS.format(c="c")}
          AND NOT EXISTS (SELECT 1 FROM registry_trainingclass o
                          WHERE o.institution_id = c.institution_id
                            AND o.course_id = c.course_id AND o.id <> c.id
                            AND o.status IN {HELD})
        ORDER BY md5(%(seed)s || ':unfiled:' || c.id) LIMIT 1""", st.params())
    if not row:
        return []
    _exec("""UPDATE registry_institutionfiling
             SET filed_on = %(day)s, valid_until = GREATEST(valid_until, %(day)s)
             WHERE institution_id = %(i)s AND course_id = %(c)s""",
          {"day": row["start_date"] + dt.timedelta(days=1), "i": row["institution_id"],
           "c": row["course_id"]})
    st.classes.add(row["id"])
    return [("UNFILED_OCCUPATION", f"class:{row['id']}")]


# --------------------------------------------------------------------------- volume


def volume_spike(st: _State, count: int = 130) -> list[tuple[str, str]]:
    """An institution with quiet weeks suddenly enrols 130 trainees in one week into an
    approved (or running) class: people whose other classes ended before it starts, who
    never check in."""
    tz = ZoneInfo(settings.TIME_ZONE)
    week_start = (st.now - dt.timedelta(days=7)).astimezone(tz).date()
    week_start -= dt.timedelta(days=week_start.weekday())
    moment = dt.datetime.combine(week_start + dt.timedelta(days=1), dt.time(9), tzinfo=tz)
    row = _one(f"""
        SELECT k.id AS class_id, k.institution_id, k.district_id, k.start_date
        FROM registry_trainingclass k
        WHERE k.status IN ('approved', 'in_progress') AND k.mode <> 'online'
          AND {FREE_CLASS.format(c="k")}
          AND k.institution_id <> ALL(%(used_institutions)s::bigint[])
          AND (SELECT coalesce(max(n), 0) FROM (
                  SELECT count(*) AS n FROM registry_enrolment e
                  JOIN registry_trainingclass ec ON ec.id = e.training_class_id
                  WHERE e.institution_id = k.institution_id AND ec.status IN {HELD}
                    AND e.enrolled_at >= %(since)s
                  GROUP BY date_trunc('week', e.enrolled_at AT TIME ZONE %(tz)s)) w) < 35
        ORDER BY (k.status = 'approved') DESC, md5(%(seed)s || ':spike:' || k.id) LIMIT 1""",
               st.params(since=moment - dt.timedelta(weeks=10)))
    if not row:
        return []
    n = _exec(f"""
        INSERT INTO registry_enrolment (training_class_id, trainee_id, district_id,
            institution_id, status, enrolled_at)
        SELECT %(cls)s, p.id, %(district)s, %(institution)s, 'enrolled',
               %(moment)s + make_interval(mins => (row_number() OVER (ORDER BY p.id))::int * 3)
        FROM (SELECT t.id FROM registry_trainee t
              WHERE t.category IN {ELIGIBLE} AND t.id <> ALL(%(used_trainees)s::bigint[])
                AND NOT EXISTS (SELECT 1 FROM registry_enrolment x
                                JOIN registry_trainingclass xc ON xc.id = x.training_class_id
                                WHERE x.trainee_id = t.id
                                  AND (xc.id = %(cls)s OR xc.end_date >= %(start)s))
              ORDER BY md5(%(seed)s || ':spike:' || t.id) LIMIT {int(count)}) p""",
        st.params(cls=row["class_id"], district=row["district_id"],
                  institution=row["institution_id"], moment=moment, start=row["start_date"]))
    if n < count:
        raise RuntimeError(f"volume spike: only {n} trainees available")
    st.classes.add(row["class_id"])
    st.institutions.add(row["institution_id"])
    year, week, _day = week_start.isocalendar()
    return [("VOLUME_SPIKE", f"institution:{row['institution_id']}|week:{year}-W{week:02d}")]


def perfect_pass_rate(st: _State, minimum: int = 30) -> list[tuple[str, str]]:
    """Every trainee of an institution's finished classes passes the assessment day."""
    row = _one(f"""
        SELECT c.institution_id, max(c.end_date) AS last_end, count(*) AS n
        FROM registry_enrolment e JOIN registry_trainingclass c ON c.id = e.training_class_id
        WHERE c.status = 'finished' AND e.status <> 'withdrawn'
          AND c.institution_id <> ALL(%(used_institutions)s::bigint[])
        GROUP BY c.institution_id HAVING count(*) >= {int(minimum)}
        ORDER BY md5(%(seed)s || ':pass:' || c.institution_id) LIMIT 1""", st.params())
    if not row:
        return []
    tz = ZoneInfo(settings.TIME_ZONE)
    taken = dt.datetime.combine(row["last_end"] + dt.timedelta(days=1), dt.time(14),
                                tzinfo=tz)
    taken = min(taken, st.now - dt.timedelta(hours=1))
    _exec("""
        INSERT INTO learning_assessment (district_id, name, taken_at, score, max_score, passed,
            source_client_id, external_id, received_at, enrolment_id, institution_id, trainee_id)
        SELECT e.district_id, '结业考核', %(taken)s,
               60 + (('x' || substr(md5(%(seed)s || e.id), 1, 6))::bit(24)::int %% 40), 100,
               true, NULL, 'demo-' || %(seed)s || '-assessment-' || e.id,
               %(taken)s + interval '1 hour', e.id, c.institution_id, e.trainee_id
        FROM registry_enrolment e JOIN registry_trainingclass c ON c.id = e.training_class_id
        WHERE c.institution_id = %(i)s AND c.status = 'finished' AND e.status <> 'withdrawn'
        """, {"taken": taken, "seed": st.seed, "i": row["institution_id"]})
    st.institutions.add(row["institution_id"])
    month = taken.astimezone(tz).strftime("%Y-%m")
    return [("PERFECT_PASS_RATE", f"institution:{row['institution_id']}|month:{month}")]


# --------------------------------------------------------------------------- online


def _learning_sessions(st: _State, enrolment: dict, spans, tag: str) -> list[int]:
    ids = []
    for k, (start, end) in enumerate(spans):
        row = _one("""
            INSERT INTO learning_learningsession (district_id, course_unit, started_at, ended_at,
                device_id, ip, source_client_id, external_id, received_at, enrolment_id,
                institution_id, trainee_id)
            VALUES (%(d)s, %(unit)s, %(start)s, %(end)s, %(device)s, NULL, NULL, %(ext)s,
                    %(end)s + interval '1 minute', %(e)s, %(i)s, %(t)s) RETURNING id""",
                   {"d": enrolment["district_id"], "unit": f"第{k + 1}单元", "start": start,
                    "end": end, "device": f"demo-{tag}-{k}", "e": enrolment["id"],
                    "i": enrolment["institution_id"], "t": enrolment["trainee_id"],
                    "ext": f"demo-{st.seed}-{tag}-{enrolment['id']}-{k}"})
        ids.append(row["id"])
    st.trainees.add(enrolment["trainee_id"])
    return ids


def _online_enrolment(st: _State, tag: str) -> dict | None:
    return _one(f"""
        SELECT e.id, e.district_id, e.institution_id, e.trainee_id FROM registry_enrolment e
        JOIN registry_trainingclass c ON c.id = e.training_class_id
        WHERE e.status <> 'withdrawn' AND c.status IN ('in_progress', 'finished')
          AND e.trainee_id <> ALL(%(used_trainees)s::bigint[])
        ORDER BY (c.mode = 'online') DESC, md5(%(seed)s || ':{tag}:' || e.id) LIMIT 1""",
                st.params())


def online_concurrent_sessions(st: _State) -> list[tuple[str, str]]:
    """A learner studying in two overlapping sessions (two devices)."""
    enrolment = _online_enrolment(st, "concurrent")
    if not enrolment:
        return []
    tz = ZoneInfo(settings.TIME_ZONE)
    day = (st.now - dt.timedelta(days=3)).astimezone(tz).date()
    at = dt.datetime.combine(day, dt.time(20), tzinfo=tz)
    hour = dt.timedelta(hours=1)
    a, b = _learning_sessions(st, enrolment, [(at, at + hour), (at + hour / 2, at + hour * 1.5)],
                              "concurrent")
    return [("ONLINE_CONCURRENT_SESSIONS",
             f"trainee:{enrolment['trainee_id']}|learning_sessions:{min(a, b)},{max(a, b)}")]


def online_excessive_daily_hours(st: _State) -> list[tuple[str, str]]:
    """A learner with fifteen hours of study in one day (three five-hour sittings)."""
    enrolment = _online_enrolment(st, "excessive")
    if not enrolment:
        return []
    tz = ZoneInfo(settings.TIME_ZONE)
    day = (st.now - dt.timedelta(days=4)).astimezone(tz).date()
    spans = [(dt.datetime.combine(day, dt.time(h, m), tzinfo=tz),
              dt.datetime.combine(day, dt.time(h + 5, m), tzinfo=tz))
             for h, m in ((6, 0), (11, 30), (17, 0))]
    _learning_sessions(st, enrolment, spans, "excessive")
    return [("ONLINE_EXCESSIVE_DAILY_HOURS", f"trainee:{enrolment['trainee_id']}|day:{day}")]


PATTERNS: dict[str, Callable[[_State], list[tuple[str, str]]]] = {
    "trainee_overlap": trainee_overlap,
    "teacher_double_booked": teacher_double_booked,
    "room_double_booked": room_double_booked,
    "checkin_outside_geofence": checkin_outside_geofence,
    "checkin_outside_window": checkin_outside_window,
    "clock_skew": clock_skew,
    "proxy_checkin_burst": proxy_checkin_burst,
    "shared_device": shared_device,
    "uniform_full_attendance": uniform_full_attendance,
    "ineligible_category": ineligible_category,
    "excess_subsidy": excess_subsidy,
    "lower_level_after_higher": lower_level_after_higher,
    "unqualified_teacher": unqualified_teacher,
    "unfiled_occupation": unfiled_occupation,
    "volume_spike": volume_spike,
    "perfect_pass_rate": perfect_pass_rate,
    "online_concurrent_sessions": online_concurrent_sessions,
    "online_excessive_daily_hours": online_excessive_daily_hours,
}


def inject_fraud(*, seed: int, patterns=None, now: dt.datetime | None = None,
                 stdout=None) -> list[tuple[str, str]]:
    """Inject the fraud patterns (all, or the names in ``patterns``) into the demo city, in
    one transaction; return the labels, sorted: (rule code, subject) pairs."""
    unknown = set(patterns or ()) - set(PATTERNS)
    if unknown:
        raise ValueError(f"unknown fraud patterns: {sorted(unknown)}")
    st = _State(seed=str(seed), now=now or timezone.now())
    labels: list[tuple[str, str]] = []
    with transaction.atomic():
        for name, pattern in PATTERNS.items():
            if patterns is not None and name not in patterns:
                continue
            found = pattern(st)
            labels += found
            if stdout:
                for code, subject in found:
                    stdout.write(f"  fraud {code:<30} {subject}\n")
    return sorted(labels)

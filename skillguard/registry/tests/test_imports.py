"""Bulk import: what a user uploading a spreadsheet sees, and what ends up in the registry."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook
from procrastinate.contrib.django.models import ProcrastinateJob

from skillguard.audit.models import AuditAction, AuditEvent
from skillguard.core.personal_data import lookup
from skillguard.core.testing import make_credit_code, make_id_number
from skillguard.registry import imports
from skillguard.registry.models import (
    Enrolment,
    ImportBatch,
    ImportKind,
    ImportMode,
    ImportStatus,
    Institution,
    Teacher,
    Trainee,
    TraineeCategory,
)
from skillguard.registry.tasks import process_import_batch
from skillguard.registry.tests.test_services import zh_catalog  # noqa: F401  (fixture)

ALL_OR_NOTHING, VALID_ONLY = ImportMode.ALL_OR_NOTHING, ImportMode.VALID_ONLY


def person_id(serial: int, birth=dt.date(1992, 3, 4), region="310104") -> str:
    return make_id_number(region, birth, serial)


def bad_checksum(id_number: str) -> str:
    return id_number[:-1] + ("0" if id_number[-1] != "0" else "1")


def csv_bytes(rows, encoding="gbk") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def trainee_by_id(id_number: str) -> Trainee | None:
    return Trainee.objects.filter(**lookup("id_number", id_number)).first()


def problems_by_row(batch) -> dict[int, list]:
    out: dict[int, list] = {}
    for p in batch.problems.all():
        out.setdefault(p.row_number, []).append(p)
    return out


GOOD = [("张三", person_id(1), "13800000001", "失业人员", "徐汇区"),
        ("李四", person_id(2), "13800000002", "在职", "310104"),
        ("王五", person_id(3), "", "student", "Pudong")]
BAD_ID = ("赵六", bad_checksum(person_id(4)), "13800000004", "失业人员", "徐汇区")
BAD_PHONE = ("钱七", person_id(5), "1380000", "失业人员", "徐汇区")
BAD_BOTH = ("孙八", bad_checksum(person_id(6)), "12345678901", "退休", "")


def mixed_trainee_file() -> bytes:
    """Rows 2-4 good, 5 bad ID, 6 bad phone, 7 repeats row 2, 8 bad ID and bad phone."""
    return csv_bytes([("姓名", "身份证号", "手机号", "人员类别", "居住区"),
                      *GOOD, BAD_ID, BAD_PHONE, GOOD[0], BAD_BOTH])


def upload(user, kind, content, mode=ALL_OR_NOTHING, name="upload.csv") -> ImportBatch:
    return imports.start_import(user, kind, name, content, mode)


# ----------------------------------------------------------------- modes and reports


@pytest.mark.django_db
def test_all_or_nothing_gbk_file_with_bad_rows_writes_nothing_and_reports_each_row(
        world, zh_catalog):
    trainees, events = Trainee.objects.count(), AuditEvent.objects.exclude(
        action=AuditAction.IMPORT).count()
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, mixed_trainee_file())

    assert batch.status == ImportStatus.REJECTED
    assert (batch.total_rows, batch.created_count, batch.error_count) == (7, 0, 4)
    assert Trainee.objects.count() == trainees
    assert trainee_by_id(GOOD[0][1]) is None
    assert AuditEvent.objects.exclude(action=AuditAction.IMPORT).count() == events

    rows = problems_by_row(batch)
    assert sorted(rows) == [5, 6, 7, 8]
    (bad_id,) = rows[5]
    assert (bad_id.column, bad_id.code) == ("id_number", "invalid_id_number")
    assert bad_id.message_en == "ID number: check digit does not match (GB 11643)"
    assert bad_id.message_zh == "身份证号: 校验位不符（GB 11643）"
    (bad_phone,) = rows[6]
    assert (bad_phone.column, bad_phone.code) == ("phone", "invalid_phone")
    assert "must be an 11-digit mainland mobile number" in bad_phone.message_en
    assert "须为11位大陆手机号码" in bad_phone.message_zh
    (repeat,) = rows[7]
    assert repeat.code == "duplicate_in_file"
    assert repeat.message_en == "ID number: repeats row 2 of this file"
    assert repeat.message_zh == "身份证号: 与本文件第2行重复"
    assert {(p.column, p.code) for p in rows[8]} == {("id_number", "invalid_id_number"),
                                                     ("phone", "invalid_phone")}
    assert rows[8][0].row_label.startswith("孙八 310")  # name and masked ID, never in full
    assert person_id(6)[6:14] not in rows[8][0].row_label


@pytest.mark.django_db
def test_valid_rows_only_writes_exactly_the_good_rows(world):
    before = Trainee.objects.count()
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, mixed_trainee_file(),
                   VALID_ONLY)

    assert batch.status == ImportStatus.PARTIAL
    assert (batch.created_count, batch.existing_count, batch.error_count) == (3, 0, 4)
    assert Trainee.objects.count() == before + 3
    zhang, li, wang = (trainee_by_id(row[1]) for row in GOOD)
    assert (zhang.name, li.name, wang.name) == ("张三", "李四", "王五")  # decoded from GBK
    assert zhang.category == TraineeCategory.UNEMPLOYED and li.category == "employed"
    assert wang.category == TraineeCategory.STUDENT
    assert [t.residence_district.name for t in (zhang, li, wang)] == ["徐汇区", "徐汇区",
                                                                     "浦东新区"]
    assert zhang.phone == "138****0001" and zhang.registered_by == world.a.institution
    for bad in (BAD_ID, BAD_PHONE, BAD_BOTH):
        assert not Trainee.objects.filter(name=bad[0]).exists()
    assert sorted(problems_by_row(batch)) == [5, 6, 7, 8]


@pytest.mark.django_db
def test_the_same_file_again_changes_nothing(world):
    admin = world.users["institution_admin"]
    upload(admin, ImportKind.TRAINEE, mixed_trainee_file(), VALID_ONLY)
    trainees, creations = Trainee.objects.count(), AuditEvent.objects.filter(
        action=AuditAction.CREATE).count()

    again = upload(admin, ImportKind.TRAINEE, mixed_trainee_file(), VALID_ONLY)

    assert (again.created_count, again.existing_count, again.error_count) == (0, 3, 4)
    assert Trainee.objects.count() == trainees
    assert AuditEvent.objects.filter(action=AuditAction.CREATE).count() == creations
    assert "same file before" in again.notes[0]["message_en"]


@pytest.mark.django_db
def test_a_clean_file_all_or_nothing_imports_then_reports_already_present(world):
    admin = world.users["institution_admin"]
    content = csv_bytes([("name", "id_number", "phone", "category", "class_code"),
                         ("周九", person_id(9), "13900000009", "unemployed",
                          world.a.draft_class.code),
                         (world.a.trainees[0].name, make_id_number(
                             "310104", dt.date(1990, 2, 1), 100), "", "unemployed", "")],
                        encoding="utf-8-sig")
    first = upload(admin, ImportKind.TRAINEE, content)
    assert first.status == ImportStatus.DONE
    assert (first.created_count, first.existing_count, first.error_count) == (1, 1, 0)
    zhou = trainee_by_id(person_id(9))
    assert Enrolment.objects.filter(trainee=zhou, training_class=world.a.draft_class).exists()

    second = upload(admin, ImportKind.TRAINEE, content)
    assert second.status == ImportStatus.DONE
    assert (second.created_count, second.existing_count) == (0, 2)
    assert Enrolment.objects.filter(trainee=zhou).count() == 1


@pytest.mark.django_db
def test_a_row_is_written_whole_or_not_at_all(world):
    """Registering the trainee succeeds, enrolling into an approved class does not: the
    trainee must not be left behind."""
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, csv_bytes([
        ("姓名", "身份证号", "人员类别", "班级编号"),
        ("郑十", person_id(10), "失业人员", world.a.approved_class.code)]), VALID_ONLY)
    assert batch.error_count == 1 and batch.created_count == 0
    (problem,) = batch.problems.all()
    assert problem.column == "class_code" and problem.code == "not_editable"
    assert trainee_by_id(person_id(10)) is None


# ----------------------------------------------------------------- formats


@pytest.mark.django_db
def test_xlsx_sessions_with_typed_cells_import_and_reimport_as_already_present(world):
    cls, teacher_id = world.a.draft_class, make_id_number("310104", dt.date(1980, 1, 1), 11)
    day1, day2 = cls.start_date + dt.timedelta(days=1), cls.start_date + dt.timedelta(days=2)
    content = xlsx_bytes([
        ["2026年课表"],  # a title line above the headers
        ["班级编号", "上课日期", "开始时间", "结束时间", "授课教师", "教室", "课程内容"],
        [cls.code, day1, dt.time(9), dt.time(12), teacher_id, "101", "婴幼儿喂养"],
        [cls.code, day2.isoformat(), "13:00", "16:00", "王老师1", "", "生活照料"],
        [cls.code, cls.end_date + dt.timedelta(days=3), dt.time(9), dt.time(12),
         teacher_id, "101", "超出开班期"],
    ])
    admin = world.users["institution_admin"]
    batch = upload(admin, ImportKind.SESSION, content, VALID_ONLY, name="课表.xlsx")

    assert (batch.created_count, batch.error_count) == (2, 1)
    (late,) = batch.problems.all()
    assert (late.row_number, late.column, late.code) == (5, "date", "outside_class_period")
    sessions = list(cls.sessions.order_by("sequence"))
    assert [s.sequence for s in sessions] == [1, 2, 3]
    assert sessions[1].room == world.a.room and sessions[1].topic == "婴幼儿喂养"
    assert sessions[2].teacher == world.a.teacher and sessions[2].room is None

    again = upload(admin, ImportKind.SESSION, content, VALID_ONLY, name="课表.xlsx")
    assert (again.created_count, again.existing_count, again.error_count) == (0, 2, 1)
    assert cls.sessions.count() == 3


@pytest.mark.django_db
def test_xlsx_id_number_stored_as_a_number_is_refused_with_the_reason(world, zh_catalog):
    cls = world.a.draft_class
    other = world.b.trainees[0]  # registered by the other institution: same person city-wide
    other_id = make_id_number("310115", dt.date(1990, 2, 1), 110)
    content = xlsx_bytes([["class_code", "id_number", "name"],
                          [cls.code, other_id, other.name],
                          [cls.code, 310104199203040011.0, ""]])
    batch = upload(world.users["institution_admin"], ImportKind.ENROLMENT, content, VALID_ONLY,
                   name="roster.xlsx")
    assert batch.created_count == 1
    assert Enrolment.objects.filter(training_class=cls, trainee=other).exists()
    (problem,) = batch.problems.all()
    assert (problem.row_number, problem.code) == (3, "number_cell")
    assert "Excel has rounded its last digits" in problem.message_en
    assert "Excel 已舍入末几位" in problem.message_zh


@pytest.mark.parametrize("content, name, reason", [
    (b"", "empty.csv", "The file is empty."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50, "old.xls", "Excel 97-2003 (.xls)"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx", "could not be read as an Excel workbook"),
    (b"\x81\x30\x81\xff\xfe\x00\xff", "binary.csv", "neither UTF-8 nor GBK"),
    ("姓名,手机号\n张三,13800000001\n".encode(), "short.csv",
     "Required columns are missing: ID number, category"),
    ("姓名,身份证号,人员类别\n".encode(), "header-only.csv", "no data rows"),
])
@pytest.mark.django_db
def test_malformed_files_are_refused_with_a_reason_and_kept(world, content, name, reason):
    trainees = Trainee.objects.count()
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, content, name=name)
    assert batch.status == ImportStatus.REJECTED
    assert reason in batch.file_problem_en and batch.file_problem_zh
    assert ImportBatch.objects.filter(pk=batch.pk, file_name=name).exists()
    assert imports.uploaded_bytes(ImportBatch.objects.get(pk=batch.pk)) == content
    assert Trainee.objects.count() == trainees


# ----------------------------------------------------------------- scope


@pytest.mark.django_db
def test_an_institution_cannot_import_into_another_institutions_class(world):
    own, foreign = world.a.draft_class, world.b.draft_class
    newcomer = person_id(11)
    content = csv_bytes([("班级编号", "身份证号"),
                         (foreign.code, person_id(100, dt.date(1990, 2, 1), "310115")),
                         ("K2099000000", person_id(100, dt.date(1990, 2, 1), "310115")),
                         (own.code, newcomer)])
    from skillguard.registry import services

    services.register_trainee(None, name="新学员", id_number=newcomer, category="unemployed")
    foreign_roster = foreign.enrolments.count()

    batch = upload(world.users["institution_admin"], ImportKind.ENROLMENT, content, VALID_ONLY)

    assert (batch.created_count, batch.error_count) == (1, 2)
    not_yours, missing = batch.problems.order_by("row_number")
    assert not_yours.column == missing.column == "class_code"
    assert not_yours.message_en == missing.message_en == (
        "class code: no class with this code, or it is not yours")
    assert foreign.enrolments.count() == foreign_roster

    trainee_batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, csv_bytes([
        ("姓名", "身份证号", "人员类别", "班级编号"),
        ("冯十二", person_id(12), "失业人员", foreign.code)]))
    assert trainee_batch.status == ImportStatus.REJECTED
    assert trainee_by_id(person_id(12)) is None


@pytest.mark.django_db
def test_teachers_and_institutions_import_within_the_uploaders_scope(world):
    occupation = world.course.occupation.code
    teacher_file = csv_bytes([
        ("姓名", "身份证号", "职业编码", "等级", "证书编号", "机构统一社会信用代码"),
        ("陈老师", person_id(20, dt.date(1985, 1, 1)), occupation, "三级", "C-1", ""),
        ("褚老师", person_id(21, dt.date(1985, 1, 1)), occupation, "4", "C-2",
         world.b.institution.credit_code),
    ])
    batch = upload(world.users["institution_admin"], ImportKind.TEACHER, teacher_file,
                   VALID_ONLY)
    assert (batch.created_count, batch.error_count) == (1, 1)
    chen = Teacher.objects.get(name="陈老师")
    assert chen.institution == world.a.institution
    assert chen.qualifications.get().level == 3
    assert batch.problems.get().column == "institution_credit_code"

    supervisor = world.users["district_supervisor"]  # district of institution A
    institution_file = csv_bytes([
        ("机构名称", "统一社会信用代码", "所在区", "机构类型"),
        ("徐汇新学校", make_credit_code(501), "", "民办职业培训学校"),
        ("浦东新学校", make_credit_code(502), "浦东新区", "technical_college"),
        ("已存在的学校", world.a.institution.credit_code, "", "企业"),
    ])
    batch = upload(supervisor, ImportKind.INSTITUTION, institution_file, VALID_ONLY)
    assert (batch.created_count, batch.existing_count, batch.error_count) == (1, 1, 1)
    assert Institution.objects.get(name="徐汇新学校").district == world.a.district
    assert not Institution.objects.filter(name="浦东新学校").exists()
    assert batch.problems.get().column == "district"


# ----------------------------------------------------------------- large files


def many_trainees(count: int, bad_every: int) -> bytes:
    rows = [("姓名", "身份证号", "手机号", "人员类别")]
    for n in range(count):
        id_number = person_id(n % 1000, dt.date(1980, 1, 1) + dt.timedelta(days=n), "310112")
        if n % bad_every == 0:
            id_number = bad_checksum(id_number)
        rows.append((f"学员{n}", id_number, f"139{n:08d}", "失业人员"))
    return csv_bytes(rows)


@pytest.mark.django_db
def test_a_large_file_is_queued_and_the_task_ends_with_exact_counts(world, settings):
    settings.SKILLGUARD_IMPORT_INLINE_ROWS = 20
    before = Trainee.objects.count()
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE,
                   many_trainees(45, bad_every=9), VALID_ONLY)

    assert batch.status == ImportStatus.QUEUED and batch.total_rows == 45
    assert Trainee.objects.count() == before
    job = ProcrastinateJob.objects.get(task_name="registry.process_import_batch")
    assert job.args == {"batch_id": batch.pk}

    process_import_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PARTIAL
    assert (batch.processed_rows, batch.created_count, batch.error_count) == (45, 40, 5)
    assert Trainee.objects.count() == before + 40
    assert sorted(problems_by_row(batch)) == [2, 11, 20, 29, 38]

    process_import_batch(batch_id=batch.pk)  # a finished batch is not redone
    batch.refresh_from_db()
    assert (batch.created_count, batch.error_count, batch.problems.count()) == (40, 5, 5)
    assert Trainee.objects.count() == before + 40


@pytest.mark.django_db
def test_an_interrupted_valid_only_batch_resumes_without_counting_twice(world, settings,
                                                                        monkeypatch):
    settings.SKILLGUARD_IMPORT_INLINE_ROWS = 20
    monkeypatch.setattr(imports, "CHUNK_ROWS", 10)
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE,
                   many_trainees(30, bad_every=7), VALID_ONLY)
    real_apply = imports.TraineeImporter.apply

    def crash_on_row_25(self, values, record):
        if record == "#25":
            raise ConnectionError("worker lost its database")
        return real_apply(self, values, record)

    monkeypatch.setattr(imports.TraineeImporter, "apply", crash_on_row_25)
    with pytest.raises(ConnectionError):
        process_import_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.FAILED and batch.processed_rows == 20
    assert "internal error (ConnectionError)" in batch.file_problem_en

    # the service desk re-queues it after the fault is fixed
    monkeypatch.setattr(imports.TraineeImporter, "apply", real_apply)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.QUEUED)
    process_import_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PARTIAL
    assert (batch.created_count, batch.existing_count, batch.error_count) == (25, 0, 5)
    assert batch.problems.count() == 5


@pytest.mark.django_db
def test_a_large_all_or_nothing_file_with_one_bad_row_writes_nothing(world, settings,
                                                                      monkeypatch):
    settings.SKILLGUARD_IMPORT_INLINE_ROWS = 20
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 10)  # progress through the side channel
    before = Trainee.objects.count()
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE,
                   many_trainees(30, bad_every=1000))
    process_import_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.REJECTED
    assert (batch.created_count, batch.error_count, batch.processed_rows) == (0, 1, 30)
    assert Trainee.objects.count() == before


@pytest.mark.slow
@pytest.mark.django_db
def test_more_than_2000_rows_go_to_the_worker(world):
    content = many_trainees(2001, bad_every=500)
    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, content, VALID_ONLY)
    assert batch.status == ImportStatus.QUEUED
    process_import_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.created_count, batch.error_count) == (1996, 5)


# ----------------------------------------------------------------- pages


def post_file(client, kind, content, name="upload.csv", mode=ALL_OR_NOTHING):
    return client.post(reverse("imports:start", args=[kind]),
                       {"file": SimpleUploadedFile(name, content), "mode": mode})


@pytest.mark.django_db
def test_upload_page_report_and_error_report_download(world, login, zh_catalog):
    client = login(world.users["institution_admin"])
    page = client.get(reverse("imports:start", args=["trainee"]))
    assert page.status_code == 200 and "身份证号" in page.content.decode()

    response = post_file(client, "trainee", mixed_trainee_file())
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("imports:batch",
                                                                   args=[batch.pk])
    report = client.get(response.url).content.decode()
    assert "校验位不符（GB 11643）" in report and 'data-row="8"' in report
    client.cookies["django_language"] = "en"
    report = client.get(response.url).content.decode()
    assert "check digit does not match (GB 11643)" in report
    assert "The other 3 rows passed the checks but were not written either." in report

    download = client.get(reverse("imports:errors", args=[batch.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1:6] == ("姓名", "身份证号", "手机号", "人员类别", "居住区")
    assert [r[0] for r in rows[1:]] == [5, 6, 7, 8]
    assert rows[1][2] == BAD_ID[1]  # the original value, to correct in place
    assert "check digit does not match" in rows[1][-1]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT,
                                     comment__contains=f"#{batch.pk}").exists()

    csv_download = client.get(reverse("imports:errors", args=[batch.pk, "csv"]))
    text = b"".join(csv_download.streaming_content).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 5


@pytest.mark.django_db
def test_template_download_round_trip(world, login):
    client = login(world.users["institution_admin"])
    response = client.get(reverse("imports:template", args=["enrolment"]))
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    headers = [c.value for c in workbook.worksheets[0][1]]
    assert headers == ["班级编号 *", "身份证号 *", "姓名"]
    workbook.worksheets[0].append([world.a.draft_class.code, person_id(30), ""])
    from skillguard.registry import services

    services.register_trainee(None, name="模板学员", id_number=person_id(30),
                              category="employed")
    out = io.BytesIO()
    workbook.save(out)
    post_file(client, "enrolment", out.getvalue(), name="template.xlsx")
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.created_count) == (ImportStatus.DONE, 1)


@pytest.mark.django_db
def test_progress_fragment_polls_until_the_batch_is_finished(world, login, settings):
    settings.SKILLGUARD_IMPORT_INLINE_ROWS = 20
    client = login(world.users["institution_admin"])
    post_file(client, "trainee", many_trainees(25, bad_every=1000), mode=VALID_ONLY)
    batch = ImportBatch.objects.get()
    url = reverse("imports:progress", args=[batch.pk])
    running = client.get(url, HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "HX-Refresh" not in running

    process_import_batch(batch_id=batch.pk)
    finished = client.get(url, HTTP_HX_REQUEST="true")
    assert finished["HX-Refresh"] == "true"
    assert "every 2s" not in finished.content.decode()
    assert 'data-count="created">24<' in finished.content.decode()


@pytest.mark.django_db
def test_who_may_import_what(world, login):
    assert login(world.users["teacher"]).get(
        reverse("imports:start", args=["trainee"])).status_code == 403
    supervisor = login(world.users["district_supervisor"])
    assert supervisor.get(reverse("imports:start", args=["trainee"])).status_code == 403
    assert supervisor.get(reverse("imports:start", args=["institution"])).status_code == 200
    assert supervisor.get(reverse("imports:start", args=["nonsense"])).status_code == 404

    batch = upload(world.users["institution_admin"], ImportKind.TRAINEE, mixed_trainee_file())
    for url in (reverse("imports:batch", args=[batch.pk]),
                reverse("imports:errors", args=[batch.pk, "xlsx"])):
        assert supervisor.get(url).status_code == 404  # someone else's upload
    listing = login(world.users["institution_admin"]).get(reverse("imports:list"))
    assert "upload.csv" in listing.content.decode()

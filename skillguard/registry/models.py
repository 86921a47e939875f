"""The training world: districts, institutions, catalogue, people, classes, sessions.

Writes go through ``registry.services``; reads through ``registry.queries`` (scoped).
Records that other facts point at carry ``district`` so that facts can keep
``district_id`` in their keys (Citus distribution column; see docs/architecture.md).
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from skillguard.core import validators
from skillguard.core.personal_data import PersonalData, sealed_columns
from skillguard.core.scoping import RestrictedManager, Scope


class District(models.Model):
    code = models.CharField(_("administrative code"), max_length=6, unique=True)
    name = models.CharField(_("name"), max_length=32, unique=True)
    name_en = models.CharField(_("English name"), max_length=64, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = RestrictedManager()
    scope = Scope(district=("pk",), institution=("institutions",), public=True)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class Level(models.IntegerChoices):
    """National vocational skill levels; 1 is the highest."""
    SENIOR_TECHNICIAN = 1, _("Level 1 · Senior technician")
    TECHNICIAN = 2, _("Level 2 · Technician")
    ADVANCED = 3, _("Level 3 · Advanced worker")
    INTERMEDIATE = 4, _("Level 4 · Intermediate worker")
    JUNIOR = 5, _("Level 5 · Junior worker")


class SubsidyType(models.TextChoices):
    SKILL_CERTIFICATE = "skill_certificate", _("Skill level certificate subsidy")
    SPECIAL_ABILITY = "special_ability", _("Special ability training subsidy")
    ENTERPRISE_ONLINE = "enterprise_online", _("Enterprise online training subsidy")
    ENTREPRENEURSHIP = "entrepreneurship", _("Entrepreneurship training subsidy")


class Occupation(models.Model):
    code = models.CharField(_("occupation code"), max_length=16, unique=True,
                            help_text=_("Code in the national occupational classification"))
    name = models.CharField(_("occupation"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=128, blank=True)

    objects = RestrictedManager()
    scope = Scope(public=True)

    class Meta:
        verbose_name = _("occupation")
        verbose_name_plural = _("occupations")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Course(models.Model):
    """A catalogue entry: an occupation at a level, with its standard hours and subsidy."""

    occupation = models.ForeignKey(Occupation, verbose_name=_("occupation"),
                                   on_delete=models.PROTECT, related_name="courses")
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, null=True,
                                             blank=True)
    standard_hours = models.PositiveIntegerField(_("standard class hours"))
    subsidy_type = models.CharField(_("subsidy type"), max_length=32, choices=SubsidyType.choices,
                                    default=SubsidyType.SKILL_CERTIFICATE)
    subsidy_amount = models.DecimalField(_("subsidy amount (CNY)"), max_digits=9,
                                         decimal_places=2)
    active = models.BooleanField(_("active"), default=True)

    objects = RestrictedManager()
    scope = Scope(public=True)

    class Meta:
        verbose_name = _("catalogue course")
        verbose_name_plural = _("catalogue courses")
        ordering = ["occupation__code", "level"]
        constraints = [
            models.UniqueConstraint(fields=["occupation", "level", "subsidy_type"],
                                    nulls_distinct=False, name="course_unique_level"),
            models.CheckConstraint(condition=Q(standard_hours__gt=0), name="course_hours_pos"),
            models.CheckConstraint(condition=Q(subsidy_amount__gte=0),
                                   name="course_subsidy_nonneg"),
        ]

    def __str__(self) -> str:
        level = self.get_level_display() if self.level else _("no level")
        return f"{self.occupation.name} · {level}"


class InstitutionKind(models.TextChoices):
    PRIVATE_SCHOOL = "private_school", _("Private vocational training school")
    TECHNICAL_COLLEGE = "technical_college", _("Technical college")
    ENTERPRISE = "enterprise", _("Enterprise training centre")
    ONLINE_PLATFORM = "online_platform", _("Online training platform")
    PUBLIC_CENTRE = "public_centre", _("Public training centre")


class WhitelistStatus(models.TextChoices):
    NONE = "none", _("Not an online provider")
    PENDING = "pending", _("Whitelist pending")
    WHITELISTED = "whitelisted", _("Whitelisted")
    SUSPENDED = "suspended", _("Whitelist suspended")


class InstitutionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class Institution(models.Model):
    name = models.CharField(_("name"), max_length=128)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True,
                                   validators=[validators.validate_uscc])
    district = models.ForeignKey(District, verbose_name=_("district"), on_delete=models.PROTECT,
                                 related_name="institutions")
    kind = models.CharField(_("type"), max_length=32, choices=InstitutionKind.choices)
    licence_number = models.CharField(_("licence number"), max_length=64, blank=True)
    licence_valid_until = models.DateField(_("licence valid until"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=32, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    whitelist_status = models.CharField(_("whitelist status"), max_length=16,
                                        choices=WhitelistStatus.choices,
                                        default=WhitelistStatus.NONE)
    status = models.CharField(_("status"), max_length=16, choices=InstitutionStatus.choices,
                              default=InstitutionStatus.ACTIVE)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("pk",),
                  teacher=("teachers",), trainee=("classes__enrolments__trainee",))

    class Meta:
        verbose_name = _("training institution")
        verbose_name_plural = _("training institutions")
        ordering = ["district__sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_online_provider(self) -> bool:
        return self.whitelist_status != WhitelistStatus.NONE


class InstitutionFiling(models.Model):
    """An occupation and level the institution has filed (备案) and may train for."""

    institution = models.ForeignKey(Institution, verbose_name=_("institution"),
                                    on_delete=models.CASCADE, related_name="filings")
    course = models.ForeignKey(Course, verbose_name=_("catalogue course"),
                               on_delete=models.PROTECT, related_name="filings")
    filed_on = models.DateField(_("filed on"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("institution__district",), institution=("institution",),
                  teacher=("institution__teachers",))

    class Meta:
        verbose_name = _("filed occupation")
        verbose_name_plural = _("filed occupations")
        constraints = [models.UniqueConstraint(fields=["institution", "course"],
                                               name="filing_unique")]

    def __str__(self) -> str:
        return f"{self.institution} · {self.course}"


class Venue(models.Model):
    institution = models.ForeignKey(Institution, verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="venues")
    district = models.ForeignKey(District, verbose_name=_("district"), on_delete=models.PROTECT,
                                 related_name="venues")
    name = models.CharField(_("name"), max_length=128)
    address = models.CharField(_("address"), max_length=200)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    geofence_radius_m = models.PositiveIntegerField(_("geofence radius (m)"), default=200)
    active = models.BooleanField(_("active"), default=True)

    objects = RestrictedManager()
    scope = Scope(district=("district", "institution__district"), institution=("institution",),
                  teacher=("institution__teachers",),
                  trainee=("classes__enrolments__trainee",))

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        ordering = ["institution", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90)
                                   & Q(longitude__gte=-180, longitude__lte=180),
                                   name="venue_coordinates_range"),
            models.CheckConstraint(condition=Q(geofence_radius_m__gte=10,
                                               geofence_radius_m__lte=5000),
                                   name="venue_geofence_range"),
        ]

    def __str__(self) -> str:
        return self.name


class Room(models.Model):
    venue = models.ForeignKey(Venue, verbose_name=_("venue"), on_delete=models.CASCADE,
                              related_name="rooms")
    name = models.CharField(_("room"), max_length=64)
    capacity = models.PositiveIntegerField(_("capacity"), default=40)

    objects = RestrictedManager()
    scope = Scope(district=("venue__district", "venue__institution__district"),
                  institution=("venue__institution",), teacher=("venue__institution__teachers",),
                  trainee=("venue__classes__enrolments__trainee",))

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [models.UniqueConstraint(fields=["venue", "name"], name="room_unique")]

    def __str__(self) -> str:
        return f"{self.venue.name} {self.name}"


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")




class Teacher(models.Model):
    institution = models.ForeignKey(Institution, verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="teachers")
    name = models.CharField(_("real name"), max_length=32)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    id_number_enc, id_number_hash, id_number_masked = sealed_columns(_("ID number"))
    phone_enc, phone_hash, phone_masked = sealed_columns(_("mobile phone"))
    photo = models.FileField(_("photo"), upload_to="teachers/", blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    id_number = PersonalData(validators.normalise_id_number, validators.mask_id_number)
    phone = PersonalData(str.strip, validators.mask_phone)
    personal_fields = ("id_number", "phone", "photo")

    objects = RestrictedManager()
    scope = Scope(district=("institution__district",), institution=("institution",),
                  teacher=("pk",), trainee=("classes__enrolments__trainee",))

    class Meta:
        verbose_name = _("teacher")
        verbose_name_plural = _("teachers")
        ordering = ["institution", "name"]
        constraints = [models.UniqueConstraint(fields=["institution", "id_number_hash"],
                                               name="teacher_unique_per_institution")]

    def __str__(self) -> str:
        return self.name


class TeacherQualification(models.Model):
    teacher = models.ForeignKey(Teacher, verbose_name=_("teacher"), on_delete=models.CASCADE,
                                related_name="qualifications")
    occupation = models.ForeignKey(Occupation, verbose_name=_("occupation"),
                                   on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, null=True,
                                             blank=True)
    certificate_number = models.CharField(_("certificate number"), max_length=64)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("teacher__institution__district",),
                  institution=("teacher__institution",), teacher=("teacher",))

    class Meta:
        verbose_name = _("teacher qualification")
        verbose_name_plural = _("teacher qualifications")
        constraints = [models.UniqueConstraint(fields=["teacher", "occupation", "level"],
                                               nulls_distinct=False, name="qualification_unique")]

    def __str__(self) -> str:
        level = self.get_level_display() if self.level else _("no level")
        return f"{self.occupation} · {level}"

    def covers(self, course: Course, on_date=None) -> bool:
        """A qualification covers a course of the same occupation at its level or below."""
        if self.occupation_id != course.occupation_id:
            return False
        if on_date and self.valid_until and self.valid_until < on_date:
            return False
        if course.level is None:
            return True
        return self.level is not None and self.level <= course.level


class TraineeCategory(models.TextChoices):
    UNEMPLOYED = "unemployed", _("Unemployed")
    EMPLOYED = "employed", _("Employed")
    RETIRED = "retired", _("Retired")
    STUDENT = "student", _("Student")
    OTHER = "other", _("Other")


class Trainee(models.Model):
    name = models.CharField(_("real name"), max_length=32)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    id_number_enc, id_number_hash, id_number_masked = sealed_columns(_("ID number"), unique=True)
    phone_enc, phone_hash, phone_masked = sealed_columns(_("mobile phone"))
    category = models.CharField(_("category"), max_length=16, choices=TraineeCategory.choices)
    residence_district = models.ForeignKey(District, verbose_name=_("district of residence"),
                                           null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="residents")
    registered_by = models.ForeignKey(Institution, verbose_name=_("registered by"), null=True,
                                      blank=True, on_delete=models.SET_NULL,
                                      related_name="registered_trainees")
    id_verified = models.BooleanField(_("ID checked"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    id_number = PersonalData(validators.normalise_id_number, validators.mask_id_number)
    phone = PersonalData(str.strip, validators.mask_phone)
    personal_fields = ("id_number", "phone")

    objects = RestrictedManager()
    scope = Scope(district=("enrolments__district", "residence_district"),
                  institution=("enrolments__institution", "registered_by"),
                  teacher=("enrolments__training_class__teachers",), trainee=("pk",))

    class Meta:
        verbose_name = _("trainee")
        verbose_name_plural = _("trainees")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def audit_anchors(self) -> tuple[int | None, int | None]:
        return self.residence_district_id, self.registered_by_id


class ClassStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    RETURNED = "returned", _("Returned for correction")
    APPROVED = "approved", _("Approved")
    IN_PROGRESS = "in_progress", _("In progress")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


class TrainingMode(models.TextChoices):
    OFFLINE = "offline", _("Offline")
    ONLINE = "online", _("Online")
    BLENDED = "blended", _("Blended")


class TrainingClass(models.Model):
    """A class-opening application (开班申请) and, once approved, the class itself."""

    code = models.CharField(_("class code"), max_length=32, unique=True)
    name = models.CharField(_("class name"), max_length=128)
    institution = models.ForeignKey(Institution, verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="classes")
    district = models.ForeignKey(District, verbose_name=_("district"), on_delete=models.PROTECT,
                                 related_name="classes")
    course = models.ForeignKey(Course, verbose_name=_("catalogue course"),
                               on_delete=models.PROTECT, related_name="classes")
    venue = models.ForeignKey(Venue, verbose_name=_("venue"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="classes")
    mode = models.CharField(_("mode"), max_length=16, choices=TrainingMode.choices,
                            default=TrainingMode.OFFLINE)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    planned_hours = models.PositiveIntegerField(_("planned class hours"))
    capacity = models.PositiveIntegerField(_("capacity"), default=40)
    min_attendance_rate = models.DecimalField(_("minimum attendance rate"), max_digits=4,
                                              decimal_places=3, default=Decimal("0.800"))
    teachers = models.ManyToManyField(Teacher, verbose_name=_("teachers"), blank=True,
                                      related_name="classes")
    status = models.CharField(_("status"), max_length=16, choices=ClassStatus.choices,
                              default=ClassStatus.DRAFT, db_index=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("institution",),
                  teacher=("teachers",), trainee=("enrolments__trainee",))

    class Meta:
        verbose_name = _("training class")
        verbose_name_plural = _("training classes")
        ordering = ["-start_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=models.F("start_date")),
                                   name="class_dates_ordered"),
            models.CheckConstraint(condition=Q(min_attendance_rate__gte=0,
                                               min_attendance_rate__lte=1),
                                   name="class_attendance_rate_range"),
        ]
        indexes = [models.Index(fields=["district", "status"], name="class_district_status")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_editable(self) -> bool:
        return self.status in (ClassStatus.DRAFT, ClassStatus.RETURNED)


class ClassReview(models.Model):
    """One step of the class-opening workflow, with its comment: the full history."""

    training_class = models.ForeignKey(TrainingClass, verbose_name=_("training class"),
                                       on_delete=models.CASCADE, related_name="reviews")
    from_status = models.CharField(_("from"), max_length=16, choices=ClassStatus.choices)
    to_status = models.CharField(_("to"), max_length=16, choices=ClassStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                              on_delete=models.SET_NULL, related_name="+")
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("training_class__district",),
                  institution=("training_class__institution",),
                  teacher=("training_class__teachers",))

    class Meta:
        verbose_name = _("class review step")
        verbose_name_plural = _("class review steps")
        ordering = ["at", "id"]


class Session(models.Model):
    """A scheduled session (课次) of a class."""

    training_class = models.ForeignKey(TrainingClass, verbose_name=_("training class"),
                                       on_delete=models.CASCADE, related_name="sessions")
    district = models.ForeignKey(District, verbose_name=_("district"), on_delete=models.PROTECT,
                                 related_name="+")
    sequence = models.PositiveIntegerField(_("session no."))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    room = models.ForeignKey(Room, verbose_name=_("room"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="sessions")
    teacher = models.ForeignKey(Teacher, verbose_name=_("teacher"), on_delete=models.PROTECT,
                                related_name="sessions")
    topic = models.CharField(_("topic"), max_length=128, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("training_class__institution",),
                  teacher=("teacher", "training_class__teachers"),
                  trainee=("training_class__enrolments__trainee",))

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                   name="session_times_ordered"),
            models.UniqueConstraint(fields=["training_class", "sequence"],
                                    name="session_unique_sequence"),
        ]
        indexes = [models.Index(fields=["district", "starts_at"], name="session_district_time"),
                   models.Index(fields=["teacher", "starts_at"], name="session_teacher_time")]

    def __str__(self) -> str:
        return f"{self.training_class.code} #{self.sequence}"

    @property
    def class_hours(self) -> float:
        """Scheduled class hours: one class hour is 45 minutes."""
        return round((self.ends_at - self.starts_at).total_seconds() / 60 / 45, 2)


class EnrolmentStatus(models.TextChoices):
    ENROLLED = "enrolled", _("Enrolled")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    COMPLETED = "completed", _("Completed")


class Enrolment(models.Model):
    training_class = models.ForeignKey(TrainingClass, verbose_name=_("training class"),
                                       on_delete=models.CASCADE, related_name="enrolments")
    trainee = models.ForeignKey(Trainee, verbose_name=_("trainee"), on_delete=models.PROTECT,
                                related_name="enrolments")
    district = models.ForeignKey(District, verbose_name=_("district"), on_delete=models.PROTECT,
                                 related_name="+")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"),
                                    on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=EnrolmentStatus.choices,
                              default=EnrolmentStatus.ENROLLED)
    enrolled_at = models.DateTimeField(_("enrolled"), auto_now_add=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("institution",),
                  teacher=("training_class__teachers",), trainee=("trainee",))

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["training_class", "id"]
        constraints = [models.UniqueConstraint(fields=["training_class", "trainee"],
                                               name="enrolment_unique")]
        indexes = [models.Index(fields=["trainee", "training_class"], name="enrolment_trainee")]

    def __str__(self) -> str:
        return f"{self.trainee} @ {self.training_class.code}"


# --------------------------------------------------------------------------- bulk import


class ImportKind(models.TextChoices):
    TRAINEE = "trainee", _("Trainees")
    TEACHER = "teacher", _("Teachers")
    INSTITUTION = "institution", _("Training institutions")
    SESSION = "session", _("Sessions")
    ENROLMENT = "enrolment", _("Enrolments")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing: if any row is bad, import nothing")
    VALID_ONLY = "valid_only", _("Import the valid rows only")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to be processed")
    RUNNING = "running", _("Processing")
    DONE = "done", _("Imported")
    PARTIAL = "partial", _("Imported, some rows rejected")
    REJECTED = "rejected", _("Nothing imported")
    FAILED = "failed", _("Failed")


class ImportBatch(models.Model):
    """One uploaded file and what became of each of its rows (see ``registry.imports``).

    The uploaded bytes are kept, sealed like personal data, so that the error report can
    show the original rows and a fund audit can see exactly what was submitted."""

    FINISHED = (ImportStatus.DONE, ImportStatus.PARTIAL, ImportStatus.REJECTED,
                ImportStatus.FAILED)

    kind = models.CharField(_("import of"), max_length=16, choices=ImportKind.choices)
    mode = models.CharField(_("mode"), max_length=16, choices=ImportMode.choices,
                            default=ImportMode.ALL_OR_NOTHING)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices,
                              default=ImportStatus.QUEUED, db_index=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"),
                                    on_delete=models.PROTECT, related_name="import_batches")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey(District, verbose_name=_("district"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.PositiveIntegerField(_("file size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, db_index=True)
    content = models.BinaryField(_("uploaded file (sealed)"), editable=False)
    content_key = models.CharField(max_length=32, editable=False, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("rows imported"), default=0)
    existing_count = models.PositiveIntegerField(_("rows already present"), default=0)
    error_count = models.PositiveIntegerField(_("rows rejected"), default=0)
    file_problem_zh = models.TextField(_("file problem (Chinese)"), blank=True)
    file_problem_en = models.TextField(_("file problem (English)"), blank=True)
    notes = models.JSONField(_("notes"), default=list, blank=True)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = RestrictedManager()
    scope = Scope(district=("district",), institution=("institution",))

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["uploaded_by", "created_at"], name="import_user_time")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class ImportRowProblem(models.Model):
    """One reason why one row of an import was refused, in both languages."""

    batch = models.ForeignKey(ImportBatch, verbose_name=_("import batch"),
                              on_delete=models.CASCADE, related_name="problems")
    row_number = models.PositiveIntegerField(_("row"))
    row_label = models.CharField(_("record"), max_length=200, blank=True)
    column = models.CharField(_("column"), max_length=64, blank=True)
    code = models.CharField(_("code"), max_length=64)
    message_zh = models.TextField(_("message (Chinese)"))
    message_en = models.TextField(_("message (English)"))

    class Meta:
        verbose_name = _("import row problem")
        verbose_name_plural = _("import row problems")
        ordering = ["row_number", "id"]
        indexes = [models.Index(fields=["batch", "row_number"], name="import_problem_row")]

    @property
    def message(self) -> str:
        from django.utils.translation import get_language

        return self.message_zh if (get_language() or "").startswith("zh") else self.message_en

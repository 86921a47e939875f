"""Cockpit rollups (数据驾驶舱): small aggregate tables the cockpit reads instead of the facts.

Every table is rebuilt per day by set-based SQL (``cockpit.rollups``: ``DELETE`` the days
touched, then ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE``) from the true sources:

``DailyTraining``  one row per (day, district, institution, occupation, level, trainee
                   category). Class-level measures (sessions scheduled, classes running) are
                   in the row whose category is ``""`` (a session has no trainee category);
                   trainee measures (present, check-ins, valid and scheduled class hours from
                   ``attendance.SessionAttendance``, enrolments) in the category rows. Summing
                   any measure over rows is therefore always right.
``WarningDaily``   warnings by the local day first raised, severity and status.
``CaseDaily``      cases by the local day opened, severity and state, with overdue and
                   on-time counts as of the refresh.
``SubsidyDaily``   subsidy verdicts by the local end date of their class: count, amount
                   eligible, amount withheld (the catalogue amount of refused claims).
``QualityDaily``   data quality (数据质量) per docking client and local day: received,
                   accepted, rejected (and per reason code), corrected later — the figures
                   ``distribution.quality`` defines and shows, with the client's district and
                   institution as scope keys.
``RollupState``    per rollup: when it was last refreshed and the high-water marks the next
                   incremental refresh starts from — the freshness shown on every figure.

Plain id columns (no foreign keys), ``district_id`` in every key, like the facts.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from skillguard.core.scoping import RestrictedManager, Scope

ROLLUP_SCOPE = Scope(district=("district_id",), institution=("institution_id",))


class DailyTraining(models.Model):
    day = models.DateField(_("day"))
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    occupation_id = models.BigIntegerField(_("occupation"))
    level = models.PositiveSmallIntegerField(_("level"), default=0)  # 0: no level
    category = models.CharField(_("trainee category"), max_length=16, blank=True)
    sessions_scheduled = models.IntegerField(_("sessions scheduled"), default=0)
    classes_running = models.IntegerField(_("classes running"), default=0)
    trainees_present = models.IntegerField(_("trainees present"), default=0)
    attendances = models.IntegerField(_("trainee sessions due"), default=0)
    checkins = models.IntegerField(_("check-ins"), default=0)
    valid_hours = models.DecimalField(_("valid class hours"), max_digits=14, decimal_places=2,
                                      default=0)
    scheduled_hours = models.DecimalField(_("scheduled class hours"), max_digits=14,
                                          decimal_places=2, default=0)
    enrolments = models.IntegerField(_("enrolments"), default=0)

    objects = RestrictedManager()
    scope = ROLLUP_SCOPE

    class Meta:
        verbose_name = _("daily training figures")
        verbose_name_plural = _("daily training figures")
        constraints = [models.UniqueConstraint(
            fields=["day", "district_id", "institution_id", "occupation_id", "level",
                    "category"], name="cockpit_dailytraining_grain")]
        indexes = [models.Index(fields=["district_id", "day"], name="cockpit_dt_district"),
                   models.Index(fields=["institution_id", "day"], name="cockpit_dt_inst")]


class MonthlyTraining(models.Model):
    """``DailyTraining`` summed by calendar month (``day`` is the month's first day): what
    the cockpit reads for the whole months of a long period. ``classes_running`` here is
    class-days (a sum of daily counts); distinct classes are only ever read per day."""

    day = models.DateField(_("month"))
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    occupation_id = models.BigIntegerField(_("occupation"))
    level = models.PositiveSmallIntegerField(_("level"), default=0)
    category = models.CharField(_("trainee category"), max_length=16, blank=True)
    sessions_scheduled = models.IntegerField(_("sessions scheduled"), default=0)
    classes_running = models.IntegerField(_("class-days"), default=0)
    trainees_present = models.IntegerField(_("trainees present"), default=0)
    attendances = models.IntegerField(_("trainee sessions due"), default=0)
    checkins = models.IntegerField(_("check-ins"), default=0)
    valid_hours = models.DecimalField(_("valid class hours"), max_digits=16, decimal_places=2,
                                      default=0)
    scheduled_hours = models.DecimalField(_("scheduled class hours"), max_digits=16,
                                          decimal_places=2, default=0)
    enrolments = models.IntegerField(_("enrolments"), default=0)

    objects = RestrictedManager()
    scope = ROLLUP_SCOPE

    class Meta:
        verbose_name = _("monthly training figures")
        verbose_name_plural = _("monthly training figures")
        constraints = [models.UniqueConstraint(
            fields=["day", "district_id", "institution_id", "occupation_id", "level",
                    "category"], name="cockpit_monthlytraining_grain")]
        indexes = [models.Index(fields=["district_id", "day"], name="cockpit_mt_district"),
                   models.Index(fields=["institution_id", "day"], name="cockpit_mt_inst")]


class WarningDaily(models.Model):
    day = models.DateField(_("day"))
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"), default=0)  # 0: none
    severity = models.CharField(_("severity"), max_length=16)
    status = models.CharField(_("status"), max_length=16)
    warnings = models.IntegerField(_("warnings"), default=0)

    objects = RestrictedManager()
    scope = ROLLUP_SCOPE

    class Meta:
        verbose_name = _("daily warning figures")
        verbose_name_plural = _("daily warning figures")
        constraints = [models.UniqueConstraint(
            fields=["day", "district_id", "institution_id", "severity", "status"],
            name="cockpit_warningdaily_grain")]
        indexes = [models.Index(fields=["district_id", "day"], name="cockpit_wd_district")]


class CaseDaily(models.Model):
    day = models.DateField(_("day"))
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"), default=0)
    # what an institution sees: cases dispatched to it (``cases.Case.scope``)
    dispatched_to_id = models.BigIntegerField(_("dispatched to"), default=0)
    severity = models.CharField(_("severity"), max_length=16)
    state = models.CharField(_("state"), max_length=16)
    cases = models.IntegerField(_("cases"), default=0)
    overdue = models.IntegerField(_("overdue"), default=0)
    closed_on_time = models.IntegerField(_("closed on time"), default=0)

    objects = RestrictedManager()
    scope = ROLLUP_SCOPE

    class Meta:
        verbose_name = _("daily case figures")
        verbose_name_plural = _("daily case figures")
        constraints = [models.UniqueConstraint(
            fields=["day", "district_id", "institution_id", "dispatched_to_id", "severity",
                    "state"], name="cockpit_casedaily_grain")]
        indexes = [models.Index(fields=["district_id", "day"], name="cockpit_cd_district")]


class SubsidyDaily(models.Model):
    day = models.DateField(_("class end date"))
    district_id = models.BigIntegerField(_("district"))
    institution_id = models.BigIntegerField(_("institution"))
    occupation_id = models.BigIntegerField(_("occupation"))
    level = models.PositiveSmallIntegerField(_("level"), default=0)
    category = models.CharField(_("trainee category"), max_length=16, blank=True)
    verdict = models.CharField(_("verdict"), max_length=16)
    verdicts = models.IntegerField(_("verdicts"), default=0)
    amount = models.DecimalField(_("amount eligible (CNY)"), max_digits=16, decimal_places=2,
                                 default=0)
    withheld = models.DecimalField(_("amount withheld (CNY)"), max_digits=16, decimal_places=2,
                                   default=0)

    objects = RestrictedManager()
    scope = ROLLUP_SCOPE

    class Meta:
        verbose_name = _("daily subsidy figures")
        verbose_name_plural = _("daily subsidy figures")
        constraints = [models.UniqueConstraint(
            fields=["day", "district_id", "institution_id", "occupation_id", "level",
                    "category", "verdict"], name="cockpit_subsidydaily_grain")]
        indexes = [models.Index(fields=["district_id", "day"], name="cockpit_sd_district")]


class QualityDaily(models.Model):
    """One docking client's data quality on one local day (``distribution.quality``)."""

    client_id = models.BigIntegerField(_("source"))
    day = models.DateField(_("day"))
    district_id = models.BigIntegerField(_("district"), default=0)  # 0: city-level client
    institution_id = models.BigIntegerField(_("institution"), default=0)  # 0: none
    received = models.IntegerField(_("received"), default=0)
    accepted = models.IntegerField(_("accepted"), default=0)
    rejected = models.IntegerField(_("rejected"), default=0)
    corrected = models.IntegerField(_("corrected later"), default=0)
    rejected_by_code = models.JSONField(_("rejected by reason"), default=dict, blank=True)

    objects = RestrictedManager()
    scope = ROLLUP_SCOPE

    class Meta:
        verbose_name = _("daily data quality figures")
        verbose_name_plural = _("daily data quality figures")
        constraints = [models.UniqueConstraint(fields=["client_id", "day"],
                                               name="cockpit_qualitydaily_grain")]
        indexes = [models.Index(fields=["district_id", "day"], name="cockpit_qd_district"),
                   models.Index(fields=["day"], name="cockpit_qd_day")]


class RollupState(models.Model):
    name = models.CharField(_("rollup"), max_length=32, primary_key=True)
    refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    full_at = models.DateTimeField(_("last full rebuild"), null=True, blank=True)
    high_water = models.DateTimeField(_("high-water mark"), null=True, blank=True)
    marks = models.JSONField(_("high-water marks"), default=dict, blank=True)
    days_refreshed = models.IntegerField(_("days refreshed last time"), default=0)
    duration_ms = models.IntegerField(_("duration of the last refresh (ms)"), default=0)

    objects = RestrictedManager()
    scope = Scope(public=True)  # freshness only: no figures in it

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup states")

    def __str__(self) -> str:
        return self.name

"""Checksums and formats of Chinese identifiers, as pure functions.

GB 11643-1999 resident identity number (18 characters, ISO 7064 MOD 11-2 check) and
GB 32100-2015 unified social credit code (18 characters, MOD 31 check).
"""
from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_PATTERN = re.compile(r"^\d{17}[\dX]$")

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def normalise_id_number(value: str) -> str:
    return (value or "").strip().upper()


def id_number_problem(value: str, today: dt.date | None = None):
    """Return None when valid, else a translatable reason."""
    value = normalise_id_number(value)
    if not ID_PATTERN.match(value):
        return _("must be 18 characters: 17 digits and a final digit or X")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return _("contains an impossible date of birth")
    today = today or dt.date.today()
    if birth > today or birth.year < 1900:
        return _("contains a date of birth out of range")
    if id_check_char(value[:17]) != value[17]:
        return _("check digit does not match (GB 11643)")
    return None


def validate_id_number(value: str) -> None:
    problem = id_number_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_id_number")


def id_birth_date(value: str) -> dt.date:
    value = normalise_id_number(value)
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_gender(value: str) -> str:
    return "M" if int(normalise_id_number(value)[16]) % 2 else "F"


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str):
    value = (value or "").strip().upper()
    if not USCC_PATTERN.match(value):
        return _("must be 18 characters of the GB 32100 alphabet (no I, O, Z, S, V)")
    if uscc_check_char(value[:17]) != value[17]:
        return _("check character does not match (GB 32100)")
    return None


def validate_uscc(value: str) -> None:
    problem = uscc_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_credit_code")


def validate_mobile(value: str) -> None:
    if not PHONE_PATTERN.match((value or "").strip()):
        raise ValidationError(_("must be an 11-digit mainland mobile number"), code="invalid_phone")


def mask_id_number(value: str) -> str:
    value = normalise_id_number(value)
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    value = (value or "").strip()
    if len(value) < 8:  # 3 + 4 shown would reveal a 7-character value whole
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]

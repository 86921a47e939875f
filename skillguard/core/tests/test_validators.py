"""Property tests of the identifier checksums (GB 11643, GB 32100) and the maskers."""
from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from skillguard.core.validators import (
    ID_CHECK_CHARS,
    USCC_ALPHABET,
    id_birth_date,
    id_check_char,
    id_gender,
    id_number_problem,
    mask_id_number,
    mask_phone,
    normalise_id_number,
    uscc_check_char,
    uscc_problem,
)

TODAY = dt.date(2026, 1, 1)
DIGITS = "0123456789"

regions = st.text(DIGITS, min_size=6, max_size=6)
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
serials = st.text(DIGITS, min_size=3, max_size=3)


@st.composite
def id_numbers(draw) -> str:
    body = f"{draw(regions)}{draw(births):%Y%m%d}{draw(serials)}"
    return body + id_check_char(body)


@st.composite
def credit_codes(draw) -> str:
    alphabet = st.sampled_from(USCC_ALPHABET)
    body = ("".join(draw(st.lists(alphabet, min_size=2, max_size=2)))
            + draw(st.text(DIGITS, min_size=6, max_size=6))
            + "".join(draw(st.lists(alphabet, min_size=9, max_size=9))))
    return body + uscc_check_char(body)


# ----------------------------------------------------------------- GB 11643 ID numbers


@given(id_numbers())
def test_computed_check_char_makes_a_valid_id(value):
    assert id_number_problem(value, today=TODAY) is None


@given(st.text(DIGITS, min_size=17, max_size=17))
def test_any_17_digits_get_a_check_char_the_checksum_accepts(body):
    check = id_check_char(body)
    assert check in ID_CHECK_CHARS
    problem = id_number_problem(body + check, today=TODAY)
    # only the embedded birth date may still be refused, never the check digit
    assert problem is None or "check digit" not in str(problem)


@given(id_numbers(), st.integers(0, 17), st.sampled_from(DIGITS + "X"))
def test_any_single_character_change_is_rejected(value, position, replacement):
    assume(value[position] != replacement)
    changed = value[:position] + replacement + value[position + 1:]
    assert id_number_problem(changed, today=TODAY) is not None


@given(id_numbers(), st.integers(0, 15))
def test_swapping_two_adjacent_digits_is_rejected(value, position):
    a, b = value[position], value[position + 1]
    assume(a != b)
    swapped = value[:position] + b + a + value[position + 2:]
    assert id_number_problem(swapped, today=TODAY) is not None


@given(id_numbers())
def test_lower_case_x_and_surrounding_spaces_are_accepted(value):
    assert id_number_problem(f"  {value.lower()} ", today=TODAY) is None
    assert normalise_id_number(f" {value.lower()}") == value


@given(id_numbers(), st.integers(0, 17))
def test_wrong_length_is_rejected(value, cut):
    assert id_number_problem(value[:cut], today=TODAY) is not None
    assert id_number_problem(value + "0", today=TODAY) is not None


@given(regions, births, serials)
def test_birth_date_and_gender_are_read_back(region, birth, serial):
    body = f"{region}{birth:%Y%m%d}{serial}"
    value = body + id_check_char(body)
    assert id_birth_date(value) == birth
    assert id_gender(value) == ("M" if int(serial[-1]) % 2 else "F")


def test_known_id_and_impossible_dates():
    # the check digit of the GB 11643 worked example
    assert id_check_char("11010519491231002") == "X"
    assert id_number_problem("11010519491231002X", today=TODAY) is None
    body = "31010420230230123"  # 30 February
    assert "impossible date" in str(id_number_problem(body + id_check_char(body), TODAY))
    body = "31010420990101123"  # born in the future
    assert "out of range" in str(id_number_problem(body + id_check_char(body), TODAY))


# ----------------------------------------------------------------- GB 32100 credit codes


@given(credit_codes())
def test_computed_check_char_makes_a_valid_credit_code(value):
    assert uscc_problem(value) is None
    assert uscc_problem(value.lower()) is None  # entered in lower case


@given(credit_codes(), st.integers(0, 17), st.sampled_from(USCC_ALPHABET + "IOZSV"))
def test_any_single_character_change_of_a_credit_code_is_rejected(value, position,
                                                                   replacement):
    assume(value[position] != replacement)
    changed = value[:position] + replacement + value[position + 1:]
    assert uscc_problem(changed) is not None


def test_known_credit_code():
    assert uscc_problem("91350100M000100Y43") is None
    assert uscc_problem("91350100M000100Y44") is not None


# ----------------------------------------------------------------- maskers


@given(id_numbers())
def test_masked_id_keeps_only_region_prefix_and_last_four(value):
    masked = mask_id_number(value)
    assert len(masked) == 18
    assert masked[:3] == value[:3] and masked[-4:] == value[-4:]
    assert set(masked[3:-4]) == {"*"}
    assert value[6:14] not in masked  # the birth date is never shown


@given(st.text(DIGITS, min_size=11, max_size=11))
def test_masked_phone_hides_the_middle_four(value):
    masked = mask_phone(value)
    assert masked == value[:3] + "****" + value[-4:]


@given(st.text(alphabet=st.characters(blacklist_characters="*"), max_size=40))
def test_maskers_hide_something_and_never_show_more_than_seven_characters(value):
    for mask, normalise in ((mask_id_number, normalise_id_number), (mask_phone, str.strip)):
        plain = normalise(value)
        masked = mask(value)
        assert len(masked) == len(plain)
        assert sum(1 for c in masked if c != "*") <= 7
        if plain:
            assert masked != plain

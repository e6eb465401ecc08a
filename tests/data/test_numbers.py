import datetime
import random

import pytest

from attnbook.data.numbers import (
    date_pairs,
    from_korean_numeral,
    korean_date,
    numeral_pairs,
    parse_korean_date,
    to_korean_numeral,
)

HAND_CHECKED = [
    (0, "영"), (1, "일"), (7, "칠"), (10, "십"), (11, "십일"), (20, "이십"), (99, "구십구"),
    (100, "백"), (101, "백일"), (110, "백십"), (999, "구백구십구"), (1000, "천"), (1111, "천백십일"),
    (2006, "이천육"), (3245, "삼천이백사십오"),
    (10000, "만"), (10001, "만일"), (10010, "만십"), (11000, "만천"), (20000, "이만"), (110000, "십일만"),
    (1000000, "백만"), (10000000, "천만"), (12345678, "천이백삼십사만오천육백칠십팔"),
    (100000000, "일억"), (100010000, "일억만"), (200000000, "이억"), (1000000000, "십억"),
    (10**12, "일조"), (1234567890123, "일조이천삼백사십오억육천칠백팔십구만백이십삼"),
    (10**16 - 1, "구천구백구십구조구천구백구십구억구천구백구십구만구천구백구십구"),
]


@pytest.mark.parametrize(("number", "numeral"), HAND_CHECKED)
def test_numerals_hand_checked(number, numeral):
    assert to_korean_numeral(number) == numeral
    assert from_korean_numeral(numeral) == number


def test_numerals_round_trip():
    rng = random.Random(0)
    values = [*range(20001), *(10**k for k in range(16)), *(10**k - 1 for k in range(1, 17)),
              *(rng.randrange(10**16) for _ in range(3000)), *(rng.randrange(10**9) for _ in range(3000))]
    for value in values:
        numeral = to_korean_numeral(value)
        assert from_korean_numeral(numeral) == value, (value, numeral)
    assert len({to_korean_numeral(v) for v in range(20001)}) == 20001  # no two numbers read alike


def test_no_il_before_sip_baek_cheon_man_but_before_eok_and_jo():
    for value in range(1, 10**5):  # below 10^5 no numeral can contain these pairs except by the dropped 일
        numeral = to_korean_numeral(value)
        assert not any(f"일{unit}" in numeral for unit in "십백천만"), numeral
    assert to_korean_numeral(10**8) == "일억" and to_korean_numeral(10**12) == "일조"
    assert to_korean_numeral(10**8 + 10**4) == "일억만"


@pytest.mark.parametrize(("numeral", "ko", "en"), [
    ("일만", "'만'(으)로 씁니다", "is written '만'"),
    ("억", "'일억'(으)로 씁니다", "is written '일억'"),
    ("십영", "'십'(으)로 씁니다", "is written '십'"),
    ("일십", "'십'(으)로 씁니다", "is written '십'"),
    ("삼삼", "단위 없이 이어집니다", "two digits 삼삼 in a row"),
    ("백천", "천이(가) 제자리에 있지 않습니다", "천 is out of order"),
    ("만억", "억이(가) 제자리에 있지 않습니다", "억 is out of order"),
    ("삼천x", "알 수 없는 글자 'x'", "unknown character 'x'"),
    ("", "빈 문자열", "the string is empty"),
])
def test_malformed_numerals_are_explained(raises_in_both_languages, numeral, ko, en):
    raises_in_both_languages(ValueError, lambda: from_korean_numeral(numeral), ko, en)


def test_numbers_out_of_range_or_of_the_wrong_type(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: to_korean_numeral(-1), "0 이상 10^16 미만", "0 ≤ n < 10^16")
    raises_in_both_languages(ValueError, lambda: to_korean_numeral(10**16), "0 이상 10^16 미만", "0 ≤ n < 10^16")
    raises_in_both_languages(TypeError, lambda: to_korean_numeral(1.5), "정수가 필요합니다", "expected an integer")
    raises_in_both_languages(TypeError, lambda: to_korean_numeral(True), "정수가 필요합니다", "expected an integer")
    raises_in_both_languages(TypeError, lambda: from_korean_numeral(3245), "문자열이 필요합니다", "expected a string")


@pytest.mark.parametrize(("day", "digits", "spelled"), [
    (datetime.date(2026, 11, 24), "2026년 11월 24일", "이천이십육년 십일월 이십사일"),
    (datetime.date(2024, 6, 10), "2024년 6월 10일", "이천이십사년 유월 십일"),
    (datetime.date(1999, 10, 1), "1999년 10월 1일", "천구백구십구년 시월 일일"),
    (datetime.date(2000, 1, 31), "2000년 1월 31일", "이천년 일월 삼십일일"),
    (datetime.date(2024, 2, 29), "2024년 2월 29일", "이천이십사년 이월 이십구일"),
])
def test_dates_hand_checked(day, digits, spelled):
    assert korean_date(day) == digits
    assert korean_date(day, spelled=True) == spelled
    assert parse_korean_date(digits) == day
    assert parse_korean_date(spelled) == day


def test_dates_round_trip():
    day = datetime.date(1900, 1, 1)
    while day.year < 2100:
        assert parse_korean_date(korean_date(day)) == day
        assert parse_korean_date(korean_date(day, spelled=True)) == day
        day += datetime.timedelta(days=3)


@pytest.mark.parametrize(("date_text", "ko", "en"), [
    ("2026년 2월 30일", "달력에 없는 날짜", "no such day as 2026-02-30"),
    ("2023년 2월 29일", "달력에 없는 날짜", "no such day as 2023-02-29"),
    ("2026년 13월 1일", "달력에 없는 날짜", "no such day as 2026-13-01"),
    ("2026-11-24", "꼴의 날짜가 아닙니다", "is not a date of the form"),
    ("2026년 11월", "꼴의 날짜가 아닙니다", "is not a date of the form"),
    ("2026년 열한월 24일", "숫자도 한자어 수사도 아닙니다", "neither digits nor a Sino-Korean numeral"),
])
def test_bad_dates_are_explained(raises_in_both_languages, date_text, ko, en):
    raises_in_both_languages(ValueError, lambda: parse_korean_date(date_text), ko, en)


def test_korean_date_needs_a_date(raises_in_both_languages):
    raises_in_both_languages(TypeError, lambda: korean_date("2026-11-24"), "datetime.date가 필요합니다",
                             "expected a datetime.date")


def test_numeral_pairs_are_deterministic_consistent_and_of_every_length():
    pairs = numeral_pairs(2000, seed=3, max_value=99_999_999)
    assert pairs == numeral_pairs(2000, seed=3, max_value=99_999_999)
    assert pairs != numeral_pairs(2000, seed=4, max_value=99_999_999)
    assert all(isinstance(ko, str) and isinstance(digits, str) for ko, digits in pairs)
    assert all(from_korean_numeral(ko) == int(digits) <= 99_999_999 for ko, digits in pairs)
    lengths = [len(digits) for _, digits in pairs]
    assert set(lengths) == set(range(1, 9))  # digit counts drawn uniformly: short numbers are common too
    assert min(lengths.count(k) for k in range(1, 9)) > 150
    assert all(int(digits) <= 999 for _, digits in numeral_pairs(200, seed=0, max_value=999))


def test_date_pairs_are_deterministic_and_consistent():
    pairs = date_pairs(500, seed=1)
    assert pairs == date_pairs(500, seed=1) and pairs != date_pairs(500, seed=2)
    for ko, iso in pairs:
        assert parse_korean_date(ko) == datetime.date.fromisoformat(iso)
        assert "1900-01-01" <= iso <= "2099-12-31"
    spelled = date_pairs(50, seed=1, spelled=True)
    assert [iso for _, iso in spelled] == [iso for _, iso in pairs[:50]]
    assert all(not any(ch.isdigit() for ch in ko) for ko, _ in spelled)


def test_pair_generators_check_their_arguments(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: numeral_pairs(-1, seed=0), "0 이상의 정수", "non-negative integer")
    raises_in_both_languages(TypeError, lambda: numeral_pairs(3, seed=None), "seed는 정수", "seed must be an integer")
    raises_in_both_languages(ValueError, lambda: numeral_pairs(3, seed=0, max_value=10**16), "미만의 정수여야",
                             "must be an integer with 0 ≤ max_value < 10^16")
    raises_in_both_languages(ValueError, lambda: date_pairs(3, seed=0, start=datetime.date(2000, 1, 2),
                                                            end=datetime.date(2000, 1, 1)),
                             "start와 end는", "start and end must be dates")

"""Sino-Korean numerals and Korean dates, both ways, for character-level translation tasks.

Korean groups digits by four, not three: 만 (10⁴), 억 (10⁸), 조 (10¹²). Inside a
group, 천 백 십 (1000, 100, 10) are read with their digit, except that 일 (one) is
dropped before them: 1111 is 천백십일, not 일천일백일십일. Before 만 it is dropped
too (10000 is 만, 10010 is 만십, 110000 is 십일만), but it stays before 억 and 조
(100000000 is 일억). Zero is 영 and is only said alone.

Dates: ``"2026년 11월 24일"`` ↔ ``date(2026, 11, 24)``, or spelled out in Hangul
(``spelled=True``): ``"이천이십육년 십일월 이십사일"``; June and October drop a
sound: 유월 (not 육월), 시월 (not 십월).
"""

from __future__ import annotations

import datetime
import random
import re

from attnbook.language import text

DIGITS = "영일이삼사오육칠팔구"
SMALL_UNITS = {"십": 10, "백": 100, "천": 1000}
BIG_UNITS = {"만": 10**4, "억": 10**8, "조": 10**12}
LIMIT = 10**16  # 조 is the largest unit, so 9999조 9999억 9999만 9999 is the largest numeral
SPELLED_MONTHS = {6: "유월", 10: "시월"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _group(n: int) -> str:
    """A number 1–9999 in Hangul, with no 일 before 천, 백 or 십."""
    words = []
    for unit, size in (("천", 1000), ("백", 100), ("십", 10)):
        digit, n = divmod(n, size)
        if digit:
            words.append(("" if digit == 1 else DIGITS[digit]) + unit)
    if n:
        words.append(DIGITS[n])
    return "".join(words)


def to_korean_numeral(n: int) -> str:
    """The Sino-Korean numeral for 0 ≤ n < 10¹⁶: 3245 → "삼천이백사십오", 10000 → "만"."""
    if not _is_int(n):
        raise TypeError(text(f"정수가 필요합니다: {n!r}", f"expected an integer, got {n!r}"))
    if not 0 <= n < LIMIT:
        raise ValueError(text(f"0 이상 10^16 미만의 수만 읽을 수 있습니다: {n}",
                              f"only numbers 0 ≤ n < 10^16 can be read, got {n}"))
    if n == 0:
        return DIGITS[0]
    words = []
    for unit, size in reversed(BIG_UNITS.items()):
        group, n = divmod(n, size)
        if group:
            words.append(("" if group == 1 and unit == "만" else _group(group)) + unit)
    return "".join(words) + (_group(n) if n else "")


def _malformed(s: str, why_ko: str, why_en: str) -> ValueError:
    return ValueError(text(f"{s!r}은(는) 올바른 한자어 수사가 아닙니다: {why_ko}",
                           f"{s!r} is not a Sino-Korean numeral: {why_en}"))


def from_korean_numeral(s: str) -> int:
    """The number a Sino-Korean numeral names: "삼천이백사십오" → 3245; only the canonical spelling is accepted."""
    if not isinstance(s, str):
        raise TypeError(text(f"문자열이 필요합니다: {s!r}", f"expected a string, got {s!r}"))
    if not s:
        raise _malformed(s, "빈 문자열입니다", "the string is empty")
    total, group, digit = 0, 0, None
    last_small, last_big = 10**4, LIMIT
    for char in s:
        if char in DIGITS:
            if digit is not None:
                raise _malformed(s, f"숫자 {DIGITS[digit]}{char}이(가) 단위 없이 이어집니다",
                                 f"two digits {DIGITS[digit]}{char} in a row without a unit")
            digit = DIGITS.index(char)
        elif char in SMALL_UNITS:
            if SMALL_UNITS[char] >= last_small:
                raise _malformed(s, f"{char}이(가) 제자리에 있지 않습니다", f"{char} is out of order")
            group += (1 if digit is None else digit) * SMALL_UNITS[char]
            digit, last_small = None, SMALL_UNITS[char]
        elif char in BIG_UNITS:
            if BIG_UNITS[char] >= last_big:
                raise _malformed(s, f"{char}이(가) 제자리에 있지 않습니다", f"{char} is out of order")
            group += digit or 0
            total += (group or 1) * BIG_UNITS[char]
            group, digit, last_small, last_big = 0, None, 10**4, BIG_UNITS[char]
        else:
            allowed = DIGITS + "".join(SMALL_UNITS) + "".join(BIG_UNITS)
            raise _malformed(s, f"알 수 없는 글자 {char!r}이(가) 있습니다 (쓸 수 있는 글자: {allowed})",
                             f"unknown character {char!r} (allowed: {allowed})")
    value = total + group + (digit or 0)
    canonical = to_korean_numeral(value)
    if canonical != s:
        raise _malformed(s, f"{value}은(는) {canonical!r}(으)로 씁니다", f"{value} is written {canonical!r}")
    return value


def korean_date(day: datetime.date, *, spelled: bool = False) -> str:
    """A date the Korean way, year first: "2026년 11월 24일", or "이천이십육년 십일월 이십사일" when spelled."""
    if not isinstance(day, datetime.date):
        raise TypeError(text(f"datetime.date가 필요합니다: {day!r}", f"expected a datetime.date, got {day!r}"))
    if not spelled:
        return f"{day.year}년 {day.month}월 {day.day}일"
    month = SPELLED_MONTHS.get(day.month, to_korean_numeral(day.month) + "월")
    return f"{to_korean_numeral(day.year)}년 {month} {to_korean_numeral(day.day)}일"


_DATE = re.compile(r"(\S+)년 (\S+)월 (\S+)일")


def _date_part(part: str, s: str) -> int:
    if part.isdigit() and part.isascii():
        return int(part)
    try:
        return from_korean_numeral(part)
    except ValueError:
        raise ValueError(text(f"{s!r}의 {part!r}은(는) 숫자도 한자어 수사도 아닙니다",
                              f"{part!r} in {s!r} is neither digits nor a Sino-Korean numeral")) from None


def parse_korean_date(s: str) -> datetime.date:
    """The date a Korean date string names, in digits or spelled out: "2026년 11월 24일" → date(2026, 11, 24)."""
    if not isinstance(s, str):
        raise TypeError(text(f"문자열이 필요합니다: {s!r}", f"expected a string, got {s!r}"))
    match = _DATE.fullmatch(s.replace("유월", "육월").replace("시월", "십월"))
    if not match:
        raise ValueError(text(f"{s!r}은(는) \"2026년 11월 24일\" 꼴의 날짜가 아닙니다",
                              f"{s!r} is not a date of the form \"2026년 11월 24일\""))
    year, month, day = (_date_part(part, s) for part in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError(text(f"{s!r}: {year}년 {month}월 {day}일은 달력에 없는 날짜입니다",
                              f"{s!r}: there is no such day as {year}-{month:02d}-{day:02d}")) from None


def _check(n: object, seed: object) -> None:
    if not _is_int(n) or n < 0:
        raise ValueError(text(f"n은 0 이상의 정수여야 합니다: {n!r}", f"n must be a non-negative integer, got {n!r}"))
    if not _is_int(seed):
        raise TypeError(text(f"seed는 정수여야 합니다: {seed!r}", f"seed must be an integer, got {seed!r}"))


def numeral_pairs(n: int, *, seed: int, max_value: int = 10**8 - 1) -> list[tuple[str, str]]:
    """``n`` pairs (Korean numeral, digits) such as ("삼천이백사십오", "3245"), for 0 ≤ value ≤ max_value.

    The number of digits is drawn uniformly first, so short and long numbers are
    equally common (a uniform draw would make nearly every number as long as max_value).
    """
    _check(n, seed)
    if not _is_int(max_value) or not 0 <= max_value < LIMIT:
        raise ValueError(text(f"max_value는 0 이상 10^16 미만의 정수여야 합니다: {max_value!r}",
                              f"max_value must be an integer with 0 ≤ max_value < 10^16, got {max_value!r}"))
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        digits = rng.randint(1, len(str(max_value)))
        low = 0 if digits == 1 else 10 ** (digits - 1)
        value = rng.randint(low, min(10**digits - 1, max_value))
        pairs.append((to_korean_numeral(value), str(value)))
    return pairs


def date_pairs(n: int, *, seed: int, spelled: bool = False, start: datetime.date = datetime.date(1900, 1, 1),
               end: datetime.date = datetime.date(2099, 12, 31)) -> list[tuple[str, str]]:
    """``n`` pairs (Korean date, ISO date) such as ("2026년 11월 24일", "2026-11-24"), uniform over [start, end]."""
    _check(n, seed)
    if not (isinstance(start, datetime.date) and isinstance(end, datetime.date)) or start > end:
        raise ValueError(text(f"start와 end는 start ≤ end인 날짜여야 합니다: {start!r}, {end!r}",
                              f"start and end must be dates with start ≤ end, got {start!r}, {end!r}"))
    rng = random.Random(seed)
    days = (end - start).days
    pairs = []
    for _ in range(n):
        day = start + datetime.timedelta(days=rng.randint(0, days))
        pairs.append((korean_date(day, spelled=spelled), day.isoformat()))
    return pairs

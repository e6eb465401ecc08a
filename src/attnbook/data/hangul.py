"""Hangul syllables and the particles that depend on them.

A Hangul syllable block is built from a lead consonant (초성), a vowel (중성) and an
optional final consonant (받침, 종성); Unicode numbers the 11,172 blocks as
``0xAC00 + (lead × 21 + vowel) × 28 + tail``. Several Korean particles have two
forms, chosen by whether the noun before them ends in a final consonant:

=========  ======================  ==================
particle   after a final consonant  after a vowel
=========  ======================  ==================
은/는       책은                     사과는
이/가       책이                     사과가
을/를       책을                     사과를
와/과       책과                     사과와
(으)로      집으로                   학교로, 서울로 (ㄹ)
=========  ======================  ==================

(으)로 has one more rule: a noun ending in ㄹ takes 로 (서울로, 사무실로).
"""

from __future__ import annotations

import unicodedata

from attnbook.language import text

FIRST_SYLLABLE, LAST_SYLLABLE = 0xAC00, 0xD7A3
LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
TAILS = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ",
         "ㅁ", "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")

# particle -> (form after a final consonant, form after a vowel)
PARTICLES: dict[str, tuple[str, str]] = {
    "은/는": ("은", "는"),
    "이/가": ("이", "가"),
    "을/를": ("을", "를"),
    "와/과": ("과", "와"),
    "(으)로": ("으로", "로"),
}


def is_syllable(char: str) -> bool:
    """Whether ``char`` is one precomposed Hangul syllable block (가 … 힣)."""
    return len(char) == 1 and FIRST_SYLLABLE <= ord(char) <= LAST_SYLLABLE


def decompose(syllable: str) -> tuple[str, str, str | None]:
    """Split one syllable into (lead, vowel, tail) compatibility jamo; tail is None without 받침."""
    syllable = unicodedata.normalize("NFC", syllable) if isinstance(syllable, str) else syllable
    if not isinstance(syllable, str) or not is_syllable(syllable):
        raise ValueError(text(f"한글 음절 하나가 필요합니다. 받은 값: {syllable!r}",
                              f"expected one Hangul syllable, got {syllable!r}"))
    index = ord(syllable) - FIRST_SYLLABLE
    lead, rest = divmod(index, len(VOWELS) * len(TAILS))
    vowel, tail = divmod(rest, len(TAILS))
    return LEADS[lead], VOWELS[vowel], TAILS[tail] or None


def compose(lead: str, vowel: str, tail: str | None = None) -> str:
    """The syllable block made of (lead, vowel, tail) jamo; the inverse of :func:`decompose`."""
    jamo = (lead, vowel, tail or "")
    if (not all(isinstance(j, str) for j in jamo) or len(lead) != 1 or lead not in LEADS
            or len(vowel) != 1 or vowel not in VOWELS or jamo[2] not in TAILS):
        raise ValueError(text(f"음절을 만들 수 없는 자모입니다: {(lead, vowel, tail)!r}",
                              f"these jamo do not form a syllable: {(lead, vowel, tail)!r}"))
    index = (LEADS.index(lead) * len(VOWELS) + VOWELS.index(vowel)) * len(TAILS) + TAILS.index(tail or "")
    return chr(FIRST_SYLLABLE + index)


def final_consonant(word: str) -> str | None:
    """The final consonant (받침) of the word's last syllable as a jamo, or None: "책" → "ㄱ", "사과" → None."""
    if not isinstance(word, str) or not word:
        raise ValueError(text(f"한글 단어가 필요합니다. 받은 값: {word!r}",
                              f"expected a Hangul word, got {word!r}"))
    last = unicodedata.normalize("NFC", word)[-1]
    if not is_syllable(last):
        raise ValueError(text(f"{word!r}의 마지막 글자 {last!r}은(는) 한글 음절이 아니어서 받침을 알 수 없습니다",
                              f"the last character {last!r} of {word!r} is not a Hangul syllable, "
                              "so it has no final consonant to look at"))
    return decompose(last)[2]


def has_final_consonant(word: str) -> bool:
    """Whether the word ends in a final consonant (받침): "집" → True, "학교" → False."""
    return final_consonant(word) is not None


def attach(noun: str, particle: str) -> str:
    """The noun with the particle form its last syllable calls for: attach("집", "(으)로") == "집으로"."""
    if particle not in PARTICLES:
        raise ValueError(text(f"알 수 없는 조사 {particle!r}입니다. 가능한 조사: {', '.join(PARTICLES)}",
                              f"unknown particle {particle!r}; known particles: {', '.join(PARTICLES)}"))
    after_consonant, after_vowel = PARTICLES[particle]
    tail = final_consonant(noun)
    if particle == "(으)로" and tail == "ㄹ":
        return unicodedata.normalize("NFC", noun) + after_vowel  # 서울로, not 서울으로
    return unicodedata.normalize("NFC", noun) + (after_vowel if tail is None else after_consonant)

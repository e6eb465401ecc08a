"""Chapter 1's jamo exercise: the reference is NFD for every Hangul syllable, and its checker leaves no trace."""

from __future__ import annotations

import unicodedata

import pytest

import attnbook
from attnbook.data import texts
from attnbook.exercises import ExerciseFailed, check_to_jamo
from attnbook.exercises.tokens import to_jamo


def test_to_jamo_is_nfd_for_all_11172_syllables():
    syllables = "".join(chr(code) for code in range(0xAC00, 0xD7A4))
    assert len(syllables) == 11_172
    assert to_jamo(syllables) == unicodedata.normalize("NFD", syllables)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_to_jamo_is_nfd_on_the_chapters_corpus(language):
    corpus = texts.corpus(language)
    assert to_jamo(corpus) == unicodedata.normalize("NFD", corpus)


def test_to_jamo_leaves_everything_but_syllables_alone():
    others = "ㄱㅋ ᄀ ᅡ ᆨ abc 123 ！😀 \ud7a4"
    assert to_jamo(others) == others


def test_the_checker_puts_unicodedata_normalize_back(capsys):
    attnbook.set_language("en")
    normalize = unicodedata.normalize

    def uses_the_library(text):
        return unicodedata.normalize("NFD", text)

    with pytest.raises(ExerciseFailed) as failure:
        check_to_jamo(uses_the_library)
    assert failure.value.advice_id == "jamo-used-normalize"
    assert unicodedata.normalize is normalize
    with pytest.raises(ExerciseFailed):
        check_to_jamo(lambda text: 1 / 0)
    assert unicodedata.normalize is normalize
    assert check_to_jamo(to_jamo) is True and unicodedata.normalize is normalize

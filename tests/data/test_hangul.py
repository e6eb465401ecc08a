import unicodedata

import pytest

from attnbook.data.hangul import attach, compose, decompose, final_consonant, has_final_consonant


@pytest.mark.parametrize(("syllable", "jamo"), [
    ("가", ("ㄱ", "ㅏ", None)),
    ("한", ("ㅎ", "ㅏ", "ㄴ")),
    ("글", ("ㄱ", "ㅡ", "ㄹ")),
    ("값", ("ㄱ", "ㅏ", "ㅄ")),
    ("힣", ("ㅎ", "ㅣ", "ㅎ")),
    ("왜", ("ㅇ", "ㅙ", None)),
])
def test_decompose_hand_checked(syllable, jamo):
    assert decompose(syllable) == jamo
    assert compose(*jamo) == syllable


def test_compose_inverts_decompose_for_every_syllable():
    syllables = [chr(code) for code in range(0xAC00, 0xD7A4)]
    assert len(syllables) == 11172
    assert all(compose(*decompose(s)) == s for s in syllables)


@pytest.mark.parametrize(("word", "tail"), [
    ("책", "ㄱ"), ("집", "ㅂ"), ("서울", "ㄹ"), ("사무실", "ㄹ"), ("공원", "ㄴ"), ("학생", "ㅇ"), ("이웃", "ㅅ"),
    ("학교", None), ("사과", None), ("커피", None), ("화가", None),
])
def test_final_consonant_hand_checked(word, tail):
    assert final_consonant(word) == tail
    assert has_final_consonant(word) == (tail is not None)


def test_decomposed_input_is_normalised_first():
    nfd = unicodedata.normalize("NFD", "서울")
    assert len(nfd) > 2  # jamo, not syllables
    assert final_consonant(nfd) == "ㄹ"
    assert attach(nfd, "(으)로") == "서울로"


@pytest.mark.parametrize(("noun", "particle", "expected"), [
    # (으)로: 로 after a vowel AND after ㄹ, 으로 after any other final consonant
    ("학교", "(으)로", "학교로"), ("카페", "(으)로", "카페로"),
    ("서울", "(으)로", "서울로"), ("사무실", "(으)로", "사무실로"),
    ("집", "(으)로", "집으로"), ("공원", "(으)로", "공원으로"), ("시장", "(으)로", "시장으로"),
    # 은/는
    ("책", "은/는", "책은"), ("서울", "은/는", "서울은"), ("사과", "은/는", "사과는"), ("아이", "은/는", "아이는"),
    # 이/가
    ("학생", "이/가", "학생이"), ("이웃", "이/가", "이웃이"), ("친구", "이/가", "친구가"), ("화가", "이/가", "화가가"),
    # 을/를: ㄹ is an ordinary final consonant here
    ("물", "을/를", "물을"), ("밥", "을/를", "밥을"), ("커피", "을/를", "커피를"), ("우유", "을/를", "우유를"),
    # 와/과: 과 after a consonant, 와 after a vowel
    ("책", "와/과", "책과"), ("물", "와/과", "물과"), ("사과", "와/과", "사과와"), ("친구", "와/과", "친구와"),
])
def test_attach_hand_checked(noun, particle, expected):
    assert attach(noun, particle) == expected


def test_an_unknown_particle_is_named(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: attach("책", "의"), "알 수 없는 조사 '의'", "unknown particle '의'")


def test_a_word_not_ending_in_hangul_is_refused(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: attach("book", "이/가"), "한글 음절이 아니어서",
                             "not a Hangul syllable")
    raises_in_both_languages(ValueError, lambda: final_consonant(""), "한글 단어가 필요합니다",
                             "expected a Hangul word")


def test_bad_jamo_are_refused(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: decompose("ab"), "한글 음절 하나", "one Hangul syllable")
    raises_in_both_languages(ValueError, lambda: compose("ㅏ", "ㄱ"), "음절을 만들 수 없는", "do not form a syllable")
    raises_in_both_languages(ValueError, lambda: compose("ㄱㄱ", "ㅏ"), "음절을 만들 수 없는", "do not form a syllable")

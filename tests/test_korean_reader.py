"""The Korean reader: the grammar read backwards, so that a sentence a model wrote can be judged.

It must accept exactly what the grammar writes (every story sentence and every sampled clause
round-trips) and say, for anything else, what is wrong first.
"""

from __future__ import annotations

import random

import pytest

import attnbook
from attnbook.data import corpus, korean_words
from attnbook.data.grammar import (
    READ_FAULTS,
    KoreanReadError,
    analyse_eojeol,
    parse_korean,
    particle_forms,
    render_eojeols,
    sample_clause,
)


def _strip(phrase):
    return None if phrase is None else (phrase.noun, phrase.adjective)


def test_every_story_sentence_reads_back_to_its_clause_and_renders_the_same_words():
    sentences = corpus.sentences_of(corpus.generate_documents(2000, seed=3))
    assert len(sentences) > 6000
    for sentence in sentences:
        read = corpus.read_sentence(sentence.words)
        assert read.words == sentence.words and read.eojeols == sentence.eojeols
        mine, theirs = read.clause, sentence.clause
        # Korean writes every part but the articles of objects, places and companions
        assert (mine.subject, mine.verb, mine.tense, mine.adverb, mine.time) == \
            (theirs.subject, theirs.verb, theirs.tense, theirs.adverb, theirs.time)
        assert [_strip(p) for p in mine.objects] == [_strip(p) for p in theirs.objects]
        assert _strip(mine.place) == _strip(theirs.place) and _strip(mine.companion) == _strip(theirs.companion)


def test_sampled_clauses_joined_by_and_read_back_clause_by_clause():
    rng = random.Random(0)
    for _ in range(1500):
        clauses = [sample_clause(rng) for _ in range(rng.randint(1, 4))]
        words = render_eojeols(clauses)[0].ko
        read = parse_korean(words)
        assert len(read) == len(clauses) and render_eojeols(read)[0].ko == words


def test_every_korean_word_of_the_grammar_is_analysed_as_itself():
    for word in set(korean_words()) - {"하세요"}:  # 하세요 belongs to the idiom only
        eojeol = analyse_eojeol(word)
        assert eojeol is not None and eojeol.text == word
    assert analyse_eojeol("학생는").stem == "학생" and analyse_eojeol("학생는").particle == "은/는"
    assert analyse_eojeol("화가가").stem == "화가" and analyse_eojeol("아이이").stem == "아이"
    assert analyse_eojeol("공원").particle is None and analyse_eojeol("그리고") is None


@pytest.mark.parametrize(("sentence", "kind", "position"), [
    ("학생는 책을 읽었다", "particle form", 0),
    ("학생은 책를 읽었다", "particle form", 1),
    ("학생은 서울으로 갔다", "particle form", 1),
    ("학생은 친구과 공원에서 놀았다", "particle form", 1),
    ("책을 학생은 읽었다", "order", 0),
    ("학생은 읽었다 책을", "order", 2),
    ("학생은 천천히 책을 읽었다", "order", 2),
    ("학생은 공원에서 친구와 놀았다", "order", 2),
    ("학생은 책을", "missing", 2),
    ("학생 책을 읽었다", "missing", 0),
    ("학생은 책을 읽을", "missing", 3),
    ("학생은 책을 읽고", "missing", 3),
    ("학생은 간다", "missing", None),
    ("학생은 책을 마셨다", "selection", 1),
    ("책이 학생을 만났다", "selection", 0),
    ("학생은 공원에서 갔다", "selection", 1),
    ("학생은 학생을 만났다", "selection", None),
    ("새 학생은 책을 읽었다", "selection", 0),
    ("학생은 친구와 빵과 우유를 샀다", "selection", 1),
    ("학생은 내일 책을 읽었다", "tense", None),
    ("학생은 책을 읽었다 그리고", "unknown word", 3),
    ("학생은 ##은 책을 읽었다", "unknown word", 1),
    ("천천히 하세요", "not a clause", None),
])
def test_what_the_grammar_does_not_write_is_refused_with_its_first_fault(sentence, kind, position):
    with pytest.raises(KoreanReadError) as caught:
        parse_korean(sentence.split())
    assert caught.value.kind == kind and caught.value.position == position
    assert kind in READ_FAULTS
    assert sentence in str(caught.value)


def test_a_story_sentence_is_one_clause():
    words = ["학생은", "책을", "읽었고", "친구는", "빵을", "먹는다"]
    assert len(parse_korean(words)) == 2
    with pytest.raises(KoreanReadError) as caught:
        corpus.read_sentence(words)
    assert caught.value.kind == "clauses"


def test_ambiguous_와_과_is_read_as_the_grammar_allows():
    with_friend = parse_korean(["학생은", "친구와", "사과를", "먹었다"])[0]
    assert with_friend.companion.noun.en == "friend" and [p.noun.en for p in with_friend.objects] == ["apple"]
    two_things = parse_korean(["학생은", "빵과", "우유를", "샀다"])[0]
    assert two_things.companion is None and [p.noun.en for p in two_things.objects] == ["bread", "milk"]
    two_people = parse_korean(["학생은", "친구와", "아이를", "만났다"])[0]
    assert two_people.companion is None and len(two_people.objects) == 2


def test_particle_forms_are_read_eojeol_by_eojeol_even_in_a_sentence_that_is_not_grammatical():
    forms = particle_forms(["학생는", "책을", "마셨다", "공원에서", "서울으로", "사과와"])
    assert [(f.position, f.eojeol.text, f.right, f.agrees) for f in forms] == [
        (0, "학생는", "은", False), (1, "책을", "을", True), (4, "서울으로", "로", False), (5, "사과와", "와", True)]
    assert particle_forms(()) == ()


def test_bad_inputs_get_bilingual_errors():
    with pytest.raises(TypeError, match="split"):
        parse_korean("학생은 책을 읽었다")  # a string, not its eojeols
    with pytest.raises(KoreanReadError, match="empty"):
        parse_korean([])
    attnbook.set_language("ko")  # reset by conftest after the test
    with pytest.raises(KoreanReadError, match="조사가 없습니다"):
        parse_korean(["학생", "책을", "읽었다"])

import random
from collections import Counter

import pytest

from attnbook.data import lexicon as lx
from attnbook.data import translation
from attnbook.data.grammar import sample_clause
from attnbook.data.translation import (
    TAKE_YOUR_TIME,
    SentencePair,
    generate_pairs,
    pairs_by_length,
    train_test_pairs,
    translate,
    vocabularies,
)

# Each pair checked by hand: the Korean is correct and natural, and each Korean token's
# English indices are the words it translates.
HAND_CHECKED = [
    # topic 은/는 for a definite subject, 이/가 for an indefinite one; 을/를 on objects
    ("the student reads a book", "학생은 책을 읽는다", [(0, 1), (3, 4), (2,)]),
    ("a student reads a book", "학생이 책을 읽는다", [(0, 1), (3, 4), (2,)]),
    ("the friend studies", "친구는 공부한다", [(0, 1), (2,)]),
    ("a friend studies", "친구가 공부한다", [(0, 1), (2,)]),
    ("a neighbor works", "이웃이 일한다", [(0, 1), (2,)]),
    ("a friend drank the cold milk", "친구가 차가운 우유를 마셨다", [(0, 1), (4,), (3, 5), (2,)]),
    ("the boy will drink coffee", "소년은 커피를 마실 것이다", [(0, 1), (4,), (3,), (2,)]),
    # (으)로 for destinations, with the ㄹ rule
    ("the child will go to seoul", "아이는 서울로 갈 것이다", [(0, 1), (4, 5), (3,), (2,)]),
    ("the boy went to the school", "소년은 학교로 갔다", [(0, 1), (3, 4, 5), (2,)]),
    ("the artist went to the office", "화가는 사무실로 갔다", [(0, 1), (3, 4, 5), (2,)]),
    ("a neighbor returns to the house", "이웃이 집으로 돌아간다", [(0, 1), (3, 4, 5), (2,)]),
    ("the student goes to the big park", "학생은 큰 공원으로 간다", [(0, 1), (5,), (3, 4, 6), (2,)]),
    # 에서 for places where something happens
    ("the child played in the park", "아이는 공원에서 놀았다", [(0, 1), (3, 4, 5), (2,)]),
    ("the boy walks in the big park", "소년은 큰 공원에서 걷는다", [(0, 1), (5,), (3, 4, 6), (2,)]),
    ("the artist walked in seoul", "화가는 서울에서 걸었다", [(0, 1), (3, 4), (2,)]),
    # 와/과: companions and two objects
    ("the student will walk slowly in the park with a friend tomorrow",
     "학생은 내일 친구와 공원에서 천천히 걸을 것이다",
     [(0, 1), (11,), (8, 9, 10), (5, 6, 7), (4,), (3,), (2,)]),
    ("an artist bought a book and an apple", "화가가 책과 사과를 샀다", [(0, 1), (3, 4, 5), (6, 7), (2,)]),
    ("the friend helps the student and the child", "친구는 학생과 아이를 돕는다", [(0, 1), (3, 4, 5), (6, 7), (2,)]),
    ("a kind boy buys bread and water", "친절한 소년이 빵과 물을 산다", [(1,), (0, 2), (4, 5), (6,), (3,)]),
    # irregular verbs, spelled out in the table
    ("the friend helped the boy", "친구는 소년을 도왔다", [(0, 1), (3, 4), (2,)]),
    ("the child will help a neighbor", "아이는 이웃을 도울 것이다", [(0, 1), (4, 5), (3,), (2,)]),
    ("a boy made a cake", "소년이 케이크를 만들었다", [(0, 1), (3, 4), (2,)]),
    ("the boy makes bread", "소년은 빵을 만든다", [(0, 1), (3,), (2,)]),
    ("the student will make coffee", "학생은 커피를 만들 것이다", [(0, 1), (4,), (3,), (2,)]),
    ("a child plays", "아이가 논다", [(0, 1), (2,)]),
    ("the student wrote a letter", "학생은 편지를 썼다", [(0, 1), (3, 4), (2,)]),
    # adverb and time word: before the verb in Korean, the time word right after the subject
    ("the student read a book slowly in the library yesterday", "학생은 어제 도서관에서 책을 천천히 읽었다",
     [(0, 1), (9,), (6, 7, 8), (3, 4), (5,), (2,)]),
    ("the tired student will read the newspaper quietly today", "피곤한 학생은 오늘 신문을 조용히 읽을 것이다",
     [(1,), (0, 2), (8,), (5, 6), (7,), (4,), (3,)]),
    # compound sentences: -고 on every verb but the last; "and" aligns with it
    ("the student reads a book and the friend ate an apple", "학생은 책을 읽고 친구는 사과를 먹었다",
     [(0, 1), (3, 4), (2, 5), (6, 7), (9, 10), (8,)]),
    ("the boy read the newspaper yesterday and a child will drink water",
     "소년은 어제 신문을 읽었고 아이가 물을 마실 것이다",
     [(0, 1), (5,), (3, 4), (2, 6), (7, 8), (11,), (10,), (9,)]),
    ("the student will study in the library and the friend plays", "학생은 도서관에서 공부할 것이고 친구는 논다",
     [(0, 1), (4, 5, 6), (3,), (2, 7), (8, 9), (10,)]),
    # the idiom, aligned as a phrase
    ("take your time", "천천히 하세요", [(0, 1, 2), (0, 1, 2)]),
]


@pytest.mark.parametrize(("english", "korean", "alignment"), HAND_CHECKED)
def test_hand_checked_pairs(english, korean, alignment):
    pair = translate(english)
    assert pair.en == tuple(english.split())
    assert " ".join(pair.ko) == korean
    assert pair.alignment == tuple(alignment)


def test_translate_accepts_tokens_capitals_and_a_full_stop():
    assert translate("The student reads a book.") == translate(("the", "student", "reads", "a", "book"))
    assert translate("take your time") == TAKE_YOUR_TIME


@pytest.fixture(scope="module")
def sample() -> list[SentencePair]:
    return generate_pairs(8000, seed=11, clauses=(1, 6))


def test_translation_is_a_function(sample):
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    for pair in sample + generate_pairs(8000, seed=12, clauses=1):
        assert seen.setdefault(pair.en, pair.ko) == pair.ko, pair.en
    # stronger: the parser recovers every sampled pair from its English alone
    assert all(translate(pair.en) == pair for pair in sample)


def test_the_same_seed_gives_the_same_pairs():
    assert generate_pairs(300, seed=5, clauses=(1, 4)) == generate_pairs(300, seed=5, clauses=(1, 4))
    assert generate_pairs(300, seed=5, clauses=(1, 4)) != generate_pairs(300, seed=6, clauses=(1, 4))
    assert generate_pairs(0, seed=5) == []


def test_clauses_control_the_length():
    means = []
    for clauses in range(1, 7):
        pairs = generate_pairs(400, seed=clauses, clauses=clauses)
        means.append(sum(len(p.en) for p in pairs) / len(pairs))
        connectives = {v.ko[1] for v in lx.VERBS} | {v.ko[3] for v in lx.VERBS} | {lx.FUTURE_AND}
        for pair in pairs:
            if pair != TAKE_YOUR_TIME:
                assert sum(token in connectives for token in pair.ko) == clauses - 1, pair
                assert pair.en.count("and") >= clauses - 1
    assert means == sorted(means) and means[0] < 10 and means[5] > 45
    assert all(len(p.en) <= 16 for p in generate_pairs(500, seed=0, clauses=1))
    six = generate_pairs(300, seed=0, clauses=6)
    assert min(len(p.en) for p in six) >= 30 and sum(len(p.en) >= 40 for p in six) > 250


def test_mixed_clause_counts_cover_the_range():
    counts = Counter(len(p.en) // 10 for p in generate_pairs(2000, seed=0, clauses=(1, 6)))
    assert all(counts[decade] > 50 for decade in range(0, 6))  # 0–9, 10–19, … 50–59 tokens


def test_alignment_links_every_token_once_and_in_range(sample):
    for pair in sample[:3000]:
        if pair == TAKE_YOUR_TIME:
            continue
        assert all(links for links in pair.alignment), pair  # every Korean token translates something
        linked = sorted(j for links in pair.alignment for j in links)
        assert linked == list(range(len(pair.en))), pair  # every English token, exactly once
        matrix = pair.alignment_matrix()
        assert matrix.shape == (len(pair.ko), len(pair.en))
        assert matrix.sum() == len(pair.en) and set(matrix.unique().tolist()) <= {0.0, 1.0}


def test_alignment_links_each_korean_word_to_its_translation(sample):
    verb_forms = {form: verb for verb in lx.VERBS for form in verb.ko}
    for pair in sample[:3000]:
        if pair == TAKE_YOUR_TIME:
            continue
        for token, links in zip(pair.ko, pair.alignment, strict=True):
            words = [pair.en[j] for j in links]
            nouns = [lx.NOUN_BY_EN[w] for w in words if w in lx.NOUN_BY_EN]
            if nouns:
                assert len(nouns) == 1 and token.startswith(nouns[0].ko), (token, words)
                assert set(words) - {nouns[0].en} <= {"a", "an", "the", "to", "in", "with", "and"}
            elif token in lx.ADJECTIVES.values() or token in lx.ADVERBS.values():
                assert len(words) == 1 and {**lx.ADJECTIVES, **lx.ADVERBS}[words[0]] == token, (token, words)
            elif token in verb_forms:
                assert set(words) & set(verb_forms[token].en), (token, words)
            elif token in (lx.FUTURE, lx.FUTURE_AND):
                assert words[0] == "will" and words[1:] in ([], ["and"]), (token, words)
            else:
                assert lx.TIME_WORDS[words[0]][0] == token, (token, words)


def test_word_order_really_differs(sample):
    """Korean puts the verb last: the alignment is not monotonic whenever an object or place follows the verb."""
    crossing = 0
    for pair in sample:
        firsts = [min(links) for links in pair.alignment]
        crossing += firsts != sorted(firsts)
    assert crossing / len(sample) > 0.9
    pair = translate("the student reads a book")
    assert pair.alignment[-1] == (2,)  # the verb, English position 2, is the last Korean word


def test_time_words_agree_with_the_tense():
    rng = random.Random(0)
    for _ in range(3000):
        clause = sample_clause(rng)
        if clause.time:
            assert clause.tense in lx.TIME_WORDS[clause.time][1]


def test_articles_agree_with_the_next_word(sample):
    for pair in sample:
        for article, following in zip(pair.en, pair.en[1:], strict=False):
            if article in ("a", "an"):
                assert (article == "an") == (following[0] in "aeiou"), pair.en


def test_the_word_lists_are_exactly_what_the_grammar_writes(sample):
    english, korean = lx.english_words(), lx.korean_words()
    seen_en = {w for p in sample for w in p.en} | set(TAKE_YOUR_TIME.en)
    seen_ko = {w for p in sample for w in p.ko} | set(TAKE_YOUR_TIME.ko)
    assert seen_en == set(english)
    assert seen_ko == set(korean)
    assert 60 <= len(english) <= 150 and 60 <= len(korean) <= 160
    src, tgt = vocabularies()
    assert len(src) == len(english) + 4 and len(tgt) == len(korean) + 4
    assert all(src.decode(src.encode(p.en)) == list(p.en) for p in sample[:200])


def test_take_your_time_is_a_sentence_of_its_own():
    pairs = generate_pairs(5000, seed=0, clauses=1)
    share = pairs.count(TAKE_YOUR_TIME) / len(pairs)
    assert 0.01 < share < 0.03
    assert TAKE_YOUR_TIME.en == ("take", "your", "time") and TAKE_YOUR_TIME.ko == ("천천히", "하세요")
    assert all(pair != TAKE_YOUR_TIME for pair in generate_pairs(500, seed=0, clauses=(2, 3)))


def test_train_and_test_sets_are_disjoint():
    train, test = train_test_pairs(3000, 400, seed=0, clauses=(1, 2))
    assert len(train) == 3000 and len(test) == 400
    assert train == generate_pairs(3000, seed=0, clauses=(1, 2))
    assert not {p.en for p in train} & {p.en for p in test}
    assert len({p.en for p in test}) == 400
    assert (train, test) == train_test_pairs(3000, 400, seed=0, clauses=(1, 2))


def test_pairs_by_length_fills_every_bucket_without_training_sentences():
    train = generate_pairs(2000, seed=0, clauses=(1, 3))
    buckets = pairs_by_length(30, seed=0, edges=(1, 10, 20, 40, 60), exclude=train)
    assert list(buckets) == [(1, 10), (10, 20), (20, 40), (40, 60)]
    train_en = {p.en for p in train}
    for (low, high), pairs in buckets.items():
        assert len(pairs) == 30 and len({p.en for p in pairs}) == 30
        assert all(low <= len(p.en) < high and p.en not in train_en for p in pairs)
    assert buckets == pairs_by_length(30, seed=0, edges=(1, 10, 20, 40, 60), exclude=train)


def test_an_unreachable_length_fails_instead_of_looping(raises_in_both_languages, monkeypatch):
    monkeypatch.setattr(translation, "STALL", 300)
    raises_in_both_languages(ValueError, lambda: pairs_by_length(3, seed=0, edges=(150, 200), clauses=(1, 2)),
                             "300번을 뽑는 동안", "no usable new sentence in 300 draws")
    monkeypatch.setattr(translation, "sample", lambda rng, clauses: TAKE_YOUR_TIME)  # a grammar of one sentence
    raises_in_both_languages(ValueError, lambda: train_test_pairs(10, 2, seed=0, clauses=1),
                             "새 문장이 나오지 않았습니다", "no usable new sentence")


def test_sentence_pairs_check_themselves(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: SentencePair(("a",), ("가", "나"), ((0,),)),
                             "한국어 토큰마다 하나씩", "one entry per Korean token")
    raises_in_both_languages(ValueError, lambda: SentencePair(("a",), ("가",), ((1,),)),
                             "범위(0–0) 밖의", "outside the English tokens")
    raises_in_both_languages(ValueError, lambda: SentencePair((), ("가",), ((),)),
                             "비어 있으면 안 됩니다", "may be empty")


@pytest.mark.parametrize(("call", "error", "ko", "en"), [
    (lambda: generate_pairs(-1, seed=0), ValueError, "0 이상의 정수", "non-negative integer"),
    (lambda: generate_pairs(3, seed=None), TypeError, "seed는 정수", "seed must be an integer"),
    (lambda: generate_pairs(3, seed=0, clauses=0), ValueError, "clauses는 1 이상", "clauses must be an integer ≥ 1"),
    (lambda: generate_pairs(3, seed=0, clauses=(3, 2)), ValueError, "1 ≤ 최소 ≤ 최대", "1 ≤ low ≤ high"),
    (lambda: generate_pairs(3, seed=0, clauses="12"), ValueError, "clauses는", "clauses must be"),
    (lambda: pairs_by_length(3, seed=0, edges=(10, 5)), ValueError, "증가하는 순서", "increasing integers"),
    (lambda: translate(""), ValueError, "문장이 비어 있습니다", "is empty"),
    (lambda: translate("the stdent reads a book"), ValueError, "명사 자리인데 'stdent'",
     "should be a noun, but found 'stdent'"),
    (lambda: translate("the student goes in the park"), ValueError, "전치사 'to' 자리", "the preposition 'to'"),
    (lambda: translate("the student reads"), ValueError, "문장이 끝났습니다", "the sentence ended"),
])
def test_bad_requests_are_explained(raises_in_both_languages, call, error, ko, en):
    raises_in_both_languages(error, call, ko, en)

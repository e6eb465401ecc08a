"""The Korean stories for BERT (attnbook.data.corpus): determinism, the grammar they come from, the cues that tie
a sentence to the next, next-sentence pairs, the particle-agreement and tense tasks, the book's WordPiece vocabulary."""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import pairwise

import pytest
import torch

from attnbook.data import corpus
from attnbook.data import lexicon as lx
from attnbook.data.corpus import (
    DAYS,
    TENSE_OF_DAY,
    VOCAB_SIZE,
    Document,
    generate_documents,
    nsp_cues,
    nsp_inputs,
    nsp_pairs,
    pair_pieces,
    particle_agreement,
    pieces,
    rule_based_nsp,
    sentences_of,
    tense_examples,
    train_wordpiece,
)
from attnbook.data.grammar import POS, Eojeol, render
from attnbook.data.hangul import PARTICLES, attach, has_final_consonant
from attnbook.data.translation import translate
from attnbook.wordpiece import CLS_ID, PAD_ID, SEP_ID

HANGUL = re.compile("[가-힣]")
FORMS = sorted({form for forms in PARTICLES.values() for form in forms} | {lx.LOCATIVE})  # every particle form


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return generate_documents(2000, seed=0)


@pytest.fixture(scope="module")
def sentences(documents):
    return sentences_of(documents)


@pytest.fixture(scope="module")
def tokenizer(documents):
    return train_wordpiece(documents)


@pytest.fixture(scope="module")
def pairs(documents):
    return nsp_pairs(documents, seed=0)


def _bilingual_error(error: type[Exception], english: str, call, *args, **kwargs) -> None:
    """``call`` raises ``error`` whose message (no language chosen: both) has Hangul and ``english``."""
    with pytest.raises(error) as failure:
        call(*args, **kwargs)
    assert english in str(failure.value) and HANGUL.search(str(failure.value))


# ------------------------------------------------------------------------------------------ documents from a seed

def test_the_same_seed_gives_the_same_stories_and_another_seed_others():
    first = generate_documents(40, seed=3)
    random.seed(12345)  # the global generator plays no part
    assert generate_documents(40, seed=3) == first
    assert [d.text for d in generate_documents(40, seed=4)] != [d.text for d in first]
    assert generate_documents(0, seed=3) == []


def test_story_lengths_stay_in_the_range_asked_for(documents):
    assert Counter(len(d.sentences) for d in documents).keys() == {2, 3, 4, 5}
    assert {len(d.sentences) for d in generate_documents(30, seed=1, sentences=(3, 3))} == {3}


@pytest.mark.parametrize(("arguments", "error", "english"), [
    ({"n": -1}, ValueError, "n must be a non-negative integer"),
    ({"n": 2.0}, ValueError, "n must be a non-negative integer"),
    ({"n": True}, ValueError, "n must be a non-negative integer"),
    ({"seed": "0"}, TypeError, "seed must be an integer"),
    ({"seed": None}, TypeError, "seed must be an integer"),
    ({"seed": False}, TypeError, "seed must be an integer"),
    ({"sentences": (1, 3)}, ValueError, "2 ≤ low ≤ high"),
    ({"sentences": (4, 3)}, ValueError, "2 ≤ low ≤ high"),
    ({"sentences": (2, 3.5)}, ValueError, "2 ≤ low ≤ high"),
    ({"sentences": (2,)}, ValueError, "2 ≤ low ≤ high"),
    ({"sentences": "25"}, ValueError, "2 ≤ low ≤ high"),
])
def test_bad_arguments_for_the_stories_get_a_bilingual_error(arguments, error, english):
    _bilingual_error(error, english, generate_documents, **{"n": 3, "seed": 0, **arguments})


# ----------------------------------------------------------------------------------- the grammar behind every sentence

def test_every_sentence_is_one_clause_that_the_translation_grammar_writes_the_same(sentences):
    for sentence in sentences:
        assert translate(sentence.english).ko == sentence.words
        written = render([sentence.clause])
        assert (written.en, written.ko) == (sentence.english, sentence.words)


def test_every_eojeol_says_what_it_is_made_of(sentences):
    for sentence in sentences:
        for eojeol in sentence.eojeols:
            assert eojeol.stem + eojeol.ending == eojeol.text and eojeol.pos in POS
            if eojeol.particle == lx.LOCATIVE:
                assert eojeol.ending == lx.LOCATIVE
            elif eojeol.particle is not None:  # the form the stem's last syllable asks for
                assert eojeol.pos == "noun" and eojeol.text == attach(eojeol.stem, eojeol.particle)
            else:
                assert eojeol.ending == ""
        assert sentence.eojeols[0].pos in ("noun", "adjective")
        assert [e.pos for e in sentence.eojeols].count("bound") == (sentence.tense == "future")  # 읽을 것이다


def test_particle_kinds_name_every_particle_the_stories_use(sentences):
    assert {e.particle for s in sentences for e in s.eojeols} - {None} == corpus.PARTICLE_KINDS.keys()


def test_a_bad_eojeol_analysis_is_refused():
    _bilingual_error(ValueError, "inconsistent analysis", Eojeol, "학생은", "학생", "는", "은/는")
    _bilingual_error(ValueError, "inconsistent analysis", Eojeol, "학생", "학생", "", "은/는")


# ------------------------------------------------------------------------------------------- the cues of a story

def test_the_protagonist_is_introduced_with_i_ga_and_then_kept_as_the_topic_with_eun_neun(documents):
    for document in documents:
        first, *later = document.sentences
        subject = next(e for e in first.eojeols if e.pos == "noun")  # only an adjective may come before it
        assert subject.stem == document.protagonist and subject.ending in PARTICLES["이/가"]
        assert first.english[0] in ("a", "an")
        adjectives = {s.clause.subject.adjective for s in document.sentences} - {None}
        assert len(adjectives) <= 1  # one adjective, mentioned now and then
        for sentence in later:
            assert sentence.protagonist == document.protagonist and sentence.english[0] == "the"
            subject = next(e for e in sentence.eojeols if e.pos == "noun")
            assert subject.stem == document.protagonist and subject.ending in PARTICLES["은/는"]


def test_days_never_go_back_the_tense_follows_the_day_and_only_a_new_day_is_named(documents):
    for document in documents:
        days = [TENSE_OF_DAY.index(s.tense) for s in document.sentences]
        assert all(later - earlier in (0, 1) for earlier, later in pairwise(days))
        for k, sentence in enumerate(document.sentences):
            starts_a_day = k == 0 or days[k] != days[k - 1]
            if sentence.clause.time is not None:
                assert starts_a_day and sentence.clause.time == DAYS[days[k]]
                assert lx.TIME_WORDS[sentence.clause.time][0] in sentence.words


def test_the_stories_are_written_at_the_stated_rates(documents):
    day_starts = named = stays = moves = linked = 0
    for document in documents:
        days = [TENSE_OF_DAY.index(s.tense) for s in document.sentences]
        for k, sentence in enumerate(document.sentences):
            if k == 0 or days[k] != days[k - 1]:
                day_starts += 1
                named += sentence.clause.time is not None
            if k and days[k - 1] < len(DAYS) - 1:  # a day that can still move on
                moves += days[k] > days[k - 1]
                stays += days[k] == days[k - 1]
            if k:
                linked += bool(set(sentence.entities) & set(document.sentences[k - 1].entities))
    pairs = sum(len(d.sentences) - 1 for d in documents)
    assert named / day_starts == pytest.approx(corpus.P_TIME_WORD, abs=0.03)
    assert moves / (moves + stays) == pytest.approx(corpus.P_NEXT_DAY, abs=0.03)
    # P_LINK when there is something to pick up (96 % of sentences here), plus entities shared by chance
    assert linked / pairs == pytest.approx(corpus.P_LINK, abs=0.04)


# ------------------------------------------------------------------------------------- next-sentence prediction

def test_nsp_pairs_are_exactly_half_real_next_sentences_with_huggingface_labels(documents, pairs):
    non_last = sum(len(d.sentences) - 1 for d in documents)
    assert len(pairs) == non_last - non_last % 2
    assert sum(p.is_next for p in pairs) == len(pairs) // 2
    assert len({p.a_position for p in pairs}) == len(pairs)  # each A once
    for p in pairs:
        (d, i), (e, j) = p.a_position, p.b_position
        assert p.a is documents[d].sentences[i] and p.b is documents[e].sentences[j]
        assert i < len(documents[d].sentences) - 1 and j >= 1  # A has a next sentence; B is never a first one
        assert p.next_sentence_label == (0 if p.is_next else 1)  # 🤗: 0 = IsNext, 1 = NotNext
        if p.is_next:
            assert (e, j) == (d, i + 1)
        else:
            assert e != d  # from another story
    assert [p.a_position for p in pairs[:20]] != sorted(p.a_position for p in pairs[:20])  # shuffled


def test_nsp_pairs_are_deterministic_and_can_be_fewer(documents, pairs):
    assert nsp_pairs(documents, seed=0) == pairs
    assert [p.b_position for p in nsp_pairs(documents, seed=1)] != [p.b_position for p in pairs]
    some = nsp_pairs(documents, seed=0, n=100)
    assert len(some) == 100 and sum(p.is_next for p in some) == 50


def test_a_alone_or_b_alone_says_next_to_nothing_about_the_label(pairs):
    def total_variation(feature) -> float:
        real = Counter(feature(p) for p in pairs if p.is_next)
        random_ = Counter(feature(p) for p in pairs if not p.is_next)
        n, m = sum(real.values()), sum(random_.values())
        return sum(abs(real[k] / n - random_[k] / m) for k in real.keys() | random_.keys()) / 2

    alone = {
        "length of A": lambda p: len(p.a.words), "tense of A": lambda p: p.a.tense,
        "place of A in its story": lambda p: p.a_position[1],
        "length of B": lambda p: len(p.b.words), "tense of B": lambda p: p.b.tense,
        "first word of B": lambda p: p.b.words[0], "last word of B": lambda p: p.b.words[-1],
        "day word of B": lambda p: p.b.clause.time, "place of B in its story": lambda p: p.b_position[1],
    }
    for name, feature in alone.items():  # sampling noise is about 0.01–0.03 with 2,500 pairs a class
        assert total_variation(feature) < 0.05, name
    assert total_variation(lambda p: p.a.protagonist == p.b.protagonist) > 0.8  # together they do


def test_the_rule_based_nsp_reads_the_cues_and_errs_only_on_random_sentences_that_fit(pairs):
    predictions = [rule_based_nsp(p.a, p.b) for p in pairs]
    accuracy = sum(guess == p.is_next for guess, p in zip(predictions, pairs, strict=True)) / len(pairs)
    assert 0.94 < accuracy < 0.97  # measured 0.953 (2000 stories, seed 0; pairs seed 0)
    assert all(guess for guess, p in zip(predictions, pairs, strict=True) if p.is_next)
    cues = [nsp_cues(p.a, p.b) for p in pairs if p.is_next]
    assert all(c.same_protagonist and c.time_forward for c in cues)
    assert sum(c.shared_entity for c in cues) / len(cues) > 0.7
    random_cues = [nsp_cues(p.a, p.b) for p in pairs if not p.is_next]
    assert sum(c.shared_entity for c in random_cues) / len(random_cues) < 0.2


def test_nsp_inputs_are_cls_a_sep_b_sep_with_the_labels(pairs, tokenizer):
    chosen = pairs[:8]
    inputs, labels = nsp_inputs(chosen, tokenizer)
    assert labels.tolist() == [p.next_sentence_label for p in chosen]
    for row, p in enumerate(chosen):
        a, b = tokenizer.encode(p.a.text), tokenizer.encode(p.b.text)
        ids = [CLS_ID, *a, SEP_ID, *b, SEP_ID]
        assert inputs.input_ids[row, :len(ids)].tolist() == ids
        assert (inputs.input_ids[row, len(ids):] == PAD_ID).all()
        assert inputs.token_type_ids[row, :len(ids)].tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    assert nsp_inputs(chosen, tokenizer, max_length=40)[0].input_ids.shape == (8, 40)


@pytest.mark.parametrize(("call", "error", "english"), [
    (lambda d: nsp_pairs([1, 2], seed=0), TypeError, "expected a list of Documents"),
    (lambda d: nsp_pairs(d[:1], seed=0), ValueError, "need at least 2 documents"),
    (lambda d: nsp_pairs([d[0], Document(d[1].sentences[:1])], seed=0), ValueError, "two or more documents"),
    (lambda d: nsp_pairs(d, seed=0, n=3), ValueError, "n must be an even integer"),
    (lambda d: nsp_pairs(d[:2], seed=0, n=100), ValueError, "n must be an even integer"),
    (lambda d: nsp_pairs(d, seed=1.5), TypeError, "seed must be an integer"),
    (lambda d: nsp_inputs([], None), TypeError, "NSPPairs"),
    (lambda d: sentences_of("stories"), TypeError, "expected a list of Documents"),
    (lambda d: particle_agreement(d, seed=0), TypeError, "expected a list of Sentences"),
    (lambda d: particle_agreement(sentences_of(d[:3]), seed=0, n=1), ValueError, "n must be an even integer"),
    (lambda d: tense_examples(sentences_of(d[:3]), seed=0, per_tense=50), ValueError, "per_tense must be"),
    (lambda d: train_wordpiece(5), TypeError, "expected a list of Documents or Sentences"),
    (lambda d: train_wordpiece(["학생은 책을 읽는다"]), TypeError, "expected Documents or Sentences"),
    (lambda d: pieces("학생은 책을 읽는다", None), TypeError, "expected a Sentence"),
])
def test_bad_arguments_for_the_tasks_get_a_bilingual_error(documents, call, error, english):
    _bilingual_error(error, english, call, documents[:20])


# ---------------------------------------------------------------------------------------- downstream tasks

def test_particle_agreement_changes_exactly_one_particle_to_its_other_form(sentences):
    examples = particle_agreement(sentences, seed=0, n=2000)
    assert len(examples) == 2000 and sum(e.correct for e in examples) == 1000
    assert len({id(e.source) for e in examples}) == 2000  # each sentence once
    assert {e.label for e in examples if e.correct} == {1} and {e.label for e in examples if not e.correct} == {0}
    changed = Counter()
    for example in examples:
        if example.correct:
            assert example.eojeols == example.source.eojeols and example.position is None
            continue
        different = [k for k, (x, y) in enumerate(zip(example.eojeols, example.source.eojeols, strict=True)) if x != y]
        assert different == [example.position]
        wrong, right = example.eojeols[example.position], example.source.eojeols[example.position]
        assert (wrong.stem, wrong.particle, wrong.pos) == (right.stem, right.particle, right.pos)
        assert {wrong.ending, right.ending} == set(PARTICLES[right.particle])  # the other allomorph
        assert wrong.text != attach(right.stem, right.particle)
        changed[right.particle] += 1
    assert changed.keys() == PARTICLES.keys()  # every particle with two forms, never 에서
    assert particle_agreement(sentences, seed=0, n=2000) == examples
    assert particle_agreement(sentences, seed=1, n=2000) != examples


def test_tense_examples_are_balanced_and_labelled_past_present_future(sentences):
    examples = tense_examples(sentences, seed=0, per_tense=300)
    assert Counter(e.label for e in examples) == {0: 300, 1: 300, 2: 300}
    assert all(e.label == ("past", "present", "future").index(e.sentence.tense) for e in examples)
    assert [e.label for e in examples] != sorted(e.label for e in examples)


# ------------------------------------------------------------------------------------------ the book's WordPiece

@pytest.fixture(scope="module")
def tokenizer_6000():
    return train_wordpiece(generate_documents(6000, seed=0))


def test_learning_stops_by_itself_below_the_cap(tokenizer, tokenizer_6000):
    assert len(tokenizer_6000) == 246 < VOCAB_SIZE
    assert len(tokenizer) < VOCAB_SIZE


def test_every_noun_is_one_token_and_every_particle_form_its_own_continuation_token(tokenizer, tokenizer_6000):
    for tok in (tokenizer, tokenizer_6000):
        for noun in lx.NOUNS:  # every form, the wrong ones of the agreement task too: 학생는, 서울으로
            for form in FORMS:
                assert tok.encode_word(noun.ko + form) == [noun.ko, "##" + form]


def test_every_other_word_is_one_token(sentences, tokenizer):
    whole = {e.text for s in sentences for e in s.eojeols if not e.ending}
    assert len(whole) > 50
    assert all(tokenizer.encode_word(word) == [word] for word in whole)


def test_the_tokens_do_not_depend_on_the_number_of_stories_but_the_ids_do(sentences, tokenizer, tokenizer_6000):
    assert all(tokenizer.tokenize(s.text) == tokenizer_6000.tokenize(s.text) for s in sentences)
    assert tokenizer.vocab != tokenizer_6000.vocab  # merged tokens encoding never outputs, and the order, differ


def test_with_fewer_tokens_nouns_split(documents):
    small = train_wordpiece(documents, 200)
    assert small.encode_word("화가가") == ["화", "##가", "##가"]
    assert small.encode_word("집에서") == ["집", "##에", "##서"]


def test_without_the_particle_split_plain_wordpiece_glues_noun_and_particle(sentences):
    plain = train_wordpiece(sentences, 1000, split_particles=False)  # learned to the end: every eojeol one token
    with_particle = {e.text for s in sentences for e in s.eojeols if e.ending}
    assert len(with_particle) == 60 and all(plain.encode_word(word) == [word] for word in with_particle)
    assert VOCAB_SIZE < len(plain) == 316


def test_pieces_name_the_particle_and_the_kind_of_every_token(sentences, tokenizer):
    kinds = Counter()
    for sentence in sentences[:500]:
        annotated = pieces(sentence, tokenizer)
        assert [p.token for p in annotated] == tokenizer.tokenize(sentence.text)
        for piece in annotated:
            kinds[piece.category] += 1
            eojeol = piece.eojeol
            assert piece.is_particle == (bool(eojeol.ending) and piece.token == "##" + eojeol.ending)
            assert piece.category == ("particle" if piece.is_particle else
                                      "function" if eojeol.pos == "bound" else "content")
            if piece.is_particle:
                assert piece.after_final_consonant == has_final_consonant(eojeol.stem)
                if eojeol.particle in PARTICLES and eojeol.particle != "(으)로":  # (으)로: 서울로, ㄹ takes 로
                    assert (eojeol.ending == PARTICLES[eojeol.particle][0]) == piece.after_final_consonant
            else:
                assert piece.after_final_consonant is None
    assert kinds.keys() == {"particle", "function", "content"}


def test_pieces_of_a_wrong_sentence_show_the_wrong_particle(sentences, tokenizer):
    wrong = next(e for e in particle_agreement(sentences, seed=0, n=20) if not e.correct)
    annotated = pieces(wrong, tokenizer)
    particle = next(p for p in annotated if p.eojeol == wrong.eojeols[wrong.position] and p.is_particle)
    assert particle.token == "##" + wrong.eojeols[wrong.position].ending


def test_pair_pieces_line_up_with_the_unpadded_row_of_bert_inputs(pairs, tokenizer):
    chosen = pairs[:16]
    inputs = tokenizer.bert_inputs([(p.a.text, p.b.text) for p in chosen])
    for row, p in enumerate(chosen):
        annotated = pair_pieces(p.a, p.b, tokenizer)
        ids = inputs.input_ids[row][inputs.attention_mask[row]]
        assert [tokenizer.token_to_id(piece.token) for piece in annotated] == ids.tolist()
        specials = [k for k, piece in enumerate(annotated) if piece.category == "special"]
        assert specials == [0, 1 + len(pieces(p.a, tokenizer)), len(annotated) - 1]
        assert torch.equal(inputs.special_tokens_mask[row][inputs.attention_mask[row]],
                           torch.tensor([piece.category == "special" for piece in annotated]))

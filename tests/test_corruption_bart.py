"""BART's noising: exact bookkeeping on every function, the statistics over many draws, edge cases and errors.

Statistical checks use fixed seeds and bands of five standard deviations.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import pytest
import torch

import attnbook
from attnbook.corruption import (
    DocumentRotation,
    SentencePermutation,
    TextInfilling,
    document_rotation,
    infill_spans,
    poisson_span_lengths,
    sentence_permutation,
    text_infilling,
    token_deletion,
    token_masking,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
MASK = "<mask>"


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _restore(out: TextInfilling) -> list:
    """Remove each mask and put back the span it stands for."""
    restored, masks = [], set(out.mask_positions)
    k = 0
    for i, token in enumerate(out.inputs):
        if i in masks:
            restored += list(out.hidden[k])
            k += 1
        else:
            restored.append(token)
    return restored


# --- token masking and deletion ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_token_masking_masks_exactly_ceil_rate_times_length(seed):
    tokens = list(range(random.Random(seed).randint(1, 60)))
    out = token_masking(tokens, mask=MASK, rate=0.15, generator=_gen(seed))
    assert len(out.inputs) == len(tokens) and len(out.positions) == math.ceil(0.15 * len(tokens))
    assert [i for i, t in enumerate(out.inputs) if t == MASK] == list(out.positions)
    assert all(out.inputs[i] == tokens[i] for i in range(len(tokens)) if i not in out.positions)


@pytest.mark.parametrize("seed", range(20))
def test_token_deletion_removes_exactly_ceil_rate_times_length(seed):
    tokens = list(range(random.Random(seed).randint(1, 60)))
    out = token_deletion(tokens, rate=0.15, generator=_gen(seed))
    assert len(out.inputs) == len(tokens) - math.ceil(0.15 * len(tokens))
    assert out.inputs == [t for i, t in enumerate(tokens) if i not in out.positions]


def test_masked_and_deleted_positions_are_uniform():
    draws, length = 4000, 20
    generator = _gen(1)
    masked = Counter(i for _ in range(draws) for i in token_masking(list(range(length)), mask=MASK, rate=0.15,
                                                                    generator=generator).positions)
    deleted = Counter(i for _ in range(draws) for i in token_deletion(list(range(length)), rate=0.15,
                                                                      generator=generator).positions)
    p = 3 / 20  # ceil(0.15 · 20) = 3 of 20 positions
    sigma = math.sqrt(draws * p * (1 - p))
    for counts in (masked, deleted):
        assert all(abs(counts[i] - draws * p) < 5 * sigma for i in range(length))


# --- text infilling ---------------------------------------------------------------------------------------


def test_infill_spans_replaces_each_span_by_one_mask_and_inserts_for_zero_length():
    tokens = list("abcdefghij")
    out = infill_spans(tokens, [(0, 0), (2, 3), (5, 0), (9, 1), (10, 0)], mask=MASK)
    assert out.inputs == [MASK, "a", "b", MASK, MASK, "f", "g", "h", "i", MASK, MASK]
    assert out.hidden == ((), ("c", "d", "e"), (), ("j",), ())
    assert out.mask_positions == (0, 3, 4, 9, 10)
    assert _restore(out) == tokens


@pytest.mark.parametrize("spans", [[(3, 2), (4, 1)], [(5, 1), (2, 1)], [(9, 2)], [(-1, 1)], [(11, 0)], [(1, -1)],
                                   [(1,)], "ab", [(1.0, 2)]])
def test_infill_spans_refuses_bad_spans(spans):
    with pytest.raises(ValueError):
        infill_spans(list("abcdefghij"), spans, mask=MASK)


@pytest.mark.parametrize("seed", range(200))
def test_text_infilling_bookkeeping_is_exact(seed):
    rng = random.Random(seed)
    tokens = [rng.randint(0, 30) for _ in range(rng.randint(1, 120))]
    out = text_infilling(tokens, mask=-1, generator=_gen(seed))
    budget = math.ceil(0.3 * len(tokens))
    assert sum(length for _, length in out.spans) == budget  # exactly the budget: spans never overlap
    assert len(out.inputs) == len(tokens) - budget + len(out.spans)
    assert [i for i, t in enumerate(out.inputs) if t == -1] == list(out.mask_positions)
    assert _restore(out) == tokens
    assert infill_spans(tokens, out.spans, mask=-1) == out


def test_poisson_span_lengths_cover_the_budget_exactly_and_follow_poisson_3():
    generator = _gen(2)
    for budget in range(0, 40):
        assert sum(poisson_span_lengths(budget, poisson_lambda=3.0, generator=generator)) == budget
    # The draws are Poisson(3), zeros included. Stopping at the budget biases the draws of a short
    # sequence (the crossing one tends to be long, the ones before it short), so measure on a long one.
    lengths = []
    for _ in range(6):
        lengths += poisson_span_lengths(30_000, poisson_lambda=3.0, generator=generator)[:-1]
    counts, total = Counter(lengths), len(lengths)
    for k in range(0, 8):
        p = math.exp(-3) * 3 ** k / math.factorial(k)
        assert abs(counts[k] - total * p) < 5 * math.sqrt(total * p * (1 - p)), (k, counts[k], total * p)
    mean = sum(lengths) / total
    assert abs(mean - 3) < 5 * math.sqrt(3 / total)


def test_text_infilling_hides_the_rate_and_inserts_about_one_span_in_twenty():
    generator = _gen(3)
    rng = random.Random(3)
    hidden = budget = total = spans = zeros = 0
    for _ in range(2000):
        tokens = list(range(rng.randint(20, 80)))
        out = text_infilling(tokens, mask=MASK, generator=generator)
        hidden += sum(length for _, length in out.spans)
        budget += math.ceil(0.3 * len(tokens))
        total += len(tokens)
        spans += len(out.spans)
        zeros += sum(length == 0 for _, length in out.spans)
    assert hidden == budget  # ceil(0.3 n) each: 30.9 % of these 20-80-token texts, 30 % as n grows
    assert 0.3 <= hidden / total < 0.3 + 1 / 20
    p0 = math.exp(-3)  # 5.0 %; the last span of a text is cut to fit the budget, never to 0, so a bit fewer
    assert p0 - 0.015 < zeros / spans < p0 + 5 * math.sqrt(p0 * (1 - p0) / spans)


def test_spans_land_everywhere_in_the_text():
    generator = _gen(4)
    first = last = 0
    for _ in range(2000):
        out = text_infilling(list(range(30)), mask=MASK, generator=generator)
        first += out.inputs[0] == MASK
        last += out.inputs[-1] == MASK
    assert 0.05 < first / 2000 < 0.5 and 0.05 < last / 2000 < 0.5


def test_text_infilling_is_deterministic_under_a_seeded_generator():
    tokens = list("the quick brown fox jumps over the lazy dog")
    assert text_infilling(tokens, mask=MASK, generator=_gen(5)) == text_infilling(tokens, mask=MASK, generator=_gen(5))


# --- sentence permutation and document rotation -----------------------------------------------------------


def test_sentence_permutation_moves_whole_sentences_uniformly():
    sentences = [["a", "b", "."], ["c", "."], ["d", "e", "f", "."]]
    generator = _gen(6)
    draws = 6000
    orders = Counter()
    for _ in range(draws):
        out = sentence_permutation(sentences, generator=generator)
        assert isinstance(out, SentencePermutation)
        assert out.inputs == [sentences[i] for i in out.order]
        assert out.tokens == [t for i in out.order for t in sentences[i]]
        orders[out.order] += 1
    assert len(orders) == 6
    sigma = math.sqrt(draws / 6 * 5 / 6)
    assert all(abs(n - draws / 6) < 5 * sigma for n in orders.values())


def test_document_rotation_starts_at_a_uniform_token():
    tokens = list(range(7))
    generator = _gen(7)
    draws = 7000
    starts = Counter()
    for _ in range(draws):
        out = document_rotation(tokens, generator=generator)
        assert isinstance(out, DocumentRotation)
        assert out.inputs == tokens[out.start:] + tokens[:out.start] and out.inputs[0] == tokens[out.start]
        starts[out.start] += 1
    sigma = math.sqrt(draws / 7 * 6 / 7)
    assert len(starts) == 7 and all(abs(n - draws / 7) < 5 * sigma for n in starts.values())


# --- edge cases and errors --------------------------------------------------------------------------------


def test_one_token_texts_have_a_defined_result():
    assert token_masking(["a"], mask=MASK, rate=0.15, generator=_gen()).inputs == [MASK]
    assert token_deletion(["a"], rate=0.15, generator=_gen()).inputs == []
    assert _restore(text_infilling(["a"], mask=MASK, generator=_gen())) == ["a"]
    assert document_rotation(["a"], generator=_gen()).inputs == ["a"]
    assert token_masking(list("abc"), mask=MASK, rate=0.0, generator=_gen()).inputs == list("abc")


@pytest.mark.parametrize("call", [
    lambda: token_masking([], mask=MASK, rate=0.15, generator=_gen()),
    lambda: token_masking(["a", MASK], mask=MASK, rate=0.15, generator=_gen()),
    lambda: token_masking(["a"], mask=MASK, rate=1.5, generator=_gen()),
    lambda: token_deletion("abc", rate=0.15, generator=_gen()),
    lambda: token_deletion(["a"], rate=0.15, generator=None),
    lambda: text_infilling([], mask=MASK, generator=_gen()),
    lambda: text_infilling(["a", MASK], mask=MASK, generator=_gen()),
    lambda: text_infilling(["a"], mask=MASK, poisson_lambda=0, generator=_gen()),
    lambda: sentence_permutation([], generator=_gen()),
    lambda: document_rotation([], generator=_gen()),
])
def test_bad_input_gets_a_bilingual_error(call):
    with pytest.raises(ValueError) as both:
        call()
    assert HANGUL.search(str(both.value)) and " / " in str(both.value)
    attnbook.set_language("en")
    with pytest.raises(ValueError) as english:
        call()
    assert not HANGUL.search(str(english.value))


# --- the figure -------------------------------------------------------------------------------------------


def test_the_corruption_gallery_draws_one_row_per_corruption_in_both_languages(caplog):
    import logging

    import matplotlib

    matplotlib.use("Agg")
    from attnbook.viz import corruption_gallery, use_korean_font

    use_korean_font()
    sentences = [["그분", "은", "천천히", "하세요", "."], ["고양이", "가", "밥", "을", "먹었다", "."]]
    for language, label in (("ko", "텍스트 채우기"), ("en", "text infilling")):
        attnbook.set_language(language)
        with caplog.at_level(logging.WARNING, logger="matplotlib"):
            fig = corruption_gallery(sentences, seed=3)
            fig.canvas.draw()
        assert not caplog.records, [r.getMessage() for r in caplog.records]
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert label in texts and len([t for t in texts if t in {"원문", "original"}]) == 1
        generator = torch.Generator().manual_seed(3)
        masked = token_masking([t for s in sentences for t in s], mask=MASK, rate=0.15, generator=generator)
        assert sum(t.strip() == MASK for t in texts) >= len(masked.positions)  # masking row, infilling row too
    widget = corruption_gallery(sentences, interactive=True, seeds=[0, 1, 2], seed=1)
    assert widget.children[0].value == 1
    with pytest.raises(ValueError):
        corruption_gallery("not sentences")

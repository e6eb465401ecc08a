"""T5's span corruption: the exact counts, the bookkeeping, the statistics over many draws, short texts and packing.

Statistical checks use fixed seeds and bands of five standard deviations (a correct implementation fails
one with probability below one in a million, whatever its draws).
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
    SpanCorruption,
    noise_span_counts,
    pack,
    random_segmentation,
    random_spans_noise_mask,
    restore_spans,
    span_corruption_from_mask,
    t5_span_corruption,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
SENTINELS = [f"<extra_id_{k}>" for k in range(100)]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spans(mask: list[bool]) -> list[int]:
    """Lengths of the noise runs."""
    out, run = [], 0
    for m in [*mask, False]:
        if m:
            run += 1
        elif run:
            out.append(run)
            run = 0
    return out


# --- the counts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "expected"), [
    (2, (1, 1)), (3, (1, 1)), (7, (1, 1)),  # clipped up to 1 (round(1.05) = 1; round(0.3) = 0 → 1)
    (10, (2, 1)),  # 1.5 → 2 (half to even)
    (30, (4, 1)),  # 4.5 → 4 (half to even; half up would give 5)
    (31, (5, 2)),  # 4.65 → 5, 5/3 → 2: the first length with two spans
    (50, (8, 3)),  # 7.5 → 8
    (70, (10, 3)),  # 10.5 → 10
    (190, (29, 10)),  # float32: 190·0.15 lies above 28.5 → 29 (float64 would give 28.5 → 28)
    (350, (53, 18)), (512, (77, 26)), (568, (85, 28)),
])
def test_noise_span_counts_follow_t5s_float32_half_to_even_rounding(length, expected):
    assert noise_span_counts(length) == expected


def test_the_counts_differ_from_float64_and_half_up_where_stated():
    float64 = [n for n in range(2, 2000) if noise_span_counts(n)[0] != min(max(round(n * 0.15), 1), n - 1)]
    half_up = [n for n in range(2, 2000) if noise_span_counts(n)[0] != min(max(math.floor(n * 0.15 + 0.5), 1), n - 1)]
    assert float64[:3] == [190, 350, 390]
    assert half_up[:3] == [30, 70, 110]


def test_span_count_rounds_half_to_even_too():
    # mean span 2: 3/2 = 1.5 → 2, 5/2 = 2.5 → 2, 7/2 = 3.5 → 4
    assert noise_span_counts(20, noise_density=0.15, mean_span_length=2.0) == (3, 2)
    assert noise_span_counts(100, noise_density=0.05, mean_span_length=2.0) == (5, 2)
    assert noise_span_counts(100, noise_density=0.07, mean_span_length=2.0) == (7, 4)
    assert noise_span_counts(4, noise_density=0.99) == (3, 1)  # clipped down to length − 1


@pytest.mark.parametrize("bad", [{"length": 1}, {"length": 0}, {"length": 2.0}, {"length": True},
                                 {"length": 10, "noise_density": 0.0}, {"length": 10, "noise_density": 1.0},
                                 {"length": 10, "mean_span_length": 0.5},
                                 {"length": 10, "noise_density": 0.9, "mean_span_length": 1.0}])
def test_bad_counts_arguments_get_a_bilingual_error(bad):
    length = bad.pop("length")
    with pytest.raises(ValueError) as both:
        noise_span_counts(length, **bad)
    assert HANGUL.search(str(both.value)) and " / " in str(both.value)
    attnbook.set_language("ko")
    with pytest.raises(ValueError) as korean:
        noise_span_counts(length, **bad)
    assert HANGUL.search(str(korean.value))
    attnbook.set_language("en")
    with pytest.raises(ValueError) as english:
        noise_span_counts(length, **bad)
    assert not HANGUL.search(str(english.value))


# --- the mask ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_the_mask_has_the_exact_counts_starts_kept_and_ends_with_noise(seed):
    rng = random.Random(seed)
    length = rng.randint(2, 400)
    mask = random_spans_noise_mask(length, generator=_gen(seed))
    num_noise, num_spans = noise_span_counts(length)
    assert len(mask) == length and sum(mask) == num_noise and len(_spans(mask)) == num_spans
    assert not mask[0] and mask[-1]


def test_the_mask_is_deterministic_under_a_seeded_generator():
    assert random_spans_noise_mask(200, generator=_gen(7)) == random_spans_noise_mask(200, generator=_gen(7))
    assert random_spans_noise_mask(200, generator=_gen(7)) != random_spans_noise_mask(200, generator=_gen(8))


def test_random_segmentation_is_uniform_over_compositions():
    # 6 items in 3 non-empty parts: C(5, 2) = 10 compositions, each with probability 1/10
    draws = 20_000
    generator = _gen(1)
    counts = Counter(tuple(random_segmentation(6, 3, generator=generator)) for _ in range(draws))
    assert len(counts) == 10 and all(sum(c) == 6 and min(c) >= 1 for c in counts)
    sigma = math.sqrt(draws * 0.1 * 0.9)
    assert all(abs(n - draws / 10) < 5 * sigma for n in counts.values())


def test_long_texts_hide_the_density_in_spans_of_mean_three():
    generator = _gen(2)
    masks = [random_spans_noise_mask(568, generator=generator) for _ in range(300)]
    share = sum(map(sum, masks)) / (568 * 300)
    assert share == pytest.approx(85 / 568)  # exact by construction: 14.96 %
    lengths = [n for mask in masks for n in _spans(mask)]
    assert len(lengths) == 300 * 28
    assert sum(lengths) / len(lengths) == pytest.approx(85 / 28)  # 3.04, exact


def test_span_lengths_follow_the_uniform_composition_law():
    # One span's length under a uniform composition of n items into k parts:
    # P(L = l) = C(n − l − 1, k − 2) / C(n − 1, k − 1)
    n, k, length = 85, 28, 568
    generator = _gen(3)
    draws = 400
    lengths = [n for _ in range(draws) for n in _spans(random_spans_noise_mask(length, generator=generator))]
    total = len(lengths)
    counts = Counter(lengths)
    for span in range(1, 6):
        p = math.comb(n - span - 1, k - 2) / math.comb(n - 1, k - 1)
        sigma = math.sqrt(total * p * (1 - p))
        assert abs(counts[span] - total * p) < 5 * sigma, (span, counts[span], total * p)


# --- inputs and targets ----------------------------------------------------------------------------------


def test_the_papers_figure_2_ends_with_a_final_sentinel():
    words = ["Thank", "you", "for", "inviting", "me", "to", "your", "party", "last", "week", "."]
    mask = [w in {"for", "inviting", "last"} for w in words]
    inputs, targets = span_corruption_from_mask(words, mask, sentinels=["<X>", "<Y>", "<Z>"])
    assert inputs == ["Thank", "you", "<X>", "me", "to", "your", "party", "<Y>", "week", "."]
    assert targets == ["<X>", "for", "inviting", "<Y>", "last", "<Z>"]


def _t5_reference(tokens, mask, sentinels):
    """A literal reading of T5's two functions: each run of True → one sentinel, numbered in order."""
    def unique_sentinel(m):
        out, k = [], 0
        for i, token in enumerate(tokens):
            if m[i] and (i == 0 or not m[i - 1]):
                out.append(sentinels[k])
                k += 1
            elif not m[i]:
                out.append(token)
        return out
    return unique_sentinel(mask), unique_sentinel([not m for m in mask])


@pytest.mark.parametrize("seed", range(20))
def test_t5s_own_masks_give_t5s_targets_without_a_final_sentinel(seed):
    tokens = list(range(1000, 1000 + random.Random(seed).randint(2, 300)))
    out = t5_span_corruption(tokens, sentinels=SENTINELS, generator=_gen(seed))
    assert isinstance(out, SpanCorruption)
    assert (out.inputs, out.targets) == _t5_reference(tokens, out.noise_mask, SENTINELS)
    assert out.targets[-1] not in SENTINELS  # T5's masks end with noise
    num_noise, num_spans = noise_span_counts(len(tokens))
    assert len(out.inputs) == len(tokens) - num_noise + num_spans
    assert len(out.targets) == num_noise + num_spans


def test_a_mask_that_begins_with_noise_stays_aligned_where_t5s_code_would_not():
    tokens, mask = list("abcdef"), [True, False, False, True, True, False]
    inputs, targets = span_corruption_from_mask(tokens, mask, sentinels=SENTINELS)
    assert inputs == ["<extra_id_0>", "b", "c", "<extra_id_1>", "f"]
    assert targets == ["<extra_id_0>", "a", "<extra_id_1>", "d", "e", "<extra_id_2>"]
    t5_inputs, t5_targets = _t5_reference(tokens, mask, SENTINELS)
    assert t5_inputs == inputs and t5_targets == ["a", "<extra_id_0>", "d", "e", "<extra_id_1>"]


def test_restore_spans_gives_back_the_text_over_many_lengths_and_seeds():
    rng = random.Random(0)
    for seed in range(300):
        tokens = [rng.randint(0, 50) for _ in range(rng.randint(2, 200))]
        out = t5_span_corruption(tokens, sentinels=list(range(1000, 1100)), generator=_gen(seed))
        assert restore_spans(out.inputs, out.targets, sentinels=list(range(1000, 1100))) == tokens
    for _ in range(100):  # hand-made masks too: any start, any end, no noise at all
        tokens = list(range(rng.randint(0, 30)))
        mask = [rng.random() < 0.4 for _ in tokens]
        inputs, targets = span_corruption_from_mask(tokens, mask, sentinels=SENTINELS)
        assert restore_spans(inputs, targets, sentinels=SENTINELS) == tokens


def test_sentinel_problems_get_bilingual_errors():
    with pytest.raises(ValueError, match=r"too few sentinels|센티널이 모자랍니다"):
        span_corruption_from_mask(list("abcdef"), [True, False, True, False, True, False], sentinels=["<X>", "<Y>"])
    with pytest.raises(ValueError):
        span_corruption_from_mask(["a", "<X>", "b"], [False, True, False], sentinels=["<X>", "<Y>"])
    with pytest.raises(ValueError):
        span_corruption_from_mask(list("ab"), [True, False], sentinels=["<X>", "<X>"])
    with pytest.raises(ValueError):
        span_corruption_from_mask(list("ab"), [True], sentinels=SENTINELS)
    with pytest.raises(ValueError):
        restore_spans(["a", "<extra_id_1>"], ["<extra_id_1>", "b"], sentinels=SENTINELS)
    with pytest.raises(ValueError):
        restore_spans(["a", "<extra_id_0>"], ["b", "<extra_id_0>"], sentinels=SENTINELS)
    with pytest.raises(ValueError):
        t5_span_corruption(["a"], sentinels=SENTINELS, generator=_gen())
    with pytest.raises(ValueError):
        t5_span_corruption([], sentinels=SENTINELS, generator=_gen())
    with pytest.raises(ValueError):
        t5_span_corruption(list("abc"), sentinels=SENTINELS, generator=0)


# --- short texts and packing -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", range(2, 11))
def test_short_texts_always_lose_their_last_tokens(length):
    generator = _gen(length)
    num_noise, num_spans = noise_span_counts(length)
    assert num_spans == 1
    for _ in range(200):
        mask = random_spans_noise_mask(length, generator=generator)
        assert mask == [False] * (length - num_noise) + [True] * num_noise


def test_pack_concatenates_and_cuts_like_reduce_concat_tokens_and_split_tokens():
    assert pack([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert pack([[1, 2], [3]], 3, separator=[0]) == [[1, 2, 0], [3]]
    assert pack([], 5) == []
    with pytest.raises(ValueError):
        pack([[1]], 0)


def test_packing_spreads_the_noise_over_the_original_texts():
    rng = random.Random(4)
    texts = [[(t, i) for i in range(rng.randint(4, 10))] for t in range(2000)]
    generator = _gen(4)
    last_hidden_alone = sum(random_spans_noise_mask(len(t), generator=generator)[-1] for t in texts) / len(texts)
    assert last_hidden_alone == 1.0
    hidden: set = set()
    for chunk in pack(texts, 114):
        if len(chunk) < 2:
            continue
        mask = random_spans_noise_mask(len(chunk), generator=generator)
        hidden.update(token for token, m in zip(chunk, mask, strict=True) if m)
    last_hidden_packed = sum(t[-1] in hidden for t in texts) / len(texts)
    share_hidden = len(hidden) / sum(map(len, texts))
    assert abs(share_hidden - 0.15) < 0.01
    # packed, a text's last token is hidden about as often as any token (15 %), not always
    assert abs(last_hidden_packed - share_hidden) < 5 * math.sqrt(0.15 * 0.85 / len(texts))

"""Chapter 8's exercise references agree with the package, and correct answers written another way pass.

The references are checked against what the book runs: ``attnbook.gpt.next_token_loss``, the filters of
``attnbook.sampling`` (themselves tested against 🤗's logits processors), full causal attention computed at
once (a cache must change nothing), and the copy model run through ``next_token_loss``.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from attnbook.exercises import gpt as exercises
from attnbook.exercises.gpt import (
    attend_with_cache,
    check_attend_with_cache,
    check_copy_model_perplexity,
    check_padded_next_token_loss,
    check_top_k_probabilities,
    check_top_p_probabilities,
    copy_model_perplexity,
    padded_next_token_loss,
    top_k_probabilities,
    top_p_probabilities,
)
from attnbook.gpt import next_token_loss
from attnbook.sampling import top_k_filter, top_p_filter

# --- padded_next_token_loss --------------------------------------------------------------------------------


def _padded_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    B, T, V = 4, 9, 13
    ids = torch.randint(V, (B, T), generator=generator)
    lengths = torch.tensor([9, 5, 2, 7])
    positions = torch.arange(T)
    mask = torch.stack([positions < lengths[0], positions < lengths[1],  # right padding
                        positions >= T - lengths[2], positions >= T - lengths[3]])  # left padding
    logits = torch.randn(B, T, V, generator=generator) * 3
    return logits, ids, mask


@pytest.mark.parametrize("seed", range(4))
def test_the_padded_loss_is_the_packages_for_bool_and_integer_masks(seed):
    logits, ids, mask = _padded_batch(seed)
    expected = next_token_loss(logits, ids, mask)
    assert_close(padded_next_token_loss(logits, ids, mask), expected)
    assert_close(padded_next_token_loss(logits, ids, mask.long()), expected)
    assert_close(padded_next_token_loss(logits, ids, torch.ones_like(mask)), next_token_loss(logits, ids))


def test_the_padded_loss_trains_only_real_positions_that_predict_a_real_token():
    logits, ids, mask = _padded_batch(0)
    logits.requires_grad_()
    padded_next_token_loss(logits, ids, mask).backward()
    predicts = torch.zeros_like(mask)
    predicts[:, :-1] = mask[:, :-1] & mask[:, 1:]
    assert (logits.grad[~predicts].abs().sum(-1) == 0).all()  # padding, last real token, the pad before a text
    assert (logits.grad[predicts].abs().sum(-1) > 0).all()


def test_a_loss_written_with_ignore_index_passes(capsys):
    def answer(logits, input_ids, attention_mask):
        real = attention_mask.bool()
        labels = input_ids.masked_fill(~real, -100)[:, 1:].masked_fill(~real[:, :-1], -100)  # 🤗-style labels
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)

    assert check_padded_next_token_loss(answer) is True


# --- top_p_probabilities and top_k_probabilities ----------------------------------------------------------


def _random_logits(seed: int) -> torch.Tensor:
    return torch.randn(6, 17, generator=torch.Generator().manual_seed(seed)) * 2


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.8, 0.9, 0.99, 1.0])
def test_the_top_p_probabilities_are_the_softmax_of_the_packages_filter(seed, p):
    logits = _random_logits(seed)
    assert_close(top_p_probabilities(logits, p), top_p_filter(logits, p).softmax(-1))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [1, 2, 5, 16, 17, 40])
def test_the_top_k_probabilities_are_the_softmax_of_the_packages_filter(seed, k):
    logits = _random_logits(seed)
    assert_close(top_k_probabilities(logits, k), top_k_filter(logits, k).softmax(-1))


def test_the_checks_rows_have_the_ties_the_advice_promises():
    logits = exercises._filter_logits()
    for p in exercises._TOP_P_VALUES:
        assert_close(top_p_probabilities(logits, p), top_p_filter(logits, p).softmax(-1))
    for k in exercises._TOP_K_VALUES:
        assert_close(top_k_probabilities(logits, k), top_k_filter(logits, k).softmax(-1))
    kept = (top_p_probabilities(logits, 0.75) > 0).sum(-1).tolist()
    assert kept == [3, 5, 1]  # row 1: 0.3 + 0.2 + 0.2 + 0.1 = 0.8 ≥ 0.75, and the other 0.1 tied with it
    assert (top_k_probabilities(logits, 2) > 0).sum(-1).tolist() == [2, 3, 2]  # row 1: a tie at the 2nd
    assert (top_p_probabilities(logits, 1e-3) > 0).sum(-1).tolist() == [1, 1, 1]  # the top token always stays


def _nucleus_huggingface_style_keeping_ties(logits, p):
    """🤗's recipe (ascending sort, drop the tail whose sum is ≤ 1 − p), then the threshold restores ties."""
    probs = logits.softmax(-1)
    ascending, _ = probs.sort(dim=-1)
    tail = ascending.cumsum(-1) <= 1 - p
    tail[..., -1] = False
    threshold = ascending.masked_fill(tail, 2.0).amin(-1, keepdim=True)
    kept = torch.where(probs >= threshold, probs, 0.0)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_in_a_loop(logits, p):
    probs = logits.softmax(-1)
    out = torch.zeros_like(probs)
    for b, row in enumerate(probs.tolist()):
        total, last = 0.0, None
        for prob in sorted(row, reverse=True):
            if total >= p:
                break
            total, last = total + prob, prob
        keep = [i for i, prob in enumerate(row) if prob >= last - 1e-9]
        mass = sum(row[i] for i in keep)
        for i in keep:
            out[b, i] = row[i] / mass
    return out


def _top_k_by_sorting(logits, k):
    probs = logits.softmax(-1)
    ordered = probs.sort(dim=-1, descending=True).values
    kth = ordered[:, min(k, probs.size(-1)) - 1, None]
    kept = probs.masked_fill(probs < kth, 0.0)
    return kept / kept.sum(-1, keepdim=True)


@pytest.mark.parametrize("answer", [_nucleus_huggingface_style_keeping_ties, _nucleus_in_a_loop])
def test_other_correct_nucleus_answers_pass(answer, capsys):
    assert check_top_p_probabilities(answer) is True


def test_a_correct_top_k_written_another_way_passes(capsys):
    assert check_top_k_probabilities(_top_k_by_sorting) is True


# --- attend_with_cache --------------------------------------------------------------------------------------


def test_attending_with_a_cache_step_by_step_equals_causal_attention_at_once():
    """Read a left-padded prompt at once, then three tokens one by one: every row as if computed in one go."""
    generator = torch.Generator().manual_seed(3)
    B, H, L, Dh, P = 3, 2, 8, 5, 5
    q, k, v = (torch.randn(B, H, L, Dh, generator=generator) for _ in range(3))
    real = torch.ones(B, L, dtype=torch.bool)
    real[1, :2] = real[2, :1] = False  # left padding in the prompt
    visible = torch.ones(L, L, dtype=torch.bool).tril() & real[:, None, None, :]
    visible |= torch.eye(L, dtype=torch.bool)  # a pad sees itself, so that no row is empty (its output is unused)
    at_once = F.scaled_dot_product_attention(q, k, v, attn_mask=visible)

    keys, values = k[:, :, :0], v[:, :, :0]
    mask = real[:, :0]
    outputs = []
    for start, stop in ((0, 2), (2, P), (P, P + 1), (P + 1, P + 2), (P + 2, L)):
        # the prompt in two chunks (the pads inside them hidden from later tokens by the mask), then single steps
        step_q, step_k, step_v = q[:, :, start:stop], k[:, :, start:stop], v[:, :, start:stop]
        out, keys, values = attend_with_cache(keys, values, mask, step_q, step_k, step_v)
        mask = real[:, :stop]
        outputs.append(out)
    cached = torch.cat(outputs, dim=2)
    assert keys.shape == (B, H, L, Dh)
    assert_close(keys, k) and assert_close(values, v)
    rows = real[:, None, :, None].expand_as(cached)
    later = torch.zeros_like(rows)
    later[:, :, 2:] = True  # the first chunk has no past; its pads are real to it and never read later
    assert_close(cached[rows & later], at_once[rows & later])


def test_a_cache_step_with_pytorchs_attention_passes(capsys):
    def answer(past_keys, past_values, past_mask, query, key, value):
        S, T = past_keys.size(2), query.size(2)
        keys, values = torch.cat([past_keys, key], dim=-2), torch.cat([past_values, value], dim=-2)
        causal = torch.ones(T, S + T, dtype=torch.bool).tril(diagonal=S)
        real = F.pad(past_mask, (0, T), value=True)
        out = F.scaled_dot_product_attention(query, keys, values, attn_mask=causal & real[:, None, None, :])
        return out, keys, values

    assert check_attend_with_cache(answer) is True


# --- copy_model_perplexity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("sentences", "q", "vocab_size"), exercises._COPY_CASES)
def test_the_predicted_perplexity_is_what_running_the_copy_model_gives(sentences, q, vocab_size):
    assert math.isclose(copy_model_perplexity(sentences, q, vocab_size),
                        exercises._measure_copy(sentences, q, vocab_size), rel_tol=1e-9)


def test_the_hand_made_corpus_and_the_uniform_bet():
    sentences, q, V = exercises._COPY_CASES[0]
    repeats, predictions = 5, 11  # 3 3, 2 2, 2 2 | 4 4 | (nothing) | 6 6; 6 + 2 + 0 + 3 predictions
    expected = math.exp(-(repeats * math.log(q) + (predictions - repeats) * math.log((1 - q) / (V - 1))) / predictions)
    assert math.isclose(copy_model_perplexity(sentences, q, V), expected)
    for vocab_size in (2, 9, 50):  # betting 1/V on the previous token is the uniform model: perplexity V
        assert math.isclose(copy_model_perplexity(sentences, 1 / vocab_size, vocab_size), vocab_size)


def test_a_prediction_from_counts_written_another_way_passes(capsys):
    def answer(sentences, q, vocab_size):
        pairs = Counter(a == b for s in sentences for a, b in pairwise(s))
        n = pairs[True] + pairs[False]
        return (q ** pairs[True] * ((1 - q) / (vocab_size - 1)) ** pairs[False]) ** (-1 / n)

    assert check_copy_model_perplexity(answer) is True

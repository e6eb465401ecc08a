"""Chapter 7's exercises: the references agree with the package, and every correct answer passes, whatever its draws.

The checkers test a contract and statistics, not one exact draw; the tests below hand them correct
implementations that draw differently (another order, a fixed count per sentence like Google's
code, 🤗's two-step split, a Python loop, a shifted random stream) and expect ✅ from all of them.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attnbook.corruption import IGNORE_INDEX, bert_masking
from attnbook.exercises.bert import (
    _NSP_LARGE,
    _PREDICTION_CASES,
    IS_NEXT,
    NOT_NEXT,
    _measure_masking,
    check_mask_tokens,
    check_mlm_loss,
    check_nsp_pairs,
    check_predict_masking,
    mask_tokens,
    mlm_loss,
    nsp_pairs,
    predict_masking,
)

SPECIALS, MASK, V = [0, 1, 2, 3, 4], 4, 23


@pytest.mark.parametrize("seed", range(5))
def test_the_reference_masking_is_the_packages(seed):
    ids = torch.randint(5, V, (6, 15), generator=torch.Generator().manual_seed(100 + seed))
    ids[:, 0], ids[:, -1], ids[::2, -4:] = 2, 3, 0
    inputs, labels = mask_tokens(ids, SPECIALS, MASK, V, torch.Generator().manual_seed(seed))
    generator = torch.Generator().manual_seed(seed)
    out = bert_masking(ids, vocab_size=V, special_ids=SPECIALS, mask_id=MASK, generator=generator)
    assert torch.equal(inputs, out.inputs) and torch.equal(labels, out.labels)


# --- correct answers that draw differently ---------------------------------------------------------------


def _mask_shifted(input_ids, special_ids, mask_id, vocab_size, generator, *, shift):
    torch.rand(shift, generator=generator)  # another place in the random stream
    return mask_tokens(input_ids, special_ids, mask_id, vocab_size, generator)


def _mask_like_google(input_ids, special_ids, mask_id, vocab_size, generator):
    """A fixed count per sentence, round(0.15 · n) of its n ordinary tokens, in a shuffled order."""
    inputs, labels = input_ids.clone(), torch.full_like(input_ids, -100)
    words = [i for i in range(vocab_size) if i not in special_ids]
    for b in range(input_ids.shape[0]):
        candidates = [t for t in range(input_ids.shape[1]) if input_ids[b, t].item() not in special_ids]
        order = torch.randperm(len(candidates), generator=generator).tolist()
        for k in order[: max(1, round(0.15 * len(candidates)))]:
            t = candidates[k]
            labels[b, t] = input_ids[b, t]
            if torch.rand((), generator=generator) < 0.8:
                inputs[b, t] = mask_id
            elif torch.rand((), generator=generator) < 0.5:
                inputs[b, t] = words[int(torch.randint(len(words), (), generator=generator))]
    return inputs, labels


def _mask_like_huggingface(input_ids, special_ids, mask_id, vocab_size, generator):
    """🤗's collator's steps, with the random token drawn from the non-special ids."""
    labels = input_ids.clone()
    probability = torch.full(labels.shape, 0.15).masked_fill(torch.isin(input_ids, torch.tensor(special_ids)), 0.0)
    chosen = torch.bernoulli(probability, generator=generator).bool()
    labels[~chosen] = -100
    inputs = input_ids.clone()
    masked = torch.bernoulli(torch.full(labels.shape, 0.8), generator=generator).bool() & chosen
    inputs[masked] = mask_id
    replaced = torch.bernoulli(torch.full(labels.shape, 0.5), generator=generator).bool() & chosen & ~masked
    words = torch.tensor([i for i in range(vocab_size) if i not in special_ids])
    inputs[replaced] = words[torch.randint(len(words), labels.shape, generator=generator)][replaced]
    return inputs, labels


def _mask_in_a_loop(input_ids, special_ids, mask_id, vocab_size, generator):
    inputs, labels = input_ids.clone(), torch.full_like(input_ids, -100)
    words = [i for i in range(vocab_size) if i not in special_ids]
    u = torch.rand((*input_ids.shape, 2), generator=generator).tolist()
    picks = torch.randint(len(words), input_ids.shape, generator=generator).tolist()
    for b, row in enumerate(input_ids.tolist()):
        for t, token in enumerate(row):
            if token in special_ids or u[b][t][0] >= 0.15:
                continue
            labels[b, t] = token
            if u[b][t][1] < 0.8:
                inputs[b, t] = mask_id
            elif u[b][t][1] < 0.9:
                inputs[b, t] = words[picks[b][t]]
    return inputs, labels


@pytest.mark.parametrize("shift", range(12))
def test_a_correct_masking_passes_wherever_its_random_stream_starts(shift, capsys):
    assert check_mask_tokens(lambda *a: _mask_shifted(*a, shift=shift)) is True


@pytest.mark.parametrize("answer", [_mask_like_google, _mask_like_huggingface, _mask_in_a_loop])
def test_other_correct_ways_to_mask_pass(answer, capsys):
    assert check_mask_tokens(answer) is True


# --- mlm_loss ----------------------------------------------------------------------------------------------


def test_the_mlm_loss_is_cross_entropy_ignoring_minus_100_and_trains_only_the_chosen_positions():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (4, 12), generator=generator)
    batch = bert_masking(ids, vocab_size=V, special_ids=SPECIALS, mask_id=MASK, rate=0.3, generator=generator)
    logits = torch.randn(4, 12, V, generator=generator, requires_grad=True)
    loss = mlm_loss(logits, batch)
    torch.testing.assert_close(loss, F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten()))
    assert F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten()).isfinite()  # -100 is the default ignore
    loss.backward()
    assert logits.grad[~batch.chosen].abs().max() == 0
    assert (logits.grad[batch.chosen].abs().sum(-1) > 0).all()
    assert IGNORE_INDEX == -100


def test_a_correct_mlm_loss_written_another_way_passes(capsys):
    def loss(logits, batch):
        return F.cross_entropy(logits[batch.chosen], batch.labels[batch.chosen])

    assert check_mlm_loss(loss) is True


# --- nsp_pairs ---------------------------------------------------------------------------------------------


def test_the_reference_pairs_are_half_real_and_never_draw_from_their_own_document():
    pairs = nsp_pairs(_NSP_LARGE, torch.Generator().manual_seed(0))
    where = {s: (d, i) for d, document in enumerate(_NSP_LARGE) for i, s in enumerate(document)}
    labels = [label for _, _, label in pairs]
    assert len(pairs) == sum(len(d) - 1 for d in _NSP_LARGE)
    assert abs(labels.count(IS_NEXT) / len(labels) - 0.5) < 5 * math.sqrt(0.25 / len(labels))
    for a, b, label in pairs:
        (d, i), (e, j) = where[a], where[b]
        assert (e, j) == (d, i + 1) if label == IS_NEXT else e != d
    assert set(labels) == {IS_NEXT, NOT_NEXT} == {0, 1}


def _pairs_like_google(documents, generator):
    """A random other document first, then a random sentence in it (Google's create_pretraining_data.py)."""
    pairs = []
    for d, document in enumerate(documents):
        for i in range(len(document) - 1):
            if torch.rand((), generator=generator) >= 0.5:
                pairs.append((document[i], document[i + 1], 0))
                continue
            others = [e for e, other in enumerate(documents) if e != d and other]
            other = documents[others[int(torch.randint(len(others), (), generator=generator))]]
            pairs.append((document[i], other[int(torch.randint(len(other), (), generator=generator))], 1))
    return pairs


@pytest.mark.parametrize("shift", range(8))
def test_correct_pairs_pass_wherever_the_random_stream_starts(shift, capsys):
    def answer(documents, generator):
        torch.rand(shift, generator=generator)
        return nsp_pairs(documents, generator)

    assert check_nsp_pairs(answer) is True
    assert check_nsp_pairs(_pairs_like_google) is True


# --- predict_masking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "split", "pool"), _PREDICTION_CASES)
def test_the_predictions_agree_with_the_measurement_the_checker_shows(rate, split, pool):
    predicted, measured = predict_masking(rate, split, pool), _measure_masking(rate, split, pool)
    n = 200 * 500
    for p, m, of in zip(predicted, measured, (n, n, n * rate), strict=True):
        assert abs(p - m) <= 5 * math.sqrt(p * (1 - p) / of) + 1e-12


def test_the_prediction_for_berts_settings():
    labelled, changed, copy_right = predict_masking(0.15, (0.8, 0.1, 0.1), 5)
    assert (labelled, round(changed, 4), round(copy_right, 2)) == (0.15, 0.132, 0.12)
    assert predict_masking(0.15, (1.0, 0.0, 0.0), 100)[2] == 0  # trained on [MASK] only: copying is never right


def test_a_prediction_written_another_way_passes(capsys):
    def answer(rate, split, pool):
        m, r, k = split
        return rate * (m + r + k), rate * m + rate * r * (pool - 1) / pool, (k * pool + r) / pool

    assert check_predict_masking(answer) is True

"""attnbook.sampling: greedy, temperature, top-k and top-p equal to 🤗 transformers' logits processors.

🤗's processors (transformers 5.x: ``TemperatureLogitsWarper``, ``TopKLogitsWarper``,
``TopPLogitsWarper``, default ``min_tokens_to_keep=1``) are applied to the very same
logits, rows with and without ties, with −∞ entries and extreme values; the filtered
logits must be equal (the same floats, −∞ at the same places). The one designed
difference is a tie that straddles top-p's boundary: 🤗 keeps the tied tokens that come
later in its sort, ours keeps the whole tie (tested as such).
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch.testing import assert_close
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from attnbook.sampling import apply_temperature, filter_logits, greedy, sample, top_k_filter, top_p_filter

V = 37
NO_IDS = torch.zeros(1, 1, dtype=torch.long)  # 🤗's processors take input_ids; these three ignore them


def random_logits(seed: int, rows: int = 8, scale: float = 3.0) -> torch.Tensor:
    """(rows, V) logits with no ties (continuous draws)."""
    return scale * torch.randn(rows, V, generator=torch.Generator().manual_seed(seed))


def tied_logits() -> torch.Tensor:
    """Rows with ties at many places: integer logits, a constant row, −∞ entries, huge values."""
    generator = torch.Generator().manual_seed(3)
    rows = torch.randint(-3, 4, (6, V), generator=generator).float()  # 7 values over 37 tokens: many ties
    rows[1] = 0.0  # every token tied
    rows[2, ::3] = float("-inf")  # already filtered tokens
    rows[3] = rows[3] * 1e4  # probabilities that underflow to exactly 0
    rows[4, 5] = rows[4, 30] = 10.0  # two tied winners
    return rows


def theirs(processor, logits: torch.Tensor) -> torch.Tensor:
    return processor(NO_IDS, logits.clone())


def assert_same(ours: torch.Tensor, expected: torch.Tensor) -> None:
    assert torch.equal(torch.isneginf(ours), torch.isneginf(expected)), "−∞ at different places"
    assert_close(ours, expected, rtol=0, atol=0)


# --- greedy and temperature ------------------------------------------------------------------------


def test_greedy_is_the_argmax_and_the_first_of_a_tie():
    logits = tied_logits()
    assert torch.equal(greedy(logits), logits.argmax(dim=-1))
    assert greedy(logits)[4].item() == 5  # 5 and 30 tie: the first
    assert greedy(torch.tensor([0.1, 2.0, -1.0])).item() == 1  # a single row (V,) works too


@pytest.mark.parametrize("temperature", [0.05, 0.7, 1.0, 1.3, 10.0, 2])
def test_temperature_equals_transformers(temperature):
    for logits in (random_logits(0), tied_logits()):
        assert_same(apply_temperature(logits, temperature), theirs(TemperatureLogitsWarper(float(temperature)), logits))


def test_temperature_sharpens_below_one_and_flattens_above():
    logits = random_logits(1)[0]
    entropy = {t: torch.distributions.Categorical(logits=apply_temperature(logits, t)).entropy().item()
               for t in (0.3, 1.0, 3.0, 100.0)}
    assert entropy[0.3] < entropy[1.0] < entropy[3.0] < entropy[100.0] < math.log(V)
    assert entropy[100.0] > 0.99 * math.log(V)  # nearly uniform
    sharp = apply_temperature(logits, 0.01).softmax(-1)
    assert sharp.argmax() == logits.argmax() and sharp.max() > 0.99  # τ → 0 tends to greedy


@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, float("inf"), float("nan"), True, "1.0", None])
def test_a_bad_temperature_is_refused_in_both_languages(temperature):
    with pytest.raises(ValueError, match="temperature") as error:
        apply_temperature(random_logits(0), temperature)
    assert " / " in str(error.value)


# --- top-k ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5, V - 1, V, V + 10])
def test_top_k_equals_transformers(k):
    for logits in (random_logits(2), tied_logits()):
        assert_same(top_k_filter(logits, k), theirs(TopKLogitsWarper(k), logits))


def test_top_k_keeps_exactly_k_without_ties_and_every_tie_of_the_kth():
    logits = random_logits(4)
    for k in (1, 3, 10):
        kept = torch.isfinite(top_k_filter(logits, k))
        assert (kept.sum(-1) == k).all()
        assert torch.equal(kept, torch.zeros_like(kept).scatter(1, logits.topk(k).indices, True))
    row = torch.tensor([[3.0, 1.0, 1.0, 1.0, 0.0]])
    assert torch.isfinite(top_k_filter(row, 2)).tolist() == [[True, True, True, True, False]]  # 3 tokens tie for 2nd
    assert torch.equal(top_k_filter(row, V), row)  # k ≥ V keeps all


@pytest.mark.parametrize("k", [0, -1, 1.5, True, None, "3"])
def test_a_bad_k_is_refused_in_both_languages(k):
    with pytest.raises(ValueError, match="top_k") as error:
        top_k_filter(random_logits(0), k)
    assert " / " in str(error.value)


# --- top-p ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1e-9, 0.05, 0.3, 0.5, 0.9, 0.999, 1.0])
def test_top_p_equals_transformers_without_ties(p):
    for scale in (0.5, 3.0, 30.0):
        logits = random_logits(5, scale=scale)
        assert_same(top_p_filter(logits, p), theirs(TopPLogitsWarper(p), logits))


def test_on_ties_top_p_equals_transformers_unless_a_tie_straddles_the_boundary():
    """Ours keeps what 🤗 keeps; more only to complete a tie that 🤗 cut at the boundary."""
    cases = {"equal": 0, "tie completed": 0}
    for p in (0.01, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97, 1.0):
        logits = tied_logits()
        ours, expected = top_p_filter(logits, p), theirs(TopPLogitsWarper(p), logits)
        for r in range(len(logits)):
            kept, their_kept = torch.isfinite(ours[r]), torch.isfinite(expected[r])
            smallest = logits[r][their_kept].min()  # the last token 🤗 kept
            cut_tie = bool((logits[r][~their_kept] == smallest).any())
            if not cut_tie:
                assert_same(ours[r], expected[r])
                cases["equal"] += 1
            else:
                assert torch.equal(kept, logits[r] >= smallest)  # 🤗's set and the rest of the tie
                cases["tie completed"] += 1
    assert cases["equal"] >= 15 and cases["tie completed"] >= 15, cases  # both kinds of row occur


def test_a_tie_at_the_top_p_boundary_stays_whole_and_does_not_depend_on_the_token_order():
    uniform = torch.zeros(1, 4)  # four tokens of probability 0.25
    their_kept = torch.isfinite(theirs(TopPLogitsWarper(0.5), uniform))
    assert their_kept.tolist() == [[False, False, True, True]]  # 🤗: the last two in its sort order
    assert torch.isfinite(top_p_filter(uniform, 0.5)).all()  # ours: the whole tie
    logits = torch.tensor([[2.0, 0.0, 1.0, 1.0, 1.0, -1.0]])
    permutation = torch.tensor([3, 0, 5, 2, 4, 1])
    for p in (0.3, 0.6, 0.8, 0.95):
        ours = top_p_filter(logits, p)
        assert torch.equal(top_p_filter(logits[:, permutation], p), ours[:, permutation])  # permutation-equivariant
        kept_mass = logits.softmax(-1)[torch.isfinite(ours)].sum()
        assert kept_mass >= p


def test_top_p_keeps_the_smallest_nucleus_of_mass_at_least_p():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.07, 0.03]]))
    for p, expected in [(1e-6, 1), (0.5, 1), (0.51, 2), (0.75, 2), (0.76, 3), (0.9, 3), (0.91, 4), (0.99, 5), (1.0, 5)]:
        kept = torch.isfinite(top_p_filter(logits, p))
        assert kept.sum().item() == expected, (p, kept)
        assert kept[0, :expected].all()  # the most probable ones
    # p = 1 keeps every token of nonzero probability, and only those
    extreme = torch.tensor([[0.0, -200.0, float("-inf"), -1.0]])  # exp(−200) underflows to 0 in float32
    assert torch.isfinite(top_p_filter(extreme, 1.0)).tolist() == [[True, False, False, True]]
    assert_same(top_p_filter(extreme, 1.0), theirs(TopPLogitsWarper(1.0), extreme))


@pytest.mark.parametrize("p", [0, 0.0, -0.1, 1.01, float("nan"), True, None, "0.9"])
def test_a_bad_p_is_refused_in_both_languages(p):
    with pytest.raises(ValueError, match="top_p") as error:
        top_p_filter(random_logits(0), p)
    assert " / " in str(error.value)


# --- together, and sampling -------------------------------------------------------------------------


@pytest.mark.parametrize(("temperature", "top_k", "top_p"),
                         [(1.0, None, None), (0.7, 10, None), (1.5, None, 0.8), (0.9, 7, 0.6), (2.0, 1, 0.3)])
def test_filter_logits_equals_transformers_processors_in_their_order(temperature, top_k, top_p):
    chain = [TemperatureLogitsWarper(float(temperature))]
    chain += [TopKLogitsWarper(top_k)] if top_k is not None else []
    chain += [TopPLogitsWarper(top_p)] if top_p is not None else []
    cases = [random_logits(6)] + ([tied_logits()] if top_p is None else [])  # no tie at top-p's boundary
    for logits in cases:
        ours = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
        assert_same(ours, LogitsProcessorList(chain)(NO_IDS, logits.clone()))


def test_filters_work_on_any_leading_axes_and_dtypes():
    logits = random_logits(7, rows=6).view(2, 3, V).double()
    out = filter_logits(logits, temperature=0.8, top_k=5, top_p=0.7)
    assert out.shape == (2, 3, V) and out.dtype == torch.float64
    assert_same(out.view(6, V), filter_logits(logits.view(6, V), temperature=0.8, top_k=5, top_p=0.7))
    assert_same(top_k_filter(logits[0, 0], 4), top_k_filter(logits[:1, 0], 4)[0])  # a single (V,) row


def test_sampling_draws_only_kept_tokens_in_proportion_and_repeatably():
    logits = random_logits(8, rows=1, scale=1.0).expand(4000, V)
    filtered = top_k_filter(logits, 4)
    draws = sample(filtered, torch.Generator().manual_seed(0))
    assert draws.shape == (4000,) and draws.dtype == torch.long
    kept = set(logits[0].topk(4).indices.tolist())
    assert set(draws.tolist()) == kept
    frequencies = torch.bincount(draws, minlength=V).float() / len(draws)
    probabilities = filtered[0].softmax(-1)  # renormalised over the 4 kept tokens
    assert_close(probabilities.sum(), torch.tensor(1.0))
    assert (frequencies - probabilities).abs().max() < 0.03  # 4000 draws: standard error ≤ 0.008
    again = sample(filtered, torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)
    other = sample(filtered, torch.Generator().manual_seed(1))
    assert not torch.equal(draws, other)


def test_sampling_with_the_global_generator_is_what_transformers_draws():
    logits = filter_logits(random_logits(9), temperature=0.9, top_p=0.9)
    torch.manual_seed(5)
    ours = sample(logits)
    torch.manual_seed(5)
    expected = torch.multinomial(logits.softmax(dim=-1), num_samples=1).squeeze(1)  # 🤗 generate's sampling step
    assert torch.equal(ours, expected)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [(lambda: sample(torch.zeros(V)), ValueError, "(B, V)"),
     (lambda: sample(torch.zeros(2, V), generator=0), TypeError, "generator"),
     (lambda: greedy(torch.zeros(2, V, dtype=torch.long)), ValueError, "floating-point"),
     (lambda: greedy(torch.zeros(2, 0)), ValueError, "floating-point"),
     (lambda: top_k_filter([1.0, 2.0], 1), ValueError, "floating-point"),
     (lambda: top_p_filter(torch.tensor([[0.0, float("nan")]]), 0.9), ValueError, "NaN"),
     (lambda: greedy(torch.tensor([[0.0, float("inf")]])), ValueError, "+∞"),
     (lambda: sample(torch.full((1, V), float("-inf"))), ValueError, "no token left")],
    ids=["1-D for sample", "generator type", "integer logits", "empty vocabulary", "a list", "NaN", "+inf",
         "all -inf"],
)
def test_bad_logits_get_a_clear_bilingual_error(call, error, message):
    with pytest.raises(error, match=re.escape(message)) as raised:
        call()
    assert " / " in str(raised.value)

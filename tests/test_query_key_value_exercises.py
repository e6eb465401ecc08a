"""Chapter 4's new exercise references: a variance predicted and measured, and attention with empty rows.

Sizes are small and odd where shapes matter (T=3 queries, S=5 keys, Dk=4, Dv=6).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import attnbook
from attnbook.attention import scaled_dot_product_attention
from attnbook.exercises import query_key_value as exercises


@pytest.mark.parametrize(("d_k", "q_std", "k_std"), [(4, 1.0, 1.0), (64, 3.0, 0.5), (10, 2.0, 1.5), (256, 0.2, 4.0)])
@pytest.mark.parametrize("scaled", [False, True])
def test_the_predicted_variance_is_what_running_gives(d_k, q_std, k_std, scaled):
    predicted = exercises.score_variance(d_k, q_std, k_std, scaled)
    measured = exercises._measured_variance(d_k, q_std, k_std, scaled)
    assert abs(measured / predicted - 1) < 0.05  # 20,000 samples: within 5 %


def test_scaling_takes_d_k_out_but_not_the_standard_deviations():
    for d_k in (4, 64, 1024):
        assert exercises.score_variance(d_k, 1.0, 1.0, True) == 1.0  # the chapter's case
        assert exercises.score_variance(d_k, 3.0, 0.5, True) == pytest.approx(2.25)  # σ_q² σ_k², whatever d_k


def _left_padded(lengths, size):
    return exercises._left_padded_causal_mask(lengths, size)


def test_left_padding_with_the_causal_mask_leaves_padding_queries_with_nothing_to_see():
    mask = _left_padded((5, 3, 1), 5)  # (B, T, T)
    empty = ~mask.any(dim=-1)  # (B, T)
    assert empty.tolist() == [[False] * 5, [True, True, False, False, False], [True] * 4 + [False]]


def _plain_attention(q, k, v, mask):
    """Eq. (1) with masked scores set to -inf and nothing else: what a reader writes first."""
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def test_masked_attention_is_the_packages_and_pytorchs_attention_for_every_mask():
    _ = torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    mask = torch.rand(2, 3, 5) < 0.5
    mask[0, 1] = False  # one query with nothing to see
    mask[1, :, 0] = True
    out, weights = exercises.masked_attention(q, k, v, mask)
    expected_out, expected_weights = scaled_dot_product_attention(q, k, v, mask)  # the package does the same
    assert_close(out, expected_out)
    assert_close(weights, expected_weights)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))  # so does PyTorch (≥ 2.5)


def test_an_empty_row_gives_nan_in_plain_attention_and_in_torch_multihead_attention():
    _ = torch.manual_seed(1)
    x = torch.randn(3, 5, 4)
    mask = _left_padded((5, 3, 1), 5)
    empty = ~mask.any(dim=-1)  # (B, T)
    plain_out, plain_weights = _plain_attention(x, x, x, mask)
    assert torch.isnan(plain_weights[empty]).all() and torch.isnan(plain_out[empty]).all()
    out, weights = exercises.masked_attention(x, x, x, mask)
    assert (weights[empty] == 0).all() and (out[empty] == 0).all()
    assert_close(out[~empty], plain_out[~empty])  # the other queries are untouched
    layer = torch.nn.MultiheadAttention(4, 1, batch_first=True)
    with torch.no_grad():
        torch_out, _ = layer(x, x, x, attn_mask=~mask)  # PyTorch's convention: True = hidden
    assert torch.isnan(torch_out[empty]).all() and not torch.isnan(torch_out[~empty]).any()


def test_the_nan_of_an_unused_position_spreads_to_the_whole_sentence_in_the_next_layer():
    # what the advice empty-row-nan claims: 0 × nan = nan, through the values of the next layer
    _ = torch.manual_seed(2)
    x = torch.randn(3, 5, 4)
    W_Q, W_K, W_V = (torch.randn(4, 4) for _ in range(3))
    mask = _left_padded((5, 3, 1), 5)
    real = mask.any(dim=-1)  # the queries that see something: (B, T)

    def two_layers(attention):
        h = x
        for _ in range(2):
            h, _ = attention(h @ W_Q, h @ W_K, h @ W_V, mask)
        return h

    plain = two_layers(_plain_attention)
    assert not torch.isnan(plain[0]).any()  # no padding, no nan
    assert torch.isnan(plain[1][real[1]]).all() and torch.isnan(plain[2][real[2]]).all()  # even real tokens
    safe = two_layers(exercises.masked_attention)
    assert torch.isfinite(safe).all()


def test_answers_that_differ_only_in_form_pass(capsys):
    attnbook.set_language("en")

    def nan_to_num_after_the_softmax(q, k, v, mask):
        scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~mask, float("-inf"))
        weights = torch.nan_to_num(torch.softmax(scores, dim=-1))
        return weights @ v, weights

    def finite_fill_then_zero_the_empty_rows(q, k, v, mask):
        scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~mask, -1e9)
        weights = torch.softmax(scores, dim=-1) * mask.any(dim=-1, keepdim=True)
        return weights @ v, weights

    def where_after_plain_attention(q, k, v, mask):
        _, weights = _plain_attention(q, k, v, mask)
        empty = ~mask.any(dim=-1, keepdim=True)
        weights = torch.where(empty, 0.0, weights)
        return weights @ v, weights

    def variance_in_two_steps(d_k, q_std, k_std, scaled):
        one_term = (q_std * k_std) ** 2  # Var(q_i k_i)
        total = d_k * one_term
        return total / (math.sqrt(d_k) ** 2) if scaled else total

    for answer in (nan_to_num_after_the_softmax, finite_fill_then_zero_the_empty_rows, where_after_plain_attention):
        assert exercises.check_masked_attention(answer) is True
    assert exercises.check_score_variance(variance_in_two_steps) is True
    assert capsys.readouterr().out.count("✅") == 4

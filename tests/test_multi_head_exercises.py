"""Chapter 5's exercise references agree with the package, and answers that differ only in form pass.

Sizes are small and odd where shapes matter (B=2, T=5, S=7, D=12, H=3, Dh=4).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import attnbook
from attnbook.attention import MultiHeadAttention, scaled_dot_product_attention
from attnbook.exercises import multi_head as exercises
from attnbook.positional import sinusoidal_encoding

B, T, S, D, H = 2, 5, 7, 12, 3


def test_split_then_merge_gives_back_the_input():
    x = torch.randn(B, T, D)
    for heads in (1, 2, 3, 4, 6, 12):
        split = exercises.split_heads(x, heads)
        assert split.shape == (B, heads, T, D // heads)
        assert torch.equal(exercises.merge_heads(split), x)


def test_head_i_owns_a_block_of_features_like_torch():
    x = torch.arange(B * T * D, dtype=torch.float32).view(B, T, D)
    split = exercises.split_heads(x, H)
    for i in range(H):
        assert torch.equal(split[:, i], x[..., i * 4:(i + 1) * 4])


@pytest.mark.parametrize("masked", [False, True])
def test_the_references_rebuild_the_packages_multi_head_attention(masked):
    _ = torch.manual_seed(0)
    layer = MultiHeadAttention(D, H).double()
    query, memory = torch.randn(B, T, D, dtype=torch.float64), torch.randn(B, S, D, dtype=torch.float64)
    mask = None
    if masked:
        mask = torch.rand(B, 1, T, S) < 0.6
        mask[..., 0] = True
    W_Q, W_K, W_V = layer.in_proj_weight.chunk(3)
    b_Q, b_K, b_V = layer.in_proj_bias.chunk(3)
    q = exercises.split_heads(F.linear(query, W_Q, b_Q), H)  # (B, H, T, Dh)
    k = exercises.split_heads(F.linear(memory, W_K, b_K), H)  # (B, H, S, Dh)
    v = exercises.split_heads(F.linear(memory, W_V, b_V), H)
    heads, weights = scaled_dot_product_attention(q, k, v, mask)
    out = layer.out_proj(exercises.merge_heads(heads))
    expected_out, expected_weights = layer(query, memory, memory, mask)
    assert_close(out, expected_out)
    assert_close(weights, expected_weights)


@pytest.mark.parametrize(("length", "d_model"), [(1, 2), (7, 10), (50, 16), (300, 64)])
def test_the_encoding_reference_is_the_packages_table(length, d_model):
    assert_close(exercises.positional_encoding(length, d_model), sinusoidal_encoding(length, d_model),
                 atol=1e-4, rtol=0)
    assert exercises.positional_encoding(length, d_model).dtype == torch.float32


def test_answers_that_differ_only_in_form_pass(capsys):
    attnbook.set_language("en")

    def split_with_permute(x, num_heads):
        return x.reshape(x.size(0), x.size(1), num_heads, -1).permute(0, 2, 1, 3)

    def split_with_unflatten(x, num_heads):
        return x.unflatten(-1, (num_heads, -1)).transpose(1, 2)

    def merge_with_cat(x):
        return torch.cat([x[:, i] for i in range(x.size(1))], dim=-1)

    def merge_with_contiguous_view(x):
        B, H, T, Dh = x.shape
        return x.transpose(1, 2).contiguous().view(B, T, H * Dh)

    def encoding_in_log_space(length, d_model):  # the exp/log form many implementations use
        position = torch.arange(length).unsqueeze(1).float()
        frequency = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        table = torch.zeros(length, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency)
        return table

    def encoding_in_float64_with_loops(length, d_model):
        table = torch.zeros(length, d_model, dtype=torch.float64)
        for pos in range(length):
            for i in range(d_model // 2):
                angle = pos / 10000 ** (2 * i / d_model)
                table[pos, 2 * i], table[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
        return table

    for answer in (split_with_permute, split_with_unflatten):
        assert exercises.check_split_heads(answer) is True
    for answer in (merge_with_cat, merge_with_contiguous_view):
        assert exercises.check_merge_heads(answer) is True
    for answer in (encoding_in_log_space, encoding_in_float64_with_loops):
        assert exercises.check_positional_encoding(answer) is True
    assert capsys.readouterr().out.count("✅") == 6


@pytest.mark.parametrize(("T", "S", "d_model", "num_heads"), [(16, 16, 64, 1), (16, 16, 64, 16), (5, 7, 12, 3),
                                                                (9, 4, 24, 6), (1, 30, 8, 2)])
def test_the_predicted_cost_is_what_running_gives(T, S, d_model, num_heads):
    assert exercises.attention_cost(T, S, d_model, num_heads) == exercises._measured_cost(T, S, d_model, num_heads)


def test_the_cost_reproduces_the_chapters_count_and_only_the_weights_grow_with_the_heads():
    costs = {h: exercises.attention_cost(16, 16, 64, h) for h in (1, 2, 4, 8, 16)}
    assert {c[:2] for c in costs.values()} == {(16_640, 589_824)}  # the chapter's table
    assert [c[2] for c in costs.values()] == [256 * h for h in (1, 2, 4, 8, 16)]


def test_the_heads_contributions_add_up_to_the_layer_and_removing_one_is_the_ablation():
    generator = torch.Generator().manual_seed(0)
    layer = exercises._attention_layer(D, H, generator)
    x = torch.randn(B, T, D, generator=generator)
    with torch.no_grad():
        contributions = exercises.head_contributions(layer, x)  # (B, H, T, D)
        out, _ = layer(x, x, x)
    assert contributions.shape == (B, H, T, D)
    assert_close(contributions.sum(dim=1) + layer.out_proj.bias, out)
    Dh = D // H
    for head in range(H):  # chapter 5's ablation: zero head `head`'s block on its way into W^O
        keep = torch.ones(D)
        keep[head * Dh:(head + 1) * Dh] = 0.0
        hook = layer.out_proj.register_forward_pre_hook(lambda module, inputs, keep=keep: (inputs[0] * keep,))
        with torch.no_grad():
            ablated, _ = layer(x, x, x)
        hook.remove()
        assert_close(ablated, out - contributions[:, head])


def test_more_answers_that_differ_only_in_form_pass(capsys):
    attnbook.set_language("en")

    def cost_term_by_term(T, S, d_model, num_heads):
        D, h, Dh = d_model, num_heads, d_model // num_heads
        parameters = 3 * (D * D + D) + (D * D + D)  # in_proj, out_proj
        flops = 2 * T * D * D + 2 * S * D * D * 2 + h * (2 * T * Dh * S + 2 * T * S * Dh) + 2 * T * D * D
        return parameters, flops, h * T * S

    def contributions_head_by_head(layer, x):
        Dh = x.size(-1) // layer.num_heads
        W_Q, W_K, W_V = layer.in_proj_weight.chunk(3)
        b_Q, b_K, b_V = layer.in_proj_bias.chunk(3)
        terms = []
        for i in range(layer.num_heads):
            rows = slice(i * Dh, (i + 1) * Dh)
            q, k, v = (x @ W[rows].T + b[rows] for W, b in ((W_Q, b_Q), (W_K, b_K), (W_V, b_V)))
            head, _ = scaled_dot_product_attention(q, k, v)
            terms.append(head @ layer.out_proj.weight[:, rows].T)
        return torch.stack(terms, dim=1)

    assert exercises.check_attention_cost(cost_term_by_term) is True
    assert exercises.check_head_contributions(contributions_head_by_head) is True
    assert capsys.readouterr().out.count("✅") == 2

"""Chapter 5's exercise references agree with the package, and answers that differ only in form pass.

Sizes are small and odd where shapes matter (B=2, T=5, S=7, D=12, H=3, Dh=4).
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

import attnbook
from attnbook.attention import scaled_dot_product_attention
from attnbook.exercises import multi_head as exercises

B, T, S, D, H = 2, 5, 7, 12, 3


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


@pytest.mark.parametrize("d_model", [64, 512])
def test_the_exercises_follow_up_has_an_answer_self_attention_scores_overtake_the_projections_at_2_d_model(d_model):
    def scores_and_sum(n):  # the FLOPs that are not the four projections, for T = S = n
        return exercises.attention_cost(n, n, d_model, 8)[1] - 8 * n * d_model * d_model

    n = 2 * d_model
    assert scores_and_sum(n) == 8 * n * d_model * d_model  # equal at n = 2·d_model
    assert scores_and_sum(n - 1) < 8 * (n - 1) * d_model * d_model
    assert scores_and_sum(n + 1) > 8 * (n + 1) * d_model * d_model

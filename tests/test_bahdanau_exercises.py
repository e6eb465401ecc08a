"""Chapter 3's masked exercise: the reference is the package's AdditiveAttention with a padding mask."""

from __future__ import annotations

import torch

from attnbook.attention import AdditiveAttention
from attnbook.exercises.bahdanau import masked_additive_attention


def test_masked_additive_attention_is_the_packages_layer():
    torch.manual_seed(0)
    layer = AdditiveAttention(query_dim=4, key_dim=6, hidden_dim=3)
    s_prev, annotations = torch.randn(3, 4), torch.randn(3, 7, 6)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 4, 1])[:, None]
    with torch.no_grad():
        context, weights = masked_additive_attention(s_prev, annotations, mask, layer.W_a.weight,
                                                     layer.U_a.weight, layer.v_a.weight[0])
        expected_context, expected_weights = layer(s_prev, annotations, mask)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(context, expected_context)
    assert torch.all(weights[~mask] == 0)


def test_padding_does_not_change_a_sentences_attention():
    torch.manual_seed(1)
    s_prev, h = torch.randn(1, 4), torch.randn(1, 3, 6)
    W_a, U_a, v_a = torch.randn(5, 4), torch.randn(5, 6), torch.randn(5)
    alone = masked_additive_attention(s_prev, h, torch.ones(1, 3, dtype=torch.bool), W_a, U_a, v_a)
    padded_h = torch.cat([h, torch.randn(1, 2, 6) * 100], dim=1)       # two padding positions, any values
    padded_mask = torch.tensor([[True, True, True, False, False]])
    context, weights = masked_additive_attention(s_prev, padded_h, padded_mask, W_a, U_a, v_a)
    torch.testing.assert_close(context, alone[0])
    torch.testing.assert_close(weights[:, :3], alone[1])

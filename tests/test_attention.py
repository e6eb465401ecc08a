"""attnbook.attention: shapes, equality with PyTorch's attention, invariances, errors.

Sizes are small and odd (B=3, T=5, S=7, D=12, H=3) so that a transposed axis
cannot go unnoticed; equality tests run in float64.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import attnbook
from attnbook.attention import AdditiveAttention, MultiHeadAttention, causal_mask, scaled_dot_product_attention

B, T, S, D, H = 3, 5, 7, 12, 3
F64 = torch.float64


def lengths_to_mask(lengths: list[int], size: int) -> torch.Tensor:
    """(B, size) bool, True at the first ``lengths[b]`` positions (real tokens)."""
    return torch.arange(size) < torch.tensor(lengths)[:, None]


def random_mask(*shape: int) -> torch.Tensor:
    """A random bool mask in which every query row may attend to at least one key."""
    mask = torch.rand(shape) < 0.5
    mask[..., 0] = True
    return mask


# --- scaled dot-product attention -------------------------------------------------------------

PADDING = lengths_to_mask([7, 4, 1], S)[:, None, None, :]  # (B, 1, 1, S)
SDPA_MASKS = {
    "none": None,
    "padding (B,1,1,S)": PADDING,
    "broadcast (B,1,T,S)": random_mask(B, 1, T, S),
    "full (B,H,T,S)": random_mask(B, H, T, S),
    "shared (T,S)": random_mask(T, S),
}


@pytest.mark.parametrize("name", SDPA_MASKS)
def test_sdpa_equals_torch(name):
    mask = SDPA_MASKS[name]
    q, k, v = torch.randn(B, H, T, 4, dtype=F64), torch.randn(B, H, S, 4, dtype=F64), torch.randn(B, H, S, 6, dtype=F64)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (B, H, T, 6) and weights.shape == (B, H, T, S)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert_close(weights.sum(-1), torch.ones(B, H, T, dtype=F64))
    if mask is not None:
        assert (weights[~mask.expand_as(weights)] == 0).all(), "a masked position must get exactly zero weight"
        assert (weights[mask.expand_as(weights)] > 0).all()


def test_sdpa_equals_torch_with_a_causal_mask():
    q, k, v = (torch.randn(B, H, T, 4, dtype=F64) for _ in range(3))
    out, weights = scaled_dot_product_attention(q, k, v, causal_mask(T))
    assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert (weights.triu(diagonal=1) == 0).all()
    assert_close(weights[..., 0, 0], torch.ones(B, H, dtype=F64))  # the first position sees only itself


@pytest.mark.parametrize("batch", [(), (B,), (B, H), (2, B, H)], ids=str)
def test_sdpa_works_for_any_leading_dims(batch):
    q, k, v = torch.randn(*batch, T, 1, dtype=F64), torch.randn(*batch, S, 1, dtype=F64), torch.randn(*batch, S, 2)
    v = v.to(F64)
    mask = random_mask(T, S)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (*batch, T, 2) and weights.shape == (*batch, T, S)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_sdpa_is_eq_1_of_the_paper():
    q, k, v = torch.randn(T, 8, dtype=F64), torch.randn(S, 8, dtype=F64), torch.randn(S, 3, dtype=F64)
    expected = torch.softmax(q @ k.T / 8**0.5, dim=-1)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert_close(weights, expected)
    assert_close(out, expected @ v)


def test_a_query_that_may_attend_to_nothing_gets_zero_weights_and_a_zero_output():
    q, k, v = torch.randn(B, T, 4, dtype=F64, requires_grad=True), torch.randn(B, S, 4, dtype=F64), torch.randn(B, S, 4)
    mask = random_mask(B, T, S)
    mask[1, 2] = False  # query 2 of sentence 1 may attend to no key
    out, weights = scaled_dot_product_attention(q, k, v.to(F64), mask)
    assert (weights[1, 2] == 0).all() and (out[1, 2] == 0).all()
    assert_close(weights.sum(-1)[mask.any(-1)], torch.ones(B * T - 1, dtype=F64))
    assert_close(out, F.scaled_dot_product_attention(q, k, v.to(F64), attn_mask=mask))  # PyTorch does the same
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_torch_multihead_attention_gives_nan_where_we_give_zeros():
    # The module docstring says so; if a PyTorch release changes it, the docstring must change too.
    ours, theirs = MultiHeadAttention(D, H), torch.nn.MultiheadAttention(D, H, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, T, D)
    nothing = torch.zeros(1, T, dtype=torch.bool)
    assert (ours(x, x, x, nothing[:, None, None, :])[0] == 0).all()
    assert torch.isnan(theirs(x, x, x, key_padding_mask=~nothing)[0]).all()


def test_sdpa_refuses_a_bad_mask_or_shapes():
    q, k, v = torch.randn(B, T, 4), torch.randn(B, S, 4), torch.randn(B, S, 6)
    with pytest.raises(TypeError, match="bool"):
        scaled_dot_product_attention(q, k, v, torch.ones(T, S))
    with pytest.raises(ValueError, match="mask"):
        scaled_dot_product_attention(q, k, v, torch.ones(S, T, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        scaled_dot_product_attention(q, k, v, torch.ones(2, B, T, S, dtype=torch.bool))  # would add an axis
    with pytest.raises(ValueError, match="Dk"):
        scaled_dot_product_attention(q, torch.randn(B, S, 5), v)
    with pytest.raises(ValueError, match="Dk"):
        scaled_dot_product_attention(q, k, torch.randn(B, S + 1, 6))


def test_causal_mask():
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(4), expected)
    assert causal_mask(1, device="cpu").device.type == "cpu"
    for size in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="size"):
            causal_mask(size)


# --- additive (Bahdanau) attention ----------------------------------------------------------

DQ, DK, HIDDEN = 5, 6, 4


def additive_inputs():
    torch.manual_seed(1)
    attention = AdditiveAttention(DQ, DK, HIDDEN).double()
    query, keys = torch.randn(B, DQ, dtype=F64), torch.randn(B, S, DK, dtype=F64)
    return attention, query, keys, lengths_to_mask([7, 3, 1], S)


def test_additive_attention_shapes_and_weights():
    attention, query, keys, mask = additive_inputs()
    context, weights = attention(query, keys, mask)
    assert context.shape == (B, DK) and weights.shape == (B, S)
    assert_close(weights.sum(-1), torch.ones(B, dtype=F64))
    assert (weights[~mask] == 0).all() and (weights[mask] > 0).all()
    assert_close(context[2], keys[2, 0])  # one real token: all weight on it


def test_additive_attention_is_eq_6_written_out():
    attention, query, keys, mask = additive_inputs()
    W_a, U_a, v_a = attention.W_a.weight, attention.U_a.weight, attention.v_a.weight[0]
    context, weights = attention(query, keys, mask)
    for b in range(B):
        e = torch.stack([v_a @ torch.tanh(W_a @ query[b] + U_a @ keys[b, j]) for j in range(S)])  # e_ij
        e = e.masked_fill(~mask[b], float("-inf"))
        alpha = torch.exp(e) / torch.exp(e).sum()  # α_ij = softmax_j(e_ij)
        assert_close(weights[b], alpha)
        assert_close(context[b], (alpha[:, None] * keys[b]).sum(0))  # c_i = Σ_j α_ij h_j


def test_additive_attention_has_only_the_papers_parameters():
    attention = AdditiveAttention(DQ, DK, HIDDEN)
    assert {name: tuple(p.shape) for name, p in attention.named_parameters()} == {
        "W_a.weight": (HIDDEN, DQ), "U_a.weight": (HIDDEN, DK), "v_a.weight": (1, HIDDEN)}


def test_padding_never_influences_the_context():
    attention, query, keys, mask = additive_inputs()
    changed = keys.clone()
    changed[~mask] = 100.0 * torch.randn(int((~mask).sum()), DK, dtype=F64)
    assert_close(attention(query, changed, mask), attention(query, keys, mask))


def test_precomputed_keys_give_identical_results():
    attention, query, keys, mask = additive_inputs()
    projected = attention.project_keys(keys)
    assert projected.shape == (B, S, HIDDEN)
    for step in range(3):  # a decoder reuses U_a h_j at every step
        query_i = query + step
        assert_close(attention(query_i, keys, mask, projected_keys=projected), attention(query_i, keys, mask),
                     rtol=0, atol=0)


def test_additive_attention_gradients_reach_every_parameter():
    attention, query, keys, mask = additive_inputs()
    keys.requires_grad_()
    context, _ = attention(query, keys, mask)
    context.pow(2).sum().backward()
    for name, parameter in attention.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert keys.grad.abs().sum() > 0


def test_additive_attention_refuses_bad_input():
    attention, query, keys, mask = additive_inputs()
    with pytest.raises(ValueError, match="query"):
        attention(query[:, :-1], keys)
    with pytest.raises(ValueError, match="keys"):
        attention(query, keys[:2])
    with pytest.raises(ValueError, match="mask"):
        attention(query, keys, mask[:, :-1])
    with pytest.raises(TypeError, match="bool"):
        attention(query, keys, mask.double())
    with pytest.raises(ValueError, match="projected_keys"):
        attention(query, keys, projected_keys=attention.project_keys(keys)[:, :-1])
    with pytest.raises(ValueError, match="hidden_dim"):
        AdditiveAttention(DQ, DK, 0)


# --- multi-head attention ------------------------------------------------------------------


def twin_modules(d_model: int = D, num_heads: int = H, bias: bool = True, **kwargs):
    """Our module and torch.nn.MultiheadAttention with the same (our) weights, in float64."""
    ours = MultiHeadAttention(d_model, num_heads, bias=bias, **kwargs).double()
    theirs = torch.nn.MultiheadAttention(d_model, num_heads, bias=bias, batch_first=True, **kwargs).double()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs


def test_state_dicts_load_both_ways_strictly():
    for bias in (True, False):
        ours = MultiHeadAttention(D, H, bias=bias)
        theirs = torch.nn.MultiheadAttention(D, H, bias=bias, batch_first=True)
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        ours.load_state_dict(theirs.state_dict(), strict=True)
        for key, tensor in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[key], tensor), key
        theirs.load_state_dict(MultiHeadAttention(D, H, bias=bias).state_dict(), strict=True)
    assert set(MultiHeadAttention(D, H, bias=False).state_dict()) == {"in_proj_weight", "out_proj.weight"}


# Each case: (T, S, our mask, torch's keyword arguments). torch uses True = may NOT attend.
def mha_cases():
    pad_s = lengths_to_mask([7, 4, 2], S)  # (B, S)
    pad_t = lengths_to_mask([5, 3, 1], T)  # (B, T)
    causal = causal_mask(T)
    pair = random_mask(B, T, S)
    per_head = random_mask(B, H, T, S)
    return {
        "self, no mask": (T, T, None, {}),
        "self, padding": (T, T, pad_t[:, None, None, :], {"key_padding_mask": ~pad_t}),
        "self, causal": (T, T, causal, {"attn_mask": ~causal}),
        "self, padding and causal": (T, T, causal & pad_t[:, None, None, :],
                                     {"attn_mask": ~causal, "key_padding_mask": ~pad_t}),
        "cross, no mask": (T, S, None, {}),
        "cross, padding": (T, S, pad_s[:, None, None, :], {"key_padding_mask": ~pad_s}),
        "cross, (B,T,S) mask": (T, S, pair, {"attn_mask": (~pair).repeat_interleave(H, dim=0)}),
        "cross, (B,H,T,S) mask": (T, S, per_head, {"attn_mask": (~per_head).reshape(B * H, T, S)}),
    }


MHA_CASES = mha_cases()


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_equals_torch(case, bias):
    t, s, mask, torch_masks = MHA_CASES[case]
    ours, theirs = twin_modules(bias=bias)
    query = torch.randn(B, t, D, dtype=F64)
    memory = query if t == s else torch.randn(B, s, D, dtype=F64)
    out, weights = ours(query, memory, memory, mask)
    expected_out, expected_weights = theirs(query, memory, memory, need_weights=True, average_attn_weights=False,
                                            **torch_masks)
    assert out.shape == (B, t, D) and weights.shape == (B, H, t, s)
    assert_close(out, expected_out)
    assert_close(weights, expected_weights)
    assert_close(weights.sum(-1), torch.ones(B, H, t, dtype=F64))


@pytest.mark.parametrize(("d_model", "num_heads"), [(7, 1), (5, 5), (9, 3)], ids=["H=1", "Dh=1", "D=9,H=3"])
def test_multi_head_attention_equals_torch_for_odd_head_sizes(d_model, num_heads):
    ours, theirs = twin_modules(d_model, num_heads)
    query, memory = torch.randn(2, T, d_model, dtype=F64), torch.randn(2, S, d_model, dtype=F64)
    valid = lengths_to_mask([S, 2], S)
    out, weights = ours(query, memory, memory, valid[:, None, None, :])
    expected = theirs(query, memory, memory, key_padding_mask=~valid, average_attn_weights=False)
    assert_close((out, weights), expected)


def test_loading_torch_weights_gives_torchs_outputs():
    theirs = torch.nn.MultiheadAttention(D, H, batch_first=True).double()
    torch.nn.init.normal_(theirs.in_proj_bias)  # non-zero biases, so a misplaced bias shows
    torch.nn.init.normal_(theirs.out_proj.bias)
    ours = MultiHeadAttention(D, H).double()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(B, T, D, dtype=F64)
    assert_close(ours(x, x, x), theirs(x, x, x, average_attn_weights=False))


def test_self_attention_without_masks_is_permutation_equivariant():
    ours, _ = twin_modules()
    x = torch.randn(B, T, D, dtype=F64)
    permutation = torch.tensor([3, 0, 4, 1, 2])
    out, weights = ours(x, x, x)
    permuted_out, permuted_weights = ours(x[:, permutation], x[:, permutation], x[:, permutation])
    assert_close(permuted_out, out[:, permutation])
    assert_close(permuted_weights, weights[:, :, permutation][..., permutation])
    assert not torch.allclose(permuted_out, out)  # the test would be void if every row were the same


def test_no_information_flows_from_the_future_under_a_causal_mask():
    ours, _ = twin_modules()
    x = torch.randn(B, T, D, dtype=F64)
    out, _ = ours(x, x, x, causal_mask(T))
    for t in range(T):
        changed = x.clone()
        changed[:, t] = torch.randn(B, D, dtype=F64)
        new_out, _ = ours(changed, changed, changed, causal_mask(T))
        assert_close(new_out[:, :t], out[:, :t], rtol=0, atol=0)
        assert not torch.allclose(new_out[:, t], out[:, t])


def test_gradients_flow_to_every_parameter_and_input():
    ours = MultiHeadAttention(D, H)
    query, memory = torch.randn(B, T, D, requires_grad=True), torch.randn(B, S, D, requires_grad=True)
    out, _ = ours(query, memory, memory, lengths_to_mask([7, 4, 2], S)[:, None, None, :])
    out.pow(2).sum().backward()
    for name, parameter in ours.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
    assert query.grad.abs().sum() > 0 and memory.grad.abs().sum() > 0


def test_dropout_acts_only_in_training():
    ours, _ = twin_modules(dropout=0.5)
    without, _ = twin_modules()
    without.load_state_dict(ours.state_dict())
    x = torch.randn(B, T, D, dtype=F64)
    ours.eval()
    assert_close(ours(x, x, x), without(x, x, x))
    ours.train()
    (first, weights), (second, _) = ours(x, x, x), ours(x, x, x)
    assert not torch.allclose(first, second), "training mode must drop attention weights at random"
    assert_close(weights, without(x, x, x)[1])  # the returned weights are those before dropout
    without.train()
    out, weights = without(x, x, x)  # dropout=0: training mode changes nothing
    assert_close(weights.sum(-1), torch.ones(B, H, T, dtype=F64))
    assert_close(out, without.eval()(x, x, x)[0])


FUSED_CASES = ["self, no mask", "self, padding and causal", "cross, padding", "cross, (B,H,T,S) mask"]


@pytest.mark.parametrize("case", FUSED_CASES)
def test_the_fused_path_equals_the_explicit_path(case):
    t, s, mask, _ = MHA_CASES[case]
    ours, _ = twin_modules()
    query = torch.randn(B, t, D, dtype=F64, requires_grad=True)
    memory = query if t == s else torch.randn(B, s, D, dtype=F64)
    out, _ = ours(query, memory, memory, mask)
    fused, no_weights = ours(query, memory, memory, mask, need_weights=False)
    assert no_weights is None
    assert_close(fused, out)
    grads = torch.autograd.grad(out.sum(), [query, *ours.parameters()])
    fused_grads = torch.autograd.grad(fused.sum(), [query, *ours.parameters()])
    assert_close(fused_grads, grads)


def test_the_fused_path_equals_torchs_fast_path():
    ours, theirs = twin_modules()
    ours.eval(), theirs.eval()
    x = torch.randn(B, T, D, dtype=F64)
    valid = lengths_to_mask([5, 3, 1], T)
    with torch.inference_mode():  # torch.nn.MultiheadAttention takes its fast path only here
        expected, _ = theirs(x, x, x, key_padding_mask=~valid, need_weights=False)
        fused, _ = ours(x, x, x, valid[:, None, None, :], need_weights=False)
    assert_close(fused[valid], expected[valid])  # torch's fast path leaves padded queries undefined


@pytest.mark.parametrize(
    ("args", "message"),
    [((12, 5), "divisible"), ((12, 0), "num_heads"), ((0, 1), "d_model"), ((12.0, 3), "d_model"),
     ((12, 3, 1.0), "dropout"), ((12, 3, -0.1), "dropout")],
)
def test_bad_configurations_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(*args)


def test_errors_speak_the_readers_language(in_language):
    with pytest.raises(ValueError) as both:
        MultiHeadAttention(12, 5)
    assert "나누어떨어져야" in str(both.value) and "divisible" in str(both.value)
    in_language("en")
    with pytest.raises(ValueError) as english:
        MultiHeadAttention(12, 5)
    assert "divisible" in str(english.value) and "나누어" not in str(english.value)
    attnbook.set_language("ko")
    with pytest.raises(ValueError) as korean:
        MultiHeadAttention(D, H)(torch.randn(B, T, D + 1), torch.randn(B, S, D), torch.randn(B, S, D))
    assert "모양" in str(korean.value) and "must" not in str(korean.value)


def test_bad_shapes_are_refused():
    attention = MultiHeadAttention(D, H)
    x, memory = torch.randn(B, T, D), torch.randn(B, S, D)
    bad_calls = {
        "query": (torch.randn(T, D), memory, memory, None),
        "query ": (torch.randn(B, T, D - 1), memory, memory, None),
        "key": (x, torch.randn(B + 1, S, D), memory, None),
        "value": (x, memory, torch.randn(B, S, D + 1), None),
        "same length": (x, memory, torch.randn(B, S - 1, D), None),
        "mask": (x, memory, memory, torch.ones(B, S, dtype=torch.bool)),  # (B, S) needs [:, None, None, :]
        "mask ": (x, memory, memory, torch.ones(S, dtype=torch.bool)),
        "mask  ": (x, memory, memory, torch.ones(B, 2, T, S, dtype=torch.bool)),
    }
    for what, args in bad_calls.items():
        with pytest.raises(ValueError, match=what.strip()):
            attention(*args)
    with pytest.raises(TypeError, match="bool"):
        attention(x, memory, memory, torch.ones(T, S))


# --- T5's options: scale, position bias, head width ------------------------------------------------


def test_scale_and_position_bias_change_the_scores_as_documented():
    generator = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 3, n, 5, generator=generator) for n in (4, 6, 6))  # (B, H, T|S, Dk)
    bias = torch.randn(1, 3, 4, 6, generator=generator)
    mask = torch.rand(2, 1, 1, 6, generator=generator) > 0.3
    mask[..., 0] = True
    out, weights = scaled_dot_product_attention(q, k, v, mask, scale=1.0, position_bias=bias)
    expected = torch.where(mask, q @ k.transpose(-2, -1) + bias, float("-inf")).softmax(-1)  # no 1/√Dk
    assert_close(weights, expected)
    assert_close(out, expected @ v)
    default, _ = scaled_dot_product_attention(q, k, v, mask)
    assert_close(scaled_dot_product_attention(q, k, v, mask, scale=5 ** -0.5)[0], default)


def test_head_dim_may_differ_from_d_model_over_h_and_the_fused_path_agrees():
    torch.manual_seed(0)
    attention = MultiHeadAttention(20, 3, bias=False, head_dim=7, scale=1.0).eval()  # H·Dh = 21 ≠ 20
    assert attention.in_proj_weight.shape == (63, 20) and attention.out_proj.weight.shape == (20, 21)
    x, memory = torch.randn(2, 4, 20), torch.randn(2, 6, 20)
    bias = torch.randn(1, 3, 4, 6)
    mask = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    mask[1, ..., 4:] = False
    out, weights = attention(x, memory, memory, mask, position_bias=bias)
    fused, none = attention(x, memory, memory, mask, position_bias=bias, need_weights=False)
    assert out.shape == (2, 4, 20) and weights.shape == (2, 3, 4, 6) and none is None
    assert_close(fused, out, rtol=1e-5, atol=1e-5)
    assert weights[1, ..., 4:].abs().max() == 0
    with pytest.raises(ValueError, match="head_dim"):
        MultiHeadAttention(20, 3, head_dim=0)
    with pytest.raises(ValueError, match="scale"):
        MultiHeadAttention(20, 4, scale=0.0)

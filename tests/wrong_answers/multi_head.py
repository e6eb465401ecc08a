"""Chapter 5: splitting and merging heads, and the sinusoidal positional encoding."""

import math

import torch

# --- split_heads: (B, T, D) → (B, H, T, Dh) ---------------------------------------------------------------


def _split_without_transpose(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, num_heads, D // num_heads)  # (B, T, H, Dh): the heads are not in front yet


def _split_by_reshape(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, num_heads, T, D // num_heads)  # the right shape, cut in memory order


def _split_interleaved(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, D // num_heads, num_heads).permute(0, 3, 1, 2)  # head i gets every H-th feature


def _split_into_the_batch(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, num_heads, D // num_heads).transpose(1, 2).reshape(B * num_heads, T, D // num_heads)


def _split_for_three_heads(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, 3, D // 3).transpose(1, 2)  # the number of heads written down


def _split_with_the_head_size_as_count(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, D // num_heads, num_heads).transpose(1, 2).transpose(-1, -2)  # (B, Dh, T, H) → shapes off


def _split_positions_reversed(x, num_heads):
    B, T, D = x.shape
    return x.flip(1).view(B, T, num_heads, D // num_heads).transpose(1, 2)


# --- merge_heads: (B, H, T, Dh) → (B, T, D) ----------------------------------------------------------------


def _merge_with_view(x):
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).view(B, T, H * Dh)  # transpose leaves the tensor non-contiguous


def _merge_without_transpose(x):
    B, H, T, Dh = x.shape
    return x.reshape(B, T, H * Dh)


def _merge_not_flattened(x):
    return x.transpose(1, 2)


def _merge_interleaved(x):
    B, H, T, Dh = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, H * Dh)  # (B, T, Dh, H): features of the heads alternate


def _merge_along_positions(x):
    return torch.cat([x[:, i] for i in range(x.size(1))], dim=1)  # (B, H·T, Dh)


def _merge_for_three_heads(x):
    return torch.cat([x[:, 0], x[:, 1], x[:, 2]], dim=-1)  # three heads written down


def _merge_heads_reversed(x):
    B, H, T, Dh = x.shape
    return x.flip(1).transpose(1, 2).reshape(B, T, H * Dh)


# --- positional_encoding ---------------------------------------------------------------------------------


def _pe(length, d_model, *, even=torch.sin, odd=torch.cos, exponent=None, first=0):
    position = torch.arange(first, first + length, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    power = two_i / d_model if exponent is None else exponent(two_i, d_model)
    angle = position / 10000**power
    table = torch.zeros(length, d_model)
    table[:, 0::2] = even(angle)
    table[:, 1::2] = odd(angle)
    return table


def _pe_swapped(length, d_model):
    return _pe(length, d_model, even=torch.cos, odd=torch.sin)


def _pe_concatenated(length, d_model):
    position = torch.arange(length, dtype=torch.float32)[:, None]
    angle = position / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)  # [sin … | cos …]


def _pe_column_exponent(length, d_model):
    table = torch.zeros(length, d_model)
    for pos in range(length):
        for j in range(d_model):  # j is the column: odd columns get (2i + 1)/d
            angle = pos / 10000 ** (j / d_model)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


def _pe_i_for_2i(length, d_model):
    return _pe(length, d_model, exponent=lambda two_i, d: (two_i / 2) / d)


def _pe_2i_twice(length, d_model):
    return _pe(length, d_model, exponent=lambda two_i, d: 2 * two_i / d)


def _pe_from_one(length, d_model):
    return _pe(length, d_model, first=1)


def _pe_multiplied(length, d_model):
    position = torch.arange(length, dtype=torch.float32)[:, None]
    angle = position * 10000 ** (torch.arange(0, d_model, 2) / d_model)
    table = torch.zeros(length, d_model)
    table[:, 0::2], table[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return table


def _pe_sine_only(length, d_model):
    return _pe(length, d_model, odd=torch.sin)


def _pe_transposed(length, d_model):
    return _pe(length, d_model).T


def _pe_base_1000(length, d_model):
    position = torch.arange(length, dtype=torch.float32)[:, None]
    angle = position / 1000 ** (torch.arange(0, d_model, 2) / d_model)
    table = torch.zeros(length, d_model)
    table[:, 0::2], table[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return table


WRONG_ANSWERS = {
    "split_heads": [
        ("split-not-transposed", _split_without_transpose),
        ("split-reshape-only", _split_by_reshape),
        ("split-interleaved", _split_interleaved),
        ("split-batch-merged", _split_into_the_batch),
        ("split-hardcoded", _split_for_three_heads),
        ("wrong-shape", _split_with_the_head_size_as_count),
        ("split-wrong", _split_positions_reversed),
    ],
    "merge_heads": [
        ("merge-view", _merge_with_view),
        ("merge-no-transpose", _merge_without_transpose),
        ("merge-not-flattened", _merge_not_flattened),
        ("merge-interleaved", _merge_interleaved),
        ("merge-cat-axis", _merge_along_positions),
        ("merge-hardcoded", _merge_for_three_heads),
        ("merge-wrong", _merge_heads_reversed),
    ],
    "positional_encoding": [
        ("pe-swapped", _pe_swapped),
        ("pe-concatenated", _pe_concatenated),
        ("pe-column-exponent", _pe_column_exponent),
        ("pe-exponent-i", _pe_i_for_2i),
        ("pe-doubled", _pe_2i_twice),
        ("pe-off-by-one", _pe_from_one),
        ("pe-multiplied", _pe_multiplied),
        ("pe-only-sin", _pe_sine_only),
        ("pe-transposed", _pe_transposed),
        ("pe-wrong", _pe_base_1000),
    ],
}


# --- attention_cost: (parameters, FLOPs, weights), checked by running ----------------------------------------


def _cost(T, S, D, H, *, parameters=None, flops=None, weights=None):
    """The right three numbers, with the ones given replaced."""
    right = (4 * D * D + 4 * D, 4 * T * D * D + 4 * S * D * D + 4 * T * S * D, H * T * S)
    return tuple(right[i] if value is None else value for i, value in enumerate((parameters, flops, weights)))


def _params_per_head(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, parameters=num_heads * 4 * d_model * d_model + 4 * d_model)


def _params_without_biases(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, parameters=4 * d_model * d_model)


def _params_without_w_o(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, parameters=3 * d_model * d_model + 3 * d_model)


def _params_of_chapter_4s_head(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, parameters=3 * d_model * d_model + d_model)


def _flops_as_self_attention(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, flops=8 * T * d_model**2 + 4 * T * T * d_model)


def _flops_as_multiply_adds(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, flops=2 * T * d_model**2 + 2 * S * d_model**2 + 2 * T * S * d_model)


def _flops_full_width_heads(T, S, d_model, num_heads):
    D = d_model
    return _cost(T, S, D, num_heads, flops=4 * T * D * D + 4 * S * D * D + 4 * T * S * D * num_heads)


def _flops_projections_only(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, flops=4 * T * d_model**2 + 4 * S * d_model**2)


def _flops_scores_forgotten_twice(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, flops=4 * T * d_model**2 + 4 * S * d_model**2 + 2 * T * S * d_model)


def _weights_without_heads(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, weights=T * S)


def _weights_per_feature(T, S, d_model, num_heads):
    return _cost(T, S, d_model, num_heads, weights=T * S * d_model)


def _as_a_dict(T, S, d_model, num_heads):
    parameters, flops, weights = _cost(T, S, d_model, num_heads)
    return {"parameters": parameters, "flops": flops, "weights": weights}


# --- head_contributions: Σ_i head_i W_i^O ---------------------------------------------------------------------


def _heads(layer, x, *, scale=None, in_bias=True, interleaved=False):
    """Each head's output head_i (B, H, T, Dh), computed as a reader would."""
    B, T, D = x.shape
    H = layer.num_heads
    Dh = D // H
    W_Q, W_K, W_V = layer.in_proj_weight.chunk(3)
    b_Q, b_K, b_V = layer.in_proj_bias.chunk(3) if in_bias else (0, 0, 0)

    def split(t):
        return t.view(B, T, Dh, H).permute(0, 3, 1, 2) if interleaved else t.view(B, T, H, Dh).transpose(1, 2)

    q, k, v = split(x @ W_Q.T + b_Q), split(x @ W_K.T + b_K), split(x @ W_V.T + b_V)
    weights = torch.softmax(q @ k.transpose(-2, -1) / (math.sqrt(Dh) if scale is None else scale), dim=-1)
    return weights @ v


def _with_columns(layer, heads):
    D, H = layer.d_model, layer.num_heads
    return torch.stack([heads[:, i] @ layer.out_proj.weight[:, i * (D // H):(i + 1) * (D // H)].T
                        for i in range(H)], dim=1)


def _contributions_by_rows(layer, x):
    heads, D, H = _heads(layer, x), layer.d_model, layer.num_heads
    Dh = D // H
    return torch.stack([heads[:, i] @ layer.out_proj.weight[i * Dh:(i + 1) * Dh] for i in range(H)], dim=1)


def _bias_in_every_head(layer, x):
    return _with_columns(layer, _heads(layer, x)) + layer.out_proj.bias


def _scaled_by_d_model(layer, x):
    return _with_columns(layer, _heads(layer, x, scale=math.sqrt(layer.d_model)))


def _projections_without_bias(layer, x):
    return _with_columns(layer, _heads(layer, x, in_bias=False))


def _output_shared_equally(layer, x):
    out, _ = layer(x, x, x)
    share = (out - layer.out_proj.bias) / layer.num_heads
    return share[:, None].expand(-1, layer.num_heads, -1, -1)


def _heads_interleaved(layer, x):
    H = layer.num_heads
    heads = _heads(layer, x, interleaved=True)
    return torch.stack([heads[:, i] @ layer.out_proj.weight[:, i::H].T for i in range(H)], dim=1)


def _the_layers_output(layer, x):
    return layer(x, x, x)[0]


def _heads_before_w_o(layer, x):
    return _heads(layer, x)


def _heads_in_reverse_order(layer, x):
    return _with_columns(layer, _heads(layer, x)).flip(1)


WRONG_ANSWERS["attention_cost"] = [
    ("cost-params-per-head", _params_per_head),
    ("cost-params-no-bias", _params_without_biases),
    ("cost-params-no-out", _params_without_w_o),
    ("cost-params-wrong", _params_of_chapter_4s_head),
    ("cost-flops-self", _flops_as_self_attention),
    ("cost-flops-macs", _flops_as_multiply_adds),
    ("cost-flops-heads", _flops_full_width_heads),
    ("cost-flops-projections-only", _flops_projections_only),
    ("cost-flops-wrong", _flops_scores_forgotten_twice),
    ("cost-weights-no-heads", _weights_without_heads),
    ("cost-weights-wrong", _weights_per_feature),
    ("cost-not-three", _as_a_dict),
]
WRONG_ANSWERS["head_contributions"] = [
    ("hc-out-rows", _contributions_by_rows),
    ("hc-bias-each", _bias_in_every_head),
    ("hc-scale", _scaled_by_d_model),
    ("hc-no-in-bias", _projections_without_bias),
    ("hc-equal-shares", _output_shared_equally),
    ("hc-interleaved", _heads_interleaved),
    ("hc-sum-only", _the_layers_output),
    ("hc-before-out", _heads_before_w_o),
    ("hc-wrong", _heads_in_reverse_order),
]

"""Chapter 5: wrong predictions of what a multi-head attention layer costs, and wrong shares of its heads."""

import math

import torch

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


WRONG_ANSWERS = {
    "attention_cost": [
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
    ],
    "head_contributions": [
        ("hc-out-rows", _contributions_by_rows),
        ("hc-bias-each", _bias_in_every_head),
        ("hc-scale", _scaled_by_d_model),
        ("hc-no-in-bias", _projections_without_bias),
        ("hc-equal-shares", _output_shared_equally),
        ("hc-interleaved", _heads_interleaved),
        ("hc-sum-only", _the_layers_output),
        ("hc-before-out", _heads_before_w_o),
        ("hc-wrong", _heads_in_reverse_order),
    ],
}

"""Chapter 4: the variance of the scores, the self-attention mask, and attention with empty rows."""

import math

import torch

from attnbook.exercises.query_key_value import masked_attention


def _attention(q, k, v, mask=None, *, scale=None, axis=-1, fill=float("-inf"), invert=False):
    """Eq. (1) with one knob turned: the scale, the softmax axis, the fill value or the sense of the mask."""
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale is None else scale)
    if mask is not None:
        scores = scores.masked_fill(mask if invert else ~mask, fill)
    weights = torch.softmax(scores, dim=axis)
    return weights @ v, weights


# --- self_attention_mask -------------------------------------------------------------------------------

def _tril(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def _pad_on_queries(ids, pad_id, causal):
    mask = (ids != pad_id)[:, :, None].expand(-1, -1, ids.size(1))
    return mask & _tril(ids.size(1)) if causal else mask


def _pad_on_both_axes(ids, pad_id, causal):
    real = ids != pad_id
    mask = real[:, :, None] & real[:, None, :]
    return mask & _tril(ids.size(1)) if causal else mask


def _triu(ids, pad_id, causal):
    mask = (ids != pad_id)[:, None, :].expand(-1, ids.size(1), -1)
    return mask & torch.ones(ids.size(1), ids.size(1), dtype=torch.bool).triu() if causal else mask


def _strictly_lower(ids, pad_id, causal):
    mask = (ids != pad_id)[:, None, :].expand(-1, ids.size(1), -1)
    return mask & _tril(ids.size(1)).tril(-1) if causal else mask


def _or(ids, pad_id, causal):
    mask = (ids != pad_id)[:, None, :].expand(-1, ids.size(1), -1)
    return mask | _tril(ids.size(1)) if causal else mask


def _torch_convention(ids, pad_id, causal):  # True = masked out, as torch.nn.MultiheadAttention
    mask = (ids == pad_id)[:, None, :].expand(-1, ids.size(1), -1)
    return mask | ~_tril(ids.size(1)) if causal else mask


def _always_causal(ids, pad_id, causal):
    return (ids != pad_id)[:, None, :] & _tril(ids.size(1))


def _never_causal(ids, pad_id, causal):
    return (ids != pad_id)[:, None, :].expand(-1, ids.size(1), -1)


def _pad_zero(ids, pad_id, causal):
    mask = (ids != 0)[:, None, :].expand(-1, ids.size(1), -1)
    return mask & _tril(ids.size(1)) if causal else mask


def _no_padding(ids, pad_id, causal):
    T = ids.size(1)
    return (_tril(T) if causal else torch.ones(T, T, dtype=torch.bool)).expand(ids.size(0), T, T)


def _broadcastable_only(ids, pad_id, causal):
    mask = (ids != pad_id)[:, None, :]  # (B, 1, T): broadcasts, but the exercise asks for (B, T, T)
    return mask & _tril(ids.size(1)) if causal else mask


def _batch_missing(ids, pad_id, causal):
    return torch.ones(ids.size(1), ids.size(1), dtype=torch.bool).tril()  # (T, T): one mask for every sentence


def _as_integers(ids, pad_id, causal):
    mask = (ids != pad_id)[:, None, :] & _tril(ids.size(1)) if causal else \
        (ids != pad_id)[:, None, :].expand(-1, ids.size(1), -1)
    return mask.long()


WRONG_ANSWERS = {
    "self_attention_mask": [
        ("mask-pad-on-queries", _pad_on_queries),
        ("mask-pad-rows", _pad_on_both_axes),
        ("mask-future", _triu),
        ("mask-no-self", _strictly_lower),
        ("mask-or", _or),
        ("mask-inverted", _torch_convention),
        ("mask-causal-flag", _always_causal),
        ("mask-causal-flag", _never_causal),
        ("mask-pad-id", _pad_zero),
        ("mask-no-padding", _no_padding),
        ("mask-not-expanded", _broadcastable_only),
        ("wrong-shape", _batch_missing),
        ("wrong-dtype", _as_integers),
    ],
}



# --- score_variance: a prediction of Var(q·k), checked by running ------------------------------------------


def _variance_of_one(d_k, q_std, k_std, scaled):
    return 1.0 if scaled else float(d_k)  # the chapter's numbers, whatever the standard deviations


def _stds_not_squared(d_k, q_std, k_std, scaled):
    return q_std * k_std if scaled else d_k * q_std * k_std


def _variances_added(d_k, q_std, k_std, scaled):
    return (q_std**2 + k_std**2) * (1 if scaled else d_k)


def _divided_by_root(d_k, q_std, k_std, scaled):
    variance = d_k * q_std**2 * k_std**2
    return variance / math.sqrt(d_k) if scaled else variance  # as if the variance shrank like the scores


def _divided_twice(d_k, q_std, k_std, scaled):
    variance = d_k * q_std**2 * k_std**2
    return variance / d_k**2 if scaled else variance


def _scaling_forgotten(d_k, q_std, k_std, scaled):
    return d_k * q_std**2 * k_std**2


def _scaled_read_backwards(d_k, q_std, k_std, scaled):
    variance = d_k * q_std**2 * k_std**2
    return variance if scaled else variance / d_k


def _a_standard_deviation(d_k, q_std, k_std, scaled):
    return math.sqrt(d_k * q_std**2 * k_std**2 / (d_k if scaled else 1))


def _measured_inside(d_k, q_std, k_std, scaled):
    qs, ks = torch.randn(5000, d_k) * q_std, torch.randn(5000, d_k) * k_std  # samples, not a derivation
    dots = (qs * ks).sum(dim=-1)
    return (dots / math.sqrt(d_k) if scaled else dots).var().item()


def _sample_variance_n_minus_one(d_k, q_std, k_std, scaled):
    variance = (d_k - 1) * q_std**2 * k_std**2  # Bessel's n − 1 where it does not belong
    return variance / d_k if scaled else variance


def _one_variance_per_component(d_k, q_std, k_std, scaled):
    return torch.full((d_k,), q_std**2 * k_std**2)  # the variance of each product, not of their sum


# --- masked_attention: some queries may see no key -----------------------------------------------------


def _plain_masked_attention(q, k, v, mask):
    return _attention(q, k, v, mask)  # a row of -inf: softmax gives 0/0 = nan


def _fill_minus_1e9(q, k, v, mask):
    return _attention(q, k, v, mask, fill=-1e9)


def _fill_float_min(q, k, v, mask):
    return _attention(q, k, v, mask, fill=torch.finfo(q.dtype).min)


def _output_before_the_fix(q, k, v, mask):
    out, weights = _attention(q, k, v, mask)
    return out, torch.nan_to_num(weights)  # the weights are fixed, but out already holds 0 · nan


def _all_instead_of_any(q, k, v, mask):
    _, weights = _attention(q, k, v, mask, fill=-1e9)
    keep = mask.all(dim=-1, keepdim=True)  # zeroes every row with any hidden key
    weights = weights * keep
    return weights @ v, weights


def _empty_rows_unscaled(q, k, v, mask):
    weights = torch.nan_to_num(_attention(q, k, v, mask, scale=1.0)[1])
    return weights @ v, weights


def _empty_rows_fill_zero(q, k, v, mask):
    weights = _attention(q, k, v, mask, fill=0.0)[1] * mask.any(dim=-1, keepdim=True)
    return weights @ v, weights


def _empty_rows_k_dot_t(q, k, v, mask):
    scores = (q @ k.T / math.sqrt(q.size(-1))).masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1))
    return weights @ v, weights


def _the_packages_attention(q, k, v, mask):
    from attnbook.attention import scaled_dot_product_attention

    return scaled_dot_product_attention(q, k, v, mask)


WRONG_ANSWERS["score_variance"] = [
    ("var-std-ignored", _variance_of_one),
    ("var-std-not-squared", _stds_not_squared),
    ("var-added", _variances_added),
    ("var-scale-root", _divided_by_root),
    ("var-scale-twice", _divided_twice),
    ("var-scaled-ignored", _scaling_forgotten),
    ("var-scaled-inverted", _scaled_read_backwards),
    ("var-std-returned", _a_standard_deviation),
    ("var-measured", _measured_inside),
    ("var-wrong", _sample_variance_n_minus_one),
    ("var-not-a-number", _one_variance_per_component),
]
WRONG_ANSWERS["masked_attention"] = [
    ("empty-row-nan", _plain_masked_attention),
    ("empty-row-uniform", _fill_minus_1e9),
    ("empty-row-uniform", _fill_float_min),
    ("empty-row-out-nan", _output_before_the_fix),
    ("empty-row-wrong-rows", _all_instead_of_any),
    ("empty-row-package", _the_packages_attention),
    ("sdpa-no-scale", _empty_rows_unscaled),
    ("sdpa-mask-zero", _empty_rows_fill_zero),
    ("sdpa-batch-transpose", _empty_rows_k_dot_t),
]


# eq. (1)'s own mistakes, in answers that do handle the empty rows (their weights and output are zeroed)


def _empty_rows_zeroed(weights, v, mask):
    weights = torch.nan_to_num(weights) * mask.any(dim=-1, keepdim=True)
    return weights @ v, weights


def _divided_by_d_k(q, k, v, mask):
    return _empty_rows_zeroed(_attention(q, k, v, mask, scale=q.size(-1))[1], v, mask)


def _divided_by_number_of_keys(q, k, v, mask):
    return _empty_rows_zeroed(_attention(q, k, v, mask, scale=math.sqrt(k.size(-2)))[1], v, mask)


def _softmax_over_queries(q, k, v, mask):
    return _empty_rows_zeroed(_attention(q, k, v, mask, axis=-2)[1], v, mask)


def _k_as_given(q, k, v, mask):
    scores = (q @ k / math.sqrt(q.size(-1))).masked_fill(~mask, float("-inf"))  # q @ k, not q @ kᵀ
    return _empty_rows_zeroed(torch.softmax(scores, dim=-1), v, mask)


def _torch_mm_with_empty_rows(q, k, v, mask):
    scores = torch.mm(q, k.t()) / math.sqrt(q.size(-1))  # matrices only: a batch raises
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return _empty_rows_zeroed(weights, v, mask)


def _scaled_in_place(q, k, v, mask):
    q /= math.sqrt(q.size(-1))  # changes the caller's q
    return _empty_rows_zeroed(_attention(q, k, v, mask, scale=1.0)[1], v, mask)


def _mask_not_used(q, k, v, mask):
    weights = _attention(q, k, v)[1] * mask.any(dim=-1, keepdim=True)
    return weights @ v, weights


def _true_read_as_hidden(q, k, v, mask):
    return _empty_rows_zeroed(_attention(q, k, v, mask, fill=float("-inf"), invert=True)[1], v, mask)


def _zeroed_after_the_softmax(q, k, v, mask):
    weights = _attention(q, k, v)[1] * mask  # an empty row becomes 0 too, but the others no longer sum to one
    return weights @ v, weights


def _keys_averaged(q, k, v, mask):
    _, weights = masked_attention(q, k, v, mask)
    return weights @ k, weights


def _output_only(q, k, v, mask):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _weights_returned_first(q, k, v, mask):
    out, weights = masked_attention(q, k, v, mask)
    return weights, out


def _scores_average_the_values(q, k, v, mask):
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~mask, 0.0)
    _, weights = masked_attention(q, k, v, mask)
    return scores @ v, weights


WRONG_ANSWERS["masked_attention"] += [
    ("sdpa-no-sqrt", _divided_by_d_k),
    ("sdpa-scale-size", _divided_by_number_of_keys),
    ("sdpa-softmax-axis", _softmax_over_queries),
    ("sdpa-k-not-transposed", _k_as_given),
    ("sdpa-batch-transpose", _torch_mm_with_empty_rows),
    ("sdpa-changed-input", _scaled_in_place),
    ("sdpa-mask-ignored", _mask_not_used),
    ("sdpa-mask-inverted", _true_read_as_hidden),
    ("sdpa-mask-after-softmax", _zeroed_after_the_softmax),
    ("sdpa-used-keys", _keys_averaged),
    ("sdpa-not-out-and-weights", _output_only),
    ("sdpa-swapped", _weights_returned_first),
    ("sdpa-wrong-out", _scores_average_the_values),
]

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

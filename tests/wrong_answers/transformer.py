"""Chapter 6: the decoder's masks and one encoder layer's forward pass."""

import torch
import torch.nn.functional as F


def _tril(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


# --- decoder_masks ----------------------------------------------------------------------------------------

def _no_causal(src, tgt_in, pad_id):
    T = tgt_in.size(1)
    return (tgt_in != pad_id)[:, None, None, :].expand(-1, 1, T, T), (src != pad_id)[:, None, None, :]


def _no_target_padding(src, tgt_in, pad_id):
    T = tgt_in.size(1)
    return _tril(T).expand(tgt_in.size(0), 1, T, T), (src != pad_id)[:, None, None, :]


def _triu(src, tgt_in, pad_id):
    T = tgt_in.size(1)
    return torch.ones(T, T, dtype=torch.bool).triu() & (tgt_in != pad_id)[:, None, None, :], \
        (src != pad_id)[:, None, None, :]


def _strictly_lower(src, tgt_in, pad_id):
    T = tgt_in.size(1)
    return _tril(T).tril(-1) & (tgt_in != pad_id)[:, None, None, :], (src != pad_id)[:, None, None, :]


def _torch_convention(src, tgt_in, pad_id):  # True = masked out, as nn.Transformer's tgt_mask and padding masks
    T = tgt_in.size(1)
    return ~_tril(T) | (tgt_in == pad_id)[:, None, None, :], (src == pad_id)[:, None, None, :]


def _cross_from_target(src, tgt_in, pad_id):
    real = (tgt_in != pad_id)[:, None, None, :]
    return _tril(tgt_in.size(1)) & real, real


def _cross_on_queries(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) & (tgt_in != pad_id)[:, None, None, :], (src != pad_id)[:, None, :, None]


def _cross_causal(src, tgt_in, pad_id):
    T, S = tgt_in.size(1), src.size(1)
    return _tril(T) & (tgt_in != pad_id)[:, None, None, :], \
        torch.ones(T, S, dtype=torch.bool).tril() & (src != pad_id)[:, None, None, :]


def _cross_no_padding(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) & (tgt_in != pad_id)[:, None, None, :], \
        torch.ones(src.size(0), 1, 1, src.size(1), dtype=torch.bool)


def _pad_zero(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) & (tgt_in != 0)[:, None, None, :], (src != 0)[:, None, None, :]


def _no_head_axis(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) & (tgt_in != pad_id)[:, None, :], (src != pad_id)[:, None, None, :]


def _or(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) | (tgt_in != pad_id)[:, None, None, :], (src != pad_id)[:, None, None, :]


def _padding_on_queries(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) & (tgt_in != pad_id)[:, None, :, None], (src != pad_id)[:, None, None, :]


def _swapped(src, tgt_in, pad_id):
    return (src != pad_id)[:, None, None, :], _tril(tgt_in.size(1)) & (tgt_in != pad_id)[:, None, None, :]


def _self_mask_only(src, tgt_in, pad_id):
    return _tril(tgt_in.size(1)) & (tgt_in != pad_id)[:, None, None, :]


# --- encoder_layer_forward --------------------------------------------------------------------------------

def _pre_norm(layer, x, mask=None):
    h = layer.norm1(x)
    x = x + layer.self_attn(h, h, h, mask)[0]
    return x + layer.linear2(torch.relu(layer.linear1(layer.norm2(x))))


def _no_residual(layer, x, mask=None):
    x = layer.norm1(layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(layer.linear2(torch.relu(layer.linear1(x))))


def _no_ffn_residual(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(layer.linear2(torch.relu(layer.linear1(x))))


def _add_after_norm(layer, x, mask=None):
    x = x + layer.norm1(layer.self_attn(x, x, x, mask)[0])
    return x + layer.norm2(layer.linear2(torch.relu(layer.linear1(x))))


def _relu_after_linear2(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + torch.relu(layer.linear2(layer.linear1(x))))


def _relu_twice(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + torch.relu(layer.linear2(torch.relu(layer.linear1(x)))))


def _no_relu(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + layer.linear2(layer.linear1(x)))


def _mask_inverted(layer, x, mask=None):
    mask = None if mask is None else ~mask  # torch.nn's convention, True = masked out
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))


def _mask_ignored(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x)[0])
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))


def _functional_dropout(layer, x, mask=None):
    x = layer.norm1(x + F.dropout(layer.self_attn(x, x, x, mask)[0], 0.1))  # training=True by default
    return layer.norm2(x + F.dropout(layer.linear2(torch.relu(layer.linear1(x))), 0.1))


def _ffn_reads_the_input(layer, x, mask=None):
    h = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(h + layer.linear2(torch.relu(layer.linear1(x))))


def _norms_swapped(layer, x, mask=None):
    x = layer.norm2(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm1(x + layer.linear2(torch.relu(layer.linear1(x))))


def _one_norm(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm1(x + layer.linear2(torch.relu(layer.linear1(x))))


def _attention_tuple(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask))  # forgot that self_attn returns (out, weights)
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))


def _returns_weights(layer, x, mask=None):
    attended, weights = layer.self_attn(x, x, x, mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x)))), weights


def _switches_to_training(layer, x, mask=None):
    layer.train()
    x = layer.norm1(x + layer.dropout1(layer.self_attn(x, x, x, mask)[0]))
    return layer.norm2(x + layer.dropout2(layer.linear2(torch.relu(layer.linear1(x)))))


def _in_place(layer, x, mask=None):
    x += layer.self_attn(x, x, x, mask)[0]
    x = layer.norm1(x)
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))


def _gelu(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + layer.linear2(F.gelu(layer.linear1(x))))


def _sigmoid(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    return layer.norm2(x + layer.linear2(torch.sigmoid(layer.linear1(x))))


WRONG_ANSWERS = {
    "decoder_masks": [
        ("dm-no-causal", _no_causal),
        ("dm-no-target-padding", _no_target_padding),
        ("dm-future", _triu),
        ("dm-no-diagonal", _strictly_lower),
        ("dm-inverted", _torch_convention),
        ("dm-cross-from-target", _cross_from_target),
        ("dm-cross-on-queries", _cross_on_queries),
        ("dm-cross-causal", _cross_causal),
        ("dm-cross-no-padding", _cross_no_padding),
        ("dm-pad-id", _pad_zero),
        ("dm-no-head-axis", _no_head_axis),
        ("dm-or", _or),
        ("dm-pad-on-queries", _padding_on_queries),
        ("dm-swapped", _swapped),
        ("dm-not-a-pair", _self_mask_only),
    ],
    "encoder_layer_forward": [
        ("el-pre-norm", _pre_norm),
        ("el-no-residual", _no_residual),
        ("el-no-residual", _no_ffn_residual),
        ("el-residual-after-norm", _add_after_norm),
        ("el-relu-place", _relu_after_linear2),
        ("el-relu-place", _relu_twice),
        ("el-no-relu", _no_relu),
        ("el-mask-inverted", _mask_inverted),
        ("el-mask-ignored", _mask_ignored),
        ("el-dropout-active", _functional_dropout),
        ("el-ffn-input", _ffn_reads_the_input),
        ("el-norms-swapped", _norms_swapped),
        ("el-one-norm", _one_norm),
        ("el-attention-tuple", _attention_tuple),
        ("el-returned-pair", _returns_weights),
        ("el-train-mode", _switches_to_training),
        ("el-changed-input", _in_place),
        ("el-gelu", _gelu),
        ("el-wrong", _sigmoid),
    ],
}

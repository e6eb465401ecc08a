"""Chapter 6: the decoder's masks, a parameter count and the label-smoothed loss."""

import torch
import torch.nn.functional as F

from attnbook.exercises.transformer import transformer_parameter_count


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
}


# --- label_smoothed_loss ---------------------------------------------------------------------------------


def _smoothed_target(targets, V, epsilon, *, others=False, short=False):
    one_hot = F.one_hot(targets, V).float()
    if others:
        return (1 - epsilon) * one_hot + epsilon / (V - 1) * (1 - one_hot)
    if short:
        return (1 - epsilon) * one_hot + epsilon / V * (1 - one_hot)
    return (1 - epsilon) * one_hot + epsilon / V


def _per_position(logits, targets, epsilon, **kwargs):
    q = _smoothed_target(targets, logits.size(-1), epsilon, **kwargs)
    return -(q * logits.log_softmax(dim=-1)).sum(dim=-1)  # (B, T)


def _spread_over_the_others(logits, targets, pad_id, epsilon):
    loss = _per_position(logits, targets, epsilon, others=True)
    return loss[targets != pad_id].mean()


def _reference_gets_only_1_minus_epsilon(logits, targets, pad_id, epsilon):
    loss = _per_position(logits, targets, epsilon, short=True)
    return loss[targets != pad_id].mean()


def _padding_counted(logits, targets, pad_id, epsilon):
    return _per_position(logits, targets, epsilon).mean()


def _padding_zeroed_but_counted(logits, targets, pad_id, epsilon):
    real = (targets != pad_id).float()
    return (_per_position(logits, targets, epsilon) * real).sum() / real.numel()


def _mean_of_sentence_means(logits, targets, pad_id, epsilon):
    loss, real = _per_position(logits, targets, epsilon), (targets != pad_id).float()
    return ((loss * real).sum(dim=1) / real.sum(dim=1)).mean()


def _summed(logits, targets, pad_id, epsilon):
    return _per_position(logits, targets, epsilon)[targets != pad_id].sum()


def _log_softmax_over_positions(logits, targets, pad_id, epsilon):
    q = _smoothed_target(targets, logits.size(-1), epsilon)
    loss = -(q * logits.log_softmax(dim=1)).sum(dim=-1)
    return loss[targets != pad_id].mean()


def _kl_divergence(logits, targets, pad_id, epsilon):
    q = _smoothed_target(targets, logits.size(-1), epsilon)
    kl = F.kl_div(logits.log_softmax(dim=-1), q, reduction="none").sum(dim=-1)  # Σ q (log q − log p)
    return kl[targets != pad_id].mean()


def _smoothing_the_prediction(logits, targets, pad_id, epsilon):
    p = (1 - epsilon) * logits.softmax(dim=-1) + epsilon / logits.size(-1)
    loss = -p.gather(-1, targets[..., None]).squeeze(-1).log()
    return loss[targets != pad_id].mean()


def _probabilities_without_log(logits, targets, pad_id, epsilon):
    q = _smoothed_target(targets, logits.size(-1), epsilon)
    loss = -(q * logits.softmax(dim=-1)).sum(dim=-1)
    return loss[targets != pad_id].mean()


def _no_smoothing(logits, targets, pad_id, epsilon):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id)


def _pad_is_zero(logits, targets, pad_id, epsilon):
    return _per_position(logits, targets, epsilon)[targets != 0].mean()


def _as_a_python_number(logits, targets, pad_id, epsilon):
    log_p = logits.log_softmax(dim=-1)
    q = (1 - epsilon) * F.one_hot(targets, logits.size(-1)).float() + epsilon / logits.size(-1)
    loss = -(q * log_p).sum(dim=-1)[targets != pad_id].mean()
    return torch.tensor(loss.item())  # the graph is gone


def _with_pytorchs_smoothing(logits, targets, pad_id, epsilon):
    return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=pad_id, label_smoothing=epsilon)


def _per_token_losses(logits, targets, pad_id, epsilon):
    return _per_position(logits, targets, epsilon)[targets != pad_id]


def _smoothing_spread_over_the_batch(logits, targets, pad_id, epsilon):
    real = targets != pad_id
    q = (1 - epsilon) * F.one_hot(targets, logits.size(-1)).float() + epsilon / real.sum()  # ε over the tokens
    loss = -(q * logits.log_softmax(dim=-1)).sum(dim=-1)
    return loss[real].mean()


# --- transformer_parameter_count ------------------------------------------------------------------------


def _parts(config):
    D, d_ff = config.d_model, config.d_ff
    attention = 4 * D * D + 4 * D
    feed_forward = 2 * D * d_ff + d_ff + D
    return D, attention, feed_forward, 2 * D


def _with_the_positional_table(config):
    return transformer_parameter_count(config) + config.max_len * config.d_model  # PE counted as learned


def _without_final_norms(config):
    D, attention, feed_forward, norm = _parts(config)
    return (config.src_vocab_size + config.tgt_vocab_size) * D \
        + config.num_encoder_layers * (attention + feed_forward + 2 * norm) \
        + config.num_decoder_layers * (2 * attention + feed_forward + 3 * norm) \
        + D * config.tgt_vocab_size + config.tgt_vocab_size


def _decoder_layers_like_encoder_layers(config):
    D, attention, feed_forward, norm = _parts(config)
    layers = config.num_encoder_layers + config.num_decoder_layers
    return (config.src_vocab_size + config.tgt_vocab_size) * D + layers * (attention + feed_forward + 2 * norm) \
        + (2 * norm if config.norm_first else 0) + D * config.tgt_vocab_size + config.tgt_vocab_size


def _attention_per_head(config):
    D = config.d_model
    return transformer_parameter_count(config) + (config.num_heads - 1) * (4 * D * D + 4 * D) * (
        config.num_encoder_layers + 2 * config.num_decoder_layers)


def _without_biases(config):
    D, d_ff = config.d_model, config.d_ff
    biases = (config.num_encoder_layers + 2 * config.num_decoder_layers) * 4 * D \
        + (config.num_encoder_layers + config.num_decoder_layers) * (d_ff + D) + config.tgt_vocab_size
    return transformer_parameter_count(config) - biases


def _layer_norm_without_beta(config):
    D = config.d_model
    norms = 2 * config.num_encoder_layers + 3 * config.num_decoder_layers + (2 if config.norm_first else 0)
    return transformer_parameter_count(config) - norms * D


def _padding_rows_left_out(config):
    return transformer_parameter_count(config) - 2 * config.d_model


def _output_without_bias(config):
    return transformer_parameter_count(config) - config.tgt_vocab_size


def _counted_by_building(config):
    from attnbook.transformer import Transformer

    return sum(p.numel() for p in Transformer(config).parameters())


def _as_a_float(config):
    return transformer_parameter_count(config) / 1e6  # in millions


def _embeddings_counted_as_d_model_squared(config):
    D = config.d_model
    return transformer_parameter_count(config) - (config.src_vocab_size + config.tgt_vocab_size) * D + 2 * D * D


WRONG_ANSWERS["label_smoothed_loss"] = [
    ("ls-spread-others", _spread_over_the_others),
    ("ls-true-class", _reference_gets_only_1_minus_epsilon),
    ("ls-padding-counted", _padding_counted),
    ("ls-mean-over-all", _padding_zeroed_but_counted),
    ("ls-sentence-mean", _mean_of_sentence_means),
    ("ls-sum", _summed),
    ("ls-softmax-axis", _log_softmax_over_positions),
    ("ls-kl", _kl_divergence),
    ("ls-smoothed-prediction", _smoothing_the_prediction),
    ("ls-not-log", _probabilities_without_log),
    ("ls-no-smoothing", _no_smoothing),
    ("ls-pad-id", _pad_is_zero),
    ("ls-detached", _as_a_python_number),
    ("ls-used-pytorch", _with_pytorchs_smoothing),
    ("ls-not-scalar", _per_token_losses),
    ("ls-wrong", _smoothing_spread_over_the_batch),
]
WRONG_ANSWERS["transformer_parameter_count"] = [
    ("tc-positional", _with_the_positional_table),
    ("tc-final-norms-missing", _without_final_norms),
    ("tc-decoder-one-attention", _decoder_layers_like_encoder_layers),
    ("tc-heads", _attention_per_head),
    ("tc-no-biases", _without_biases),
    ("tc-layer-norm-half", _layer_norm_without_beta),
    ("tc-pad-row", _padding_rows_left_out),
    ("tc-output", _output_without_bias),
    ("tc-built-a-model", _counted_by_building),
    ("tc-not-an-integer", _as_a_float),
    ("tc-wrong", _embeddings_counted_as_d_model_squared),
]

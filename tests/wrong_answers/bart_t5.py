"""Chapter 9: span corruption, text infilling, T5's position buckets, T5's length budget."""

import math

import torch

# --- span_corruption ---------------------------------------------------------------------------------------


def _spans(noise_mask):
    """(start, end) of each run of noise, as a reader might find them."""
    runs, start = [], None
    for i, noise in enumerate([*list(noise_mask), False]):
        if noise and start is None:
            start = i
        if not noise and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _sc_one_sentinel(tokens, noise_mask, sentinels):
    """The same <extra_id_0> for every span."""
    inputs, targets = [], []
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[0])
            targets.append(sentinels[0])
        (targets if noise else inputs).append(token)
    if not noise_mask[-1]:
        targets.append(sentinels[0])
    return inputs, targets


def _sc_no_final(tokens, noise_mask, sentinels):
    """Right but for the final sentinel, forgotten when the text ends with kept tokens."""
    inputs, targets, k = [], [], 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[k])
            targets.append(sentinels[k])
            k += 1
        (targets if noise else inputs).append(token)
    return inputs, targets


def _sc_final_always(tokens, noise_mask, sentinels):
    """A final sentinel whatever the text ends with."""
    inputs, targets, k = [], [], 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[k])
            targets.append(sentinels[k])
            k += 1
        (targets if noise else inputs).append(token)
    return inputs, [*targets, sentinels[k]]


def _sc_wraparound(tokens, noise_mask, sentinels):
    """noise_mask[i - 1] at i = 0 reads the last token: a text ending with noise loses its first sentinel."""
    inputs, targets, k = [], [], 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and not noise_mask[i - 1]:
            inputs.append(sentinels[k])
            targets.append(sentinels[k])
            k += 1
        (targets if noise else inputs).append(token)
    if not noise_mask[-1]:
        targets.append(sentinels[k])
    return inputs, targets


def _sc_first_token_leaks(tokens, noise_mask, sentinels):
    """The sentinel takes the place of the span's first token, which stays in the inputs as well."""
    inputs, targets, k = [], [], 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs += [sentinels[k], token]
            targets.append(sentinels[k])
            k += 1
            continue
        (targets if noise else inputs).append(token)
    if not noise_mask[-1]:
        targets.append(sentinels[k])
    return inputs, targets


def _sc_off_by_one_slices(tokens, noise_mask, sentinels):
    """Spans found, then sliced as tokens[start:end - 1]: the last token of each span stays."""
    inputs, targets, position = [], [], 0
    runs = _spans(noise_mask)
    for k, (start, end) in enumerate(runs):
        inputs += [*list(tokens[position:start]), sentinels[k]]
        targets += [sentinels[k], *list(tokens[start:end])]
        position = end - 1
    inputs += list(tokens[position:])
    if not noise_mask[-1]:
        targets.append(sentinels[len(runs)])
    return inputs, targets


def _sc_sentinel_per_token(tokens, noise_mask, sentinels):
    """A sentinel for every hidden token."""
    inputs, targets, k = [], [], 0
    for token, noise in zip(tokens, noise_mask, strict=True):
        if noise:
            inputs.append(sentinels[k])
            targets += [sentinels[k], token]
            k += 1
        else:
            inputs.append(token)
    if not noise_mask[-1]:
        targets.append(sentinels[k])
    return inputs, targets


def _sc_sentinel_by_position(tokens, noise_mask, sentinels):
    """sentinels[i] with i the position where the span starts."""
    inputs, targets = [], []
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[i % len(sentinels)])
            targets.append(sentinels[i % len(sentinels)])
        (targets if noise else inputs).append(token)
    if not noise_mask[-1]:
        targets.append(sentinels[len(_spans(noise_mask))])
    return inputs, targets


def _sc_targets_only_sentinels(tokens, noise_mask, sentinels):
    """The targets list the sentinels, not what they hid."""
    inputs, targets, k = [], [], 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[k])
            targets.append(sentinels[k])
            k += 1
        if not noise:
            inputs.append(token)
    if not noise_mask[-1]:
        targets.append(sentinels[k])
    return inputs, targets


def _sc_targets_bare(tokens, noise_mask, sentinels):
    """The targets are the hidden tokens alone."""
    inputs, k = [], 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[k])
            k += 1
        if not noise:
            inputs.append(token)
    return inputs, [t for t, noise in zip(tokens, noise_mask, strict=True) if noise]


def _sc_sentinel_after(tokens, noise_mask, sentinels):
    """In the targets, each span's tokens first, then its sentinel."""
    inputs, targets = [], []
    for k, (start, end) in enumerate(_spans(noise_mask)):
        targets += [*list(tokens[start:end]), sentinels[k]]
    k = 0
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        if noise and (i == 0 or not noise_mask[i - 1]):
            inputs.append(sentinels[k])
            k += 1
        if not noise:
            inputs.append(token)
    return inputs, targets


def _sc_swapped(tokens, noise_mask, sentinels):
    """The noise read as the tokens to keep."""
    from attnbook.exercises.bart_t5 import span_corruption

    return span_corruption(tokens, [not m for m in noise_mask], sentinels)


def _sc_pops(tokens, noise_mask, sentinels):
    """Right answer, but built by popping the hidden tokens out of the reader's list."""
    from attnbook.exercises.bart_t5 import span_corruption

    inputs, targets = span_corruption(list(tokens), list(noise_mask), sentinels)
    tokens[:] = inputs
    return inputs, targets


def _sc_strings(tokens, noise_mask, sentinels):
    """Joined into strings, as the paper's figure prints them."""
    from attnbook.exercises.bart_t5 import span_corruption

    inputs, targets = span_corruption(tokens, noise_mask, sentinels)
    return " ".join(map(str, inputs)), " ".join(map(str, targets))


# --- text_infilling ----------------------------------------------------------------------------------------


def _ti_bert(tokens, spans, mask):
    """One mask per hidden token (and one for an insertion)."""
    out, position = [], 0
    for start, length in spans:
        out += list(tokens[position:start]) + [mask] * max(length, 1)
        position = start + length
    return out + list(tokens[position:])


def _ti_skip_empty(tokens, spans, mask):
    """`for start, length in spans: if length == 0: continue`."""
    out, position = [], 0
    for start, length in spans:
        if length == 0:
            continue
        out += [*list(tokens[position:start]), mask]
        position = start + length
    return out + list(tokens[position:])


def _ti_in_order(tokens, spans, mask):
    """Each span applied to the list already changed."""
    out = list(tokens)
    for start, length in spans:
        out[start:start + length] = [mask]
    return out


def _ti_zero_is_one(tokens, spans, mask):
    """`length = max(length, 1)`: an insertion replaces a token."""
    out, position = [], 0
    for start, length in spans:
        out += [*list(tokens[position:start]), mask]
        position = start + max(length, 1)
    return out + list(tokens[position:])


def _ti_insert_after(tokens, spans, mask):
    """`out.insert(start + 1, mask)` for an insertion: after tokens[start]."""
    out, position = [], 0
    for start, length in spans:
        if length == 0:
            out += [*list(tokens[position:start + 1]), mask]
            position = start + 1
        else:
            out += [*list(tokens[position:start]), mask]
            position = start + length
    return out + list(tokens[position:])


def _ti_hidden_flags(tokens, spans, mask):
    """A flag per hidden token, then one mask per run of flags: touching spans merge, insertions vanish."""
    hidden = [False] * len(tokens)
    for start, length in spans:
        for i in range(start, start + length):
            hidden[i] = True
    out = []
    for i, token in enumerate(tokens):
        if not hidden[i]:
            out.append(token)
        elif i == 0 or not hidden[i - 1]:
            out.append(mask)
    return out


def _ti_one_based(tokens, spans, mask):
    """tokens[start + 1:start + length + 1]: the span one token late."""
    out, position = [], 0
    for start, length in spans:
        if length == 0:
            out += [*list(tokens[position:start]), mask]
            position = start
            continue
        out += [*list(tokens[position:start + 1]), mask]
        position = start + length + 1
    return out + list(tokens[position:])


def _ti_in_place(tokens, spans, mask):
    """From the last span back, on the reader's own list: right, but the original is gone."""
    for start, length in reversed(spans):
        tokens[start:start + length] = [mask]
    return tokens


# --- relative_position_bucket ------------------------------------------------------------------------------


def _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, *, sign=-1, causal_halves=False,
               causal_abs=False, log=True, last=None, rounding=torch.floor):
    """T5's bucket function written out, with switches for the usual mistakes."""
    n = sign * relative_position
    ret = torch.zeros_like(n)
    if bidirectional or causal_halves:
        num_buckets //= 2
    if bidirectional:
        ret += (n < 0).long() * num_buckets
        n = n.abs()
    else:
        n = n.abs() if causal_abs else torch.maximum(n, torch.zeros_like(n))
    max_exact = num_buckets // 2
    if not log:
        return ret + n.clamp(max=num_buckets - 1)
    large = max_exact + rounding(torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                                 * (num_buckets - max_exact)).long()
    large = torch.minimum(large, torch.full_like(large, num_buckets - 1 if last is None else last(num_buckets)))
    return ret + torch.where(n < max_exact, n, large)


def _rpb_query_minus_key(relative_position, bidirectional, num_buckets, max_distance):
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, sign=1)


def _rpb_halves_in_decoder(relative_position, bidirectional, num_buckets, max_distance):
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, causal_halves=True)


def _rpb_abs_in_decoder(relative_position, bidirectional, num_buckets, max_distance):
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, causal_abs=True)


def _rpb_exact_only(relative_position, bidirectional, num_buckets, max_distance):
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, log=False)


def _rpb_linear(relative_position, bidirectional, num_buckets, max_distance):
    """Even steps from the exact buckets to max_distance."""
    n = -relative_position
    ret = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        ret += (n < 0).long() * num_buckets
        n = n.abs()
    else:
        n = n.clamp(min=0)
    max_exact = num_buckets // 2
    step = (max_distance - max_exact) / (num_buckets - max_exact)
    large = (max_exact + ((n - max_exact) / step).floor().long()).clamp(max=num_buckets - 1)
    return ret + torch.where(n < max_exact, n, large)


def _rpb_last_is_n(relative_position, bidirectional, num_buckets, max_distance):
    """min(…, num_buckets): one past the last bucket at and beyond max_distance."""
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, last=lambda n: n)


def _rpb_no_clamp(relative_position, bidirectional, num_buckets, max_distance):
    """No clamp at all: far distances run past the table."""
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, last=lambda n: 10 ** 6)


def _rpb_rounded(relative_position, bidirectional, num_buckets, max_distance):
    return _t5_bucket(relative_position, bidirectional, num_buckets, max_distance, rounding=torch.round)


def _rpb_float(relative_position, bidirectional, num_buckets, max_distance):
    """Right numbers, but float: an embedding table cannot be indexed with them."""
    from attnbook.exercises.bart_t5 import relative_position_bucket

    return relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance).float()


def _rpb_t5_sizes(relative_position, bidirectional, num_buckets, max_distance):
    """32 and 128 written in."""
    return _t5_bucket(relative_position, bidirectional, 32, 128)


# --- raw_length_for ----------------------------------------------------------------------------------------


def _lengths_by_search(inputs_length, noise_density, mean_span_length, *, sentinels=1, eos=1, rounding=round,
                       targets_extra=0, targets_eos=1, targets_sentinels=1, one_past=False):
    def lengths(raw):
        noise = rounding(raw * noise_density)
        spans = rounding(noise / mean_span_length)
        return (raw - noise + sentinels * spans + eos,
                noise + targets_sentinels * spans + targets_eos + targets_extra)

    raw = inputs_length
    while lengths(raw + 1)[0] <= inputs_length:
        raw += 1
    if one_past:
        raw += 1
    return raw, lengths(raw)[1]


def _rl_no_sentinels(inputs_length, noise_density=0.15, mean_span_length=3.0):
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, sentinels=0)


def _rl_no_eos(inputs_length, noise_density=0.15, mean_span_length=3.0):
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, eos=0)


def _rl_divided(inputs_length, noise_density=0.15, mean_span_length=3.0):
    """512 / 0.85: the hidden tokens simply vanish."""
    raw = int(inputs_length / (1 - noise_density))
    noise = round(raw * noise_density)
    return raw, noise + round(noise / mean_span_length) + 1


def _rl_int(inputs_length, noise_density=0.15, mean_span_length=3.0):
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, rounding=int)


def _rl_first_too_long(inputs_length, noise_density=0.15, mean_span_length=3.0):
    """`while length(raw) <= inputs_length: raw += 1`, then raw returned."""
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, one_past=True)


def _rl_targets_no_eos(inputs_length, noise_density=0.15, mean_span_length=3.0):
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, targets_eos=0)


def _rl_targets_final(inputs_length, noise_density=0.15, mean_span_length=3.0):
    """One more sentinel for the end of the targets, as in the paper's figure."""
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, targets_extra=1)


def _rl_targets_no_sentinels(inputs_length, noise_density=0.15, mean_span_length=3.0):
    return _lengths_by_search(inputs_length, noise_density, mean_span_length, targets_sentinels=0)


def _rl_no_defaults(inputs_length, noise_density, mean_span_length):
    """No defaults: the check's first call leaves them out."""
    from attnbook.exercises.bart_t5 import raw_length_for

    return raw_length_for(inputs_length, noise_density, mean_span_length)


def _rl_raw_only(inputs_length, noise_density=0.15, mean_span_length=3.0):
    from attnbook.exercises.bart_t5 import raw_length_for

    return raw_length_for(inputs_length, noise_density, mean_span_length)[0]


WRONG_ANSWERS = {
    "span_corruption": [
        ("sc-reused-sentinel", _sc_one_sentinel),
        ("sc-no-final-sentinel", _sc_no_final),
        ("sc-extra-final", _sc_final_always),
        ("sc-wraparound", _sc_wraparound),
        ("sc-off-by-one", _sc_first_token_leaks),
        ("sc-off-by-one", _sc_off_by_one_slices),
        ("sc-sentinel-per-token", _sc_sentinel_per_token),
        ("sc-sentinel-numbering", _sc_sentinel_by_position),
        ("sc-target-no-hidden", _sc_targets_only_sentinels),
        ("sc-target-no-sentinels", _sc_targets_bare),
        ("sc-sentinel-after", _sc_sentinel_after),
        ("sc-swapped", _sc_swapped),
        ("bt-changed-input", _sc_pops),
        ("bt-return", _sc_strings),
    ],
    "text_infilling": [
        ("ti-mask-per-token", _ti_bert),
        ("ti-zero-dropped", _ti_skip_empty),
        ("ti-shifted", _ti_in_order),
        ("ti-zero-replaces", _ti_zero_is_one),
        ("ti-insert-after", _ti_insert_after),
        ("ti-merged", _ti_hidden_flags),
        ("ti-off-by-one", _ti_one_based),
        ("bt-changed-input", _ti_in_place),
    ],
    "relative_position_bucket": [
        ("rpb-wrong-direction", _rpb_query_minus_key),
        ("rpb-causal-half", _rpb_halves_in_decoder),
        ("rpb-causal-future", _rpb_abs_in_decoder),
        ("rpb-no-log", _rpb_exact_only),
        ("rpb-no-log", _rpb_linear),
        ("rpb-last-bucket", _rpb_last_is_n),
        ("rpb-last-bucket", _rpb_no_clamp),
        ("rpb-rounded", _rpb_rounded),
        ("wrong-dtype", _rpb_float),
        ("rpb-fixed-sizes", _rpb_t5_sizes),
    ],
    "raw_length_for": [
        ("rl-no-sentinels", _rl_no_sentinels),
        ("rl-no-eos", _rl_no_eos),
        ("rl-divided", _rl_divided),
        ("rl-truncated", _rl_int),
        ("rl-one-past", _rl_first_too_long),
        ("rl-targets-no-eos", _rl_targets_no_eos),
        ("rl-targets-final", _rl_targets_final),
        ("rl-targets-no-sentinels", _rl_targets_no_sentinels),
        ("raised", _rl_no_defaults),
        ("rl-return", _rl_raw_only),
    ],
}

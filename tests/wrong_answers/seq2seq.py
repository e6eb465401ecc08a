"""Chapter 2: a padding-aware loss, greedy decoding and beam search."""

import math

import torch


def _greedy_never_stops(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        tokens.append(previous.item())
    return tokens


def _greedy_keeps_eos(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        tokens.append(previous.item())
        if previous.item() == model.config.eos_id:
            break
    return tokens


def _greedy_always_bos(model, src, src_mask, max_len):
    state, bos, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, bos)  # forgot to feed the prediction back
        best = log_probs.argmax(dim=-1).item()
        if best == model.config.eos_id:
            break
        tokens.append(best)
    return tokens


def _greedy_one_too_many(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len + 1):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        if previous.item() == model.config.eos_id:
            break
        tokens.append(previous.item())
    return tokens


def _greedy_with_bos(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), [model.config.bos_id]
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        if previous.item() == model.config.eos_id:
            break
        tokens.append(previous.item())
    return tokens


def _greedy_feeds_an_int(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1).item()  # a Python int, not a (1,) tensor
        if previous == model.config.eos_id:
            break
        tokens.append(previous)
    return tokens


def _greedy_keepdim(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1, keepdim=True)  # (1, 1): one axis too many
        if previous.item() == model.config.eos_id:
            break
        tokens.append(previous.item())
    return tokens


def _loss(logits, targets, pad_id, *, axis=-1, pad=None, reduce="tokens", sign=-1, picked="log_probs"):
    log_probs = {"log_probs": torch.log_softmax(logits, dim=axis), "probs": torch.softmax(logits, dim=-1),
                 "logits": logits}[picked]
    log_p_y = log_probs.gather(-1, targets[..., None]).squeeze(-1)  # (B, T)
    real = targets != (pad_id if pad is None else pad)
    if reduce == "tokens":
        return sign * log_p_y[real].mean()
    if reduce == "all":  # zeroed the padding, then .mean() over every position
        return sign * (log_p_y * real).mean()
    if reduce == "sentences":  # summed, then divided by the batch size
        return sign * (log_p_y * real).sum() / targets.shape[0]
    if reduce == "per-sentence":
        return sign * ((log_p_y * real).sum(1) / real.sum(1)).mean()
    if reduce == "sum":
        return sign * log_p_y[real].sum()
    return sign * log_p_y * real  # not reduced: (B, T)


def _loss_with_padding(logits, targets, pad_id):
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())  # no ignore_index


def _loss_by_item(logits, targets, pad_id):
    log_probs = torch.log_softmax(logits, dim=-1)
    total, count = 0.0, 0
    for b in range(targets.shape[0]):
        for t in range(targets.shape[1]):
            if targets[b, t] != pad_id:
                total -= log_probs[b, t, targets[b, t]].item()
                count += 1
    return torch.tensor(total / count)  # the right number, cut off from the graph


def _beam(next_log_probs, beam_size, max_len, eos_id, *, width=None, own_best=False, summed=True,
          stop_at_first=False, ascending=False, keep_eos=False, extend_finished=False, grow=False,
          as_prob=False, eos_free=False, per_length=False, extra_step=False, finished_only=False):
    """Beam search as a reader might write it, with one of the usual mistakes switched on."""
    width = beam_size if width is None else width
    beam, finished = [((), 0.0)], []
    for step in range(max_len + 1 if extra_step else max_len):
        candidates = []
        for tokens, score in beam:
            options = [((score if summed else 0.0) + lp, (*tokens, t), score)
                       for t, lp in enumerate(next_log_probs(tokens).tolist())]
            options.sort(reverse=True)
            if own_best and step > 0:
                options = options[:1]  # each sentence follows its own best token
            if grow:
                options = options[:width]  # each sentence's best tokens, never cut back to the beam's width
            candidates += options
        candidates.sort(reverse=not ascending)
        beam = []
        for score, tokens, parent in candidates if grow else candidates[: width - len(finished)]:
            if tokens[-1] != eos_id or extend_finished:
                beam.append((tokens, score))
            elif stop_at_first:
                return list(tokens[:-1]), score
            else:
                finished.append((tokens if keep_eos else tokens[:-1], parent if eos_free else score))
        if not beam:
            break
    hypotheses = finished if finished_only else finished + beam
    if per_length:  # 🤗-style length normalisation, which this chapter does not use
        hypotheses = [(tokens, score / (len(tokens) + 1)) for tokens, score in hypotheses]
    tokens, score = max(hypotheses, key=lambda h: h[1])
    return list(tokens), math.exp(score) if as_prob else score


WRONG_ANSWERS = {
    "greedy": [
        ("never-stops", _greedy_never_stops),
        ("keeps-eos", _greedy_keeps_eos),
        ("not-fed-back", _greedy_always_bos),
        ("too-long", _greedy_one_too_many),
        ("keeps-bos", _greedy_with_bos),
        ("not-a-list", lambda model, src, src_mask, max_len: "5 6 7"),
        ("previous-shape", _greedy_feeds_an_int),
        ("previous-shape", _greedy_keepdim),
    ],
    "padded_cross_entropy": [
        ("loss-pad-counted", _loss_with_padding),
        ("loss-denominator", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, reduce="all")),
        ("loss-denominator", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, reduce="sentences")),
        ("loss-per-sentence", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, reduce="per-sentence")),
        ("loss-sum", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, reduce="sum")),
        ("loss-sign", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, sign=1)),
        ("loss-axis", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, axis=1)),
        ("loss-not-log-probs", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, picked="probs")),
        ("loss-not-log-probs", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, picked="logits")),
        ("loss-pad-hardcoded", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, pad=0)),
        ("loss-not-reduced", lambda logits, targets, pad_id: _loss(logits, targets, pad_id, reduce=None)),
        ("loss-detached", _loss_by_item),
    ],
    "beam_search": [
        ("beam-is-greedy", lambda lm, k, n, eos: _beam(lm, k, n, eos, width=1)),  # beam_size never used
        ("beam-per-parent", lambda lm, k, n, eos: _beam(lm, k, n, eos, own_best=True)),
        ("beam-not-summed", lambda lm, k, n, eos: _beam(lm, k, n, eos, summed=False)),
        ("beam-first-finished", lambda lm, k, n, eos: _beam(lm, k, n, eos, stop_at_first=True)),
        ("beam-worst", lambda lm, k, n, eos: _beam(lm, k, n, eos, ascending=True)),
        ("keeps-eos", lambda lm, k, n, eos: _beam(lm, k, n, eos, keep_eos=True)),
        ("beam-extends-finished", lambda lm, k, n, eos: _beam(lm, k, n, eos, extend_finished=True)),
        ("beam-grows", lambda lm, k, n, eos: _beam(lm, k, n, eos, grow=True)),
        ("beam-score-prob", lambda lm, k, n, eos: _beam(lm, k, n, eos, as_prob=True)),
        ("beam-score-without-eos", lambda lm, k, n, eos: _beam(lm, k, n, eos, eos_free=True)),
        ("beam-length-normalised", lambda lm, k, n, eos: _beam(lm, k, n, eos, per_length=True)),
        ("beam-too-long", lambda lm, k, n, eos: _beam(lm, k, n, eos, extra_step=True)),
        ("beam-nothing-finished", lambda lm, k, n, eos: _beam(lm, k, n, eos, finished_only=True)),
        ("beam-return", lambda lm, k, n, eos: _beam(lm, k, n, eos)[0]),  # the tokens only
    ],
}

"""Turning a trained decoder into sentences: greedy decoding and beam search.

Every sequence-to-sequence model in the book offers the same two methods, so one
greedy decoder and one beam search serve them all:

- ``start(src, src_mask) -> state``: read the source sentences;
- ``step(state, previous) -> (log_probs (B, V), state, attention (B, S) or None)``:
  given the previous target tokens, the distribution of the next one;

and its state has ``select(index)``, which keeps (or repeats) sentences of the
batch — how beam search follows its hypotheses.

Shape legend: B batch · S source length · V vocabulary · K beam size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attnbook.language import text


@dataclass
class Hypothesis:
    """One decoded sentence: its tokens (no <s>, no </s>), their total log-probability
    (</s> included), and the attention weights of every step when the model has attention:
    (steps, S), one row per token plus one for the </s> step of a finished sentence."""

    tokens: list[int]
    log_prob: float
    attention: torch.Tensor | None = None
    finished: bool = True  # False when max_len was reached before </s>


def _check(src: torch.Tensor, max_len: int) -> None:
    if src.dim() != 2:
        raise ValueError(text(f"src는 (B, S) 모양이어야 합니다: {tuple(src.shape)}",
                              f"src must have shape (B, S), got {tuple(src.shape)}"))
    if max_len < 1:
        raise ValueError(text(f"max_len은 1 이상이어야 합니다: {max_len}",
                              f"max_len must be at least 1, got {max_len}"))


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, src_mask: torch.Tensor, *, max_len: int) -> list[Hypothesis]:
    """At every step take the single most probable token, for the whole batch at once."""
    _check(src, max_len)
    config = model.config
    batch = src.shape[0]
    state = model.start(src, src_mask)
    previous = torch.full((batch,), config.bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(batch, dtype=torch.bool, device=src.device)
    log_prob = torch.zeros(batch, dtype=torch.float64, device=src.device)
    steps, weights = [], []
    for _ in range(max_len):
        log_probs, state, attention = model.step(state, previous)          # (B, V)
        best = log_probs.argmax(dim=-1)                                    # (B,)
        log_prob += torch.where(done, 0.0, log_probs.gather(1, best[:, None])[:, 0].double())
        steps.append(torch.where(done, config.eos_id, best))
        if attention is not None:
            weights.append(attention)
        done |= best == config.eos_id
        previous = best
        if done.all():
            break
    tokens = torch.stack(steps, dim=1).tolist()                            # (B, steps)
    attention = torch.stack(weights, dim=1) if weights else None           # (B, steps, S)
    hypotheses = []
    for b in range(batch):
        length = tokens[b].index(config.eos_id) if config.eos_id in tokens[b] else len(tokens[b])
        hypotheses.append(Hypothesis(
            tokens=tokens[b][:length],
            log_prob=log_prob[b].item(),
            attention=attention[b, : length + 1] if attention is not None else None,
            finished=length < len(tokens[b]),
        ))
    return hypotheses


@torch.no_grad()
def beam_search(model, src: torch.Tensor, src_mask: torch.Tensor, *, beam_size: int,
                max_len: int) -> list[Hypothesis]:
    """Keep the ``beam_size`` best partial sentences at every step; return each sentence's best.

    Each step extends the open hypotheses and keeps the best candidates for the
    open slots; a candidate ending in </s> is finished and takes its slot for good,
    so the beam shrinks as sentences finish (with ``beam_size=1`` this is exactly
    greedy decoding). Scores are plain sums of log-probabilities, which only fall
    as a sentence grows, so the search also stops once the best finished sentence
    scores at least as high as every open one.
    """
    _check(src, max_len)
    if beam_size < 1:
        raise ValueError(text(f"beam_size는 1 이상이어야 합니다: {beam_size}",
                              f"beam_size must be at least 1, got {beam_size}"))
    return [_beam_one(model, src[b: b + 1], src_mask[b: b + 1], beam_size, max_len) for b in range(src.shape[0])]


def _beam_one(model, src: torch.Tensor, src_mask: torch.Tensor, beam_size: int, max_len: int) -> Hypothesis:
    config = model.config
    state = model.start(src, src_mask)                                     # one sentence, one hypothesis
    alive = [Hypothesis(tokens=[], log_prob=0.0, attention=None, finished=False)]
    finished: list[Hypothesis] = []
    for _ in range(max_len):
        previous = torch.tensor([h.tokens[-1] if h.tokens else config.bos_id for h in alive], device=src.device)
        log_probs, state, attention = model.step(state, previous)          # (K, V)
        scores = torch.tensor([h.log_prob for h in alive], dtype=torch.float64, device=src.device)
        candidates = scores[:, None] + log_probs.double()                  # (K, V)
        open_slots = beam_size - len(finished)
        top = candidates.flatten().topk(min(open_slots, candidates.numel()))
        next_alive, keep = [], []
        for score, index in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            parent, token = divmod(index, candidates.shape[1])
            history = alive[parent].attention
            if attention is not None:
                step = attention[parent][None]                             # (1, S)
                history = step if history is None else torch.cat([history, step])
            if token == config.eos_id:
                finished.append(Hypothesis(alive[parent].tokens, score, history, finished=True))
            else:
                next_alive.append(Hypothesis([*alive[parent].tokens, token], score, history, finished=False))
                keep.append(parent)
        alive = next_alive
        best_finished = max((h.log_prob for h in finished), default=float("-inf"))
        if not alive or best_finished >= max(h.log_prob for h in alive):
            break
        state = state.select(torch.tensor(keep, device=src.device))
    return max(finished + alive, key=lambda h: h.log_prob)

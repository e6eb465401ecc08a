"""Choosing the next token from a language model's logits: greedy, temperature, top-k, top-p.

A language model gives, at each step, one score (logit) z_v per vocabulary entry; the
next token is drawn from p(v) = softmax(z)_v, or chosen from it. The ways of choosing
are functions of the logits alone, so they are written here once, for any model:

- greedy decoding: the most probable token, argmax_v z_v (:func:`greedy`);
- temperature τ: sample from softmax(z / τ) — τ < 1 sharpens the distribution, τ > 1
  flattens it, τ → 0 tends to greedy (:func:`apply_temperature`);
- top-k sampling (Fan et al., 2018; GPT-2's paper writes its summaries with k = 2): keep the
  k largest logits, set the others to −∞ (:func:`top_k_filter`);
- top-p or *nucleus* sampling (Holtzman et al., 2020): keep the smallest set of most
  probable tokens whose probabilities add up to at least p (:func:`top_p_filter`).

:func:`filter_logits` applies them in 🤗 transformers' order (temperature, top-k, top-p)
and :func:`sample` draws from the result. A filtered-out token keeps the logit ``-inf``,
so the softmax gives it exactly zero probability and renormalises the others.

Ties. A filter never separates two tokens with equal logits: every token whose logit
equals the last one kept is kept too, so the result does not depend on the order of the
vocabulary. For top-k this is what 🤗's ``TopKLogitsWarper`` does (it may keep more than k
tokens); for top-p, 🤗's ``TopPLogitsWarper`` keeps only some of a tie that straddles the
boundary (those later in its sort order), ours the whole tie. Without such a tie both
keep the same tokens. Both keep at least one token (🤗's ``min_tokens_to_keep = 1``).

Shape legend: B batch · V vocabulary; ``...`` any leading axes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnbook.language import text

__all__ = ["apply_temperature", "filter_logits", "greedy", "sample", "top_k_filter", "top_p_filter"]


def greedy(logits: Tensor) -> Tensor:
    """The most probable token at each row: logits (..., V) → ids (...,); the first one on a tie."""
    _check_logits(logits)
    return logits.argmax(dim=-1)  # (...,)


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """z / τ: logits (..., V) → (..., V). τ < 1 sharpens softmax(z / τ), τ > 1 flattens it; τ must be > 0."""
    _check_logits(logits)
    if not _is_number(temperature) or not temperature > 0 or temperature == float("inf"):
        raise ValueError(text(
            f"temperature는 0보다 큰 유한한 수여야 합니다: {temperature!r} (τ → 0의 극한인 탐욕 디코딩은 greedy로)",
            f"temperature must be a finite number > 0, got {temperature!r} "
            f"(for greedy decoding, the limit τ → 0, use greedy)",
        ))
    return logits / temperature


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of each row (and any tied with the k-th), set the rest to −∞: (..., V) → (..., V).

    k ≥ V keeps everything.
    """
    _check_logits(logits)
    if not _is_int(k) or k < 1:
        raise ValueError(text(f"top_k는 1 이상의 정수여야 합니다: {k!r}",
                              f"top_k must be an integer ≥ 1, got {k!r}"))
    kth = logits.topk(min(k, logits.size(-1)), dim=-1).values[..., -1:]  # the k-th largest: (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering (Holtzman et al., 2020): keep the most probable tokens whose total probability is ≥ p.

    logits (..., V) → (..., V), the others set to −∞. Written as 🤗's ``TopPLogitsWarper``
    computes it: sort the probabilities in increasing order and drop the longest run of
    least probable tokens whose total stays ≤ 1 − p; the kept set then holds ≥ p. The most
    probable token always stays (p very small gives greedy's token), and a tie at the
    boundary stays whole. p = 1 keeps every token of nonzero probability.
    """
    _check_logits(logits)
    if not _is_number(p) or not 0.0 < p <= 1.0:
        raise ValueError(text(f"top_p는 0보다 크고 1 이하인 수여야 합니다: {p!r}",
                              f"top_p must be a number in (0, 1], got {p!r}"))
    ascending, _ = logits.sort(dim=-1)  # least probable first: (..., V)
    tail = ascending.softmax(dim=-1).cumsum(dim=-1) <= 1 - p  # the least probable tokens, total ≤ 1 − p
    tail[..., -1] = False  # the most probable token always stays
    smallest_kept = ascending.masked_fill(tail, float("inf")).amin(dim=-1, keepdim=True)  # (..., 1)
    return logits.masked_fill(logits < smallest_kept, float("-inf"))


def filter_logits(logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> Tensor:
    """Temperature, then top-k, then top-p (🤗's order): logits (..., V) → the logits to sample from (..., V).

    ``top_k=None`` and ``top_p=None`` (or 1.0) leave the step out; temperature 1 changes nothing.
    """
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def sample(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw one token per row from softmax(logits): (B, V) → ids (B,).

    ``generator`` (a ``torch.Generator``) makes the draws repeatable; None uses torch's
    global generator, as 🤗's ``generate(do_sample=True)`` does. The draw happens on the
    generator's device: a CPU generator gives the same tokens whatever device the logits
    are on (the probabilities go to the CPU, the ids come back).
    """
    _check_logits(logits)
    if logits.dim() != 2:
        raise ValueError(text(f"logits는 (B, V) 모양이어야 합니다: {tuple(logits.shape)}",
                              f"logits must have shape (B, V), got {tuple(logits.shape)}"))
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(text(f"generator는 torch.Generator여야 합니다: {type(generator).__name__}",
                             f"generator must be a torch.Generator, got {type(generator).__name__}"))
    probabilities = logits.softmax(dim=-1)  # −∞ → exactly 0; the kept tokens renormalised: (B, V)
    if generator is not None and generator.device != probabilities.device:
        drawn = torch.multinomial(probabilities.to(generator.device), num_samples=1, generator=generator)
        return drawn.squeeze(1).to(logits.device)  # (B,)
    return torch.multinomial(probabilities, num_samples=1, generator=generator).squeeze(1)  # (B,)


# --- checks ----------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_logits(logits: object) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point() or logits.dim() < 1 or logits.size(-1) < 1:
        described = f"{tuple(logits.shape)} {logits.dtype}" if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(text(f"logits는 마지막 축이 어휘(V ≥ 1)인 실수 텐서여야 합니다: {described}",
                              f"logits must be a floating-point tensor whose last axis is the vocabulary "
                              f"(V ≥ 1), got {described}"))
    if not bool(torch.isfinite(logits.amax(dim=-1)).all()):  # a NaN or +∞ makes its row's max so, as does all −∞
        raise ValueError(text("logits에 NaN이나 +∞가 있거나, 모든 값이 −∞인 행이 있습니다 (고를 토큰이 없습니다)",
                              "logits hold a NaN or +∞, or a row that is −∞ everywhere (no token left to choose)"))

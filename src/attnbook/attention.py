"""Attention: scaled dot-product, additive (Bahdanau) and multi-head.

Shapes: B batch · T target/query length · S source/key length · D model ·
H heads · Dh = D/H · Dq, Dk, Dv query, key and value features.

Masks are boolean with **True = may attend**, the convention of
:func:`torch.nn.functional.scaled_dot_product_attention` (``torch.nn.MultiheadAttention``
uses the opposite one: there True means "may not attend"). A masked score becomes
``float("-inf")``, so it gets exactly zero weight after the softmax.

A query that may attend to nothing (its mask row is all False) would get 0/0 = NaN
weights. Here such a row gets zero weights and a zero output vector, which is what
``torch.nn.functional.scaled_dot_product_attention`` returns too (PyTorch ≥ 2.5);
``torch.nn.MultiheadAttention`` returns NaN for it instead.

Two options serve T5 (Raffel et al., 2020, §2.1), whose attention differs from the 2017 one
in two ways: the scores are not divided by √d_k (``scale=1.0``: T5 folds that factor into
the initialisation of W^Q), and a learned bias that depends on the relative position of
query and key is added to every score before the softmax (``position_bias``, a float tensor
broadcastable to the scores). Its heads may also be narrower or wider than D/H
(``head_dim``: T5's d_kv, with H·d_kv ≠ D allowed).
"""

from __future__ import annotations

import math
from typing import NoReturn

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.language import text

__all__ = ["AdditiveAttention", "MultiHeadAttention", "causal_mask", "scaled_dot_product_attention"]


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """softmax over the last axis of ``scores`` where ``mask`` is True; rows with no True get zeros."""
    if mask is None:
        return scores.softmax(dim=-1)
    weights = torch.where(mask, scores, float("-inf")).softmax(dim=-1)
    # A query whose mask row is all False has only -inf scores, for which softmax gives 0/0 = NaN: give it 0 weights.
    return torch.where(mask.any(dim=-1, keepdim=True), weights, 0.0)


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, *, dropout_p: float = 0.0,
    scale: float | None = None, position_bias: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Vaswani et al. (2017), eq. (1): Attention(Q, K, V) = softmax(QKᵀ/√d_k) V.

    q (..., T, Dk), k (..., S, Dk), v (..., S, Dv), mask bool broadcastable to (..., T, S).
    Returns out (..., T, Dv) and the weights (..., T, S). With ``dropout_p`` > 0 the weights
    are dropped out before they average V (as in the paper's training); the returned
    weights are the ones before dropout, so each row still sums to one.
    ``scale`` replaces 1/√d_k (T5: 1.0); ``position_bias`` (float, broadcastable to
    (..., T, S)) is added to the scores before the mask and the softmax (T5's relative bias).
    """
    _check_attention_inputs(q, k, v, mask)
    if scale is None:
        q = q / math.sqrt(q.size(-1))  # QKᵀ/√d_k (scaling q costs less)
    elif scale != 1.0:
        q = q * scale
    scores = q @ k.transpose(-2, -1)  # (..., T, S)
    if position_bias is not None:
        scores = scores + position_bias  # (..., T, S)
    weights = masked_softmax(scores, mask)  # (..., T, S)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0.0 else weights
    return dropped @ v, weights  # (..., T, Dv), (..., T, S)


def causal_mask(size: int, device: torch.device | str | None = None) -> Tensor:
    """(T, T) bool mask, True on and below the diagonal: position t may attend to positions ≤ t."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(text(f"size는 양의 정수여야 합니다. 받은 값: {size!r}",
                              f"size must be a positive integer, got {size!r}"))
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()  # (T, T)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015), eq. (6): e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j), α_ij = softmax_j(e_ij).

    The query is the decoder's previous state s_{i-1} (B, Dq); the keys are the encoder's
    annotations h_j (B, S, Dk), which double as values: c_i = Σ_j α_ij h_j.
    No layer has a bias, as in eq. (6): a bias on v_a would add the same number to every
    e_ij, which the softmax cancels, and a bias inside the tanh is not part of the paper.
    U_a h_j does not depend on the decoder step, so a decoder can compute it once per
    sentence with :meth:`project_keys` and pass it to every step as ``projected_keys``.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int) -> None:
        super().__init__()
        for name, value in (("query_dim", query_dim), ("key_dim", key_dim), ("hidden_dim", hidden_dim)):
            _check_positive_int(name, value)
        self.W_a = nn.Linear(query_dim, hidden_dim, bias=False)
        self.U_a = nn.Linear(key_dim, hidden_dim, bias=False)
        self.v_a = nn.Linear(hidden_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """U_a h_j for every source position: (B, S, Dk) → (B, S, hidden_dim)."""
        return self.U_a(keys)  # (B, S, hidden)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None, *, projected_keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """query s_{i-1} (B, Dq), keys h (B, S, Dk), mask (B, S) → context c_i (B, Dk), weights α_i (B, S)."""
        self._check_inputs(query, keys, mask, projected_keys)
        if projected_keys is None:
            projected_keys = self.project_keys(keys)  # U_a h_j: (B, S, hidden)
        projected_query = self.W_a(query).unsqueeze(1)  # W_a s_{i-1}: (B, 1, hidden)
        energies = self.v_a(torch.tanh(projected_query + projected_keys)).squeeze(-1)  # e_ij: (B, S)
        weights = masked_softmax(energies, mask)  # α_ij: (B, S)
        context = (weights.unsqueeze(1) @ keys).squeeze(1)  # (B, Dk)
        return context, weights

    def _check_inputs(self, query: Tensor, keys: Tensor, mask: Tensor | None, projected: Tensor | None) -> None:
        if query.dim() != 2 or query.size(-1) != self.W_a.in_features:
            _shape_error("query", "(B, Dq)", f"Dq = {self.W_a.in_features}", query)
        if keys.dim() != 3 or keys.size(0) != query.size(0) or keys.size(-1) != self.U_a.in_features:
            _shape_error("keys", "(B, S, Dk)", f"B = {query.size(0)}, Dk = {self.U_a.in_features}", keys)
        B, S = keys.shape[:2]
        if projected is not None and projected.shape != (B, S, self.U_a.out_features):
            _shape_error("projected_keys", "(B, S, hidden_dim)", f"= {(B, S, self.U_a.out_features)}", projected)
        if mask is not None:
            _check_bool(mask)
            if mask.shape != (B, S):
                _shape_error("mask", "(B, S)", f"= {(B, S)}", mask)


class MultiHeadAttention(nn.Module):
    """Vaswani et al. (2017), §3.2.2: MultiHead(Q, K, V) = Concat(head_1, …, head_h) W^O.

    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V) with d_k = d_v = d_model / h. The parameters
    are laid out like ``torch.nn.MultiheadAttention``'s: ``in_proj_weight`` stacks W^Q, W^K, W^V
    (the h heads' W_i side by side in each), and ``out_proj`` is W^O, so a state dict loads into
    ``torch.nn.MultiheadAttention(d_model, num_heads, batch_first=True)`` and back. Dropout
    (training only) falls on the attention weights, as in PyTorch; the weights returned are
    those before dropout (PyTorch returns them after).

    For T5: ``head_dim`` sets each head's width Dh (default D/H; then ``in_proj_weight`` is
    (3·H·Dh, D) and W^O maps H·Dh back to D), ``scale`` replaces 1/√Dh (T5: 1.0), and
    :meth:`forward` and :meth:`attend` take a ``position_bias`` added to the scores.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True, *,
                 head_dim: int | None = None, scale: float | None = None) -> None:
        super().__init__()
        _check_positive_int("d_model", d_model)
        _check_positive_int("num_heads", num_heads)
        if head_dim is not None:
            _check_positive_int("head_dim", head_dim)
        elif d_model % num_heads != 0:
            raise ValueError(text(
                f"d_model({d_model})은 num_heads({num_heads})로 나누어떨어져야 합니다 "
                f"(헤드마다 d_model / h 차원)",
                f"d_model ({d_model}) must be divisible by num_heads ({num_heads}) "
                f"(each head has d_model / h features)",
            ))
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(text(f"dropout은 0 이상 1 미만이어야 합니다. 받은 값: {dropout!r}",
                                  f"dropout must be in [0, 1), got {dropout!r}"))
        if scale is not None and (not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0):
            raise ValueError(text(f"scale은 None이거나 양수여야 합니다. 받은 값: {scale!r}",
                                  f"scale must be None or a positive number, got {scale!r}"))
        self.d_model, self.num_heads = d_model, num_heads
        self.head_dim = d_model // num_heads if head_dim is None else head_dim
        self.scale = None if scale is None else float(scale)  # None: 1/√Dh
        self.dropout = float(dropout)
        inner = num_heads * self.head_dim  # H·Dh, = D unless head_dim is given
        self.in_proj_weight = nn.Parameter(torch.empty(3 * inner, d_model))  # [W^Q; W^K; W^V] (3·H·Dh, D)
        self.in_proj_bias = nn.Parameter(torch.empty(3 * inner)) if bias else None  # (3·H·Dh,)
        self.out_proj = nn.Linear(inner, d_model, bias=bias)  # W^O
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise like ``torch.nn.MultiheadAttention``: Xavier-uniform projections, zero biases."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj.reset_parameters()
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None, *, need_weights: bool = True,
        position_bias: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """query (B, T, D), key and value (B, S, D), mask bool → out (B, T, D), weights (B, H, T, S).

        ``mask`` (True = may attend) may have shape (T, S), (B, T, S), (B, 1, T, S), (B, 1, 1, S)
        or (B, H, T, S). With ``need_weights=False`` the heads are computed by PyTorch's fused
        ``F.scaled_dot_product_attention`` (same numbers, faster) and the weights are None.
        ``position_bias`` (float, broadcastable to (B, H, T, S)) is added to the scores.
        """
        B, T, S = self._check_inputs(query, key, value)
        mask = self._check_mask(mask, B, T, S)
        H, Dh = self.num_heads, self.head_dim
        W_Q, W_K, W_V = self.in_proj_weight.chunk(3)  # each (D, D)
        b_Q, b_K, b_V = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None, None, None)  # (D,)

        q = F.linear(query, W_Q, b_Q).view(B, T, H, Dh).transpose(1, 2)  # Q W^Q, split: (B, H, T, Dh)
        k = F.linear(key, W_K, b_K).view(B, S, H, Dh).transpose(1, 2)  # K W^K: (B, H, S, Dh)
        v = F.linear(value, W_V, b_V).view(B, S, H, Dh).transpose(1, 2)  # V W^V: (B, H, S, Dh)
        return self.attend(q, k, v, mask, need_weights=need_weights,
                           position_bias=position_bias)  # (B, T, D), (B, H, T, S)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, *,
               need_weights: bool = True, position_bias: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """The heads from projected q (B, H, T, Dh), k and v (B, H, S, Dh), concatenated and through W^O.

        With ``need_weights=False`` PyTorch's fused kernel computes the heads and the weights are None.
        ``position_bias`` (float, broadcastable to (B, H, T, S)) is added to the scores before the softmax.
        """
        B, _, T, _ = q.shape
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            heads, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=dropout_p, scale=self.scale,
                                                          position_bias=position_bias)  # (B, H, T, Dh)
        else:
            attn_mask = mask
            if position_bias is not None:  # the fused kernel takes one mask: a float one adds to the scores
                attn_mask = position_bias if mask is None else torch.where(mask, position_bias, float("-inf"))
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p,
                                                   scale=self.scale)  # (B, H, T, Dh)
            weights = None
        concat = heads.transpose(1, 2).reshape(B, T, -1)  # Concat(head_1..head_h): (B, T, H·Dh)
        return self.out_proj(concat), weights  # (B, T, D), (B, H, T, S)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[int, int, int]:
        D = self.d_model
        if query.dim() != 3 or query.size(-1) != D:
            _shape_error("query", "(B, T, D)", f"D = {D}", query)
        B, T = query.shape[:2]
        for name, tensor in (("key", key), ("value", value)):
            if tensor.dim() != 3 or tensor.size(0) != B or tensor.size(-1) != D:
                _shape_error(name, "(B, S, D)", f"B = {B}, D = {D}", tensor)
        if key.size(1) != value.size(1):
            raise ValueError(text(
                f"key와 value의 길이 S가 같아야 합니다: key {tuple(key.shape)}, value {tuple(value.shape)}",
                f"key and value must have the same length S: key {tuple(key.shape)}, value {tuple(value.shape)}",
            ))
        return B, T, key.size(1)

    def _check_mask(self, mask: Tensor | None, B: int, T: int, S: int) -> Tensor | None:
        """The mask as a tensor broadcastable to (B, H, T, S); a (B, T, S) mask gets a head axis."""
        if mask is None:
            return None
        _check_bool(mask)
        full = (B, self.num_heads, T, S)
        if mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (B, 1, T, S): the same mask for every head
        if mask.dim() not in (2, 4) or not _broadcasts_to(mask.shape, full):
            accepted = "(T, S), (B, T, S), (B, 1, T, S), (B, 1, 1, S), (B, H, T, S)"
            _shape_error("mask", accepted, f"(B, H, T, S) = {full}", mask)
        return mask


def _check_attention_inputs(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> None:
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2 or q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError(text(
            f"q (..., T, Dk), k (..., S, Dk), v (..., S, Dv) 모양이어야 합니다. "
            f"받은 모양: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}",
            f"expected q (..., T, Dk), k (..., S, Dk), v (..., S, Dv), "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}",
        ))
    if mask is not None:
        _check_bool(mask)
        scores = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.size(-2), k.size(-2))
        if not _broadcasts_to(mask.shape, scores):
            _shape_error("mask", "(..., T, S)", f"= {scores}", mask)


def _broadcasts_to(shape: torch.Size, target: tuple[int, ...]) -> bool:
    try:
        return torch.broadcast_shapes(shape, target) == target
    except RuntimeError:
        return False


def _check_bool(mask: Tensor) -> None:
    if mask.dtype != torch.bool:
        raise TypeError(text(
            f"mask는 bool 텐서여야 합니다(True = 볼 수 있음). 받은 dtype: {mask.dtype}",
            f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}",
        ))


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다. 받은 값: {value!r}",
                              f"{name} must be a positive integer, got {value!r}"))


def _shape_error(name: str, expected: str, detail: str, tensor: Tensor) -> NoReturn:
    raise ValueError(text(
        f"{name}의 모양은 {expected} ({detail})이어야 합니다. 받은 모양: {tuple(tensor.shape)}",
        f"{name} must have shape {expected} ({detail}), got {tuple(tensor.shape)}",
    ))

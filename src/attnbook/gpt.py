"""GPT (Radford et al., 2018, 2019): the Transformer's decoder alone, trained to predict the next token.

GPT keeps one stack of self-attention layers under chapter 5's causal mask — position t
sees positions ≤ t and nothing after — with no encoder and no cross-attention. The text
poses its own problem: at every position, predict the token that comes next,
maximising Σ_i log P(u_i | u_{i−k}, …, u_{i−1}) (Radford et al., 2018, eq. 1;
:func:`next_token_loss`). Unlike BERT's masked LM, every position is a training example.

The layout is GPT-2's (Radford et al., 2019, §2.3), from the bottom up:

- token embedding plus a *learned* position embedding (one row per position), then dropout;
- N blocks, each chapter 6's pre-norm encoder layer (:class:`attnbook.transformer.EncoderLayer`
  with ``norm_first=True``): x = x + Attention(LayerNorm(x)), x = x + FFN(LayerNorm(x)),
  the attention masked by :func:`attnbook.attention.causal_mask`. GPT-1 normalised after
  the sum (post-norm), as the 2017 Transformer did; GPT-2 moved LayerNorm to each
  sub-block's input and added one after the last block;
- the feed-forward network's activation is GELU's tanh approximation,
  0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))) — 🤗's ``"gelu_new"`` — where BERT uses the
  exact x Φ(x) with the erf; the two differ by at most 4.7 · 10⁻⁴ (at |x| ≈ 2.7);
- a final LayerNorm, and the output layer tied to the token embedding: logits = h Eᵀ,
  E the (V, D) embedding table itself (stored once), no bias.

Generation (:func:`generate`) feeds the model its own output one token at a time. Every
layer's keys and values for the positions already read never change (the causal mask
keeps later tokens out of them), so they can be kept — the *KV cache* (:class:`KVCache`) —
and each new step runs only the new token through the layers: T positions for T steps
instead of 1 + 2 + … + T = T(T+1)/2 (:func:`count_positions` counts them). The choice of
the next token (greedy, temperature, top-k, top-p) is :mod:`attnbook.sampling`'s.

Padding. ``attention_mask`` (B, T) is 1 (or True) at real tokens, 0 at padding, as in 🤗.
A token's position is the number of real tokens before it (🤗's ``generate`` computes it
the same way, ``cumsum − 1``; a padding token takes position 0), so padding on either
side leaves the real tokens' logits as they are without it:

- *right* padding (a batch of training sentences): the pads come after the text, where
  the causal mask already hides them from every real token;
- *left* padding (prompts of different lengths, so that every row's next token lands in
  the same column): the mask keeps the real tokens from attending to the pads, and the
  positions start at 0 on each row's first real token.

Logits at padding positions mean nothing. 🤗's ``GPT2LMHeadModel.forward`` numbers the
positions 0, 1, …, T − 1 whatever the mask (only its ``generate`` counts real tokens), so
with left padding it agrees with ours only when given those ``position_ids``.

Initialisation follows GPT-2 (:func:`init_weights`): N(0, 0.02²) weights, zero biases,
LayerNorm γ = 1, β = 0, and the projections that write into the residual stream (the
attention's W^O and the FFN's second layer) scaled by 1/√(2N). Parameters are laid out like
chapter 6's layers, so :func:`from_huggingface` maps 🤗's ``GPT2LMHeadModel`` onto ours by
renaming and transposing (🤗's ``Conv1D`` stores its weight as (in, out), ``nn.Linear`` as
(out, in)); its ``c_attn`` packs W^Q, W^K, W^V side by side, as our ``in_proj_weight`` stacks them.

Shape legend: B batch · T new positions · S positions attended to (past + new) · D hidden
size · H heads · Dh = D/H · F intermediate size · V vocabulary · N layers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import MultiHeadAttention, causal_mask
from attnbook.language import text
from attnbook.runtime import holds_values
from attnbook.sampling import filter_logits, greedy, sample
from attnbook.transformer import EncoderLayer

__all__ = [
    "GPT",
    "INIT_STD",
    "CausalSelfAttention",
    "GPTBlock",
    "GPTConfig",
    "GPTOutput",
    "KVCache",
    "PositionCount",
    "count_positions",
    "from_huggingface",
    "generate",
    "huggingface_state_dict",
    "init_weights",
    "next_token_loss",
]

INIT_STD = 0.02  # GPT-2's initializer_range: weights ~ N(0, 0.02²)
IGNORE_INDEX = -100  # targets that the loss skips (F.cross_entropy's and 🤗's default)


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a GPT; GPT-2 small is V = 50257, 1024 positions, D = 768, 12 layers, 12 heads, F = 3072."""

    vocab_size: int
    max_position: int = 128  # the longest sequence the position table covers (GPT-2's n_positions)
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256  # GPT-2 uses 4 × hidden_size
    dropout: float = 0.1  # on the embeddings, the attention weights and each sub-layer's output
    layer_norm_eps: float = 1e-5
    pad_id: int | None = None  # what generate writes after a row has ended; GPT-2 has none
    eos_id: int | None = None  # the token that ends a text: generate stops a row there

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_position", "hidden_size", "num_layers", "num_heads", "intermediate_size"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(text(f"{name}은(는) 1 이상의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.hidden_size % self.num_heads != 0:
            raise ValueError(text(
                f"hidden_size({self.hidden_size})는 num_heads({self.num_heads})로 나누어떨어져야 합니다 "
                f"(헤드마다 hidden_size / num_heads 차원)",
                f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads}) "
                f"(each head has hidden_size / num_heads features)",
            ))
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(text(f"dropout은 0 이상 1 미만이어야 합니다: {self.dropout!r}",
                                  f"dropout must be in [0, 1), got {self.dropout!r}"))
        eps = self.layer_norm_eps
        if not _is_number(eps) or not 0.0 < eps < 1.0:
            raise ValueError(text(f"layer_norm_eps는 0보다 크고 1보다 작아야 합니다: {eps!r}",
                                  f"layer_norm_eps must be in (0, 1), got {eps!r}"))
        for name in ("pad_id", "eos_id"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or not 0 <= value < self.vocab_size):
                raise ValueError(text(f"{name}({value!r})는 None이거나 0 이상 vocab_size({self.vocab_size}) 미만의 "
                                      f"정수여야 합니다",
                                      f"{name} ({value!r}) must be None or an integer in [0, vocab_size = "
                                      f"{self.vocab_size})"))

    @property
    def head_dim(self) -> int:
        """Dh = D / H, the width of each attention head."""
        return self.hidden_size // self.num_heads

    @classmethod
    def from_huggingface_config(cls, hf_config: Any) -> GPTConfig:
        """Our config for a 🤗 ``transformers.GPT2Config`` (or the dict of its ``config.json``).

        Refuses what our GPT does not compute (another activation, attention scaled
        differently, cross-attention, an untied output layer, separate dropout rates)
        rather than loading weights into a model that would compute something else.
        """
        def get(name: str, default: Any = None) -> Any:
            if isinstance(hf_config, Mapping):
                return hf_config.get(name, default)
            return getattr(hf_config, name, default)

        _require(get("model_type", "gpt2") == "gpt2", "model_type", get("model_type"), '"gpt2"')
        activation = get("activation_function", "gelu_new")
        _require(activation in ("gelu_new", "gelu_pytorch_tanh"), "activation_function", activation,
                 '"gelu_new" (GELU\'s tanh approximation; "gelu" is the exact erf GELU of BERT)')
        _require(get("scale_attn_weights", True) is True, "scale_attn_weights", get("scale_attn_weights"),
                 "True (scores divided by √Dh)")
        _require(not get("scale_attn_by_inverse_layer_idx", False), "scale_attn_by_inverse_layer_idx",
                 get("scale_attn_by_inverse_layer_idx"), "False (every layer scales by 1/√Dh alone)")
        _require(not get("reorder_and_upcast_attn", False), "reorder_and_upcast_attn",
                 get("reorder_and_upcast_attn"), "False")
        _require(not get("add_cross_attention", False), "add_cross_attention", get("add_cross_attention"),
                 "False (a decoder without an encoder)")
        _require(get("tie_word_embeddings", True) is True, "tie_word_embeddings", get("tie_word_embeddings"),
                 "True (the output layer is the token embedding table)")
        rates = {name: get(name, 0.1) for name in ("embd_pdrop", "resid_pdrop", "attn_pdrop")}
        _require(len(set(rates.values())) == 1, "embd_pdrop, resid_pdrop, attn_pdrop", tuple(rates.values()),
                 "one dropout rate for all three")
        eos_id = get("eos_token_id")
        if isinstance(eos_id, (list, tuple)):
            _require(len(eos_id) == 1, "eos_token_id", eos_id, "one end-of-text token")
            eos_id = eos_id[0]
        hidden_size = get("n_embd", 768)
        inner = get("n_inner")
        return cls(
            vocab_size=get("vocab_size", 50257), max_position=get("n_positions", 1024), hidden_size=hidden_size,
            num_layers=get("n_layer", 12), num_heads=get("n_head", 12),
            intermediate_size=4 * hidden_size if inner is None else inner, dropout=rates["resid_pdrop"],
            layer_norm_eps=get("layer_norm_epsilon", 1e-5), pad_id=get("pad_token_id"), eos_id=eos_id,
        )


@dataclass(frozen=True)
class KVCache:
    """What a GPT keeps from one step to the next: every layer's keys and values so far, and which are real.

    A forward pass with ``use_cache=True`` returns a new cache, the old one followed by the
    new positions; the one passed in is left as it was (so two continuations may share a prefix).
    """

    keys: tuple[Tensor, ...]  # one (B, H, S, Dh) per layer: x W^K + b^K at every position read so far
    values: tuple[Tensor, ...]  # one (B, H, S, Dh) per layer
    mask: Tensor  # (B, S) bool: True at real tokens, False at padding

    @property
    def length(self) -> int:
        """S, the positions held (padding included)."""
        return self.mask.size(1)

    @property
    def next_positions(self) -> Tensor:
        """(B,): the position the next real token of each row takes, the number of real tokens so far."""
        return self.mask.sum(dim=1)


@dataclass(frozen=True)
class GPTOutput:
    """What :class:`GPT` returns."""

    logits: Tensor  # scores of the next token at every position: (B, T, V)
    attentions: tuple[Tensor, ...]  # one (B, H, T, S) per layer; () with need_weights=False
    past: KVCache | None  # the keys and values of every position so far, with use_cache=True; else None


def init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation, for ``model.apply``: N(0, 0.02²) weights, zero biases, LayerNorm γ = 1, β = 0.

    :class:`GPT` then scales the residual projections by 1/√(2N) (Radford et al., 2019, §2.3).
    """
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=INIT_STD)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, MultiHeadAttention):  # [W^Q; W^K; W^V] stacked; W^O is an nn.Linear
        nn.init.normal_(module.in_proj_weight, std=INIT_STD)
        if module.in_proj_bias is not None:
            nn.init.zeros_(module.in_proj_bias)


class CausalSelfAttention(MultiHeadAttention):
    """Chapter 5's multi-head attention used as masked self-attention, keeping its keys and values.

    The parameters are :class:`attnbook.attention.MultiHeadAttention`'s (``in_proj_weight``
    stacks W^Q, W^K, W^V; ``out_proj`` is W^O). The difference is the input: one sequence x
    gives queries, keys and values, and the keys and values of earlier positions may come
    from a cache instead of being computed again.
    """

    def forward(self, x: Tensor, mask: Tensor | None = None, *,
                past: tuple[Tensor, Tensor] | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor]]:
        """x (B, T, D), mask (T, S) or (B, 1, T, S), past keys and values (B, H, S − T, Dh) each.

        One input where :class:`MultiHeadAttention` takes a query, a key and a value, and the
        past. Returns out (B, T, D), the weights (B, H, T, S) or None, and the keys and values
        of all S positions, (B, H, S, Dh) each — the past followed by the T new ones.
        """
        B, T, D = x.shape
        H, Dh = self.num_heads, self.head_dim
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(D, dim=-1)  # x [W^Q W^K W^V]: (B, T, D)
        q = q.view(B, T, H, Dh).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(B, T, H, Dh).transpose(1, 2)  # the new positions' keys: (B, H, T, Dh)
        v = v.view(B, T, H, Dh).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, H, S, Dh)
            v = torch.cat([past[1], v], dim=2)
        out, weights = self.attend(q, k, v, mask, need_weights=need_weights)  # chapter 5's heads and W^O
        return out, weights, (k, v)


class GPTBlock(EncoderLayer):
    """One GPT-2 block: chapter 6's pre-norm encoder layer with the tanh GELU, run under the causal mask.

    Its parameters have an :class:`~attnbook.transformer.EncoderLayer`'s names, so its state
    dict loads into ``EncoderLayer(D, H, F, norm_first=True, activation="gelu_tanh")``; the
    self-attention is a :class:`CausalSelfAttention`, which can read its past from a cache.
    There is no dropout inside the FFN (GPT-2 has none there).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config.hidden_size, config.num_heads, config.intermediate_size, config.dropout,
                         norm_first=True, activation="gelu_tanh", layer_norm_eps=config.layer_norm_eps,
                         activation_dropout=0.0)
        self.self_attn = CausalSelfAttention(config.hidden_size, config.num_heads, config.dropout)  # same layout

    def forward(self, x: Tensor, mask: Tensor | None = None, *,
                past: tuple[Tensor, Tensor] | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor]]:
        """x (B, T, D) → x (B, T, D), the attention weights (B, H, T, S) or None, the keys and values (B, H, S, Dh)."""
        attended, weights, present = self.self_attn(self.norm1(x), mask, past=past, need_weights=need_weights)
        x = x + self.dropout1(attended)  # x + Attention(LayerNorm(x))
        x = x + self.dropout2(self.feed_forward(self.norm2(x)))  # x + FFN(LayerNorm(x))
        return x, weights, present


class GPT(nn.Module):
    """GPT-2's language model: embeddings, N causal pre-norm blocks, a final LayerNorm, the tied output layer."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        D = config.hidden_size
        self.token_embedding = nn.Embedding(config.vocab_size, D)  # E: (V, D), also the output layer
        self.position_embedding = nn.Embedding(config.max_position, D)  # learned, one row per position
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(GPTBlock(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(D, eps=config.layer_norm_eps)  # after the last block (GPT-2, §2.3)
        self.apply(init_weights)
        with torch.no_grad():  # the projections into the residual stream: 2N of them add up
            for layer in self.layers:
                for weight in (layer.self_attn.out_proj.weight, layer.linear2.weight):
                    weight.mul_(1 / math.sqrt(2 * config.num_layers))

    @property
    def output_weight(self) -> nn.Parameter:
        """The output layer's weight: the very token embedding table of the input (tied), (V, D)."""
        return self.token_embedding.weight

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, *, past: KVCache | None = None,
                use_cache: bool = False, need_weights: bool = False) -> GPTOutput:
        """input_ids (B, T) → next-token logits (B, T, V), the attention weights, the KV cache.

        ``attention_mask`` (B, T) marks the real tokens among ``input_ids`` (1 or True) and the
        padding (0); None means no padding. ``past`` is the cache of the positions before
        ``input_ids``, from an earlier call with ``use_cache=True``; the new tokens then attend
        to those positions and to each other (causally), and ``attention_mask`` covers the new
        tokens only (the cache keeps the past's). With ``need_weights=True`` the attention runs
        through :func:`attnbook.attention.scaled_dot_product_attention` and returns its weights.
        """
        real = self._check_inputs(input_ids, attention_mask, past)  # (B, T) bool
        key_mask = real if past is None else torch.cat([past.mask, real], dim=1)  # (B, S)
        T, S = input_ids.size(1), key_mask.size(1)
        padded = not holds_values(key_mask) or not bool(key_mask.all())  # on meta: assume padding
        if padded:  # a token's position = the real tokens before it; padding takes 0 (as 🤗's generate)
            positions = (key_mask.long().cumsum(dim=1) - 1).masked_fill(~key_mask, 0)[:, S - T:]  # (B, T)
            last = int(positions.max()) if holds_values(positions) else S - 1
        else:
            positions = torch.arange(S - T, S, device=input_ids.device).expand_as(input_ids)  # (B, T)
            last = S - 1
        if last >= self.config.max_position:
            raise ValueError(text(
                f"위치 {last}이(가) max_position = {self.config.max_position}을 넘습니다 "
                f"(위치 임베딩은 {self.config.max_position}개뿐입니다)",
                f"position {last} is beyond max_position = {self.config.max_position} "
                f"(there are only {self.config.max_position} position embeddings)",
            ))
        mask = self._attention_mask(key_mask, T, padded)  # None, (T, S) or (B, 1, T, S)
        x = self.dropout(self.token_embedding(input_ids) + self.position_embedding(positions))  # (B, T, D)
        attentions, keys, values = [], [], []
        for i, layer in enumerate(self.layers):
            layer_past = None if past is None else (past.keys[i], past.values[i])
            x, weights, (k, v) = layer(x, mask, past=layer_past, need_weights=need_weights)  # (B, T, D)
            if need_weights:
                attentions.append(weights)
            keys.append(k)
            values.append(v)
        logits = F.linear(self.norm(x), self.output_weight)  # h Eᵀ: (B, T, V)
        cache = KVCache(tuple(keys), tuple(values), key_mask) if use_cache else None
        return GPTOutput(logits, tuple(attentions), cache)

    @staticmethod
    def _attention_mask(key_mask: Tensor, T: int, padded: bool) -> Tensor | None:
        """True = may attend: new token i (at index S − T + i) sees indices ≤ S − T + i that are real tokens."""
        S = key_mask.size(1)
        if T == 1 and not padded:
            return None  # one new token with no padding anywhere sees every position
        causal = causal_mask(S, device=key_mask.device)[S - T:]  # the new rows of the (S, S) mask: (T, S)
        if not padded:
            return causal
        return causal & key_mask[:, None, None, :]  # (B, 1, T, S)

    def _check_inputs(self, input_ids: Tensor, attention_mask: Tensor | None, past: KVCache | None) -> Tensor:
        """Clear errors for inputs that would fail deep inside or silently; returns the (B, T) bool mask."""
        config = self.config
        if not isinstance(input_ids, Tensor) or input_ids.dim() != 2 or input_ids.dtype not in _ID_TYPES \
                or input_ids.size(1) == 0:
            raise ValueError(text(
                f"input_ids는 (B, T) 정수 텐서여야 합니다 (T ≥ 1): {_describe(input_ids)}",
                f"input_ids must be a (B, T) tensor of token ids with T ≥ 1, got {_describe(input_ids)}",
            ))
        B, T = input_ids.shape
        low, high = (int(value) for value in torch.aminmax(input_ids)) if holds_values(input_ids) else (0, 0)
        if low < 0 or high >= config.vocab_size:
            raise ValueError(text(
                f"input_ids에 범위 밖의 번호가 있습니다 (0 ≤ id < vocab_size = {config.vocab_size}): {low}..{high}",
                f"input_ids holds ids outside [0, vocab_size = {config.vocab_size}): {low}..{high}",
            ))
        fits = past is None or (isinstance(past, KVCache) and len(past.keys) == config.num_layers
                                and past.mask.size(0) == B and past.keys[0].shape[:2] == (B, config.num_heads))
        if not fits:
            raise ValueError(text(
                f"past는 이 모델이 배치 크기 {B}로 만든 KVCache여야 합니다 (층 {config.num_layers}개)",
                f"past must be a KVCache made by this model for a batch of {B} ({config.num_layers} layers)",
            ))
        if attention_mask is None:
            return torch.ones(B, T, dtype=torch.bool, device=input_ids.device)
        if not isinstance(attention_mask, Tensor) or tuple(attention_mask.shape) != (B, T):
            raise ValueError(text(
                f"attention_mask의 모양은 input_ids와 같은 {(B, T)}이어야 합니다 (새 토큰만): "
                f"{_describe(attention_mask)}",
                f"attention_mask must have the shape of input_ids, {(B, T)} (the new tokens only), "
                f"got {_describe(attention_mask)}",
            ))
        if not holds_values(attention_mask):  # meta: shapes only, no values to check
            return attention_mask.bool()
        if attention_mask.dtype != torch.bool:
            if attention_mask.dtype not in _ID_TYPES or not ((attention_mask == 0) | (attention_mask == 1)).all():
                raise ValueError(text(
                    "attention_mask는 bool이거나 0과 1만 담은 정수 텐서여야 합니다 (1 = 실제 토큰, 0 = 패딩)",
                    "attention_mask must be bool, or integers that are all 0 or 1 (1 = real token, 0 = padding)",
                ))
            attention_mask = attention_mask.bool()
        has_real = attention_mask.any(dim=1) if past is None else attention_mask.any(dim=1) | past.mask.any(dim=1)
        if not has_real.all():
            raise ValueError(text("attention_mask에 실제 토큰이 하나도 없는 문장이 있습니다 (행이 모두 0)",
                                  "attention_mask has an empty sequence (a row with no real token)"))
        return attention_mask


# --- the objective ---------------------------------------------------------------------------------


def next_token_loss(logits: Tensor, input_ids: Tensor, attention_mask: Tensor | None = None, *,
                    reduction: str = "mean") -> Tensor:
    """Radford et al. (2018), eq. (1), averaged: the cross-entropy of token t + 1 given the logits at position t.

    logits (B, T, V), input_ids (B, T) → a scalar. The logits are shifted against the
    targets: position t predicts token t + 1, and the last position predicts nothing.
    With ``attention_mask`` (B, T), a prediction counts only when both the position that
    makes it and the token it predicts are real (no padding learned, none predicted from).
    ``reduction="sum"`` gives the sum over the counted predictions instead of their mean
    (what data parallelism adds up across processes, :mod:`attnbook.data_parallel`).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(text(f"reduction은 \"mean\" 또는 \"sum\"이어야 합니다: {reduction!r}",
                              f"reduction must be \"mean\" or \"sum\", got {reduction!r}"))
    if logits.dim() != 3 or input_ids.shape != logits.shape[:2] or input_ids.size(1) < 2:
        raise ValueError(text(
            f"logits (B, T, V)와 input_ids (B, T)의 모양이 맞아야 하고 T ≥ 2여야 합니다: "
            f"{tuple(logits.shape)}, {tuple(input_ids.shape)}",
            f"logits (B, T, V) and input_ids (B, T) must agree, with T ≥ 2, got "
            f"{tuple(logits.shape)}, {tuple(input_ids.shape)}",
        ))
    targets = input_ids[:, 1:]  # token t + 1 … (B, T − 1)
    predictions = logits[:, :-1]  # … predicted at position t: (B, T − 1, V)
    if attention_mask is not None:
        real = attention_mask.bool()
        targets = targets.masked_fill(~(real[:, 1:] & real[:, :-1]), IGNORE_INDEX)
    return F.cross_entropy(predictions.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX,
                           reduction=reduction)


# --- generation ------------------------------------------------------------------------------------


@dataclass
class PositionCount:
    """What :func:`count_positions` counts: the forward passes and the positions they ran (B × T each)."""

    calls: int = 0
    positions: int = 0


@contextmanager
def count_positions(model: GPT) -> Iterator[PositionCount]:
    """Count the work of every forward pass of ``model`` inside the ``with`` block.

    ``positions`` adds up B × T over the calls: the token positions run through the layers.
    Generating T tokens from a one-token prompt runs T positions with the KV cache and
    1 + 2 + … + T = T(T + 1)/2 without it::

        with count_positions(model) as count:
            generate(model, prompt, 20)
        count.positions
    """
    if not isinstance(model, GPT):
        raise TypeError(text(f"GPT 모델이 필요합니다: {type(model).__name__}",
                             f"expected a GPT, got {type(model).__name__}"))
    count = PositionCount()

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        input_ids = args[0] if args else kwargs["input_ids"]
        count.calls += 1
        count.positions += input_ids.numel()

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield count
    finally:
        handle.remove()


@torch.no_grad()
def generate(model: GPT, prompt_ids: Tensor, max_new_tokens: int, *, attention_mask: Tensor | None = None,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, use_cache: bool = True) -> Tensor:
    """Continue each prompt (B, P) by up to ``max_new_tokens`` tokens: → (B, P + n), the prompt included.

    Each step takes the logits at the last position, filters them (temperature, then top-k,
    then top-p; :func:`attnbook.sampling.filter_logits`) and samples the next token with
    ``generator`` (None: torch's global generator); ``temperature=0`` takes the most probable
    token instead (greedy decoding). With ``use_cache`` only the new token runs through the
    layers, reading the others' keys and values from the :class:`KVCache`; without it, the
    whole sequence is run again at every step. A row that produces ``config.eos_id`` has
    ended: its later tokens are ``config.pad_id`` (``eos_id`` if there is none), and
    generation stops when every row has ended. Prompts of different lengths are padded on
    the *left*, with ``attention_mask`` (B, P) marking the real tokens.
    """
    if not isinstance(model, GPT):
        raise TypeError(text(f"GPT 모델이 필요합니다: {type(model).__name__}",
                             f"expected a GPT, got {type(model).__name__}"))
    if model.training:
        raise ValueError(text("모델이 학습 모드입니다: 드롭아웃 때문에 결과가 매번 달라집니다. "
                              "model.eval()을 먼저 부르세요",
                              "the model is in training mode, so dropout would change every step: "
                              "call model.eval() first"))
    if not _is_int(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(text(f"max_new_tokens는 1 이상의 정수여야 합니다: {max_new_tokens!r}",
                              f"max_new_tokens must be an integer ≥ 1, got {max_new_tokens!r}"))
    greedy_decoding = _is_number(temperature) and temperature == 0
    # Check temperature, top_k and top_p now, before any work (temperature 0 is greedy decoding, not a division).
    filter_logits(torch.zeros(1, 1), temperature=1.0 if greedy_decoding else temperature, top_k=top_k, top_p=top_p)
    real = model._check_inputs(prompt_ids, attention_mask, None)  # (B, P) bool
    longest = int(real.sum(dim=1).max()) + max_new_tokens
    if longest > model.config.max_position:
        raise ValueError(text(
            f"프롬프트와 새 토큰을 합친 길이 {longest}이(가) max_position = {model.config.max_position}보다 깁니다",
            f"the prompt and the new tokens make {longest} positions, more than max_position = "
            f"{model.config.max_position}",
        ))
    config = model.config
    filler = config.pad_id if config.pad_id is not None else config.eos_id
    tokens, mask = prompt_ids, attention_mask
    done = torch.zeros(prompt_ids.size(0), dtype=torch.bool, device=prompt_ids.device)  # (B,)
    past = None
    for _ in range(max_new_tokens):
        if use_cache:
            new, new_mask = (tokens, mask) if past is None else (tokens[:, -1:], None)  # only the newest token
            out = model(new, new_mask, past=past, use_cache=True)
            past = out.past
        else:
            out = model(tokens, mask)  # every position, again
        logits = out.logits[:, -1]  # the next token's scores: (B, V)
        if greedy_decoding:
            next_ids = greedy(logits)  # (B,)
        else:
            next_ids = sample(filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p), generator)
        if config.eos_id is not None:
            next_ids = next_ids.masked_fill(done, filler)  # an ended row only pads
            done |= next_ids == config.eos_id
        tokens = torch.cat([tokens, next_ids[:, None]], dim=1)  # (B, t + 1)
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        if done.all():
            break
    return tokens


# --- 🤗 transformers ------------------------------------------------------------------------------

# 🤗 GPT2LMHeadModel's parameter names → ours, and whether the tensor is a Conv1D weight, stored (in, out).
_RENAMES = [
    (r"transformer\.wte\.weight", "token_embedding.weight", False),
    (r"transformer\.wpe\.weight", "position_embedding.weight", False),
    (r"transformer\.h\.(\d+)\.ln_1\.(weight|bias)", r"layers.\1.norm1.\2", False),
    (r"transformer\.h\.(\d+)\.attn\.c_attn\.weight", r"layers.\1.self_attn.in_proj_weight", True),
    (r"transformer\.h\.(\d+)\.attn\.c_attn\.bias", r"layers.\1.self_attn.in_proj_bias", False),
    (r"transformer\.h\.(\d+)\.attn\.c_proj\.weight", r"layers.\1.self_attn.out_proj.weight", True),
    (r"transformer\.h\.(\d+)\.attn\.c_proj\.bias", r"layers.\1.self_attn.out_proj.bias", False),
    (r"transformer\.h\.(\d+)\.ln_2\.(weight|bias)", r"layers.\1.norm2.\2", False),
    (r"transformer\.h\.(\d+)\.mlp\.c_fc\.weight", r"layers.\1.linear1.weight", True),
    (r"transformer\.h\.(\d+)\.mlp\.c_fc\.bias", r"layers.\1.linear1.bias", False),
    (r"transformer\.h\.(\d+)\.mlp\.c_proj\.weight", r"layers.\1.linear2.weight", True),
    (r"transformer\.h\.(\d+)\.mlp\.c_proj\.bias", r"layers.\1.linear2.bias", False),
    (r"transformer\.ln_f\.(weight|bias)", r"norm.\1", False),
]
_BUFFERS = re.compile(r"transformer\.h\.\d+\.attn\.(bias|masked_bias)")  # older files' causal-mask buffers
_TIED = {"lm_head.weight": "transformer.wte.weight"}


def huggingface_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The one mapping: a 🤗 ``GPT2LMHeadModel`` state dict → ours.

    Renames every parameter and transposes the ``Conv1D`` weights ((in, out) → (out, in)):
    ``c_attn`` (D, 3D), whose columns are W^Q, W^K, W^V side by side, becomes our
    ``in_proj_weight`` (3D, D) with them stacked. Checks that ``lm_head`` is tied to the token
    embeddings, and refuses any name it does not know (the caller's
    ``load_state_dict(strict=True)`` refuses any it misses).
    """
    ours: dict[str, Tensor] = {}
    unknown = []
    for name, tensor in state.items():
        if _BUFFERS.fullmatch(name):
            continue
        if name in _TIED:
            if _TIED[name] not in state or not torch.equal(tensor, state[_TIED[name]]):
                raise ValueError(text(
                    f"{name}이(가) {_TIED[name]}와 같지 않습니다: 우리 GPT는 출력층을 토큰 임베딩과 묶어 둡니다",
                    f"{name} differs from {_TIED[name]}: our GPT ties the output layer to the token embeddings",
                ))
            continue
        for pattern, replacement, transposed in _RENAMES:
            if re.fullmatch(pattern, name):
                ours[re.sub(pattern, replacement, name)] = tensor.t() if transposed else tensor  # Conv1D: (in, out)
                break
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(text(f"우리 GPT에 없는 🤗 매개변수입니다: {unknown}",
                              f"🤗 parameters that our GPT does not have: {unknown}"))
    return ours


def from_huggingface(hf_model: nn.Module) -> GPT:
    """Our GPT holding the same weights as a 🤗 ``transformers.GPT2LMHeadModel``, in the same (train or eval) mode."""
    import transformers  # here, not at the top: importing attnbook.gpt should stay light

    if type(hf_model) is not transformers.GPT2LMHeadModel:
        raise TypeError(text(f"from_huggingface는 transformers의 GPT2LMHeadModel만 받습니다: {type(hf_model).__name__}",
                             f"from_huggingface accepts transformers' GPT2LMHeadModel, got {type(hf_model).__name__}"))
    model = GPT(GPTConfig.from_huggingface_config(hf_model.config))
    model.load_state_dict(huggingface_state_dict(hf_model.state_dict()), strict=True)
    return model.train(hf_model.training)


# --- checks ----------------------------------------------------------------------------------------

_ID_TYPES = (torch.int64, torch.int32)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe(value: object) -> str:
    return f"{tuple(value.shape)} {value.dtype}" if isinstance(value, Tensor) else type(value).__name__


def _require(condition: bool, name: str, value: object, expected: str) -> None:
    if not condition:
        raise ValueError(text(
            f"지원하지 않는 🤗 GPT-2 설정입니다: {name} = {value!r} (우리 GPT는 {expected})",
            f"unsupported 🤗 GPT-2 setting: {name} = {value!r} (our GPT needs {expected})",
        ))

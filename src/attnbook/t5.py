"""T5 (Raffel et al., 2020): an encoder–decoder Transformer that turns every problem into text to text.

T5 is chapter 6's encoder–decoder with a few changes, each of which the tests against 🤗
``transformers.T5ForConditionalGeneration`` show matters (this is T5 v1.0, the paper's model;
§2.1 "Model" describes them):

- **relative position bias instead of position embeddings** (§2.1, after Shaw et al., 2018):
  nothing is added to the token embeddings. Instead each attention score q·k gets a learned
  scalar that depends only on the *offset* key − query, one scalar per head. The offsets are
  grouped into buckets (:func:`relative_position_bucket`): half the buckets hold one offset
  each (0, 1, 2, …), the other half grow logarithmically up to ``max_distance``, beyond which
  all offsets share the last bucket. The encoder distinguishes left from right (bidirectional:
  half the buckets for each side); the decoder only ever sees the past (causal: every future
  offset falls in bucket 0, where the causal mask hides it anyway). Each stack has one table
  (num_buckets, H); 🤗 stores it in the stack's first layer, computes the bias there once and
  hands the same bias to every other layer. Cross-attention has no position bias;
- **RMS norm** (a simplified layer normalisation, §2.1): x / √(mean(x²) + ε) · γ, with no
  mean subtracted and no bias β, ε = 10⁻⁶; applied *before* each sub-layer (pre-norm, as in
  GPT-2), with a final norm after each stack;
- **no 1/√d_k in the attention**: the scores are q·k as they are; T5's initialisation draws
  W^Q with a standard deviation (D·d_kv)^−½ instead, which folds the same factor into the
  weights. The heads' width d_kv is its own setting: H·d_kv need not equal D;
- the feed-forward network is ReLU(x W_i) W_o, with no biases anywhere in the model;
- one token embedding table shared by the encoder's input, the decoder's input and the output
  layer (tied); the decoder's output is scaled by D^−½ before it meets that table, so that
  logits = (h · D^−½) Eᵀ (Mesh TensorFlow's convention for tied embeddings);
- the decoder starts from the pad token (``decoder_start_token_id`` = 0), so training shifts
  the labels right with pad in front (:func:`shift_right`).

Masks. ``attention_mask`` (B, S) and ``decoder_attention_mask`` (B, T) follow 🤗: 1 (or True)
at real tokens, 0 at padding. The decoder's mask is *not* derived from the token ids when
it is None: the start token is the pad token, and must not be hidden.

Initialisation (:func:`init_weights`) follows 🤗's ``T5PreTrainedModel._init_weights`` with
``initializer_factor`` = 1: the shared embedding N(0, 1), W^Q N(0, (D·d_kv)^−1), W^K and W^V
N(0, D^−1), W^O N(0, (H·d_kv)^−1), W_i N(0, D^−1), W_o N(0, d_ff^−1), the bias table
N(0, D^−1), every norm's γ = 1.

The attention is chapter 5's :class:`attnbook.attention.MultiHeadAttention` with
``bias=False``, ``head_dim=d_kv``, ``scale=1.0`` and a ``position_bias``; its
``in_proj_weight`` stacks 🤗's separate q, k, v matrices, so :func:`from_huggingface` maps 🤗's
model onto ours by renaming and stacking, and refuses configurations it does not compute
(T5 v1.1's gated GELU, an output layer that is not rescaled, …).

Shape legend: B batch · S source (encoder) length · T target (decoder) length · D d_model ·
H heads · Dkv d_kv, one head's width · F d_ff · V vocabulary · K buckets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import MultiHeadAttention, causal_mask
from attnbook.language import text
from attnbook.runtime import holds_values

__all__ = [
    "IGNORE_INDEX",
    "T5",
    "RMSNorm",
    "RelativePositionBias",
    "T5Config",
    "T5DecoderLayer",
    "T5EncoderLayer",
    "T5Output",
    "T5Stack",
    "from_huggingface",
    "huggingface_state_dict",
    "init_weights",
    "relative_position_bucket",
    "shift_right",
]

IGNORE_INDEX = -100  # labels the loss skips (F.cross_entropy's and 🤗's default)


@dataclass(frozen=True)
class T5Config:
    """Sizes of a T5 v1.0; T5-small is V = 32128, D = 512, Dkv = 64, F = 2048, 6 + 6 layers, 8 heads."""

    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int  # encoder layers
    num_heads: int
    num_decoder_layers: int | None = None  # None: as many as the encoder
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout: float = 0.0
    layer_norm_epsilon: float = 1e-6
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0  # T5 starts decoding from the pad token

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                     "relative_attention_num_buckets", "relative_attention_max_distance"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(text(f"{name}은(는) 1 이상의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.num_decoder_layers is not None and (not _is_int(self.num_decoder_layers)
                                                    or self.num_decoder_layers < 1):
            raise ValueError(text(f"num_decoder_layers는 None이거나 1 이상의 정수여야 합니다: "
                                  f"{self.num_decoder_layers!r}",
                                  f"num_decoder_layers must be None or a positive integer, got "
                                  f"{self.num_decoder_layers!r}"))
        if self.relative_attention_num_buckets < 4:
            raise ValueError(text(
                f"relative_attention_num_buckets는 4 이상이어야 합니다 (양방향이면 방향마다 절반, 그 절반은 "
                f"정확한 거리): {self.relative_attention_num_buckets}",
                f"relative_attention_num_buckets must be at least 4 (half per direction when bidirectional, "
                f"half of that exact distances), got {self.relative_attention_num_buckets}"))
        if self.relative_attention_max_distance <= self.relative_attention_num_buckets // 2:
            raise ValueError(text(
                f"relative_attention_max_distance({self.relative_attention_max_distance})는 "
                f"relative_attention_num_buckets의 절반({self.relative_attention_num_buckets // 2})보다 커야 합니다 "
                f"(그 거리까지는 버킷이 하나씩입니다)",
                f"relative_attention_max_distance ({self.relative_attention_max_distance}) must exceed half of "
                f"relative_attention_num_buckets ({self.relative_attention_num_buckets // 2}), the distances "
                f"with a bucket each"))
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(text(f"dropout은 0 이상 1 미만이어야 합니다: {self.dropout!r}",
                                  f"dropout must be in [0, 1), got {self.dropout!r}"))
        eps = self.layer_norm_epsilon
        if not _is_number(eps) or not 0.0 < eps < 1.0:
            raise ValueError(text(f"layer_norm_epsilon은 0보다 크고 1보다 작아야 합니다: {eps!r}",
                                  f"layer_norm_epsilon must be in (0, 1), got {eps!r}"))
        for name in ("pad_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value < self.vocab_size:
                raise ValueError(text(f"{name}({value!r})는 0 이상 vocab_size({self.vocab_size}) 미만의 "
                                      f"정수여야 합니다",
                                      f"{name} ({value!r}) must be an integer in [0, vocab_size = "
                                      f"{self.vocab_size})"))

    @property
    def decoder_layers(self) -> int:
        """The decoder's number of layers (``num_decoder_layers``, or ``num_layers`` when that is None)."""
        return self.num_layers if self.num_decoder_layers is None else self.num_decoder_layers

    @property
    def inner_dim(self) -> int:
        """H · Dkv, the width of the concatenated heads (may differ from D)."""
        return self.num_heads * self.d_kv

    @classmethod
    def from_huggingface_config(cls, hf_config: Any) -> T5Config:
        """Our config for a 🤗 ``transformers.T5Config`` (or the dict of its ``config.json``).

        Refuses what our T5 does not compute (T5 v1.1's gated GELU or another activation,
        an output layer without the D^−½ rescaling, i.e. ``tie_word_embeddings=False``, a
        decoder-only stack, no start token) rather than loading weights into a model that
        would compute something else.
        """
        def get(name: str, default: Any = None) -> Any:
            if isinstance(hf_config, Mapping):
                return hf_config.get(name, default)
            return getattr(hf_config, name, default)

        _require(get("model_type", "t5") == "t5", "model_type", get("model_type"), '"t5"')
        _require(get("feed_forward_proj", "relu") == "relu", "feed_forward_proj", get("feed_forward_proj"),
                 text('"relu" (T5 v1.0의 ReLU FFN; "gated-gelu"는 T5 v1.1)',
                      '"relu" (T5 v1.0\'s ReLU FFN; "gated-gelu" is T5 v1.1)'))
        # 🤗 ≥ 5 keeps the embeddings tied and records tie_word_embeddings=False as scale_decoder_outputs=False.
        scaled = get("scale_decoder_outputs", get("tie_word_embeddings", True))
        _require(scaled is not False and get("tie_word_embeddings", True) is not False, "tie_word_embeddings",
                 False, text("True (출력층 = 공유 임베딩, 디코더 출력에 D^-0.5를 곱함)",
                             "True (output layer = the shared embedding, decoder output scaled by D^-0.5)"))
        _require(not get("is_decoder", False), "is_decoder", get("is_decoder"),
                 text("False (인코더–디코더)", "False (an encoder–decoder)"))
        _require(get("is_encoder_decoder", True) is True, "is_encoder_decoder", get("is_encoder_decoder"), "True")
        start = get("decoder_start_token_id")
        _require(start is not None, "decoder_start_token_id", start,
                 text("정수 (T5는 pad = 0에서 시작)", "an integer (T5 starts from pad = 0)"))
        eos = get("eos_token_id", 1)
        if isinstance(eos, (list, tuple)):
            _require(len(eos) == 1, "eos_token_id", eos, text("끝 토큰 하나", "one end token"))
            eos = eos[0]
        return cls(
            vocab_size=get("vocab_size"), d_model=get("d_model"), d_kv=get("d_kv"), d_ff=get("d_ff"),
            num_layers=get("num_layers"), num_heads=get("num_heads"),
            num_decoder_layers=get("num_decoder_layers"),
            relative_attention_num_buckets=get("relative_attention_num_buckets", 32),
            relative_attention_max_distance=get("relative_attention_max_distance", 128),
            dropout=get("dropout_rate", 0.1), layer_norm_epsilon=get("layer_norm_epsilon", 1e-6),
            pad_token_id=get("pad_token_id", 0), eos_token_id=eos, decoder_start_token_id=start,
        )


@dataclass(frozen=True)
class T5Output:
    """What :class:`T5` returns (``decode`` alone leaves the encoder's fields empty)."""

    logits: Tensor  # (h · D^-0.5) Eᵀ at every decoder position: (B, T, V)
    decoder_hidden_states: Tensor  # the decoder's output after its final norm, before the rescaling: (B, T, D)
    encoder_hidden_states: Tensor | None  # (B, S, D); None from decode
    encoder_attentions: tuple[Tensor, ...]  # one (B, H, S, S) per encoder layer; () without weights
    decoder_attentions: tuple[Tensor, ...]  # one (B, H, T, T) per decoder layer (causal)
    cross_attentions: tuple[Tensor, ...]  # one (B, H, T, S) per decoder layer
    encoder_position_bias: Tensor | None  # the bias every encoder layer adds: (1, H, S, S); None from decode
    decoder_position_bias: Tensor  # the bias every decoder self-attention adds: (1, H, T, T)


def relative_position_bucket(relative_position: Tensor, *, bidirectional: bool, num_buckets: int = 32,
                             max_distance: int = 128) -> Tensor:
    """The bucket (0 … num_buckets − 1) of each offset key − query, as T5's Mesh TensorFlow code computes it.

    Bidirectional (the encoder): buckets [0, K/2) for offsets ≤ 0 (the key at or left of the
    query), [K/2, K) for offsets > 0. Causal (the decoder): only offsets ≤ 0 count, every
    positive offset lands in bucket 0. Within a side of n buckets (n = K/2 or K), the first
    n/2 hold the distances 0 … n/2 − 1 one each; the rest cover n/2 … max_distance on a log
    scale, ⌊n/2 + log(d / (n/2)) / log(max_distance / (n/2)) · (n − n/2)⌋, and every distance
    from max_distance on shares the last one. Same as 🤗's ``T5Attention._relative_position_bucket``.
    """
    if not isinstance(relative_position, Tensor) or relative_position.dtype.is_floating_point \
            or relative_position.dtype == torch.bool:
        raise TypeError(text(f"relative_position은 정수 텐서여야 합니다: {_describe(relative_position)}",
                             f"relative_position must be an integer tensor, got {_describe(relative_position)}"))
    if not isinstance(bidirectional, bool):
        raise TypeError(text(f"bidirectional은 True 또는 False여야 합니다: {bidirectional!r}",
                             f"bidirectional must be True or False, got {bidirectional!r}"))
    smallest = 4 if bidirectional else 2
    if not _is_int(num_buckets) or num_buckets < smallest:
        raise ValueError(text(f"num_buckets는 {smallest} 이상의 정수여야 합니다: {num_buckets!r}",
                              f"num_buckets must be an integer ≥ {smallest}, got {num_buckets!r}"))
    relative_position = relative_position.long()
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2  # one half for each direction
        buckets = buckets + (relative_position > 0).long() * num_buckets  # keys to the right: upper half
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp(min=0)  # the past only; the future (masked anyway) → 0
    max_exact = num_buckets // 2  # distances 0 … max_exact − 1 get a bucket each
    if not _is_int(max_distance) or max_distance <= max_exact:
        raise ValueError(text(f"max_distance는 정확한 거리의 버킷 수({max_exact})보다 큰 정수여야 합니다: "
                              f"{max_distance!r}",
                              f"max_distance must be an integer larger than the exact buckets ({max_exact}), "
                              f"got {max_distance!r}"))
    # The log buckets: computed for every distance (clamped to 1 to avoid log 0), used only where d ≥ max_exact.
    logarithmic = max_exact + (
        torch.log(distance.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).long()
    logarithmic = logarithmic.clamp(max=num_buckets - 1)  # from max_distance on: the last bucket
    return buckets + torch.where(distance < max_exact, distance, logarithmic)


def shift_right(labels: Tensor, config: T5Config) -> Tensor:
    """The decoder's input for ``labels`` (B, T): the start token, then labels[:, :-1]; −100 becomes pad.

    T5 starts from ``decoder_start_token_id`` (the pad token, 0); the ignored labels (−100,
    which the loss skips) would not be token ids, so they are read as pad (as 🤗's ``_shift_right``).
    """
    if not isinstance(labels, Tensor) or labels.dim() != 2 or labels.dtype not in _ID_TYPES:
        raise ValueError(text(f"labels는 (B, T) 정수 텐서여야 합니다: {_describe(labels)}",
                              f"labels must be a (B, T) integer tensor, got {_describe(labels)}"))
    shifted = labels.new_full(labels.shape, config.decoder_start_token_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == IGNORE_INDEX, config.pad_token_id)


def init_weights(module: nn.Module) -> None:
    """🤗's ``T5PreTrainedModel._init_weights`` (``initializer_factor`` = 1), for ``model.apply``.

    The standard deviations make each projection's output start with unit variance for unit
    inputs; W^Q's extra d_kv^−½ is the 1/√d_k that T5's attention leaves out.
    """
    if isinstance(module, RMSNorm):
        nn.init.ones_(module.weight)
    elif isinstance(module, MultiHeadAttention):
        D, H, Dkv = module.d_model, module.num_heads, module.head_dim
        W_Q, W_K, W_V = module.in_proj_weight.data.chunk(3)  # views into [W^Q; W^K; W^V]
        nn.init.normal_(W_Q, std=(D * Dkv) ** -0.5)
        nn.init.normal_(W_K, std=D ** -0.5)
        nn.init.normal_(W_V, std=D ** -0.5)
        nn.init.normal_(module.out_proj.weight, std=(H * Dkv) ** -0.5)
    elif isinstance(module, (T5EncoderLayer, T5DecoderLayer)):
        nn.init.normal_(module.linear1.weight, std=module.linear1.in_features ** -0.5)  # W_i: D^-1/2
        nn.init.normal_(module.linear2.weight, std=module.linear2.in_features ** -0.5)  # W_o: F^-1/2
    elif isinstance(module, RelativePositionBias):
        nn.init.normal_(module.relative_attention_bias.weight, std=module.d_model ** -0.5)
    elif isinstance(module, T5):
        nn.init.normal_(module.shared.weight, std=1.0)


class RMSNorm(nn.Module):
    """x / √(mean(x²) + ε) · γ over the last axis: LayerNorm without the mean and without β (T5's layer_norm)."""

    def __init__(self, d_model: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))  # γ: (D,)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """(…, D) → (…, D)."""
        mean_square = x.pow(2).mean(dim=-1, keepdim=True)  # (…, 1)
        return self.weight * (x * torch.rsqrt(mean_square + self.eps))


class RelativePositionBias(nn.Module):
    """One stack's table of learned biases, (K, H): the bias of every (query, key) pair by its offset's bucket."""

    def __init__(self, config: T5Config, *, bidirectional: bool) -> None:
        super().__init__()
        self.bidirectional = bidirectional  # the encoder's: True; the decoder's: False (causal)
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.d_model = config.d_model  # for the initialisation only
        self.relative_attention_bias = nn.Embedding(self.num_buckets, config.num_heads)  # (K, H)

    def forward(self, query_length: int, key_length: int) -> Tensor:
        """The bias of every head for every query i and key j: (1, H, T, S), from offset j − i."""
        device = self.relative_attention_bias.weight.device
        query = torch.arange(query_length, device=device)[:, None]  # (T, 1)
        key = torch.arange(key_length, device=device)[None, :]  # (1, S)
        buckets = relative_position_bucket(key - query, bidirectional=self.bidirectional,
                                           num_buckets=self.num_buckets, max_distance=self.max_distance)  # (T, S)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (T, S, H) → (1, H, T, S)


class T5EncoderLayer(nn.Module):
    """x = x + SelfAttention(RMSNorm(x), + position bias); x = x + FFN(RMSNorm(x)), FFN = ReLU(x W_i) W_o."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        D, p = config.d_model, config.dropout
        self.norm1 = RMSNorm(D, config.layer_norm_epsilon)
        self.self_attn = MultiHeadAttention(D, config.num_heads, p, bias=False, head_dim=config.d_kv, scale=1.0)
        self.norm2 = RMSNorm(D, config.layer_norm_epsilon)
        self.linear1 = nn.Linear(D, config.d_ff, bias=False)  # W_i
        self.linear2 = nn.Linear(config.d_ff, D, bias=False)  # W_o
        self.dropout = nn.Dropout(p)  # after the ReLU
        self.dropout1 = nn.Dropout(p)  # on each sub-layer's output
        self.dropout2 = nn.Dropout(p)

    def feed_forward(self, x: Tensor) -> Tensor:
        """ReLU(x W_i) W_o: (…, D) → (…, D)."""
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(self, x: Tensor, mask: Tensor | None, position_bias: Tensor, *,
                need_weights: bool = True) -> tuple[Tensor, Tensor | None]:
        """x (B, S, D), mask (B, 1, 1, S) or None, position_bias (1, H, S, S) → x (B, S, D), weights (B, H, S, S)."""
        h = self.norm1(x)
        attended, weights = self.self_attn(h, h, h, mask, need_weights=need_weights, position_bias=position_bias)
        x = x + self.dropout1(attended)
        x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        return x, weights


class T5DecoderLayer(T5EncoderLayer):
    """The encoder layer with cross-attention between the two: self (causal, + bias), cross (no bias), FFN."""

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        D, p = config.d_model, config.dropout
        self.multihead_attn = MultiHeadAttention(D, config.num_heads, p, bias=False, head_dim=config.d_kv,
                                                 scale=1.0)  # encoder–decoder ("cross")
        self.norm3 = RMSNorm(D, config.layer_norm_epsilon)  # norm1: self, norm2: cross, norm3: FFN
        self.dropout3 = nn.Dropout(p)

    def forward(self, x: Tensor, memory: Tensor, self_mask: Tensor, memory_mask: Tensor | None,  # type: ignore[override]
                position_bias: Tensor, *, need_weights: bool = True) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """x (B, T, D), memory (B, S, D) → x (B, T, D), self weights (B, H, T, T), cross weights (B, H, T, S)."""
        h = self.norm1(x)
        attended, self_weights = self.self_attn(h, h, h, self_mask, need_weights=need_weights,
                                                position_bias=position_bias)
        x = x + self.dropout1(attended)
        attended, cross_weights = self.multihead_attn(self.norm2(x), memory, memory, memory_mask,
                                                      need_weights=need_weights)  # no position bias
        x = x + self.dropout2(attended)
        x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        return x, self_weights, cross_weights


class T5Stack(nn.Module):
    """N layers sharing one position bias (computed once per call), and the final RMS norm."""

    def __init__(self, config: T5Config, *, decoder: bool) -> None:
        super().__init__()
        self.is_decoder = decoder
        layer = T5DecoderLayer if decoder else T5EncoderLayer
        count = config.decoder_layers if decoder else config.num_layers
        self.position_bias = RelativePositionBias(config, bidirectional=not decoder)
        self.layers = nn.ModuleList(layer(config) for _ in range(count))
        self.final_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout)  # on the embeddings and after the final norm


class T5(nn.Module):
    """T5 v1.0 (``T5ForConditionalGeneration``): shared embedding, encoder, decoder, rescaled tied output layer."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        if not isinstance(config, T5Config):
            raise TypeError(text(f"T5Config가 필요합니다: {type(config).__name__}",
                                 f"expected a T5Config, got {type(config).__name__}"))
        self.config = config
        self.shared = nn.Embedding(config.vocab_size, config.d_model)  # E: (V, D), input of both stacks and output
        self.encoder = T5Stack(config, decoder=False)
        self.decoder = T5Stack(config, decoder=True)
        self.apply(init_weights)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                decoder_input_ids: Tensor | None = None, decoder_attention_mask: Tensor | None = None, *,
                need_weights: bool = True) -> T5Output:
        """input_ids (B, S), decoder_input_ids (B, T) → logits (B, T, V), the attention weights and biases.

        ``decoder_input_ids`` is required: for training, make it with :func:`shift_right` from the
        labels. With ``need_weights=False`` the attention runs through PyTorch's fused kernel and
        the three tuples of weights are ().
        """
        if decoder_input_ids is None:
            raise ValueError(text(
                "decoder_input_ids가 필요합니다: 학습에서는 shift_right(labels, config)로 만드세요 "
                "(T5는 pad에서 시작합니다)",
                "decoder_input_ids is required: for training, make it with shift_right(labels, config) "
                "(T5 starts from pad)"))
        memory, encoder_mask, encoder_attentions, encoder_bias = self._encode(input_ids, attention_mask,
                                                                              need_weights)
        out = self._decode(decoder_input_ids, memory, encoder_mask, decoder_attention_mask, need_weights)
        return T5Output(out.logits, out.decoder_hidden_states, memory, encoder_attentions,
                        out.decoder_attentions, out.cross_attentions, encoder_bias, out.decoder_position_bias)

    def encode(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """The encoder's output (B, S, D) for input_ids (B, S) (what generation computes once)."""
        return self._encode(input_ids, attention_mask, need_weights=False)[0]

    def decode(self, decoder_input_ids: Tensor, encoder_hidden_states: Tensor, attention_mask: Tensor | None = None,
               decoder_attention_mask: Tensor | None = None, *, need_weights: bool = False) -> T5Output:
        """The decoder on decoder_input_ids (B, T) over the encoder's output (B, S, D) → logits (B, T, V).

        ``attention_mask`` (B, S) is the *encoder's* padding mask (1 = real token).
        """
        memory = encoder_hidden_states
        if not isinstance(memory, Tensor) or memory.dim() != 3 or memory.size(-1) != self.config.d_model:
            raise ValueError(text(
                f"encoder_hidden_states는 (B, S, D = {self.config.d_model}) 모양이어야 합니다: {_describe(memory)}",
                f"encoder_hidden_states must have shape (B, S, D = {self.config.d_model}), got {_describe(memory)}"))
        encoder_mask = self._padding_mask("attention_mask", attention_mask, tuple(memory.shape[:2]))
        return self._decode(decoder_input_ids, memory, encoder_mask, decoder_attention_mask, need_weights)

    def _encode(self, input_ids: Tensor, attention_mask: Tensor | None,
                need_weights: bool) -> tuple[Tensor, Tensor | None, tuple[Tensor, ...], Tensor]:
        self._check_ids("input_ids", input_ids)
        mask = self._padding_mask("attention_mask", attention_mask, tuple(input_ids.shape))  # (B, 1, 1, S)
        stack = self.encoder
        S = input_ids.size(1)
        bias = stack.position_bias(S, S)  # (1, H, S, S): once, for every layer
        x = stack.dropout(self.shared(input_ids))  # (B, S, D): no position embedding
        attentions = []
        for layer in stack.layers:
            x, weights = layer(x, mask, bias, need_weights=need_weights)
            if need_weights:
                attentions.append(weights)
        return stack.dropout(stack.final_norm(x)), mask, tuple(attentions), bias

    def _decode(self, decoder_input_ids: Tensor, memory: Tensor, encoder_mask: Tensor | None,
                decoder_attention_mask: Tensor | None, need_weights: bool) -> T5Output:
        self._check_ids("decoder_input_ids", decoder_input_ids)
        B, T = decoder_input_ids.shape
        if memory.size(0) != B:
            raise ValueError(text(f"인코더 출력의 배치 크기 {memory.size(0)}가 decoder_input_ids의 {B}와 다릅니다",
                                  f"the encoder output's batch size {memory.size(0)} differs from "
                                  f"decoder_input_ids' {B}"))
        padding = self._padding_mask("decoder_attention_mask", decoder_attention_mask, (B, T))  # (B, 1, 1, T)
        self_mask = causal_mask(T, decoder_input_ids.device)  # (T, T): position t sees ≤ t
        if padding is not None:
            self_mask = self_mask & padding  # (B, 1, T, T)
        stack = self.decoder
        bias = stack.position_bias(T, T)  # (1, H, T, T), causal buckets: once, for every layer
        x = stack.dropout(self.shared(decoder_input_ids))  # (B, T, D)
        self_attentions, cross_attentions = [], []
        for layer in stack.layers:
            x, self_weights, cross_weights = layer(x, memory, self_mask, encoder_mask, bias,
                                                   need_weights=need_weights)
            if need_weights:
                self_attentions.append(self_weights)
                cross_attentions.append(cross_weights)
        hidden = stack.dropout(stack.final_norm(x))  # (B, T, D)
        logits = (hidden * self.config.d_model ** -0.5) @ self.shared.weight.T  # tied and rescaled: (B, T, V)
        return T5Output(logits, hidden, None, (), tuple(self_attentions), tuple(cross_attentions), None, bias)

    def _check_ids(self, name: str, ids: object) -> None:
        if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype not in _ID_TYPES or ids.size(1) == 0 \
                or ids.size(0) == 0:
            raise ValueError(text(f"{name}는 (B, T) 정수 텐서여야 합니다 (B, T ≥ 1): {_describe(ids)}",
                                  f"{name} must be a (B, T) tensor of token ids with B, T ≥ 1, got {_describe(ids)}"))
        if not holds_values(ids):  # meta: shapes only, no values to check
            return
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= self.config.vocab_size:
            raise ValueError(text(
                f"{name}에 범위 밖의 번호가 있습니다 (0 ≤ id < vocab_size = {self.config.vocab_size}): {low}..{high}",
                f"{name} holds ids outside [0, vocab_size = {self.config.vocab_size}): {low}..{high}"))

    @staticmethod
    def _padding_mask(name: str, mask: Tensor | None, shape: tuple[int, ...]) -> Tensor | None:
        """🤗's (B, L) 0/1 mask → (B, 1, 1, L) bool, True = may attend; None stays None (nothing padded)."""
        if mask is None:
            return None
        if not isinstance(mask, Tensor) or tuple(mask.shape) != shape:
            raise ValueError(text(f"{name}의 모양은 {shape}이어야 합니다: {_describe(mask)}",
                                  f"{name} must have shape {shape}, got {_describe(mask)}"))
        if mask.dtype != torch.bool:
            if mask.dtype.is_floating_point or (holds_values(mask) and not bool(((mask == 0) | (mask == 1)).all())):
                raise ValueError(text(f"{name}는 0/1(또는 bool) 텐서여야 합니다 (1 = 실제 토큰)",
                                      f"{name} must hold 0 and 1 (or bools), 1 = a real token"))
            mask = mask == 1
        return mask[:, None, None, :]


# --- 🤗 transformers ------------------------------------------------------------------------------

# 🤗's parameter names → ours ("{i}" a layer number). Self-attention is layer.0 in both stacks; the
# decoder's cross-attention is layer.1, so its feed-forward moves from layer.1 to layer.2.
_RENAMES = [
    (r"(encoder|decoder)\.block\.(\d+)\.layer\.0\.layer_norm\.weight", r"\1.layers.\2.norm1.weight"),
    (r"(encoder|decoder)\.block\.(\d+)\.layer\.0\.SelfAttention\.o\.weight", r"\1.layers.\2.self_attn.out_proj.weight"),
    (r"(encoder|decoder)\.block\.0\.layer\.0\.SelfAttention\.relative_attention_bias\.weight",
     r"\1.position_bias.relative_attention_bias.weight"),
    (r"encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.wi\.weight", r"encoder.layers.\1.linear1.weight"),
    (r"encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.wo\.weight", r"encoder.layers.\1.linear2.weight"),
    (r"encoder\.block\.(\d+)\.layer\.1\.layer_norm\.weight", r"encoder.layers.\1.norm2.weight"),
    (r"decoder\.block\.(\d+)\.layer\.1\.EncDecAttention\.o\.weight",
     r"decoder.layers.\1.multihead_attn.out_proj.weight"),
    (r"decoder\.block\.(\d+)\.layer\.1\.layer_norm\.weight", r"decoder.layers.\1.norm2.weight"),
    (r"decoder\.block\.(\d+)\.layer\.2\.DenseReluDense\.wi\.weight", r"decoder.layers.\1.linear1.weight"),
    (r"decoder\.block\.(\d+)\.layer\.2\.DenseReluDense\.wo\.weight", r"decoder.layers.\1.linear2.weight"),
    (r"decoder\.block\.(\d+)\.layer\.2\.layer_norm\.weight", r"decoder.layers.\1.norm3.weight"),
    (r"(encoder|decoder)\.final_layer_norm\.weight", r"\1.final_norm.weight"),
    (r"shared\.weight", "shared.weight"),
]
_QKV = re.compile(r"(encoder|decoder)\.block\.(\d+)\.layer\.(0\.SelfAttention|1\.EncDecAttention)\.([qkv])\.weight")
_TIED = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight")  # all = shared.weight


def huggingface_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The one mapping: a 🤗 ``T5ForConditionalGeneration`` state dict → ours.

    Renames every parameter, stacks each attention's q, k, v into ``in_proj_weight``
    ([W^Q; W^K; W^V]), checks that the two stacks' embeddings and the output layer are the
    shared table, and refuses any name it does not know (the caller's
    ``load_state_dict(strict=True)`` refuses any it misses).
    """
    ours: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str, str], dict[str, Tensor]] = {}
    unknown = []
    for name, tensor in state.items():
        if name in _TIED:
            if "shared.weight" not in state or not torch.equal(tensor, state["shared.weight"]):
                raise ValueError(text(f"{name}이(가) shared.weight와 다릅니다: 우리 T5는 입력 임베딩과 출력층을 "
                                      f"하나의 표로 묶습니다",
                                      f"{name} differs from shared.weight: our T5 ties both embeddings and the "
                                      f"output layer to one table"))
            continue
        if match := _QKV.fullmatch(name):
            stack, layer, kind, role = match.groups()
            qkv.setdefault((stack, layer, kind), {})[role] = tensor
            continue
        for pattern, replacement in _RENAMES:
            if re.fullmatch(pattern, name):
                ours[re.sub(pattern, replacement, name)] = tensor
                break
        else:
            unknown.append(name)
    for (stack, layer, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            unknown.append(f"{stack}.block.{layer}.layer.{kind}.* ({sorted(parts)})")
            continue
        if stack == "encoder" and kind != "0.SelfAttention":
            unknown.append(f"encoder.block.{layer}.layer.{kind}")
            continue
        attention = "self_attn" if kind == "0.SelfAttention" else "multihead_attn"
        ours[f"{stack}.layers.{layer}.{attention}.in_proj_weight"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    if unknown:
        raise ValueError(text(f"우리 T5에 없는 🤗 매개변수입니다: {unknown}",
                              f"🤗 parameters that our T5 does not have: {unknown}"))
    return ours


def from_huggingface(hf_model: nn.Module) -> T5:
    """Our T5 holding the same weights as a 🤗 ``transformers.T5ForConditionalGeneration``.

    The config is checked by :meth:`T5Config.from_huggingface_config`, the weights mapped by
    :func:`huggingface_state_dict` and loaded strictly; the result is in the same (train or
    eval) mode as ``hf_model``.
    """
    import transformers  # here, not at the top: importing attnbook.t5 should stay light

    if type(hf_model) is not transformers.T5ForConditionalGeneration:
        raise TypeError(text(
            f"from_huggingface는 transformers의 T5ForConditionalGeneration만 받습니다: {type(hf_model).__name__}",
            f"from_huggingface accepts transformers' T5ForConditionalGeneration, got {type(hf_model).__name__}"))
    model = T5(T5Config.from_huggingface_config(hf_model.config))
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
            f"지원하지 않는 🤗 T5 설정입니다: {name} = {value!r} (우리 T5가 받는 값: {expected})",
            f"unsupported 🤗 T5 setting: {name} = {value!r} (our T5 needs {expected})",
        ))

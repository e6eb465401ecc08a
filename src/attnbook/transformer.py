"""The Transformer (Vaswani et al., 2017): an encoder–decoder built from attention alone.

Figure 1 of the paper, from the bottom up:

- embeddings × √d_model (§3.4) plus sinusoidal positional encodings (§3.5), then dropout;
- the encoder: N layers of [multi-head self-attention, position-wise feed-forward];
- the decoder: N layers of [*masked* self-attention (position t sees positions ≤ t),
  encoder–decoder ("cross") attention whose queries come from the decoder and whose
  keys and values are the encoder's output, feed-forward];
- a linear layer and softmax over the target vocabulary.

Each sub-layer has a residual connection and layer normalisation. The paper normalises
after adding (*post-norm*, ``norm_first=False``): x = LayerNorm(x + Sublayer(x)) (§3.1).
Most later models normalise the sub-layer's input instead (*pre-norm*,
``norm_first=True``): x = x + Sublayer(LayerNorm(x)), plus one final LayerNorm after
each stack; it trains more easily without a warm-up.

Parameters are named like PyTorch's: an ``EncoderLayer``'s state dict loads into
``torch.nn.TransformerEncoderLayer(batch_first=True)`` (same ``norm_first``) and back, a
``DecoderLayer``'s into ``torch.nn.TransformerDecoderLayer``, and an ``Encoder`` /
``Decoder`` into ``torch.nn.TransformerEncoder`` / ``TransformerDecoder`` whose final
``norm`` is a LayerNorm with pre-norm and None with post-norm. Dropout falls where
PyTorch puts it: on each sub-layer's output before the residual sum (§5.4), on the
attention weights, and after the feed-forward's ReLU.

Masks are boolean, True = may attend (PyTorch's layers use the opposite convention).

Shape legend: B batch · S source length · T target length · D d_model · H heads ·
F d_ff · V vocabulary · N layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import MultiHeadAttention, causal_mask
from attnbook.language import text
from attnbook.positional import PositionalEncoding
from attnbook.runtime import holds_values
from attnbook.seq2seq import check_source

__all__ = [
    "Decoder",
    "DecoderLayer",
    "Encoder",
    "EncoderLayer",
    "Transformer",
    "TransformerAttention",
    "TransformerConfig",
    "TransformerState",
]

# By name: the two that torch.nn.TransformerEncoderLayer accepts, and GELU's tanh approximation (GPT-2's "gelu_new").
ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": partial(F.gelu, approximate="tanh")}


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a Transformer; the paper's base model is d_model=512, num_heads=8, d_ff=2048, 6 + 6 layers."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    d_ff: int = 128
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.1
    norm_first: bool = False  # False: post-norm, as in the paper; True: pre-norm
    max_len: int = 128  # the longest source or target the positional table covers
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads", "d_ff", "num_encoder_layers",
                     "num_decoder_layers", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(text(f"{name}은(는) 1 이상의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.d_model % self.num_heads != 0:
            raise ValueError(text(
                f"d_model({self.d_model})은 num_heads({self.num_heads})로 나누어떨어져야 합니다 "
                f"(헤드마다 d_k = d_model / h)",
                f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads}) "
                f"(each head has d_k = d_model / h)",
            ))
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool) \
                or not 0.0 <= self.dropout < 1.0:
            raise ValueError(text(f"dropout은 0 이상 1 미만이어야 합니다: {self.dropout!r}",
                                  f"dropout must be in [0, 1), got {self.dropout!r}"))
        if not isinstance(self.norm_first, bool):
            raise ValueError(text(f"norm_first는 True 또는 False여야 합니다: {self.norm_first!r}",
                                  f"norm_first must be True or False, got {self.norm_first!r}"))
        specials = (self.pad_id, self.bos_id, self.eos_id)
        smallest = min(self.src_vocab_size, self.tgt_vocab_size)
        if len(set(specials)) != 3 or not all(isinstance(i, int) and 0 <= i < smallest for i in specials):
            raise ValueError(text(f"특수 토큰 번호 (pad, bos, eos) = {specials}는 서로 달라야 하고 "
                                  f"0 이상, 어휘 크기({smallest})보다 작아야 합니다",
                                  f"special ids (pad, bos, eos) = {specials} must differ and lie in "
                                  f"[0, {smallest}) (the smaller vocabulary)"))


@dataclass(frozen=True)
class TransformerAttention:
    """Every attention weight of one forward pass: one (B, H, queries, keys) tensor per layer."""

    encoder_self: tuple[Tensor, ...]  # the encoder's self-attention, (B, H, S, S) per layer
    decoder_self: tuple[Tensor, ...]  # the decoder's masked self-attention, (B, H, T, T) per layer
    cross: tuple[Tensor, ...]  # encoder–decoder attention, (B, H, T, S) per layer


class EncoderLayer(nn.Module):
    """One encoder layer (§3.1): self-attention, then the position-wise feed-forward network."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0, *, norm_first: bool = False,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, attention_dropout: float | None = None,
                 activation_dropout: float | None = None) -> None:
        """``attention_dropout`` (on the attention weights) and ``activation_dropout`` (after the
        feed-forward's activation) default to ``dropout``, as in PyTorch; BERT uses 0.1 and 0."""
        super().__init__()
        _check_layer_arguments(d_ff, activation)
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout if attention_dropout is None
                                            else attention_dropout)
        self.linear1 = nn.Linear(d_model, d_ff)  # W_1, b_1 of eq. (2)
        self.linear2 = nn.Linear(d_ff, d_model)  # W_2, b_2
        self.activation = ACTIVATIONS[activation]
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout if activation_dropout is None else activation_dropout)  # inside the FFN
        self.dropout1 = nn.Dropout(dropout)  # on each sub-layer's output (§5.4)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None, *,
                need_weights: bool = True) -> tuple[Tensor, Tensor | None]:
        """x (B, S, D), mask (True = may attend) → x (B, S, D), self-attention weights (B, H, S, S)."""
        if self.norm_first:  # pre-norm: x + Sublayer(LayerNorm(x))
            h = self.norm1(x)
            attended, weights = self.self_attn(h, h, h, mask, need_weights=need_weights)
            x = x + self.dropout1(attended)
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:  # post-norm, the paper's §3.1: LayerNorm(x + Sublayer(x))
            attended, weights = self.self_attn(x, x, x, mask, need_weights=need_weights)
            x = self.norm1(x + self.dropout1(attended))
            x = self.norm2(x + self.dropout2(self.feed_forward(x)))
        return x, weights

    def feed_forward(self, x: Tensor) -> Tensor:
        """Eq. (2): FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 at every position (GELU in place of max(0, ·) if chosen)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, ·, F) inside


class DecoderLayer(nn.Module):
    """One decoder layer (§3.1): masked self-attention, encoder–decoder attention, feed-forward."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0, *, norm_first: bool = False,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, attention_dropout: float | None = None,
                 activation_dropout: float | None = None) -> None:
        """``attention_dropout`` and ``activation_dropout`` default to ``dropout``, as in :class:`EncoderLayer`."""
        super().__init__()
        _check_layer_arguments(d_ff, activation)
        self.norm_first = norm_first
        attention_p = dropout if attention_dropout is None else attention_dropout
        self.self_attn = MultiHeadAttention(d_model, num_heads, attention_p)
        self.multihead_attn = MultiHeadAttention(d_model, num_heads, attention_p)  # encoder–decoder ("cross")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.activation = ACTIVATIONS[activation]
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout if activation_dropout is None else activation_dropout)  # inside the FFN
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, self_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                *, need_weights: bool = True) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """x (B, T, D), the encoder's output ``memory`` (B, S, D) → x (B, T, D), weights (B, H, T, T), (B, H, T, S).

        ``self_mask`` is usually the causal mask (T, T); ``memory_mask`` hides the
        source's padding, e.g. (B, 1, 1, S). True = may attend.
        """
        if self.norm_first:  # pre-norm: x + Sublayer(LayerNorm(x))
            h = self.norm1(x)
            attended, self_weights = self.self_attn(h, h, h, self_mask, need_weights=need_weights)
            x = x + self.dropout1(attended)
            h = self.norm2(x)
            attended, cross_weights = self.multihead_attn(h, memory, memory, memory_mask, need_weights=need_weights)
            x = x + self.dropout2(attended)
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:  # post-norm, the paper's §3.1: LayerNorm(x + Sublayer(x))
            attended, self_weights = self.self_attn(x, x, x, self_mask, need_weights=need_weights)
            x = self.norm1(x + self.dropout1(attended))
            attended, cross_weights = self.multihead_attn(x, memory, memory, memory_mask, need_weights=need_weights)
            x = self.norm2(x + self.dropout2(attended))  # queries from the decoder, keys and values from the encoder
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x, self_weights, cross_weights

    def feed_forward(self, x: Tensor) -> Tensor:
        """Eq. (2): FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 at every position (GELU in place of max(0, ·) if chosen)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, ·, F) inside


class Encoder(nn.Module):
    """N encoder layers, and a final LayerNorm with pre-norm (post-norm layers end normalised already)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(config.d_model, config.num_heads, config.d_ff, config.dropout, norm_first=config.norm_first)
            for _ in range(config.num_encoder_layers)
        )
        self.norm = nn.LayerNorm(config.d_model) if config.norm_first else None

    def forward(self, x: Tensor, mask: Tensor | None = None, *,
                need_weights: bool = True) -> tuple[Tensor, tuple[Tensor, ...]]:
        """x (B, S, D) → the encoder's output (B, S, D) and each layer's weights (B, H, S, S)."""
        weights = []
        for layer in self.layers:
            x, layer_weights = layer(x, mask, need_weights=need_weights)
            weights.append(layer_weights)
        if self.norm is not None:
            x = self.norm(x)
        return x, tuple(weights)


class Decoder(nn.Module):
    """N decoder layers, and a final LayerNorm with pre-norm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderLayer(config.d_model, config.num_heads, config.d_ff, config.dropout, norm_first=config.norm_first)
            for _ in range(config.num_decoder_layers)
        )
        self.norm = nn.LayerNorm(config.d_model) if config.norm_first else None

    def forward(self, x: Tensor, memory: Tensor, self_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                *, need_weights: bool = True) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
        """x (B, T, D), memory (B, S, D) → (B, T, D) and each layer's weights (B, H, T, T) and (B, H, T, S)."""
        self_weights, cross_weights = [], []
        for layer in self.layers:
            x, layer_self, layer_cross = layer(x, memory, self_mask, memory_mask, need_weights=need_weights)
            self_weights.append(layer_self)
            cross_weights.append(layer_cross)
        if self.norm is not None:
            x = self.norm(x)
        return x, tuple(self_weights), tuple(cross_weights)


@dataclass
class TransformerState:
    """What the decoder carries from step to step: the encoder's output and the tokens so far."""

    memory: Tensor  # the encoder's output: (B, S, D)
    src_mask: Tensor  # (B, S), True at real tokens
    tokens: Tensor  # <s> and the tokens chosen so far: (B, t)

    def select(self, index: Tensor) -> TransformerState:
        """Keep (and repeat) the sentences at ``index``: how beam search reorders its hypotheses."""
        return TransformerState(self.memory[index], self.src_mask[index], self.tokens[index])


class Transformer(nn.Module):
    """The encoder–decoder of Figure 1, with the book's seq2seq interface (forward, start, step)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        D = config.d_model
        self.src_embedding = nn.Embedding(config.src_vocab_size, D, padding_idx=config.pad_id)
        self.tgt_embedding = nn.Embedding(config.tgt_vocab_size, D, padding_idx=config.pad_id)
        self.positional = PositionalEncoding(D, config.max_len, config.dropout)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.output = nn.Linear(D, config.tgt_vocab_size)  # the pre-softmax linear transformation
        with torch.no_grad():
            for embedding in (self.src_embedding, self.tgt_embedding):
                # N(0, 1/D), so that √D × embedding (§3.4) has unit-variance entries, the scale of PE.
                embedding.weight.normal_(std=D**-0.5)
                embedding.weight[config.pad_id] = 0.0

    def embed(self, ids: Tensor, embedding: nn.Embedding) -> Tensor:
        """§3.4–3.5: token ids (B, L) → Embedding(ids) · √d_model + PE, with dropout: (B, L, D)."""
        self._check_ids("src" if embedding is self.src_embedding else "tgt_in", ids, embedding.num_embeddings)
        return self.positional(embedding(ids) * math.sqrt(self.config.d_model))  # (B, L, D)

    def encode(self, src: Tensor, src_mask: Tensor, *,
               need_weights: bool = True) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The source (B, S) and its padding mask (B, S) → the encoder's output (B, S, D), weights per layer."""
        x = self.embed(src, self.src_embedding)  # (B, S, D)
        padding = src_mask[:, None, None, :]  # (B, 1, 1, S): no query of any head sees the padding
        return self.encoder(x, padding, need_weights=need_weights)

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask: Tensor, *,
               need_weights: bool = True) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
        """The target so far (B, T) and the encoder's output (B, S, D) → the decoder's output (B, T, D), weights.

        The causal mask alone hides the future; target padding needs no mask of its own
        because it comes after the real tokens, which therefore never see it.
        """
        y = self.embed(tgt_in, self.tgt_embedding)  # (B, T, D)
        causal = causal_mask(tgt_in.size(1), device=tgt_in.device)  # (T, T): position t sees s ≤ t
        padding = src_mask[:, None, None, :]  # (B, 1, 1, S)
        return self.decoder(y, memory, causal, padding, need_weights=need_weights)

    def forward(self, src: Tensor, src_mask: Tensor, tgt_in: Tensor, *,
                need_weights: bool = True) -> tuple[Tensor, TransformerAttention | None]:
        """Teacher forcing: logits (B, T, V) for every position of ``tgt_in`` (B, T), and every attention weight.

        With ``need_weights=False`` the attention runs through PyTorch's fused kernel and
        the second output is None.
        """
        self._check_batch(src, src_mask, tgt_in)
        memory, encoder_self = self.encode(src, src_mask, need_weights=need_weights)  # (B, S, D)
        hidden, decoder_self, cross = self.decode(tgt_in, memory, src_mask, need_weights=need_weights)  # (B, T, D)
        attention = TransformerAttention(encoder_self, decoder_self, cross) if need_weights else None
        return self.output(hidden), attention  # (B, T, V)

    # The decoding interface shared by every model in the book (see attnbook.decoding).
    def start(self, src: Tensor, src_mask: Tensor) -> TransformerState:
        """Read the source once; the decoder starts with no tokens (``step`` receives <s> first)."""
        self._check_batch(src, src_mask)
        memory, _ = self.encode(src, src_mask, need_weights=False)
        return TransformerState(memory, src_mask, src.new_empty((src.size(0), 0)))

    def step(self, state: TransformerState, previous: Tensor) -> tuple[Tensor, TransformerState, Tensor]:
        """Append the previous tokens (B,); return log p(next) (B, V), the new state and attention (B, S).

        The attention is the last decoder layer's cross-attention from the new position,
        averaged over the heads. The decoder is rerun over the whole prefix (no cache of
        keys and values), so step t costs a forward pass over t tokens.
        """
        if previous.shape != (state.tokens.size(0),):
            raise ValueError(text(f"previous의 모양은 (B,) = ({state.tokens.size(0)},)이어야 합니다: "
                                  f"{tuple(previous.shape)}",
                                  f"previous must have shape (B,) = ({state.tokens.size(0)},), "
                                  f"got {tuple(previous.shape)}"))
        tokens = torch.cat([state.tokens, previous[:, None]], dim=1)  # (B, t)
        hidden, _, cross = self.decode(tokens, state.memory, state.src_mask)  # (B, t, D)
        log_probs = torch.log_softmax(self.output(hidden[:, -1]), dim=-1)  # (B, V)
        attention = cross[-1][:, :, -1].mean(dim=1)  # last layer, newest position, mean over heads: (B, S)
        return log_probs, TransformerState(state.memory, state.src_mask, tokens), attention

    @staticmethod
    def _check_batch(src: Tensor, src_mask: Tensor, tgt_in: Tensor | None = None) -> None:
        """Clear errors for a batch that would otherwise fail deep inside (the ids are checked by ``embed``)."""
        check_source(src, src_mask)
        if tgt_in is not None and tgt_in.dim() >= 1 and tgt_in.size(0) != src.size(0):
            raise ValueError(text(f"tgt_in의 배치 크기 {tgt_in.size(0)}가 src의 {src.size(0)}와 다릅니다",
                                  f"tgt_in has batch size {tgt_in.size(0)}, src has {src.size(0)}"))

    def _check_ids(self, name: str, ids: Tensor, vocab_size: int) -> None:
        if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(text(f"{name}은(는) (B, L) 정수 텐서여야 합니다: {tuple(ids.shape)} {ids.dtype}",
                                  f"{name} must be a (B, L) tensor of token ids, got {tuple(ids.shape)} {ids.dtype}"))
        if ids.size(1) > self.config.max_len:
            raise ValueError(text(
                f"{name}의 길이 {ids.size(1)}이(가) max_len = {self.config.max_len}보다 깁니다 "
                f"(TransformerConfig의 max_len을 늘리세요)",
                f"{name} has length {ids.size(1)}, more than max_len = {self.config.max_len} "
                f"(raise max_len in the TransformerConfig)",
            ))
        if ids.numel() and holds_values(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(text(f"{name}에 어휘 밖의 토큰 번호가 있습니다 (0 ≤ id < {vocab_size}): "
                                  f"{ids.min().item()}..{ids.max().item()}",
                                  f"{name} holds token ids outside the vocabulary (0 ≤ id < {vocab_size}): "
                                  f"{ids.min().item()}..{ids.max().item()}"))


def _check_layer_arguments(d_ff: int, activation: str) -> None:
    if not isinstance(d_ff, int) or isinstance(d_ff, bool) or d_ff < 1:
        raise ValueError(text(f"d_ff는 양의 정수여야 합니다. 받은 값: {d_ff!r}",
                              f"d_ff must be a positive integer, got {d_ff!r}"))
    if activation not in ACTIVATIONS:
        raise ValueError(text(f"activation은 {sorted(ACTIVATIONS)} 중 하나여야 합니다: {activation!r}",
                              f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"))

"""BART (Lewis et al., 2020): chapter 6's encoder–decoder, pretrained to restore corrupted text.

BART is a denoising autoencoder (§2): a bidirectional encoder reads a corrupted document (spans
masked, sentences shuffled: :mod:`attnbook.corruption`), and an autoregressive decoder writes the
original back, token by token, attending to the encoder's output. The architecture is the
Transformer of chapter 6 (§2.1: "the standard sequence-to-sequence Transformer architecture"), with
the changes GPT and BERT had already made, and a few of its own. From the bottom up:

- one token embedding table, **shared** by the encoder's input, the decoder's input and the
  output layer (logits = h Eᵀ, tied), optionally scaled by √d_model (``scale_embedding``;
  bart-base and bart-large do not scale);
- **learned** position embeddings (as BERT, not chapter 5's sinusoids), one table per stack, with
  🤗's **offset of 2**: position p reads row p + 2 of a table with max_position_embeddings + 2 rows.
  The offset is fairseq's legacy: fairseq numbers positions from ``padding_idx + 1`` (BART's pad
  id is 1, so the first real token gets position 2) and reserves the rows below for padding.
  🤗 converted the checkpoints as they were, so rows 0 and 1 are stored but never read;
- a LayerNorm on the embeddings (``layernorm_embedding``) in **both** stacks, then dropout;
- post-norm layers (x = LayerNorm(x + Sublayer(x)), chapter 6's §3.1 layers, reused here:
  :class:`attnbook.transformer.EncoderLayer` / :class:`~attnbook.transformer.DecoderLayer`)
  with the exact, erf-based GELU in the feed-forward network (§2.1: "we modify ReLU activation
  functions to GeLUs"), and no final LayerNorm after either stack (mBART's pre-norm layers add one);
- ``final_logits_bias``, a (1, V) vector added to the logits. Not in the paper or in fairseq: 🤗
  added it (zeros for BART, used by Marian's converted checkpoints) and keeps it as a buffer;
- the decoder starts from ``decoder_start_token_id`` = 2, ``</s>``, not from ``<s>``: fairseq's
  convention, kept by 🤗. Trained on (corrupted → original) pairs, the decoder reads the original
  shifted one to the right (:func:`shift_tokens_right`). Called with ``decoder_input_ids=None``,
  :class:`Bart` does what 🤗 does: it shifts ``input_ids`` themselves (the denoising objective when
  the input is the clean text).

Initialisation follows 🤗's ``_init_weights`` for BART (``init_std`` = 0.02): every linear layer
and embedding ~ N(0, 0.02²), biases 0, the pad row of the token table 0, LayerNorm γ = 1 and β = 0,
``final_logits_bias`` = 0 (:func:`init_weights`). :func:`from_huggingface` maps a 🤗
``BartForConditionalGeneration`` onto ours by renaming (each attention's separate q, k, v
projections stacked into chapter 5's ``in_proj_weight``); the tests prove the logits equal.

``attention_mask`` and ``decoder_attention_mask`` follow 🤗's convention, (B, ·) with 1 at real
tokens and 0 at padding; inside they become chapter 5's boolean masks (True = may attend). The
decoder's padding mask is combined with the causal one; a padded decoder position that may attend to
nothing (left padding) gets zero attention, as in chapter 5, where 🤗 gives it other numbers: no real
position reads it, so the logits agree wherever the token is real (a test shows it).

Shape legend: B batch · S source (encoder) length · T target (decoder) length · D d_model ·
H heads · F feed-forward width · V vocabulary.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from attnbook.attention import MultiHeadAttention, causal_mask
from attnbook.language import text
from attnbook.runtime import holds_values
from attnbook.transformer import DecoderLayer, EncoderLayer, TransformerAttention

__all__ = [
    "INIT_STD",
    "POSITION_OFFSET",
    "Bart",
    "BartConfig",
    "BartDecoder",
    "BartEncoder",
    "BartOutput",
    "LearnedPositionalEmbedding",
    "from_huggingface",
    "huggingface_state_dict",
    "init_weights",
    "shift_tokens_right",
]

INIT_STD = 0.02  # 🤗 BartConfig.init_std
POSITION_OFFSET = 2  # fairseq's legacy: positions start after padding_idx = 1
ACTIVATIONS = ("gelu", "relu")  # "gelu" is the exact, erf-based GELU; 🤗's tanh variants are refused


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class BartConfig:
    """Sizes of a BART; bart-base is d_model 768, 6 + 6 layers, 12 heads, ffn 3072, 1024 positions, V 50265."""

    vocab_size: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_attention_heads: int
    decoder_attention_heads: int
    encoder_ffn_dim: int
    decoder_ffn_dim: int
    max_position_embeddings: int  # the longest input (and output) the position tables cover
    activation: str = "gelu"
    dropout: float = 0.0  # on the embeddings and on each sub-layer's output
    attention_dropout: float = 0.0  # on the attention weights
    activation_dropout: float = 0.0  # after the feed-forward's activation
    scale_embedding: bool = False  # multiply token embeddings by √d_model
    pad_token_id: int = 1
    bos_token_id: int = 0
    eos_token_id: int = 2
    decoder_start_token_id: int = 2  # </s>: what the decoder reads first

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                     "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "max_position_embeddings"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(text(f"{name}은(는) 1 이상의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        for name in ("encoder_attention_heads", "decoder_attention_heads"):
            heads = getattr(self, name)
            if self.d_model % heads != 0:
                raise ValueError(text(
                    f"d_model({self.d_model})은 {name}({heads})로 나누어떨어져야 합니다 (헤드마다 d_model / H 차원)",
                    f"d_model ({self.d_model}) must be divisible by {name} ({heads}) "
                    f"(each head has d_model / H features)",
                ))
        if self.activation not in ACTIVATIONS:
            raise ValueError(text(
                f"activation은 {ACTIVATIONS} 중 하나여야 합니다: {self.activation!r} "
                f"(\"gelu\"는 erf로 계산하는 정확한 GELU)",
                f"activation must be one of {ACTIVATIONS}, got {self.activation!r} (\"gelu\" is the exact erf GELU)",
            ))
        for name in ("dropout", "attention_dropout", "activation_dropout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise ValueError(text(f"{name}은(는) 0 이상 1 미만이어야 합니다: {value!r}",
                                      f"{name} must be in [0, 1), got {value!r}"))
        if not isinstance(self.scale_embedding, bool):
            raise ValueError(text(f"scale_embedding은 True 또는 False여야 합니다: {self.scale_embedding!r}",
                                  f"scale_embedding must be True or False, got {self.scale_embedding!r}"))
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value < self.vocab_size:
                raise ValueError(text(f"{name}({value!r})은(는) 0 이상 vocab_size({self.vocab_size}) 미만의 "
                                      f"정수여야 합니다",
                                      f"{name} ({value!r}) must be an integer in [0, vocab_size = {self.vocab_size})"))
        if len({self.pad_token_id, self.bos_token_id, self.eos_token_id}) != 3:
            raise ValueError(text(
                f"pad, bos, eos 번호는 서로 달라야 합니다: {self.pad_token_id}, {self.bos_token_id}, "
                f"{self.eos_token_id}",
                f"the pad, bos and eos ids must differ, got {self.pad_token_id}, {self.bos_token_id}, "
                f"{self.eos_token_id}",
            ))

    @classmethod
    def from_huggingface_config(cls, hf_config: Any) -> BartConfig:
        """Our config for a 🤗 ``transformers.BartConfig`` (or the dict of its ``config.json``).

        Refuses what our BART does not compute (pre-norm layers with a final LayerNorm as in
        mBART, another activation, LayerDrop, sinusoidal positions, untied output weights)
        rather than loading weights into a model that would compute something else.
        """
        def get(name: str, default: Any = None) -> Any:
            if isinstance(hf_config, Mapping):
                return hf_config.get(name, default)
            return getattr(hf_config, name, default)

        _require(get("model_type", "bart") == "bart", "model_type", get("model_type"), '"bart"')
        _require(get("activation_function", "gelu") in ACTIVATIONS, "activation_function",
                 get("activation_function"),
                 text('"gelu" (erf로 계산하는 정확한 GELU) 또는 "relu"; "gelu_new"는 tanh 근사식',
                      '"gelu" (the exact erf GELU) or "relu"; "gelu_new" is the tanh approximation'))
        _require(not get("normalize_before", False), "normalize_before", get("normalize_before"),
                 text("False (BART는 post-norm; pre-norm은 mBART)", "False (BART is post-norm; pre-norm is mBART)"))
        _require(not get("add_final_layer_norm", False), "add_final_layer_norm", get("add_final_layer_norm"),
                 text("False (post-norm 층 뒤에는 마지막 LayerNorm이 없음)",
                      "False (post-norm layers need no final LayerNorm)"))
        _require(not get("static_position_embeddings", False), "static_position_embeddings",
                 get("static_position_embeddings"), text("False (BART는 학습하는 위치 임베딩)",
                                                         "False (BART learns its position embeddings)"))
        _require(get("extra_pos_embeddings", POSITION_OFFSET) == POSITION_OFFSET, "extra_pos_embeddings",
                 get("extra_pos_embeddings"), str(POSITION_OFFSET))
        _require(get("add_bias_logits", False) is False, "add_bias_logits", get("add_bias_logits"), "False")
        for name in ("encoder_layerdrop", "decoder_layerdrop"):
            _require(not get(name, 0.0), name, get(name), text("0 (LayerDrop은 구현하지 않음)",
                                                               "0 (LayerDrop is not implemented)"))
        _require(get("tie_word_embeddings", True) is not False, "tie_word_embeddings", get("tie_word_embeddings"),
                 text("True (우리 BART는 출력층을 토큰 임베딩과 묶어 둠)",
                      "True (our BART ties the output layer to the token embeddings)"))
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            _require(_is_int(get(name)), name, get(name), text("정수 하나", "one integer"))
        return cls(
            vocab_size=get("vocab_size"), d_model=get("d_model"), encoder_layers=get("encoder_layers"),
            decoder_layers=get("decoder_layers"), encoder_attention_heads=get("encoder_attention_heads"),
            decoder_attention_heads=get("decoder_attention_heads"), encoder_ffn_dim=get("encoder_ffn_dim"),
            decoder_ffn_dim=get("decoder_ffn_dim"), max_position_embeddings=get("max_position_embeddings"),
            activation=get("activation_function", "gelu"), dropout=get("dropout", 0.0),
            attention_dropout=get("attention_dropout", 0.0), activation_dropout=get("activation_dropout", 0.0),
            scale_embedding=bool(get("scale_embedding", False)), pad_token_id=get("pad_token_id"),
            bos_token_id=get("bos_token_id"), eos_token_id=get("eos_token_id"),
            decoder_start_token_id=get("decoder_start_token_id"),
        )


@dataclass(frozen=True)
class BartOutput:
    """What :class:`Bart` returns (and :meth:`Bart.decode`, whose ``attentions.encoder_self`` is ())."""

    logits: Tensor  # (B, T, V)
    encoder_hidden_states: Tensor  # the encoder's output: (B, S, D)
    decoder_hidden_states: Tensor  # the decoder's last layer: (B, T, D)
    attentions: TransformerAttention | None  # every layer's weights; None with need_weights=False


def shift_tokens_right(input_ids: Tensor, config: BartConfig) -> Tensor:
    """The decoder's input for target ``input_ids`` (B, T): ``decoder_start_token_id``, then the tokens but the last.

    As 🤗's: label positions set to -100 (ignored by the loss) become ``pad_token_id``.
    """
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2 or input_ids.dtype not in _ID_TYPES:
        raise ValueError(text(f"input_ids는 (B, T) 정수 텐서여야 합니다: {_describe(input_ids)}",
                              f"input_ids must be a (B, T) tensor of token ids, got {_describe(input_ids)}"))
    shifted = input_ids.new_full(input_ids.shape, config.decoder_start_token_id)  # (B, T)
    shifted[:, 1:] = input_ids[:, :-1]
    return shifted.masked_fill(shifted == -100, config.pad_token_id)


def init_weights(module: nn.Module) -> None:
    """🤗's ``_init_weights`` for BART, for ``model.apply``: N(0, 0.02²) weights, zero biases, LayerNorm 1 and 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=INIT_STD)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx] = 0.0
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, MultiHeadAttention):  # [W^Q; W^K; W^V] stacked, as 🤗's three nn.Linear
        nn.init.normal_(module.in_proj_weight, std=INIT_STD)
        if module.in_proj_bias is not None:
            nn.init.zeros_(module.in_proj_bias)
    elif isinstance(module, Bart):
        nn.init.zeros_(module.final_logits_bias)


class LearnedPositionalEmbedding(nn.Embedding):
    """A learned table of max_positions + 2 rows; position p reads row p + ``offset`` (fairseq's legacy)."""

    def __init__(self, max_positions: int, d_model: int) -> None:
        super().__init__(max_positions + POSITION_OFFSET, d_model)
        self.offset = POSITION_OFFSET

    def forward(self, length: int) -> Tensor:  # type: ignore[override]
        """The rows of positions 0, 1, …, length - 1: (length, D)."""
        positions = torch.arange(length, device=self.weight.device) + self.offset  # (L,)
        return super().forward(positions)  # (L, D)


class BartEncoder(nn.Module):
    """Positions, the embedding LayerNorm, then N post-norm GELU encoder layers (no final LayerNorm)."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__()
        self.embed_positions = LearnedPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layernorm_embedding = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(config.d_model, config.encoder_attention_heads, config.encoder_ffn_dim, config.dropout,
                         activation=config.activation, attention_dropout=config.attention_dropout,
                         activation_dropout=config.activation_dropout)
            for _ in range(config.encoder_layers)
        )

    def forward(self, token_embeddings: Tensor, mask: Tensor | None, *,
                need_weights: bool = True) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The input's token embeddings (B, S, D), mask (B, 1, 1, S) or None → (B, S, D), weights (B, H, S, S) each."""
        x = token_embeddings + self.embed_positions(token_embeddings.size(1))  # (B, S, D)
        x = self.dropout(self.layernorm_embedding(x))
        weights = []
        for layer in self.layers:
            x, layer_weights = layer(x, mask, need_weights=need_weights)
            weights.append(layer_weights)
        return x, tuple(weights)


class BartDecoder(nn.Module):
    """Positions, the embedding LayerNorm, then N post-norm GELU decoder layers (no final LayerNorm)."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__()
        self.embed_positions = LearnedPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layernorm_embedding = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            DecoderLayer(config.d_model, config.decoder_attention_heads, config.decoder_ffn_dim, config.dropout,
                         activation=config.activation, attention_dropout=config.attention_dropout,
                         activation_dropout=config.activation_dropout)
            for _ in range(config.decoder_layers)
        )

    def forward(self, token_embeddings: Tensor, memory: Tensor, self_mask: Tensor, memory_mask: Tensor | None, *,
                need_weights: bool = True) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
        """(B, T, D), the encoder's output (B, S, D) → (B, T, D), weights (B, H, T, T) and (B, H, T, S) per layer."""
        x = token_embeddings + self.embed_positions(token_embeddings.size(1))  # (B, T, D)
        x = self.dropout(self.layernorm_embedding(x))
        self_weights, cross_weights = [], []
        for layer in self.layers:
            x, layer_self, layer_cross = layer(x, memory, self_mask, memory_mask, need_weights=need_weights)
            self_weights.append(layer_self)
            cross_weights.append(layer_cross)
        return x, tuple(self_weights), tuple(cross_weights)


class Bart(nn.Module):
    """BART as 🤗's ``BartForConditionalGeneration``: shared embeddings, encoder, decoder, tied output + bias."""

    def __init__(self, config: BartConfig) -> None:
        super().__init__()
        if not isinstance(config, BartConfig):
            raise TypeError(text(f"BartConfig가 필요합니다: {type(config).__name__}",
                                 f"expected a BartConfig, got {type(config).__name__}"))
        self.config = config
        self.shared = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_token_id)  # E: (V, D)
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.encoder = BartEncoder(config)
        self.decoder = BartDecoder(config)
        self.register_buffer("final_logits_bias", torch.zeros(1, config.vocab_size))  # (1, V), not trained
        self.apply(init_weights)

    def embed_tokens(self, ids: Tensor) -> Tensor:
        """Token ids (B, L) → E[ids] (× √D with ``scale_embedding``): (B, L, D); one table for both stacks."""
        return self.shared(ids) * self.embed_scale

    def encode(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """The encoder's output (B, S, D) for ``input_ids`` (B, S), computed once per input when generating."""
        memory, _ = self._encode(input_ids, self._source_mask(input_ids, attention_mask), need_weights=False)
        return memory

    def decode(self, decoder_input_ids: Tensor, encoder_hidden_states: Tensor, attention_mask: Tensor | None = None,
               *, decoder_attention_mask: Tensor | None = None, need_weights: bool = True) -> BartOutput:
        """The decoder over ``decoder_input_ids`` (B, T), given the encoder's output (B, S, D) → logits (B, T, V).

        ``attention_mask`` (B, S) is the encoder input's (1 = real token), hiding its padding
        from the cross-attention.
        """
        if not isinstance(encoder_hidden_states, Tensor) or encoder_hidden_states.dim() != 3 \
                or encoder_hidden_states.size(-1) != self.config.d_model:
            raise ValueError(text(
                f"encoder_hidden_states는 (B, S, {self.config.d_model}) 텐서여야 합니다: "
                f"{_describe(encoder_hidden_states)}",
                f"encoder_hidden_states must be a (B, S, {self.config.d_model}) tensor, "
                f"got {_describe(encoder_hidden_states)}",
            ))
        B, S = encoder_hidden_states.shape[:2]
        memory_mask = self._mask("attention_mask", attention_mask, (B, S))
        out = self._decode(decoder_input_ids, encoder_hidden_states, memory_mask, decoder_attention_mask,
                           need_weights=need_weights)
        logits, hidden, decoder_self, cross = out
        attentions = TransformerAttention((), decoder_self, cross) if need_weights else None
        return BartOutput(logits, encoder_hidden_states, hidden, attentions)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, decoder_input_ids: Tensor | None = None,
                decoder_attention_mask: Tensor | None = None, *, need_weights: bool = True) -> BartOutput:
        """Teacher forcing: logits (B, T, V) at every position of ``decoder_input_ids`` (B, T), every attention weight.

        With ``decoder_input_ids=None`` the decoder reads ``shift_tokens_right(input_ids)``, as 🤗's
        BART does (then the decoder's padding is not masked, as in 🤗). With ``need_weights=False``
        the attention runs through PyTorch's fused kernel and ``attentions`` is None.
        """
        source_mask = self._source_mask(input_ids, attention_mask)  # (B, 1, 1, S) or None
        if decoder_input_ids is None:
            decoder_input_ids = shift_tokens_right(input_ids, self.config)
        memory, encoder_self = self._encode(input_ids, source_mask, need_weights=need_weights)  # (B, S, D)
        logits, hidden, decoder_self, cross = self._decode(decoder_input_ids, memory, source_mask,
                                                           decoder_attention_mask, need_weights=need_weights)
        attentions = TransformerAttention(encoder_self, decoder_self, cross) if need_weights else None
        return BartOutput(logits, memory, hidden, attentions)

    def _encode(self, input_ids: Tensor, mask: Tensor | None, *,
                need_weights: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
        return self.encoder(self.embed_tokens(input_ids), mask, need_weights=need_weights)  # (B, S, D)

    def _decode(self, decoder_input_ids: Tensor, memory: Tensor, memory_mask: Tensor | None,
                decoder_attention_mask: Tensor | None, *, need_weights: bool) -> tuple[Tensor, Tensor, tuple, tuple]:
        self._check_ids("decoder_input_ids", decoder_input_ids)
        B, T = decoder_input_ids.shape
        if memory.size(0) != B:
            raise ValueError(text(f"decoder_input_ids의 배치 크기 {B}가 인코더 출력의 {memory.size(0)}와 다릅니다",
                                  f"decoder_input_ids has batch size {B}, the encoder's output {memory.size(0)}"))
        self_mask = causal_mask(T, device=decoder_input_ids.device)  # (T, T): position t sees s ≤ t
        padding = self._mask("decoder_attention_mask", decoder_attention_mask, (B, T))  # (B, 1, 1, T) or None
        if padding is not None:
            self_mask = self_mask & padding  # (B, 1, T, T): neither the future nor the padding
        hidden, decoder_self, cross = self.decoder(self.embed_tokens(decoder_input_ids), memory, self_mask,
                                                   memory_mask, need_weights=need_weights)  # (B, T, D)
        logits = hidden @ self.shared.weight.T + self.final_logits_bias  # h Eᵀ + b, tied: (B, T, V)
        return logits, hidden, decoder_self, cross

    def _source_mask(self, input_ids: Tensor, attention_mask: Tensor | None) -> Tensor | None:
        self._check_ids("input_ids", input_ids)
        return self._mask("attention_mask", attention_mask, tuple(input_ids.shape))

    def _check_ids(self, name: str, ids: object) -> None:
        if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype not in _ID_TYPES or ids.size(1) == 0:
            raise ValueError(text(f"{name}은(는) (B, L) 정수 텐서여야 합니다 (L ≥ 1): {_describe(ids)}",
                                  f"{name} must be a (B, L) tensor of token ids with L ≥ 1, got {_describe(ids)}"))
        limit = self.config.max_position_embeddings
        if ids.size(1) > limit:
            raise ValueError(text(
                f"{name}의 길이 {ids.size(1)}이(가) max_position_embeddings = {limit}보다 깁니다",
                f"{name} has length {ids.size(1)}, more than max_position_embeddings = {limit}",
            ))
        if not holds_values(ids):  # meta: shapes only, no values to check
            return
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= self.config.vocab_size:
            hint = text(" (-100은 레이블에만 쓰고 shift_tokens_right가 pad로 바꿉니다)",
                        " (-100 belongs in labels; shift_tokens_right turns it into pad)") if low == -100 else ""
            raise ValueError(text(
                f"{name}에 어휘 밖의 번호가 있습니다 (0 ≤ id < {self.config.vocab_size}): {low}..{high}{hint}",
                f"{name} holds ids outside [0, vocab_size = {self.config.vocab_size}): {low}..{high}{hint}",
            ))

    @staticmethod
    def _mask(name: str, mask: Tensor | None, shape: tuple[int, int]) -> Tensor | None:
        """🤗's (B, L) 0/1 mask → chapter 5's (B, 1, 1, L) boolean one; None when nothing is padded."""
        if mask is None:
            return None
        if not isinstance(mask, Tensor) or tuple(mask.shape) != tuple(shape):
            raise ValueError(text(f"{name}의 모양은 {tuple(shape)}이어야 합니다: {_describe(mask)}",
                                  f"{name} must have shape {tuple(shape)}, got {_describe(mask)}"))
        if not holds_values(mask):  # meta: shapes only, no values to check
            return mask.bool()[:, None, None, :]
        if mask.dtype != torch.bool:
            if mask.dtype not in _ID_TYPES or not ((mask == 0) | (mask == 1)).all():
                raise ValueError(text(f"{name}은(는) bool이거나 0과 1만 담은 정수 텐서여야 합니다 (1 = 실제 토큰)",
                                      f"{name} must be bool, or integers that are all 0 or 1 (1 = real token)"))
            mask = mask.bool()
        if not mask.any(dim=1).all():
            raise ValueError(text(f"{name}에 실제 토큰이 하나도 없는 행이 있습니다",
                                  f"{name} has a row with no real token"))
        if mask.all():
            return None  # nothing is padded: no mask, the fast path
        return mask[:, None, None, :]  # (B, 1, 1, L)


# --- 🤗 transformers ------------------------------------------------------------------------------

# 🤗's module names inside one layer → ours (chapter 6's layers, named as PyTorch's), per stack.
_LAYER_RENAMES = {
    "encoder": {"self_attn.out_proj": "self_attn.out_proj", "self_attn_layer_norm": "norm1", "fc1": "linear1",
                "fc2": "linear2", "final_layer_norm": "norm2"},
    "decoder": {"self_attn.out_proj": "self_attn.out_proj", "encoder_attn.out_proj": "multihead_attn.out_proj",
                "self_attn_layer_norm": "norm1", "encoder_attn_layer_norm": "norm2", "fc1": "linear1",
                "fc2": "linear2", "final_layer_norm": "norm3"},
}
_ATTENTION = {"self_attn": "self_attn", "encoder_attn": "multihead_attn"}
_TIED = ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight")


def huggingface_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The one mapping: a 🤗 ``BartForConditionalGeneration`` state dict → ours.

    Renames every parameter, stacks each attention's q, k, v projections into ``in_proj_weight``
    / ``in_proj_bias`` ([W^Q; W^K; W^V]), checks that the encoder's, the decoder's and the output
    layer's token tables are ``model.shared`` itself, and refuses any name it does not know (the
    caller's ``load_state_dict(strict=True)`` refuses any it misses).
    """
    ours: dict[str, Tensor] = {}
    qkv: dict[str, dict[str, Tensor]] = {}
    unknown = []
    for name, tensor in state.items():
        if name in _TIED:
            if "model.shared.weight" not in state or not torch.equal(tensor, state["model.shared.weight"]):
                raise ValueError(text(f"{name}이(가) model.shared.weight와 같지 않습니다: 우리 BART는 인코더, 디코더, "
                                      f"출력층이 토큰 임베딩 하나를 함께 씁니다",
                                      f"{name} differs from model.shared.weight: our BART shares one token table "
                                      f"between the encoder, the decoder and the output layer"))
            continue
        ours_name = _rename(name)
        if ours_name is None:
            unknown.append(name)
        elif isinstance(ours_name, tuple):
            prefix, role, kind = ours_name
            qkv.setdefault(f"{prefix}.in_proj_{kind}", {})[role] = tensor
        else:
            ours[ours_name] = tensor
    for target, parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            unknown.append(f"{target} ({sorted(parts)})")
            continue
        ours[target] = torch.cat([parts["q"], parts["k"], parts["v"]])  # (3D, D) or (3D,)
    if unknown:
        raise ValueError(text(f"우리 BART에 없는 🤗 매개변수입니다: {unknown}",
                              f"🤗 parameters that our BART does not have: {unknown}"))
    return ours


def _rename(name: str) -> str | tuple[str, str, str] | None:
    """One 🤗 name → ours; a (prefix, "q"/"k"/"v", "weight"/"bias") triple for an attention projection."""
    if name in ("final_logits_bias", "model.shared.weight"):
        return name.removeprefix("model.")
    parts = name.split(".")
    if len(parts) < 4 or parts[0] != "model" or parts[1] not in _LAYER_RENAMES or parts[-1] not in ("weight", "bias"):
        return None
    stack, rest, kind = parts[1], parts[2:-1], parts[-1]
    if len(rest) == 1 and rest[0] in ("embed_positions", "layernorm_embedding"):
        return f"{stack}.{rest[0]}.{kind}"
    if len(rest) < 3 or rest[0] != "layers" or not rest[1].isdigit():
        return None
    prefix, module = f"{stack}.layers.{rest[1]}", ".".join(rest[2:])
    if len(rest) == 4 and rest[2] in _ATTENTION and rest[3] in ("q_proj", "k_proj", "v_proj") \
            and f"{rest[2]}.out_proj" in _LAYER_RENAMES[stack]:
        return f"{prefix}.{_ATTENTION[rest[2]]}", rest[3][0], kind
    if module in _LAYER_RENAMES[stack]:
        return f"{prefix}.{_LAYER_RENAMES[stack][module]}.{kind}"
    return None


def from_huggingface(hf_model: nn.Module) -> Bart:
    """Our :class:`Bart` holding the same weights as a 🤗 ``BartForConditionalGeneration``, in the same mode."""
    import transformers  # here, not at the top: importing attnbook.bart should stay light

    if type(hf_model) is not transformers.BartForConditionalGeneration:
        raise TypeError(text(
            f"from_huggingface는 transformers.BartForConditionalGeneration만 받습니다: {type(hf_model).__name__}",
            f"from_huggingface accepts transformers.BartForConditionalGeneration, got {type(hf_model).__name__}",
        ))
    model = Bart(BartConfig.from_huggingface_config(hf_model.config))
    model.load_state_dict(huggingface_state_dict(hf_model.state_dict()), strict=True)
    return model.train(hf_model.training)


# --- checks ----------------------------------------------------------------------------------------

_ID_TYPES = (torch.int64, torch.int32)


def _describe(value: object) -> str:
    return f"{tuple(value.shape)} {value.dtype}" if isinstance(value, Tensor) else type(value).__name__


def _require(condition: bool, name: str, value: object, expected: str) -> None:
    if not condition:
        raise ValueError(text(
            f"지원하지 않는 🤗 BART 설정입니다: {name} = {value!r} (우리 BART가 받는 값: {expected})",
            f"unsupported 🤗 BART setting: {name} = {value!r} (our BART needs {expected})",
        ))

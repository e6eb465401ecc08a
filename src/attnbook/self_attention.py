"""Self-attention, and a one-layer model that learns where each word should look (chapter 4).

In self-attention the queries, keys and values all come from the same sequence X
(Vaswani et al., 2017, §3.2): Q = X W^Q, K = X W^K, V = X W^V, and the output at
each position is a row of softmax(QKᵀ/√d_k) V (eq. 1), a weighted average of the
values of every position of the same sentence.

:class:`WordTranslator` puts one such layer to work on the English side of the
translation task. For each English word it predicts the Korean token that word
becomes, read off the gold alignment of :mod:`attnbook.data` (:func:`word_targets`):
"the student reads a book" → 학생은 학생은 읽는다 책을 책을. No word decides this
alone: "student" becomes 학생은, 학생이, 학생을 or 학생과 depending on its article
and its role, "the" becomes whatever its noun becomes, and "reads" becomes 읽고
when "and" starts another clause after it. With ``attention=False`` the same model
sees each word and its position only, which measures what looking around adds.

Chapter 5 varies the same model through its config: ``num_heads`` replaces the
single head by :class:`attnbook.attention.MultiHeadAttention` (h heads of size
D/h and W^O), and ``positions`` chooses a learned table, the fixed sinusoidal one
of :mod:`attnbook.positional`, or none at all.

Shape legend: B batch · T sentence length · D model · Dk query/key/value size ·
H heads · V target vocabulary.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import MultiHeadAttention, scaled_dot_product_attention
from attnbook.data import SentencePair, Vocabulary, lexicon, pad, padding_mask
from attnbook.language import text
from attnbook.positional import PositionalEncoding
from attnbook.progress import progress

__all__ = [
    "WORD_KINDS",
    "SelfAttention",
    "WordBatch",
    "WordTranslator",
    "WordTranslatorConfig",
    "partner_matrix",
    "train_word_translator",
    "word_accuracy",
    "word_batches",
    "word_kind",
    "word_targets",
]


class SelfAttention(nn.Module):
    """One self-attention head (Vaswani et al., 2017, eq. 1): Q, K and V all come from the same X."""

    def __init__(self, d_model: int, d_k: int) -> None:
        super().__init__()
        _check_positive_int("d_model", d_model)
        _check_positive_int("d_k", d_k)
        self.W_Q = nn.Linear(d_model, d_k, bias=False)
        self.W_K = nn.Linear(d_model, d_k, bias=False)
        self.W_V = nn.Linear(d_model, d_k, bias=False)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (B, T, D), mask (B, T) True at real tokens → out (B, T, Dk), weights (B, T, T)."""
        _check_self_attention_input(x, mask, self.W_Q.in_features)
        q, k, v = self.W_Q(x), self.W_K(x), self.W_V(x)  # XW^Q, XW^K, XW^V: (B, T, Dk)
        if mask is not None:
            mask = mask[:, None, :]  # the same for every query: (B, 1, T)
        return scaled_dot_product_attention(q, k, v, mask)  # (B, T, Dk), (B, T, T)


POSITIONS = ("learned", "sinusoidal", "none")


@dataclass(frozen=True)
class WordTranslatorConfig:
    """Sizes of a :class:`WordTranslator`; ``attention=False`` leaves out the self-attention layer.

    ``num_heads`` None is chapter 4's single head (W^Q, W^K, W^V of size D, no W^O); a number h
    is multi-head attention with h heads of size D/h and W^O (chapter 5). ``positions`` is
    "learned" (one trained vector per position), "sinusoidal" (the fixed table of §3.5) or
    "none" (the model sees the sentence as a bag of words).
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64
    max_len: int = 64  # the longest sentence the position table covers
    attention: bool = True
    pad_id: int = 0
    num_heads: int | None = None
    positions: str = "learned"

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "max_len"):
            _check_positive_int(name, getattr(self, name))
        if not isinstance(self.attention, bool):
            raise ValueError(text(f"attention은 True 또는 False여야 합니다: {self.attention!r}",
                                  f"attention must be True or False, got {self.attention!r}"))
        if self.num_heads is not None:
            _check_positive_int("num_heads", self.num_heads)
            if not self.attention:
                raise ValueError(text("num_heads는 attention=True일 때만 쓸 수 있습니다",
                                      "num_heads needs attention=True"))
            if self.d_model % self.num_heads != 0:
                raise ValueError(text(
                    f"d_model({self.d_model})은 num_heads({self.num_heads})로 나누어떨어져야 합니다",
                    f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})",
                ))
        if self.positions not in POSITIONS:
            raise ValueError(text(f"positions는 {POSITIONS} 가운데 하나여야 합니다: {self.positions!r}",
                                  f"positions must be one of {POSITIONS}, got {self.positions!r}"))
        if not isinstance(self.pad_id, int) or not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(text(f"pad_id {self.pad_id!r}는 어휘 크기보다 작은 0 이상의 정수여야 합니다",
                                  f"pad_id {self.pad_id!r} must be a non-negative integer below the vocabulary sizes"))


class WordTranslator(nn.Module):
    """Each English word → the Korean token it becomes, from [x_i ; a_i]: the word itself and what it gathered.

    x_i is the word's embedding plus its position's vector (a learned one by default,
    the sinusoidal one of §3.5, or none); a_i is its self-attention output (one head,
    or several heads merged by W^O), or zeros when ``config.attention`` is False.
    """

    def __init__(self, config: WordTranslatorConfig) -> None:
        super().__init__()
        self.config = config
        D = config.d_model
        self.embedding = nn.Embedding(config.src_vocab_size, D, padding_idx=config.pad_id)
        self.position: nn.Module | None = None
        if config.positions == "learned":
            self.position = nn.Embedding(config.max_len, D)
        elif config.positions == "sinusoidal":
            self.position = PositionalEncoding(D, config.max_len)  # fixed: no parameters
        self.attention: SelfAttention | MultiHeadAttention | None = None
        if config.attention and config.num_heads is None:
            self.attention = SelfAttention(D, D)  # chapter 4: one head of size D
        elif config.attention:
            self.attention = MultiHeadAttention(D, config.num_heads)  # h heads of size D/h, then W^O
        self.output = nn.Linear(2 * D, config.tgt_vocab_size)

    def forward(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor | None]:
        """src (B, T), src_mask (B, T) bool → logits (B, T, V) and the attention weights.

        The weights are (B, T, T) for the single head, (B, H, T, T) with ``num_heads``, None without attention.
        """
        length = src.size(-1)
        if src.dim() != 2 or src_mask.shape != src.shape or length > self.config.max_len:
            raise ValueError(text(
                f"src와 src_mask는 같은 (B, T) 모양이고 T ≤ {self.config.max_len}여야 합니다. "
                f"받은 모양: {tuple(src.shape)}, {tuple(src_mask.shape)}",
                f"src and src_mask must share a shape (B, T) with T ≤ {self.config.max_len}, "
                f"got {tuple(src.shape)} and {tuple(src_mask.shape)}",
            ))
        x = self.embedding(src)  # (B, T, D)
        if isinstance(self.position, nn.Embedding):
            x = x + self.position.weight[:length]  # a learned vector per position
        elif self.position is not None:
            x = self.position(x)  # x + PE[:T]
        if self.attention is None:
            gathered, weights = torch.zeros_like(x), None  # each word sees only itself
        elif isinstance(self.attention, SelfAttention):
            gathered, weights = self.attention(x, src_mask)  # (B, T, D), (B, T, T)
        else:
            key_mask = src_mask[:, None, None, :]  # padding hidden from every head and query: (B, 1, 1, T)
            gathered, weights = self.attention(x, x, x, key_mask)  # (B, T, D), (B, H, T, T)
        return self.output(torch.cat([x, gathered], dim=-1)), weights  # (B, T, V)


def word_targets(pair: SentencePair) -> tuple[str, ...]:
    """For each English word, the Korean token it translates into: the gold alignment read from the English side.

    Articles and prepositions become their noun's token (to, the, park → 공원으로). A word
    aligned with several Korean tokens (only the idiom "take your time") takes the first.
    """
    targets: list[str | None] = [None] * len(pair.en)
    for korean, links in zip(pair.ko, pair.alignment, strict=True):
        for j in links:
            if targets[j] is None:
                targets[j] = korean
    missing = [pair.en[j] for j, target in enumerate(targets) if target is None]
    if missing:
        raise ValueError(text(f"정렬이 없는 영어 단어가 있습니다: {missing}",
                              f"some English words have no alignment: {missing}"))
    return tuple(targets)  # type: ignore[arg-type]


WORD_KINDS = ("article", "preposition", "noun", "verb", "and", "other")
_VERB_FORMS = frozenset({lexicon.WILL}.union(*(verb.en for verb in lexicon.VERBS)))


def word_kind(word: str) -> str:
    """The kind of an English word of the task, one of :data:`WORD_KINDS`.

    "other" are the words with a single Korean form: adjectives, adverbs, time words.
    """
    if word in ("a", "an", "the"):
        return "article"
    if word in (lexicon.TO, lexicon.IN, lexicon.WITH):
        return "preposition"
    if word in lexicon.NOUN_BY_EN:
        return "noun"
    if word == lexicon.AND:
        return "and"
    if word in _VERB_FORMS:
        return "verb"
    return "other"


def partner_matrix(pair: SentencePair) -> Tensor:
    """(S, S) bool: True where two different English words of ``pair`` become the same Korean token (partners)."""
    alignment = pair.alignment_matrix()  # (Korean tokens, English words)
    same_token = alignment.T @ alignment > 0  # (S, S)
    return same_token & ~torch.eye(len(pair.en), dtype=torch.bool)


@dataclass(frozen=True)
class WordBatch:
    """English sentences (B, T), their mask (True = real word) and each word's Korean token (pad at padding)."""

    src: Tensor  # (B, T)
    src_mask: Tensor  # (B, T) bool
    targets: Tensor  # (B, T)

    def to(self, device: torch.device | str) -> WordBatch:
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def word_batches(pairs: Sequence[SentencePair], src_vocab: Vocabulary, tgt_vocab: Vocabulary, batch_size: int,
                 *, shuffle: bool = False, seed: int = 0) -> list[WordBatch]:
    """Batches of English sentences with the Korean token of every word, in order or shuffled from ``seed``."""
    _check_positive_int("batch_size", batch_size)
    if len(pairs) == 0:
        raise ValueError(text("배치로 묶을 문장이 없습니다", "no sentences to batch"))
    order = list(range(len(pairs)))
    if shuffle:
        random.Random(seed).shuffle(order)
    batches = []
    for start in range(0, len(order), batch_size):
        chunk = [pairs[i] for i in order[start: start + batch_size]]
        src = pad([src_vocab.encode(p.en) for p in chunk], src_vocab.pad_id)  # (B, T)
        targets = pad([tgt_vocab.encode(word_targets(p)) for p in chunk], tgt_vocab.pad_id)  # (B, T)
        batches.append(WordBatch(src, padding_mask(src, src_vocab.pad_id), targets))
    return batches


def train_word_translator(model: WordTranslator, batches: Sequence[WordBatch], *, epochs: int, lr: float = 3e-3,
                          seed: int = 0, desc: str | None = None) -> list[float]:
    """Adam on the cross-entropy of every real word, batches in a fresh order each epoch; the loss of every step."""
    _check_positive_int("epochs", epochs)
    if not batches:
        raise ValueError(text("batches가 비어 있습니다", "batches is empty"))
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    steps = [int(i) for _ in range(epochs) for i in torch.randperm(len(batches), generator=order)]
    losses = []
    model.train()
    for index in progress(steps, desc=desc):
        batch = batches[index].to(device)
        logits, _ = model(batch.src, batch.src_mask)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), ignore_index=model.config.pad_id)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())  # read once, after the loop: no wait for the device at every step
    model.eval()
    return torch.stack(losses).tolist()


@torch.no_grad()
def word_accuracy(model: WordTranslator, batches: Sequence[WordBatch]) -> float:
    """The share of real words whose Korean token the model predicts exactly."""
    device = next(model.parameters()).device
    correct = total = 0
    for batch in batches:
        batch = batch.to(device)
        logits, _ = model(batch.src, batch.src_mask)
        right = (logits.argmax(dim=-1) == batch.targets) & batch.src_mask  # (B, T)
        correct += int(right.sum())
        total += int(batch.src_mask.sum())
    return correct / total


def _check_self_attention_input(x: Tensor, mask: Tensor | None, d_model: int) -> None:
    if x.dim() != 3 or x.size(-1) != d_model:
        raise ValueError(text(
            f"x의 모양은 (B, T, D), D = {d_model}이어야 합니다. 받은 모양: {tuple(x.shape)}",
            f"x must have shape (B, T, D) with D = {d_model}, got {tuple(x.shape)}",
        ))
    if mask is not None and (mask.dtype != torch.bool or mask.shape != x.shape[:2]):
        raise ValueError(text(
            f"mask는 (B, T) = {tuple(x.shape[:2])} 모양의 bool 텐서여야 합니다(True = 실제 토큰). "
            f"받은 것: {tuple(mask.shape)}, {mask.dtype}",
            f"mask must be a bool tensor of shape (B, T) = {tuple(x.shape[:2])} (True = real token), "
            f"got {tuple(mask.shape)}, {mask.dtype}",
        ))


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다. 받은 값: {value!r}",
                              f"{name} must be a positive integer, got {value!r}"))

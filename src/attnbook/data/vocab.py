"""Vocabularies, padding, masks and batches: from lists of tokens to the tensors a model reads.

Ids 0–3 are the same in every vocabulary: ``<pad>`` fills short sequences,
``<s>`` starts the decoder's input, ``</s>`` ends a sentence, ``<unk>`` stands for
a token the vocabulary has not seen (only if it was built with ``unknown=True``;
otherwise an unseen token is an error that names it).

A :class:`Batch` holds a source ``x`` and the target ``y`` twice, shifted by one
for teacher forcing: the decoder reads ``<s> y`` (``tgt_in``) and learns to write
``y </s>`` (``tgt_out``). Masks are True at real tokens, where attention may look.

A string counts as a sequence of characters, which is what the character-level
numeral and date tasks need: ``Vocabulary.build(["삼천", "3000"])``.

Shape legend: B batch · S source length · T target length.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace

import torch

from attnbook.language import text

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
SIDES = (("원문", "source"), ("번역문", "target"))
POOL = 20  # when shuffling, sequences are sorted by length within pools of POOL batches


def _tokens(sequence: object, what: tuple[str, str] = ("토큰 목록", "the tokens")) -> list[str]:
    """The tokens of one sequence; a string is a sequence of characters. ``what`` names it (ko, en)."""
    if isinstance(sequence, str):
        return list(sequence)
    if not isinstance(sequence, Iterable):
        raise TypeError(text(f"{what[0]}은(는) 토큰의 시퀀스여야 합니다: {sequence!r}",
                             f"{what[1]} must be a sequence of tokens, got {sequence!r}"))
    tokens = list(sequence)
    for position, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(text(f"{what[0]}의 {position}번째 토큰이 문자열이 아닙니다: {token!r}",
                                 f"token {position} of {what[1]} is not a string: {token!r}"))
    return tokens


class Vocabulary:
    """A two-way map between tokens and ids; ids 0–3 are <pad>, <s>, </s>, <unk>."""

    def __init__(self, tokens: Iterable[str], *, unknown: bool = False) -> None:
        ordered = dict.fromkeys(token for token in _tokens(tokens) if token not in SPECIALS)
        self.tokens: tuple[str, ...] = SPECIALS + tuple(ordered)
        self.unknown = unknown
        self._ids = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str] | str], min_count: int = 1, *,
              unknown: bool = False) -> Vocabulary:
        """The tokens that occur at least ``min_count`` times, most frequent first (ties alphabetical)."""
        if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
            raise ValueError(text(f"min_count는 1 이상의 정수여야 합니다: {min_count!r}",
                                  f"min_count must be a positive integer, got {min_count!r}"))
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(_tokens(sentence, ("문장", "a sentence")))
        kept = sorted((token for token, count in counts.items() if count >= min_count),
                      key=lambda token: (-counts[token], token))
        if not kept:
            raise ValueError(text(f"{min_count}번 이상 나오는 토큰이 없어 어휘를 만들 수 없습니다",
                                  f"no token occurs {min_count} or more times: nothing to build a vocabulary from"))
        return cls(kept, unknown=unknown)

    pad_id, bos_id, eos_id, unk_id = range(4)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, unknown={self.unknown})"

    def encode(self, tokens: Sequence[str] | str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of the tokens, optionally between <s> and </s>; an unseen token is a KeyError (or <unk>)."""
        ids = [self.bos_id] if bos else []
        for token in _tokens(tokens):
            if token in self._ids:
                ids.append(self._ids[token])
            elif self.unknown:
                ids.append(self.unk_id)
            else:
                raise KeyError(text(f"어휘에 없는 토큰입니다: {token!r} (모르는 토큰을 <unk>로 바꾸려면 "
                                    "unknown=True로 어휘를 만드세요)",
                                    f"token not in the vocabulary: {token!r} (build the vocabulary with "
                                    "unknown=True to map unseen tokens to <unk>)"))
        return [*ids, self.eos_id] if eos else ids

    def decode(self, ids: Sequence[int] | torch.Tensor, *, strip_special: bool = True) -> list[str]:
        """The tokens of the ids; with ``strip_special`` it stops at </s> and drops <pad> and <s>."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(text(f"1차원 텐서 하나를 풀어 주세요. 받은 모양: {tuple(ids.shape)}",
                                      f"decode one 1-D tensor at a time, got shape {tuple(ids.shape)}"))
            ids = ids.tolist()
        tokens = []
        for i in ids:
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self):
                raise ValueError(text(f"{i!r}은(는) 이 어휘의 번호가 아닙니다 (0–{len(self) - 1})",
                                      f"{i!r} is not an id of this vocabulary (0–{len(self) - 1})"))
            if strip_special and i == self.eos_id:
                break
            if not (strip_special and i in (self.pad_id, self.bos_id)):
                tokens.append(self.tokens[i])
        return tokens


def _ids(sequence: Sequence[int] | torch.Tensor, index: int) -> torch.Tensor:
    """One sequence of ids as a LongTensor; ``index`` names it in errors."""
    if isinstance(sequence, torch.Tensor) and sequence.dim() == 1 and not sequence.is_floating_point():
        return sequence.long()
    if isinstance(sequence, torch.Tensor | str) or not isinstance(sequence, Sequence) or \
            not all(isinstance(i, int) and not isinstance(i, bool) for i in sequence):
        raise TypeError(text(f"{index}번째 시퀀스는 정수 id의 목록(또는 1차원 정수 텐서)이어야 합니다: {sequence!r}",
                             f"sequence {index} must be a list of integer ids (or a 1-D integer tensor), "
                             f"got {sequence!r}"))
    return torch.tensor(list(sequence), dtype=torch.long)


def pad(sequences: Sequence[Sequence[int] | torch.Tensor], pad_id: int) -> torch.Tensor:
    """Stack sequences of ids into one LongTensor (B, T_max), filling the short ones with ``pad_id``."""
    if len(sequences) == 0:
        raise ValueError(text("채울 시퀀스가 하나도 없습니다", "no sequences to pad"))
    rows = [_ids(sequence, index) for index, sequence in enumerate(sequences)]
    for index, row in enumerate(rows):
        if row.numel() == 0:
            raise ValueError(text(f"{index}번째 시퀀스가 비어 있습니다 (길이 0인 문장은 어텐션이 볼 곳이 없습니다)",
                                  f"sequence {index} is empty (attention over a length-0 sentence has nowhere "
                                  "to look)"))
    out = torch.full((len(rows), max(len(row) for row in rows)), pad_id, dtype=torch.long)  # (B, T_max)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row
    return out


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """True where ``ids`` (B, T) holds a real token, False at padding: the positions attention may look at."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(text(f"id 텐서가 필요합니다: {type(ids).__name__}",
                             f"expected a tensor of ids, got {type(ids).__name__}"))
    return ids != pad_id  # (B, T)


@dataclass(frozen=True)
class Batch:
    """Source and target ids with their masks (True = real token) for one training step."""

    src: torch.Tensor  # (B, S) source ids
    src_mask: torch.Tensor  # (B, S) bool
    tgt_in: torch.Tensor  # (B, T) <s> y: what the decoder reads
    tgt_out: torch.Tensor  # (B, T) y </s>: what it should write
    tgt_mask: torch.Tensor  # (B, T) bool

    def __post_init__(self) -> None:
        shapes = {f.name: tuple(getattr(self, f.name).shape) for f in fields(self)}
        src_ok = shapes["src"] == shapes["src_mask"] and len(shapes["src"]) == 2
        tgt_ok = shapes["tgt_in"] == shapes["tgt_out"] == shapes["tgt_mask"] and len(shapes["tgt_in"]) == 2
        if not (src_ok and tgt_ok and shapes["src"][0] == shapes["tgt_in"][0]):
            raise ValueError(text(f"Batch의 모양이 맞지 않습니다: {shapes}",
                                  f"the tensors of a Batch do not fit together: {shapes}"))
        if self.src_mask.dtype != torch.bool or self.tgt_mask.dtype != torch.bool:
            raise ValueError(text("마스크는 bool 텐서여야 합니다 (True = 실제 토큰)",
                                  "masks must be bool tensors (True = real token)"))

    def __len__(self) -> int:
        return self.src.shape[0]

    @property
    def src_lengths(self) -> torch.Tensor:
        """The length of each source sentence (B,), e.g. for pack_padded_sequence."""
        return self.src_mask.sum(dim=1)  # (B,)

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def _sides(pair: object, index: int) -> tuple[list[str], list[str]]:
    """(source tokens, target tokens) of one pair; a SentencePair counts as (English, Korean)."""
    if hasattr(pair, "en") and hasattr(pair, "ko"):
        pair = (pair.en, pair.ko)
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise TypeError(text(f"{index}번째 쌍이 (원문, 번역문) 두 개로 되어 있지 않습니다: {pair!r}",
                             f"pair {index} is not a (source, target) pair: {pair!r}"))
    sides = [_tokens(side, (f"{index}번째 쌍", f"pair {index}")) for side in pair]
    for side, (name_ko, name_en) in zip(sides, SIDES, strict=True):
        if not side:
            raise ValueError(text(f"{index}번째 쌍의 {name_ko}이 비어 있습니다",
                                  f"the {name_en} side of pair {index} is empty"))
    return sides[0], sides[1]


def _encode(vocab: Vocabulary, tokens: list[str], index: int, side: tuple[str, str]) -> list[int]:
    try:
        return vocab.encode(tokens)
    except KeyError as error:
        raise KeyError(text(f"{index}번째 쌍의 {side[0]}: {error.args[0]}",
                            f"the {side[1]} of pair {index}: {error.args[0]}")) from None


def _lengths_mask(lengths: list[int], width: int) -> torch.Tensor:
    return torch.arange(width) < torch.tensor(lengths).unsqueeze(1)  # (B, width)


def _order(sources: list[list[int]], batch_size: int, shuffle: bool, seed: int) -> list[list[int]]:
    """Indices of each batch: in order, or shuffled with similar lengths together (less padding)."""
    order = list(range(len(sources)))
    if not shuffle:
        return [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(order)
    pool = batch_size * POOL
    order = [i for start in range(0, len(order), pool)
             for i in sorted(order[start: start + pool], key=lambda i: len(sources[i]))]
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def make_batches(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocabulary, tgt_vocab: Vocabulary,
                 batch_size: int, *, shuffle: bool = False, seed: int = 0) -> list[Batch]:
    """Batches of (source, target) pairs, in order, or shuffled from ``seed`` with similar source lengths together."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(text(f"batch_size는 1 이상의 정수여야 합니다: {batch_size!r}",
                              f"batch_size must be a positive integer, got {batch_size!r}"))
    if len(pairs) == 0:
        raise ValueError(text("배치로 묶을 문장 쌍이 없습니다", "no pairs to batch"))
    sources, targets = [], []
    for index, pair in enumerate(pairs):
        src, tgt = _sides(pair, index)
        sources.append(_encode(src_vocab, src, index, SIDES[0]))
        targets.append(_encode(tgt_vocab, tgt, index, SIDES[1]))
    batches = []
    for chunk in _order(sources, batch_size, shuffle, seed):
        src = pad([sources[i] for i in chunk], src_vocab.pad_id)  # (B, S)
        tgt_in = pad([[tgt_vocab.bos_id, *targets[i]] for i in chunk], tgt_vocab.pad_id)  # (B, T)
        tgt_out = pad([[*targets[i], tgt_vocab.eos_id] for i in chunk], tgt_vocab.pad_id)  # (B, T)
        src_mask = _lengths_mask([len(sources[i]) for i in chunk], src.shape[1])  # (B, S)
        tgt_mask = _lengths_mask([len(targets[i]) + 1 for i in chunk], tgt_in.shape[1])  # (B, T)
        batches.append(Batch(src, src_mask, tgt_in, tgt_out, tgt_mask))
    return batches

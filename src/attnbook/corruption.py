"""Corruption functions: what a pretraining objective does to a text before the model reads it.

One function per paper, named after it. Chapter 7 has BERT's masking (Devlin et al., 2019, §3.1
"Task #1: Masked LM" and Appendix A.1); chapter 9 adds BART's five noising functions (Lewis et al.,
2020, §2.2, with fairseq's ``denoising_dataset.py`` for the details) and T5's span corruption (Raffel
et al., 2020, §3.1.4 and §3.7, with T5's ``preprocessors.py``), each rule stated at its function below
BERT's part, with where our choice and the reference code differ.

BERT's masking, precisely:

1. **Which tokens are chosen.** Each token that is not special (``[CLS]``, ``[SEP]``, ``[PAD]``,
   ``[MASK]``, ``[UNK]`` …: whatever ``special_ids`` lists) is chosen independently with probability
   ``rate`` (0.15), as 🤗 ``DataCollatorForLanguageModeling`` does. Google's original
   ``create_pretraining_data.py`` instead picks exactly ``max(1, round(0.15 · len(tokens)))``
   positions per sequence, counting ``[CLS]`` and ``[SEP]`` in ``len(tokens)`` though it never picks
   them (only those two are excluded: ``[UNK]`` can be picked). We draw per token because the share
   is then ``rate`` in expectation at every length: with a fixed count, rounding takes 1 of a 5-token
   sentence (20 %) and 1 of a 3-token one (33 %), and this book's sentences are short. The price: a
   sequence may get no prediction at all (a batch almost never does), and the count per sequence
   varies (binomial) instead of being fixed.
2. **What happens to a chosen token.** Independently for each: 80 % become ``[MASK]``, 10 % a token
   drawn uniformly from the *non-special* tokens, 10 % stay as they are (``split``). A random draw may
   give back the original token (probability 1/N for N non-special tokens), as in the paper's code.
   Google's code and 🤗's collator both draw the random token from the whole vocabulary, special
   tokens included (``[PAD]``, ``[CLS]``, ``[MASK]`` …); :func:`compare_with_collator` measures it.
3. **Labels.** The original token at every chosen position (kept ones included: the model must
   predict those too) and ``IGNORE_INDEX`` (−100, what ``F.cross_entropy`` ignores) elsewhere.

Google's code masks each sequence once when the data is written (``dupe_factor`` copies with
different masks); 🤗's collator and this function mask anew at every call ("dynamic masking", Liu et
al. 2019, RoBERTa).

Shapes: B batch · T positions · V vocabulary.
"""

from __future__ import annotations

import itertools
import math
import numbers
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from attnbook.language import text

#: The label of a position the loss ignores: ``F.cross_entropy``'s and 🤗's default ``ignore_index``.
IGNORE_INDEX = -100

#: BERT's split of the chosen tokens: [MASK], a random token, unchanged (Devlin et al., 2019, §3.1).
BERT_SPLIT = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class MaskedTokens:
    """A batch after BERT's masking: what the model reads, what it must predict, and what was done where.

    Every field is (B, T), or the shape of the ids that were masked. ``chosen`` is the union of the
    three disjoint masks ``masked`` | ``replaced`` | ``kept``.
    """

    inputs: Tensor  # the corrupted ids the model reads
    labels: Tensor  # the original id at chosen positions, IGNORE_INDEX elsewhere
    chosen: Tensor  # bool: positions the model must predict
    masked: Tensor  # bool: chosen and replaced by [MASK]
    replaced: Tensor  # bool: chosen and replaced by a random non-special token (possibly the original one)
    kept: Tensor  # bool: chosen and left unchanged


def bert_masking(
    input_ids: Tensor,
    *,
    vocab_size: int,
    special_ids: Iterable[int],
    mask_id: int,
    rate: float = 0.15,
    split: Sequence[float] = BERT_SPLIT,
    generator: torch.Generator,
) -> MaskedTokens:
    """BERT's masked-LM corruption of a (padded) batch of token ids (Devlin et al., 2019, §3.1, App. A.1).

    Each non-special token is chosen with probability ``rate``; a chosen token becomes ``[MASK]``,
    a random non-special token or itself with the probabilities ``split``. ``special_ids`` must list
    every special id, the padding and ``mask_id`` included: those positions are never chosen and
    never drawn as a replacement. The same generator state gives the same result; the positions
    chosen depend only on that state and ``rate`` (not on ``split``), so two runs that differ only
    in ``split`` choose the same positions, and a higher ``rate`` chooses a superset.
    """
    specials = _check_masking_arguments(input_ids, vocab_size, special_ids, mask_id, rate, split)
    input_ids = input_ids.long()  # labels hold -100, and embeddings and the loss want int64
    words = torch.ones(vocab_size, dtype=torch.bool)
    words[specials] = False
    words = words.nonzero().squeeze(1)  # (N,) the non-special ids, the pool of random tokens

    def draw(values: Tensor) -> Tensor:  # drawn where the generator lives, then moved to the ids
        return values.to(input_ids.device)

    shape, device = input_ids.shape, generator.device
    u_choose = draw(torch.rand(shape, generator=generator, device=device))  # (B, T)
    u_action = draw(torch.rand(shape, generator=generator, device=device))  # (B, T)
    pick = draw(torch.randint(len(words), shape, generator=generator, device=device))  # (B, T)

    special = torch.isin(input_ids, specials.to(input_ids.device))  # (B, T), padding included
    chosen = (u_choose < rate) & ~special
    p_mask, p_random, _ = split
    masked = chosen & (u_action < p_mask)
    replaced = chosen & (u_action >= p_mask) & (u_action < p_mask + p_random)
    kept = chosen & ~masked & ~replaced

    inputs = input_ids.clone()
    inputs[masked] = mask_id
    inputs[replaced] = words.to(input_ids.device)[pick[replaced]]
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return MaskedTokens(inputs=inputs, labels=labels, chosen=chosen, masked=masked, replaced=replaced, kept=kept)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_masking_arguments(input_ids: Any, vocab_size: Any, special_ids: Any, mask_id: Any, rate: Any,
                             split: Any) -> Tensor:
    """Bilingual errors for bad arguments; returns the special ids as a tensor."""
    if not isinstance(input_ids, Tensor) or input_ids.is_floating_point() or input_ids.is_complex() \
            or input_ids.dtype == torch.bool:
        got = f"{tuple(input_ids.shape)} {input_ids.dtype}" if isinstance(input_ids, Tensor) \
            else type(input_ids).__name__
        raise ValueError(text(f"input_ids는 토큰 번호의 정수 텐서여야 합니다: {got}",
                              f"input_ids must be an integer tensor of token ids, got {got}"))
    if not _is_int(vocab_size) or vocab_size < 2:
        raise ValueError(text(f"vocab_size는 2 이상의 정수여야 합니다: {vocab_size!r}",
                              f"vocab_size must be an integer of at least 2, got {vocab_size!r}"))
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(text(
            f"input_ids에 어휘 밖의 번호가 있습니다 (0 ≤ id < {vocab_size}): {input_ids.min().item()} … "
            f"{input_ids.max().item()}",
            f"input_ids holds ids outside the vocabulary (0 ≤ id < {vocab_size}): {input_ids.min().item()} … "
            f"{input_ids.max().item()}"))
    if isinstance(special_ids, (str, bytes, Tensor)) or not isinstance(special_ids, Iterable):
        raise ValueError(text(f"special_ids는 특수 토큰 번호의 리스트여야 합니다: {special_ids!r}",
                              f"special_ids must be a list of special token ids, got {special_ids!r}"))
    specials = sorted(set(special_ids))
    bad = [s for s in specials if not _is_int(s) or not 0 <= s < vocab_size]
    if bad:
        raise ValueError(text(f"special_ids의 {bad}은(는) 0 이상 vocab_size({vocab_size}) 미만의 정수여야 합니다",
                              f"special_ids {bad} must be integers in [0, vocab_size = {vocab_size})"))
    if not _is_int(mask_id) or mask_id not in specials:
        raise ValueError(text(
            f"mask_id({mask_id!r})가 special_ids {specials}에 없습니다. [MASK]도 특수 토큰이어야 고르는 대상과 "
            f"무작위로 뽑는 토큰에서 빠집니다",
            f"mask_id ({mask_id!r}) is not in special_ids {specials}: [MASK] must be special too, so that it is "
            f"never chosen nor drawn as a random token"))
    if len(specials) >= vocab_size:
        raise ValueError(text("어휘의 모든 토큰이 특수 토큰이라 고를 토큰도, 무작위로 넣을 토큰도 없습니다",
                              "every token of the vocabulary is special: nothing to choose and no random token "
                              "to draw"))
    if not _is_real(rate) or not 0 < rate <= 1:
        raise ValueError(text(f"rate는 0보다 크고 1 이하인 수여야 합니다 (BERT는 0.15): {rate!r}",
                              f"rate must be a number in (0, 1] (BERT uses 0.15), got {rate!r}"))
    if isinstance(split, (str, bytes)) or not isinstance(split, Sequence) or len(split) != 3 \
            or not all(_is_real(p) and p >= 0 for p in split) or not math.isclose(sum(split), 1.0, abs_tol=1e-6):
        raise ValueError(text(
            f"split은 합이 1인 0 이상의 세 수 ([MASK], 무작위 토큰, 그대로)여야 합니다 (BERT는 (0.8, 0.1, 0.1)): "
            f"{split!r}",
            f"split must be three non-negative numbers summing to 1 ([MASK], random token, unchanged; BERT uses "
            f"(0.8, 0.1, 0.1)), got {split!r}"))
    return torch.tensor(specials, dtype=torch.long)


# --- side by side with 🤗 DataCollatorForLanguageModeling -----------------------------------------------


@dataclass(frozen=True)
class MaskingCounts:
    """What one masking implementation did over many draws, counted from its outputs alone.

    The first counts come from a run with BERT's split; the ``random_*`` counts from a run in which
    every chosen token is replaced by a random one (split (0, 1, 0)), to see what the random draws can be.
    """

    eligible: int  # non-special tokens seen (the ones that may be chosen)
    chosen: int  # positions that carry a label
    special_chosen: int  # chosen positions holding a special token, padding included
    shows_mask: int  # chosen positions whose input is [MASK]
    shows_other: int  # chosen positions whose input is another token than the original
    shows_original: int  # chosen positions whose input is the original token
    random_draws: int  # chosen positions in the all-random run
    random_special: int  # ... whose random token is a special token
    random_pad: int  # ... whose random token is the padding
    random_mask: int  # ... whose random token is [MASK]

    @property
    def chosen_share(self) -> float:
        return self.chosen / self.eligible

    def share(self, name: str) -> float:
        """``shows_*`` as a share of the chosen positions, ``random_*`` of the random draws."""
        total = self.random_draws if name.startswith("random_") else self.chosen
        return getattr(self, name) / total


@dataclass(frozen=True)
class MaskingComparison:
    """``bert_masking`` and 🤗 ``DataCollatorForLanguageModeling`` on the same batch, over many draws."""

    ours: MaskingCounts
    huggingface: MaskingCounts
    vocab_size: int
    num_special: int

    def rows(self) -> list[tuple[str, str, str]]:
        """(what, ours, 🤗) in the reader's language, numbers formatted as the table prints them."""
        def pct(counts: MaskingCounts, name: str) -> str:
            return f"{counts.share(name):.1%}"

        def both(name: str) -> tuple[str, str]:
            return pct(self.ours, name), pct(self.huggingface, name)

        return [
            (text("특수 토큰이 아닌 토큰 중 고른 몫", "share of non-special tokens chosen"),
             f"{self.ours.chosen_share:.1%}", f"{self.huggingface.chosen_share:.1%}"),
            (text("고른 자리 중 입력이 [MASK]", "chosen, input is [MASK]"), *both("shows_mask")),
            (text("고른 자리 중 입력이 다른 토큰", "chosen, input is another token"), *both("shows_other")),
            (text("고른 자리 중 입력이 원래 토큰", "chosen, input is the original"), *both("shows_original")),
            (text("고른 특수 토큰·패딩 (개)", "special or padding tokens chosen (count)"),
             str(self.ours.special_chosen), str(self.huggingface.special_chosen)),
            (text("무작위 토큰이 특수 토큰", "random token is a special token"), *both("random_special")),
            (text("무작위 토큰이 [PAD]", "random token is [PAD]"), *both("random_pad")),
            (text("무작위 토큰이 [MASK]", "random token is [MASK]"), *both("random_mask")),
        ]

    def __str__(self) -> str:
        header = (text("항목", "measured"), "attnbook", "🤗 collator")
        rows = [header, *self.rows()]
        width = max(_width(row[0]) for row in rows)
        lines = [f"{what}{' ' * (width - _width(what))}  {ours:>9}  {theirs:>11}" for what, ours, theirs in rows]
        note = text(f"어휘 {self.vocab_size}개, 그중 특수 토큰 {self.num_special}개: "
                    f"어휘 전체에서 뽑으면 특수 토큰이 나올 확률은 {self.num_special}/{self.vocab_size} = "
                    f"{self.num_special / self.vocab_size:.1%}",
                    f"vocabulary of {self.vocab_size}, {self.num_special} of them special: a draw from the whole "
                    f"vocabulary is special with probability {self.num_special}/{self.vocab_size} = "
                    f"{self.num_special / self.vocab_size:.1%}")
        return "\n".join([*lines, note])


def _width(line: str) -> int:
    """Columns a string takes in a monospaced font: Hangul and emoji take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _count(original: Tensor, inputs: Tensor, labels: Tensor, all_random_inputs: Tensor, all_random_labels: Tensor,
           specials: Tensor, pad_id: int, mask_id: int) -> MaskingCounts:
    special = torch.isin(original, specials)
    chosen = labels != IGNORE_INDEX
    seen = inputs[chosen]
    shows_mask = seen == mask_id
    shows_original = (seen == original[chosen]) & ~shows_mask
    drawn = all_random_inputs[all_random_labels != IGNORE_INDEX]
    return MaskingCounts(
        eligible=int((~special).sum()),
        chosen=int(chosen.sum()),
        special_chosen=int((chosen & special).sum()),
        shows_mask=int(shows_mask.sum()),
        shows_other=int((~shows_mask & ~shows_original).sum()),
        shows_original=int(shows_original.sum()),
        random_draws=drawn.numel(),
        random_special=int(torch.isin(drawn, specials).sum()),
        random_pad=int((drawn == pad_id).sum()),
        random_mask=int((drawn == mask_id).sum()),
    )


def compare_with_collator(input_ids: Tensor, tokenizer: Any, *, draws: int = 100, rate: float = 0.15,
                          seed: int = 0) -> MaskingComparison:
    """Mask ``input_ids`` (B, T) ``draws`` times with ``bert_masking`` and with 🤗's collator, and count.

    ``tokenizer`` is the 🤗 tokenizer the collator needs (a ``PreTrainedTokenizerFast`` with
    ``[MASK]`` and ``[PAD]``); both sides treat ``tokenizer.all_special_ids`` as special. The
    collator draws from the global generator, which is seeded for the call and restored afterwards.
    """
    from transformers import DataCollatorForLanguageModeling

    if not isinstance(draws, int) or draws < 1:
        raise ValueError(text(f"draws는 1 이상의 정수여야 합니다: {draws!r}",
                              f"draws must be a positive integer, got {draws!r}"))
    if tokenizer.mask_token_id is None or tokenizer.pad_token_id is None:
        raise ValueError(text("토크나이저에 [MASK]와 [PAD] 토큰이 있어야 합니다",
                              "the tokenizer needs a [MASK] and a [PAD] token"))
    vocab_size, mask_id, pad_id = len(tokenizer), tokenizer.mask_token_id, tokenizer.pad_token_id
    specials = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    batch = input_ids.repeat(draws, 1)  # (draws·B, T): the same sentences, masked again and again

    def ours(split: Sequence[float], offset: int) -> MaskedTokens:
        generator = torch.Generator().manual_seed(seed + offset)
        return bert_masking(batch, vocab_size=vocab_size, special_ids=specials.tolist(), mask_id=mask_id, rate=rate,
                            split=split, generator=generator)

    def theirs(mask_replace_prob: float, random_replace_prob: float, offset: int) -> dict[str, Tensor]:
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=rate,
                                                   mask_replace_prob=mask_replace_prob,
                                                   random_replace_prob=random_replace_prob)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + offset)
            return collator(list(batch.clone()))

    bert, bert_random = ours(BERT_SPLIT, 0), ours((0.0, 1.0, 0.0), 1)
    hf, hf_random = theirs(0.8, 0.1, 0), theirs(0.0, 1.0, 1)
    return MaskingComparison(
        ours=_count(batch, bert.inputs, bert.labels, bert_random.inputs, bert_random.labels, specials, pad_id,
                    mask_id),
        huggingface=_count(batch, hf["input_ids"], hf["labels"], hf_random["input_ids"], hf_random["labels"],
                           specials, pad_id, mask_id),
        vocab_size=vocab_size,
        num_special=len(specials),
    )


# --- chapter 9: BART's noising (Lewis et al., 2020, §2.2) -------------------------------------------------
#
# Every function below takes a plain token sequence (a list or tuple of ints or of strings: they never
# look inside a token, they only compare tokens for equality) and a ``torch.Generator``, and returns plain
# Python lists inside a frozen dataclass that records what was hidden and where. The deterministic cores
# (``infill_spans``, ``span_corruption_from_mask``) take the spans or the mask from the caller, so a test
# or an exercise can fix them. None of them adds BOS or EOS: the caller's tokenizer does.

Token = Any  # an int id or a string piece; only compared for equality


@dataclass(frozen=True)
class TokenMasking:
    """BART's token masking: ``inputs`` is the text with the tokens at ``positions`` replaced by the mask."""

    inputs: list  # same length as the original
    positions: tuple[int, ...]  # sorted indices of the masked tokens


@dataclass(frozen=True)
class TokenDeletion:
    """BART's token deletion: ``inputs`` is the text without the tokens at ``positions`` (original indices)."""

    inputs: list  # shorter by len(positions)
    positions: tuple[int, ...]  # sorted indices, in the original, of the deleted tokens


@dataclass(frozen=True)
class TextInfilling:
    """BART's text infilling: each span of the original became one mask in ``inputs``.

    ``spans[k] = (start, length)`` in the original's indices (length 0: a mask inserted before
    ``tokens[start]``), ``hidden[k]`` the tokens that span removed, ``mask_positions[k]`` the index of
    its mask in ``inputs``. BART's target is the whole original text.
    """

    inputs: list
    spans: tuple[tuple[int, int], ...]
    hidden: tuple[tuple, ...]
    mask_positions: tuple[int, ...]


@dataclass(frozen=True)
class SentencePermutation:
    """BART's sentence permutation: ``inputs[i]`` is the original sentence ``order[i]``."""

    inputs: list  # a list of sentences (token lists)
    order: tuple[int, ...]

    @property
    def tokens(self) -> list:
        """The permuted document as one token list."""
        return [token for sentence in self.inputs for token in sentence]


@dataclass(frozen=True)
class DocumentRotation:
    """BART's document rotation: ``inputs`` starts at the original's token ``start`` and wraps around."""

    inputs: list
    start: int


def _check_tokens(tokens: Any, name: str = "tokens", *, allow_empty: bool = False) -> list:
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, (list, tuple)):
        raise ValueError(text(f"{name}은(는) 토큰의 리스트나 튜플이어야 합니다: {type(tokens).__name__}",
                              f"{name} must be a list or tuple of tokens, got {type(tokens).__name__}"))
    if not tokens and not allow_empty:
        raise ValueError(text(f"{name}이(가) 비어 있습니다: 망가뜨릴 토큰이 하나 이상 필요합니다",
                              f"{name} is empty: there must be at least one token to corrupt"))
    return list(tokens)


def _check_generator(generator: Any) -> None:
    if not isinstance(generator, torch.Generator):
        raise ValueError(text(
            f"generator는 torch.Generator여야 합니다 (예: torch.Generator().manual_seed(0)): "
            f"{type(generator).__name__}",
            f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), got "
            f"{type(generator).__name__}"))


def _check_rate(rate: Any, name: str, paper: str) -> None:
    if not _is_real(rate) or not 0 <= rate <= 1:
        raise ValueError(text(f"{name}는 0 이상 1 이하의 수여야 합니다 ({paper}): {rate!r}",
                              f"{name} must be a number in [0, 1] ({paper}), got {rate!r}"))


def _check_no_clash(tokens: list, special: Any, what: str) -> None:
    """A special token already in the text would make the corruption ambiguous to undo."""
    if any(token == special for token in tokens):
        raise ValueError(text(
            f"텍스트에 {what} 토큰 {special!r}이(가) 이미 들어 있습니다: 어디를 가렸는지 알 수 없게 됩니다",
            f"the text already contains the {what} token {special!r}: what was hidden could not be told apart"))


def _budget(length: int, rate: float) -> int:
    """fairseq's count: ceil(length · rate) (``denoising_dataset.py``), rate 0 giving 0."""
    return min(length, math.ceil(length * rate))


def _sample(count: int, population: int, generator: torch.Generator) -> list[int]:
    """``count`` distinct indices of range(population), uniformly, sorted."""
    return sorted(torch.randperm(population, generator=generator)[:count].tolist())


def token_masking(tokens: Sequence[Token], *, mask: Token, rate: float, generator: torch.Generator) -> TokenMasking:
    """BART's token masking (§2.2): random tokens are replaced by the mask, as in BERT.

    Exactly ``ceil(rate · len(tokens))`` distinct positions, uniformly at random (fairseq's count; BERT's
    80/10/10 split is not applied, and fairseq's optional ``--mask-random`` share is left out).
    """
    tokens = _check_tokens(tokens)
    _check_rate(rate, "rate", "BART")
    _check_generator(generator)
    _check_no_clash(tokens, mask, "mask")
    positions = _sample(_budget(len(tokens), rate), len(tokens), generator)
    inputs = list(tokens)
    for i in positions:
        inputs[i] = mask
    return TokenMasking(inputs=inputs, positions=tuple(positions))


def token_deletion(tokens: Sequence[Token], *, rate: float, generator: torch.Generator) -> TokenDeletion:
    """BART's token deletion (§2.2): random tokens are removed; the model must find where they were.

    Exactly ``ceil(rate · len(tokens))`` distinct positions, uniformly at random (fairseq's count).
    """
    tokens = _check_tokens(tokens)
    _check_rate(rate, "rate", "BART")
    _check_generator(generator)
    positions = _sample(_budget(len(tokens), rate), len(tokens), generator)
    gone = set(positions)
    return TokenDeletion(inputs=[t for i, t in enumerate(tokens) if i not in gone], positions=tuple(positions))


def infill_spans(tokens: Sequence[Token], spans: Sequence[tuple[int, int]], *, mask: Token) -> TextInfilling:
    """Replace each span ``(start, length)`` of ``tokens`` by ONE mask; a 0-length span inserts one mask.

    Deterministic core of :func:`text_infilling`. ``spans`` must be sorted and must not overlap
    (``start_{k+1} ≥ start_k + length_k``); 0 ≤ start ≤ len(tokens) (start = len(tokens) with length 0
    appends a mask). Adjacent spans give adjacent masks.
    """
    tokens = _check_tokens(tokens, allow_empty=True)
    _check_no_clash(tokens, mask, "mask")
    if isinstance(spans, (str, bytes)) or not isinstance(spans, Sequence):
        raise ValueError(text(f"spans는 (start, length) 쌍의 리스트여야 합니다: {spans!r}",
                              f"spans must be a list of (start, length) pairs, got {spans!r}"))
    end = 0
    for span in spans:
        ok = isinstance(span, (tuple, list)) and len(span) == 2 and all(_is_int(v) for v in span)
        if not ok or span[0] < end or span[1] < 0 or span[0] + span[1] > len(tokens):
            raise ValueError(text(
                f"span {span!r}이(가) 잘못되었습니다: 구간은 (start, length) 정수 쌍으로, 정렬되고 겹치지 않으며 "
                f"텍스트(길이 {len(tokens)}) 안에 있어야 합니다",
                f"bad span {span!r}: spans are (start, length) integer pairs, sorted, not overlapping, inside the "
                f"text (length {len(tokens)})"))
        end = span[0] + span[1]
    inputs: list = []
    hidden, mask_positions = [], []
    i = 0
    for start, length in spans:
        inputs.extend(tokens[i:start])
        mask_positions.append(len(inputs))
        inputs.append(mask)
        hidden.append(tuple(tokens[start:start + length]))
        i = start + length
    inputs.extend(tokens[i:])
    return TextInfilling(inputs=inputs, spans=tuple((int(s), int(n)) for s, n in spans), hidden=tuple(hidden),
                         mask_positions=tuple(mask_positions))


def poisson_span_lengths(budget: int, *, poisson_lambda: float, generator: torch.Generator) -> list[int]:
    """Span lengths ~ Poisson(λ), drawn until they cover ``budget`` tokens, the last one cut to fit (fairseq).

    The lengths sum to exactly ``budget``; zeros (probability e^-λ, 5 % for λ = 3) are kept: each
    becomes an inserted mask.
    """
    lengths: list[int] = []
    rate = torch.tensor([float(poisson_lambda)])
    total = 0
    while total < budget:
        lengths.append(int(torch.poisson(rate, generator=generator).item()))
        total += lengths[-1]
    if lengths:
        lengths[-1] -= total - budget
    return lengths


def text_infilling(tokens: Sequence[Token], *, mask: Token, rate: float = 0.3, poisson_lambda: float = 3.0,
                   generator: torch.Generator) -> TextInfilling:
    """BART's text infilling (§2.2; 30 % masking, §5.1): spans with Poisson(λ) lengths, each → ONE mask.

    1. The budget is ``ceil(rate · len(tokens))`` tokens (fairseq counts *words*, i.e. word starts, and
       spans run over whole words; we have no word boundaries, so we count and span tokens).
    2. Span lengths are drawn from Poisson(λ = 3) until they cover the budget, the last one cut so the
       total is exactly the budget (fairseq); 0-length spans insert one mask.
    3. The spans are laid out without overlap, every arrangement of the kept tokens and the spans (in
       a random order) equally likely. fairseq instead draws distinct start positions and lets a span
       run into the next one (they merge under one mask, so fewer than the budget may be masked) and
       puts the 0-length insertions at separate random positions; we keep the spans apart so that the
       budget is exact and every mask stands for exactly one recorded span.
    """
    tokens = _check_tokens(tokens)
    _check_rate(rate, "rate", "BART uses 0.3")
    if not _is_real(poisson_lambda) or poisson_lambda <= 0:
        raise ValueError(text(f"poisson_lambda는 양수여야 합니다 (BART는 3): {poisson_lambda!r}",
                              f"poisson_lambda must be positive (BART uses 3), got {poisson_lambda!r}"))
    _check_generator(generator)
    _check_no_clash(tokens, mask, "mask")
    lengths = poisson_span_lengths(_budget(len(tokens), rate), poisson_lambda=poisson_lambda, generator=generator)
    kept = len(tokens) - sum(lengths)
    order = torch.randperm(len(lengths), generator=generator).tolist()  # the spans in random order
    slots = set(_sample(len(lengths), kept + len(lengths), generator))  # where, among kept tokens, spans go
    spans, position, k = [], 0, 0
    for slot in range(kept + len(lengths)):
        if slot in slots:
            length = lengths[order[k]]
            spans.append((position, length))
            position, k = position + length, k + 1
        else:
            position += 1
    return infill_spans(tokens, spans, mask=mask)


def sentence_permutation(sentences: Sequence[Sequence[Token]], *, generator: torch.Generator) -> SentencePermutation:
    """BART's sentence permutation (§2.2): the document's sentences shuffled in a uniformly random order.

    Whole sentences move; none is cut. fairseq finds the sentences by full stops inside one token
    sequence; here the caller gives them split.
    """
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Sequence) or not sentences:
        raise ValueError(text("sentences는 문장(토큰 리스트)의 비어 있지 않은 리스트여야 합니다",
                              "sentences must be a non-empty list of sentences (token lists)"))
    sentences = [_check_tokens(s, "sentence", allow_empty=True) for s in sentences]
    _check_generator(generator)
    order = torch.randperm(len(sentences), generator=generator).tolist()
    return SentencePermutation(inputs=[list(sentences[i]) for i in order], order=tuple(order))


def document_rotation(tokens: Sequence[Token], *, generator: torch.Generator) -> DocumentRotation:
    """BART's document rotation (§2.2): a token chosen uniformly becomes the first; the rest wraps around.

    Every start is equally likely, the original start included (as in fairseq's ``add_rolling_noise``,
    which rotates the text between BOS and EOS).
    """
    tokens = _check_tokens(tokens)
    _check_generator(generator)
    start = int(torch.randint(len(tokens), (1,), generator=generator).item())
    return DocumentRotation(inputs=tokens[start:] + tokens[:start], start=start)


# --- chapter 9: T5's span corruption (Raffel et al., 2020, §3.1.4 and §3.7) ------------------------------


@dataclass(frozen=True)
class SpanCorruption:
    """T5's span corruption of one text: what the encoder reads, what the decoder must write, and the mask."""

    inputs: list  # kept tokens, each noise span replaced by its sentinel
    targets: list  # each sentinel followed by the tokens it hid (+ a final sentinel if the text ends kept)
    noise_mask: list[bool]  # True at the original's hidden tokens


def _check_counts_arguments(length: Any, noise_density: Any, mean_span_length: Any) -> None:
    if not _is_int(length) or length < 2:
        raise ValueError(text(
            f"length는 2 이상의 정수여야 합니다: {length!r}. 가릴 토큰과 남길 토큰이 하나씩은 있어야 합니다 "
            f"(T5의 코드는 길이 1을 2로 셈해 아무것도 가리지 않습니다)",
            f"length must be an integer of at least 2, got {length!r}: at least one token must be hidden and one "
            f"kept (T5's code counts a 1-token text as 2 long and hides nothing)"))
    if not _is_real(noise_density) or not 0 < noise_density < 1:
        raise ValueError(text(f"noise_density는 0과 1 사이의 수여야 합니다 (T5는 0.15): {noise_density!r}",
                              f"noise_density must be a number in (0, 1) (T5 uses 0.15), got {noise_density!r}"))
    if not _is_real(mean_span_length) or mean_span_length < 1:
        raise ValueError(text(f"mean_span_length는 1 이상의 수여야 합니다 (T5는 3): {mean_span_length!r}",
                              f"mean_span_length must be a number of at least 1 (T5 uses 3), got "
                              f"{mean_span_length!r}"))


def noise_span_counts(length: int, *, noise_density: float = 0.15, mean_span_length: float = 3.0) -> tuple[int, int]:
    """How many tokens T5 hides, and in how many spans: exactly as ``random_spans_noise_mask`` computes them.

    num_noise_tokens = round(length · noise_density), clipped to [1, length − 1];
    num_noise_spans = max(1, round(num_noise_tokens / mean_span_length)).

    Both in float32, rounding half to even, as T5's TensorFlow code does (``tf.round`` on float32).
    This differs from Python's float64 ``round``, and from 🤗's Flax example (NumPy, float64), at some
    lengths: 190 · 0.15 is 28.5 in float64 (→ 28) but a hair above 28.5 in float32 (→ 29). Half to
    even also differs from rounding half up: 30 · 0.15 = 4.5 gives 4, not 5.
    """
    _check_counts_arguments(length, noise_density, mean_span_length)
    import numpy as np  # float32 arithmetic exactly as TensorFlow's

    num_noise_tokens = int(np.round(np.float32(length) * np.float32(noise_density)))
    num_noise_tokens = min(max(num_noise_tokens, 1), length - 1)
    num_noise_spans = max(1, int(np.round(np.float32(num_noise_tokens) / np.float32(mean_span_length))))
    if num_noise_spans > length - num_noise_tokens:
        raise ValueError(text(
            f"길이 {length}에서 가린 구간 {num_noise_spans}개 사이에 남길 토큰({length - num_noise_tokens}개)이 "
            f"모자랍니다: noise_density를 낮추거나 mean_span_length를 늘리세요",
            f"at length {length} the {length - num_noise_tokens} kept tokens cannot separate {num_noise_spans} noise "
            f"spans: lower noise_density or raise mean_span_length"))
    return num_noise_tokens, num_noise_spans


def random_segmentation(num_items: int, num_segments: int, *, generator: torch.Generator) -> list[int]:
    """``num_items`` split into ``num_segments`` non-empty parts, every composition equally likely (T5's
    ``_random_segmentation``: the segment breaks are a uniform choice of num_segments − 1 of the
    num_items − 1 gaps)."""
    if not (_is_int(num_items) and _is_int(num_segments) and 1 <= num_segments <= num_items):
        raise ValueError(text(f"1 ≤ num_segments({num_segments!r}) ≤ num_items({num_items!r})여야 합니다",
                              f"need 1 ≤ num_segments ({num_segments!r}) ≤ num_items ({num_items!r})"))
    breaks = _sample(num_segments - 1, num_items - 1, generator)  # gap g lies after item g
    edges = [0, *(g + 1 for g in breaks), num_items]
    return [b - a for a, b in itertools.pairwise(edges)]


def random_spans_noise_mask(length: int, *, noise_density: float = 0.15, mean_span_length: float = 3.0,
                            generator: torch.Generator) -> list[bool]:
    """T5's noise mask: the counts of :func:`noise_span_counts`, laid out as random interleaved spans.

    The noise tokens are split into num_noise_spans non-empty spans, the kept tokens into as many, each
    split uniformly at random (:func:`random_segmentation`); the spans alternate kept, noise, kept,
    noise …, beginning with kept. So the text never begins with noise and ALWAYS ENDS with a noise
    span. With one span (every length up to 30 at the defaults: round(n/3) = 1 for n ≤ 4 hidden
    tokens, and 30 · 0.15 = 4.5 rounds to 4) that span is the text's last tokens. Later versions of
    T5's code added ``random_roll`` (off by default) to rotate the mask; we follow the default, and
    :func:`pack` is what spreads the noise over the original texts.
    """
    _check_generator(generator)
    num_noise, num_spans = noise_span_counts(length, noise_density=noise_density, mean_span_length=mean_span_length)
    noise = random_segmentation(num_noise, num_spans, generator=generator)
    kept = random_segmentation(length - num_noise, num_spans, generator=generator)
    mask: list[bool] = []
    for k, n in zip(kept, noise, strict=True):
        mask += [False] * k + [True] * n
    return mask


def _runs(mask: Sequence[bool]) -> list[tuple[bool, int, int]]:
    """(is_noise, start, end) for each maximal run of equal values."""
    runs: list[tuple[bool, int, int]] = []
    for i, value in enumerate(mask):
        if runs and runs[-1][0] == value:
            runs[-1] = (value, runs[-1][1], i + 1)
        else:
            runs.append((bool(value), i, i + 1))
    return runs


def _check_sentinels(sentinels: Any) -> list:
    if isinstance(sentinels, (str, bytes)) or not isinstance(sentinels, Sequence) or not sentinels:
        raise ValueError(text("sentinels는 센티널 토큰(<extra_id_0>, <extra_id_1>, …)의 비어 있지 않은 리스트여야 "
                              "합니다",
                              "sentinels must be a non-empty list of sentinel tokens (<extra_id_0>, <extra_id_1>, …)"))
    sentinels = list(sentinels)
    if len(set(sentinels)) != len(sentinels):
        raise ValueError(text("sentinels에 같은 토큰이 두 번 있습니다: 센티널은 서로 달라야 합니다",
                              "sentinels holds a token twice: sentinels must be distinct"))
    return sentinels


def span_corruption_from_mask(tokens: Sequence[Token], noise_mask: Sequence[bool], *,
                              sentinels: Sequence[Token]) -> tuple[list, list]:
    """T5's inputs and targets for a given noise mask (deterministic).

    inputs: the tokens, each noise span replaced by ONE sentinel, ``sentinels[0]`` (``<extra_id_0>``)
    first, numbered in order. targets: ``sentinels[k]`` followed by the tokens span k hid, for each k,
    and one more sentinel at the end exactly when the text ends with a kept span.

    What T5's code does: inputs as above (``noise_span_to_unique_sentinel``); targets by the same
    function on the inverted mask (``nonnoise_span_to_unique_sentinel``: each *kept* span → one
    sentinel). When the mask begins with a kept span, as T5's own masks always do, the two agree with
    the rule above; T5's masks also always end with noise, so T5's targets never carry the final
    sentinel. The paper's Figure 2 ("Thank you <X> me to your party <Y> week." → "<X> for inviting
    <Y> last <Z>") ends with a kept word, hence its final <Z>. If a mask began with noise (T5's
    ``random_roll`` can do that), T5's two functions would misalign: the targets would start with the
    hidden tokens and put ``sentinels[0]`` after them. We keep the sentinels aligned in every case.
    EOS is not added here (the caller's tokenizer adds it).
    """
    tokens = _check_tokens(tokens, allow_empty=True)
    sentinels = _check_sentinels(sentinels)
    if isinstance(noise_mask, (str, bytes)) or not isinstance(noise_mask, Sequence) \
            or len(noise_mask) != len(tokens) or not all(isinstance(m, (bool, int)) and m in (0, 1)
                                                          for m in noise_mask):
        raise ValueError(text(f"noise_mask는 tokens와 길이가 같은({len(tokens)}) 참/거짓 리스트여야 합니다",
                              f"noise_mask must be a list of booleans as long as tokens ({len(tokens)})"))
    clash = set(sentinels).intersection(tokens)
    if clash:
        raise ValueError(text(f"텍스트에 센티널 {sorted(map(repr, clash))}이(가) 이미 있습니다: 복원할 수 없게 됩니다",
                              f"the text already contains the sentinels {sorted(map(repr, clash))}: it could not be "
                              f"restored"))
    runs = _runs(noise_mask)
    noise_runs = [run for run in runs if run[0]]
    needed = len(noise_runs) + (1 if runs and not runs[-1][0] else 0)
    if needed > len(sentinels):
        raise ValueError(text(f"센티널이 모자랍니다: 이 마스크에는 {needed}개가 필요한데 {len(sentinels)}개뿐입니다",
                              f"too few sentinels: this mask needs {needed}, got {len(sentinels)}"))
    inputs: list = []
    targets: list = []
    k = 0
    for is_noise, start, end in runs:
        if is_noise:
            inputs.append(sentinels[k])
            targets += [sentinels[k], *tokens[start:end]]
            k += 1
        else:
            inputs += tokens[start:end]
    if runs and not runs[-1][0]:
        targets.append(sentinels[k])  # the text ends with a kept span: the final sentinel
    return inputs, targets


def t5_span_corruption(tokens: Sequence[Token], *, sentinels: Sequence[Token], noise_density: float = 0.15,
                       mean_span_length: float = 3.0, generator: torch.Generator) -> SpanCorruption:
    """T5's span corruption (§3.1.4; span lengths studied in §3.3.4; final objective §3.7).

    The mask of :func:`random_spans_noise_mask`, then :func:`span_corruption_from_mask`. T5 corrupts
    fixed-length chunks of concatenated texts (:func:`pack`), not single short texts.
    """
    tokens = _check_tokens(tokens)
    mask = random_spans_noise_mask(len(tokens), noise_density=noise_density, mean_span_length=mean_span_length,
                                   generator=generator)
    inputs, targets = span_corruption_from_mask(tokens, mask, sentinels=sentinels)
    return SpanCorruption(inputs=inputs, targets=targets, noise_mask=mask)


def restore_spans(inputs: Sequence[Token], targets: Sequence[Token], *, sentinels: Sequence[Token]) -> list:
    """The original text from T5's inputs and targets: each sentinel in ``inputs`` replaced by what follows
    the same sentinel in ``targets`` (up to the next sentinel). Inconsistent pairs are refused."""
    inputs = _check_tokens(inputs, "inputs", allow_empty=True)
    targets = _check_tokens(targets, "targets", allow_empty=True)
    sentinels = _check_sentinels(sentinels)
    index = {s: k for k, s in enumerate(sentinels)}
    hidden: dict[int, list] = {}
    current = None
    for token in targets:
        if token in index:
            current = index[token]
            hidden[current] = []
        elif current is None:
            raise ValueError(text("targets가 센티널로 시작하지 않습니다",
                                  "targets does not begin with a sentinel"))
        else:
            hidden[current].append(token)
    used = [index[t] for t in inputs if t in index]
    final = [k for k in hidden if k not in used]
    if used != list(range(len(used))) or final not in ([], [len(used)]) or (final and hidden[final[0]]):
        raise ValueError(text(
            "inputs와 targets의 센티널이 맞지 않습니다: inputs는 0번부터 차례로, targets는 같은 센티널들"
            "(끝에 빈 센티널 하나는 허용)을 담아야 합니다",
            "the sentinels of inputs and targets do not match: inputs must use them in order from 0, targets the "
            "same ones (plus at most one empty final sentinel)"))
    out: list = []
    for token in inputs:
        out += hidden[index[token]] if token in index else [token]
    return out


def pack(sequences: Sequence[Sequence[Token]], length: int, *, separator: Sequence[Token] = ()) -> list[list]:
    """T5's packing: the texts concatenated (``separator`` between them), then cut into ``length``-token chunks.

    As ``reduce_concat_tokens`` (which joins the texts with nothing between them: T5's default here is
    ``separator=()``) followed by ``split_tokens``: every chunk has ``length`` tokens but the last,
    which keeps what is left. T5 concatenates 128 documents at a time; here all of them.
    """
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
        raise ValueError(text("sequences는 토큰 리스트의 리스트여야 합니다",
                              "sequences must be a list of token lists"))
    if not _is_int(length) or length < 1:
        raise ValueError(text(f"length는 1 이상의 정수여야 합니다: {length!r}",
                              f"length must be a positive integer, got {length!r}"))
    separator = _check_tokens(separator, "separator", allow_empty=True)
    stream: list = []
    for i, sequence in enumerate(sequences):
        stream += (separator if i else []) + _check_tokens(sequence, "sequence", allow_empty=True)
    return [stream[i:i + length] for i in range(0, len(stream), length)]

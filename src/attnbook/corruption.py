"""Corruption functions: what a pretraining objective does to a text before the model reads it.

One function per paper, named after it. Chapter 7 has BERT's masking (Devlin et al., 2019, §3.1
"Task #1: Masked LM" and Appendix A.1); chapter 9 adds BART's noising and T5's span corruption.

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

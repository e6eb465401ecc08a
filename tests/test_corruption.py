"""BERT's masking: its exact contract on hand-made batches, its statistics over many draws, and 🤗's collator.

Statistical checks use fixed seeds and bounds of five binomial standard deviations, so a correct
implementation fails one with a probability below one in a million, whatever its draws.
"""

from __future__ import annotations

import math
import re

import pytest
import torch

import attnbook
from attnbook.corruption import BERT_SPLIT, IGNORE_INDEX, MaskedTokens, bert_masking, compare_with_collator

HANGUL = re.compile(r"[\uac00-\ud7a3]")

# A vocabulary of 30: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, then 25 ordinary tokens.
PAD, UNK, CLS, SEP, MASK = range(5)
SPECIALS = [PAD, UNK, CLS, SEP, MASK]
V = 30
WORDS = torch.arange(5, V)  # the non-special ids
# The same vocabulary turned around: the specials at the end, padding not 0.
SPECIALS_AT_END = {"vocab_size": 31, "special_ids": [26, 27, 28, 29, 30], "mask_id": 29}


def _batch() -> torch.Tensor:
    """Two sentence pairs: [CLS] A [SEP] B [SEP], one holding an [UNK], the shorter one padded."""
    return torch.tensor([
        [CLS, 5, 6, 7, 8, SEP, 9, 10, 11, 12, 13, SEP],
        [CLS, 14, UNK, 15, SEP, 16, 17, 18, SEP, PAD, PAD, PAD],
    ])


def _mask(ids: torch.Tensor, seed: int = 0, **options) -> MaskedTokens:
    arguments = {"vocab_size": V, "special_ids": SPECIALS, "mask_id": MASK, **options}
    return bert_masking(ids, generator=torch.Generator().manual_seed(seed), **arguments)


def _assert_contract(ids: torch.Tensor, out: MaskedTokens, specials: list[int], mask_id: int) -> None:
    special = torch.isin(ids, torch.tensor(specials))
    assert not (out.chosen & special).any(), "a special token or padding was chosen"
    assert torch.equal(out.labels[out.chosen], ids[out.chosen])
    assert (out.labels[~out.chosen] == IGNORE_INDEX).all()
    assert torch.equal(out.inputs[~out.chosen], ids[~out.chosen]), "an unchosen token changed"
    assert (out.inputs[out.masked] == mask_id).all()
    assert torch.equal(out.inputs[out.kept], ids[out.kept])
    assert not torch.isin(out.inputs[out.replaced], torch.tensor(specials)).any()
    three = torch.stack([out.masked, out.replaced, out.kept])
    assert torch.equal(three.sum(0), out.chosen.long()), "masked, replaced and kept must split chosen"
    assert out.inputs.dtype == out.labels.dtype == torch.long
    assert out.inputs.shape == out.labels.shape == ids.shape


@pytest.mark.parametrize("seed", range(20))
def test_the_contract_holds_on_a_padded_batch_with_special_tokens(seed):
    ids = _batch()
    before = ids.clone()
    out = _mask(ids, seed, rate=0.6)  # a high rate chooses most tokens, so every rule is exercised
    assert torch.equal(ids, before), "the input ids were changed in place"
    _assert_contract(ids, out, SPECIALS, MASK)


def test_the_contract_holds_when_the_specials_are_not_the_first_ids():
    ids = torch.tensor([[27, 0, 1, 2, 28, 3, 4, 5, 28, 30, 30], [27, 6, 26, 7, 8, 28, 9, 10, 11, 12, 28]])
    for seed in range(20):
        out = bert_masking(ids, rate=0.6, generator=torch.Generator().manual_seed(seed), **SPECIALS_AT_END)
        _assert_contract(ids, out, SPECIALS_AT_END["special_ids"], 29)
        assert (out.inputs[out.replaced] < 26).all()


def test_every_outcome_happens_and_is_reported():
    out = _mask(_batch().repeat(50, 1), rate=0.5)
    assert out.masked.any() and out.replaced.any() and out.kept.any()
    assert (out.inputs[out.replaced] != _batch().repeat(50, 1)[out.replaced]).any()


def test_the_same_generator_state_gives_the_same_masking_and_another_seed_another():
    ids = _batch().repeat(4, 1)
    first, again, other = _mask(ids, 3), _mask(ids, 3), _mask(ids, 4)
    for name in ("inputs", "labels", "chosen", "masked", "replaced", "kept"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert not torch.equal(first.chosen, other.chosen)


def test_consecutive_calls_on_one_generator_differ():
    generator = torch.Generator().manual_seed(0)
    ids = _batch().repeat(4, 1)
    a = bert_masking(ids, vocab_size=V, special_ids=SPECIALS, mask_id=MASK, generator=generator)
    b = bert_masking(ids, vocab_size=V, special_ids=SPECIALS, mask_id=MASK, generator=generator)
    assert not torch.equal(a.chosen, b.chosen)


def test_the_global_generator_is_left_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    _mask(_batch())
    assert torch.equal(torch.rand(3), expected)


def test_the_chosen_positions_depend_on_the_seed_and_rate_only():
    ids = _batch().repeat(30, 1)
    bert = _mask(ids, 5)
    only_mask = _mask(ids, 5, split=(1.0, 0.0, 0.0))
    assert torch.equal(bert.chosen, only_mask.chosen)  # a paired comparison for the 10 % kept experiment
    assert torch.equal(only_mask.masked, only_mask.chosen)
    assert not only_mask.replaced.any() and not only_mask.kept.any()
    more = _mask(ids, 5, rate=0.5)
    assert (more.chosen | ~bert.chosen).all(), "a higher rate must choose a superset"


@pytest.mark.parametrize(("split", "field"), [((1.0, 0.0, 0.0), "masked"), ((0.0, 1.0, 0.0), "replaced"),
                                              ((0.0, 0.0, 1.0), "kept")])
def test_a_split_with_one_outcome_does_only_that(split, field):
    out = _mask(_batch().repeat(20, 1), rate=0.5, split=split)
    assert torch.equal(getattr(out, field), out.chosen)
    if field == "kept":
        assert torch.equal(out.inputs, _batch().repeat(20, 1))


def test_rate_one_chooses_every_ordinary_token():
    ids = _batch()
    out = _mask(ids, rate=1.0)
    assert torch.equal(out.chosen, ~torch.isin(ids, torch.tensor(SPECIALS)))


def test_other_integer_dtypes_are_read_as_token_ids():
    out = _mask(_batch().to(torch.int32), 1)
    assert torch.equal(out.chosen, _mask(_batch(), 1).chosen)
    assert out.labels.dtype == torch.long


# --- statistics over many draws ------------------------------------------------------------------------


def _within(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.fixture(scope="module")
def many() -> tuple[torch.Tensor, MaskedTokens]:
    generator = torch.Generator().manual_seed(11)
    ids = WORDS[torch.randint(len(WORDS), (2000, 40), generator=generator)]
    ids[:, 0], ids[:, 20], ids[:, -1] = CLS, SEP, SEP
    ids[::3, 30:] = PAD  # every third row is padded, its last [SEP] included
    return ids, _mask(ids, 12)


def test_about_fifteen_percent_of_the_ordinary_tokens_are_chosen(many):
    ids, out = many
    eligible = int((~torch.isin(ids, torch.tensor(SPECIALS))).sum())
    assert _within(int(out.chosen.sum()), eligible, 0.15)


def test_each_token_is_chosen_on_its_own_so_the_count_per_sentence_varies(many):
    ids, out = many
    full = torch.arange(len(ids)) % 3 != 0  # the unpadded rows: 37 ordinary tokens each
    counts = out.chosen[full].sum(1).double()
    n = 37
    # binomial: mean n·p ≈ 5.6 and variance n·p·(1 − p) ≈ 4.7 (0 with a fixed count); bounds of 5 standard errors
    assert abs(counts.mean() - n * 0.15) < 0.3
    assert abs(counts.var() - n * 0.15 * 0.85) < 1.0


@pytest.mark.parametrize(("field", "p"), [("masked", 0.8), ("replaced", 0.1), ("kept", 0.1)])
def test_the_chosen_split_eighty_ten_ten(many, field, p):
    _, out = many
    assert _within(int(getattr(out, field).sum()), int(out.chosen.sum()), p)


def test_random_replacements_are_uniform_over_the_ordinary_tokens():
    generator = torch.Generator().manual_seed(3)
    ids = WORDS[torch.randint(len(WORDS), (500, 60), generator=generator)]
    out = _mask(ids, 4, rate=0.5, split=(0.0, 1.0, 0.0))
    drawn = out.inputs[out.replaced]
    assert not torch.isin(drawn, torch.tensor(SPECIALS)).any()
    counts = torch.bincount(drawn, minlength=V)[5:].double()
    expected = len(drawn) / len(WORDS)
    chi_square = ((counts - expected) ** 2 / expected).sum().item()
    assert chi_square < 80  # 24 degrees of freedom: P(χ² > 80) ≈ 1e-7


def test_a_random_draw_gives_back_the_original_one_time_in_n(many):
    ids, out = many
    same = int((out.inputs[out.replaced] == ids[out.replaced]).sum())
    assert _within(same, int(out.replaced.sum()), 1 / len(WORDS))


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "english"),
    [
        ({"rate": 0.0}, "rate must be a number in (0, 1]"),
        ({"rate": 1.5}, "rate must be a number in (0, 1]"),
        ({"rate": float("nan")}, "rate must be a number in (0, 1]"),
        ({"rate": True}, "rate must be a number in (0, 1]"),
        ({"split": (0.8, 0.1)}, "split must be three non-negative numbers summing to 1"),
        ({"split": (0.8, 0.1, 0.2)}, "split must be three non-negative numbers summing to 1"),
        ({"split": (1.1, -0.1, 0.0)}, "split must be three non-negative numbers summing to 1"),
        ({"special_ids": [0, 1, 2, 3, 4, 30]}, "special_ids [30] must be integers in [0, vocab_size = 30)"),
        ({"special_ids": [-1, 4]}, "special_ids [-1] must be integers"),
        ({"special_ids": 4}, "special_ids must be a list"),
        ({"mask_id": 5}, "mask_id (5) is not in special_ids"),
        ({"vocab_size": 15}, "input_ids holds ids outside the vocabulary (0 ≤ id < 15)"),
        ({"vocab_size": 5}, "input_ids holds ids outside the vocabulary"),
        ({"vocab_size": 1}, "vocab_size must be an integer of at least 2"),
    ],
)
def test_bad_arguments_get_a_clear_bilingual_error(change, english):
    arguments = {"vocab_size": V, "special_ids": SPECIALS, "mask_id": MASK, "rate": 0.15, "split": BERT_SPLIT,
                 **change}
    attnbook.set_language("en")
    with pytest.raises(ValueError) as failure:
        bert_masking(_batch(), generator=torch.Generator(), **arguments)
    assert english in str(failure.value)
    attnbook.set_language("ko")
    with pytest.raises(ValueError) as failure:
        bert_masking(_batch(), generator=torch.Generator(), **arguments)
    assert HANGUL.search(str(failure.value))


def test_float_ids_and_an_all_special_vocabulary_are_refused():
    attnbook.set_language("en")
    with pytest.raises(ValueError, match="integer tensor of token ids"):
        _mask(_batch().float())
    with pytest.raises(ValueError, match="every token of the vocabulary is special"):
        bert_masking(torch.tensor([[0, 1]]), vocab_size=2, special_ids=[0, 1], mask_id=1,
                     generator=torch.Generator())


def test_the_generator_is_required():
    with pytest.raises(TypeError):
        bert_masking(_batch(), vocab_size=V, special_ids=SPECIALS, mask_id=MASK)


# --- side by side with 🤗 DataCollatorForLanguageModeling ---------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    """A 🤗 fast tokenizer over a 30-token WordPiece vocabulary, built here (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "나", "는", "학생", "이", "다", "책", "을", "읽",
              "##는다", "##었다", "고양이", "가", "잔다", "오늘", "도", "서점", "에서", "소설", "##을", "샀다",
              "그", "##분", "사수", "##님", "."]
    assert len(tokens) == V
    model = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=model, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


@pytest.fixture(scope="module")
def comparison(tokenizer):
    assert sorted(tokenizer.all_special_ids) == SPECIALS and len(tokenizer) == V
    generator = torch.Generator().manual_seed(1)
    ids = WORDS[torch.randint(len(WORDS), (16, 24), generator=generator)]
    ids[:, 0], ids[:, 12], ids[:, -1] = CLS, SEP, SEP
    ids[::2, -6:] = PAD
    ids[1, 5] = UNK
    return compare_with_collator(ids, tokenizer, draws=200)


def test_both_choose_fifteen_percent_and_never_a_special_token_or_padding(comparison):
    for counts in (comparison.ours, comparison.huggingface):
        assert _within(counts.chosen, counts.eligible, 0.15)
        assert counts.special_chosen == 0


def test_both_split_the_chosen_tokens_eighty_ten_ten(comparison):
    n = len(WORDS)
    ours, theirs = comparison.ours, comparison.huggingface
    assert _within(ours.shows_mask, ours.chosen, 0.8)
    assert _within(ours.shows_other, ours.chosen, 0.1 * (1 - 1 / n))
    assert _within(ours.shows_original, ours.chosen, 0.1 + 0.1 / n)
    # 🤗 draws its random token from all V ids: [MASK] one time in V, the original one time in V
    assert _within(theirs.shows_mask, theirs.chosen, 0.8 + 0.1 / V)
    assert _within(theirs.shows_original, theirs.chosen, 0.1 + 0.1 / V)


def test_our_random_tokens_are_never_special(comparison):
    assert comparison.ours.random_draws > 5000
    assert comparison.ours.random_special == comparison.ours.random_pad == comparison.ours.random_mask == 0


def test_the_collators_random_tokens_include_special_tokens_padding_and_mask(comparison):
    """transformers' DataCollatorForLanguageModeling draws torch.randint(len(tokenizer)): any id at all."""
    theirs = comparison.huggingface
    assert _within(theirs.random_special, theirs.random_draws, len(SPECIALS) / V)  # 5/30 ≈ 16.7 %
    assert _within(theirs.random_pad, theirs.random_draws, 1 / V)
    assert _within(theirs.random_mask, theirs.random_draws, 1 / V)
    assert theirs.random_pad > 0 and theirs.random_mask > 0


def test_the_comparison_prints_a_table_in_the_readers_language(comparison):
    attnbook.set_language("en")
    english = str(comparison)
    assert "share of non-special tokens chosen" in english and "🤗 collator" in english
    assert "5/30 = 16.7%" in english
    attnbook.set_language("ko")
    korean = str(comparison)
    assert "특수 토큰이 아닌 토큰 중 고른 몫" in korean
    numbers = re.compile(r"\d+\.\d%")
    assert numbers.findall(english) == numbers.findall(korean)
    assert len(comparison.rows()) == 8


def test_the_comparison_leaves_the_global_generator_alone(tokenizer):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    compare_with_collator(_batch(), tokenizer, draws=3)
    assert torch.equal(torch.rand(3), expected)

"""attnbook.self_attention (chapter 4's learned self-attention) and chapter 4's exercise references.

Sizes are small and odd (B=3, T=7, D=10, Dk=6) so that a transposed axis cannot go unnoticed.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import attnbook
from attnbook.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from attnbook.data import TAKE_YOUR_TIME, english_words, generate_pairs, padding_mask, translate, vocabularies
from attnbook.exercises import query_key_value as exercises
from attnbook.positional import sinusoidal_encoding
from attnbook.self_attention import (
    WORD_KINDS,
    SelfAttention,
    WordTranslator,
    WordTranslatorConfig,
    partner_matrix,
    train_word_translator,
    word_accuracy,
    word_batches,
    word_kind,
    word_targets,
)

B, T, D, DK = 3, 7, 10, 6
F64 = torch.float64


def lengths_to_mask(lengths: list[int], size: int) -> torch.Tensor:
    return torch.arange(size) < torch.tensor(lengths)[:, None]  # (B, size)


# --- SelfAttention -----------------------------------------------------------------------------------


def test_self_attention_is_eq_1_with_q_k_v_from_the_same_x():
    layer = SelfAttention(D, DK).double()
    x = torch.randn(B, T, D, dtype=F64)
    out, weights = layer(x)
    assert out.shape == (B, T, DK) and weights.shape == (B, T, T)
    Q, K, V = x @ layer.W_Q.weight.T, x @ layer.W_K.weight.T, x @ layer.W_V.weight.T  # XW^Q, XW^K, XW^V
    expected = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(DK), dim=-1)
    assert_close(weights, expected)
    assert_close(out, expected @ V)


def test_self_attention_hides_padding_and_padding_changes_nothing():
    layer = SelfAttention(D, DK).double()
    x = torch.randn(B, T, D, dtype=F64)
    mask = lengths_to_mask([7, 4, 1], T)
    out, weights = layer(x, mask)
    assert (weights[~mask[:, None, :].expand(B, T, T)] == 0).all()
    assert_close(weights.sum(-1), torch.ones(B, T, dtype=F64))
    alone, _ = layer(x[1:2, :4])  # sentence 1 without its padding
    assert_close(out[1, :4], alone[0])
    changed = x.clone()
    changed[~mask] = 100.0
    assert_close(layer(changed, mask)[0][mask], out[mask])


def test_self_attention_without_positions_is_permutation_equivariant():
    layer = SelfAttention(D, DK).double()
    x = torch.randn(B, T, D, dtype=F64)
    permutation = torch.tensor([4, 0, 6, 2, 1, 5, 3])
    out, _ = layer(x)
    assert_close(layer(x[:, permutation])[0], out[:, permutation])


def test_self_attention_refuses_bad_input():
    layer = SelfAttention(D, DK)
    with pytest.raises(ValueError, match="D = 10"):
        layer(torch.randn(B, T, D + 1))
    with pytest.raises(ValueError, match="mask"):
        layer(torch.randn(B, T, D), torch.ones(B, T))
    with pytest.raises(ValueError, match="mask"):
        layer(torch.randn(B, T, D), torch.ones(B, T + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="d_k"):
        SelfAttention(D, 0)


# --- the word-translation task ------------------------------------------------------------------------


def test_word_targets_read_the_alignment_from_the_english_side():
    pair = translate("the student reads a book")
    assert word_targets(pair) == ("학생은", "학생은", "읽는다", "책을", "책을")
    pair = translate("a friend will go to the park and the boy ate an apple")
    assert word_targets(pair) == ("친구가", "친구가", "것이고", "갈", "공원으로", "공원으로", "공원으로", "것이고",
                                  "소년은", "소년은", "먹었다", "사과를", "사과를")
    assert word_targets(TAKE_YOUR_TIME) == ("천천히", "천천히", "천천히")  # the idiom: the first Korean token


def test_word_batches_pad_sources_and_targets_alike():
    en, ko = vocabularies()
    pairs = [translate("the student reads a book"), translate("a boy walks"), TAKE_YOUR_TIME]
    (batch,) = word_batches(pairs, en, ko, batch_size=4)
    assert batch.src.shape == batch.targets.shape == batch.src_mask.shape == (3, 5)
    assert torch.equal(batch.src_mask, padding_mask(batch.src, en.pad_id))
    assert torch.equal(batch.targets == ko.pad_id, ~batch.src_mask)
    assert ko.decode(batch.targets[1]) == ["소년이", "소년이", "걷는다"]
    shuffled = word_batches(pairs, en, ko, batch_size=1, shuffle=True, seed=3)
    again = word_batches(pairs, en, ko, batch_size=1, shuffle=True, seed=3)
    assert [b.src.tolist() for b in shuffled] == [b.src.tolist() for b in again]
    assert sorted(b.src.size(1) for b in shuffled) == [3, 3, 5]
    with pytest.raises(ValueError, match="batch_size"):
        word_batches(pairs, en, ko, batch_size=0)


def tiny_config(**changes) -> WordTranslatorConfig:
    en, ko = vocabularies()
    return replace(WordTranslatorConfig(len(en), len(ko), d_model=12, max_len=20), **changes)


def test_word_translator_shapes_and_the_switch():
    en, _ = vocabularies()
    src = torch.tensor([en.encode(["the", "student", "reads"]), en.encode(["a", "boy", "<pad>"])])
    mask = padding_mask(src, en.pad_id)
    torch.manual_seed(0)
    logits, weights = WordTranslator(tiny_config())(src, mask)
    assert logits.shape == (2, 3, tiny_config().tgt_vocab_size) and weights.shape == (2, 3, 3)
    assert (weights[1, :, 2] == 0).all()
    without = WordTranslator(tiny_config(attention=False))
    logits, weights = without(src, mask)
    assert weights is None and without.attention is None
    # without attention a word's prediction depends on nothing but the word and its position
    other = src.clone()
    other[0, 2] = en.encode(["walks"])[0]
    assert_close(without(other, mask)[0][0, :2], logits[0, :2])


def test_word_translator_refuses_bad_config_and_input():
    for changes in ({"d_model": 0}, {"max_len": -1}, {"attention": 1}, {"pad_id": 500}):
        with pytest.raises(ValueError):
            tiny_config(**changes)
    model = WordTranslator(tiny_config())
    long = torch.ones(1, 21, dtype=torch.long)
    with pytest.raises(ValueError, match="20"):
        model(long, long.bool())


def test_attention_learns_what_one_word_alone_cannot():
    """Training sanity: on a few hundred sentences, self-attention beats the word-only model by far."""
    en, ko = vocabularies()
    pairs = generate_pairs(300, seed=5, clauses=(1, 2))
    train, test = word_batches(pairs[:240], en, ko, batch_size=24), word_batches(pairs[240:], en, ko, batch_size=60)
    accuracies = {}
    for attention in (True, False):
        torch.manual_seed(0)
        model = WordTranslator(tiny_config(attention=attention, d_model=16, max_len=40))
        losses = train_word_translator(model, train, epochs=20, lr=1e-2)
        assert len(losses) == 20 * len(train) and not model.training
        assert losses[-1] < losses[0] / 3
        accuracies[attention] = (word_accuracy(model, train), word_accuracy(model, test))
    assert accuracies[True][0] > accuracies[False][0] + 0.2  # about 0.85 against 0.57
    assert accuracies[True][1] > accuracies[False][1] + 0.1  # about 0.65 against 0.50 on unseen sentences


def test_the_initial_loss_is_about_log_v():
    en, ko = vocabularies()
    batches = word_batches([translate("the student reads a book")], en, ko, batch_size=1)
    torch.manual_seed(0)
    model = WordTranslator(tiny_config())
    with torch.no_grad():
        logits, _ = model(batches[0].src, batches[0].src_mask)
    loss = F.cross_entropy(logits.flatten(0, 1), batches[0].targets.flatten())
    assert abs(loss.item() - math.log(len(ko))) < 0.5


def test_word_kinds():
    sentence = "the tired student will read a book in the library and a friend drank the cold milk quietly"
    kinds = [word_kind(word) for word in sentence.split()]
    assert kinds == ["article", "other", "noun", "verb", "verb", "article", "noun", "preposition", "article", "noun",
                     "and", "article", "noun", "verb", "article", "other", "noun", "other"]
    assert {word_kind(word) for word in english_words()} == set(WORD_KINDS)


def test_partners_are_different_words_that_become_one_korean_token():
    pair = translate("the student read a book in the library and a boy walked")
    partners = partner_matrix(pair)
    assert partners.dtype == torch.bool and partners.shape == (12, 12)
    assert torch.equal(partners, partners.T) and not partners.diagonal().any()
    linked = {(pair.en[s], pair.en[t]) for s, t in partners.nonzero().tolist() if s < t}
    assert linked == {("the", "student"), ("a", "book"), ("in", "the"), ("in", "library"), ("the", "library"),
                      ("read", "and"), ("a", "boy")}


# --- chapter 5's variants: several heads, sinusoidal or no positions ----------------------------------------


def test_the_default_config_is_chapter_4s_model_parameter_for_parameter():
    model = WordTranslator(tiny_config())
    assert isinstance(model.attention, SelfAttention) and isinstance(model.position, torch.nn.Embedding)
    assert sorted(model.state_dict()) == ["attention.W_K.weight", "attention.W_Q.weight", "attention.W_V.weight",
                                          "embedding.weight", "output.bias", "output.weight", "position.weight"]


def test_several_heads_return_one_weight_matrix_per_head_and_hide_padding():
    en, _ = vocabularies()
    src = torch.tensor([en.encode(["the", "student", "reads", "a", "book"]),
                        en.encode(["a", "boy", "walks", "<pad>", "<pad>"])])
    mask = padding_mask(src, en.pad_id)
    torch.manual_seed(0)
    model = WordTranslator(tiny_config(num_heads=3))  # d_model 12: three heads of size 4
    logits, weights = model(src, mask)
    assert isinstance(model.attention, MultiHeadAttention) and model.attention.head_dim == 4
    assert logits.shape == (2, 5, tiny_config().tgt_vocab_size) and weights.shape == (2, 3, 5, 5)
    assert (weights[1, :, :, 3:] == 0).all()
    assert_close(weights.sum(-1), torch.ones(2, 3, 5))
    alone, _ = model(src[1:, :3], mask[1:, :3])  # the short sentence without its padding
    assert_close(logits[1, :3], alone[0])


def test_the_sinusoidal_model_adds_the_fixed_table_and_has_no_position_parameters():
    torch.manual_seed(0)
    model = WordTranslator(tiny_config(num_heads=2, positions="sinusoidal"))
    assert not any(name.startswith("position") for name, _ in model.named_parameters())
    src = torch.tensor([[5, 9, 7, 11]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    x = model.embedding(src) + sinusoidal_encoding(4, 12)  # what the attention layer must see
    gathered, weights = model.attention(x, x, x)
    logits, model_weights = model(src, mask)
    assert_close(model_weights, weights)
    assert_close(logits, model.output(torch.cat([x, gathered], dim=-1)))


@pytest.mark.parametrize("num_heads", [None, 3])
def test_without_positions_the_model_is_permutation_equivariant(num_heads):
    torch.manual_seed(0)
    src = torch.randint(4, 60, (2, 7))
    mask = lengths_to_mask([7, 5], 7)
    permutation = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    bag = WordTranslator(tiny_config(num_heads=num_heads, positions="none"))
    logits, _ = bag(src, mask)
    permuted, _ = bag(src[:, permutation], mask[:, permutation])
    real = mask[:, permutation]
    assert_close(permuted[real], logits[:, permutation][real])  # the same outputs, in the new order
    for positions in ("learned", "sinusoidal"):  # with positions the order matters
        torch.manual_seed(0)
        ordered = WordTranslator(tiny_config(num_heads=num_heads, positions=positions))
        logits, _ = ordered(src, mask)
        permuted, _ = ordered(src[:, permutation], mask[:, permutation])
        assert not torch.allclose(permuted[real], logits[:, permutation][real], atol=1e-3)


def test_heads_share_the_parameters_of_one_head_of_size_d_model():
    sizes = {}
    for num_heads in (1, 2, 3, 4, 6, 12):
        model = WordTranslator(tiny_config(num_heads=num_heads, positions="none"))
        sizes[num_heads] = sum(p.numel() for p in model.attention.parameters())
    assert set(sizes.values()) == {4 * 12 * 12 + 4 * 12}  # W^Q, W^K, W^V, W^O and their biases


@pytest.mark.parametrize("changes", [{"num_heads": 0}, {"num_heads": 5}, {"num_heads": True},
                                     {"num_heads": 2, "attention": False}, {"positions": "rotary"},
                                     {"positions": None}], ids=str)
def test_bad_chapter_5_configs_are_refused(changes):
    with pytest.raises(ValueError):
        tiny_config(**changes)


def test_a_multi_head_model_learns():
    en, ko = vocabularies()
    pairs = generate_pairs(120, seed=7, clauses=1)
    batches = word_batches(pairs, en, ko, batch_size=24)
    torch.manual_seed(0)
    model = WordTranslator(tiny_config(num_heads=4, positions="sinusoidal", d_model=16, max_len=40))
    losses = train_word_translator(model, batches, epochs=15, lr=1e-2)
    assert losses[-1] < losses[0] / 3 and word_accuracy(model, batches) > 0.7


# --- chapter 4's exercise references agree with the package ----------------------------------------------


@pytest.mark.parametrize("batch", [(), (B,), (B, 2)], ids=str)
@pytest.mark.parametrize("masked", [False, True])
def test_the_attention_reference_equals_the_package_and_torch(batch, masked):
    q, k, v = torch.randn(*batch, 5, 4, dtype=F64), torch.randn(*batch, T, 4, dtype=F64), \
        torch.randn(*batch, T, 3, dtype=F64)
    mask = torch.ones(5, T, dtype=torch.bool)
    if masked:
        mask = torch.rand(5, T) < 0.5
        mask[:, 0] = True  # every query may attend to something
        mask[2] = False  # except this one
    out, weights = exercises.masked_attention(q, k, v, mask)
    expected_out, expected_weights = scaled_dot_product_attention(q, k, v, mask)
    assert_close(out, expected_out)
    assert_close(weights, expected_weights)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


@pytest.mark.parametrize("causal", [False, True])
def test_the_mask_reference_equals_the_package_masks(causal):
    en, _ = vocabularies()
    ids = torch.tensor([en.encode(["the", "student", "reads", "a", "book"]),
                        en.encode(["a", "boy", "walks", "<pad>", "<pad>"])])
    expected = padding_mask(ids, en.pad_id)[:, None, :] & (causal_mask(5) if causal else True)
    assert torch.equal(exercises.self_attention_mask(ids, en.pad_id, causal), expected.expand(2, 5, 5))


def test_a_mask_built_from_the_package_masks_passes(capsys):
    attnbook.set_language("en")

    def with_package_masks(ids, pad_id, causal):
        mask = padding_mask(ids, pad_id)[:, None, :].expand(-1, ids.size(1), -1)
        return mask & causal_mask(ids.size(1)) if causal else mask

    assert exercises.check_self_attention_mask(with_package_masks) is True
    assert capsys.readouterr().out.count("✅") == 1

import pytest
import torch

from attnbook.data.numbers import numeral_pairs
from attnbook.data.translation import generate_pairs, vocabularies
from attnbook.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Batch, Vocabulary, make_batches, pad, padding_mask

SENTENCES = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat"], ["the", "end"]]
PAIRS = [  # odd sizes on purpose: 7 pairs, batches of 3
    (["the", "cat"], ["고양이는"]),
    (["the", "dog", "sat", "down"], ["개는", "앉았다"]),
    (["a", "cat", "sat"], ["고양이가", "앉았다"]),
    (["the", "end"], ["끝"]),
    (["a", "dog", "sat", "down", "slowly"], ["개가", "천천히", "앉았다"]),
    (["the", "cat", "sat"], ["고양이는", "앉았다"]),
    (["a", "dog"], ["개가"]),
]


@pytest.fixture
def vocabs() -> tuple[Vocabulary, Vocabulary]:
    return Vocabulary.build(src for src, _ in PAIRS), Vocabulary.build(tgt for _, tgt in PAIRS)


def test_special_tokens_have_fixed_ids():
    vocab = Vocabulary.build(SENTENCES)
    assert SPECIALS == (PAD, BOS, EOS, UNK) == ("<pad>", "<s>", "</s>", "<unk>")
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert vocab.tokens[:4] == SPECIALS


def test_build_orders_by_frequency_then_alphabet_and_respects_min_count():
    vocab = Vocabulary.build(SENTENCES)
    assert vocab.tokens[4:] == ("the", "cat", "sat", "a", "dog", "end")
    assert len(vocab) == 10 and "dog" in vocab and "bird" not in vocab
    frequent = Vocabulary.build(SENTENCES, min_count=2)
    assert frequent.tokens[4:] == ("the", "cat", "sat")


def test_encode_decode_round_trip():
    vocab = Vocabulary.build(SENTENCES)
    ids = vocab.encode(["the", "dog", "sat"], bos=True, eos=True)
    assert ids == [1, 4, 8, 6, 2]
    assert vocab.decode(ids) == ["the", "dog", "sat"]
    assert vocab.decode(torch.tensor(ids)) == ["the", "dog", "sat"]
    assert vocab.decode(ids, strip_special=False) == ["<s>", "the", "dog", "sat", "</s>"]
    # decoding stops at the first </s>: whatever a model writes after it is not part of the sentence
    assert vocab.decode([4, 5, 2, 6, 6, 0]) == ["the", "cat"]
    assert vocab.decode([4, 5, 2, 6, 0], strip_special=False) == ["the", "cat", "</s>", "sat", "<pad>"]
    assert vocab.decode([4, 0, 0]) == ["the"]


def test_a_whole_vocabulary_round_trips_the_generated_pairs():
    src, tgt = vocabularies()
    for pair in generate_pairs(300, seed=0, clauses=(1, 4)):
        assert src.decode(src.encode(pair.en, eos=True)) == list(pair.en)
        assert tgt.decode(tgt.encode(pair.ko, bos=True, eos=True)) == list(pair.ko)


def test_strings_are_sequences_of_characters():
    pairs = numeral_pairs(50, seed=0)
    vocab = Vocabulary.build(ko for ko, _ in pairs)
    assert all(len(token) == 1 for token in vocab.tokens[4:])
    assert "".join(vocab.decode(vocab.encode(pairs[0][0]))) == pairs[0][0]


def test_unknown_tokens_are_named_or_mapped_to_unk(raises_in_both_languages):
    vocab = Vocabulary.build(SENTENCES)
    raises_in_both_languages(KeyError, lambda: vocab.encode(["the", "bird"]),
                             "어휘에 없는 토큰입니다: 'bird'", "token not in the vocabulary: 'bird'")
    lenient = Vocabulary.build(SENTENCES, unknown=True)
    assert lenient.encode(["the", "bird"]) == [4, 3]
    assert lenient.decode([4, 3]) == ["the", "<unk>"]


def test_vocabulary_errors_are_explained(raises_in_both_languages):
    vocab = Vocabulary.build(SENTENCES)
    raises_in_both_languages(ValueError, lambda: vocab.decode([4, 99]), "이 어휘의 번호가 아닙니다",
                             "is not an id of this vocabulary")
    raises_in_both_languages(ValueError, lambda: vocab.decode(torch.ones(2, 3, dtype=torch.long)),
                             "1차원 텐서", "1-D tensor")
    raises_in_both_languages(TypeError, lambda: vocab.encode(["the", 3]), "문자열이 아닙니다", "is not a string")
    raises_in_both_languages(ValueError, lambda: Vocabulary.build(SENTENCES, min_count=0), "min_count는",
                             "min_count must be")
    raises_in_both_languages(ValueError, lambda: Vocabulary.build([]), "어휘를 만들 수 없습니다",
                             "nothing to build a vocabulary from")


def test_pad_and_padding_mask():
    ids = pad([[5, 6, 7], [8], [9, 10, 11, 12, 13]], pad_id=0)
    assert ids.dtype == torch.long and ids.shape == (3, 5)
    assert ids.tolist() == [[5, 6, 7, 0, 0], [8, 0, 0, 0, 0], [9, 10, 11, 12, 13]]
    mask = padding_mask(ids, pad_id=0)
    assert mask.dtype == torch.bool and mask.sum(dim=1).tolist() == [3, 1, 5]
    assert pad([torch.tensor([4, 5]), [6]], pad_id=1).tolist() == [[4, 5], [6, 1]]


def test_pad_errors_are_explained(raises_in_both_languages):
    raises_in_both_languages(ValueError, lambda: pad([], 0), "시퀀스가 하나도 없습니다", "no sequences to pad")
    raises_in_both_languages(ValueError, lambda: pad([[1], []], 0), "1번째 시퀀스가 비어 있습니다",
                             "sequence 1 is empty")
    raises_in_both_languages(TypeError, lambda: pad([["a"]], 0), "정수 id의 목록", "list of integer ids")
    raises_in_both_languages(TypeError, lambda: padding_mask([[1, 0]], 0), "id 텐서가 필요합니다",
                             "expected a tensor of ids")


def test_batches_hold_shifted_targets_and_masks(vocabs):
    src_vocab, tgt_vocab = vocabs
    batches = make_batches(PAIRS, src_vocab, tgt_vocab, batch_size=3)
    assert [len(batch) for batch in batches] == [3, 3, 1]
    first = batches[0]
    assert first.src.shape == first.src_mask.shape == (3, 4)  # longest source in the batch: 4 tokens
    assert first.tgt_in.shape == first.tgt_out.shape == first.tgt_mask.shape == (3, 3)  # 2 tokens + <s> or </s>
    assert first.src_mask.dtype == first.tgt_mask.dtype == torch.bool
    assert first.src_lengths.tolist() == [2, 4, 3]
    assert first.tgt_mask.sum(dim=1).tolist() == [2, 3, 3]
    assert (first.tgt_in[:, 0] == tgt_vocab.bos_id).all()
    for row, (src, tgt) in enumerate(PAIRS[:3]):  # in order when not shuffled
        assert src_vocab.decode(first.src[row]) == src
        assert tgt_vocab.decode(first.tgt_out[row]) == tgt
        assert tgt_vocab.decode(first.tgt_in[row]) == tgt
        assert first.tgt_out[row, len(tgt)] == tgt_vocab.eos_id
        assert first.tgt_in[row, 1:len(tgt) + 1].tolist() == first.tgt_out[row, :len(tgt)].tolist()
        assert (first.src[row][~first.src_mask[row]] == src_vocab.pad_id).all()
        assert (first.tgt_out[row][~first.tgt_mask[row]] == tgt_vocab.pad_id).all()
    assert first.to("cpu").src.equal(first.src)


def test_shuffled_batches_are_deterministic_complete_and_less_padded():
    src_vocab, tgt_vocab = vocabularies()
    pairs = generate_pairs(997, seed=0, clauses=(1, 6))
    batches = make_batches(pairs, src_vocab, tgt_vocab, 16, shuffle=True, seed=1)
    again = make_batches(pairs, src_vocab, tgt_vocab, 16, shuffle=True, seed=1)
    other = make_batches(pairs, src_vocab, tgt_vocab, 16, shuffle=True, seed=2)
    assert all(a.src.equal(b.src) and a.tgt_out.equal(b.tgt_out) for a, b in zip(batches, again, strict=True))
    assert not all(a.src.shape == b.src.shape and a.src.equal(b.src) for a, b in zip(batches, other, strict=True))
    sources = sorted(tuple(src_vocab.decode(row)) for batch in batches for row in batch.src)
    assert sources == sorted(pair.en for pair in pairs)  # every pair exactly once
    padding = sum((~batch.src_mask).sum().item() for batch in batches)
    in_order = sum((~batch.src_mask).sum().item() for batch in make_batches(pairs, src_vocab, tgt_vocab, 16))
    assert padding < in_order / 3  # similar lengths share a batch


def test_sentence_pairs_batch_english_to_korean():
    src_vocab, tgt_vocab = vocabularies()
    pairs = generate_pairs(5, seed=0)
    batch = make_batches(pairs, src_vocab, tgt_vocab, 5)[0]
    assert [tuple(src_vocab.decode(row)) for row in batch.src] == [p.en for p in pairs]
    assert [tuple(tgt_vocab.decode(row)) for row in batch.tgt_out] == [p.ko for p in pairs]


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, True, "4"])
def test_a_bad_batch_size_is_explained(raises_in_both_languages, vocabs, batch_size):
    raises_in_both_languages(ValueError, lambda: make_batches(PAIRS, *vocabs, batch_size), "batch_size는 1 이상",
                             "batch_size must be a positive integer")


def test_bad_pairs_are_explained(raises_in_both_languages, vocabs):
    raises_in_both_languages(ValueError, lambda: make_batches([], *vocabs, 2), "문장 쌍이 없습니다",
                             "no pairs to batch")
    raises_in_both_languages(ValueError, lambda: make_batches([*PAIRS, (["the"], [])], *vocabs, 2),
                             "7번째 쌍의 번역문이 비어 있습니다", "the target side of pair 7 is empty")
    raises_in_both_languages(ValueError, lambda: make_batches([([], ["끝"])], *vocabs, 2),
                             "0번째 쌍의 원문이 비어 있습니다", "the source side of pair 0 is empty")
    raises_in_both_languages(TypeError, lambda: make_batches([(["the"], ["끝"], ["x"])], *vocabs, 2),
                             "(원문, 번역문) 두 개", "not a (source, target) pair")
    raises_in_both_languages(KeyError, lambda: make_batches([(["the", "bird"], ["끝"])], *vocabs, 2),
                             "0번째 쌍의 원문: 어휘에 없는 토큰입니다: 'bird'",
                             "the source of pair 0: token not in the vocabulary: 'bird'")


def test_a_batch_checks_its_shapes(raises_in_both_languages):
    ids, mask = torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool)
    raises_in_both_languages(ValueError, lambda: Batch(ids, mask, ids[:1], ids[:1], mask[:1]), "모양이 맞지 않습니다",
                             "do not fit together")
    raises_in_both_languages(ValueError, lambda: Batch(ids, ids, ids, ids, mask), "bool 텐서", "bool tensors")

"""Byte-pair encoding from scratch (attnbook.bpe), checked by hand, against the exercises' references,
and against 🤗 tokenizers' BPE trainer on the same text."""

from __future__ import annotations

import json
import unicodedata

import pytest

from attnbook import bpe
from attnbook.bpe import BPE, get_stats, learn_bpe, merge_vocab, merge_word, pre_tokenize, word_vocab
from attnbook.data import texts
from attnbook.exercises import tokens as exercises

TOY = "low " * 5 + "lower " * 2 + "newest " * 6 + "widest " * 3  # Algorithm 1's dictionary
LANGUAGES = ("ko", "en")


def hf_bpe(text: str, num_merges: int, min_frequency: int = 0):
    """Train 🤗 tokenizers' BPE with the same end-of-word suffix and pre-tokenization; return it and its merges."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    words = pre_tokenize(text)
    alphabet = {c for word in words for c in word} | {word[-1] + "</w>" for word in words}
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]", end_of_word_suffix="</w>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=1 + len(alphabet) + num_merges, special_tokens=["[UNK]"], end_of_word_suffix="</w>",
        min_frequency=min_frequency, show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    return tokenizer, [tuple(pair) for pair in model["merges"]]


def hf_alphabet(tokenizer, num_merges: int) -> list[str]:
    """🤗's initial symbols in the order of their ids (its tie-breaking order)."""
    vocab = tokenizer.get_vocab()
    by_id = sorted((token for token in vocab if token != "[UNK]"), key=vocab.get)
    return by_id[: len(by_id) - num_merges]


# --- the steps of Algorithm 1 ------------------------------------------------------------


def test_word_vocab_splits_words_into_characters_and_end_of_word():
    vocab = word_vocab(TOY)
    assert vocab == {
        ("l", "o", "w", "</w>"): 5,
        ("l", "o", "w", "e", "r", "</w>"): 2,
        ("n", "e", "w", "e", "s", "t", "</w>"): 6,
        ("w", "i", "d", "e", "s", "t", "</w>"): 3,
    }
    attached = word_vocab("low lower", attach_end_of_word=True)
    assert attached == {("l", "o", "w</w>"): 1, ("l", "o", "w", "e", "r</w>"): 1}


def test_get_stats_counts_pairs_weighted_by_word_frequency():
    stats = get_stats(word_vocab(TOY))
    assert stats[("e", "s")] == stats[("s", "t")] == stats[("t", "</w>")] == 9
    assert stats[("w", "e")] == 8  # lower (2) + newest (6)
    assert stats[("l", "o")] == 7 and stats[("w", "</w>")] == 5
    assert sum(stats.values()) == sum((len(word) - 1) * freq for word, freq in word_vocab(TOY).items())


def test_merge_word_merges_every_occurrence_and_respects_symbol_boundaries():
    assert merge_word(("b", "a", "n", "a", "n", "a"), ("a", "n")) == ("b", "an", "an", "a")
    assert merge_word(("a", "a", "a"), ("a", "a")) == ("aa", "a")  # left to right, no overlap
    assert merge_word(("b", "oo", "k"), ("o", "k")) == ("b", "oo", "k")  # "o k" is not inside "oo k"


def test_merge_vocab_returns_a_new_vocab_and_keeps_frequencies():
    vocab = word_vocab(TOY)
    before = dict(vocab)
    merged = merge_vocab(("e", "s"), vocab)
    assert vocab == before
    assert merged[("n", "e", "w", "es", "t", "</w>")] == 6
    assert list(merged.values()) == list(vocab.values())


def test_ties_go_to_the_oldest_symbols():
    # (e, s), (s, t) and (t, </w>) tie at 9: "e" is the oldest left symbol. Then (es, t) and
    # (t, </w>) tie: "t" is in the alphabet, "es" was made later, so (t, </w>) wins.
    assert learn_bpe(TOY, 3).merges == (("e", "s"), ("t", "</w>"), ("es", "t</w>"))
    assert list(learn_bpe(TOY, 10).merges) == exercises._TOY_MERGES
    assert learn_bpe(TOY, 0).alphabet == ("d", "e", "i", "l", "n", "o", "r", "s", "t", "w", "</w>")
    # another alphabet order changes the first choice
    order = ("t", "s", "e", "d", "i", "l", "n", "o", "r", "w", "</w>")
    assert learn_bpe(TOY, 1, alphabet=order).merges == (("t", "</w>"),)


def test_learning_stops_when_every_word_is_one_symbol_or_pairs_are_rare():
    full = learn_bpe(TOY, 1000)
    assert all(len(full.encode_word(word)) == 1 for word in ("low", "lower", "newest", "widest"))
    assert len(full.merges) < 1000
    frequent = learn_bpe(texts.corpus("en"), 1000, min_frequency=3)
    vocab = word_vocab(texts.corpus("en"))
    for pair in frequent.merges:
        assert get_stats(vocab)[pair] >= 3
        vocab = merge_vocab(pair, vocab)
    assert max(get_stats(vocab).values()) < 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_encoding_the_training_words_reproduces_the_learned_segmentation(language):
    text = texts.corpus(language)
    learned = learn_bpe(text, 60)
    vocab = word_vocab(text)
    for pair in learned.merges:
        vocab = merge_vocab(pair, vocab)
    for word, symbols in zip(dict.fromkeys(pre_tokenize(text)), vocab, strict=True):
        assert tuple(learned.encode_word(word)) == symbols


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("num_merges", [0, 7, 40, 150, 1000])
def test_lowest_rank_first_equals_applying_the_merges_in_order(language, num_merges):
    learned = learn_bpe(texts.corpus(language), 1000).truncated(num_merges)
    words = pre_tokenize(texts.corpus(language) + " " + texts.NEW_SENTENCES[language])
    for word in words:
        assert learned.encode_word(word) == exercises.encode_word(word, learned.merges)


@pytest.mark.parametrize("language", LANGUAGES)
def test_decode_restores_the_words(language):
    learned = learn_bpe(texts.corpus(language), 50)
    for text in (texts.corpus(language), texts.NEW_SENTENCES[language]):
        assert learned.decode(learned.encode(text)) == " ".join(pre_tokenize(text))
    attached = learn_bpe(texts.corpus(language), 50, attach_end_of_word=True)
    assert attached.decode(attached.encode(texts.corpus(language))) == " ".join(pre_tokenize(texts.corpus(language)))


def test_vocabulary_is_the_alphabet_then_each_merged_symbol_once():
    learned = learn_bpe(TOY, 4)
    assert learned.vocabulary == (*learned.alphabet, "es", "t</w>", "est</w>", "lo")
    same_symbol_twice = BPE((("a", "bc"), ("ab", "c")), ("a", "b", "c"))
    assert same_symbol_twice.vocabulary == ("a", "b", "c", "abc")
    assert learned.truncated(2).merges == learned.merges[:2]


def test_nfd_input_falls_apart_into_unknown_jamo():
    learned = learn_bpe(texts.corpus("ko"), 100)
    sentence = "천천히 읽으세요."
    decomposed = unicodedata.normalize("NFD", sentence)
    assert all(token in learned.vocabulary for token in learned.encode(sentence))
    unknown = [token for token in learned.encode(decomposed) if token not in learned.vocabulary]
    assert len(unknown) == len(decomposed.replace(" ", "")) - 1  # every jamo; only "." is known
    assert learned.encode(unicodedata.normalize("NFC", decomposed)) == learned.encode(sentence)


def test_bad_arguments_are_refused_in_both_languages():
    with pytest.raises(ValueError, match="num_merges"):
        learn_bpe(TOY, -1)
    with pytest.raises(ValueError, match="alphabet"):
        learn_bpe(TOY, 3, alphabet=("l", "o", "w"))
    with pytest.raises(TypeError, match="병합"):
        BPE((("a",),), ("a",))
    with pytest.raises(ValueError, match="빈 단어"):
        bpe.split_word("")


# --- the exercises' references agree with the package ------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_merge_step_reference_is_one_step_of_learn_bpe_when_there_is_no_tie(language):
    vocab = word_vocab(texts.corpus(language))
    learned = learn_bpe(texts.corpus(language), 25)
    for pair in learned.merges:
        stats = get_stats(vocab)
        best, merged = exercises.merge_step(vocab)
        if sorted(stats.values())[-2] != stats[pair]:  # a unique most frequent pair
            assert best == pair
        assert merged == merge_vocab(best, vocab)
        vocab = merge_vocab(pair, vocab)


# --- 🤗 tokenizers, same text, same end-of-word suffix, same pre-tokenization ----------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_pre_tokenization_matches_the_whitespace_pre_tokenizer(language):
    from tokenizers import pre_tokenizers

    for text in (texts.corpus(language), unicodedata.normalize("NFD", texts.corpus(language))):
        words = [word for word, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text)]
        assert words == pre_tokenize(text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("num_merges", "min_frequency"), [(80, 0), (1000, 0), (1000, 2)])
def test_with_its_alphabet_order_we_learn_exactly_the_merges_of_hugging_face(language, num_merges, min_frequency):
    text = texts.corpus(language)
    tokenizer, merges = hf_bpe(text, num_merges, min_frequency)
    ours = learn_bpe(text, num_merges, attach_end_of_word=True, min_frequency=max(min_frequency, 1),
                     alphabet=hf_alphabet(tokenizer, len(merges)))
    assert list(ours.merges) == merges
    for sentence in texts.sentences(language):
        assert tokenizer.encode(sentence).tokens == ours.encode(sentence)


@pytest.mark.parametrize(("language", "first_random_tie"), [("ko", 13), ("en", 61)])
def test_with_our_default_order_the_merges_agree_until_a_tie_between_word_final_symbols(language, first_random_tie):
    text = texts.corpus(language)
    ours = learn_bpe(text, 200, attach_end_of_word=True)
    # at that step two pairs (A, x</w>) and (A, y</w>) tie; 🤗 orders x</w>, y</w> by hash-map order
    vocab = word_vocab(text, attach_end_of_word=True)
    for pair in ours.merges[:first_random_tie]:
        vocab = merge_vocab(pair, vocab)
    stats = get_stats(vocab)
    best = ours.merges[first_random_tie]
    rivals = [p for p in stats if stats[p] == stats[best] and p != best and p[0] == best[0]]
    assert best[1].endswith("</w>") and any(p[1] in ours.alphabet and p[1].endswith("</w>") for p in rivals)
    for _ in range(3):
        _, merges = hf_bpe(text, 200)
        assert merges[:first_random_tie] == list(ours.merges[:first_random_tie])


def test_hugging_face_replaces_unknown_symbols_where_we_keep_them():
    text = texts.corpus("ko")
    tokenizer, merges = hf_bpe(text, 100)
    ours = learn_bpe(text, 100, attach_end_of_word=True, alphabet=hf_alphabet(tokenizer, len(merges)))
    sentence = texts.NEW_SENTENCES["ko"]
    theirs, mine = tokenizer.encode(sentence).tokens, ours.encode(sentence)
    differ = [(a, b) for a, b in zip(theirs, mine, strict=True) if a != b]
    assert differ == [("[UNK]", "골"), ("[UNK]", "라</w>")]  # "라" occurs in the corpus, never word-final


# --- the corpus -----------------------------------------------------------------------------


def test_the_corpus_is_nfc_and_split_into_sentences():
    for language in LANGUAGES:
        assert unicodedata.is_normalized("NFC", texts.corpus(language))
        assert len(texts.sentences(language)) == 19
        assert all(sentence[-1] in ".?!" for sentence in texts.sentences(language))
        new_words = set(pre_tokenize(texts.NEW_SENTENCES[language])) - set(pre_tokenize(texts.corpus(language)))
        assert new_words, "the new sentences must hold words the corpus lacks"
    with pytest.raises(KeyError, match="ko"):
        texts.corpus("fr")

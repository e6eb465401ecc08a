"""WordPiece from scratch (attnbook.wordpiece): merges checked by hand, exact ties, the same vocabulary in every
process, greedy longest-match encoding, 🤗 tokenizers encoding the same way, BERT's inputs, and BPE side by side."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from itertools import pairwise

import pytest
import torch

from attnbook.data import corpus
from attnbook.wordpiece import (
    CLS_ID,
    MASK_ID,
    MAX_WORD_CHARS,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    UNK,
    UNK_ID,
    WordPiece,
    compare_with_bpe,
    learn_wordpiece,
    merge_tokens,
    split_word,
    word_counts,
)

HANGUL = re.compile("[가-힣]")


def _bilingual_error(error: type[Exception], english: str, call, *args, **kwargs) -> None:
    with pytest.raises(error) as failure:
        call(*args, **kwargs)
    assert english in str(failure.value) and HANGUL.search(str(failure.value))


def _size(alphabet: int, merges: int) -> int:
    """A vocab_size with room for the special tokens, the alphabet and ``merges`` new tokens."""
    return len(SPECIAL_TOKENS) + alphabet + merges


@pytest.fixture(scope="module")
def stories() -> list[str]:
    return [document.text for document in corpus.generate_documents(300, seed=0)]


# --------------------------------------------------------------------------------------------- learning, by hand

def test_a_word_starts_as_characters_that_know_whether_they_start_it():
    assert split_word("학생은") == ("학", "##생", "##은")
    assert merge_tokens("학", "##생") == "학생" and merge_tokens("##는", "##다") == "##는다"
    assert word_counts(["학생은 책을, 학생은"]) == {"학생은": 2, "책을": 1, ",": 1}


def test_the_first_merges_follow_the_likelihood_score_computed_by_hand():
    # 🤗 course's example. Pieces: hug = h ##u ##g (10), pug = p ##u ##g (5), pun = p ##u ##n (12),
    # bun = b ##u ##n (4), hugs = h ##u ##g ##s (5); freq: ##u 36, ##g 20, ##n 16, ##s 5, h 15, p 17, b 4.
    # 1. (##g, ##s): 5 / (20·5) = 1/20 beats every pair with ##u (all 1/36) and (##u, ##n) 16 / (36·16) = 1/36.
    # 2. now ##g 15: (h, ##u) 15/(15·36), (p, ##u) 17/(17·36), (b, ##u) 4/(4·36), (##u, ##g) 15/(36·15),
    #    (##u, ##n) 16/(36·16), (##u, ##gs) 5/(36·5): all 1/36, a tie; the oldest left piece is b.
    # 3. ##u 32: (bu, ##n) 4 / (4·16) = 1/16 beats (##u, ##n) 12/(32·16) = 3/128 and the rest (1/32).
    # 4. ##n 12: every pair is 1/32 again; the oldest left piece is h (b < h < p < ##…).
    # 5. hu 15, ##gs 5: (hu, ##gs) 5/(15·5) = 1/15 beats (hu, ##g) 10/(15·15) = 2/45 and (p, ##u) 1/17.
    learned = learn_wordpiece({"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}, _size(7, 5))
    assert learned.merges == (("##g", "##s"), ("b", "##u"), ("bu", "##n"), ("h", "##u"), ("hu", "##gs"))
    assert learned.vocab == (*SPECIAL_TOKENS, "b", "h", "p", "##g", "##n", "##s", "##u",
                             "##gs", "bu", "bun", "hu", "hugs")


def test_scores_are_compared_as_exact_fractions_not_floats():
    n = 2**60  # as floats the two scores are equal, so floats would call it a tie and pick the older a
    assert (n + 1) / ((n + 1) * (n + 1)) == n / (n * n)
    learned = learn_wordpiece({"ab": n + 1, "cd": n}, _size(4, 1))
    assert learned.merges == (("c", "##d"),)  # n / n² > (n + 1) / (n + 1)²


def test_a_tie_goes_to_the_older_pieces_left_first_then_right():
    assert learn_wordpiece({"cd": 3, "ab": 3}, _size(4, 1)).merges == (("a", "##b"),)  # a < c
    assert learn_wordpiece({"ac": 2, "ab": 2}, _size(3, 1)).merges == (("a", "##b"),)  # same left; ##b < ##c
    # a merged token is younger than every token before it: after ab, (c, ##z) and (ab, ##z) tie at 1/2 and c wins,
    # although "ab" < "c" in code points
    assert learn_wordpiece({"abz": 1, "cz": 1}, _size(4, 3)).merges == (("a", "##b"), ("c", "##z"), ("ab", "##z"))


def test_every_process_learns_the_same_vocabulary_whatever_its_hash_seed(stories):
    script = ("import json, sys; from attnbook.data import corpus; from attnbook.wordpiece import learn_wordpiece; "
              "texts = [d.text for d in corpus.generate_documents(300, seed=0)]; "
              "w = learn_wordpiece(texts, 200); print(json.dumps([w.vocab, w.merges]))")
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"})
            for seed in ("1", "2")]
    here = learn_wordpiece(stories, 200)
    for run in runs:
        out, _ = run.communicate(timeout=60)
        assert run.returncode == 0
        vocab, merges = json.loads(out)
        assert tuple(vocab) == here.vocab and tuple(map(tuple, merges)) == here.merges


def test_morphemes_are_never_merged_across_and_learning_stops_when_each_is_one_token():
    learned = learn_wordpiece({("학생", "은"): 10, ("학교", "는"): 5, ("집", "으로"): 2}, 1000)
    assert learned.vocab == (*SPECIAL_TOKENS, "집", "학", "##교", "##는", "##로", "##생", "##으", "##은",
                             "##으로", "학교", "학생")
    assert learned.encode_word("학생은") == ["학생", "##은"] and learned.encode_word("집으로") == ["집", "##으로"]
    plain = learn_wordpiece({"학생은": 10, "학교는": 5}, 1000)
    assert plain.encode_word("학생은") == ["학생은"]


def test_a_special_token_may_also_be_a_character_of_the_text():
    learned = learn_wordpiece("ab ab", 9, special_tokens=(*SPECIAL_TOKENS, "a"))
    assert learned.vocab == (*SPECIAL_TOKENS, "a", "##b", "ab")


@pytest.mark.parametrize(("texts", "vocab_size", "english"), [
    ("ab ab", 6, "vocab_size must be an integer ≥ 7"),
    ("ab ab", True, "vocab_size must be an integer"),
    ("", 10, "no words to learn from"),
    ({"a b": 1}, 10, "must be single words"),
    ({(): 1}, 10, "tuples of non-empty segments"),
    ({("학생", ""): 1}, 10, "tuples of non-empty segments"),
    ({"ab": 0}, 10, "must be an integer ≥ 1"),
    ({"ab": 1.0}, 10, "must be an integer ≥ 1"),
    ([b"ab"], 10, "texts must be strings"),
    (5, 10, "expected a text, a list of texts or a table"),
])
def test_bad_training_data_gets_a_bilingual_error(texts, vocab_size, english):
    error = TypeError if english.startswith(("texts", "expected")) else ValueError
    _bilingual_error(error, english, learn_wordpiece, texts, vocab_size)


def test_the_special_tokens_come_first_with_fixed_ids():
    assert (PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID) == (0, 1, 2, 3, 4)
    _bilingual_error(ValueError, "special tokens must start with", learn_wordpiece, "ab", 10,
                     special_tokens=("[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"))
    _bilingual_error(ValueError, "special tokens must start with", WordPiece, ("a", "b"))
    _bilingual_error(ValueError, "repeated tokens", WordPiece, (*SPECIAL_TOKENS, "a", "a"))


# ------------------------------------------------------------------------------------------------------- encoding

TOY = WordPiece((*SPECIAL_TOKENS, "a", "ab", "##c", "##d", "##bcd", "##a", "학생", "##은"))


def test_encoding_takes_the_longest_token_first_even_when_fewer_tokens_exist():
    assert TOY.encode_word("abcd") == ["ab", "##c", "##d"]  # not a ##bcd: greedy, not the fewest tokens
    assert TOY.encode_word("acd") == ["a", "##c", "##d"]


def test_a_word_that_cannot_be_covered_is_one_unknown_token():
    assert TOY.encode_word("abz") == [UNK]  # the whole word, not ab [UNK]
    assert TOY.tokenize("ab, z abcd") == ["ab", UNK, UNK, "ab", "##c", "##d"]
    assert TOY.encode("ab z") == [TOY.token_to_id("ab"), UNK_ID]


def test_a_word_longer_than_max_word_chars_is_one_unknown_token():
    assert TOY.encode_word("a" * MAX_WORD_CHARS) == ["a", *["##a"] * (MAX_WORD_CHARS - 1)]
    assert TOY.encode_word("a" * (MAX_WORD_CHARS + 1)) == [UNK]


def test_decomposed_hangul_is_encoded_as_composed():
    decomposed = unicodedata.normalize("NFD", "학생은")
    assert len(decomposed) == 9  # jamo
    assert TOY.tokenize(decomposed) == TOY.tokenize("학생은") == ["학생", "##은"]


def test_ids_decode_back_to_words():
    ids = [CLS_ID, *TOY.encode("학생은 abcd"), SEP_ID, PAD_ID]
    assert TOY.decode(ids) == "학생은 abcd"
    assert TOY.decode(torch.tensor(ids), skip_special=False) == "[CLS] 학생은 abcd [SEP] [PAD]"


def test_bad_tokens_and_ids_get_a_bilingual_error():
    _bilingual_error(KeyError, "not a token of the vocabulary", TOY.token_to_id, "zz")
    _bilingual_error(IndexError, "token ids are integers in [0, 13)", TOY.id_to_token, 13)
    _bilingual_error(IndexError, "token ids are integers", TOY.id_to_token, True)
    _bilingual_error(TypeError, "text must be a string", TOY.tokenize, ["ab"])
    _bilingual_error(TypeError, "a word must be a string", TOY.encode_word, 5)


# ------------------------------------------------------------------------------------------- 🤗 tokenizers agrees

@pytest.fixture(scope="module")
def book() -> tuple[WordPiece, list[str]]:
    documents = corpus.generate_documents(2000, seed=0)
    return corpus.train_wordpiece(documents), [sentence.text for sentence in corpus.sentences_of(documents)]


def test_the_huggingface_tokenizer_encodes_the_whole_corpus_the_same(book):
    tokenizer, sentences = book
    hf = tokenizer.to_huggingface()
    encoded = hf.encode_batch(sentences)
    for sentence, hf_encoding in zip(sentences, encoded, strict=True):
        assert hf_encoding.ids == tokenizer.encode_pair(sentence)[0]
        assert hf_encoding.tokens == ["[CLS]", *tokenizer.tokenize(sentence), "[SEP]"]
        assert hf.decode(hf_encoding.ids) == sentence
    a, b = sentences[:2]
    pair = hf.encode(a, b)
    assert (pair.ids, pair.type_ids) == tokenizer.encode_pair(a, b)


@pytest.mark.parametrize("text", [
    "학생은, 책을!! 읽는다.", unicodedata.normalize("NFD", "학생은 책을 읽는다"), "학생은 xyz 읽는다",
    "학생" * 50 + "은", "  학생은\t\n책을  ", "",
])
def test_the_huggingface_tokenizer_agrees_on_punctuation_unknown_and_long_words(book, text):
    tokenizer, _ = book
    assert tokenizer.to_huggingface().encode(text).tokens == ["[CLS]", *tokenizer.tokenize(text), "[SEP]"]


# ------------------------------------------------------------------------------------------------- BERT's inputs

def test_bert_inputs_are_cls_a_sep_b_sep_padded_with_segments_and_masks():
    inputs = TOY.bert_inputs([("ab", "abcd a"), "학생은 z", (["ab", "a"], None)])
    ab, a, c, d, student, eun = (TOY.token_to_id(t) for t in ("ab", "a", "##c", "##d", "학생", "##은"))
    assert inputs.input_ids.tolist() == [[CLS_ID, ab, SEP_ID, ab, c, d, a, SEP_ID],
                                         [CLS_ID, student, eun, UNK_ID, SEP_ID, PAD_ID, PAD_ID, PAD_ID],
                                         [CLS_ID, ab, a, SEP_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID]]
    assert inputs.token_type_ids.tolist() == [[0, 0, 0, 1, 1, 1, 1, 1], [0] * 8, [0] * 8]
    assert torch.equal(inputs.attention_mask, inputs.input_ids != PAD_ID)
    assert inputs.attention_mask.dtype == torch.bool and len(inputs) == 3
    assert torch.equal(inputs.special_tokens_mask, torch.isin(inputs.input_ids, torch.tensor(TOY.special_ids)))
    assert inputs.special_tokens_mask[1].tolist() == [True, False, False, True, True, True, True, True]  # [UNK] too
    assert TOY.bert_inputs(["ab"], max_length=6).input_ids.tolist() == [[CLS_ID, ab, SEP_ID, 0, 0, 0]]


@pytest.mark.parametrize(("pairs", "max_length", "error", "english"), [
    ([], None, ValueError, "non-empty list"),
    ("ab", None, ValueError, "non-empty list"),
    ([("ab", "a", "a")], None, TypeError, "a text or an (A, B) pair"),
    ([("ab", 5)], None, TypeError, "a string or a list of words"),
    (["ab abcd"], 4, ValueError, "shorter than the longest input (6 tokens)"),
])
def test_bad_bert_inputs_get_a_bilingual_error(pairs, max_length, error, english):
    _bilingual_error(error, english, TOY.bert_inputs, pairs, max_length=max_length)


# ------------------------------------------------------------------------------------------------ BPE side by side

def _replay_frequencies(texts: list[str], merges) -> list[tuple[int, int, int]]:
    """(freq(ab), freq(a), freq(b)) of each merge at the moment WordPiece made it, recounted from scratch."""
    counts = word_counts(texts)
    splits = {word: list(split_word(word)) for word in counts}
    out = []
    for pair in merges:
        pieces, together = Counter(), 0
        for word, split in splits.items():
            for piece in split:
                pieces[piece] += counts[word]
            together += counts[word] * sum(p == pair for p in pairwise(split))
        out.append((together, pieces[pair[0]], pieces[pair[1]]))
        for word, split in splits.items():
            k, merged = 0, []
            while k < len(split):
                if tuple(split[k:k + 2]) == pair:
                    merged.append(merge_tokens(*pair))
                    k += 2
                else:
                    merged.append(split[k])
                    k += 1
            splits[word] = merged
    return out


def test_bpe_glues_frequent_pairs_and_wordpiece_pieces_that_never_occur_apart(stories):
    compared = compare_with_bpe(stories, 140)
    bpe, wordpiece = compared.bpe_merges, compared.wordpiece_merges
    assert bpe[0] == ("다", "</w>") and ("을", "</w>") in bpe[:5]
    assert bpe.index(("학생", "은</w>")) == 23  # BPE's 24th merge glues a noun to its particle
    assert wordpiece[:2] == (("맛", "##있"), ("뜨", "##거"))
    made = [merge_tokens(*pair) for pair in wordpiece]
    assert made.index("학생은") == 133  # WordPiece's 134th
    frequencies = _replay_frequencies(stories, wordpiece[:16])
    assert frequencies[0] == (25, 25, 25)
    assert all(together == min(left, right) for together, left, right in frequencies)  # one never occurs alone
    assert max(together for together, _, _ in frequencies) < 80
    sentence_ends = sum(word.endswith("다") for story in stories for word in story.split())
    assert sentence_ends > 30 * frequencies[0][0]  # 다 + </w>, BPE's first merge, ends every sentence
    early = compare_with_bpe(stories, 30, ["학생은"]).segmentations["학생은"]
    assert early == (["학", "##생", "##은"], ["학생은</w>"])  # after 30 merges: WordPiece still spells it out


def test_compare_with_bpe_refuses_bad_arguments():
    _bilingual_error(ValueError, "num_merges must be a non-negative integer", compare_with_bpe, "ab", -1)
    _bilingual_error(TypeError, "expected a text or a list of texts", compare_with_bpe, {"ab": 2}, 1)


# ----------------------------------------------------------------------------------------- 🤗's WordPieceTrainer

def _huggingface_wordpiece(text: str, vocab_size: int) -> list[str]:
    """The tokens 🤗's WordPieceTrainer adds to its alphabet, in the order of their ids."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=[UNK], show_progress=False)
    tokenizer.train_from_iterator([text], trainer=trainer)
    vocab = tokenizer.get_vocab()
    return [token for token in sorted(vocab, key=vocab.get) if token != UNK and len(token.removeprefix("##")) > 1]


def test_huggingface_wordpiece_trainer_merges_the_most_frequent_pair_as_bpe_does():
    text = "xa xa xa xa yb"  # (x, ##a): 4 times, score 4/(4·4); (y, ##b): once, score 1/(1·1)
    assert _huggingface_wordpiece(text, 1 + 6 + 1) == ["xa"]
    assert learn_wordpiece(text, _size(4, 1)).merges == (("y", "##b"),)


def test_huggingface_wordpiece_trainer_breaks_ties_differently_from_run_to_run():
    # four pairs tie at 2; 🤗 ranks pairs by ids that follow a hash map's order, new in every run (measured 21 xa,
    # 19 xc of 40): 40 runs that all agree would happen about twice in 10¹² if each were a coin toss
    first = Counter(_huggingface_wordpiece("xab xab xcd xcd", 1 + 9 + 1)[0] for _ in range(40))
    assert first.keys() == {"xa", "xc"}
    assert {learn_wordpiece("xab xab xcd xcd", _size(5, 1)).merges for _ in range(5)} == {(("##a", "##b"),)}

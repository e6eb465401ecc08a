"""WordPiece from scratch: Schuster and Nakajima (2012), Wu et al. (2016, §4.1), and BERT's input format.

Learning. Each word starts as its characters; every character but the first
carries the continuation prefix ``##`` (학생 → 학 ##생), so a piece knows whether
it starts a word. Learning repeats one step until the vocabulary has
``vocab_size`` tokens: for every adjacent pair of pieces (a, b), weighted by word
frequency, compute the score

    score(a, b) = freq(ab) / (freq(a) · freq(b))

and merge the pair with the highest score everywhere (the new token is ``ab``
without b's ``##``). Up to a constant factor the score is p(ab) / (p(a) p(b)):
how much more often a and b occur together than they would if they were
independent. Schuster and Nakajima add, at each step, the unit that most
increases the likelihood of the training data under a language model; this
score is the form of that choice that 🤗's course teaches. Chapter 1's BPE
(:mod:`attnbook.bpe`) merges the most *frequent* pair instead. On 300 of the
book's stories (:func:`compare_with_bpe`, tested) BPE's first merges are the
commonest endings (다 + </w>, 을 + </w>), and by its 24th it glues a frequent
noun to its particle (학생 + 은</w>). WordPiece's first merges are far rarer
pairs in which one piece never occurs without the other (맛 + ##있 → 맛있,
25 times; 뜨 + ##거 → 뜨거), the score's favourite: freq(ab) = freq(a) makes it
1 / freq(b). WordPiece makes 학생은 only at its 134th merge.

Ties. Scores are compared exactly, as fractions of integers (never as floats).
Among pairs with equal scores the one whose pieces are *oldest* wins, left piece
first, then right, exactly as :mod:`attnbook.bpe` breaks ties: the initial
pieces rank in code-point order (word-initial characters, then ``##``
characters), each merged token after every token that existed before it. No set
or hash order is involved, so every process learns the same vocabulary (tested
across Python hash seeds). 🤗 tokenizers' ``WordPieceTrainer`` is its BPE trainer
(most frequent pair) with ``##`` added, and which of two equally frequent pairs
it merges first can change from one training run to the next, in the same
process (tested: ``xab xab xcd xcd`` with room for one merge gives xa in some runs
and xc in others).

Encoding: NFC, then split the text into words and runs of punctuation (🤗's
``Whitespace`` pre-tokenizer, ``\\w+|[^\\w\\s]+``); inside each word, as BERT does,
take the longest vocabulary token that starts the word, then the longest ``##``
token that continues it, and so on (greedy longest-match-first). A word that
cannot be covered this way, or is longer than ``MAX_WORD_CHARS``, becomes one
``[UNK]``. :meth:`WordPiece.to_huggingface` builds a 🤗 ``tokenizers.Tokenizer``
that encodes the same way (tested on every sentence of 2000 of the book's stories).

BERT's inputs (Devlin et al. 2019, §3, Figure 2): ``[CLS] A [SEP] B [SEP]``,
segment (token type) 0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``, padded with
``[PAD]``. Special tokens have fixed ids: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.

Shape legend: B batch · T sequence length.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import islice, pairwise
from typing import TYPE_CHECKING

import torch

from attnbook.bpe import learn_bpe, pre_tokenize
from attnbook.language import text as _text

if TYPE_CHECKING:
    import tokenizers

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
PREFIX = "##"  # marks a piece that continues a word
MAX_WORD_CHARS = 100  # 🤗's max_input_chars_per_word: a longer word is one [UNK]

Pair = tuple[str, str]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def word_counts(texts: Iterable[str] | str) -> dict[str, int]:
    """How often each word occurs in ``texts`` (NFC, split as :func:`attnbook.bpe.pre_tokenize` does)."""
    if isinstance(texts, str):
        texts = (texts,)
    counts: Counter[str] = Counter()
    for position, item in enumerate(texts):
        if not isinstance(item, str):
            kind = type(item).__name__
            raise TypeError(_text(f"텍스트는 문자열이어야 하는데 {position}번째가 {kind}입니다: {item!r}",
                                  f"texts must be strings; item {position} is a {kind}: {item!r}"))
        counts.update(pre_tokenize(_nfc(item)))
    return dict(counts)


def split_word(word: str) -> tuple[str, ...]:
    """A word as the pieces learning starts from: 학생은 → (학, ##생, ##은)."""
    if not isinstance(word, str) or not word:
        raise ValueError(_text(f"비어 있지 않은 단어가 필요합니다: {word!r}",
                               f"expected a non-empty word, got {word!r}"))
    return (word[0], *(PREFIX + char for char in word[1:]))


def merge_tokens(left: str, right: str) -> str:
    """The token a merge makes: (학, ##생) → 학생, (##는, ##다) → ##는다."""
    return left + right.removeprefix(PREFIX)


Word = tuple[str, ...]  # a word as its segments (morphemes) that learning never merges across: ("학생", "은")


def _alphabet(words: Iterable[Word]) -> tuple[str, ...]:
    """The initial pieces in tie-breaking order: word-initial characters, then ``##`` characters, by code point."""
    starts, continuations = set(), set()
    for segments in words:
        word = "".join(segments)
        starts.add(word[0])
        continuations.update(word[1:])
    return (*sorted(starts), *(PREFIX + char for char in sorted(continuations)))


def _better(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether candidate ``a`` beats ``b``; each is (freq(ab), freq(a)·freq(b), rank(a), rank(b))."""
    left, right = a[0] * b[1], b[0] * a[1]  # a's score > b's score ⇔ f_a · d_b > f_b · d_a (exact)
    if left != right:
        return left > right
    return (a[2], a[3]) < (b[2], b[3])  # a tie goes to the older pieces, left then right


def _merge_pieces(pieces: tuple[str, ...], pair: Pair, merged: str) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(pieces):
        if i + 1 < len(pieces) and (pieces[i], pieces[i + 1]) == pair:
            out.append(merged)
            i += 2
        else:
            out.append(pieces[i])
            i += 1
    return tuple(out)


def _initial_pieces(segments: Word) -> tuple[tuple[str, ...], ...]:
    """Each segment as its characters, ``##`` on all but the word's first: ("학생", "은") → ((학, ##생), (##은,))."""
    first, *rest = segments
    return (split_word(first), *(tuple(PREFIX + char for char in segment) for segment in rest))


def _learn(counts: Mapping[Word, int], rank: dict[str, int]) -> Iterator[tuple[Pair, str]]:
    """The merges in the order WordPiece learns them, until every segment is one token; ``rank`` grows as they come."""
    splits = {word: _initial_pieces(word) for word in counts}  # dict order: first occurrence
    while True:
        piece_freq: Counter[str] = Counter()
        pair_freq: dict[Pair, int] = {}
        for word, segments in splits.items():
            count = counts[word]
            for pieces in segments:
                for piece in pieces:
                    piece_freq[piece] += count
                for pair in pairwise(pieces):  # never across a segment boundary
                    pair_freq[pair] = pair_freq.get(pair, 0) + count
        if not pair_freq:
            return
        best_pair, best = None, None
        for pair, freq in pair_freq.items():
            candidate = (freq, piece_freq[pair[0]] * piece_freq[pair[1]], rank[pair[0]], rank[pair[1]])
            if best is None or _better(candidate, best):
                best_pair, best = pair, candidate
        merged = merge_tokens(*best_pair)
        rank.setdefault(merged, len(rank))  # the youngest token (it may exist already, made from other pieces)
        splits = {word: tuple(_merge_pieces(pieces, best_pair, merged) if len(pieces) > 1 else pieces
                              for pieces in segments)
                  for word, segments in splits.items()}
        yield best_pair, merged


def _checked_counts(texts: Iterable[str] | Mapping[str | Word, int] | str) -> dict[Word, int]:
    """Word → count, each word as its segments; a plain word is one segment."""
    if not isinstance(texts, Mapping | str | Iterable):
        raise TypeError(_text(f"텍스트, 텍스트의 리스트, 또는 단어 → 빈도 표가 필요합니다: {texts!r}",
                              f"expected a text, a list of texts or a table word → count, got {texts!r}"))
    if not isinstance(texts, Mapping):
        texts = word_counts(texts)
    counts: dict[Word, int] = {}
    for key, count in texts.items():
        segments = (key,) if isinstance(key, str) else key
        if not isinstance(segments, tuple) or not segments or \
                not all(isinstance(segment, str) and segment for segment in segments):
            raise ValueError(_text(f"단어 빈도표의 키는 단어(문자열)이거나 비어 있지 않은 형태소의 튜플이어야 "
                                   f"합니다: {key!r}",
                                   f"the keys of a word-count table must be words (strings) or tuples of non-empty "
                                   f"segments, got {key!r}"))
        segments = tuple(_nfc(segment) for segment in segments)
        word = "".join(segments)
        if pre_tokenize(word) != [word]:
            raise ValueError(_text(f"단어 빈도표의 키는 공백과 구두점으로 나뉘지 않는 한 단어여야 합니다: {key!r}",
                                   f"the keys of a word-count table must be single words (no spaces, not split at "
                                   f"punctuation), got {key!r}"))
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(_text(f"단어 {key!r}의 빈도는 1 이상의 정수여야 합니다: {count!r}",
                                   f"the count of {key!r} must be an integer ≥ 1, got {count!r}"))
        counts[segments] = counts.get(segments, 0) + count
    if not counts:
        raise ValueError(_text("학습할 단어가 없습니다 (텍스트가 비어 있습니다)",
                               "no words to learn from (the text is empty)"))
    return counts


def _checked_specials(special_tokens: Sequence[str]) -> tuple[str, ...]:
    specials = tuple(special_tokens)
    if specials[:len(SPECIAL_TOKENS)] != SPECIAL_TOKENS or len(set(specials)) != len(specials) \
            or not all(isinstance(token, str) and token for token in specials):
        raise ValueError(_text(f"특수 토큰은 {' '.join(SPECIAL_TOKENS)}로 시작하고 (id 0–4 고정) 서로 달라야 합니다: "
                               f"{specials!r}",
                               f"special tokens must start with {' '.join(SPECIAL_TOKENS)} (fixed ids 0–4) and be "
                               f"distinct, got {specials!r}"))
    return specials


def learn_wordpiece(texts: Iterable[str] | Mapping[str | Word, int] | str, vocab_size: int, *,
                    special_tokens: Sequence[str] = SPECIAL_TOKENS) -> WordPiece:
    """Learn a WordPiece vocabulary of ``vocab_size`` tokens (special tokens and alphabet included).

    ``texts`` is a text, an iterable of texts, or a table word → count. A word in the
    table may be given as a tuple of its morphemes, ("학생", "은"): learning then never
    merges across their boundary (encoding still reads the whole word 학생은). Learning
    stops early when every word (every morpheme) is a single token; the vocabulary is then smaller.
    """
    specials = _checked_specials(special_tokens)
    counts = _checked_counts(texts)
    initial = _alphabet(counts)
    alphabet = tuple(piece for piece in initial if piece not in specials)
    smallest = len(specials) + len(alphabet)
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < smallest:
        raise ValueError(_text(f"vocab_size는 특수 토큰과 글자 수를 더한 {smallest} 이상의 정수여야 합니다: "
                               f"{vocab_size!r}",
                               f"vocab_size must be an integer ≥ {smallest} (special tokens plus the alphabet), "
                               f"got {vocab_size!r}"))
    vocab = [*specials, *alphabet]
    rank = {piece: index for index, piece in enumerate(initial)}  # a special token may also be a character
    merges = []
    for pair, merged in _learn(counts, rank):
        if len(vocab) >= vocab_size:
            break
        merges.append(pair)
        if merged not in vocab:
            vocab.append(merged)
    return WordPiece(tuple(vocab), tuple(merges), len(specials))


@dataclass(frozen=True)
class WordPiece:
    """A WordPiece vocabulary (id → token) and the merges that built it, in the order they were learned."""

    vocab: tuple[str, ...]
    merges: tuple[Pair, ...] = ()
    num_special: int = len(SPECIAL_TOKENS)

    def __post_init__(self) -> None:
        _checked_specials(self.vocab[:self.num_special])
        if len(set(self.vocab)) != len(self.vocab):
            repeated = sorted(token for token, n in Counter(self.vocab).items() if n > 1)
            raise ValueError(_text(f"어휘에 같은 토큰이 두 번 이상 있습니다: {repeated[:5]}",
                                   f"the vocabulary has repeated tokens: {repeated[:5]}"))

    def __len__(self) -> int:
        return len(self.vocab)

    @cached_property
    def ids(self) -> dict[str, int]:
        """token → id."""
        return {token: index for index, token in enumerate(self.vocab)}

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """[PAD], [UNK], [CLS], [SEP], [MASK] and any others the vocabulary was learned with."""
        return self.vocab[:self.num_special]

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids of the special tokens (0 … num_special − 1); MLM never chooses them nor draws them as random tokens."""
        return tuple(range(self.num_special))

    def token_to_id(self, token: str) -> int:
        """The id of a token of the vocabulary: ``token_to_id("##은")``."""
        if token not in self.ids:
            raise KeyError(_text(f"어휘에 없는 토큰입니다: {token!r}", f"not a token of the vocabulary: {token!r}"))
        return self.ids[token]

    def id_to_token(self, index: int) -> str:
        """The token with this id."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.vocab):
            raise IndexError(_text(f"토큰 id는 0 이상 {len(self.vocab)} 미만의 정수여야 합니다: {index!r}",
                                   f"token ids are integers in [0, {len(self.vocab)}), got {index!r}"))
        return self.vocab[index]

    def encode_word(self, word: str) -> list[str]:
        """One word, greedy longest-match-first: 학생은 → [학생, ##은]; [UNK] if some part has no token."""
        if not isinstance(word, str):
            raise TypeError(_text(f"단어는 문자열이어야 합니다: {word!r}", f"a word must be a string, got {word!r}"))
        if len(word) > MAX_WORD_CHARS:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else PREFIX + word[start:end]
                if piece in self.ids:
                    break
                end -= 1
            if end == start:
                return [UNK]  # as BERT: the whole word, not only the uncovered part
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """A text as WordPiece tokens: NFC, split into words and punctuation, each word encoded."""
        if not isinstance(text, str):
            raise TypeError(_text(f"텍스트는 문자열이어야 합니다: {text!r}", f"text must be a string, got {text!r}"))
        return [piece for word in pre_tokenize(_nfc(text)) for piece in self.encode_word(word)]

    def encode(self, text: str) -> list[int]:
        """A text as token ids (no [CLS]/[SEP]; :meth:`encode_pair` adds them)."""
        return [self.ids[piece] for piece in self.tokenize(text)]

    def decode(self, ids: Iterable[int] | torch.Tensor, *, skip_special: bool = True) -> str:
        """Ids back to text: ``##`` pieces glued to the piece before them, words separated by spaces."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        words: list[str] = []
        for index in ids:
            token = self.id_to_token(index)
            if skip_special and index < self.num_special:
                continue
            if token.startswith(PREFIX) and words:
                words[-1] += token.removeprefix(PREFIX)
            else:
                words.append(token)
        return " ".join(words)

    def encode_pair(self, a: str | Sequence[str], b: str | Sequence[str] | None = None) -> tuple[list[int], list[int]]:
        """(input ids, token type ids) of ``[CLS] A [SEP] B [SEP]``, or ``[CLS] A [SEP]``; a text may be a word list."""
        first = [CLS_ID, *self.encode(_joined(a)), SEP_ID]
        second = [] if b is None else [*self.encode(_joined(b)), SEP_ID]
        return first + second, [0] * len(first) + [1] * len(second)

    def bert_inputs(self, pairs: Sequence[tuple[str | Sequence[str], str | Sequence[str] | None] | str],
                    *, max_length: int | None = None) -> BertInputs:
        """A padded batch of BERT inputs, one row per (A, B) pair or text; ``max_length`` pads every row to it."""
        if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
            raise ValueError(_text("bert_inputs에는 (A, B) 쌍이나 문장을 하나 이상 담은 리스트가 필요합니다",
                                   "bert_inputs needs a non-empty list of (A, B) pairs or texts"))
        rows = [self.encode_pair(*_pair(item)) for item in pairs]
        longest = max(len(ids) for ids, _ in rows)
        if max_length is None:
            max_length = longest
        elif not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < longest:
            raise ValueError(_text(f"max_length={max_length!r}은(는) 가장 긴 입력({longest} 토큰)보다 짧습니다. "
                                   "잘라 내지 않으니 max_length를 늘리세요",
                                   f"max_length={max_length!r} is shorter than the longest input ({longest} tokens); "
                                   "nothing is truncated, so raise max_length"))
        input_ids = torch.full((len(rows), max_length), PAD_ID, dtype=torch.long)  # (B, T)
        token_type_ids = torch.zeros((len(rows), max_length), dtype=torch.long)  # (B, T)
        for row, (ids, types) in enumerate(rows):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            token_type_ids[row, :len(types)] = torch.tensor(types)
        return BertInputs(input_ids, token_type_ids, input_ids != PAD_ID, input_ids < self.num_special)

    def to_huggingface(self) -> tokenizers.Tokenizer:
        """A 🤗 ``tokenizers.Tokenizer`` of this vocabulary, encoding as :meth:`tokenize` and :meth:`encode_pair` do."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

        tokenizer = Tokenizer(models.WordPiece(dict(self.ids), unk_token=UNK, continuing_subword_prefix=PREFIX,
                                               max_input_chars_per_word=MAX_WORD_CHARS))
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        tokenizer.decoder = decoders.WordPiece(prefix=PREFIX)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{CLS} $A {SEP}", pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
            special_tokens=[(CLS, CLS_ID), (SEP, SEP_ID)])
        tokenizer.add_special_tokens(list(self.special_tokens))
        return tokenizer


def _pair(item: object) -> tuple[str | Sequence[str], str | Sequence[str] | None]:
    """One row of :meth:`WordPiece.bert_inputs`: a text alone is (text, None)."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    raise TypeError(_text(f"bert_inputs의 각 항목은 문장 하나나 (A, B) 쌍이어야 합니다: {item!r}",
                          f"each item of bert_inputs must be a text or an (A, B) pair, got {item!r}"))


def _joined(words: str | Sequence[str]) -> str:
    if isinstance(words, str):
        return words
    if isinstance(words, Sequence) and all(isinstance(word, str) for word in words):
        return " ".join(words)
    raise TypeError(_text(f"문장은 문자열이나 단어(문자열)의 리스트여야 합니다: {words!r}",
                          f"a sentence must be a string or a list of words (strings), got {words!r}"))


@dataclass(frozen=True)
class BertInputs:
    """A padded batch for BERT: ``[CLS] A [SEP] B [SEP] [PAD] …`` per row.

    ``attention_mask`` is True at real tokens (may attend; 🤗 wants ``.long()``),
    ``special_tokens_mask`` True at every special token, [PAD], [UNK], [CLS], [SEP] and [MASK]
    (as 🤗's ``all_special_ids``): the tokens masking never chooses.
    """

    input_ids: torch.Tensor  # (B, T) long
    token_type_ids: torch.Tensor  # (B, T) long: 0 for [CLS] A [SEP] and padding, 1 for B [SEP]
    attention_mask: torch.Tensor  # (B, T) bool
    special_tokens_mask: torch.Tensor  # (B, T) bool

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def to(self, device: torch.device | str) -> BertInputs:
        """The same batch on ``device``."""
        return BertInputs(*(tensor.to(device) for tensor in (self.input_ids, self.token_type_ids,
                                                             self.attention_mask, self.special_tokens_mask)))


@dataclass(frozen=True)
class MergeComparison:
    """The first merges WordPiece and BPE learn from the same text, and how each splits some words."""

    wordpiece_merges: tuple[Pair, ...]
    bpe_merges: tuple[Pair, ...]
    segmentations: dict[str, tuple[list[str], list[str]]]  # word → (WordPiece pieces, BPE pieces)


def compare_with_bpe(texts: Iterable[str] | str, num_merges: int, words: Sequence[str] = ()) -> MergeComparison:
    """Learn ``num_merges`` merges with each method on the same ``texts``; split ``words`` with both."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, Mapping) or not isinstance(texts, Iterable):
        raise TypeError(_text(f"텍스트나 텍스트의 리스트가 필요합니다: {texts!r}",
                              f"expected a text or a list of texts, got {texts!r}"))
    texts = list(texts)
    counts = _checked_counts(texts)
    if not isinstance(num_merges, int) or isinstance(num_merges, bool) or num_merges < 0:
        raise ValueError(_text(f"num_merges는 0 이상의 정수여야 합니다: {num_merges!r}",
                               f"num_merges must be a non-negative integer, got {num_merges!r}"))
    alphabet = _alphabet(counts)
    rank = {piece: index for index, piece in enumerate(alphabet)}
    merges = tuple(pair for pair, _ in islice(_learn(counts, rank), num_merges))
    wordpiece = WordPiece((*SPECIAL_TOKENS, *dict.fromkeys((*alphabet, *(merge_tokens(*p) for p in merges)))),
                          merges)
    bpe = learn_bpe(_nfc("\n".join(texts)), num_merges)
    return MergeComparison(merges, bpe.merges,
                           {word: (wordpiece.encode_word(_nfc(word)), bpe.encode_word(_nfc(word))) for word in words})

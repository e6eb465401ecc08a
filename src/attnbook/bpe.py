"""Byte-pair encoding (BPE) from scratch: Sennrich, Haddow and Birch (2016), Section 3.2 and Algorithm 1.

Text is split into words; each word is written as a sequence of symbols, its
characters followed by the end-of-word symbol ``</w>``, and ``vocab`` maps each
such sequence to the word's frequency (Algorithm 1's ``vocab``). Learning
repeats one step ``num_merges`` times: count every adjacent pair of symbols,
weighted by word frequency (``get_stats``), and replace every occurrence of
the most frequent pair by one new symbol (``merge_vocab``). The list of merges,
in the order they were learned, is the whole model; encoding a new word applies
them in the same order.

Ties. Several pairs often share the highest count. We break ties in favour of
the pair whose symbols are *oldest*: the initial symbols rank in the order of
``alphabet`` (by default the characters in code-point order, then the
end-of-word symbols), and each merged symbol ranks after every symbol that
existed before it. The left symbol is compared first, then the right one.
🤗 tokenizers' ``BpeTrainer`` uses the same rule with its token ids as ranks,
so given its alphabet order the two learn the same merges.

End of word. Algorithm 1 makes ``</w>`` a symbol of its own, so merges such as
``("est", "</w>")`` are learned. The ``subword-nmt`` tool (from version 0.2) and
🤗 tokenizers' ``end_of_word_suffix`` glue it onto the last character instead
(``"t</w>"``); ``attach_end_of_word=True`` does the same.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from attnbook.language import text as _text

END_OF_WORD = "</w>"

Symbols = tuple[str, ...]  # one word, as a sequence of symbols
Pair = tuple[str, str]  # two adjacent symbols

# Words and runs of punctuation, as 🤗 tokenizers' ``Whitespace`` pre-tokenizer splits them.
_WORD = re.compile(r"\w+|[^\w\s]+")


def pre_tokenize(text: str) -> list[str]:
    """Split text into words and runs of punctuation (the regular expression ``\\w+|[^\\w\\s]+``)."""
    return _WORD.findall(text)


def split_word(word: str, *, end_of_word: str = END_OF_WORD, attach_end_of_word: bool = False) -> Symbols:
    """A word as its first symbols: its characters, then the end-of-word symbol."""
    if not word:
        raise ValueError(_text("빈 단어는 나눌 수 없습니다", "cannot split an empty word"))
    if attach_end_of_word:
        return (*word[:-1], word[-1] + end_of_word)
    return (*word, end_of_word)


def word_vocab(text: str, *, end_of_word: str = END_OF_WORD, attach_end_of_word: bool = False) -> dict[Symbols, int]:
    """Algorithm 1's ``vocab``: each word of ``text`` split into symbols, mapped to its frequency."""
    counts = Counter(pre_tokenize(text))  # in order of first occurrence
    return {
        split_word(word, end_of_word=end_of_word, attach_end_of_word=attach_end_of_word): count
        for word, count in counts.items()
    }


def get_stats(vocab: Mapping[Symbols, int]) -> Counter[Pair]:
    """Algorithm 1's ``get_stats``: how often each adjacent pair of symbols occurs, weighted by word frequency."""
    pairs: Counter[Pair] = Counter()
    for symbols, freq in vocab.items():
        for pair in itertools.pairwise(symbols):
            pairs[pair] += freq
    return pairs


def merge_word(symbols: Sequence[str], pair: Pair) -> Symbols:
    """Replace every occurrence of ``pair`` in one word by the merged symbol, scanning left to right."""
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2  # an overlapping occurrence ("a a a") is not merged twice
        else:
            merged.append(symbols[i])
            i += 1
    return tuple(merged)


def merge_vocab(pair: Pair, vocab: Mapping[Symbols, int]) -> dict[Symbols, int]:
    """Algorithm 1's ``merge_vocab``: a new ``vocab`` with every occurrence of ``pair`` merged."""
    return {merge_word(symbols, pair): freq for symbols, freq in vocab.items()}


def initial_alphabet(vocab: Mapping[Symbols, int], end_of_word: str = END_OF_WORD) -> tuple[str, ...]:
    """The symbols of a fresh ``vocab`` in tie-breaking order: characters by code point, then end-of-word symbols."""
    symbols = {symbol for word in vocab for symbol in word}
    return tuple(sorted(symbols, key=lambda symbol: (symbol.endswith(end_of_word), symbol)))


def best_pair(pairs: Mapping[Pair, int], rank: Mapping[str, int]) -> Pair:
    """The most frequent pair; a tie goes to the oldest symbols (lowest rank), left then right."""

    def key(pair: Pair) -> tuple[int, int, int]:
        left, right = pair
        return pairs[pair], -rank[left], -rank[right]

    return max(pairs, key=key)


@dataclass(frozen=True)
class BPE:
    """A learned byte-pair encoding: the merge operations, in the order they were learned."""

    merges: tuple[Pair, ...]
    alphabet: tuple[str, ...]  # the initial symbols, in tie-breaking order
    end_of_word: str = END_OF_WORD
    attach_end_of_word: bool = False

    def __post_init__(self) -> None:
        for pair in self.merges:
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(s, str) and s for s in pair)):
                raise TypeError(_text(
                    f"병합 규칙은 비어 있지 않은 두 문자열의 튜플이어야 합니다. 받은 값: {pair!r}",
                    f"each merge must be a tuple of two non-empty strings, got {pair!r}",
                ))

    @functools.cached_property
    def vocabulary(self) -> tuple[str, ...]:
        """Every symbol the encoding can produce: the alphabet, then each merged symbol once."""
        merged = (left + right for left, right in self.merges)
        return tuple(dict.fromkeys((*self.alphabet, *merged)))

    @functools.cached_property
    def _ranks(self) -> dict[Pair, int]:
        ranks: dict[Pair, int] = {}
        for index, pair in enumerate(self.merges):
            ranks.setdefault(pair, index)
        return ranks

    def truncated(self, num_merges: int) -> BPE:
        """The encoding made of only the first ``num_merges`` merges."""
        return dataclasses.replace(self, merges=self.merges[:num_merges])

    def split(self, word: str) -> Symbols:
        """A word as the symbols encoding starts from."""
        return split_word(word, end_of_word=self.end_of_word, attach_end_of_word=self.attach_end_of_word)

    def encode_word(self, word: str) -> list[str]:
        """Segment one word: apply the merges in the order they were learned.

        Merging the pair with the lowest rank first, as here, is the same as going
        through the merges in order: a merge only creates pairs of a higher rank.
        """
        never = len(self.merges)  # the rank of a pair that was never merged
        symbols = self.split(word)
        while len(symbols) > 1:
            rank, pair = min((self._ranks.get(pair, never), pair) for pair in itertools.pairwise(symbols))
            if rank == never:  # no learned merge applies any more
                break
            symbols = merge_word(symbols, pair)
        return list(symbols)

    def encode(self, text: str) -> list[str]:
        """Segment a text: pre-tokenize it into words, then encode each word."""
        return [token for word in pre_tokenize(text) for token in self.encode_word(word)]

    def decode(self, tokens: Iterable[str]) -> str:
        """Join subwords back into words, separated by spaces (the end-of-word symbol marks where words end)."""
        return " ".join("".join(tokens).split(self.end_of_word)).strip()


def learn_bpe(
    text: str,
    num_merges: int,
    *,
    attach_end_of_word: bool = False,
    end_of_word: str = END_OF_WORD,
    alphabet: Sequence[str] | None = None,
    min_frequency: int = 1,
) -> BPE:
    """Learn ``num_merges`` merge operations from ``text`` (Sennrich et al. 2016, Algorithm 1).

    Stops early when no pair occurs ``min_frequency`` times or more. ``alphabet`` sets
    the tie-breaking order of the initial symbols (default: :func:`initial_alphabet`).
    """
    _check_num_merges(num_merges)
    vocab = word_vocab(text, end_of_word=end_of_word, attach_end_of_word=attach_end_of_word)
    order = _alphabet_order(vocab, end_of_word, alphabet)
    rank = {symbol: index for index, symbol in enumerate(order)}  # lower = older

    merges: list[Pair] = []
    for _ in range(num_merges):
        pairs = get_stats(vocab)
        if not pairs:
            break  # every word is a single symbol
        best = best_pair(pairs, rank)
        if pairs[best] < min_frequency:
            break
        vocab = merge_vocab(best, vocab)
        rank.setdefault(best[0] + best[1], len(rank))  # the youngest symbol
        merges.append(best)
    return BPE(tuple(merges), order, end_of_word, attach_end_of_word)


def _check_num_merges(num_merges: int) -> None:
    if not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(_text(
            f"num_merges는 0 이상의 정수여야 합니다. 받은 값: {num_merges!r}",
            f"num_merges must be a non-negative integer, got {num_merges!r}",
        ))


def _alphabet_order(
    vocab: Mapping[Symbols, int], end_of_word: str, alphabet: Sequence[str] | None
) -> tuple[str, ...]:
    """The initial symbols in tie-breaking order: ``alphabet`` if given, else the default."""
    default = initial_alphabet(vocab, end_of_word)
    if alphabet is None:
        return default
    missing = set(default) - set(alphabet)
    if missing:
        raise ValueError(_text(
            f"alphabet에 없는 기호가 있습니다: {sorted(missing)}",
            f"alphabet lacks symbols that occur in the text: {sorted(missing)}",
        ))
    return tuple(alphabet)

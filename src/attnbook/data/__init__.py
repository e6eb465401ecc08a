"""The data sets of the book, made by the package itself: deterministic from a seed, offline.

- :mod:`~attnbook.data.hangul`: syllables, final consonants (받침) and particles (은/는, 이/가 …);
- :mod:`~attnbook.data.translation`: English → Korean sentence pairs with word alignments and
  length-controlled test sets, from the small grammar of :mod:`~attnbook.data.grammar`
  (:mod:`~attnbook.data.lexicon` holds its words);
- :mod:`~attnbook.data.numbers`: Korean numerals ↔ digits, Korean dates ↔ ISO dates;
- :mod:`~attnbook.data.vocab`: vocabularies, padding, masks and batches.
"""

from attnbook.data.hangul import attach, compose, decompose, final_consonant, has_final_consonant
from attnbook.data.lexicon import english_words, korean_words
from attnbook.data.numbers import (
    date_pairs,
    from_korean_numeral,
    korean_date,
    numeral_pairs,
    parse_korean_date,
    to_korean_numeral,
)
from attnbook.data.translation import (
    TAKE_YOUR_TIME,
    SentencePair,
    generate_pairs,
    pairs_by_length,
    train_test_pairs,
    translate,
    vocabularies,
)
from attnbook.data.vocab import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    Batch,
    Vocabulary,
    make_batches,
    pad,
    padding_mask,
)

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIALS",
    "TAKE_YOUR_TIME",
    "UNK",
    "Batch",
    "SentencePair",
    "Vocabulary",
    "attach",
    "compose",
    "date_pairs",
    "decompose",
    "english_words",
    "final_consonant",
    "from_korean_numeral",
    "generate_pairs",
    "has_final_consonant",
    "korean_date",
    "korean_words",
    "make_batches",
    "numeral_pairs",
    "pad",
    "padding_mask",
    "pairs_by_length",
    "parse_korean_date",
    "to_korean_numeral",
    "train_test_pairs",
    "translate",
    "vocabularies",
]

"""English → Korean sentence pairs for the translation chapters, and length-controlled splits.

``generate_pairs(n, seed=…, clauses=(1, 6))`` draws sentences from the grammar of
:mod:`attnbook.data.grammar` (read there what the sentences look like and how
the Korean follows from the English). The number of clauses controls the length:
about 8 English tokens per clause, so ``clauses=6`` gives sentences of 40–60 tokens.
For the accuracy-by-length experiments, :func:`train_test_pairs` and
:func:`pairs_by_length` make test sets that share no sentence with the training
set. :func:`translate` gives the gold translation of any sentence of the grammar.

Shape legend: T target (Korean) length · S source (English) length.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise

from attnbook.data import lexicon as lx
from attnbook.data.grammar import TAKE_YOUR_TIME, SentencePair, parse, sample
from attnbook.data.vocab import Vocabulary
from attnbook.language import text

__all__ = ["TAKE_YOUR_TIME", "SentencePair", "generate_pairs", "pairs_by_length", "train_test_pairs", "translate",
           "vocabularies"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_count(name: str, value: object) -> None:
    if not _is_int(value) or value < 0:
        raise ValueError(text(f"{name}은(는) 0 이상의 정수여야 합니다: {value!r}",
                              f"{name} must be a non-negative integer, got {value!r}"))


def _check_seed(seed: object) -> None:
    if not _is_int(seed):
        raise TypeError(text(f"seed는 정수여야 합니다 (같은 seed → 같은 문장): {seed!r}",
                             f"seed must be an integer (same seed → same sentences), got {seed!r}"))


def _clause_range(clauses: int | tuple[int, int]) -> tuple[int, int]:
    """(low, high) from ``clauses``, an integer or an inclusive range."""
    bounds = (clauses, clauses) if _is_int(clauses) else tuple(clauses) if isinstance(clauses, tuple | list) else ()
    if len(bounds) != 2 or not all(_is_int(v) for v in bounds) or not 1 <= bounds[0] <= bounds[1]:
        raise ValueError(text(f"clauses는 1 이상의 정수이거나 1 ≤ 최소 ≤ 최대인 (최소, 최대) 쌍이어야 합니다: "
                              f"{clauses!r}",
                              f"clauses must be an integer ≥ 1 or a pair (low, high) with 1 ≤ low ≤ high, "
                              f"got {clauses!r}"))
    return bounds


def generate_pairs(n: int, *, seed: int, clauses: int | tuple[int, int] = (1, 2)) -> list[SentencePair]:
    """``n`` sentence pairs, each of a number of clauses drawn uniformly from ``clauses`` (inclusive)."""
    _check_count("n", n)
    _check_seed(seed)
    low, high = _clause_range(clauses)
    rng = random.Random(seed)
    return [sample(rng, rng.randint(low, high)) for _ in range(n)]


def _english_set(pairs: Iterable[SentencePair | Sequence[str]]) -> set[tuple[str, ...]]:
    return {tuple(pair.en) if isinstance(pair, SentencePair) else tuple(pair) for pair in pairs}


STALL = 20_000  # draws without a usable new sentence before giving up


def _stalled() -> ValueError:
    return ValueError(text(f"{STALL}번을 뽑는 동안 쓸 수 있는 새 문장이 나오지 않았습니다. 이 문법으로는 요청한 길이나 "
                           "개수를 채울 수 없습니다 (clauses 범위를 넓히거나 개수를 줄이세요)",
                           f"no usable new sentence in {STALL} draws: the grammar cannot fill the requested "
                           "lengths or counts (widen clauses or ask for fewer)"))


def _fresh(rng: random.Random, clauses: tuple[int, int], seen: set[tuple[str, ...]]) -> Iterator[SentencePair]:
    """Endless sentences never seen before (``seen`` grows as they come)."""
    idle = 0
    while True:
        pair = sample(rng, rng.randint(*clauses))
        if pair.en in seen:
            idle += 1
            if idle > STALL:
                raise _stalled()
            continue
        idle = 0
        seen.add(pair.en)
        yield pair


def train_test_pairs(n_train: int, n_test: int, *, seed: int,
                     clauses: int | tuple[int, int] = (1, 2)) -> tuple[list[SentencePair], list[SentencePair]]:
    """A training set (as :func:`generate_pairs`) and a test set of distinct sentences none of which is in it."""
    _check_count("n_test", n_test)
    train = generate_pairs(n_train, seed=seed, clauses=clauses)
    fresh = _fresh(random.Random(f"{seed}/test"), _clause_range(clauses), _english_set(train))
    test = [next(fresh) for _ in range(n_test)]
    return train, test


def pairs_by_length(n: int, *, seed: int, edges: Sequence[int] = (1, 10, 20, 30, 40, 50, 60),
                    clauses: int | tuple[int, int] = (1, 8), exclude: Iterable[SentencePair | Sequence[str]] = (),
                    ) -> dict[tuple[int, int], list[SentencePair]]:
    """``n`` distinct pairs per English length bucket [edges[i], edges[i+1]), none of them in ``exclude``."""
    _check_count("n", n)
    _check_seed(seed)
    edges = tuple(edges)
    if len(edges) < 2 or not all(_is_int(e) and e >= 1 for e in edges) or any(a >= b for a, b in pairwise(edges)):
        raise ValueError(text(f"edges는 1 이상의 정수가 두 개 이상, 증가하는 순서로 있어야 합니다: {edges!r}",
                              f"edges must be at least two increasing integers ≥ 1, got {edges!r}"))
    buckets: dict[tuple[int, int], list[SentencePair]] = {bucket: [] for bucket in pairwise(edges)}
    idle = 0
    # a stream of its own, so that it does not retrace generate_pairs(seed=seed)
    for pair in _fresh(random.Random(f"{seed}/by-length"), _clause_range(clauses), _english_set(exclude)):
        if all(len(found) >= n for found in buckets.values()):
            break
        bucket = next((b for b in buckets if b[0] <= len(pair.en) < b[1] and len(buckets[b]) < n), None)
        if bucket is None:
            idle += 1
            if idle > STALL:
                raise _stalled()
            continue
        idle = 0
        buckets[bucket].append(pair)
    return buckets


def vocabularies(*, unknown: bool = False) -> tuple[Vocabulary, Vocabulary]:
    """(English, Korean) vocabularies of every word the grammar can write, so any generated pair encodes."""
    return Vocabulary(lx.english_words(), unknown=unknown), Vocabulary(lx.korean_words(), unknown=unknown)


def translate(sentence: str | Sequence[str]) -> SentencePair:
    """The gold translation of an English sentence of the grammar: "the student reads a book" → 학생은 책을 읽는다."""
    if isinstance(sentence, str):
        sentence = sentence.lower().rstrip(".!").split()
    if not sentence:
        raise ValueError(text("번역할 문장이 비어 있습니다", "the sentence to translate is empty"))
    return parse(tuple(sentence))

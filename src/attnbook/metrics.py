"""How good are the translations: exact match, BLEU, and both by input length."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from attnbook.language import text

Tokens = Sequence[str]


def _check(predictions: Sequence[Tokens], references: Sequence[Tokens]) -> None:
    if len(predictions) != len(references) or not references:
        raise ValueError(text(
            f"예측 {len(predictions)}개와 정답 {len(references)}개의 수가 같아야 하고 0이 아니어야 합니다",
            f"need as many predictions as references, and at least one: {len(predictions)} vs {len(references)}",
        ))


def exact_match(predictions: Sequence[Tokens], references: Sequence[Tokens]) -> float:
    """The share of sentences translated exactly right, token for token."""
    _check(predictions, references)
    return sum(list(p) == list(r) for p, r in zip(predictions, references, strict=True)) / len(references)


def bleu(predictions: Sequence[Tokens], references: Sequence[Tokens]) -> float:
    """Corpus BLEU (0–100) with sacrebleu, on our own tokens (no further tokenisation)."""
    import sacrebleu

    _check(predictions, references)
    score = sacrebleu.corpus_bleu([" ".join(p) for p in predictions], [[" ".join(r) for r in references]],
                                  tokenize="none")
    return score.score


def by_length(lengths: Sequence[int], predictions: Sequence[Tokens], references: Sequence[Tokens],
              edges: Sequence[int]) -> list[dict]:
    """Exact match and BLEU per bucket of source length: bucket k holds edges[k] <= length < edges[k+1]."""
    _check(predictions, references)
    if len(lengths) != len(references) or list(edges) != sorted(set(edges)) or len(edges) < 2:
        raise ValueError(text("길이 수가 문장 수와 같아야 하고 edges는 증가하는 두 개 이상의 값이어야 합니다",
                              "need one length per sentence and at least two increasing edges"))
    rows = []
    for low, high in itertools.pairwise(edges):
        chosen = [i for i, length in enumerate(lengths) if low <= length < high]
        if not chosen:
            continue
        preds = [predictions[i] for i in chosen]
        refs = [references[i] for i in chosen]
        rows.append({"lengths": (low, high - 1), "sentences": len(chosen),
                     "exact_match": exact_match(preds, refs), "bleu": bleu(preds, refs)})
    return rows

"""Chapter 0 (시작하기 / Getting started): softmax, the function every attention layer ends in."""

from __future__ import annotations

import torch

from attnbook.exercises.checking import Advice, Checker, exercise


def softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis: weights that are positive and sum to one."""
    shifted = scores - scores.max(dim=-1, keepdim=True).values  # exp() of a large score overflows
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


NOT_NORMALISED = Advice(
    "not-normalised",
    "가중치의 합이 1이 아닙니다 (첫 행의 합: {total:.3f}). exp를 취한 뒤 같은 행의 합으로 나누었나요?",
    "The weights do not sum to one (first row sums to {total:.3f}). After exp, did you divide "
    "by the sum over the same row?",
)
WHOLE_TENSOR = Advice(
    "whole-tensor",
    "텐서 전체의 합으로 나누었습니다. 행마다 따로 정규화해야 합니다: sum(dim=-1, keepdim=True).",
    "You divided by the sum of the whole tensor. Normalise each row on its own: "
    "sum(dim=-1, keepdim=True).",
)
WRONG_AXIS = Advice(
    "wrong-axis",
    "정규화한 축이 틀렸습니다. 소프트맥스는 마지막 축(dim=-1, 키 방향)을 따라 합이 1이 되어야 합니다.",
    "The weights are normalised over the wrong axis. Softmax must sum to one along the last "
    "axis (dim=-1, over the keys).",
)
NEGATIVE = Advice(
    "negative",
    "음수 가중치가 있습니다. 점수에 exp를 취하면 모든 가중치가 양수가 됩니다.",
    "Some weights are negative. Taking exp of the scores makes every weight positive.",
)
OVERFLOW = Advice(
    "overflow",
    "점수가 클 때(예: 1000) 결과가 nan이 됩니다. exp 전에 각 행의 최댓값을 빼세요 — 결과는 같고 넘침이 없습니다.",
    "With large scores (e.g. 1000) the result is nan. Subtract each row's maximum before exp: "
    "the result is the same and nothing overflows.",
)
IN_PLACE = Advice(
    "in-place",
    "입력 텐서 scores가 바뀌었습니다. 제자리 연산(sub_, exp_, /=)을 쓰지 말고 새 텐서를 만드세요.",
    "Your function changed its input `scores`. Avoid in-place operations (sub_, exp_, /=) and "
    "build a new tensor.",
)
WRONG_VALUES = Advice(
    "wrong-values",
    "가중치는 양수이고 합도 1이지만 값이 소프트맥스와 다릅니다 (최대 차이 {error:.3g}). "
    "exp(s_i) / Σ_j exp(s_j)를 확인하세요.",
    "The weights are positive and sum to one but are not the softmax (largest difference "
    "{error:.3g}). Check exp(s_i) / Σ_j exp(s_j).",
)


@exercise(softmax)
def check_softmax(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 5, generator=generator) * 2
    original = scores.clone()

    weights = check.tensor(check.call(fn, scores), what="softmax(scores)", shape=(3, 5),
                           dtype=scores.dtype)
    if not torch.equal(scores, original):
        check.fail(IN_PLACE)
    if (weights < 0).any():
        check.fail(NEGATIVE)
    row_sums = weights.sum(dim=-1)
    if not torch.allclose(row_sums, torch.ones(3), atol=1e-5):
        if torch.allclose(weights.sum(), torch.tensor(1.0), atol=1e-5):
            check.fail(WHOLE_TENSOR)
        if torch.allclose(weights.sum(dim=0), torch.ones(5), atol=1e-5):
            check.fail(WRONG_AXIS)
        check.fail(NOT_NORMALISED, total=row_sums[0].item())
    expected = torch.softmax(scores, dim=-1)
    if not torch.allclose(weights, expected, atol=1e-5):
        check.fail(WRONG_VALUES, error=(weights - expected).abs().max().item())

    # A batch of such matrices: the last axis, not axis 1, is the one to normalise.
    batch = torch.randn(2, 3, 4, generator=generator)
    batch_weights = check.tensor(check.call(fn, batch), what="softmax(batch)", shape=(2, 3, 4),
                                 dtype=batch.dtype)
    if not torch.allclose(batch_weights, torch.softmax(batch, dim=-1), atol=1e-5):
        check.fail(WRONG_AXIS)

    large = torch.tensor([[1000.0, 1001.0, 1002.0]])
    large_weights = check.tensor(check.call(fn, large), what="softmax(large scores)", shape=(1, 3),
                                 finite=False)
    if not torch.isfinite(large_weights).all():
        check.fail(OVERFLOW)
    if not torch.allclose(large_weights, torch.softmax(large, dim=-1), atol=1e-5):
        check.fail(OVERFLOW)

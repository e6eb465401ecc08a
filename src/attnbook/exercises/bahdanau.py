"""Chapter 3 (바다나우 어텐션 / Bahdanau attention): the additive score and the context vector.

Shapes: B batch · S source length · Dq decoder state · Dk annotation · A alignment-model hidden size.
"""

from __future__ import annotations

import torch

from attnbook.exercises.checking import Advice, Checker, exercise


def additive_scores(s_prev: torch.Tensor, annotations: torch.Tensor, W_a: torch.Tensor, U_a: torch.Tensor,
                    v_a: torch.Tensor) -> torch.Tensor:
    """Bahdanau et al. (2015), eq. (6): e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j), for every j.

    s_prev (B, Dq), annotations h (B, S, Dk), W_a (A, Dq), U_a (A, Dk), v_a (A,) → e (B, S).
    """
    query = s_prev @ W_a.T                          # W_a s_{i-1}: (B, A)
    keys = annotations @ U_a.T                      # U_a h_j: (B, S, A)
    return torch.tanh(query[:, None, :] + keys) @ v_a  # (B, S)


def context_vector(weights: torch.Tensor, annotations: torch.Tensor) -> torch.Tensor:
    """Bahdanau et al. (2015), eq. (5): c_i = Σ_j α_ij h_j; weights α (B, S), annotations h (B, S, Dk) → (B, Dk)."""
    return (weights[:, :, None] * annotations).sum(dim=1)


def _example(generator: torch.Generator, batch: int = 2, source: int = 5, dq: int = 4, dk: int = 6, a: int = 3):
    def randn(*shape):
        return torch.randn(*shape, generator=generator)

    return randn(batch, dq), randn(batch, source, dk), randn(a, dq), randn(a, dk), randn(a)


NO_V_A = Advice(
    "no-v-a",
    "결과에 정렬 모델의 은닉 축 A가 남아 있습니다 (모양 {got}). tanh(W_a s + U_a h)는 위치마다 A차원 벡터이고, "
    "점수 e_ij는 그 벡터와 v_a의 내적인 숫자 하나입니다: 마지막에 @ v_a를 하세요.",
    "The alignment model's hidden axis A is still there (shape {got}). tanh(W_a s + U_a h) is an A-dimensional "
    "vector per position; the score e_ij is one number, its dot product with v_a: finish with @ v_a.",
)
NO_TANH = Advice(
    "no-tanh",
    "tanh가 빠졌습니다. 점수는 v_aᵀ tanh(W_a s + U_a h)이고, tanh가 없으면 두 항의 합이 선형이 되어 "
    "작은 신경망이 아닙니다.",
    "The tanh is missing: the score is v_aᵀ tanh(W_a s + U_a h); without it the alignment model is linear.",
)
SOFTMAXED = Advice(
    "softmaxed",
    "소프트맥스까지 적용한 가중치를 돌려주었습니다. 이 함수는 정규화하기 전의 점수 e_ij를 돌려주어야 합니다.",
    "You returned weights after a softmax: this function returns the scores e_ij, before normalising.",
)
TANH_OUTSIDE = Advice(
    "tanh-outside",
    "tanh를 v_a를 곱한 뒤에 적용했습니다. tanh는 W_a s + U_a h에 적용하고, 그 결과에 v_a를 곱합니다.",
    "The tanh is applied after multiplying by v_a; apply it to W_a s + U_a h, then take the dot product with v_a.",
)
WRONG_SCORES = Advice(
    "wrong-scores",
    "점수가 식 (6)과 다릅니다 (최대 차이 {error:.3g}). W_a s_(i-1)는 모든 j에 같이 더해지도록 "
    "(B, 1, A)로 브로드캐스트하세요.",
    "The scores differ from eq. (6) (largest difference {error:.3g}). Broadcast W_a s_(i-1) as (B, 1, A) so it "
    "is added to every U_a h_j.",
)
SUM_OVER_FEATURES = Advice(
    "sum-over-features",
    "위치(j)가 아니라 특징 축으로 더했습니다. c_i = Σ_j α_ij h_j는 소스 위치 축(dim=1)으로 더합니다.",
    "You summed over the features instead of the positions j: c_i = Σ_j α_ij h_j sums over the source axis (dim=1).",
)
NOT_SUMMED = Advice(
    "not-summed",
    "가중치를 곱하기만 하고 더하지 않았습니다. 결과는 (B, Dk)여야 합니다: 소스 위치 축으로 더하세요.",
    "The weighted annotations are not summed: the result must be (B, Dk); sum over the source positions.",
)
BATCH_MIXED = Advice(
    "batch-mixed",
    "결과의 모양이 {got}입니다. (B, S) @ (B, S, Dk)는 각 문장의 가중치를 모든 문장의 주석 벡터와 곱합니다. "
    "weights.unsqueeze(1) @ annotations로 (B, 1, S) @ (B, S, Dk)를 계산한 뒤 squeeze(1)하거나, "
    "(weights[:, :, None] * annotations).sum(dim=1)을 쓰세요.",
    "The result has shape {got}: (B, S) @ (B, S, Dk) multiplies every sentence's weights with every sentence's "
    "annotations. Compute weights.unsqueeze(1) @ annotations, (B, 1, S) @ (B, S, Dk), then squeeze(1), or "
    "use (weights[:, :, None] * annotations).sum(dim=1).",
)
IGNORES_WEIGHTS = Advice(
    "ignores-weights",
    "가중치를 쓰지 않고 주석 벡터의 평균이나 합을 냈습니다. 각 h_j에 α_ij를 곱해서 더하세요.",
    "The weights are ignored (a plain mean or sum of the annotations): multiply each h_j by α_ij, then add.",
)
WRONG_CONTEXT = Advice(
    "wrong-context",
    "문맥 벡터가 Σ_j α_ij h_j와 다릅니다 (최대 차이 {error:.3g}).",
    "The context vector differs from Σ_j α_ij h_j (largest difference {error:.3g}).",
)


@exercise(additive_scores)
def check_additive_scores(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(3)
    s_prev, annotations, W_a, U_a, v_a = _example(generator)
    scores = check.call(fn, s_prev, annotations, W_a, U_a, v_a)
    if isinstance(scores, torch.Tensor) and tuple(scores.shape) == (2, 5, 3):  # (B, S, A): v_a left out
        check.fail(NO_V_A, got=tuple(scores.shape))
    scores = check.tensor(scores, what="e", shape=(2, 5), dtype=s_prev.dtype)
    expected = additive_scores(s_prev, annotations, W_a, U_a, v_a)
    if torch.allclose(scores, expected, atol=1e-5):
        return
    linear = ((s_prev @ W_a.T)[:, None] + annotations @ U_a.T) @ v_a
    if torch.allclose(scores, linear, atol=1e-5):
        check.fail(NO_TANH)
    if torch.allclose(scores, torch.softmax(expected, dim=-1), atol=1e-5):
        check.fail(SOFTMAXED)
    if torch.allclose(scores, torch.tanh(linear), atol=1e-5):
        check.fail(TANH_OUTSIDE)
    check.fail(WRONG_SCORES, error=(scores - expected).abs().max().item())


@exercise(context_vector)
def check_context_vector(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(4)
    annotations = torch.randn(2, 5, 6, generator=generator)
    weights = torch.softmax(torch.randn(2, 5, generator=generator) * 2, dim=-1)
    context = check.call(fn, weights, annotations)
    if isinstance(context, torch.Tensor) and context.shape == (2, 5, 6):
        check.fail(NOT_SUMMED)
    if isinstance(context, torch.Tensor) and context.shape == (2, 5):
        check.fail(SUM_OVER_FEATURES)
    if isinstance(context, torch.Tensor) and context.shape == (2, 2, 6):  # (B, B, Dk): sentences mixed
        check.fail(BATCH_MIXED, got=tuple(context.shape))
    context = check.tensor(context, what="c", shape=(2, 6), dtype=annotations.dtype)
    expected = context_vector(weights, annotations)
    if torch.allclose(context, expected, atol=1e-5):
        return
    if torch.allclose(context, annotations.mean(dim=1), atol=1e-5) or torch.allclose(
            context, annotations.sum(dim=1), atol=1e-5):
        check.fail(IGNORES_WEIGHTS)
    check.fail(WRONG_CONTEXT, error=(context - expected).abs().max().item())

"""Chapter 3 (바다나우 어텐션 / Bahdanau attention): the additive score, and attention over a padded batch.

Shapes: B batch · S source length · Dq decoder state · Dk annotation · A alignment-model hidden size.
"""

from __future__ import annotations

from typing import Any

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


# --- masked_additive_attention ---------------------------------------------------------------


def masked_additive_attention(s_prev: torch.Tensor, annotations: torch.Tensor, mask: torch.Tensor,
                              W_a: torch.Tensor, U_a: torch.Tensor,
                              v_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bahdanau attention over a padded batch: context c_i (B, Dk) and weights α_i (B, S), zero at padding.

    s_prev (B, Dq), annotations h (B, S, Dk), mask (B, S) True at real tokens, W_a (A, Dq), U_a (A, Dk), v_a (A,).
    """
    e = torch.tanh((s_prev @ W_a.T)[:, None, :] + annotations @ U_a.T) @ v_a   # e_ij: (B, S)
    e = e.masked_fill(~mask, float("-inf"))                                   # exp(-inf) = 0: no weight on padding
    weights = torch.softmax(e, dim=-1)                                        # α_ij over the positions j: (B, S)
    context = (weights[:, :, None] * annotations).sum(dim=1)                  # c_i = Σ_j α_ij h_j: (B, Dk)
    return context, weights


PAD_NOT_A_PAIR = Advice(
    "padmask-not-a-pair",
    "(문맥 벡터, 가중치) 두 텐서를 튜플로 돌려주어야 합니다. 받은 것: {got}.",
    "Return two tensors, (context, weights); got {got}.",
)
PAD_ORDER = Advice(
    "padmask-order",
    "돌려주는 순서가 바뀌었습니다. 문맥 벡터 (B, Dk)를 먼저, 가중치 (B, S)를 나중에 돌려주세요: "
    "return context, weights.",
    "The two results are swapped: return the context (B, Dk) first and the weights (B, S) second, "
    "return context, weights.",
)
PAD_CHANGED_INPUT = Advice(
    "padmask-changed-input",
    "입력 텐서 {name}이(가) 바뀌었습니다. masked_fill_ 같은 제자리(in-place) 연산 대신 새 텐서를 만드는 "
    "masked_fill이나 torch.where를 쓰세요. 인코더의 주석 벡터는 디코더의 모든 단계가 함께 씁니다.",
    "The input tensor {name} was changed. Use masked_fill or torch.where, which make a new tensor, instead of "
    "in-place operations such as masked_fill_: the encoder's annotations are shared by every decoder step.",
)
PAD_INVERTED = Advice(
    "padmask-inverted",
    "마스크를 거꾸로 썼습니다: 실제 토큰이 가려지고 패딩이 가중치를 받았습니다. 이 책에서 mask는 실제 토큰에서 "
    "True입니다. 가릴 곳은 ~mask입니다 (nn.MultiheadAttention의 key_padding_mask는 반대로 패딩이 True이니 "
    "헷갈리기 쉽습니다).",
    "The mask is used the wrong way round: the real tokens are hidden and the padding gets the weight. In this "
    "book the mask is True at real tokens, so what to hide is ~mask (nn.MultiheadAttention's key_padding_mask "
    "is the opposite, True at padding, which makes this an easy slip).",
)
PAD_IGNORED = Advice(
    "padmask-ignored",
    "마스크를 쓰지 않았습니다: 패딩 위치의 가중치가 0이 아닙니다 (예: weights[{b}, {j}] = {weight:.3f}). 패딩은 "
    "문장의 일부가 아닙니다. 패딩이 받은 가중치만큼 실제 토큰의 몫이 줄고, 그 자리에 있는 벡터가 문맥 벡터에 "
    "섞여 듭니다.",
    "The mask is not used: padding positions get weight (e.g. weights[{b}, {j}] = {weight:.3f}). Padding is not "
    "part of the sentence: whatever weight it gets is taken from the real tokens, and whatever vector sits there "
    "is mixed into the context.",
)
PAD_ON_VALUES = Advice(
    "padmask-on-values",
    "주석 벡터 h_j를 패딩 자리에서 0으로 만들었지만, 점수는 가리지 않았습니다. 그러면 패딩이 더하는 값은 0이어도 "
    "소프트맥스가 패딩에도 가중치를 나눠 주어, 실제 토큰의 가중치 합이 1보다 작아집니다 (weights[{b}]: {total:.3f}). "
    "소프트맥스 전에 점수를 가리세요.",
    "You zeroed the annotations h_j at padding, but not the scores. Padding then adds nothing to the context, "
    "yet the softmax still gives it weight, so the real tokens' weights sum to less than one (weights[{b}]: "
    "{total:.3f}). Mask the scores, before the softmax.",
)
PAD_AFTER_SOFTMAX = Advice(
    "padmask-after-softmax",
    "소프트맥스를 취한 뒤에 패딩의 가중치를 0으로 만들었습니다. 그러면 weights[{b}]의 합이 {total:.3f}로, "
    "1이 되지 않습니다. 소프트맥스 전에 패딩의 점수를 -inf로 바꾸면 실제 토큰들이 가중치 전체를 나눠 가집니다.",
    "The padding's weights are zeroed after the softmax, so weights[{b}] sums to {total:.3f}, not one. "
    "Set the padding's scores to -inf before the softmax, and the real tokens share all of the weight.",
)
PAD_ZERO_SCORE = Advice(
    "padmask-zero-score",
    "패딩의 점수를 0으로 채웠습니다. 점수 0은 '없음'이 아닙니다: exp(0) = 1이라 패딩도 가중치를 받습니다 "
    "(weights[{b}, {j}] = {weight:.3f}). float('-inf')로 채워야 exp(-inf) = 0이 되어 가중치가 정확히 0입니다.",
    "The padding's scores are set to 0. A score of 0 is not \"nothing\": exp(0) = 1, so padding still gets weight "
    "(weights[{b}, {j}] = {weight:.3f}). Fill them with float('-inf'): exp(-inf) = 0, exactly zero weight.",
)
PAD_SOFTMAX_AXIS = Advice(
    "padmask-softmax-axis",
    "소프트맥스를 잘못된 축으로 계산했습니다: 한 문장의 가중치를 더해도 1이 되지 않습니다 "
    "(weights[{b}]의 합 {total:.3f}). e는 (B, S)이고, 문장 하나의 가중치는 소스 위치 축 위에서 합이 1이어야 "
    "합니다: dim=-1.",
    "The softmax is taken over the wrong axis: a sentence's weights do not sum to one (weights[{b}] sums to "
    "{total:.3f}). e is (B, S), and each sentence's weights must sum to one over the source positions: dim=-1.",
)
PAD_WRONG_WEIGHTS = Advice(
    "padmask-wrong-weights",
    "가중치가 다릅니다 (최대 차이 {error:.3g}). 점수 e_ij = v_aᵀ tanh(W_a s_(i-1) + U_a h_j)를 구하고, 패딩 "
    "자리를 -inf로 바꾼 뒤, 소스 위치 축으로 소프트맥스를 취하세요.",
    "The weights differ (largest difference {error:.3g}). Compute the scores e_ij = v_aᵀ tanh(W_a s_(i-1) + U_a h_j), "
    "set them to -inf at padding, then take the softmax over the source positions.",
)
PAD_WRONG_CONTEXT = Advice(
    "padmask-wrong-context",
    "가중치는 맞지만 문맥 벡터가 Σ_j α_ij h_j와 다릅니다 (최대 차이 {error:.3g}). 돌려주는 가중치로 주석 벡터를 "
    "가중합하세요.",
    "The weights are right, but the context differs from Σ_j α_ij h_j (largest difference {error:.3g}). Weight the "
    "annotations with the very weights you return, and sum over the positions.",
)


def _padded_example(generator: torch.Generator, lengths: list[int], source: int = 5, dq: int = 4, dk: int = 6,
                    a: int = 3):
    """A padded batch: s_prev, annotations whose padding rows are large (any leak shows), mask, W_a, U_a, v_a."""
    s_prev, annotations, W_a, U_a, v_a = _example(generator, len(lengths), source, dq, dk, a)
    mask = torch.arange(source)[None, :] < torch.tensor(lengths)[:, None]     # (B, S), True at real tokens
    annotations = torch.where(mask[:, :, None], annotations, 10.0 + annotations)
    return s_prev, annotations, mask, W_a, U_a, v_a


def _first_padding_weight(weights: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
    b, j = (~mask & (weights.abs() > 1e-6)).nonzero()[0].tolist()
    return {"b": b, "j": j, "weight": weights[b, j].item()}


def _worst_row(weights: torch.Tensor) -> dict[str, Any]:
    totals = weights.sum(dim=-1)
    b = int((totals - 1).abs().argmax())
    return {"b": b, "total": totals[b].item()}


@exercise(masked_additive_attention)
def check_masked_additive_attention(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(5)
    for lengths in ([5, 3, 1], [2, 5]):  # a full sentence, padded ones, and a sentence of one token
        inputs = _padded_example(generator, lengths)
        s_prev, annotations, mask, W_a, U_a, v_a = inputs
        originals = [tensor.clone() for tensor in inputs]
        result = check.call(fn, *inputs)
        names = ("s_prev", "annotations", "mask", "W_a", "U_a", "v_a")
        for name, before, after in zip(names, originals, inputs, strict=True):
            if not torch.equal(before, after):
                check.fail(PAD_CHANGED_INPUT, name=name)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            check.fail(PAD_NOT_A_PAIR, got=type(result).__name__)
        context, weights = result
        B, S, Dk = annotations.shape
        if (isinstance(context, torch.Tensor) and isinstance(weights, torch.Tensor)
                and context.shape == (B, S) and weights.shape == (B, Dk)):
            check.fail(PAD_ORDER)
        weights = check.tensor(weights, what="α", shape=(B, S), dtype=annotations.dtype, finite=False)
        real_weight = torch.where(mask, weights, 0.0).nan_to_num(0.0).sum(-1)
        if (~mask).any() and (real_weight[~mask.all(-1)] < 1e-6).all():  # the padding got the weight
            check.fail(PAD_INVERTED)
        weights = check.tensor(weights, what="α", shape=(B, S))
        context = check.tensor(context, what="c", shape=(B, Dk), dtype=annotations.dtype)

        scores = torch.tanh((s_prev @ W_a.T)[:, None, :] + annotations @ U_a.T) @ v_a       # (B, S)
        expected_context, expected = masked_additive_attention(*inputs)

        def close(a: torch.Tensor, b: torch.Tensor) -> bool:
            return bool(torch.allclose(a, b, atol=1e-5))

        if not close(weights, expected):
            unmasked = torch.softmax(scores, dim=-1)
            if close(weights, unmasked):
                if close(context, (unmasked[:, :, None] * annotations * mask[:, :, None]).sum(1)):
                    check.fail(PAD_ON_VALUES, **_worst_row(torch.where(mask, weights, 0.0)))
                check.fail(PAD_IGNORED, **_first_padding_weight(weights, mask))
            if close(weights, unmasked * mask):
                check.fail(PAD_AFTER_SOFTMAX, **_worst_row(weights))
            if close(weights, torch.softmax(scores.masked_fill(~mask, 0.0), dim=-1)):
                check.fail(PAD_ZERO_SCORE, **_first_padding_weight(weights, mask))
            if not close(weights.sum(-1), torch.ones(B)):
                check.fail(PAD_SOFTMAX_AXIS, **_worst_row(weights))
            linear = ((s_prev @ W_a.T)[:, None] + annotations @ U_a.T) @ v_a
            if close(weights, torch.softmax(linear.masked_fill(~mask, float("-inf")), dim=-1)):
                check.fail(NO_TANH)
            if close(weights, torch.softmax(torch.tanh(linear).masked_fill(~mask, float("-inf")), dim=-1)):
                check.fail(TANH_OUTSIDE)
            check.fail(PAD_WRONG_WEIGHTS, error=(weights - expected).abs().max().item())
        if not close(context, expected_context):
            check.fail(PAD_WRONG_CONTEXT, error=(context - expected_context).abs().max().item())

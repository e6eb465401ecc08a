"""Chapter 4 (쿼리, 키, 밸류 / Query, key and value): the exercises, each past what the chapter shows.

4.1 ``score_variance``: predict, then run. The chapter measured Var(q·k) = d_k for components of
variance 1; the reader predicts the variance for any standard deviations, with and without the 1/√d_k,
and the checker runs the experiment wherever the prediction is off.
4.2 ``self_attention_mask``: the (B, T, T) mask of padding and, for a decoder, the causal mask.
4.3 ``masked_attention``: eq. (1) with a mask in which some query may see no key at all (left padding
plus the causal mask), where a plain softmax gives nan. Its checker also diagnoses every mistake of
eq. (1) itself (the scale, the softmax axis, kᵀ in a batch, the mask filled with 0 or applied late).

Shapes: B batch · T queries · S keys · Dk query/key size · Dv value size. Masks are
boolean, True = may attend (as in ``attnbook.attention`` and
``torch.nn.functional.scaled_dot_product_attention``). The checks use sizes that all
differ (T=3, Dk=4, S=5, Dv=6), so a mixed-up axis cannot give the right answer.
"""

from __future__ import annotations

import math

import torch

from attnbook.exercises.checking import RAISED, Advice, Checker, ExerciseFailed, exercise
from attnbook.language import text

# --- the references ------------------------------------------------------------------------------------


def score_variance(d_k: int, q_std: float, k_std: float, scaled: bool) -> float:
    """The variance of q·k (of q·k/√d_k when ``scaled``) for independent components of mean 0.

    q has d_k components of standard deviation q_std, k has d_k of standard deviation k_std.
    """
    variance = d_k * q_std**2 * k_std**2  # d_k independent products q_i k_i, each of variance σ_q² σ_k²
    return variance / d_k if scaled else variance  # dividing by √d_k divides the variance by (√d_k)² = d_k


def self_attention_mask(ids: torch.Tensor, pad_id: int, causal: bool) -> torch.Tensor:
    """The (B, T, T) bool mask of self-attention over ``ids`` (B, T): True where query t may attend to key s.

    Every query may look at the real tokens (not padding); with ``causal`` only at those at positions s ≤ t.
    """
    T = ids.size(1)
    mask = (ids != pad_id)[:, None, :].expand(-1, T, -1)  # hide padded keys from every query: (B, T, T)
    if causal:
        mask = mask & torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()  # s ≤ t
    return mask


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (1) with a bool mask (True = may attend); a query that may see no key gets zero weights and output.

    q (..., T, Dk), k (..., S, Dk), v (..., S, Dv), mask broadcastable to (..., T, S).
    """
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5  # (..., T, S)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # an empty row: 0/0 = nan
    sees_something = mask.any(dim=-1, keepdim=True)  # (..., T, 1): False for a query with no key to see
    weights = weights.masked_fill(~sees_something, 0.0)  # before weights @ v, where 0 · nan would still be nan
    return weights @ v, weights  # (..., T, Dv), (..., T, S)


# --- advice for score_variance ------------------------------------------------------------------------

VAR_NOT_A_NUMBER = Advice(
    "var-not-a-number",
    "예측값 하나(숫자)를 돌려주세요. 받은 것: {got}.",
    "Return your prediction as one number; got {got}.",
)
VAR_MEASURED = Advice(
    "var-measured",
    "d_k = {d_k}, σ_q = {q_std}, σ_k = {k_std}, scaled = {scaled}: 예측값({predicted:.4g})은 실행해서 잰 값 "
    "{measured:.4g}에 가깝지만 기댓값과 정확히 같지는 않습니다. 함수 안에서 표본을 뽑아 재지 말고, 식으로 "
    "유도해서 정확한 값을 돌려주세요.",
    "d_k = {d_k}, σ_q = {q_std}, σ_k = {k_std}, scaled = {scaled}: your prediction {predicted:.4g} is close to "
    "the measured {measured:.4g} but not the exact expectation. Do not draw samples inside your function: "
    "derive a formula and return the exact value.",
)
VAR_STD_IGNORED = Advice(
    "var-std-ignored",
    "σ_q = {q_std}, σ_k = {k_std}인데 예측값({predicted:.4g})은 분산이 1일 때의 값입니다. 실행하면 {measured:.4g}"
    "쯤 나옵니다. 본문은 성분의 분산이 1인 경우만 보았습니다. 독립이고 평균이 0이면 곱 q_i k_i의 분산은 "
    "E[q_i²]·E[k_i²]입니다.",
    "σ_q = {q_std} and σ_k = {k_std}, but your prediction {predicted:.4g} is the value for variance 1; running "
    "gives about {measured:.4g}. The chapter only looked at components of variance 1. For independent "
    "components of mean 0, the product q_i k_i has variance E[q_i²]·E[k_i²].",
)
VAR_STD_NOT_SQUARED = Advice(
    "var-std-not-squared",
    "예측 {predicted:.4g}, 실행 결과 약 {measured:.4g}. 표준편차를 제곱하지 않았습니다. 분산은 크기의 제곱으로 "
    "늘어납니다: Var(aX) = a²·Var(X). σ_q = {q_std}인 성분의 분산은 {q_std}²입니다.",
    "You predicted {predicted:.4g}; running gives about {measured:.4g}. The standard deviations are not squared: "
    "variance grows with the square of the scale, Var(aX) = a²·Var(X), so a component with σ_q = {q_std} has "
    "variance {q_std}².",
)
VAR_ADDED = Advice(
    "var-added",
    "예측 {predicted:.4g}, 실행 결과 약 {measured:.4g}. 두 분산을 더했습니다. 독립인 두 값의 합이라면 분산을 "
    "더하지만, q_i k_i는 곱입니다. 평균이 0인 독립 변수를 곱하면 분산도 곱해집니다: Var(q_i k_i) = σ_q²·σ_k².",
    "You predicted {predicted:.4g}; running gives about {measured:.4g}. You added the two variances. Variances "
    "add for a sum of independent variables, but q_i k_i is a product: for independent variables of mean 0 "
    "the variances multiply, Var(q_i k_i) = σ_q²·σ_k².",
)
VAR_SCALE_ROOT = Advice(
    "var-scale-root",
    "scaled = True일 때 예측 {predicted:.4g}, 실행 결과 약 {measured:.4g}. 점수를 √d_k로 나누면 분산은 "
    "(√d_k)² = d_k로 나뉩니다. 분산을 √d_k로 나눈 것은 표준편차와 헷갈린 것입니다.",
    "With scaled = True you predicted {predicted:.4g}; running gives about {measured:.4g}. Dividing the scores "
    "by √d_k divides their variance by (√d_k)² = d_k; dividing the variance by √d_k mixes it up with the "
    "standard deviation.",
)
VAR_SCALE_TWICE = Advice(
    "var-scale-twice",
    "scaled = True일 때 예측 {predicted:.4g}, 실행 결과 약 {measured:.4g}. d_k로 두 번 나누었습니다. "
    "√d_k로 나누면 분산은 d_k로 한 번 나뉩니다.",
    "With scaled = True you predicted {predicted:.4g}; running gives about {measured:.4g}. You divided by d_k "
    "twice: dividing by √d_k divides the variance by d_k once.",
)
VAR_SCALED_IGNORED = Advice(
    "var-scaled-ignored",
    "scaled = True인데 예측값({predicted:.4g})은 나누기 전의 분산입니다. 실행 결과는 약 {measured:.4g}입니다. "
    "scaled가 참이면 q·k/√d_k의 분산을 예측하세요.",
    "scaled is True, but your prediction {predicted:.4g} is the variance before the division; running gives "
    "about {measured:.4g}. When scaled is true, predict the variance of q·k/√d_k.",
)
VAR_SCALED_INVERTED = Advice(
    "var-scaled-inverted",
    "scaled의 뜻을 거꾸로 읽었습니다: scaled = {scaled}일 때 예측 {predicted:.4g}, 실행 결과 약 {measured:.4g}. "
    "scaled = True가 q·k/√d_k, False가 q·k입니다.",
    "scaled is read the wrong way round: with scaled = {scaled} you predicted {predicted:.4g} and running gives "
    "about {measured:.4g}. scaled = True means q·k/√d_k, False means q·k.",
)
VAR_STD_RETURNED = Advice(
    "var-std-returned",
    "예측값({predicted:.4g})은 분산이 아니라 표준편차(분산의 제곱근)입니다. 실행 결과 분산은 약 {measured:.4g}"
    "입니다.",
    "Your prediction {predicted:.4g} is a standard deviation (the square root of the variance), not the "
    "variance; running gives a variance of about {measured:.4g}.",
)
VAR_WRONG = Advice(
    "var-wrong",
    "d_k = {d_k}, σ_q = {q_std}, σ_k = {k_std}, scaled = {scaled}: 예측은 {predicted:.4g}인데 q와 k를 "
    "{samples:,}쌍 뽑아 실행하면 분산이 약 {measured:.4g}입니다. q·k = Σ q_i k_i에서 한 항의 분산부터 구해 보세요.",
    "d_k = {d_k}, σ_q = {q_std}, σ_k = {k_std}, scaled = {scaled}: you predicted {predicted:.4g}, but drawing "
    "{samples:,} pairs q, k and running gives a variance of about {measured:.4g}. Start from the variance of "
    "one term of q·k = Σ q_i k_i.",
)

# --- advice for self_attention_mask ---------------------------------------------------------------------

MASK_PAD_ON_QUERIES = Advice(
    "mask-pad-on-queries",
    "패딩을 쿼리 축(행)에 적용했습니다. 패딩 토큰은 모든 쿼리에게서 숨겨야 하므로 키 축(열, 마지막 축)"
    "을 가립니다: (ids != pad_id)[:, None, :].",
    "The padding is applied along the query axis (rows). A padding token must be hidden from every query, "
    "so it masks the key axis (columns, the last axis): (ids != pad_id)[:, None, :].",
)
MASK_PAD_ROWS = Advice(
    "mask-pad-rows",
    "패딩 위치의 쿼리 행이 모두 False입니다. 그런 행은 볼 곳이 없어 소프트맥스가 nan이 됩니다. "
    "패딩은 키 축(열)만 가리면 됩니다. 패딩 쿼리의 출력은 어차피 쓰이지 않습니다.",
    "The rows of padding queries are all False: such a query has nowhere to look and its softmax is nan. "
    "Mask only the key axis (columns); the outputs at padding positions are never used anyway.",
)
MASK_FUTURE = Advice(
    "mask-future",
    "인과 마스크의 방향이 거꾸로입니다. 쿼리 t는 s ≤ t인 위치(대각선과 그 아래)를 볼 수 있습니다: "
    "torch.tril을 쓰세요 (triu가 아니라).",
    "The causal mask points the wrong way: query t may attend to positions s ≤ t (the diagonal and below). "
    "Use torch.tril, not triu.",
)
MASK_NO_SELF = Advice(
    "mask-no-self",
    "대각선이 False입니다. 각 위치는 자기 자신은 볼 수 있습니다: tril(diagonal=0), 즉 s ≤ t.",
    "The diagonal is False, but a position may attend to itself: tril with diagonal=0, i.e. s ≤ t.",
)
MASK_OR = Advice(
    "mask-or",
    "두 마스크를 |(또는)로 합쳤습니다. 패딩 마스크와 인과 마스크가 모두 허락해야 볼 수 있으므로 &(그리고)로 "
    "합치세요.",
    "The two masks are combined with | (or). A key may be attended to only if both the padding and the "
    "causal mask allow it: combine them with & (and).",
)
MASK_INVERTED_CONVENTION = Advice(
    "mask-inverted",
    "True와 False가 뒤바뀌었습니다. 이 책의 마스크는 True = 볼 수 있음입니다. torch.nn.MultiheadAttention은 "
    "반대(True = 가림)이니 섞지 마세요.",
    "True and False are swapped. The book's masks say True = may attend; torch.nn.MultiheadAttention uses "
    "the opposite (True = masked out), so do not mix the two.",
)
MASK_CAUSAL_FLAG = Advice(
    "mask-causal-flag",
    "causal={causal}일 때 결과가 틀립니다. causal이 True일 때만 미래 위치를 가리고, False면 패딩만 가리세요.",
    "The result is wrong for causal={causal}: hide future positions only when causal is True; when it is "
    "False, hide only the padding.",
)
MASK_NO_PADDING = Advice(
    "mask-no-padding",
    "패딩 토큰을 가리지 않았습니다. ids == pad_id인 키는 False여야 합니다.",
    "The padding tokens are not masked: keys where ids == pad_id must be False.",
)
MASK_PAD_ID = Advice(
    "mask-pad-id",
    "pad_id가 0일 때만 맞습니다. 0을 직접 쓰지 말고 인자로 받은 pad_id와 비교하세요.",
    "Right only when pad_id is 0: compare with the pad_id argument instead of writing 0.",
)
MASK_NOT_EXPANDED = Advice(
    "mask-not-expanded",
    "(B, 1, T) 모양의 마스크는 브로드캐스트되기는 하지만, 이 함수는 쿼리마다 한 행씩 (B, T, T)를 돌려주어야 "
    "합니다. .expand(-1, T, -1)로 넓히세요.",
    "A (B, 1, T) mask would broadcast, but this function returns one row per query, (B, T, T): widen it "
    "with .expand(-1, T, -1).",
)
MASK_WRONG = Advice(
    "mask-wrong",
    "causal={causal}일 때 마스크가 틀립니다. ids = {ids}인 {sentence}번 문장의 마스크가\n{got}\n인데, "
    "기대한 마스크는\n{expected}\n입니다 (행 = 쿼리 t, 열 = 키 s, 1 = 볼 수 있음).",
    "The mask is wrong for causal={causal}. For sentence {sentence}, ids = {ids}, you returned\n{got}\n"
    "but the expected mask is\n{expected}\n(rows = queries t, columns = keys s, 1 = may attend).",
)


# --- advice for masked_attention: the mistakes of eq. (1) itself ----------------------------------------

NOT_OUT_AND_WEIGHTS = Advice(
    "sdpa-not-out-and-weights",
    "(out, weights) 두 텐서를 튜플로 돌려주어야 합니다. 받은 것: {got}. torch의 "
    "F.scaled_dot_product_attention은 out만 돌려주므로 가중치를 직접 계산해야 합니다.",
    "Return a tuple of two tensors, (out, weights); got {got}. torch's F.scaled_dot_product_attention "
    "returns only out, so compute the weights yourself.",
)
SWAPPED_OUTPUTS = Advice(
    "sdpa-swapped",
    "out과 weights의 순서가 바뀌었습니다. out (..., T, Dv)을 먼저, weights (..., T, S)를 나중에 돌려주세요.",
    "out and weights are swapped: return out (..., T, Dv) first, then weights (..., T, S).",
)
K_NOT_TRANSPOSED = Advice(
    "sdpa-k-not-transposed",
    "k를 전치하지 않고 곱했습니다. 점수는 QKᵀ입니다: q (T, Dk) @ kᵀ (Dk, S) = (T, S). "
    "k.transpose(-2, -1)을 쓰세요.",
    "k is multiplied without being transposed. The scores are QKᵀ: q (T, Dk) @ kᵀ (Dk, S) = (T, S). "
    "Use k.transpose(-2, -1).",
)
BATCH_TRANSPOSE = Advice(
    "sdpa-batch-transpose",
    "2차원 입력에서는 맞지만 배치 (..., T, Dk)에서는 틀립니다 ({detail}). k.T나 k.transpose(0, 1)은 배치 축까지 "
    "옮기고, torch.mm은 2차원만 받습니다. @ (torch.matmul)와 마지막 두 축만 바꾸는 k.transpose(-2, -1)을 쓰세요.",
    "Right for 2-D inputs, wrong for a batch (..., T, Dk) ({detail}). k.T or k.transpose(0, 1) moves the batch "
    "axis too, and torch.mm takes only matrices: use @ (torch.matmul) and swap only the last two axes with "
    "k.transpose(-2, -1).",
)
NO_SCALE = Advice(
    "sdpa-no-scale",
    "점수를 √d_k로 나누지 않았습니다. 식 (1)은 softmax(QKᵀ/√d_k)입니다. d_k가 크면 나누지 않은 "
    "점수의 분산이 d_k만큼 커져 소프트맥스가 포화됩니다.",
    "The scores are not divided by √d_k. Eq. (1) is softmax(QKᵀ/√d_k): without it, the variance of the "
    "scores grows like d_k and the softmax saturates.",
)
NO_SQRT = Advice(
    "sdpa-no-sqrt",
    "점수를 d_k로 나누었습니다. 제곱근으로 나누어야 합니다: QKᵀ/√d_k (d_k ** 0.5).",
    "The scores are divided by d_k; divide by its square root: QKᵀ/√d_k (d_k ** 0.5).",
)
WRONG_SCALE_SIZE = Advice(
    "sdpa-scale-size",
    "엉뚱한 크기의 제곱근으로 나누었습니다. d_k는 쿼리와 키 벡터의 길이, 즉 q.size(-1)입니다 "
    "(키의 개수나 밸류의 크기가 아닙니다).",
    "The scores are divided by the square root of the wrong size. d_k is the length of the query and key "
    "vectors, q.size(-1) (not the number of keys, nor the value size).",
)
SOFTMAX_AXIS = Advice(
    "sdpa-softmax-axis",
    "소프트맥스를 엉뚱한 축으로 취했습니다. 쿼리마다 키들에 대한 가중치의 합이 1이 되도록 마지막 축"
    "(dim=-1)으로 취하세요. 지금은 weights.sum(-1)의 첫 값이 {total:.3f}입니다.",
    "The softmax runs over the wrong axis. Each query's weights over the keys must sum to one: take it over "
    "the last axis (dim=-1). Now the first entry of weights.sum(-1) is {total:.3f}.",
)
USED_KEYS = Advice(
    "sdpa-used-keys",
    "가중치를 k에 곱했습니다. 출력은 밸류의 가중합 weights @ v입니다.",
    "The weights multiply k; the output is the weighted sum of the values, weights @ v.",
)
WRONG_WEIGHTS = Advice(
    "sdpa-wrong-weights",
    "가중치가 softmax(QKᵀ/√d_k)와 다릅니다 (최대 차이 {error:.3g}).",
    "The weights differ from softmax(QKᵀ/√d_k) (largest difference {error:.3g}).",
)
WRONG_OUT = Advice(
    "sdpa-wrong-out",
    "가중치는 맞지만 출력이 weights @ v와 다릅니다 (최대 차이 {error:.3g}).",
    "The weights are right but the output differs from weights @ v (largest difference {error:.3g}).",
)
CHANGED_INPUT = Advice(
    "sdpa-changed-input",
    "입력 텐서 {name}이(가) 바뀌었습니다. q /= ... 같은 제자리 연산 대신 새 텐서를 만드세요: "
    "호출한 쪽의 텐서까지 바뀝니다.",
    "Your function changed its input `{name}`. Avoid in-place operations such as q /= ...: they change "
    "the caller's tensor too.",
)
MASK_IGNORED = Advice(
    "sdpa-mask-ignored",
    "mask를 무시했습니다. mask가 False인 키는 가중치가 정확히 0이어야 합니다.",
    "The mask is ignored: keys where the mask is False must get exactly zero weight.",
)
MASK_INVERTED = Advice(
    "sdpa-mask-inverted",
    "mask를 거꾸로 적용했습니다. 이 책의 규칙은 True = 볼 수 있음입니다 (torch.nn.functional."
    "scaled_dot_product_attention과 같음). False인 곳을 -inf로 채우세요: scores.masked_fill(~mask, ...).",
    "The mask is applied the wrong way round. The book's convention is True = may attend (as in "
    "torch.nn.functional.scaled_dot_product_attention): fill where it is False, scores.masked_fill(~mask, ...).",
)
MASK_AFTER_SOFTMAX = Advice(
    "sdpa-mask-after-softmax",
    "소프트맥스를 취한 뒤에 가중치를 0으로 만들었습니다. 그러면 각 행의 합이 1보다 작아집니다. "
    "소프트맥스 전에 점수를 -inf로 채우세요.",
    "The weights are zeroed after the softmax, so rows no longer sum to one. Fill the scores with -inf "
    "before the softmax.",
)
MASK_ZERO = Advice(
    "sdpa-mask-zero",
    "가려진 점수를 0으로 채웠습니다. 점수 0도 exp(0) = 1만큼 가중치를 받습니다. "
    "float('-inf')로 채워야 가중치가 정확히 0이 됩니다.",
    "The masked scores are set to 0, but a score of 0 still gets weight exp(0) = 1. Fill them with "
    "float('-inf') so their weight is exactly zero.",
)

# --- advice for masked_attention: a query with no key to see -------------------------------------------

EMPTY_ROW_NAN = Advice(
    "empty-row-nan",
    "볼 키가 하나도 없는 쿼리(마스크의 행이 모두 False)의 가중치가 nan입니다. 점수가 모두 -inf이면 소프트맥스는 "
    "0/0 = nan이 됩니다. 이 위치의 출력은 쓰지 않더라도 다음 층에서는 이 위치가 밸류가 되고, 가중치 0을 곱해도 "
    "0 × nan = nan이라 nan이 문장 전체로 번집니다. 그런 행을 찾아(mask.any(dim=-1)) 가중치를 0으로 만드세요.",
    "A query that may see no key (its mask row is all False) gets nan weights: when every score is -inf, the "
    "softmax is 0/0 = nan. Even if that position's output is never used, in the next layer it is a value, and "
    "weight 0 does not help, since 0 × nan = nan: the nan spreads over the whole sentence. Find such rows "
    "(mask.any(dim=-1)) and set their weights to 0.",
)
EMPTY_ROW_UNIFORM = Advice(
    "empty-row-uniform",
    "볼 키가 없는 쿼리의 가중치가 모든 키에 1/{keys}씩 고르게 퍼졌습니다. -1e9 같은 유한한 수로 채우면 행 전체가 "
    "같은 점수가 되어, 소프트맥스가 가려야 할 키들에 가중치를 나눠 줍니다. 그런 행은 가중치와 출력이 0이어야 "
    "합니다. -inf로 채우고 빈 행을 따로 0으로 만드세요.",
    "A query that may see no key spreads its weight evenly, 1/{keys} on every key. Filling with a finite number "
    "such as -1e9 gives the whole row the same score, so the softmax shares the weight out among keys that "
    "must stay hidden. Such a row must have zero weights and a zero output: fill with -inf and set the empty "
    "rows to 0 yourself.",
)
EMPTY_ROW_OUT_NAN = Advice(
    "empty-row-out-nan",
    "가중치는 맞는데 출력에 nan이 있습니다. weights @ v를 빈 행을 0으로 고치기 전에 계산했습니다. 고친 가중치로 "
    "출력을 계산하세요.",
    "The weights are right, but the output contains nan: weights @ v was computed before the empty rows were "
    "set to 0. Compute the output from the corrected weights.",
)
EMPTY_ROW_NOT_ZERO = Advice(
    "empty-row-not-zero",
    "볼 키가 없는 쿼리의 가중치가 0이 아닙니다 (그 행의 합 {total:.3g}). 볼 수 있는 키가 없으면 가중치도, 출력도 "
    "0이어야 합니다.",
    "A query that may see no key has weights that are not zero (its row sums to {total:.3g}). With no key to "
    "see, both its weights and its output must be zero.",
)
EMPTY_ROW_PACKAGE = Advice(
    "empty-row-package",
    "attnbook.attention의 어텐션을 불렀습니다. 이 책의 패키지는 빈 행을 이미 0으로 처리하므로(masked_softmax) 그대로 "
    "부르면 연습이 되지 않습니다. 점수, 마스크, 소프트맥스, 빈 행 처리를 직접 쓰세요.",
    "You called attnbook.attention's attention. The book's package already sets empty rows to zero (in "
    "masked_softmax), so calling it skips the exercise: write the scores, the mask, the softmax and the "
    "empty rows yourself.",
)
EMPTY_ROW_WRONG_ROWS = Advice(
    "empty-row-wrong-rows",
    "볼 키가 있는 쿼리까지 0으로 만들었습니다 ({where}). 빈 행인지는 쿼리마다, 즉 마스크의 마지막 축(키)을 따라 "
    "판단합니다: mask.any(dim=-1).",
    "Queries that do have keys to see were set to zero too ({where}). Whether a row is empty is decided per "
    "query, along the mask's last axis (the keys): mask.any(dim=-1).",
)


# --- checking score_variance ---------------------------------------------------------------------------

SAMPLES = 20_000
VARIANCE_CASES = (  # (d_k, σ_q, σ_k, scaled): first the chapter's case, then others
    (16, 1.0, 1.0, False),
    (16, 1.0, 1.0, True),
    (64, 3.0, 0.5, False),
    (64, 3.0, 0.5, True),
    (10, 2.0, 1.5, True),
    (10, 2.0, 1.5, False),
)


def _measured_variance(d_k: int, q_std: float, k_std: float, scaled: bool) -> float:
    """Run it: the variance of SAMPLES dot products of random q and k."""
    generator = torch.Generator().manual_seed(d_k)
    qs = torch.randn(SAMPLES, d_k, generator=generator, dtype=torch.float64) * q_std
    ks = torch.randn(SAMPLES, d_k, generator=generator, dtype=torch.float64) * k_std
    dots = (qs * ks).sum(dim=-1)  # SAMPLES values of q·k
    return (dots / math.sqrt(d_k) if scaled else dots).var().item()


def _as_number(check: Checker, value: object) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or (not isinstance(value, (int, float)) and type(value).__module__ != "numpy"):
        got = text(f"모양이 {tuple(value.shape)}인 텐서", f"a tensor of shape {tuple(value.shape)}") \
            if isinstance(value, torch.Tensor) else type(value).__name__
        check.fail(VAR_NOT_A_NUMBER, got=got)
    try:
        return float(value)
    except (TypeError, ValueError):
        check.fail(VAR_NOT_A_NUMBER, got=type(value).__name__)
    raise AssertionError  # unreachable: check.fail raises


def _near(a: float, b: float, tolerance: float = 1e-6) -> bool:
    return abs(a - b) <= tolerance * max(1.0, abs(b))


@exercise(score_variance)
def check_score_variance(check: Checker, fn) -> None:
    for d_k, q_std, k_std, scaled in VARIANCE_CASES:
        predicted = _as_number(check, check.call(fn, d_k, q_std, k_std, scaled))
        expected = score_variance(d_k, q_std, k_std, scaled)
        if _near(predicted, expected):
            continue
        measured = _measured_variance(d_k, q_std, k_std, scaled)
        values = {"d_k": d_k, "q_std": q_std, "k_std": k_std, "scaled": scaled, "predicted": predicted,
                  "measured": measured, "samples": SAMPLES}
        unscaled = score_variance(d_k, q_std, k_std, False)
        product = q_std**2 * k_std**2  # the variance of one term q_i k_i
        diagnoses = [
            (math.sqrt(expected), VAR_STD_RETURNED),
            (d_k / d_k if scaled else d_k, VAR_STD_IGNORED),
            ((q_std * k_std) * (1 if scaled else d_k), VAR_STD_NOT_SQUARED),
            ((q_std**2 + k_std**2) * (1 if scaled else d_k), VAR_ADDED),
        ]
        if scaled:
            diagnoses += [(unscaled, VAR_SCALED_IGNORED), (unscaled / math.sqrt(d_k), VAR_SCALE_ROOT),
                          (product / d_k, VAR_SCALE_TWICE), (math.sqrt(unscaled), VAR_STD_RETURNED)]
        else:
            diagnoses += [(product, VAR_SCALED_INVERTED)]
        for wrong, advice in diagnoses:
            if not _near(wrong, expected) and _near(predicted, wrong):
                check.fail(advice, **values)
        again = _as_number(check, check.call(fn, d_k, q_std, k_std, scaled))
        if again != predicted or abs(predicted - expected) < 0.03 * abs(expected):  # random, or nearly right
            check.fail(VAR_MEASURED, **values)
        check.fail(VAR_WRONG, **values)


# --- checking self_attention_mask ----------------------------------------------------------------------


def _show(mask: torch.Tensor) -> str:
    return "\n".join(" ".join("1" if x else "0" for x in row) for row in mask.tolist())


@exercise(self_attention_mask)
def check_self_attention_mask(check: Checker, fn) -> None:
    lengths = torch.tensor([5, 3, 2])  # three sentences; odd sizes so that rows and columns cannot be confused
    tril = torch.ones(5, 5, dtype=torch.bool).tril()
    everything = torch.ones(5, 5, dtype=torch.bool)
    for pad_id in (0, 7):
        ids = torch.where(torch.arange(5) < lengths[:, None], torch.arange(11, 26).view(3, 5), pad_id)  # (B, T)
        real = ids != pad_id  # (B, T)
        for causal in (False, True):
            expected = self_attention_mask(ids, pad_id, causal)
            mask = check.call(fn, ids.clone(), pad_id, causal)
            if isinstance(mask, torch.Tensor) and mask.shape == (3, 1, 5):
                check.fail(MASK_NOT_EXPANDED)
            mask = check.tensor(mask, what="mask", shape=(3, 5, 5), dtype=torch.bool)
            if torch.equal(mask, expected):
                continue
            allowed = tril if causal else everything  # what the causal part allows
            diagnoses = [
                (~expected, MASK_INVERTED_CONVENTION),
                (self_attention_mask(ids, 0, causal), MASK_PAD_ID),
                (self_attention_mask(ids, pad_id, not causal), MASK_CAUSAL_FLAG),
                (real[:, :, None] & allowed, MASK_PAD_ON_QUERIES),
                (expected & real[:, :, None], MASK_PAD_ROWS),
                (real[:, None, :] | tril, MASK_OR),
                (real[:, None, :] & tril.T, MASK_FUTURE),
                (real[:, None, :] & tril.tril(-1), MASK_NO_SELF),
                (allowed.expand(3, 5, 5), MASK_NO_PADDING),
            ]
            for wrong, advice in diagnoses:
                if torch.equal(mask, wrong):
                    check.fail(advice, causal=causal)
            b = int((mask != expected).flatten(1).any(dim=1).nonzero()[0])  # the first sentence that differs
            check.fail(MASK_WRONG, causal=causal, sentence=b, ids=ids[b].tolist(), got=_show(mask[b]),
                       expected=_show(expected[b]))


# --- checking masked_attention -------------------------------------------------------------------------

T, DK, S, DV = 3, 4, 5, 6


def _randn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator)


def _weights_with(q: torch.Tensor, k: torch.Tensor, scale: float, mask: torch.Tensor | None = None,
                  fill: float = float("-inf")) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / scale
    if mask is not None:
        scores = scores.masked_fill(~mask, fill)
    return torch.softmax(scores, dim=-1)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def _out_and_weights(check: Checker, result: object, out_shape: tuple[int, ...],
                     weights_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The reader's (out, weights), with the weights' shape checked."""
    if not isinstance(result, (tuple, list)) or len(result) != 2 or not all(
            isinstance(part, torch.Tensor) for part in result):
        got = type(result).__name__ if not isinstance(result, torch.Tensor) else \
            text(f"모양이 {tuple(result.shape)}인 텐서 하나", f"one tensor of shape {tuple(result.shape)}")
        check.fail(NOT_OUT_AND_WEIGHTS, got=got)
    out, weights = result
    if out.shape == weights_shape and weights.shape == out_shape and out_shape != weights_shape:
        check.fail(SWAPPED_OUTPUTS)
    check.tensor(weights, what="weights", shape=weights_shape, dtype=torch.float32, finite=False)
    return out, weights


def _diagnose_weights(check: Checker, q: torch.Tensor, k: torch.Tensor, weights: torch.Tensor,
                      expected: torch.Tensor) -> None:
    if _close(weights, expected):
        return
    if _close(weights, _weights_with(q, k, 1.0)):
        check.fail(NO_SCALE)
    if _close(weights, _weights_with(q, k, float(DK))):
        check.fail(NO_SQRT)
    for size in (S, DV, T):
        if _close(weights, _weights_with(q, k, math.sqrt(size))):
            check.fail(WRONG_SCALE_SIZE)
    if not torch.allclose(weights.sum(dim=-1), torch.ones(weights.shape[:-1]), atol=1e-4):
        check.fail(SOFTMAX_AXIS, total=weights.sum(dim=-1).flatten()[0].item())
    check.fail(WRONG_WEIGHTS, error=(weights - expected).abs().max().item())


def _raised(fn, *inputs: torch.Tensor) -> str | None:
    """The error the reader's function raises on (copies of) these inputs, as text, or None."""
    try:
        fn(*(x.clone() for x in inputs))
    except NotImplementedError:
        return None
    except Exception as error:  # the reader's code may raise anything
        return f"{type(error).__name__}: {error}"
    return None


def _call_unchanged(check: Checker, fn, *inputs: torch.Tensor | None):
    """Call the reader's function and make sure it left its inputs alone."""
    copies = [None if x is None else x.clone() for x in inputs]
    result = check.call(fn, *inputs)
    for name, x, copy in zip(("q", "k", "v", "mask"), inputs, copies, strict=False):
        if x is not None and not torch.equal(x, copy):
            check.fail(CHANGED_INPUT, name=name)
    return result


def _left_padded_causal_mask(lengths: tuple[int, ...], size: int) -> torch.Tensor:
    """(B, T, T): padding at the front of each sentence (as in batched generation) and the causal mask."""
    real = torch.arange(size) >= size - torch.tensor(lengths)[:, None]  # (B, T): True at real tokens
    return real[:, None, :] & torch.ones(size, size, dtype=torch.bool).tril()


def _empty_rows(mask: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    return ~mask.any(dim=-1, keepdim=True).expand(shape)  # (..., T, S): True on the rows with no key


def _describe_rows(rows: torch.Tensor) -> str:
    where = rows.nonzero()[0].tolist()  # (..., t): the first query wrongly set to zero
    return text(f"처음 틀린 곳: 인덱스 {tuple(where)}의 쿼리", f"first at the query with index {tuple(where)}")


def _call_own(check: Checker, fn, *inputs: torch.Tensor):
    """Call the reader's function; calling the package's attention, which does the exercise, is refused."""
    from attnbook import attention

    original, used = attention.masked_softmax, []

    def noting(*args, **kwargs):
        used.append(True)
        return original(*args, **kwargs)

    attention.masked_softmax = noting
    try:
        result = _call_unchanged(check, fn, *inputs)
    finally:
        attention.masked_softmax = original
    if used:
        check.fail(EMPTY_ROW_PACKAGE)
    return result


def _masked_call(check: Checker, fn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                 expected_out: torch.Tensor):
    """The reader's answer on the first case; if it raises, find out whether k was used untransposed."""
    try:
        return _call_own(check, fn, q, k, v, mask)
    except ExerciseFailed as failure:
        if failure.advice_id != RAISED.id:
            raise
        try:  # hand it kᵀ: if the answer comes out right, the function multiplies by k as given
            result = fn(q.clone(), k.T.contiguous(), v.clone(), mask.clone())
        except Exception:  # the reader's code may raise anything
            raise failure from None
        if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[0], torch.Tensor) \
                and _close(result[0], expected_out):
            check.fail(K_NOT_TRANSPOSED)
        raise


def _diagnose_masked(check: Checker, q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor, out: torch.Tensor,
                     weights: torch.Tensor, expected_out: torch.Tensor, expected_weights: torch.Tensor) -> None:
    """Why the answer differs on a case whose every query sees at least one key."""
    if _close(weights, expected_weights):
        if out.shape == (*weights.shape[:-1], k.size(-1)) and _close(out, weights @ k):
            check.fail(USED_KEYS)
        check.tensor(out, what="out", shape=tuple(expected_out.shape), dtype=torch.float32)
        check.fail(WRONG_OUT, error=(out - expected_out).abs().max().item())
    scale = math.sqrt(q.size(-1))
    inverted = _weights_with(q, k, scale, ~mask)  # True read as "hide": nan where a row hides every key
    if weights.shape == inverted.shape and (torch.allclose(weights, inverted, atol=1e-5, equal_nan=True)
                                            or _close(weights, torch.nan_to_num(inverted))):
        check.fail(MASK_INVERTED)
    wrongly_zero = (weights.abs().sum(-1) == 0) & (expected_weights.sum(-1) > 0)  # (..., T)
    if wrongly_zero.any():
        check.fail(EMPTY_ROW_WRONG_ROWS, where=_describe_rows(wrongly_zero))
    if not mask.all():
        unmasked = _weights_with(q, k, scale)
        if _close(weights, unmasked):
            check.fail(MASK_IGNORED)
        if _close(weights, unmasked * mask):
            check.fail(MASK_AFTER_SOFTMAX)
        if _close(weights, _weights_with(q, k, scale, mask, fill=0.0)):
            check.fail(MASK_ZERO)
    _diagnose_weights(check, q, k, weights, expected_weights)


def _diagnose_empty_rows(check: Checker, mask: torch.Tensor, out: torch.Tensor, weights: torch.Tensor,
                         expected_out: torch.Tensor, expected_weights: torch.Tensor) -> None:
    """Why the answer differs on a case where some query may see no key at all."""
    empty = _empty_rows(mask, tuple(expected_weights.shape))  # (..., T, S): True on the empty rows
    full = ~empty
    if torch.isnan(weights[empty]).any():
        check.fail(EMPTY_ROW_NAN)
    if torch.allclose(weights[empty], torch.full_like(weights[empty], 1 / weights.size(-1)), atol=1e-5):
        check.fail(EMPTY_ROW_UNIFORM, keys=weights.size(-1))
    if not torch.allclose(weights[full], expected_weights[full], atol=1e-5):
        wrongly_zero = (weights.abs().sum(-1) == 0) & (expected_weights.sum(-1) > 0)  # (..., T)
        if wrongly_zero.any():
            check.fail(EMPTY_ROW_WRONG_ROWS, where=_describe_rows(wrongly_zero))
        check.fail(WRONG_WEIGHTS, error=(weights[full] - expected_weights[full]).abs().max().item())
    if not torch.equal(weights[empty], torch.zeros_like(weights[empty])):
        check.fail(EMPTY_ROW_NOT_ZERO, total=weights[empty].view(-1, weights.size(-1)).sum(-1)[0].item())
    if torch.isnan(out).any():
        check.fail(EMPTY_ROW_OUT_NAN)
    check.tensor(out, what="out", shape=tuple(expected_out.shape), dtype=torch.float32)
    check.fail(WRONG_OUT, error=(out - expected_out).abs().max().item())


@exercise(masked_attention)
def check_masked_attention(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(41)
    q, k, v = _randn(generator, T, DK) * 2, _randn(generator, S, DK) * 2, _randn(generator, S, DV)
    xs = _randn(generator, 3, S, DK) * 2  # three sentences of S = 5 token vectors
    w_v = _randn(generator, DK, DV)
    cases = [
        (q, k, v, torch.ones(T, S, dtype=torch.bool)),  # 1. every key visible: plain eq. (1)
        (q, k, v, torch.tensor([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0], [1, 1, 0, 1, 0]], dtype=torch.bool)),
        (q, k, v, torch.tensor([[1, 1, 0, 0, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 0]], dtype=torch.bool)),  # row 1 empty
        (xs, xs, xs @ w_v, _left_padded_causal_mask((5, 3, 1), S)),  # left padding + causal: (B, T, T)
    ]
    for number, (case_q, case_k, case_v, case_mask) in enumerate(cases):
        expected_out, expected_weights = masked_attention(case_q, case_k, case_v, case_mask)
        if case_q.dim() > 2:  # a batch: only the last two axes may move
            error = _raised(fn, case_q, case_k, case_v, case_mask)
            if error is not None:
                check.fail(BATCH_TRANSPOSE, detail=error)
        if number == 0:
            result = _masked_call(check, fn, case_q, case_k, case_v, case_mask, expected_out)
        else:
            result = _call_own(check, fn, case_q, case_k, case_v, case_mask)
        out, weights = _out_and_weights(check, result, tuple(expected_out.shape), tuple(expected_weights.shape))
        if _close(weights, expected_weights) and _close(out, expected_out):
            continue
        if case_mask.any(dim=-1).all():
            _diagnose_masked(check, case_q, case_k, case_mask, out, weights, expected_out, expected_weights)
        _diagnose_empty_rows(check, case_mask, out, weights, expected_out, expected_weights)

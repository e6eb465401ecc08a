"""Chapter 4 (쿼리, 키, 밸류 / Query, key and value): scaled dot-product attention and attention masks.

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


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Vaswani et al. (2017), eq. (1): softmax(QKᵀ/√d_k) V, and the weights.

    q (..., T, Dk), k (..., S, Dk), v (..., S, Dv); mask bool broadcastable to (..., T, S),
    True = may attend. Returns out (..., T, Dv) and weights (..., T, S).
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / d_k**0.5  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # a masked key gets exp(-inf) = 0
    weights = torch.softmax(scores, dim=-1)  # each query's weights over the keys sum to one
    return weights @ v, weights  # (..., T, Dv), (..., T, S)


def self_attention_mask(ids: torch.Tensor, pad_id: int, causal: bool) -> torch.Tensor:
    """The (B, T, T) bool mask of self-attention over ``ids`` (B, T): True where query t may attend to key s.

    Every query may look at the real tokens (not padding); with ``causal`` only at those at positions s ≤ t.
    """
    T = ids.size(1)
    mask = (ids != pad_id)[:, None, :].expand(-1, T, -1)  # hide padded keys from every query: (B, T, T)
    if causal:
        mask = mask & torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()  # s ≤ t
    return mask


# --- advice for scaled_dot_product_attention -----------------------------------------------------------

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
    "엉뚱한 크기의 제곱근으로 나누었습니다. d_k는 쿼리와 키 벡터의 길이, 곧 q.size(-1)입니다 "
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
    "대각선이 False입니다. 각 위치는 자기 자신은 볼 수 있습니다: tril(diagonal=0), 곧 s ≤ t.",
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


# --- the checks -----------------------------------------------------------------------------------------

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


def _pair(check: Checker, result: object, batch: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The reader's (out, weights), with the shapes checked."""
    if not isinstance(result, (tuple, list)) or len(result) != 2 or not all(
            isinstance(part, torch.Tensor) for part in result):
        got = type(result).__name__ if not isinstance(result, torch.Tensor) else \
            text(f"모양이 {tuple(result.shape)}인 텐서 하나", f"one tensor of shape {tuple(result.shape)}")
        check.fail(NOT_OUT_AND_WEIGHTS, got=got)
    out, weights = result
    if out.shape == (*batch, T, S) and weights.shape == (*batch, T, DV):
        check.fail(SWAPPED_OUTPUTS)
    check.tensor(weights, what="weights", shape=(*batch, T, S), dtype=torch.float32, finite=False)
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


def _first_call(check: Checker, fn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                expected_out: torch.Tensor):
    """The reader's answer on one sequence; if it raises, find out whether k was used untransposed."""
    try:
        return _call_unchanged(check, fn, q, k, v)
    except ExerciseFailed as failure:
        if failure.advice_id != RAISED.id:
            raise
        try:  # hand it kᵀ: if the answer comes out right, the function multiplies by k as given
            result = fn(q.clone(), k.T.contiguous(), v.clone())
        except Exception:  # the reader's code may raise anything
            raise failure from None
        if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[0], torch.Tensor) \
                and _close(result[0], expected_out):
            check.fail(K_NOT_TRANSPOSED)
        raise


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


@exercise(scaled_dot_product_attention)
def check_scaled_dot_product_attention(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(4)

    # 1. one sequence: q (T, Dk), k (S, Dk), v (S, Dv), no mask
    q, k, v = _randn(generator, T, DK) * 2, _randn(generator, S, DK) * 2, _randn(generator, S, DV)
    expected_out, expected_weights = scaled_dot_product_attention(q, k, v)
    result = _first_call(check, fn, q, k, v, expected_out)
    out, weights = _pair(check, result, ())
    _diagnose_weights(check, q, k, weights, expected_weights)
    if out.shape == (T, DK) and _close(out, weights @ k):
        check.fail(USED_KEYS)
    check.tensor(out, what="out", shape=(T, DV), dtype=torch.float32)
    if not _close(out, expected_out):
        check.fail(WRONG_OUT, error=(out - expected_out).abs().max().item())

    # 2. a batch of two sequences: (B, T, Dk) and so on; only the last two axes may move
    qb, kb, vb = _randn(generator, 2, T, DK) * 2, _randn(generator, 2, S, DK) * 2, _randn(generator, 2, S, DV)
    expected_out, expected_weights = scaled_dot_product_attention(qb, kb, vb)
    error = _raised(fn, qb, kb, vb)
    if error is not None:
        check.fail(BATCH_TRANSPOSE, detail=error)
    out, weights = _pair(check, _call_unchanged(check, fn, qb, kb, vb), (2,))
    if not _close(weights, expected_weights):
        if not torch.allclose(weights.sum(dim=-1), torch.ones(2, T), atol=1e-4):
            check.fail(SOFTMAX_AXIS, total=weights.sum(dim=-1).flatten()[0].item())
        if torch.allclose(weights, torch.stack([_weights_with(a, b, 1.0) for a, b in zip(qb, kb, strict=True)]),
                          atol=1e-5):
            check.fail(NO_SCALE)
        check.fail(BATCH_TRANSPOSE, detail=text("가중치가 틀립니다", "the weights are wrong"))
    check.tensor(out, what="out", shape=(2, T, DV), dtype=torch.float32)
    if not _close(out, expected_out):
        check.fail(WRONG_OUT, error=(out - expected_out).abs().max().item())

    # 3. masks: a (T, S) mask, then a padding mask (B, 1, S) that broadcasts over the queries
    mask = torch.tensor([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0], [1, 1, 0, 1, 0]], dtype=torch.bool)  # ~mask keeps a key too
    padding = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)[:, None, :]  # (B, 1, S)
    for masked_q, masked_k, masked_v, m in ((q, k, v, mask), (qb, kb, vb, padding)):
        expected_out, expected_weights = scaled_dot_product_attention(masked_q, masked_k, masked_v, m)
        batch = tuple(masked_q.shape[:-2])
        out, weights = _pair(check, _call_unchanged(check, fn, masked_q, masked_k, masked_v, m), batch)
        if _close(weights, expected_weights) and _close(out, expected_out):
            continue
        unmasked = _weights_with(masked_q, masked_k, math.sqrt(DK))
        if _close(weights, unmasked):
            check.fail(MASK_IGNORED)
        if torch.isfinite(weights).all() and _close(weights, _weights_with(masked_q, masked_k, math.sqrt(DK), ~m)):
            check.fail(MASK_INVERTED)
        if _close(weights, unmasked * m):
            check.fail(MASK_AFTER_SOFTMAX)
        if _close(weights, _weights_with(masked_q, masked_k, math.sqrt(DK), m, fill=0.0)):
            check.fail(MASK_ZERO)
        _diagnose_weights(check, masked_q, masked_k, weights, expected_weights)
        check.fail(WRONG_OUT, error=(out - expected_out).abs().max().item())


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

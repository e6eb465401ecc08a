"""Chapter 5 (멀티헤드 어텐션과 위치 인코딩 / Multi-head attention and positional encoding).

Splitting a projection into heads and merging the heads back (Vaswani et al., 2017,
§3.2.2), and the sinusoidal positional encoding (§3.5); then what a layer costs
(``attention_cost``, predicted and measured) and what each head adds to its output
(``head_contributions``).

Shapes: B batch · T length · D model · H heads · Dh = D/H · L table length. The checks
use sizes that all differ (B=2, T=5, H=3, Dh=4 and then H=4, Dh=3), so that a mixed-up
axis cannot give the right answer. Head i owns features i·Dh … (i+1)·Dh − 1 of every
position, the layout of ``attnbook.attention.MultiHeadAttention`` and of
``torch.nn.MultiheadAttention``.
"""

from __future__ import annotations

import numbers

import torch

from attnbook.exercises.checking import RAISED, Advice, Checker, ExerciseFailed, exercise


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, T, D) → (B, H, T, Dh): head i gets features i·Dh … (i+1)·Dh − 1 of every position."""
    B, T, D = x.shape
    return x.view(B, T, num_heads, D // num_heads).transpose(1, 2)  # (B, T, H, Dh) → (B, H, T, Dh)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, Dh) → (B, T, H·Dh): Concat(head_1, …, head_h) at every position."""
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).reshape(B, T, H * Dh)  # (B, T, H, Dh) → (B, T, D); reshape copies: not contiguous


def positional_encoding(length: int, d_model: int) -> torch.Tensor:
    """The (length, d_model) table of §3.5 for an even d_model.

    PE(pos, 2i) = sin(pos / 10000^{2i/d_model}), PE(pos, 2i+1) = cos(pos / 10000^{2i/d_model}).
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]  # pos = 0, 1, …: (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # 2i = 0, 2, 4, …: (D/2,)
    angle = position / 10000 ** (two_i / d_model)  # (L, D/2)
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(angle)  # even columns
    table[:, 1::2] = torch.cos(angle)  # odd columns, the same angle as the column before
    return table


# --- advice for split_heads -------------------------------------------------------------------------------

SPLIT_NOT_TRANSPOSED = Advice(
    "split-not-transposed",
    "모양이 (B, T, H, Dh)입니다. 특징을 헤드로 나누는 것까지는 맞습니다. 이제 헤드 축을 위치 축 앞으로 옮겨 "
    "(B, H, T, Dh)로 만드세요: .transpose(1, 2). 그래야 헤드마다 (T, Dh) 행렬 하나로 어텐션을 계산합니다.",
    "The shape is (B, T, H, Dh): the features are split into heads correctly. Now move the head axis in "
    "front of the positions to get (B, H, T, Dh): .transpose(1, 2). Each head then attends with one (T, Dh) "
    "matrix.",
)
SPLIT_RESHAPE_ONLY = Advice(
    "split-reshape-only",
    "모양은 (B, H, T, Dh)로 맞지만 값이 섞였습니다. x.view(B, H, T, Dh)처럼 바로 바꾸면 메모리 순서대로 잘려서, "
    "헤드 0이 문장 앞쪽 위치들의 특징 전부를 받게 됩니다(위치와 헤드가 섞임). 먼저 x.view(B, T, H, Dh)로 "
    "각 위치의 특징을 헤드로 나눈 뒤 .transpose(1, 2)로 축을 바꾸세요.",
    "The shape (B, H, T, Dh) is right, but the values are scrambled. Reshaping straight to (B, H, T, Dh) "
    "cuts the tensor in memory order, so head 0 gets all the features of the first few positions (positions "
    "and heads get mixed). First split each position's features with x.view(B, T, H, Dh), then swap the axes "
    "with .transpose(1, 2).",
)
SPLIT_INTERLEAVED = Advice(
    "split-interleaved",
    "헤드가 특징을 H개 걸러 하나씩 받았습니다. 헤드 i는 연속된 특징 i·Dh … (i+1)·Dh − 1을 받아야 합니다"
    "(W^Q의 행이 헤드별로 덩어리째 쌓여 있고, torch.nn.MultiheadAttention도 같습니다). "
    "x.view(B, T, H, Dh)처럼 H를 Dh보다 앞에 두세요.",
    "Each head got every H-th feature. Head i must get the consecutive features i·Dh … (i+1)·Dh − 1 (the rows "
    "of W^Q are stacked in one block per head, as in torch.nn.MultiheadAttention): put H before Dh, as in "
    "x.view(B, T, H, Dh).",
)
SPLIT_BATCH_MERGED = Advice(
    "split-batch-merged",
    "모양이 (B·H, T, Dh)입니다. 배치와 헤드를 한 축으로 합치는 방식(옛 PyTorch 구현)도 계산은 되지만, "
    "여기서는 헤드를 따로 된 축으로 두어 (B, H, T, Dh)를 돌려주세요.",
    "The shape is (B·H, T, Dh). Folding the heads into the batch axis (as older PyTorch code does) also "
    "computes attention, but here keep the heads on an axis of their own: return (B, H, T, Dh).",
)
SPLIT_HARDCODED = Advice(
    "split-hardcoded",
    "num_heads = 3일 때는 맞지만 num_heads = {heads}일 때 틀립니다. 헤드 수와 Dh를 숫자로 적지 말고 "
    "인자 num_heads와 Dh = D // num_heads로 계산하세요.",
    "Right for num_heads = 3 but wrong for num_heads = {heads}: do not write the number of heads or Dh as a "
    "constant; use the argument num_heads and Dh = D // num_heads.",
)
SPLIT_WRONG = Advice(
    "split-wrong",
    "값이 틀립니다. 결과의 [b, i, t, :]는 x[b, t, i·Dh:(i+1)·Dh]여야 합니다 (헤드 i, 위치 t). "
    "(b, i, t) = {where}에서 처음 다릅니다.",
    "The values are wrong: result[b, i, t, :] must be x[b, t, i·Dh:(i+1)·Dh] (head i, position t). The first "
    "difference is at (b, i, t) = {where}.",
)

# --- advice for merge_heads -------------------------------------------------------------------------------

MERGE_VIEW = Advice(
    "merge-view",
    ".transpose(1, 2)를 한 텐서에 .view를 쓰면 오류가 납니다. transpose는 메모리를 옮기지 않고 보는 순서만 "
    "바꾸므로(contiguous가 아님) view로 합칠 수 없습니다. .reshape(B, T, H * Dh)나 "
    ".contiguous().view(...)를 쓰세요.",
    "Calling .view after .transpose(1, 2) fails: transpose changes only the order in which memory is read "
    "(the tensor is not contiguous), so view cannot merge those axes. Use .reshape(B, T, H * Dh) or "
    ".contiguous().view(...).",
)
MERGE_NOT_FLATTENED = Advice(
    "merge-not-flattened",
    "모양이 (B, T, H, Dh)입니다. 축은 바르게 옮겼으니, 마지막 두 축을 합쳐 (B, T, H·Dh)로 만드세요: "
    ".reshape(B, T, H * Dh) 또는 .flatten(2).",
    "The shape is (B, T, H, Dh): the axes are in the right order; now merge the last two into (B, T, H·Dh) "
    "with .reshape(B, T, H * Dh) or .flatten(2).",
)
MERGE_NO_TRANSPOSE = Advice(
    "merge-no-transpose",
    "모양은 (B, T, D)로 맞지만 값이 섞였습니다. (B, H, T, Dh)를 그대로 (B, T, D)로 바꾸면 헤드 0의 위치들이 "
    "한 위치의 특징으로 뭉칩니다. 먼저 .transpose(1, 2)로 (B, T, H, Dh)를 만든 뒤 합치세요.",
    "The shape (B, T, D) is right, but the values are scrambled. Reshaping (B, H, T, Dh) straight to "
    "(B, T, D) packs several positions of head 0 into one position's features. First .transpose(1, 2) to get "
    "(B, T, H, Dh), then merge.",
)
MERGE_INTERLEAVED = Advice(
    "merge-interleaved",
    "헤드들의 특징이 번갈아 섞였습니다. Concat(head_1, …, head_h)는 헤드 1의 Dh개 특징 전부, 그다음 헤드 2의 "
    "특징 전부 … 순서입니다. (B, T, H, Dh)에서 마지막 두 축을 합치세요(H가 Dh보다 앞).",
    "The heads' features are interleaved. Concat(head_1, …, head_h) is all Dh features of head 1, then all of "
    "head 2, and so on: merge the last two axes of (B, T, H, Dh), with H before Dh.",
)
MERGE_CAT_AXIS = Advice(
    "merge-cat-axis",
    "모양이 {got}입니다. 헤드들을 위치 축으로 이어 붙였습니다. Concat은 위치마다 특징 축(마지막 축)으로 "
    "이어 붙여 (B, T, H·Dh)를 만듭니다: torch.cat([x[:, i] for i in range(H)], dim=-1).",
    "The shape is {got}: the heads are concatenated along the positions. Concat joins them along the "
    "features (the last axis) at every position, giving (B, T, H·Dh): torch.cat([x[:, i] for i in range(H)], "
    "dim=-1).",
)
MERGE_HARDCODED = Advice(
    "merge-hardcoded",
    "헤드 3개일 때는 맞지만 헤드 {heads}개일 때 틀립니다. B, H, T, Dh = x.shape로 크기를 입력에서 읽으세요.",
    "Right for 3 heads but wrong for {heads}: read the sizes from the input, B, H, T, Dh = x.shape.",
)
MERGE_WRONG = Advice(
    "merge-wrong",
    "값이 틀립니다. 결과의 [b, t, i·Dh:(i+1)·Dh]는 x[b, i, t]여야 합니다 (헤드 i, 위치 t). "
    "(b, t) = {where}에서 처음 다릅니다.",
    "The values are wrong: result[b, t, i·Dh:(i+1)·Dh] must be x[b, i, t] (head i, position t). The first "
    "difference is at (b, t) = {where}.",
)

# --- advice for positional_encoding ----------------------------------------------------------------------

PE_TRANSPOSED = Advice(
    "pe-transposed",
    "모양이 (d_model, length)입니다. 표의 행은 위치, 열은 특징입니다: (length, d_model).",
    "The shape is (d_model, length). The table's rows are positions and its columns features: "
    "(length, d_model).",
)
PE_SWAPPED = Advice(
    "pe-swapped",
    "sin과 cos이 바뀌었습니다. 짝수 열(2i)이 sin, 홀수 열(2i+1)이 cos입니다. 그래서 위치 0의 행은 "
    "0, 1, 0, 1, …입니다.",
    "sin and cos are swapped: the even columns (2i) are sines, the odd columns (2i+1) cosines, so the row "
    "of position 0 is 0, 1, 0, 1, ….",
)
PE_CONCATENATED = Advice(
    "pe-concatenated",
    "sin 열을 앞 절반에, cos 열을 뒤 절반에 모았습니다. 열의 순서만 다른 같은 정보이고 실제로 이렇게 쓰는 "
    "구현도 있지만, 논문 §3.5는 번갈아 놓습니다: 열 2i가 sin, 바로 옆 열 2i+1이 같은 각도의 cos입니다 "
    "(table[:, 0::2], table[:, 1::2]).",
    "The sines fill the first half of the columns and the cosines the second. It is the same information in "
    "another column order, and some libraries use it, but the paper (§3.5) interleaves them: column 2i is a "
    "sine and the next column, 2i+1, the cosine of the same angle (table[:, 0::2], table[:, 1::2]).",
)
PE_COLUMN_EXPONENT = Advice(
    "pe-column-exponent",
    "홀수 열의 각도가 틀립니다. 지수의 2i는 열 번호가 아니라 짝의 번호 i의 두 배입니다. 열 2i와 2i+1은 "
    "같은 각도 pos / 10000^(2i/d_model)의 sin과 cos입니다. 홀수 열에 (2i+1)/d_model을 쓰면 안 됩니다.",
    "The odd columns have the wrong angle. The 2i in the exponent is twice the pair number i, not the column "
    "number: columns 2i and 2i+1 are the sine and cosine of the same angle pos / 10000^(2i/d_model). Do not "
    "use (2i+1)/d_model for the odd columns.",
)
PE_EXPONENT_I = Advice(
    "pe-exponent-i",
    "지수에 2i 대신 i를 썼습니다 (i = 0, 1, 2, …는 짝의 번호). 지수는 2i/d_model입니다: "
    "torch.arange(0, d_model, 2) / d_model. 그래야 파장이 2π에서 10000·2π까지 퍼집니다.",
    "The exponent uses i instead of 2i (i = 0, 1, 2, … numbers the pairs). The exponent is 2i/d_model: "
    "torch.arange(0, d_model, 2) / d_model, so that the wavelengths span 2π to 10000·2π.",
)
PE_DOUBLED = Advice(
    "pe-doubled",
    "지수가 두 배로 큽니다. 2i는 짝수 열의 번호(0, 2, 4, …) 그 자체입니다. torch.arange(0, d_model, 2)나 "
    "열 번호에 2를 또 곱하지 마세요: 10000 ** (two_i / d_model).",
    "The exponent is twice too large. 2i is the number of the even column itself (0, 2, 4, …): do not "
    "multiply torch.arange(0, d_model, 2), or a column number, by 2 again: 10000 ** (two_i / d_model).",
)
PE_OFF_BY_ONE = Advice(
    "pe-off-by-one",
    "위치가 1부터 시작합니다. 위치는 0부터입니다: torch.arange(length). 그래서 첫 행은 sin 0 = 0, cos 0 = 1입니다.",
    "The positions start at 1; they start at 0: torch.arange(length). The first row is therefore sin 0 = 0, "
    "cos 0 = 1.",
)
PE_MULTIPLIED = Advice(
    "pe-multiplied",
    "위치를 10000^(2i/d_model)로 나누어야 하는데 곱했습니다. 뒤쪽 열일수록 천천히 도는(파장이 긴) 파동입니다.",
    "The positions are multiplied by 10000^(2i/d_model); divide them instead. Later columns are slower waves "
    "(longer wavelengths).",
)
PE_ONLY_SIN = Advice(
    "pe-only-sin",
    "모든 열이 sin입니다. 홀수 열(2i+1)은 같은 각도의 cos입니다.",
    "Every column is a sine; the odd columns (2i+1) are the cosines of the same angles.",
)
PE_WRONG = Advice(
    "pe-wrong",
    "PE[{pos}, {col}]이 {expected:.4f}여야 하는데 {got:.4f}입니다. PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), "
    "PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))를 확인하세요.",
    "PE[{pos}, {col}] should be {expected:.4f} but it is {got:.4f}. Check PE(pos, 2i) = "
    "sin(pos / 10000^(2i/d_model)) and PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)).",
)


# --- the checks --------------------------------------------------------------------------------------------

B, T = 2, 5


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def _first_difference(got: torch.Tensor, expected: torch.Tensor, keep: int) -> tuple[int, ...]:
    """Index (over the first ``keep`` axes) of the first entry that differs."""
    differs = (got - expected).abs().flatten(keep).amax(-1) > 1e-5
    return tuple(int(i) for i in differs.nonzero()[0])


def _split_once(check: Checker, fn, x: torch.Tensor, heads: int) -> torch.Tensor:
    D = x.size(-1)
    Dh = D // heads
    result = check.call(fn, x.clone(), heads)
    if isinstance(result, torch.Tensor):
        if result.shape == (B, T, heads, Dh):
            check.fail(SPLIT_NOT_TRANSPOSED)
        if result.shape == (B * heads, T, Dh):
            check.fail(SPLIT_BATCH_MERGED)
        if heads != 3 and result.shape != (B, heads, T, Dh):  # right for 3 heads, then the wrong shape
            check.fail(SPLIT_HARDCODED, heads=heads)
    return check.tensor(result, what="split_heads(x, num_heads)", shape=(B, heads, T, Dh), dtype=x.dtype)


@exercise(split_heads)
def check_split_heads(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(B, T, 12, generator=generator)  # D = 12: H = 3 heads of Dh = 4, then H = 4 of Dh = 3
    for heads in (3, 4):
        Dh = 12 // heads
        expected = split_heads(x, heads)
        got = _split_once(check, fn, x, heads)
        if _close(got, expected):
            continue
        if _close(got, x.reshape(B, heads, T, Dh)):
            check.fail(SPLIT_RESHAPE_ONLY)
        if _close(got, x.view(B, T, Dh, heads).permute(0, 3, 1, 2)):
            check.fail(SPLIT_INTERLEAVED)
        if heads != 3:
            check.fail(SPLIT_HARDCODED, heads=heads)
        check.fail(SPLIT_WRONG, where=_first_difference(got, expected, 3))


def _merge_once(check: Checker, fn, x: torch.Tensor) -> torch.Tensor:
    _, H, _, Dh = x.shape
    try:
        result = check.call(fn, x.clone())
    except ExerciseFailed as failure:
        error = str(failure.values.get("error", ""))
        if failure.advice_id == RAISED.id and "view size is not compatible" in error:
            check.fail(MERGE_VIEW)
        raise
    if isinstance(result, torch.Tensor):
        if result.shape == (B, T, H, Dh):
            check.fail(MERGE_NOT_FLATTENED)
        if result.shape in ((B, H * T, Dh), (B * H, T, Dh)):
            check.fail(MERGE_CAT_AXIS, got=tuple(result.shape))
        if H != 3 and result.shape != (B, T, H * Dh):  # right for 3 heads, then the wrong shape
            check.fail(MERGE_HARDCODED, heads=H)
    return check.tensor(result, what="merge_heads(x)", shape=(B, T, H * Dh), dtype=x.dtype)


@exercise(merge_heads)
def check_merge_heads(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(6)
    for heads in (3, 4):  # D = 12 again: Dh = 4, then Dh = 3
        Dh = 12 // heads
        x = torch.randn(B, heads, T, Dh, generator=generator)  # (B, H, T, Dh)
        expected = merge_heads(x)
        got = _merge_once(check, fn, x)
        if _close(got, expected):
            continue
        if _close(got, x.reshape(B, T, heads * Dh)):
            check.fail(MERGE_NO_TRANSPOSE)
        if _close(got, x.permute(0, 2, 3, 1).reshape(B, T, heads * Dh)):
            check.fail(MERGE_INTERLEAVED)
        if heads != 3:
            check.fail(MERGE_HARDCODED, heads=heads)
        check.fail(MERGE_WRONG, where=_first_difference(got, expected, 2))


def _table(length: int, d_model: int, *, first: int = 0, exponent=None, angle_of=None,
           even=torch.sin, odd=torch.cos, concatenated: bool = False) -> torch.Tensor:
    """§3.5's table, or a version of it with one thing changed; in float64."""
    position = torch.arange(first, first + length, dtype=torch.float64)[:, None]  # (L, 1)
    columns = torch.arange(d_model, dtype=torch.float64)
    pair = torch.div(columns, 2, rounding_mode="floor")  # i for columns 2i and 2i+1
    power = (2 * pair if exponent is None else exponent(columns, pair)) / d_model
    angle = position / 10000**power if angle_of is None else angle_of(position, power)  # (L, D)
    if concatenated:
        half = angle[:, 0::2]  # one angle per pair
        return torch.cat([torch.sin(half), torch.cos(half)], dim=-1)
    is_even = columns % 2 == 0
    return torch.where(is_even, even(angle), odd(angle))


def _diagnoses(length: int, d_model: int) -> list[tuple[torch.Tensor, Advice]]:
    return [
        (_table(length, d_model, even=torch.cos, odd=torch.sin), PE_SWAPPED),
        (_table(length, d_model, concatenated=True), PE_CONCATENATED),
        (_table(length, d_model, exponent=lambda col, i: col), PE_COLUMN_EXPONENT),
        (_table(length, d_model, exponent=lambda col, i: i), PE_EXPONENT_I),
        (_table(length, d_model, exponent=lambda col, i: 4 * i), PE_DOUBLED),
        (_table(length, d_model, exponent=lambda col, i: 2 * col), PE_DOUBLED),
        (_table(length, d_model, first=1), PE_OFF_BY_ONE),
        (_table(length, d_model, angle_of=lambda pos, power: pos * 10000**power), PE_MULTIPLIED),
        (_table(length, d_model, odd=torch.sin), PE_ONLY_SIN),
    ]


@exercise(positional_encoding)
def check_positional_encoding(check: Checker, fn) -> None:
    for length, d_model in ((7, 10), (50, 16)):  # rows ≠ columns; positions far enough for slow waves to differ
        result = check.call(fn, length, d_model)
        if isinstance(result, torch.Tensor) and result.shape == (d_model, length):
            check.fail(PE_TRANSPOSED)
        table = check.tensor(result, what=f"positional_encoding({length}, {d_model})", shape=(length, d_model))
        if not table.is_floating_point():
            check.tensor(table, what=f"positional_encoding({length}, {d_model})", dtype=torch.float32)
        got = table.detach().to(torch.float64)
        expected = _table(length, d_model)
        if torch.allclose(got, expected, atol=1e-4):
            continue
        for wrong, advice in _diagnoses(length, d_model):
            if torch.allclose(got, wrong, atol=1e-2):  # loose: sin of a huge float32 angle is off by ~1e-3
                check.fail(advice)
        pos, col = ((got - expected).abs() > 1e-4).nonzero()[0].tolist()
        check.fail(PE_WRONG, pos=pos, col=col, expected=expected[pos, col].item(), got=got[pos, col].item())


# === Exercises that ask for more than the chapter shows =================================================
#
# attention_cost: a prediction, checked by running. What one multi-head attention layer costs when T
# queries attend to S keys: parameters, floating-point operations, and the numbers in its weights.
# Two of the three do not depend on the number of heads; one does.
#
# head_contributions: Concat(head_1, …, head_h) W^O = Σ_i head_i W_i^O, so the layer's output splits
# into one term per head (plus W^O's bias): what each head adds to each position.


def attention_cost(T: int, S: int, d_model: int, num_heads: int) -> tuple[int, int, int]:
    """(parameters, FLOPs, attention weights) of one multi-head attention layer, T queries over S keys, B = 1.

    FLOPs are those of the matrix products, a multiply–add counted as 2 (as FlopCounterMode does).
    """
    D = d_model
    parameters = 4 * D * D + 4 * D  # W^Q, W^K, W^V, W^O and their biases, whatever the number of heads
    projections = 2 * T * D * D + 2 * (2 * S * D * D) + 2 * T * D * D  # Q from T positions, K and V from S, W^O
    scores_and_sum = 2 * (2 * T * S * D)  # per head 2·T·S·D/h for QKᵀ and as much for weights @ V, h times
    weights = num_heads * T * S  # one T × S matrix per head: this grows with h
    return parameters, projections + scores_and_sum, weights


def head_contributions(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What each head adds to a self-attention layer's output: x (B, T, D) → (B, H, T, D).

    Summed over the heads, plus layer.out_proj.bias, it gives layer(x, x, x)[0].
    """
    B, T, D = x.shape
    H = layer.num_heads
    Dh = D // H
    W_Q, W_K, W_V = layer.in_proj_weight.chunk(3)  # each (D, D), one row per output feature
    b_Q, b_K, b_V = layer.in_proj_bias.chunk(3)  # each (D,)
    q = (x @ W_Q.T + b_Q).view(B, T, H, Dh).transpose(1, 2)  # (B, H, T, Dh)
    k = (x @ W_K.T + b_K).view(B, T, H, Dh).transpose(1, 2)
    v = (x @ W_V.T + b_V).view(B, T, H, Dh).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-2, -1) / Dh**0.5, dim=-1)  # each head's own d_k = D/H: (B, H, T, T)
    heads = weights @ v  # head_i: (B, H, T, Dh)
    # W^O's input columns i·Dh … (i+1)·Dh − 1 read head i: W_i^O is (Dh, D) in the paper's orientation
    W_O = layer.out_proj.weight.view(D, H, Dh).permute(1, 2, 0)  # (H, Dh, D)
    return heads @ W_O  # head_i W_i^O for every head: (B, H, T, D)


# --- advice for attention_cost --------------------------------------------------------------------------

COST_NOT_THREE = Advice(
    "cost-not-three",
    "(parameters, flops, weights) 세 정수를 튜플로 돌려주세요. 받은 것: {got}.",
    "Return a tuple of three integers, (parameters, flops, weights); got {got}.",
)
COST_PARAMS_PER_HEAD = Advice(
    "cost-params-per-head",
    "매개변수: 예측 {predicted:,}, 실제 torch.nn.MultiheadAttention({D}, {H})는 {measured:,}개입니다. 헤드마다 "
    "D × D 행렬을 따로 세었습니다. 헤드 i의 W_i^Q는 D × D/h이고, h개를 나란히 놓으면 D × D 하나가 됩니다. "
    "그래서 매개변수 수는 h와 상관이 없습니다.",
    "Parameters: you predicted {predicted:,}; torch.nn.MultiheadAttention({D}, {H}) has {measured:,}. You counted "
    "a D × D matrix for every head, but head i's W_i^Q is D × D/h, and the h of them side by side make one D × D "
    "matrix: the count does not depend on h.",
)
COST_PARAMS_NO_BIAS = Advice(
    "cost-params-no-bias",
    "매개변수: 예측 {predicted:,}, 실제 {measured:,}개. 행렬 넷(W^Q, W^K, W^V, W^O)은 맞게 세었지만 편향이 "
    "빠졌습니다. 논문의 식에는 없지만 PyTorch의 층에는 in_proj_bias (3D)와 out_proj.bias (D)가 있습니다.",
    "Parameters: you predicted {predicted:,}; the layer has {measured:,}. The four matrices (W^Q, W^K, W^V, W^O) "
    "are right, but the biases are missing: the paper's equations leave them out, PyTorch's layer has "
    "in_proj_bias (3D) and out_proj.bias (D).",
)
COST_PARAMS_NO_OUT = Advice(
    "cost-params-no-out",
    "매개변수: 예측 {predicted:,}, 실제 {measured:,}개. W^O (D × D와 편향 D)가 빠졌습니다. 헤드들을 이어 붙인 "
    "뒤 W^O가 다시 섞습니다.",
    "Parameters: you predicted {predicted:,}; the layer has {measured:,}. W^O (D × D, and its bias of D) is "
    "missing: after the heads are concatenated, W^O mixes them.",
)
COST_PARAMS_WRONG = Advice(
    "cost-params-wrong",
    "매개변수: 예측 {predicted:,}, 실제 torch.nn.MultiheadAttention({D}, {H})의 sum(p.numel())은 {measured:,}"
    "입니다. 층의 매개변수는 in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias입니다. 각 모양을 "
    "적어 보세요.",
    "Parameters: you predicted {predicted:,}; sum(p.numel()) of torch.nn.MultiheadAttention({D}, {H}) is "
    "{measured:,}. The layer's parameters are in_proj_weight, in_proj_bias, out_proj.weight and out_proj.bias: "
    "write down the shape of each.",
)
COST_FLOPS_SELF = Advice(
    "cost-flops-self",
    "FLOPs (T = {T}, S = {S}): 예측 {predicted:,}, 실행해서 센 값 {measured:,}. 셀프 어텐션처럼 모든 것을 T로 "
    "세었습니다. 키와 밸류는 S개 위치에서 투영되고(2·S·D·D씩), 점수 행렬은 T × S입니다.",
    "FLOPs (T = {T}, S = {S}): you predicted {predicted:,}; counting while running gives {measured:,}. You "
    "counted everything with T, as in self-attention. The keys and values are projected from S positions "
    "(2·S·D·D each), and the score matrix is T × S.",
)
COST_FLOPS_MACS = Advice(
    "cost-flops-macs",
    "FLOPs: 예측 {predicted:,}, 실행해서 센 값 {measured:,}, 정확히 절반입니다. 곱셈–덧셈 한 번을 1로 세었습니다. "
    "FlopCounterMode는 곱셈과 덧셈을 따로 세어 2로 셉니다: (m × n) @ (n × p)는 2·m·n·p FLOPs입니다.",
    "FLOPs: you predicted {predicted:,}; counting while running gives {measured:,}, exactly twice as many. You "
    "counted a multiply–add as 1; FlopCounterMode counts the multiply and the add, 2: (m × n) @ (n × p) is "
    "2·m·n·p FLOPs.",
)
COST_FLOPS_HEADS = Advice(
    "cost-flops-heads",
    "FLOPs (h = {H}): 예측 {predicted:,}, 실행해서 센 값 {measured:,}. 헤드마다 길이 D인 내적을 세었습니다. "
    "헤드 하나의 쿼리와 키는 길이 D/h라서, QKᵀ와 가중합은 헤드마다 T·S·D/h번의 곱셈–덧셈이고 h개를 "
    "합하면 헤드 하나짜리와 같습니다.",
    "FLOPs (h = {H}): you predicted {predicted:,}; counting while running gives {measured:,}. You counted dot "
    "products of length D for every head. A head's queries and keys have length D/h, so QKᵀ and the weighted "
    "sum take T·S·D/h multiply–adds per head, and h heads together take as many as one head of size D.",
)
COST_FLOPS_PROJECTIONS_ONLY = Advice(
    "cost-flops-projections-only",
    "FLOPs: 예측 {predicted:,}, 실행해서 센 값 {measured:,}. 네 투영만 세었습니다. 점수 QKᵀ와 가중합 "
    "weights @ V도 행렬 곱입니다.",
    "FLOPs: you predicted {predicted:,}; counting while running gives {measured:,}. You counted the four "
    "projections only: the scores QKᵀ and the weighted sum weights @ V are matrix products too.",
)
COST_FLOPS_WRONG = Advice(
    "cost-flops-wrong",
    "FLOPs (T = {T}, S = {S}, D = {D}, h = {H}): 예측 {predicted:,}, FlopCounterMode로 실행해서 센 값 "
    "{measured:,}. 행렬 곱을 하나씩 적어 보세요: 투영 넷(Q는 T개 위치, K와 V는 S개 위치, W^O는 T개 위치), "
    "점수 QKᵀ, 가중합. (m × n) @ (n × p)는 2·m·n·p FLOPs입니다.",
    "FLOPs (T = {T}, S = {S}, D = {D}, h = {H}): you predicted {predicted:,}; counting with FlopCounterMode while "
    "running gives {measured:,}. List the matrix products one by one: four projections (Q from T positions, K "
    "and V from S, W^O on T), the scores QKᵀ, the weighted sum. (m × n) @ (n × p) is 2·m·n·p FLOPs.",
)
COST_WEIGHTS_NO_HEADS = Advice(
    "cost-weights-no-heads",
    "가중치 (h = {H}): 예측 {predicted:,}, 실행해서 돌려받은 weights.numel()은 {measured:,}입니다. 헤드마다 "
    "자기 T × S 가중치를 만듭니다: 모양이 (B, h, T, S)입니다. 매개변수와 FLOPs는 h와 상관없지만, 소프트맥스를 "
    "거치는 이 텐서는 h에 비례해 커집니다.",
    "Weights (h = {H}): you predicted {predicted:,}; running returns weights.numel() = {measured:,}. Every head "
    "makes its own T × S weights, of shape (B, h, T, S): the parameters and the FLOPs do not depend on h, but "
    "this tensor, which goes through the softmax, grows in proportion to h.",
)
COST_WEIGHTS_WRONG = Advice(
    "cost-weights-wrong",
    "가중치: 예측 {predicted:,}, 실행해서 돌려받은 weights.numel()은 {measured:,}입니다 (T = {T}, S = {S}, "
    "h = {H}). 가중치는 쿼리 하나가 키마다 하나씩 갖는 숫자입니다.",
    "Weights: you predicted {predicted:,}; running returns weights.numel() = {measured:,} (T = {T}, S = {S}, "
    "h = {H}). A weight is one number per query and key.",
)

# --- advice for head_contributions ---------------------------------------------------------------------

HC_SUM_ONLY = Advice(
    "hc-sum-only",
    "모양이 (B, T, D)입니다. 헤드들의 합(층의 출력)이 아니라 헤드마다 하나씩, (B, H, T, D)를 돌려주세요.",
    "The shape is (B, T, D): return one term per head, (B, H, T, D), not their sum (the layer's output).",
)
HC_BEFORE_OUT = Advice(
    "hc-before-out",
    "모양이 (B, H, T, Dh)입니다. 헤드의 출력 head_i까지는 구했습니다. 이제 W^O 가운데 헤드 i가 맡은 부분 "
    "W_i^O (Dh × D)를 곱해 D 차원으로 돌려놓으세요.",
    "The shape is (B, H, T, Dh): you have each head's output head_i. Now multiply it by head i's part of W^O, "
    "W_i^O (Dh × D), to bring it back to D features.",
)
HC_OUT_ROWS = Advice(
    "hc-out-rows",
    "W^O에서 헤드 i의 몫을 행으로 잘랐습니다. PyTorch의 선형층은 행렬을 (출력, 입력)으로, 즉 전치해서 "
    "저장합니다. 헤드 i의 출력이 들어가는 곳은 입력 쪽이므로 out_proj.weight[:, i·Dh:(i+1)·Dh]의 열이고, "
    "논문 방향의 W_i^O는 그 전치입니다.",
    "Head i's part of W^O is cut along the rows. A PyTorch linear layer stores its matrix as (output, input), "
    "that is transposed: head i's output enters on the input side, so its part is the columns "
    "out_proj.weight[:, i·Dh:(i+1)·Dh], and the paper's W_i^O is their transpose.",
)
HC_BIAS_EACH = Advice(
    "hc-bias-each",
    "헤드마다 out_proj.bias를 더했습니다. 그러면 합에 편향이 {heads}번 들어갑니다. 편향은 헤드의 몫이 아니라 "
    "층 전체에 한 번만 더해집니다: 합 + out_proj.bias = 출력.",
    "out_proj.bias is added to every head, so the sum holds it {heads} times. The bias belongs to no head: "
    "it is added once for the whole layer, sum + out_proj.bias = output.",
)
HC_SCALE = Advice(
    "hc-scale",
    "점수를 √D로 나누었습니다. 헤드 하나의 쿼리와 키는 길이가 Dh = D/H이므로 d_k = Dh이고, √Dh로 나눕니다.",
    "The scores are divided by √D. A head's queries and keys have length Dh = D/H, so d_k = Dh: divide by √Dh.",
)
HC_NO_IN_BIAS = Advice(
    "hc-no-in-bias",
    "투영에서 편향을 빠뜨렸습니다. Q = x W^Qᵀ + b^Q처럼 in_proj_bias를 셋으로 나누어(chunk(3)) 더하세요.",
    "The projections leave out their biases: add in_proj_bias, split in three (chunk(3)), as in "
    "Q = x W^Qᵀ + b^Q.",
)
HC_INTERLEAVED = Advice(
    "hc-interleaved",
    "합은 맞지만 헤드 나누기가 틀립니다. 특징을 H개 걸러 하나씩 헤드에 주었습니다. 헤드 i는 연속된 특징 "
    "i·Dh … (i+1)·Dh − 1을 맡습니다: view(B, T, H, Dh).",
    "The sum is right, but the heads are split wrongly: each head got every H-th feature. Head i owns the "
    "consecutive features i·Dh … (i+1)·Dh − 1: view(B, T, H, Dh).",
)
HC_EQUAL_SHARES = Advice(
    "hc-equal-shares",
    "합은 맞지만 헤드마다 몫이 같습니다. 출력을 H로 나눈 것은 헤드가 실제로 더한 것이 아닙니다. 헤드 i의 출력 "
    "head_i에 W^O의 헤드 i 부분을 곱해야 합니다.",
    "The sum is right, but every head gets the same share: the output divided by H is not what each head "
    "adds. Multiply head i's output, head_i, by head i's part of W^O.",
)
HC_SUM_WRONG = Advice(
    "hc-sum-wrong",
    "헤드 {heads}개의 몫을 더하고 out_proj.bias를 더한 것이 layer(x, x, x)[0]과 다릅니다 (최대 차이 {error:.3g}). "
    "Concat(head_1, …, head_h) W^O = Σ_i head_i W_i^O를 확인하세요.",
    "The {heads} heads' terms plus out_proj.bias differ from layer(x, x, x)[0] (largest difference {error:.3g}). "
    "Check Concat(head_1, …, head_h) W^O = Σ_i head_i W_i^O.",
)
HC_WRONG = Advice(
    "hc-wrong",
    "합은 맞지만 헤드 {head}(축 1의 인덱스 {index})의 몫이 다릅니다 (최대 차이 {error:.3g}). "
    "헤드 i의 몫은 그 헤드의 출력 head_i에 "
    "W_i^O를 곱한 것입니다.",
    "The sum is right, but the term of head {head} (index {index} on axis 1) differs (largest difference "
    "{error:.3g}). Head i's term is its "
    "output head_i times W_i^O.",
)
HC_CHANGED = Advice(
    "hc-changed",
    "입력 x나 층의 매개변수가 바뀌었습니다. 제자리 연산 대신 새 텐서를 만드세요.",
    "Your function changed the input x or the layer's parameters: build new tensors instead of working in place.",
)


# --- checking attention_cost --------------------------------------------------------------------------

COST_CASES = ((5, 7, 12, 3), (5, 7, 12, 1), (9, 4, 24, 6), (4, 4, 16, 8))  # (T, S, D, h): T ≠ S first


def _measured_cost(T: int, S: int, D: int, H: int) -> tuple[int, int, int]:
    """Run it: PyTorch's layer's parameter count, and the FLOPs and weights of attnbook's layer."""
    from torch.utils.flop_counter import FlopCounterMode

    from attnbook.attention import MultiHeadAttention

    parameters = sum(p.numel() for p in torch.nn.MultiheadAttention(D, H, batch_first=True).parameters())
    layer = MultiHeadAttention(D, H)
    query, memory = torch.zeros(1, T, D), torch.zeros(1, S, D)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        _, weights = layer(query, memory, memory)
    return parameters, counter.get_total_flops(), weights.numel()


def _integers(check: Checker, result: object) -> tuple[int, int, int]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"{type(result).__name__}" + (f" (len {len(result)})" if isinstance(result, (tuple, list)) else "")
        check.fail(COST_NOT_THREE, got=got)
    found = []
    for value in result:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)  # NumPy integers too
        if isinstance(value, bool) or not isinstance(value, int):
            check.fail(COST_NOT_THREE, got=f"({', '.join(type(v).__name__ for v in result)})")
        found.append(value)
    return found[0], found[1], found[2]


@exercise(attention_cost)
def check_attention_cost(check: Checker, fn) -> None:
    for T_, S_, D_, H_ in COST_CASES:
        parameters, flops, weights = _integers(check, check.call(fn, T_, S_, D_, H_))
        measured = _measured_cost(T_, S_, D_, H_)
        values = {"T": T_, "S": S_, "D": D_, "H": H_}
        if parameters != measured[0]:
            values.update(predicted=parameters, measured=measured[0])
            for wrong, advice in ((4 * D_ * D_ * H_ + 4 * D_, COST_PARAMS_PER_HEAD),
                                  (4 * D_ * D_ * H_ + 4 * D_ * H_, COST_PARAMS_PER_HEAD),
                                  (4 * D_ * D_, COST_PARAMS_NO_BIAS), (3 * D_ * D_ + 3 * D_, COST_PARAMS_NO_OUT),
                                  (3 * D_ * D_, COST_PARAMS_NO_OUT)):
                if parameters == wrong:
                    check.fail(advice, **values)
            check.fail(COST_PARAMS_WRONG, **values)
        if flops != measured[1]:
            values.update(predicted=flops, measured=measured[1])
            projections = 2 * (2 * T_ + 2 * S_) * D_ * D_
            for wrong, advice in ((2 * 4 * T_ * D_ * D_ + 4 * T_ * T_ * D_, COST_FLOPS_SELF),
                                  (measured[1] // 2, COST_FLOPS_MACS),
                                  (projections + 4 * T_ * S_ * D_ * H_, COST_FLOPS_HEADS),
                                  (projections, COST_FLOPS_PROJECTIONS_ONLY)):
                if flops == wrong and wrong != measured[1]:
                    check.fail(advice, **values)
            check.fail(COST_FLOPS_WRONG, **values)
        if weights != measured[2]:
            values.update(predicted=weights, measured=measured[2])
            if weights == T_ * S_:
                check.fail(COST_WEIGHTS_NO_HEADS, **values)
            check.fail(COST_WEIGHTS_WRONG, **values)


# --- checking head_contributions ------------------------------------------------------------------------


def _attention_layer(D: int, H: int, generator: torch.Generator) -> torch.nn.Module:
    """A MultiHeadAttention with every parameter random, biases included (they start at zero)."""
    from attnbook.attention import MultiHeadAttention

    layer = MultiHeadAttention(D, H)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * parameter.size(-1) ** -0.5)
    return layer.eval()


def _contributions(layer: torch.nn.Module, x: torch.Tensor, *, scale: float | None = None,
                   in_bias: bool = True, interleaved: bool = False, out_rows: bool = False) -> torch.Tensor:
    """head_contributions with one thing changed, for the diagnoses."""
    B, T_, D = x.shape
    H = layer.num_heads
    Dh = D // H
    W = layer.in_proj_weight.chunk(3)
    b = layer.in_proj_bias.chunk(3) if in_bias else (0, 0, 0)

    def split(t: torch.Tensor) -> torch.Tensor:
        if interleaved:
            return t.view(B, T_, Dh, H).permute(0, 3, 1, 2)
        return t.view(B, T_, H, Dh).transpose(1, 2)

    q, k, v = (split(x @ W[i].T + b[i]) for i in range(3))
    weights = torch.softmax(q @ k.transpose(-2, -1) / (Dh**0.5 if scale is None else scale), dim=-1)
    heads = weights @ v
    W_O = layer.out_proj.weight
    if out_rows:  # rows i·Dh … (i+1)·Dh − 1 of PyTorch's (output, input) matrix: (H, Dh, D)
        return heads @ W_O.view(H, Dh, D)
    W_O = W_O.view(D, Dh, H).permute(2, 1, 0) if interleaved else W_O.view(D, H, Dh).permute(1, 2, 0)
    return heads @ W_O


@exercise(head_contributions)
def check_head_contributions(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(55)
    for heads in (3, 4):  # D = 12: Dh = 4, then Dh = 3
        layer = _attention_layer(12, heads, generator)
        x = torch.randn(B, T, 12, generator=generator)
        before = [p.detach().clone() for p in layer.parameters()]
        copy = x.clone()
        with torch.no_grad():
            result = check.call(fn, layer, x)
            output, _ = layer(x, x, x)
            expected = head_contributions(layer, x)
        unchanged = all(torch.equal(p, q) for p, q in zip(layer.parameters(), before, strict=True))
        if not torch.equal(x, copy) or not unchanged:
            check.fail(HC_CHANGED)
        if isinstance(result, torch.Tensor):
            if result.shape == (B, T, 12):
                check.fail(HC_SUM_ONLY)
            if result.shape == (B, heads, T, 12 // heads):
                check.fail(HC_BEFORE_OUT)
        got = check.tensor(result, what="head_contributions(layer, x)", shape=(B, heads, T, 12),
                           dtype=torch.float32).detach()
        if _close(got, expected):
            continue
        bias = layer.out_proj.bias.detach()
        total = got.sum(dim=1) + bias  # (B, T, D)
        with torch.no_grad():
            diagnoses = [
                (expected + bias, HC_BIAS_EACH),
                (_contributions(layer, x, out_rows=True), HC_OUT_ROWS),
                (_contributions(layer, x, scale=12**0.5), HC_SCALE),
                (_contributions(layer, x, in_bias=False), HC_NO_IN_BIAS),
                (((output - bias) / heads)[:, None].expand(-1, heads, -1, -1), HC_EQUAL_SHARES),
                (_contributions(layer, x, interleaved=True), HC_INTERLEAVED),
            ]
        for wrong, advice in diagnoses:
            if _close(got, wrong):
                check.fail(advice, heads=heads)
        if not _close(total, output):
            check.fail(HC_SUM_WRONG, heads=heads, error=(total - output).abs().max().item())
        index = int((got - expected).abs().flatten(2).amax(-1).amax(0).argmax())
        check.fail(HC_WRONG, head=index + 1, index=index, error=(got[:, index] - expected[:, index]).abs().max().item())

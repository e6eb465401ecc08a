"""Chapter 5 (멀티헤드 어텐션과 위치 인코딩 / Multi-head attention and positional encoding).

Splitting a projection into heads and merging the heads back (Vaswani et al., 2017,
§3.2.2), and the sinusoidal positional encoding (§3.5).

Shapes: B batch · T length · D model · H heads · Dh = D/H · L table length. The checks
use sizes that all differ (B=2, T=5, H=3, Dh=4 and then H=4, Dh=3), so that a mixed-up
axis cannot give the right answer. Head i owns features i·Dh … (i+1)·Dh − 1 of every
position, the layout of ``attnbook.attention.MultiHeadAttention`` and of
``torch.nn.MultiheadAttention``.
"""

from __future__ import annotations

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

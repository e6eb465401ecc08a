"""Chapter 5 (멀티헤드 어텐션과 위치 인코딩 / Multi-head attention and positional encoding).

Two exercises that ask for more than the chapter shows line by line (Vaswani et al., 2017, §3.2.2):
what one multi-head attention layer costs when T queries attend to S keys (``attention_cost``,
predicted, then checked by running the layer), and what each head adds to the layer's output
(``head_contributions``).

Shapes: B batch · T queries · S keys · D model · H heads · Dh = D/H. The checks use sizes that all
differ (B=2, T=5, D=12, H=3 and then H=4; T ≠ S for the cost), so that a mixed-up axis cannot give
the right answer. Head i owns features i·Dh … (i+1)·Dh − 1 of every position, the layout of
``attnbook.attention.MultiHeadAttention`` and of ``torch.nn.MultiheadAttention``.
"""

from __future__ import annotations

import torch

from attnbook.exercises.checking import Advice, Checker, as_integer, exercise

B, T = 2, 5


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


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
    found = [as_integer(value) for value in result]
    if None in found:
        check.fail(COST_NOT_THREE, got=f"({', '.join(type(v).__name__ for v in result)})")
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

"""Chapter 6 (트랜스포머 / The Transformer): the decoder's masks and one encoder layer's forward pass.

Shapes: B batch · S source length · T target length · D model · H heads · F d_ff.
Masks are boolean, True = may attend. The checks use sizes that all differ (B=3,
S=7, T=5; D=12, H=3, F=20), so that a mixed-up axis cannot give the right answer,
and a layer whose LayerNorm and bias values are far from their initial 1 and 0, so
that a swapped or missing normalisation shows.
"""

from __future__ import annotations

import torch

from attnbook.exercises.checking import RAISED, Advice, Checker, ExerciseFailed, exercise
from attnbook.language import text
from attnbook.transformer import EncoderLayer


def decoder_masks(src: torch.Tensor, tgt_in: torch.Tensor,
                  pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's masks: self-attention (B, 1, T, T), encoder–decoder (B, 1, 1, S).

    In the self-attention, query t may see key s when s ≤ t (nothing from the
    future) and tgt_in[s] is a real token; in the encoder–decoder attention,
    every query may see every real source token.
    """
    T = tgt_in.size(1)
    causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).tril()  # s ≤ t
    self_mask = causal & (tgt_in != pad_id)[:, None, None, :]  # (B, 1, T, T)
    cross_mask = (src != pad_id)[:, None, None, :]  # every query alike: (B, 1, 1, S)
    return self_mask, cross_mask


def encoder_layer_forward(layer: EncoderLayer, x: torch.Tensor,
                          mask: torch.Tensor | None = None) -> torch.Tensor:
    """One post-norm encoder layer (§3.1) from its parts: x (B, S, D) → (B, S, D).

    Each sub-layer is wrapped as LayerNorm(x + Dropout(Sublayer(x))): first
    multi-head self-attention, then the feed-forward network of eq. (2),
    max(0, x W_1 + b_1) W_2 + b_2.
    """
    attended, _ = layer.self_attn(x, x, x, mask)  # Q, K and V all from x: (B, S, D)
    x = layer.norm1(x + layer.dropout1(attended))  # residual, then LayerNorm
    hidden = layer.dropout(torch.relu(layer.linear1(x)))  # max(0, x W_1 + b_1): (B, S, F)
    x = layer.norm2(x + layer.dropout2(layer.linear2(hidden)))  # W_2, residual, norm
    return x


# --- advice for decoder_masks ------------------------------------------------------------------------------

DM_NOT_A_PAIR = Advice(
    "dm-not-a-pair",
    "(self_mask, cross_mask) 두 텐서를 튜플로 돌려주어야 합니다. 받은 것: {got}.",
    "Return a tuple of two tensors, (self_mask, cross_mask); got {got}.",
)
DM_SWAPPED = Advice(
    "dm-swapped",
    "두 마스크의 순서가 바뀌었습니다. 셀프 어텐션의 마스크 (B, 1, T, T)를 먼저, 인코더–디코더 어텐션의 마스크 "
    "(B, 1, 1, S)를 나중에 돌려주세요.",
    "The two masks are swapped: return the self-attention mask (B, 1, T, T) first, then the encoder–decoder "
    "attention mask (B, 1, 1, S).",
)
DM_NO_HEAD_AXIS = Advice(
    "dm-no-head-axis",
    "{what}의 모양이 {got}입니다. 헤드 축이 빠졌습니다. 마스크가 모든 헤드에 똑같이 쓰이도록 길이 1인 축을 "
    "두 번째 자리에 끼워 {expected}로 만드세요 (예: mask[:, None]).",
    "{what} has shape {got}: the head axis is missing. Insert an axis of size 1 in second place, so that the "
    "same mask serves every head, to get {expected} (e.g. mask[:, None]).",
)
DM_CROSS_FROM_TARGET = Advice(
    "dm-cross-from-target",
    "cross_mask의 마지막 축 길이가 T입니다. 인코더–디코더 어텐션의 키와 밸류는 인코더의 출력, 곧 원문 위치이므로 "
    "마스크는 tgt_in이 아니라 src의 패딩으로 만듭니다: (src != pad_id)[:, None, None, :].",
    "The last axis of cross_mask has length T. In encoder–decoder attention the keys and values are the "
    "encoder's output, one per source position, so the mask comes from the padding of src, not of tgt_in: "
    "(src != pad_id)[:, None, None, :].",
)
DM_CROSS_ON_QUERIES = Advice(
    "dm-cross-on-queries",
    "cross_mask의 원문 축이 쿼리 자리(세 번째 축)에 있습니다. 원문 위치는 키이므로 마지막 축에 두세요: "
    "(B, 1, 1, S).",
    "The source axis of cross_mask is in the place of the queries (the third axis). Source positions are the "
    "keys, so put them on the last axis: (B, 1, 1, S).",
)
DM_SELF_FROM_SOURCE = Advice(
    "dm-self-from-source",
    "self_mask의 모양이 (B, 1, S, S)입니다. 디코더의 셀프 어텐션은 지금까지의 번역 tgt_in의 위치들끼리 보는 "
    "어텐션이므로 T × T입니다.",
    "self_mask has shape (B, 1, S, S). The decoder's self-attention relates the positions of the translation "
    "so far, tgt_in, to each other: it is T × T.",
)
DM_INVERTED = Advice(
    "dm-inverted",
    "{what}의 True와 False가 뒤바뀌었습니다. 이 책의 마스크는 True = 볼 수 있음입니다. torch.nn의 "
    "tgt_mask와 key_padding_mask는 반대(True = 가림)이니 섞지 마세요.",
    "True and False are swapped in {what}. The book's masks say True = may attend; torch.nn's tgt_mask and "
    "key_padding_mask use the opposite (True = masked out), so do not mix the two.",
)
DM_NO_CAUSAL = Advice(
    "dm-no-causal",
    "self_mask가 미래를 가리지 않습니다. 이대로 학습하면 위치 t가 교사 강요로 들어온 정답 y_t, y_(t+1), …를 "
    "보고 베끼게 되고, 그 정답이 없는 생성 때는 쓸모가 없습니다. s ≤ t인 키만 허락하세요: torch.ones(T, T)"
    ".tril().",
    "self_mask does not hide the future. Trained like this, position t would see the reference tokens "
    "y_t, y_(t+1), … that teacher forcing feeds in and copy them, which is useless when generating, where "
    "they do not exist. Allow only keys s ≤ t: torch.ones(T, T).tril().",
)
DM_FUTURE = Advice(
    "dm-future",
    "인과 마스크의 방향이 거꾸로입니다. 쿼리 t(행)는 s ≤ t인 키(열), 곧 대각선과 그 아래를 볼 수 있습니다: "
    "tril을 쓰세요 (triu가 아니라).",
    "The causal mask points the wrong way: query t (a row) may see keys s ≤ t (columns), the diagonal and "
    "below. Use tril, not triu.",
)
DM_NO_DIAGONAL = Advice(
    "dm-no-diagonal",
    "대각선이 False입니다. 위치 t는 자기 자신(그 자리에 입력된 토큰)은 볼 수 있어야 합니다. 첫 위치 <s>는 볼 곳이 "
    "하나도 없게 됩니다. tril(diagonal=0), 곧 s ≤ t를 쓰세요.",
    "The diagonal is False, but position t may see itself (the token given to it as input); the first position, <s>, "
    "would have nothing at all to look at. Use tril with diagonal=0, i.e. s ≤ t.",
)
DM_NO_TARGET_PADDING = Advice(
    "dm-no-target-padding",
    "self_mask가 tgt_in의 패딩을 가리지 않습니다. 실제 토큰은 인과 마스크 덕분에 뒤에 붙은 패딩을 어차피 보지 "
    "못하지만, 패딩 위치의 쿼리는 앞선 패딩을 보게 됩니다. 키가 패딩인 열을 False로 만드세요: "
    "(tgt_in != pad_id)[:, None, None, :]와 &.",
    "self_mask does not hide the padding of tgt_in. Real tokens never see the padding after them anyway, "
    "thanks to the causal mask, but the queries at padding positions would see earlier padding. Make the "
    "columns of padding keys False: & with (tgt_in != pad_id)[:, None, None, :].",
)
DM_PAD_ON_QUERIES = Advice(
    "dm-pad-on-queries",
    "패딩을 쿼리 축(행)에 적용했습니다. 패딩 토큰은 키(열, 마지막 축)에서 가립니다: "
    "(tgt_in != pad_id)[:, None, None, :].",
    "The padding is applied along the query axis (rows). A padding token is hidden as a key (a column, the "
    "last axis): (tgt_in != pad_id)[:, None, None, :].",
)
DM_OR = Advice(
    "dm-or",
    "인과 마스크와 패딩 마스크를 |(또는)로 합쳤습니다. 둘 다 허락해야 볼 수 있으므로 &(그리고)로 합치세요.",
    "The causal and the padding mask are combined with | (or). A key may be seen only if both allow it: "
    "combine them with & (and).",
)
DM_CROSS_NO_PADDING = Advice(
    "dm-cross-no-padding",
    "cross_mask가 원문의 패딩을 가리지 않습니다. 짧은 문장의 디코더가 패딩 위치의 인코더 출력을 읽게 됩니다. "
    "src == pad_id인 키는 False여야 합니다.",
    "cross_mask does not hide the source's padding: the decoder of a short sentence would read the encoder's "
    "output at padding positions. Keys where src == pad_id must be False.",
)
DM_CROSS_CAUSAL = Advice(
    "dm-cross-causal",
    "cross_mask에 인과 마스크를 씌웠습니다. 인코더는 원문 전체를 이미 읽었으므로, 디코더는 어느 단계에서든 원문의 "
    "모든 위치를 볼 수 있습니다. 가릴 것은 원문의 패딩뿐입니다.",
    "cross_mask has a causal mask in it. The encoder has read the whole source already, so at every step the "
    "decoder may look at every source position; only the source's padding is hidden.",
)
DM_PAD_ID = Advice(
    "dm-pad-id",
    "pad_id가 0일 때만 맞습니다. 0을 직접 쓰지 말고 인자로 받은 pad_id와 비교하세요.",
    "Right only when pad_id is 0: compare with the pad_id argument instead of writing 0.",
)
DM_CHANGED_INPUT = Advice(
    "dm-changed-input",
    "입력 {name}이(가) 바뀌었습니다. 제자리 연산 대신 새 텐서를 만드세요.",
    "Your function changed its input `{name}`. Build new tensors instead of working in place.",
)
DM_WRONG = Advice(
    "dm-wrong",
    "{what}이(가) 틀립니다 (pad_id = {pad_id}). {sentence}번 문장의 마스크가\n{got}\n인데, 기대한 마스크는\n"
    "{expected}\n입니다 (행 = 쿼리, 열 = 키, 1 = 볼 수 있음).",
    "{what} is wrong (pad_id = {pad_id}). For sentence {sentence} you returned\n{got}\nbut the expected mask "
    "is\n{expected}\n(rows = queries, columns = keys, 1 = may attend).",
)

# --- advice for encoder_layer_forward ----------------------------------------------------------------------

EL_RETURNED_PAIR = Advice(
    "el-returned-pair",
    "(x, 가중치) 튜플을 돌려주었습니다. 이 함수는 층의 출력 x (B, S, D) 하나만 돌려줍니다.",
    "You returned a tuple (x, weights); this function returns only the layer's output x (B, S, D).",
)
EL_ATTENTION_TUPLE = Advice(
    "el-attention-tuple",
    "layer.self_attn(...)은 (출력, 가중치) 튜플을 돌려줍니다. attended, _ = layer.self_attn(x, x, x, mask)처럼 "
    "출력만 꺼내 쓰세요. 받은 오류: {error}",
    "layer.self_attn(...) returns a tuple (output, weights): take the output, as in "
    "attended, _ = layer.self_attn(x, x, x, mask). The error was: {error}",
)
EL_PRE_NORM = Advice(
    "el-pre-norm",
    "사전 정규화(pre-norm) 순서입니다: x + Sublayer(LayerNorm(x)). 논문(§3.1)과 이 연습 문제는 사후 "
    "정규화(post-norm)입니다. 먼저 더하고 그다음 정규화하세요: x = layer.norm1(x + attended).",
    "This is the pre-norm order, x + Sublayer(LayerNorm(x)). The paper (§3.1) and this exercise use "
    "post-norm: add first, then normalise, x = layer.norm1(x + attended).",
)
EL_NO_RESIDUAL = Advice(
    "el-no-residual",
    "잔차 연결이 빠졌습니다 ({where}). 각 부분층의 출력은 LayerNorm(x + Sublayer(x))입니다. 정규화하기 전에 "
    "부분층의 입력 x를 더하세요.",
    "A residual connection is missing ({where}). Each sub-layer's output is LayerNorm(x + Sublayer(x)): add "
    "the sub-layer's input x before normalising.",
)
EL_RESIDUAL_AFTER_NORM = Advice(
    "el-residual-after-norm",
    "정규화한 뒤에 더했습니다: x + LayerNorm(Sublayer(x)). 논문의 식은 합 전체를 정규화합니다: "
    "LayerNorm(x + Sublayer(x)).",
    "You normalise and then add: x + LayerNorm(Sublayer(x)). The paper normalises the whole sum: "
    "LayerNorm(x + Sublayer(x)).",
)
EL_RELU_PLACE = Advice(
    "el-relu-place",
    "ReLU의 자리가 틀립니다. 식 (2)는 FFN(x) = max(0, x W_1 + b_1) W_2 + b_2로, ReLU는 두 선형층 사이 "
    "(linear1 뒤, linear2 앞)에만 있습니다. linear2의 출력에는 ReLU를 씌우지 않습니다.",
    "The ReLU is in the wrong place. Eq. (2) is FFN(x) = max(0, x W_1 + b_1) W_2 + b_2: the ReLU sits only "
    "between the two linear layers (after linear1, before linear2), never on linear2's output.",
)
EL_NO_RELU = Advice(
    "el-no-relu",
    "피드포워드 신경망에 ReLU가 없습니다. 그러면 linear2(linear1(x))는 선형층 하나와 같습니다. "
    "linear1의 출력에 torch.relu를 씌우세요 (식 2의 max(0, ·)).",
    "The feed-forward network has no ReLU, so linear2(linear1(x)) is just one linear layer. Apply "
    "torch.relu to linear1's output (the max(0, ·) of eq. 2).",
)
EL_GELU = Advice(
    "el-gelu",
    "활성화 함수로 GELU를 썼습니다. 요즘 모델들은 GELU를 많이 쓰지만, 식 (2)와 이 층(activation=\"relu\")은 "
    "ReLU, 곧 max(0, ·)입니다: torch.relu(layer.linear1(x)).",
    "You used GELU as the activation. Many recent models do, but eq. (2) and this layer "
    "(activation=\"relu\") use ReLU, max(0, ·): torch.relu(layer.linear1(x)).",
)
EL_MASK_INVERTED = Advice(
    "el-mask-inverted",
    "mask를 뒤집었습니다. 이 책의 마스크는 True = 볼 수 있음이고 layer.self_attn도 그 규칙을 따르므로, 받은 "
    "mask를 그대로 넘기세요 (~mask는 torch.nn의 규칙입니다).",
    "The mask is inverted. The book's masks say True = may attend, and layer.self_attn follows that "
    "convention: pass the mask on as it is (~mask is torch.nn's convention).",
)
EL_MASK_IGNORED = Advice(
    "el-mask-ignored",
    "mask를 쓰지 않았습니다. 패딩 위치가 가려지도록 layer.self_attn(x, x, x, mask)에 넘기세요.",
    "The mask is not used: pass it to layer.self_attn(x, x, x, mask) so that padding is hidden.",
)
EL_FFN_INPUT = Advice(
    "el-ffn-input",
    "피드포워드 부분층이 층의 원래 입력을 읽었습니다. 두 부분층은 차례로 이어집니다. 피드포워드 신경망과 그 "
    "잔차 연결에는 첫 부분층(어텐션 + 더하기 + 정규화)의 출력을 쓰세요.",
    "The feed-forward sub-layer reads the layer's original input. The two sub-layers come one after the "
    "other: the feed-forward network and its residual connection take the output of the first sub-layer "
    "(attention, add, normalise).",
)
EL_NORMS_SWAPPED = Advice(
    "el-norms-swapped",
    "두 LayerNorm을 바꿔 썼습니다. 어텐션 부분층 뒤에는 layer.norm1, 피드포워드 부분층 뒤에는 layer.norm2입니다 "
    "(각자 학습된 γ, β가 있습니다).",
    "The two LayerNorms are swapped: layer.norm1 follows the attention sub-layer, layer.norm2 the "
    "feed-forward one (each has its own learned γ and β).",
)
EL_ONE_NORM = Advice(
    "el-one-norm",
    "두 부분층에 같은 LayerNorm을 썼습니다. 어텐션 뒤에는 layer.norm1, 피드포워드 뒤에는 layer.norm2를 쓰세요 "
    "(각자 학습된 γ, β가 있습니다).",
    "The same LayerNorm is used after both sub-layers: use layer.norm1 after the attention and layer.norm2 "
    "after the feed-forward network (each has its own learned γ and β).",
)
EL_DROPOUT_ACTIVE = Advice(
    "el-dropout-active",
    "같은 입력에 두 번 부른 결과가 다릅니다. 평가 모드(eval)인데 드롭아웃이 켜져 있습니다. "
    "torch.nn.functional.dropout은 training=True가 기본값입니다. 층의 모듈(layer.dropout, layer.dropout1, "
    "layer.dropout2)을 쓰면 layer.eval()을 따라 평가 때 꺼집니다.",
    "Two calls on the same input give different results: dropout is active although the layer is in eval "
    "mode. torch.nn.functional.dropout defaults to training=True; the layer's own modules (layer.dropout, "
    "layer.dropout1, layer.dropout2) follow layer.eval() and are off in evaluation.",
)
EL_TRAIN_MODE = Advice(
    "el-train-mode",
    "함수가 layer를 학습 모드로 바꾸었습니다 (layer.train()). 모드는 부르는 쪽이 정합니다. 함수 안에서 "
    "바꾸지 마세요.",
    "Your function switched the layer to training mode (layer.train()). The caller chooses the mode; do not "
    "change it inside the function.",
)
EL_CHANGED_INPUT = Advice(
    "el-changed-input",
    "입력 {name}이(가) 바뀌었습니다. x += ... 같은 제자리 연산 대신 x = x + ...처럼 새 텐서를 만드세요.",
    "Your function changed its input `{name}`. Instead of in-place operations such as x += ..., build a new "
    "tensor: x = x + ....",
)
EL_WRONG = Advice(
    "el-wrong",
    "출력이 EncoderLayer와 다릅니다{case} (최대 차이 {error:.3g}). 순서를 확인하세요: 어텐션 → 더하기 → norm1 → "
    "linear1 → ReLU → linear2 → 더하기 → norm2.",
    "The output differs from EncoderLayer's{case} (largest difference {error:.3g}). Check the order: "
    "attention → add → norm1 → linear1 → ReLU → linear2 → add → norm2.",
)


# --- checking decoder_masks --------------------------------------------------------------------------------

B, S, T = 3, 7, 5
D, H, F = 12, 3, 20
SOURCE_LENGTHS = (7, 4, 1)
TARGET_LENGTHS = (5, 3, 2)


def _show(mask: torch.Tensor) -> str:
    return "\n".join(" ".join("1" if x else "0" for x in row) for row in mask.tolist())


def _ids(lengths: tuple[int, ...], size: int, pad_id: int, first: int) -> torch.Tensor:
    """(B, size) token ids, all different from pad_id, padded with pad_id after each sentence's length."""
    tokens = torch.arange(first, first + len(lengths) * size).view(len(lengths), size)
    tokens = torch.where(tokens >= pad_id, tokens + 1, tokens)  # never pad_id by accident
    return torch.where(torch.arange(size) < torch.tensor(lengths)[:, None], tokens, pad_id)


def _pair_of_masks(check: Checker, result: object) -> tuple[torch.Tensor, torch.Tensor]:
    """The reader's (self_mask, cross_mask), with their shapes checked."""
    if not isinstance(result, (tuple, list)) or len(result) != 2 or not all(
            isinstance(part, torch.Tensor) for part in result):
        got = text(f"모양이 {tuple(result.shape)}인 텐서 하나", f"one tensor of shape {tuple(result.shape)}") \
            if isinstance(result, torch.Tensor) else type(result).__name__
        check.fail(DM_NOT_A_PAIR, got=got)
    self_mask, cross_mask = result
    if self_mask.shape == (B, 1, 1, S) and cross_mask.shape == (B, 1, T, T):
        check.fail(DM_SWAPPED)
    if self_mask.shape == (B, T, T):
        check.fail(DM_NO_HEAD_AXIS, what="self_mask", got=(B, T, T), expected=(B, 1, T, T))
    if self_mask.shape == (B, 1, S, S):
        check.fail(DM_SELF_FROM_SOURCE)
    check.tensor(self_mask, what="self_mask", shape=(B, 1, T, T), dtype=torch.bool)
    if cross_mask.dim() == 4 and cross_mask.shape[0] == B and cross_mask.shape[-1] == T:
        check.fail(DM_CROSS_FROM_TARGET)
    if cross_mask.shape in ((B, S, 1), (B, 1, S, 1)):
        check.fail(DM_CROSS_ON_QUERIES)
    if cross_mask.shape in ((B, S), (B, 1, S)):
        check.fail(DM_NO_HEAD_AXIS, what="cross_mask", got=tuple(cross_mask.shape), expected=(B, 1, 1, S))
    if cross_mask.shape != (B, 1, T, S):  # one row per query is more than needed, but right if the rows agree
        check.tensor(cross_mask, what="cross_mask", shape=(B, 1, 1, S), dtype=torch.bool)
    check.tensor(cross_mask, what="cross_mask", dtype=torch.bool)
    return self_mask, cross_mask.expand(B, 1, T, S)


@exercise(decoder_masks)
def check_decoder_masks(check: Checker, fn) -> None:
    tril = torch.ones(T, T, dtype=torch.bool).tril()
    for pad_id in (0, 5):
        src, tgt_in = _ids(SOURCE_LENGTHS, S, pad_id, 10), _ids(TARGET_LENGTHS, T, pad_id, 40)
        src_copy, tgt_copy = src.clone(), tgt_in.clone()
        self_mask, cross_mask = _pair_of_masks(check, check.call(fn, src, tgt_in, pad_id))
        for name, tensor, copy in (("src", src, src_copy), ("tgt_in", tgt_in, tgt_copy)):
            if not torch.equal(tensor, copy):
                check.fail(DM_CHANGED_INPUT, name=name)
        expected_self, expected_cross = decoder_masks(src, tgt_in, pad_id)
        real_tgt = (tgt_in != pad_id)[:, None, None, :]  # (B, 1, 1, T)
        if not torch.equal(self_mask, expected_self):
            diagnoses = [
                (~expected_self, DM_INVERTED),
                (decoder_masks(src, tgt_in, 0)[0], DM_PAD_ID),
                (real_tgt.expand(B, 1, T, T), DM_NO_CAUSAL),
                (tril.expand(B, 1, T, T), DM_NO_TARGET_PADDING),
                (tril.T & real_tgt, DM_FUTURE),
                (tril.tril(-1) & real_tgt, DM_NO_DIAGONAL),
                (tril & real_tgt.transpose(-2, -1), DM_PAD_ON_QUERIES),
                (tril | real_tgt, DM_OR),
            ]
            for wrong, advice in diagnoses:
                if torch.equal(self_mask, wrong):
                    check.fail(advice, what="self_mask")
            b = int((self_mask != expected_self).flatten(1).any(dim=1).nonzero()[0])
            check.fail(DM_WRONG, what="self_mask", pad_id=pad_id, sentence=b, got=_show(self_mask[b, 0]),
                       expected=_show(expected_self[b, 0]))
        expected_cross = expected_cross.expand(B, 1, T, S)
        if not torch.equal(cross_mask, expected_cross):
            diagnoses = [
                (~expected_cross, DM_INVERTED),
                (decoder_masks(src, tgt_in, 0)[1].expand(B, 1, T, S), DM_PAD_ID),
                (torch.ones(B, 1, T, S, dtype=torch.bool), DM_CROSS_NO_PADDING),
                (expected_cross & torch.ones(T, S, dtype=torch.bool).tril(), DM_CROSS_CAUSAL),
            ]
            for wrong, advice in diagnoses:
                if torch.equal(cross_mask, wrong):
                    check.fail(advice, what="cross_mask")
            b = int((cross_mask != expected_cross).flatten(1).any(dim=1).nonzero()[0])
            check.fail(DM_WRONG, what="cross_mask", pad_id=pad_id, sentence=b, got=_show(cross_mask[b, 0]),
                       expected=_show(expected_cross[b, 0]))


# --- checking encoder_layer_forward ------------------------------------------------------------------------


def _layer(generator: torch.Generator) -> EncoderLayer:
    """A post-norm layer with dropout 0.1 (off in eval) and parameters far from their initial values."""
    layer = EncoderLayer(D, H, F, dropout=0.1)
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if parameter.dim() == 2:  # weights: variance 1 / fan-in
                parameter.copy_(noise * parameter.size(1) ** -0.5)
            elif name.startswith("norm") and name.endswith("weight"):  # LayerNorm γ around 1
                parameter.copy_(1.0 + 0.3 * noise)
            else:  # biases and LayerNorm β
                parameter.copy_(0.5 * noise)
    return layer.eval()


def _variant(layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor | None, *, pre_norm: bool = False,
             attention_residual: bool = True, ffn_residual: bool = True, add_after_norm: bool = False,
             relu: str = "between", ffn_reads_input: bool = False, norms: str = "12") -> torch.Tensor:
    """The encoder layer with one part done wrong; the defaults give the right answer."""
    norm_a, norm_f = {"12": (layer.norm1, layer.norm2), "21": (layer.norm2, layer.norm1),
                      "11": (layer.norm1, layer.norm1), "22": (layer.norm2, layer.norm2)}[norms]

    def ffn(h: torch.Tensor) -> torch.Tensor:
        inner = layer.linear1(h)
        if relu in ("between", "both"):
            inner = torch.relu(inner)
        elif relu == "gelu":
            inner = torch.nn.functional.gelu(inner)
        out = layer.linear2(inner)
        return torch.relu(out) if relu in ("after", "both") else out

    def wrap(h: torch.Tensor, sublayer, norm, residual: bool) -> torch.Tensor:
        if pre_norm:
            return h + sublayer(norm(h))
        if add_after_norm:
            return h + norm(sublayer(h))
        return norm(h + sublayer(h)) if residual else norm(sublayer(h))

    def attention(h: torch.Tensor) -> torch.Tensor:
        return layer.self_attn(h, h, h, mask)[0]

    with torch.no_grad():
        first = wrap(x, attention, norm_a, attention_residual)
        if ffn_reads_input:
            return norm_f(first + ffn(x)) if ffn_residual else norm_f(ffn(x))
        return wrap(first, ffn, norm_f, ffn_residual)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def _call_layer(check: Checker, fn, layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The reader's output, checked for form; the layer's mode and the inputs must be left alone."""
    copies = (x.clone(), None if mask is None else mask.clone())
    try:
        result = check.call(fn, layer, x, mask)
    except ExerciseFailed as failure:
        error = failure.values.get("error", "") if failure.advice_id == RAISED.id else ""
        if "tuple" in error:
            check.fail(EL_ATTENTION_TUPLE, error=error)
        raise
    if layer.training:
        check.fail(EL_TRAIN_MODE)
    for name, tensor, copy in (("x", x, copies[0]), ("mask", mask, copies[1])):
        if tensor is not None and not torch.equal(tensor, copy):
            check.fail(EL_CHANGED_INPUT, name=name)
    if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[0], torch.Tensor):
        check.fail(EL_RETURNED_PAIR)
    return check.tensor(result, what=text("출력", "the output"), shape=tuple(x.shape), dtype=x.dtype)


@exercise(encoder_layer_forward)
def check_encoder_layer_forward(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(6)
    layer = _layer(generator)
    x = torch.randn(B, S, D, generator=generator)
    lengths = torch.tensor(SOURCE_LENGTHS)
    mask = (torch.arange(S) < lengths[:, None])[:, None, None, :]  # padding: (B, 1, 1, S)
    for case_mask, case in ((mask, text(" (패딩 마스크가 있을 때)", " (with a padding mask)")),
                            (None, text(" (mask=None일 때)", " (with mask=None)"))):
        with torch.no_grad():
            expected, _ = layer(x, case_mask)
        out = _call_layer(check, fn, layer, x.clone(), None if case_mask is None else case_mask.clone())
        if _close(out, expected):
            continue
        again = _call_layer(check, fn, layer, x.clone(), None if case_mask is None else case_mask.clone())
        if not torch.equal(out, again):
            check.fail(EL_DROPOUT_ACTIVE)
        diagnoses = [
            (_variant(layer, x, case_mask, pre_norm=True), EL_PRE_NORM, {}),
            (_variant(layer, x, case_mask, add_after_norm=True), EL_RESIDUAL_AFTER_NORM, {}),
            (_variant(layer, x, case_mask, attention_residual=False, ffn_residual=False), EL_NO_RESIDUAL,
             {"where": text("두 부분층 모두", "both sub-layers")}),
            (_variant(layer, x, case_mask, attention_residual=False), EL_NO_RESIDUAL,
             {"where": text("어텐션 부분층", "the attention sub-layer")}),
            (_variant(layer, x, case_mask, ffn_residual=False), EL_NO_RESIDUAL,
             {"where": text("피드포워드 부분층", "the feed-forward sub-layer")}),
            (_variant(layer, x, case_mask, relu="after"), EL_RELU_PLACE, {}),
            (_variant(layer, x, case_mask, relu="both"), EL_RELU_PLACE, {}),
            (_variant(layer, x, case_mask, relu="none"), EL_NO_RELU, {}),
            (_variant(layer, x, case_mask, relu="gelu"), EL_GELU, {}),
            (_variant(layer, x, case_mask, ffn_reads_input=True), EL_FFN_INPUT, {}),
            (_variant(layer, x, case_mask, norms="21"), EL_NORMS_SWAPPED, {}),
            (_variant(layer, x, case_mask, norms="11"), EL_ONE_NORM, {}),
            (_variant(layer, x, case_mask, norms="22"), EL_ONE_NORM, {}),
        ]
        if case_mask is not None:
            diagnoses += [(_variant(layer, x, ~case_mask), EL_MASK_INVERTED, {}),
                          (_variant(layer, x, None), EL_MASK_IGNORED, {})]
        for wrong, advice, values in diagnoses:
            if _close(out, wrong):
                check.fail(advice, **values)
        check.fail(EL_WRONG, case=case, error=(out - expected).abs().max().item())

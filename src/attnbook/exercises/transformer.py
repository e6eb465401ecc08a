"""Chapter 6 (트랜스포머 / The Transformer): the decoder's masks, a parameter count, the label-smoothed loss.

``decoder_masks`` builds the two masks a decoder layer takes; ``transformer_parameter_count``
predicts the number of parameters of a whole Transformer from its config alone (checked by
building the model); ``label_smoothed_loss`` writes out the label-smoothed cross-entropy of §5.4.

Shapes: B batch · S source length · T target length · V vocabulary.
Masks are boolean, True = may attend. The mask checks use sizes that all differ (B=3,
S=7, T=5), so that a mixed-up axis cannot give the right answer.
"""

from __future__ import annotations

import torch

from attnbook.exercises.checking import Advice, Checker, as_integer, exercise
from attnbook.language import text


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

# --- checking decoder_masks --------------------------------------------------------------------------------

B, S, T = 3, 7, 5
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


# === Exercises that ask for more than the chapter shows =================================================
#
# label_smoothed_loss: §5.4's label-smoothed cross-entropy written out, with padding left out, checked
# against torch.nn.functional.cross_entropy(label_smoothing=ε, ignore_index=pad_id).
#
# transformer_parameter_count: a prediction, checked by building the model: how many parameters a
# Transformer with a given config has, from the config alone.


def label_smoothed_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int, epsilon: float) -> torch.Tensor:
    """Mean cross-entropy over the real (non-padding) tokens against label-smoothed targets (§5.4).

    logits (B, T, V), targets (B, T). The smoothed target q gives every token ε/V and the reference
    token 1 − ε more, as torch.nn.functional.cross_entropy(label_smoothing=ε) does.
    """
    V = logits.size(-1)
    log_p = torch.log_softmax(logits, dim=-1)  # log-probabilities over the vocabulary: (B, T, V)
    q = torch.full_like(log_p, epsilon / V)  # ε spread evenly over all V tokens, the reference included …
    q.scatter_add_(-1, targets[..., None], torch.full_like(log_p[..., :1], 1 - epsilon))  # … and 1 − ε on it
    loss = -(q * log_p).sum(dim=-1)  # the cross-entropy H(q, p) at each position: (B, T)
    real = targets != pad_id  # padding is not a token to predict: (B, T)
    return loss[real].mean()  # the mean over the real tokens of the whole batch


def transformer_parameter_count(config) -> int:
    """count_parameters(Transformer(config)), predicted from the config alone."""
    D, d_ff = config.d_model, config.d_ff
    attention = 4 * D * D + 4 * D  # W^Q, W^K, W^V, W^O and their biases, whatever the number of heads
    feed_forward = D * d_ff + d_ff + d_ff * D + D  # W_1, b_1, W_2, b_2 of eq. (2)
    layer_norm = 2 * D  # γ and β
    encoder_layer = attention + feed_forward + 2 * layer_norm
    decoder_layer = 2 * attention + feed_forward + 3 * layer_norm  # masked self- and encoder–decoder attention
    final_norms = 2 * layer_norm if config.norm_first else 0  # a pre-norm stack ends with one more LayerNorm
    embeddings = (config.src_vocab_size + config.tgt_vocab_size) * D  # the positional table is not learned
    output = D * config.tgt_vocab_size + config.tgt_vocab_size  # the linear layer before the softmax
    return (embeddings + config.num_encoder_layers * encoder_layer
            + config.num_decoder_layers * decoder_layer + final_norms + output)


# --- advice for label_smoothed_loss ---------------------------------------------------------------------

LS_NOT_SCALAR = Advice(
    "ls-not-scalar",
    "손실은 스칼라 텐서(모양 ()) 하나여야 합니다. 받은 것: {got}. 패딩이 아닌 토큰 전체에 대한 평균을 돌려주세요.",
    "The loss must be one scalar tensor (shape ()); got {got}. Return the mean over all real (non-padding) "
    "tokens.",
)
LS_DETACHED = Advice(
    "ls-detached",
    "손실에 기울기가 이어지지 않습니다 (grad_fn이 없음). .item()이나 torch.tensor(...)로 다시 감싸면 계산 그래프가 "
    "끊겨 loss.backward()로 학습할 수 없습니다. 텐서 연산만으로 계산하세요.",
    "The loss is cut off from the gradient (it has no grad_fn). .item() or re-wrapping with torch.tensor(...) "
    "breaks the graph, and loss.backward() could not train anything: compute it with tensor operations only.",
)
LS_CHANGED_INPUT = Advice(
    "ls-changed-input",
    "입력 {name}이(가) 바뀌었습니다. 제자리 연산 대신 새 텐서를 만드세요.",
    "Your function changed its input `{name}`: build new tensors instead of working in place.",
)
LS_USED_PYTORCH = Advice(
    "ls-used-pytorch",
    "cross_entropy에 label_smoothing={epsilon}을 넘겨 PyTorch에게 스무딩을 맡겼습니다. 그 값과 비교하는 것은 "
    "확인 셀이 할 일입니다. 목표 분포 q를 직접 만들어 −Σ q log p를 계산하세요 "
    "(스무딩 없는 cross_entropy는 써도 됩니다).",
    "You passed label_smoothing={epsilon} to cross_entropy, leaving the smoothing to PyTorch; comparing with it "
    "is the check's job. Build the target distribution q yourself and compute −Σ q log p (cross_entropy "
    "without smoothing is fine).",
)
LS_NO_SMOOTHING = Advice(
    "ls-no-smoothing",
    "ε = {epsilon}인데 결과가 스무딩하지 않은 교차 엔트로피입니다. 목표 분포를 q(k) = (1 − ε)[k = y] + ε/V로 "
    "바꾸세요.",
    "ε = {epsilon}, but your result is the cross-entropy without smoothing: the target must be "
    "q(k) = (1 − ε)[k = y] + ε/V.",
)
LS_SPREAD_OTHERS = Advice(
    "ls-spread-others",
    "ε를 정답이 아닌 V − 1개 토큰에만 나누었습니다 (ε/(V − 1)씩, 정답은 1 − ε). 그렇게 하는 구현도 있지만, "
    "PyTorch의 label_smoothing과 이 장의 식은 ε를 정답까지 포함한 V개 토큰 모두에 ε/V씩 나눕니다. 그래서 "
    "정답은 1 − ε + ε/V를 받습니다.",
    "ε is spread over the V − 1 wrong tokens only (ε/(V − 1) each, 1 − ε on the reference). Some code does "
    "this, but PyTorch's label_smoothing and this chapter's formula spread ε over all V tokens, the reference "
    "included, ε/V each: the reference gets 1 − ε + ε/V.",
)
LS_TRUE_CLASS = Advice(
    "ls-true-class",
    "정답 토큰에 1 − ε만 주었습니다. ε/V는 정답을 포함한 모든 토큰이 받으므로 정답은 1 − ε + ε/V입니다. 지금은 "
    "목표 분포의 합이 1이 아니라 1 − ε/V입니다.",
    "The reference token gets only 1 − ε. Every token, the reference included, gets ε/V, so the reference "
    "gets 1 − ε + ε/V; as it is, your target sums to 1 − ε/V, not 1.",
)
LS_PADDING_COUNTED = Advice(
    "ls-padding-counted",
    "패딩 위치도 평균에 들어갔습니다: pad_id를 예측해야 할 토큰처럼 셌습니다. 패딩은 모델이 맞힐 토큰이 아닙니다. "
    "targets != pad_id인 위치만 평균하세요 (cross_entropy의 ignore_index와 같습니다).",
    "The padding positions are in the mean: pad_id is treated as a token to predict. Padding is not something "
    "the model should predict: average only where targets != pad_id (what cross_entropy's ignore_index does).",
)
LS_MEAN_OVER_ALL = Advice(
    "ls-mean-over-all",
    "패딩 위치의 손실을 0으로 만든 것까지는 맞지만, B·T개 모든 위치의 수로 나누었습니다. 그러면 패딩이 많은 "
    "배치일수록 손실이 작아집니다. 실제 토큰의 수로 나누세요.",
    "The padding positions' losses are zeroed, but the sum is divided by all B·T positions, so a batch with "
    "more padding gets a smaller loss. Divide by the number of real tokens.",
)
LS_SENTENCE_MEAN = Advice(
    "ls-sentence-mean",
    "문장마다 평균을 낸 뒤 문장들의 평균을 냈습니다. 그러면 짧은 문장의 토큰 하나가 긴 문장의 토큰 하나보다 "
    "무겁게 셉니다. 배치 전체의 실제 토큰을 한꺼번에 평균하세요 (cross_entropy가 그렇게 합니다).",
    "You averaged within each sentence, then over the sentences, so a token of a short sentence weighs more "
    "than a token of a long one. Average over all the real tokens of the batch at once (as cross_entropy does).",
)
LS_SUM = Advice(
    "ls-sum",
    "손실을 더하기만 했습니다. 실제 토큰 수({count})로 나눈 평균을 돌려주세요.",
    "The losses are summed; return their mean, divided by the number of real tokens ({count}).",
)
LS_SOFTMAX_AXIS = Advice(
    "ls-softmax-axis",
    "log_softmax를 엉뚱한 축으로 취했습니다. 확률 분포는 위치마다 어휘 V개에 대한 것이므로 마지막 축(dim=-1)입니다.",
    "log_softmax runs over the wrong axis. The probabilities are, at each position, over the V tokens of the "
    "vocabulary: the last axis (dim=-1).",
)
LS_KL = Advice(
    "ls-kl",
    "KL 발산 KL(q ‖ p) = Σ q log q − Σ q log p를 계산했습니다. 교차 엔트로피 H(q, p) = −Σ q log p와는 상수 "
    "H(q)만큼 다릅니다. 기울기는 같지만 PyTorch가 보고하는 손실은 교차 엔트로피입니다. Σ q log q 항을 빼세요.",
    "You computed the KL divergence KL(q ‖ p) = Σ q log q − Σ q log p. It differs from the cross-entropy "
    "H(q, p) = −Σ q log p by the constant H(q): the gradients agree, but the loss PyTorch reports is the "
    "cross-entropy. Drop the Σ q log q term.",
)
LS_SMOOTHED_PREDICTION = Advice(
    "ls-smoothed-prediction",
    "목표가 아니라 모델의 예측을 부드럽게 했습니다: −log((1 − ε)p_y + ε/V). 레이블 스무딩은 정답 쪽 분포 q를 "
    "바꿉니다. 예측 p는 그대로 두고 −Σ_k q(k) log p(k)를 계산하세요.",
    "You smoothed the model's prediction, −log((1 − ε)p_y + ε/V), instead of the target. Label smoothing "
    "changes the reference distribution q; leave the prediction p alone and compute −Σ_k q(k) log p(k).",
)
LS_NOT_LOG = Advice(
    "ls-not-log",
    "확률 p에 로그를 취하지 않았습니다. 교차 엔트로피는 −Σ q log p입니다: torch.log_softmax(logits, dim=-1).",
    "The probabilities p are used without their logarithm. The cross-entropy is −Σ q log p: "
    "torch.log_softmax(logits, dim=-1).",
)
LS_PAD_ID = Advice(
    "ls-pad-id",
    "pad_id가 0일 때만 맞습니다. 0을 직접 쓰지 말고 인자로 받은 pad_id와 비교하세요.",
    "Right only when pad_id is 0: compare with the pad_id argument instead of writing 0.",
)
LS_WRONG = Advice(
    "ls-wrong",
    "ε = {epsilon}, pad_id = {pad_id}일 때 손실이 {got:.4f}인데, torch.nn.functional.cross_entropy(..., "
    "ignore_index=pad_id, label_smoothing=ε)는 {expected:.4f}입니다. 위치마다 −Σ_k q(k) log p(k)를 구하고 "
    "실제 토큰에 대해 평균하세요.",
    "With ε = {epsilon} and pad_id = {pad_id} your loss is {got:.4f}, but torch.nn.functional.cross_entropy(..., "
    "ignore_index=pad_id, label_smoothing=ε) gives {expected:.4f}. Compute −Σ_k q(k) log p(k) at each "
    "position and average over the real tokens.",
)

# --- advice for transformer_parameter_count -------------------------------------------------------------

TC_NOT_AN_INTEGER = Advice(
    "tc-not-an-integer",
    "매개변수의 개수(정수 하나)를 돌려주세요. 받은 것: {got}.",
    "Return the number of parameters, one integer; got {got}.",
)
TC_BUILT_A_MODEL = Advice(
    "tc-built-a-model",
    "함수 안에서 모델(nn.Module)을 만들었습니다. 모델을 만들어 세는 '실행'은 확인 셀이 "
    "합니다. config의 숫자만으로 예측하세요.",
    "Your function builds a model (an nn.Module). Building it and counting is the 'run' half, which the check "
    "cell does; predict from the config's numbers alone.",
)
TC_POSITIONAL = Advice(
    "tc-positional",
    "예측 {predicted:,}, 실제 {measured:,}: 위치 인코딩 표(max_len × d_model)를 매개변수로 세었습니다. 사인파 표는 "
    "학습하지 않는 고정된 값이라 버퍼(buffer)로 저장되고 parameters()에 나오지 않습니다.",
    "You predicted {predicted:,}; the model has {measured:,}. You counted the positional-encoding table "
    "(max_len × d_model) as parameters. The sinusoidal table is fixed, not learned: it is stored as a buffer "
    "and parameters() does not list it.",
)
TC_FINAL_NORMS_MISSING = Advice(
    "tc-final-norms-missing",
    "예측 {predicted:,}, 실제 {measured:,} (차이 {difference:,} = 2 × 2·d_model). 사전 정규화(norm_first=True) "
    "스택은 끝에 층 정규화를 하나 더 둡니다: encoder.norm과 decoder.norm.",
    "You predicted {predicted:,}; the model has {measured:,} (the difference, {difference:,}, is 2 × 2·d_model). "
    "A pre-norm stack (norm_first=True) ends with one more LayerNorm: encoder.norm and decoder.norm.",
)
TC_FINAL_NORMS_POST = Advice(
    "tc-final-norms-post",
    "예측 {predicted:,}, 실제 {measured:,}: 사후 정규화(norm_first=False) 모델에도 마지막 층 정규화를 세었습니다. "
    "사후 정규화 층은 이미 정규화된 값을 내보내므로 이 책의 스택에는 끝 정규화가 없습니다 (torch.nn.Transformer"
    "는 그래도 하나 붙입니다. '실제로는'을 보세요).",
    "You predicted {predicted:,}; the model has {measured:,}. You counted final LayerNorms for a post-norm model "
    "(norm_first=False): post-norm layers already end normalised, so the book's stacks have none "
    "(torch.nn.Transformer adds one anyway; see \"In the wild\").",
)
TC_NO_LAYER_NORM = Advice(
    "tc-no-layer-norm",
    "예측 {predicted:,}, 실제 {measured:,}: 층 정규화의 매개변수가 빠졌습니다. LayerNorm마다 학습되는 γ와 β가 "
    "d_model개씩 있고, 인코더 층에 2개, 디코더 층에 3개가 있습니다.",
    "You predicted {predicted:,}; the model has {measured:,}. The layer normalizations' parameters are missing: "
    "every LayerNorm learns γ and β, d_model of each, and an encoder layer has 2 of them, a decoder layer 3.",
)
TC_LAYER_NORM_HALF = Advice(
    "tc-layer-norm-half",
    "예측 {predicted:,}, 실제 {measured:,}: LayerNorm 하나를 d_model개로 세었습니다. 곱하는 γ와 "
    "더하는 β가 따로 있어 2·d_model개입니다.",
    "You predicted {predicted:,}; the model has {measured:,}. You counted d_model parameters per LayerNorm; it "
    "has a scale γ and a shift β, 2·d_model.",
)
TC_DECODER_ONE_ATTENTION = Advice(
    "tc-decoder-one-attention",
    "예측 {predicted:,}, 실제 {measured:,}: 디코더 층을 인코더 층처럼 세었습니다. 디코더 층에는 어텐션이 둘(마스크드 "
    "셀프 어텐션과 인코더–디코더 어텐션), 층 정규화가 셋 있습니다.",
    "You predicted {predicted:,}; the model has {measured:,}. You counted a decoder layer like an encoder layer: "
    "it has two attentions (masked self-attention and encoder–decoder attention) and three LayerNorms.",
)
TC_NO_BIASES = Advice(
    "tc-no-biases",
    "예측 {predicted:,}, 실제 {measured:,}: 편향(bias)을 세지 않았습니다. 어텐션의 투영(4·d_model), 피드포워드의 "
    "b_1 (d_ff)과 b_2 (d_model), 출력층(어휘 크기)에 모두 편향이 있습니다.",
    "You predicted {predicted:,}; the model has {measured:,}. The biases are missing: the attention's "
    "projections (4·d_model), the feed-forward network's b_1 (d_ff) and b_2 (d_model) and the output layer "
    "(the vocabulary size) all have one.",
)
TC_HEADS = Advice(
    "tc-heads",
    "예측 {predicted:,}, 실제 {measured:,}: 어텐션의 매개변수를 헤드 수만큼 곱했습니다. 5장에서 센 것처럼 멀티헤드 "
    "어텐션은 헤드 수와 상관없이 4·d_model² + 4·d_model개입니다.",
    "You predicted {predicted:,}; the model has {measured:,}. You multiplied the attention's parameters by the "
    "number of heads; as counted in chapter 5, multi-head attention has 4·d_model² + 4·d_model whatever h is.",
)
TC_PAD_ROW = Advice(
    "tc-pad-row",
    "예측 {predicted:,}, 실제 {measured:,}: 임베딩에서 패딩 행을 뺐습니다. padding_idx 행은 0으로 두고 기울기를 "
    "받지 않을 뿐, 여전히 매개변수 텐서의 일부입니다: 어휘 크기 × d_model.",
    "You predicted {predicted:,}; the model has {measured:,}. You left the padding row out of the embeddings. "
    "The padding_idx row is kept at zero and gets no gradient, but it is still part of the parameter tensor: "
    "vocabulary size × d_model.",
)
TC_OUTPUT = Advice(
    "tc-output",
    "예측 {predicted:,}, 실제 {measured:,}: {detail}. 이 책의 모델은 소프트맥스 앞에 자기 출력층 "
    "nn.Linear(d_model, 목표 어휘 크기)를 따로 두고, 여기에는 편향도 있습니다.",
    "You predicted {predicted:,}; the model has {measured:,}: {detail}. The book's model has its own output "
    "layer before the softmax, nn.Linear(d_model, target vocabulary size), with a bias.",
)
TC_LAYER_COUNTS = Advice(
    "tc-layer-counts",
    "예측 {predicted:,}, 실제 {measured:,}: 층 수가 틀립니다. 인코더는 num_encoder_layers = {encoders}개, 디코더는 "
    "num_decoder_layers = {decoders}개의 층을 쌓습니다.",
    "You predicted {predicted:,}; the model has {measured:,}. The numbers of layers are wrong: the encoder "
    "stacks num_encoder_layers = {encoders} layers, the decoder num_decoder_layers = {decoders}.",
)
TC_WRONG = Advice(
    "tc-wrong",
    "{config}\n예측 {predicted:,}, 실제로 모델을 만들어 센 값 {measured:,}. 모델의 부분별 개수는 임베딩 "
    "{embeddings:,}, 인코더 {encoder:,}, 디코더 {decoder:,}, 출력층 {output:,}입니다. 어느 부분이 틀렸는지 찾아 "
    "보세요.",
    "{config}\nYou predicted {predicted:,}; building the model and counting gives {measured:,}. Its parts hold: "
    "embeddings {embeddings:,}, encoder {encoder:,}, decoder {decoder:,}, output layer {output:,}. Find the "
    "part you got wrong.",
)


# --- checking label_smoothed_loss -----------------------------------------------------------------------

V = 7  # vocabulary size of the loss checks: odd, and different from B, T


def _targets(pad_id: int, generator: torch.Generator) -> torch.Tensor:
    """(B, T) = (3, 5) token ids, never pad_id, then padding after 5, 3 and 1 real tokens."""
    tokens = torch.randint(0, V - 1, (3, T), generator=generator)
    tokens = torch.where(tokens >= pad_id, tokens + 1, tokens)  # skip pad_id
    if pad_id != 0:
        tokens[0, 0] = 0  # a real token whose id is 0: writing 0 for pad_id shows
    return torch.where(torch.arange(T) < torch.tensor(TARGET_LENGTHS)[:, None], tokens, pad_id)


def _smoothed(logits: torch.Tensor, targets: torch.Tensor, pad_id: int, epsilon: float, *, spread: str = "all",
              padding: str = "ignore", axis: int = -1, kl: bool = False, smooth_prediction: bool = False,
              log: bool = True) -> torch.Tensor:
    """The label-smoothed loss with one thing done differently: per position (B, T), and which positions count."""
    p = torch.softmax(logits, dim=axis)
    log_p = torch.log(p) if log else p
    one_hot = torch.nn.functional.one_hot(targets, V).to(logits.dtype)
    if spread == "all":
        q = (1 - epsilon) * one_hot + epsilon / V
    elif spread == "others":
        q = (1 - epsilon) * one_hot + epsilon / (V - 1) * (1 - one_hot)
    else:  # "true class short": 1 − ε on the reference, ε/V on the others only
        q = (1 - epsilon) * one_hot + epsilon / V * (1 - one_hot)
    if smooth_prediction:
        loss = -torch.log(((1 - epsilon) * p + epsilon / V).gather(-1, targets[..., None]).squeeze(-1))
    else:
        loss = -(q * log_p).sum(-1)
        if kl:
            loss = loss + (q * torch.log(q)).sum(-1)
    return loss


def _reduce(loss: torch.Tensor, real: torch.Tensor, how: str) -> torch.Tensor:
    if how == "ignore":
        return loss[real].mean()
    if how == "count":
        return loss.mean()
    if how == "over-all":
        return (loss * real).sum() / real.numel()
    if how == "sum":
        return loss[real].sum()
    return torch.stack([loss[b][real[b]].mean() for b in range(loss.size(0))]).mean()  # "per sentence"


def _call_without_smoothing(check: Checker, fn, logits: torch.Tensor, targets: torch.Tensor, pad_id: int,
                            epsilon: float) -> object:
    """The reader's loss; asking cross_entropy for the smoothing is not writing it."""
    functional = torch.nn.functional
    original = functional.cross_entropy
    asked = []

    def noting(*args, **kwargs):
        asked.append(kwargs.get("label_smoothing", 0.0))
        return original(*args, **kwargs)

    functional.cross_entropy = noting
    try:
        result = check.call(fn, logits, targets, pad_id, epsilon)
    finally:
        functional.cross_entropy = original
    if any(smoothing > 0 for smoothing in asked):
        check.fail(LS_USED_PYTORCH, epsilon=max(asked))
    return result


@exercise(label_smoothed_loss)
def check_label_smoothed_loss(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(60)
    for pad_id, epsilon in ((0, 0.0), (0, 0.1), (4, 0.3)):
        logits = (torch.randn(3, T, V, generator=generator) * 2).requires_grad_()
        targets = _targets(pad_id, generator)
        copies = (logits.detach().clone(), targets.clone())
        result = _call_without_smoothing(check, fn, logits, targets, pad_id, epsilon)
        for name, tensor, copy in (("logits", logits.detach(), copies[0]), ("targets", targets, copies[1])):
            if not torch.equal(tensor, copy):
                check.fail(LS_CHANGED_INPUT, name=name)
        if not isinstance(result, torch.Tensor) or result.dim() != 0:
            got = text(f"모양이 {tuple(result.shape)}인 텐서", f"a tensor of shape {tuple(result.shape)}") \
                if isinstance(result, torch.Tensor) else type(result).__name__
            check.fail(LS_NOT_SCALAR, got=got)
        if result.grad_fn is None:
            check.fail(LS_DETACHED)
        got = result.detach()
        check.tensor(got, what=text("손실", "the loss"), shape=(), dtype=torch.float32)
        expected = torch.nn.functional.cross_entropy(logits.detach().flatten(0, 1), targets.flatten(),
                                                     ignore_index=pad_id, label_smoothing=epsilon)
        if torch.allclose(got, expected, atol=1e-5):
            continue
        real = targets != pad_id
        with torch.no_grad():
            plain = logits.detach()
            right = _smoothed(plain, targets, pad_id, epsilon)
            diagnoses = [
                (_reduce(_smoothed(plain, targets, pad_id, 0.0), real, "ignore"), LS_NO_SMOOTHING),
                (_reduce(_smoothed(plain, targets, pad_id, epsilon, spread="others"), real, "ignore"),
                 LS_SPREAD_OTHERS),
                (_reduce(_smoothed(plain, targets, pad_id, epsilon, spread="short"), real, "ignore"), LS_TRUE_CLASS),
                (_reduce(right, targets != 0, "ignore"), LS_PAD_ID),
                (_reduce(right, real, "count"), LS_PADDING_COUNTED),
                (_reduce(right, real, "over-all"), LS_MEAN_OVER_ALL),
                (_reduce(right, real, "per sentence"), LS_SENTENCE_MEAN),
                (_reduce(right, real, "sum"), LS_SUM),
                (_reduce(_smoothed(plain, targets, pad_id, epsilon, axis=1), real, "ignore"), LS_SOFTMAX_AXIS),
                (_reduce(_smoothed(plain, targets, pad_id, epsilon, kl=True), real, "ignore"), LS_KL),
                (_reduce(_smoothed(plain, targets, pad_id, epsilon, smooth_prediction=True), real, "ignore"),
                 LS_SMOOTHED_PREDICTION),
                (_reduce(_smoothed(plain, targets, pad_id, epsilon, log=False), real, "ignore"), LS_NOT_LOG),
            ]
        for wrong, advice in diagnoses:
            if not torch.allclose(wrong, expected, atol=1e-5) and torch.allclose(got, wrong, atol=1e-5):
                check.fail(advice, epsilon=epsilon, count=int(real.sum()))
        check.fail(LS_WRONG, epsilon=epsilon, pad_id=pad_id, got=got.item(), expected=expected.item())


# --- checking transformer_parameter_count ---------------------------------------------------------------


def _count(config, *, positional: int = 0, final_norms: str = "right", norm_size: int = 2,
           decoder_attentions: int = 2, biases: bool = True, heads: bool = False, pad_rows: bool = False,
           output: str = "right", layers: str = "right") -> int:
    """transformer_parameter_count with one thing counted differently, for the diagnoses."""
    D, d_ff = config.d_model, config.d_ff
    attention = (4 * D * D + (4 * D if biases else 0)) * (config.num_heads if heads else 1)
    feed_forward = 2 * D * d_ff + (d_ff + D if biases else 0)
    norm = norm_size * D
    encoder_layer = attention + feed_forward + 2 * norm
    decoder_layer = decoder_attentions * attention + feed_forward + (decoder_attentions + 1) * norm
    finals = {"right": config.norm_first, "never": False, "always": True}[final_norms]
    vocabularies = config.src_vocab_size + config.tgt_vocab_size - (2 if pad_rows else 0)
    output_layer = {"right": D * config.tgt_vocab_size + (config.tgt_vocab_size if biases else 0),
                    "no bias": D * config.tgt_vocab_size, "tied": config.tgt_vocab_size, "none": 0}[output]
    encoders, decoders = config.num_encoder_layers, config.num_decoder_layers
    if layers == "encoder":
        decoders = encoders
    elif layers == "decoder":
        encoders = decoders
    elif layers == "swapped":
        encoders, decoders = decoders, encoders
    return (vocabularies * D + encoders * encoder_layer + decoders * decoder_layer
            + (2 * norm if finals else 0) + output_layer + positional * config.max_len * D)


def _parameter_configs():
    from attnbook.transformer import TransformerConfig

    return (
        TransformerConfig(99, 156, d_model=64, num_heads=4, d_ff=256, num_encoder_layers=2, num_decoder_layers=2,
                          norm_first=True, max_len=81),  # this chapter's model: 260,188
        TransformerConfig(30, 50, d_model=12, num_heads=3, d_ff=20, num_encoder_layers=3, num_decoder_layers=1,
                          norm_first=False, max_len=40),
        TransformerConfig(41, 23, d_model=24, num_heads=6, d_ff=40, num_encoder_layers=1, num_decoder_layers=2,
                          norm_first=True, max_len=16),
    )


def _call_without_building(check: Checker, fn, config) -> object:
    """The reader's prediction; building a module on the way is not predicting."""
    built = []
    original = torch.nn.Module.__init__

    def noting(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    torch.nn.Module.__init__ = noting
    try:
        result = check.call(fn, config)
    finally:
        torch.nn.Module.__init__ = original
    if built:
        check.fail(TC_BUILT_A_MODEL)
    return result


def _integer(check: Checker, value: object) -> int:
    number = as_integer(value)
    if number is None:
        check.fail(TC_NOT_AN_INTEGER, got=type(value).__name__)
    return number


@exercise(transformer_parameter_count)
def check_transformer_parameter_count(check: Checker, fn) -> None:
    from attnbook.transformer import Transformer

    for config in _parameter_configs():
        predicted = _integer(check, _call_without_building(check, fn, config))
        model = Transformer(config)
        measured = sum(p.numel() for p in model.parameters())
        if predicted == measured:
            continue
        values = {"predicted": predicted, "measured": measured, "difference": measured - predicted,
                  "encoders": config.num_encoder_layers, "decoders": config.num_decoder_layers}
        diagnoses = [
            (_count(config, positional=1), TC_POSITIONAL, {}),
            (_count(config, positional=2), TC_POSITIONAL, {}),
            (_count(config, final_norms="never"), TC_FINAL_NORMS_MISSING, {}),
            (_count(config, final_norms="always"), TC_FINAL_NORMS_POST, {}),
            (_count(config, norm_size=0), TC_NO_LAYER_NORM, {}),
            (_count(config, norm_size=0, final_norms="never"), TC_NO_LAYER_NORM, {}),
            (_count(config, norm_size=1), TC_LAYER_NORM_HALF, {}),
            (_count(config, decoder_attentions=1), TC_DECODER_ONE_ATTENTION, {}),
            (_count(config, biases=False), TC_NO_BIASES, {}),
            (_count(config, heads=True), TC_HEADS, {}),
            (_count(config, pad_rows=True), TC_PAD_ROW, {}),
            (_count(config, output="no bias"), TC_OUTPUT,
             {"detail": text("출력층의 편향을 빠뜨렸습니다", "the output layer's bias is missing")}),
            (_count(config, output="tied"), TC_OUTPUT,
             {"detail": text("출력층이 목표 임베딩과 가중치를 공유한다고 보았습니다",
                             "the output layer was taken to share the target embedding's weights")}),
            (_count(config, output="none"), TC_OUTPUT,
             {"detail": text("출력층이 빠졌습니다", "the output layer is missing")}),
            (_count(config, layers="encoder"), TC_LAYER_COUNTS, {}),
            (_count(config, layers="decoder"), TC_LAYER_COUNTS, {}),
            (_count(config, layers="swapped"), TC_LAYER_COUNTS, {}),
        ]
        for wrong, advice, extra in diagnoses:
            if wrong != measured and predicted == wrong:
                check.fail(advice, **values, **extra)
        parts = {"embeddings": (model.src_embedding, model.tgt_embedding), "encoder": (model.encoder,),
                 "decoder": (model.decoder,), "output": (model.output,)}
        sizes = {name: sum(p.numel() for module in modules for p in module.parameters())
                 for name, modules in parts.items()}
        check.fail(TC_WRONG, config=_describe_config(config), **values, **sizes)


def _describe_config(config) -> str:
    fields = ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads", "d_ff", "num_encoder_layers",
              "num_decoder_layers", "norm_first", "max_len")
    return "config: " + ", ".join(f"{name}={getattr(config, name)}" for name in fields)

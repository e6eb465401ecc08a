"""Chapter 8 (GPT): the shifted loss, the nucleus, one cached attention step, and a perplexity predicted by hand.

8.1 ``padded_next_token_loss``: Radford et al. (2018), eq. (1), averaged over a padded batch: position t
predicts token t + 1, and a prediction counts only when both its position and its target are real tokens
(left padding makes the first difference: the first real token is never predicted from a pad).
8.2 ``top_p_probabilities`` and ``top_k_probabilities``: the distribution that nucleus (top-p) or top-k
sampling draws from, as probabilities in vocabulary order, renormalised. The tie rule is
:mod:`attnbook.sampling`'s: a token tied with the last one kept is kept too, and the most probable token
always stays. The checkers judge the kept *set* (the most probable ones? enough of them? a tie split?)
before the values, so that each mistake gets its own advice.
8.3 ``attend_with_cache``: one step of a KV cache, on bare tensors: append the new keys and values to
the past ones and let the new queries attend, skipping the past's padding and the future.
8.4 ``copy_model_perplexity``: predict, then run: the perplexity of a model that bets on the previous
token, from counts alone; the checker runs the model through :func:`attnbook.gpt.next_token_loss`.

Shapes: B batch · T positions (new ones, in 8.3) · S positions in the cache · H heads · Dh head width ·
V vocabulary. All sizes in the checks differ from each other and are odd where they can be, so that a
mixed-up axis cannot pass.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F

from attnbook.exercises.checking import Advice, Checker, ExerciseFailed, exercise
from attnbook.exercises.seq2seq import LOSS_DETACHED
from attnbook.language import text

# --- the references ------------------------------------------------------------------------------------


def padded_next_token_loss(logits: torch.Tensor, input_ids: torch.Tensor,
                           attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of token t + 1 given the logits at position t, over the real pairs of a padded batch.

    logits (B, T, V), input_ids (B, T), attention_mask (B, T): 1 (or True) at real tokens, 0 at padding.
    A prediction counts when the position making it and the token it predicts are both real.
    """
    predictions = logits[:, :-1]  # position t …: (B, T − 1, V)
    targets = input_ids[:, 1:]  # … predicts token t + 1: (B, T − 1)
    real = attention_mask.bool()  # ~ on a 0/1 integer mask would give −1 and −2, both "true"
    counted = real[:, :-1] & real[:, 1:]  # a real token predicted from a real one: (B, T − 1)
    return F.cross_entropy(predictions[counted], targets[counted])  # the mean over every counted pair


def top_p_probabilities(logits: torch.Tensor, p: float) -> torch.Tensor:
    """What nucleus sampling draws from: logits (B, V) → probabilities (B, V), zero outside the nucleus.

    The nucleus is the smallest set of most probable tokens whose probabilities add up to at least p, and
    every token tied with its least probable member; its probabilities are renormalised to sum to 1.
    """
    probs = logits.softmax(dim=-1)  # (B, V)
    ordered, _ = probs.sort(dim=-1, descending=True)  # most probable first: (B, V)
    before = ordered.cumsum(dim=-1) - ordered  # the mass of the tokens ranked above each one
    needed = before < p  # still short of p without this token; the first is always needed
    smallest = ordered.masked_fill(~needed, math.inf).amin(dim=-1, keepdim=True)  # the last one needed: (B, 1)
    kept = probs * (probs >= smallest)  # in vocabulary order; a tie with the last one stays whole
    return kept / kept.sum(dim=-1, keepdim=True)


def top_k_probabilities(logits: torch.Tensor, k: int) -> torch.Tensor:
    """What top-k sampling draws from: logits (B, V) → probabilities (B, V), zero outside the k most probable.

    Every token tied with the k-th most probable is kept too (so a tie may keep more than k); k ≥ V keeps
    everything. The kept probabilities are renormalised to sum to 1.
    """
    probs = logits.softmax(dim=-1)  # (B, V)
    kth = probs.topk(min(k, probs.size(-1)), dim=-1).values[:, -1:]  # the k-th largest: (B, 1)
    kept = probs * (probs >= kth)  # ≥, not >: the k-th itself and any tie with it
    return kept / kept.sum(dim=-1, keepdim=True)


def attend_with_cache(past_keys: torch.Tensor, past_values: torch.Tensor, past_mask: torch.Tensor,
                      query: torch.Tensor, key: torch.Tensor,
                      value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of a KV cache: the new tokens' attention output, and the cache with them appended.

    past_keys, past_values (B, H, S, Dh); past_mask (B, S) bool, True at real tokens; query, key, value
    (B, H, T, Dh) for T new (real) tokens at positions S … S + T − 1. New token i attends to the real
    past tokens and to new tokens j ≤ i. Returns output (B, H, T, Dh), keys and values (B, H, S + T, Dh).
    """
    S, T = past_keys.size(2), query.size(2)
    keys = torch.cat([past_keys, key], dim=2)  # the positions axis: (B, H, S + T, Dh)
    values = torch.cat([past_values, value], dim=2)
    causal = torch.ones(T, S + T, dtype=torch.bool).tril(diagonal=S)  # new token i sees indices ≤ S + i
    real = torch.cat([past_mask, past_mask.new_ones(past_mask.size(0), T)], dim=1)  # the new ones are real: (B, S + T)
    visible = causal & real[:, None, None, :]  # (B, 1, T, S + T)
    scores = query @ keys.transpose(-2, -1) / math.sqrt(query.size(-1))  # (B, H, T, S + T)
    weights = scores.masked_fill(~visible, -math.inf).softmax(dim=-1)
    return weights @ values, keys, values


def copy_model_perplexity(sentences: list[list[int]], q: float, vocab_size: int) -> float:
    """The perplexity, on ``sentences``, of the model that bets q on the previous token.

    The model's next-token distribution at every position: the token just read gets probability q, each
    of the other V − 1 tokens (1 − q)/(V − 1). Each sentence is scored on its own, as next_token_loss
    scores a padded batch: its first token is predicted by nothing.
    """
    predictions = sum(max(len(s) - 1, 0) for s in sentences)  # every token but each sentence's first
    repeats = sum(a == b for s in sentences for a, b in pairwise(s))  # where copying was right
    misses = predictions - repeats
    cross_entropy = -(repeats * math.log(q) + misses * math.log((1 - q) / (vocab_size - 1))) / predictions
    return math.exp(cross_entropy)


# --- advice for padded_next_token_loss -------------------------------------------------------------------

NTL_NOT_SCALAR = Advice(
    "ntl-not-scalar",
    "손실은 숫자 하나(모양 ())여야 하는데 {got}을(를) 돌려주었습니다. 센 위치들의 값을 평균하세요.",
    "The loss should be one number (shape ()), but your function returned {got}: average the values of the "
    "positions that count.",
)
NTL_NO_SHIFT = Advice(
    "ntl-no-shift",
    "로짓과 정답을 밀지 않았습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 위치 t의 로짓을 토큰 t와 짝지으면, 인과 "
    "마스크 아래에서도 위치 t는 자기 토큰을 볼 수 있으므로 모델은 입력을 베끼는 법만 배웁니다. 위치 t의 예측은 "
    "다음 토큰 t + 1과 비교해야 합니다. 그래서 마지막 위치는 맞힐 것이 없고, 첫 토큰은 아무도 예측하지 않습니다.",
    "The logits and the targets are not shifted (expected {expected:.4f}, got {got:.4f}). Paired with token t, "
    "the logits at position t would be scored on a token that position can see, even under the causal mask: "
    "the model would only learn to copy its input. Position t's prediction is compared with the next token, "
    "t + 1; so the last position predicts nothing and no position predicts the first token.",
)
NTL_WRONG_WAY = Advice(
    "ntl-wrong-way",
    "반대 방향으로 밀었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). logits[:, 1:]을 input_ids[:, :-1]과 "
    "짝지으면 위치 t + 1이 이미 읽은 토큰 t를 맞히게 됩니다. 앞을 보고 뒤를 맞혀야 하니, 마지막 위치를 빼고 "
    "logits[:, :-1]을, 첫 토큰을 빼고 input_ids[:, 1:]을 쓰세요.",
    "The shift goes the wrong way (expected {expected:.4f}, got {got:.4f}). Pairing logits[:, 1:] with "
    "input_ids[:, :-1] has position t + 1 predict token t, which it has already read. The model predicts "
    "what comes next: drop the last position from the logits, logits[:, :-1], and the first token from the "
    "targets, input_ids[:, 1:].",
)
NTL_PAD_COUNTED = Advice(
    "ntl-pad-counted",
    "패딩이 손실에 들어갔습니다 (정답 {expected:.4f}, 결과 {got:.4f}). attention_mask가 0인 자리의 토큰은 길이를 "
    "맞추려고 채운 것이라 맞힐 대상도, 예측의 근거도 아닙니다. 이 검사에서는 패딩 자리에 실제 토큰 번호가 들어 "
    "있으니 input_ids가 아니라 attention_mask로 가려내세요.",
    "Padding counts in your loss (expected {expected:.4f}, got {got:.4f}). Where attention_mask is 0 the token "
    "only fills the row up to length: it is neither something to predict nor something to predict from. The "
    "check puts ordinary token ids at the padding, so tell padding apart by attention_mask, not by input_ids.",
)
NTL_TARGET_MASK_ONLY = Advice(
    "ntl-target-mask-only",
    "정답 쪽 마스크 attention_mask[:, 1:]만 보았습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 오른쪽 패딩에서는 "
    "그걸로 충분하지만, 왼쪽 패딩(생성할 때 프롬프트를 맞추는 방식)에서는 첫 실제 토큰을 그 앞의 패딩 위치가 "
    "예측하는 쌍이 남습니다. 예측하는 위치와 정답 토큰이 둘 다 실제 토큰인 쌍만 세세요.",
    "Only the targets' mask, attention_mask[:, 1:], is used (expected {expected:.4f}, got {got:.4f}). That is "
    "enough with right padding, but with left padding (how prompts are lined up for generation) one pair is "
    "left where a padding position predicts the first real token. Count a pair only when the position that "
    "predicts and the token it predicts are both real.",
)
NTL_SOURCE_MASK_ONLY = Advice(
    "ntl-source-mask-only",
    "예측하는 위치의 마스크 attention_mask[:, :-1]만 보았습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 마스크를 "
    "정답과 함께 밀지 않았으므로, 오른쪽 패딩이 있는 문장의 마지막 실제 토큰이 첫 패딩을 맞히는 쌍이 "
    "들어갑니다. 정답이 실제 토큰인지도 보아야 합니다.",
    "Only the predicting positions' mask, attention_mask[:, :-1], is used (expected {expected:.4f}, got "
    "{got:.4f}): the mask was not shifted along with the targets, so in a right-padded sentence the last real "
    "token is scored on predicting the first pad. The target must be a real token too.",
)
NTL_MEAN_OVER_ALL = Advice(
    "ntl-mean-over-all",
    "센 쌍의 손실을 더해 모든 쌍의 수 B·(T − 1) = {pairs}로 나누었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). "
    "그러면 패딩이 많은 배치일수록 손실이 작아 보입니다. 센 쌍의 수, 이 배치에서는 {counted}개로 나누세요.",
    "The counted pairs' losses were summed and divided by all B·(T − 1) = {pairs} pairs (expected "
    "{expected:.4f}, got {got:.4f}), so a batch with more padding would look better. Divide by the number of "
    "pairs that count, {counted} in this batch.",
)
NTL_PER_SENTENCE = Advice(
    "ntl-per-sentence",
    "문장마다 평균을 낸 뒤 문장들을 평균했습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 그러면 짧은 문장의 토큰 "
    "하나가 긴 문장의 토큰 하나보다 무겁게 셉니다. 배치의 센 쌍 전체를 한 번에 평균하세요.",
    "You averaged each sentence, then the sentences (expected {expected:.4f}, got {got:.4f}): a token of a short "
    "sentence would weigh more than a token of a long one. Average over all the counted pairs of the batch "
    "at once.",
)
NTL_SUM = Advice(
    "ntl-sum",
    "평균이 아니라 합을 돌려주었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 센 쌍의 수({counted})로 나누세요. "
    "합을 쓰면 배치의 길이에 따라 학습률의 뜻이 달라집니다.",
    "You returned the sum, not the mean (expected {expected:.4f}, got {got:.4f}). Divide by the number of "
    "counted pairs ({counted}); with a sum, the learning rate would mean something different for every "
    "batch length.",
)
NTL_MASK_DTYPE = Advice(
    "ntl-mask-dtype",
    "attention_mask가 bool일 때는 맞는데, 🤗처럼 0과 1의 정수(torch.long)일 때는 틀립니다. 정수 텐서에 ~를 "
    "쓰면 ~1 = −2, ~0 = −1이 되고, 정수 텐서로 인덱싱하면 위치 번호로 읽힙니다. 먼저 "
    "attention_mask.bool()로 바꾸세요.",
    "Right when attention_mask is bool, wrong when it holds the integers 0 and 1 (torch.long), as 🤗's does. "
    "On an integer tensor, ~ gives ~1 = −2 and ~0 = −1, and indexing with it reads positions, not a mask: "
    "turn it into attention_mask.bool() first.",
)
NTL_AXIS = Advice(
    "ntl-axis",
    "F.cross_entropy에 (B, T − 1, V) 로짓을 그대로 넘겼습니다: {error}. F.cross_entropy는 클래스 축을 두 번째"
    "(dim=1)에서 찾습니다. 센 쌍만 골라 (n, V)와 (n,)으로 만들거나 flatten(0, 1)로 펴세요.",
    "The (B, T − 1, V) logits went into F.cross_entropy as they are: {error}. F.cross_entropy looks for the "
    "classes on its second axis (dim=1): pick the counted pairs, (n, V) and (n,), or flatten with "
    "flatten(0, 1).",
)
NTL_CHANGED_INPUT = Advice(
    "ntl-changed-input",
    "입력 {name}이(가) 바뀌었습니다. 제자리 연산(masked_fill_, [...] = …) 대신 새 텐서를 만드세요.",
    "Your function changed its input `{name}`: build new tensors instead of working in place (masked_fill_, "
    "[...] = …).",
)
NTL_WRONG = Advice(
    "ntl-wrong",
    "손실이 다릅니다: 정답 {expected:.4f}, 결과 {got:.4f}. 위치 t의 로짓으로 토큰 t + 1의 로그 확률을 "
    "log_softmax(dim=-1)에서 골라, 두 위치가 모두 실제 토큰인 쌍에서만 평균하고 마이너스를 붙이세요.",
    "The loss differs: expected {expected:.4f}, got {got:.4f}. Take token t + 1's log-probability from "
    "log_softmax(dim=-1) of position t's logits, average over the pairs where both positions are real "
    "tokens, and negate.",
)

# --- checking padded_next_token_loss -----------------------------------------------------------------------

_NTL_V = 11  # differs from B = 3 and T = 7
_NTL_LAYOUTS = (  # R real, P padding; right padding (training) and left padding (prompts) in one batch
    ("RRRRRRR", "RRRRPPP", "PPRRRRR"),
    ("PRRRRRR", "RRRRRRP", "PPPRRRR"),
)


def _ntl_case(layout: tuple[str, ...], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random logits (B, T, V), token ids, and a mask laid out by hand; the pads hold ordinary ids."""
    B, T = len(layout), len(layout[0])
    ids = torch.randint(_NTL_V, (B, T), generator=generator)
    mask = torch.tensor([[c == "R" for c in row] for row in layout])
    logits = (torch.randn(B, T, _NTL_V, generator=generator) * 2).requires_grad_()
    return logits, ids, mask


def _ntl_variants(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """The loss, and what the usual mistakes compute instead."""
    log_p = torch.log_softmax(logits, dim=-1)

    def nll(source: slice, target: slice) -> torch.Tensor:  # −log p(ids[:, target] | logits[:, source]): (B, n)
        return -log_p[:, source].gather(-1, ids[:, target, None]).squeeze(-1)

    shifted, counted = nll(slice(None, -1), slice(1, None)), mask[:, :-1] & mask[:, 1:]
    return {
        "right": shifted[counted].mean(),
        "no-shift": nll(slice(None), slice(None))[mask].mean(),
        "wrong-way": nll(slice(1, None), slice(None, -1))[counted].mean(),
        "pad-counted": shifted.mean(),
        "target-only": shifted[mask[:, 1:]].mean(),
        "source-only": shifted[mask[:, :-1]].mean(),
        "over-all": (shifted * counted).sum() / counted.numel(),
        "per-sentence": ((shifted * counted).sum(1) / counted.sum(1)).mean(),
        "sum": shifted[counted].sum(),
    }


def _call_loss(check: Checker, fn: Any, logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> Any:
    given = (logits.detach().clone(), ids.clone(), mask.clone())
    try:
        result = check.call(fn, logits, ids, mask)
    except ExerciseFailed as failure:
        error = str(failure.values.get("error", ""))
        if failure.advice_id == "raised" and ("Expected target size" in error or "expected target" in error.lower()):
            check.fail(NTL_AXIS, error=error)
        raise
    for name, tensor, copy in zip(("logits", "input_ids", "attention_mask"), (logits.detach(), ids, mask), given,
                                  strict=True):
        if not torch.equal(tensor, copy):
            check.fail(NTL_CHANGED_INPUT, name=name)
    return result


def _loss_value(check: Checker, result: Any) -> torch.Tensor:
    if isinstance(result, torch.Tensor) and result.dim() > 0:
        check.fail(NTL_NOT_SCALAR, got=text(f"모양이 {tuple(result.shape)}인 텐서",
                                            f"a tensor of shape {tuple(result.shape)}"))
    return check.tensor(result, what=text("손실", "the loss"), shape=())


@exercise(padded_next_token_loss)
def check_padded_next_token_loss(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(8)
    diagnoses = (("no-shift", NTL_NO_SHIFT), ("wrong-way", NTL_WRONG_WAY), ("pad-counted", NTL_PAD_COUNTED),
                 ("target-only", NTL_TARGET_MASK_ONLY), ("source-only", NTL_SOURCE_MASK_ONLY),
                 ("over-all", NTL_MEAN_OVER_ALL), ("per-sentence", NTL_PER_SENTENCE), ("sum", NTL_SUM))
    for layout in _NTL_LAYOUTS:
        logits, ids, mask = _ntl_case(layout, generator)
        variants = _ntl_variants(logits.detach(), ids, mask)
        for as_integers in (False, True):  # bool first, then 🤗's 0/1 integers: the same case
            if as_integers:
                try:  # right with the bool mask a moment ago, so anything else is the integers' doing
                    got = _loss_value(check, _call_loss(check, fn, logits, ids, mask.long()))
                except ExerciseFailed as failure:
                    if failure.advice_id != NTL_CHANGED_INPUT.id:  # an error, nan, another shape …
                        check.fail(NTL_MASK_DTYPE)
                    raise
                if not torch.allclose(got.detach(), variants["right"], atol=1e-5):
                    check.fail(NTL_MASK_DTYPE)
                continue
            got = _loss_value(check, _call_loss(check, fn, logits, ids, mask))
            values = {"expected": variants["right"].item(), "got": got.item(),
                      "pairs": mask[:, 1:].numel(), "counted": int((mask[:, :-1] & mask[:, 1:]).sum())}
            if torch.allclose(got.detach(), variants["right"], atol=1e-5):
                if not got.requires_grad:
                    check.fail(LOSS_DETACHED)
                continue
            for name, advice in diagnoses:
                if not torch.allclose(variants[name], variants["right"], atol=1e-5) and torch.allclose(
                        got.detach(), variants[name], atol=1e-5):
                    check.fail(advice, **values)
            check.fail(NTL_WRONG, **values)


# --- advice for top_p_probabilities and top_k_probabilities ----------------------------------------------

FILTER_LOGITS = Advice(
    "filter-logits",
    "결과에 음수나 −∞가 있습니다. 걸러낸 로짓(−∞로 채운 것)을 돌려준 것 같습니다. 이 문제는 샘플링할 확률 분포 "
    "자체를 묻습니다: 남긴 토큰은 양의 확률, 나머지는 정확히 0, 합은 1입니다.",
    "Your result holds negative numbers or −∞: it looks like the filtered logits (−∞ filled in). The exercise "
    "asks for the distribution to sample from itself: positive probabilities for the tokens kept, exactly 0 "
    "elsewhere, summing to 1.",
)
FILTER_SORTED = Advice(
    "filter-sorted",
    "확률을 정렬된 순서로 돌려주었습니다. 값은 맞지만 열 i는 토큰 i의 확률이어야 합니다. sort가 돌려주는 "
    "인덱스로 원래 자리에 되돌리거나(scatter), 정렬한 쪽에서 문턱값만 구해 원래 순서의 확률과 비교하세요.",
    "Your probabilities come back in sorted order. The values are right, but column i must be token i's "
    "probability: put them back where they came from with the indices sort returns (scatter), or use the "
    "sorted copy only to find a threshold and compare the probabilities in their original order with it.",
)
FILTER_NOTHING = Advice(
    "filter-nothing",
    "{case}: 아무것도 걸러내지 않았습니다. 결과가 softmax(logits) 그대로입니다.",
    "{case}: nothing was filtered out; your result is softmax(logits) itself.",
)
FILTER_KEPT_NONE = Advice(
    "filter-kept-none",
    "{case}: {row}번 행에 남은 토큰이 없습니다 (모두 0이거나 nan). 확률이 가장 높은 토큰은 언제나 남아야 합니다. "
    "그렇지 않으면 뽑을 것이 없습니다.",
    "{case}: row {row} keeps no token at all (all 0, or nan). The most probable token must always stay, or "
    "there is nothing left to draw.",
)
FILTER_WRONG_TAIL = Advice(
    "filter-wrong-tail",
    "{case}: {row}번 행에서 확률 {low:.3f}인 토큰은 남기고 더 높은 {high:.3f}인 토큰은 버렸습니다. 남기는 쪽은 "
    "확률이 높은 쪽입니다. 오름차순으로 정렬했거나 topk(largest=False)를 쓰지 않았는지 보세요.",
    "{case}: in row {row} a token of probability {low:.3f} is kept while a more probable one, {high:.3f}, is "
    "dropped. The tokens kept are the most probable ones: check for an ascending sort or topk(largest=False).",
)
FILTER_UNSORTED = Advice(
    "filter-unsorted",
    "{case}: 확률을 정렬하지 않고 어휘 순서대로 누적합을 구했습니다. 누적합은 확률이 높은 토큰부터 더해야 '가장 "
    "확률이 높은 토큰들의 가장 작은 집합'을 찾습니다. 이 검사의 로짓은 토큰 순서가 뒤섞여 있습니다.",
    "{case}: the cumulative sum runs over the vocabulary order, without sorting. Only adding the most probable "
    "tokens first finds 'the smallest set of the most probable tokens'; the check's logits are shuffled.",
)
FILTER_TIE = Advice(
    "filter-tie",
    "{case}: {row}번 행에서 확률이 똑같이 {tied:.3f}인 토큰들 가운데 일부만 남겼습니다. 경계에서 동률인 토큰을 "
    "정렬 순서로 가르면 결과가 어휘 순서에 따라 달라집니다. 이 책의 규칙(attnbook.sampling과 같은)은 마지막으로 "
    "남긴 토큰과 확률이 같은 토큰을 모두 남기는 것입니다: 인덱스가 아니라 문턱값과 비교(≥)하세요.",
    "{case}: in row {row} only some of the tokens tied at probability {tied:.3f} are kept. Splitting a tie at "
    "the boundary by the sort order makes the result depend on the order of the vocabulary. The book's rule "
    "(attnbook.sampling's) keeps every token whose probability equals the last one kept: compare with a "
    "threshold (≥) rather than selecting indices.",
)
FILTER_NOT_RENORMALISED = Advice(
    "filter-not-renormalised",
    "{case}: 남길 토큰은 맞게 골랐지만 확률의 합이 {total:.4f}입니다. 나머지를 0으로 만든 뒤 남은 확률의 합으로 "
    "나누어 합이 1이 되게 하세요. 그래야 남은 토큰끼리의 비율은 그대로인 분포가 됩니다.",
    "{case}: the right tokens are kept, but the probabilities add up to {total:.4f}. After zeroing the others, "
    "divide by the sum of what is left so that it sums to 1: a distribution in which the kept tokens keep "
    "their ratios.",
)
FILTER_VALUES = Advice(
    "filter-values",
    "{case}: 남길 토큰은 맞지만 {row}번 행의 확률 값이 다릅니다 (기대 {expected}, 결과 {got}). 남은 토큰의 "
    "softmax 확률을 그 합으로 나눈 값이어야 합니다. 로짓을 그대로 나누거나 softmax를 두 번 하지 않았는지 보세요.",
    "{case}: the right tokens are kept, but the values of row {row} differ (expected {expected}, got {got}). "
    "They should be the kept tokens' softmax probabilities divided by their sum: check for dividing logits or "
    "applying softmax twice.",
)
FILTER_CHANGED_INPUT = Advice(
    "filter-changed-input",
    "입력 logits가 바뀌었습니다. 제자리 연산(masked_fill_, logits[...] = …) 대신 새 텐서를 만드세요. 생성할 때는 "
    "같은 로짓을 여러 방식으로 거르기도 합니다.",
    "Your function changed its input logits: build a new tensor instead of working in place (masked_fill_, "
    "logits[...] = …). Generation may filter the same logits in more than one way.",
)
TP_TOO_FEW = Advice(
    "tp-too-few",
    "{case}: {row}번 행에서 남긴 토큰의 확률 합이 {mass:.3f}로 p보다 작습니다. 누적합이 p에 처음 닿거나 넘는 "
    "토큰까지 남겨야 합니다. '누적합 < p' 또는 '≤ p'인 토큰만 남기면 그 경계의 토큰이 빠집니다 (p가 가장 높은 "
    "확률보다 작으면 아무것도 남지 않습니다). 한 토큰의 '앞에 있는 토큰들의 합'이 p보다 작으면 그 토큰은 "
    "필요합니다.",
    "{case}: in row {row} the kept tokens add up to {mass:.3f}, less than p. Keep tokens up to and including "
    "the one where the cumulative sum first reaches p. Keeping only those with cumulative sum < p (or ≤ p) "
    "drops that token (and keeps nothing when p is below the top probability): a token is needed when the "
    "tokens ranked above it add up to less than p.",
)
TP_TOO_MANY = Advice(
    "tp-too-many",
    "{case}: {row}번 행에서 필요한 것보다 많이 남겼습니다. 확률이 가장 낮은 것을 빼도 남은 합이 {mass:.3f}로 "
    "이미 p 이상입니다. 누적합이 p에 처음 닿는 토큰에서 멈추세요.",
    "{case}: row {row} keeps more than it needs: without its least probable kept token the rest already "
    "adds up to {mass:.3f}, at least p. Stop at the token where the cumulative sum first reaches p.",
)
TP_LOGITS_CUMSUM = Advice(
    "tp-logits-cumsum",
    "{case}: 확률이 아니라 로짓(또는 정규화하지 않은 exp)의 누적합을 p와 비교했습니다. p는 확률의 합에 대한 "
    "문턱이므로 먼저 softmax로 확률을 구하세요.",
    "{case}: the cumulative sum compared with p is one of logits (or of exp without normalising), not of "
    "probabilities. p bounds a sum of probabilities: take the softmax first.",
)
TK_K_MINUS_ONE = Advice(
    "tk-k-minus-one",
    "{case}: {row}번 행에 {kept}개가 남았습니다 (k = {k}, 동률 없음). k번째 토큰까지 남겨야 하는데 하나 모자랍니다. "
    "k번째로 큰 값과 비교할 때 >가 아니라 ≥를 쓰고, topk(...).values[..., k − 1]이 k번째라는 것(0부터 셈)을 "
    "확인하세요.",
    "{case}: row {row} keeps {kept} tokens (k = {k}, no tie): one short, the k-th must stay too. Compare with "
    "the k-th largest value using ≥, not >, and mind that topk(...).values[..., k − 1] is the k-th (counting "
    "from 0).",
)
TK_K_PLUS_ONE = Advice(
    "tk-k-plus-one",
    "{case}: {row}번 행에 {kept}개가 남았습니다 (k = {k}, 동률 없음). 하나가 많습니다. k번째 값은 "
    "topk(k).values[..., -1], 곧 인덱스 k − 1입니다. 인덱스 k는 (k + 1)번째입니다.",
    "{case}: row {row} keeps {kept} tokens (k = {k}, no tie): one too many. The k-th value is "
    "topk(k).values[..., -1], index k − 1; index k is the (k + 1)-th.",
)
TK_LARGE_K = Advice(
    "tk-large-k",
    "k가 어휘 크기 V = {V}보다 클 때 오류가 났습니다: {error}. k ≥ V이면 모든 토큰을 남기면 됩니다. "
    "min(k, V)를 쓰세요.",
    "Your function fails when k exceeds the vocabulary size V = {V}: {error}. With k ≥ V every token stays: "
    "use min(k, V).",
)
TK_WRONG = Advice(
    "tk-wrong",
    "{case}: {row}번 행에서 남긴 토큰이 다릅니다 (기대 {expected}, 결과 {got}; 1 = 남김). 확률이 가장 높은 k개와, "
    "k번째와 확률이 같은 토큰을 남기세요.",
    "{case}: row {row} keeps other tokens than expected (expected {expected}, got {got}; 1 = kept). Keep the "
    "k most probable tokens, and any tied with the k-th.",
)
TP_WRONG = Advice(
    "tp-wrong",
    "{case}: {row}번 행에서 남긴 토큰이 다릅니다 (기대 {expected}, 결과 {got}; 1 = 남김). 확률이 높은 순으로 "
    "더해 합이 처음 p 이상이 되는 곳까지 남기고, 마지막 토큰과 동률인 것도 남기세요.",
    "{case}: row {row} keeps other tokens than expected (expected {expected}, got {got}; 1 = kept). Add the "
    "probabilities from the most probable down, keep tokens until the sum first reaches p, and any tied with "
    "the last one.",
)

# --- checking top_p_probabilities and top_k_probabilities ------------------------------------------------

# Rows of probabilities (V = 7), chosen so that each mistake shows: a clear nucleus, a tie straddling the
# boundary, a peaked row. Each row is shuffled and shifted before it becomes logits.
_FILTER_ROWS = (
    (0.36, 0.25, 0.15, 0.10, 0.06, 0.04, 0.04),
    (0.30, 0.20, 0.20, 0.10, 0.10, 0.05, 0.05),
    (0.86, 0.05, 0.03, 0.02, 0.02, 0.01, 0.01),
)
_TOP_P_VALUES = (0.75, 0.45, 0.97)  # row 1's tie straddles the edge at 0.75 and 0.45; 0.97 drops row 2's tail
_TOP_K_VALUES = (3, 2, 1, 9)  # k = 2 and k = 3 split ties in row 1; k = 9 > V
_FILTER_SHIFT = 3.0  # logits = log p + 3 + row: logits that are not log-probabilities


def _filter_logits() -> torch.Tensor:
    generator = torch.Generator().manual_seed(80)
    rows = []
    for r, row in enumerate(_FILTER_ROWS):
        order = torch.randperm(len(row), generator=generator)
        rows.append(torch.tensor(row).log()[order] + _FILTER_SHIFT + r)
    return torch.stack(rows)  # (3, 7)


def _show_row(kept: torch.Tensor) -> str:
    return "".join("1" if x else "0" for x in kept.tolist())


def _show_values(row: torch.Tensor) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in row.tolist()) + "]"


def _call_filter(check: Checker, fn: Any, logits: torch.Tensor, setting: Any) -> Any:
    given = logits.clone()
    result = check.call(fn, given, setting)
    if not torch.equal(given, logits):
        check.fail(FILTER_CHANGED_INPUT)
    return result


def _check_kept_set(check: Checker, case: str, probs: torch.Tensor, kept: torch.Tensor,
                    expected: torch.Tensor, specific: Any) -> None:
    """Advice about which tokens a row keeps, from the most telling to the least; ``specific`` adds its own."""
    for row in range(probs.size(0)):
        p, k = probs[row], kept[row]
        if k.any() and not k.all() and p[k].min() < p[~k].max() - 1e-6:
            check.fail(FILTER_WRONG_TAIL, case=case, row=row, low=p[k].min().item(), high=p[~k].max().item())
    if bool(kept.all()) and not bool(expected.all()):
        check.fail(FILTER_NOTHING, case=case)
    specific(kept)
    for row in range(probs.size(0)):
        if not kept[row].any():
            check.fail(FILTER_KEPT_NONE, case=case, row=row)
    for row in range(probs.size(0)):
        p, k = probs[row], kept[row]
        if torch.equal(k, expected[row]):
            continue
        boundary = p[k].min()
        tied = (p - boundary).abs() < 1e-6
        if (tied & ~k).any():
            check.fail(FILTER_TIE, case=case, row=row, tied=boundary.item())


def _clean_cut(ranked: torch.Tensor, k: int) -> bool:
    """Whether the k-th of the probabilities ``ranked`` (most probable first) is tied with neither neighbour."""
    neighbours = [i for i in (k - 2, k) if 0 <= i < ranked.numel()]
    return 1 <= k <= ranked.numel() and all(abs(ranked[i] - ranked[k - 1]) > 1e-6 for i in neighbours)


def _check_filter_values(check: Checker, case: str, result: torch.Tensor, probs: torch.Tensor,
                         expected: torch.Tensor) -> None:
    totals = result.sum(dim=-1)
    unnormalised = probs * (expected > 0)
    forgot = torch.allclose(result, unnormalised, atol=1e-5) and not torch.allclose(unnormalised, expected, atol=1e-5)
    if forgot or not torch.allclose(totals, torch.ones_like(totals), atol=1e-4):
        check.fail(FILTER_NOT_RENORMALISED, case=case, total=totals[(totals - 1).abs().argmax()].item())
    if not torch.allclose(result, expected, atol=1e-5):
        row = int((result - expected).abs().amax(dim=-1).argmax())
        check.fail(FILTER_VALUES, case=case, row=row, expected=_show_values(expected[row]),
                   got=_show_values(result[row]))


def _read_filtered(check: Checker, result: Any, logits: torch.Tensor, expected: torch.Tensor,
                   case: str) -> torch.Tensor:
    """The reader's probabilities, after the checks that do not need the kept set."""
    result = check.tensor(result, what=text("결과", "the result"), shape=tuple(logits.shape), finite=False)
    if not result.is_floating_point():
        check.fail(FILTER_VALUES, case=case, row=0, expected=_show_values(expected[0]), got=str(result[0].tolist()))
    if bool((result == -math.inf).any()) or bool((result < 0).any()):
        check.fail(FILTER_LOGITS)
    ordered = expected.sort(dim=-1, descending=True).values
    if not torch.allclose(ordered, expected, atol=1e-6) and torch.allclose(result, ordered, atol=1e-5):
        check.fail(FILTER_SORTED)
    return result.detach()


@exercise(top_p_probabilities)
def check_top_p_probabilities(check: Checker, fn) -> None:
    logits = _filter_logits()
    probs = logits.softmax(dim=-1)
    for p in _TOP_P_VALUES:
        case = f"p = {p}"
        expected = top_p_probabilities(logits, p)
        result = _read_filtered(check, _call_filter(check, fn, logits, p), logits, expected, case)
        kept, should = result > 0, expected > 0  # nan > 0 is False: a nan row keeps nothing

        unsorted = (probs.cumsum(dim=-1) - probs) < p  # the cumulative sum in vocabulary order
        ordered_logits = logits.sort(dim=-1, descending=True).values
        by_logits = (ordered_logits.cumsum(dim=-1) - ordered_logits) < p  # the top ranks "needed" by logits
        by_logits = probs >= probs.sort(dim=-1, descending=True).values.masked_fill(
            ~by_logits, math.inf).amin(dim=-1, keepdim=True)
        for wrong, advice in ((unsorted, FILTER_UNSORTED), (by_logits, TP_LOGITS_CUMSUM)):
            if not torch.equal(wrong, should) and torch.equal(kept, wrong):
                check.fail(advice, case=case)

        def specific(kept: torch.Tensor, p: float = p, case: str = case) -> None:
            for row in range(probs.size(0)):
                prob, k = probs[row], kept[row]
                mass = prob[k].sum().item()
                if mass < p - 1e-6:
                    check.fail(TP_TOO_FEW, case=case, row=row, mass=mass)
                without = k & (prob > prob[k].min() + 1e-6)  # drop the least probable kept token(s)
                if prob[without].sum().item() >= p + 1e-6:
                    check.fail(TP_TOO_MANY, case=case, row=row, mass=prob[without].sum().item())

        _check_kept_set(check, case, probs, kept, should, specific)
        if not torch.equal(kept, should):
            row = int((kept != should).any(dim=-1).nonzero()[0])
            check.fail(TP_WRONG, case=case, row=row, expected=_show_row(should[row]), got=_show_row(kept[row]))
        _check_filter_values(check, case, result, probs, expected)


@exercise(top_k_probabilities)
def check_top_k_probabilities(check: Checker, fn) -> None:
    logits = _filter_logits()
    probs = logits.softmax(dim=-1)
    V = logits.size(-1)
    for k in _TOP_K_VALUES:
        case = f"k = {k}"
        expected = top_k_probabilities(logits, k)
        try:
            raw = _call_filter(check, fn, logits, k)
        except ExerciseFailed as failure:
            if k > V and failure.advice_id == "raised":
                check.fail(TK_LARGE_K, V=V, error=failure.values.get("error", ""))
            raise
        result = _read_filtered(check, raw, logits, expected, case)
        kept, should = result > 0, expected > 0

        def specific(kept: torch.Tensor, k: int = k, case: str = case, should: torch.Tensor = should) -> None:
            for row in range(probs.size(0)):
                count = int(kept[row].sum())
                if _clean_cut(probs[row].sort(descending=True).values, k) and count in (k - 1, k + 1):
                    check.fail(TK_K_MINUS_ONE if count == k - 1 else TK_K_PLUS_ONE, case=case, row=row,
                               kept=count, k=k)

        _check_kept_set(check, case, probs, kept, should, specific)
        if not torch.equal(kept, should):
            row = int((kept != should).any(dim=-1).nonzero()[0])
            check.fail(TK_WRONG, case=case, row=row, expected=_show_row(should[row]), got=_show_row(kept[row]))
        _check_filter_values(check, case, result, probs, expected)


# --- advice for attend_with_cache --------------------------------------------------------------------------

KV_RETURN = Advice(
    "kv-return",
    "(output, keys, values) 세 텐서를 튜플로 돌려주세요. 받은 것: {got}. keys와 values가 곧 다음 단계에 넘길 "
    "새 캐시입니다.",
    "Return a tuple of three tensors, (output, keys, values); got {got}. keys and values are the new cache, "
    "handed to the next step.",
)
KV_CAT_DIM = Advice(
    "kv-cat-dim",
    "과거와 새 키·밸류를 잘못된 축으로 이어 붙였습니다{detail}. 캐시는 (B, H, S, Dh)이고 늘어나는 것은 위치의 "
    "수 S, 곧 dim=2(또는 dim=-2)입니다. 배치(0), 헤드(1), 헤드의 너비(3)는 그대로입니다.",
    "The past and the new keys and values are joined along the wrong axis{detail}. The cache is (B, H, S, Dh) "
    "and what grows is the number of positions S: dim=2 (or dim=-2). The batch (0), the heads (1) and the "
    "head width (3) stay as they are.",
)
KV_ORDER = Advice(
    "kv-order",
    "새 키·밸류를 과거의 앞에 붙였습니다. 캐시의 열 s는 위치 s이고, 새 토큰은 위치 S … S + T − 1이므로 뒤에 "
    "붙여야 합니다: torch.cat([past_keys, key], dim=2). 순서가 바뀌면 past_mask와 인과 마스크가 엉뚱한 열을 "
    "가립니다.",
    "The new keys and values are put before the past. Column s of the cache is position s, and the new tokens "
    "are positions S … S + T − 1, so they go after: torch.cat([past_keys, key], dim=2). In another order, "
    "past_mask and the causal mask hide the wrong columns.",
)
KV_NO_PADDING = Advice(
    "kv-no-padding",
    "과거의 패딩을 가리지 않았습니다 (past_mask가 False인 열). 왼쪽 패딩으로 맞춘 프롬프트에서는 캐시에도 패딩 "
    "위치의 키·밸류가 들어 있고, 이를 가리지 않으면 새 토큰이 패딩을 읽습니다. 점수를 소프트맥스하기 전에 "
    "past_mask가 False인 키를 −∞로 채우세요.",
    "The past's padding is not hidden (the columns where past_mask is False). With prompts lined up by left "
    "padding, the cache holds keys and values at padding positions too, and unhidden the new tokens read "
    "them. Fill the scores of keys where past_mask is False with −∞ before the softmax.",
)
KV_FUTURE = Advice(
    "kv-future",
    "새 토큰끼리 미래를 봅니다 (T = {T}). 한 번에 여러 토큰을 넣을 때(프롬프트를 처음 읽을 때), 새 토큰 i는 "
    "새 토큰 j ≤ i만 볼 수 있습니다. 캐시가 없던 때의 인과 마스크와 같은 일입니다.",
    "The new tokens see their future (T = {T}). When several tokens come in at once (as when a prompt is first "
    "read), new token i may see new tokens j ≤ i only: the causal mask, as without a cache.",
)
KV_MASK_ROWS = Advice(
    "kv-mask-rows",
    "인과 마스크를 (S + T) × (S + T)로 만든 뒤 앞의 T행을 잘랐습니다. 그 행들은 위치 0 … T − 1의 쿼리입니다. "
    "새 쿼리는 위치 S … S + T − 1이므로 마지막 T행을 써야 합니다: mask[S:] 또는 tril(diagonal=S). 지금은 "
    "새 토큰이 자기 자신도, 과거의 대부분도 보지 못합니다.",
    "The causal mask is built (S + T) × (S + T) and its first T rows are taken: those are the queries at "
    "positions 0 … T − 1. The new queries are at positions S … S + T − 1, so take the last T rows, mask[S:], "
    "or tril(diagonal=S). As it is, the new tokens see neither themselves nor most of the past.",
)
KV_NOT_ITSELF = Advice(
    "kv-not-itself",
    "새 토큰이 자기 자신을 보지 않습니다. 위치 S + i의 쿼리는 자기 위치의 키도 보아야 합니다 (인과 마스크의 "
    "대각선). 새 키를 캐시에 붙인 뒤에 어텐션을 계산하세요.",
    "A new token does not attend to itself. The query at position S + i must see the key at its own "
    "position too (the causal mask's diagonal): append the new keys to the cache before attending.",
)
KV_SCALE = Advice(
    "kv-scale",
    "점수를 √Dh = √{Dh}로 나누지 않았습니다 (또는 다른 수로 나누었습니다). 4장의 스케일드 닷-프로덕트 어텐션입니다: "
    "softmax(q kᵀ / √Dh) v.",
    "The scores are not divided by √Dh = √{Dh} (or divided by something else): chapter 4's scaled dot-product "
    "attention, softmax(q kᵀ / √Dh) v.",
)
KV_FILL_ZERO = Advice(
    "kv-fill-zero",
    "가린 자리의 점수를 0으로 채웠습니다 (또는 가중치에 마스크를 곱했습니다). 점수 0은 '보지 말라'가 아니라 "
    "exp(0) = 1만큼의 가중치입니다. 소프트맥스 전에 −∞로 채우세요 (masked_fill(~visible, float('-inf'))).",
    "The hidden scores are filled with 0 (or the weights multiplied by the mask). A score of 0 does not mean "
    "'do not look': it still gets weight exp(0) = 1. Fill with −∞ before the softmax "
    "(masked_fill(~visible, float('-inf'))).",
)
KV_INVERTED = Advice(
    "kv-inverted",
    "마스크의 True와 False가 뒤바뀌었습니다. past_mask는 True = 실제 토큰 = 볼 수 있음입니다. torch.nn의 "
    "key_padding_mask(True = 가림)와 섞지 마세요.",
    "True and False are swapped in the mask. past_mask says True = a real token = may attend; do not mix it "
    "up with torch.nn's key_padding_mask (True = hidden).",
)
KV_SOFTMAX_AXIS = Advice(
    "kv-softmax-axis",
    "소프트맥스를 쿼리 축(dim=-2)으로 계산했습니다. 쿼리 하나의 가중치는 키들에 대한 분포이므로 키 축(dim=-1)에서 "
    "합이 1이어야 합니다.",
    "The softmax runs along the query axis (dim=-2). Each query's weights are a distribution over the keys: "
    "they sum to 1 along the key axis (dim=-1).",
)
KV_CHANGED_INPUT = Advice(
    "kv-changed-input",
    "입력 {name}이(가) 바뀌었습니다. 캐시는 여러 이어쓰기가 함께 쓰기도 하니(같은 프롬프트에서 갈라지는 두 "
    "샘플처럼) 제자리에서 바꾸지 말고 새 텐서를 만드세요.",
    "Your function changed its input `{name}`. A cache may be shared by several continuations (two samples "
    "branching from one prompt): build new tensors instead of changing it in place.",
)
KV_CACHE_WRONG = Advice(
    "kv-cache-wrong",
    "돌려준 {what}이(가) 과거 뒤에 새 것을 붙인 것과 다릅니다 (S = {S}, T = {T}). 새 캐시의 앞 S개 위치는 "
    "past_{what}, 뒤 T개는 새 {single}여야 합니다.",
    "The {what} you return differ from the past followed by the new ones (S = {S}, T = {T}). The first S "
    "positions of the new cache are past_{what}, the last T the new {single}.",
)
KV_NAN = Advice(
    "kv-nan",
    "출력에 nan이 있습니다 (S = {S}, T = {T}). 볼 수 있는 키가 하나도 없는 쿼리가 있다는 뜻입니다. 모든 점수가 "
    "−∞인 행의 소프트맥스는 nan입니다. 새 토큰은 적어도 자기 자신은 볼 수 있어야 합니다.",
    "The output holds nan (S = {S}, T = {T}): some query has no key it may attend to, and a softmax over a row "
    "of −∞ is nan. A new token can always see at least itself.",
)
KV_WRONG = Advice(
    "kv-wrong",
    "출력이 다릅니다 (S = {S}, T = {T}, 가장 큰 차이 {difference:.3g}). 새 쿼리 i는 past_mask가 True인 과거 "
    "위치와 새 위치 j ≤ i를 보고, softmax(q kᵀ / √Dh)로 가중치를 구해 밸류를 평균합니다.",
    "The output differs (S = {S}, T = {T}, largest difference {difference:.3g}). New query i sees the past "
    "positions where past_mask is True and the new positions j ≤ i; its weights are softmax(q kᵀ / √Dh), "
    "and the output is their average of the values.",
)

# --- checking attend_with_cache ------------------------------------------------------------------------------

_KV_B, _KV_H, _KV_DH = 3, 2, 5
_KV_CASES = (  # (past layout, T): R real, P padding; one generated token, a prompt read at once, a chunk
    (("RRRR", "PPRR", "PRRR"), 1),
    (("", "", ""), 3),
    (("RRR", "PRR", "PPR"), 2),
)


def _kv_case(layout: tuple[str, ...], T: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    S = len(layout[0])
    past_keys, past_values = (torch.randn(_KV_B, _KV_H, S, _KV_DH, generator=generator) * 1.5 for _ in range(2))
    past_mask = torch.tensor([[c == "R" for c in row] for row in layout], dtype=torch.bool).view(_KV_B, S)
    query, key, value = (torch.randn(_KV_B, _KV_H, T, _KV_DH, generator=generator) * 1.5 for _ in range(3))
    return past_keys, past_values, past_mask, query, key, value


def _kv_variant(past_keys: torch.Tensor, past_values: torch.Tensor, past_mask: torch.Tensor, query: torch.Tensor,
                key: torch.Tensor, value: torch.Tensor, *, causal: str = "right", padding: str = "right",
                scale: bool = True, fill: float = -math.inf, axis: int = -1) -> torch.Tensor:
    """The output of one cached step with one thing done differently."""
    S, T = past_keys.size(2), query.size(2)
    keys, values = torch.cat([past_keys, key], dim=2), torch.cat([past_values, value], dim=2)
    ones = torch.ones(T, S + T, dtype=torch.bool)
    allowed = {"right": ones.tril(diagonal=S), "none": ones, "first-rows": ones.tril(), "strict": ones.tril(S - 1)}
    real = torch.cat([past_mask, torch.ones(past_mask.size(0), T, dtype=torch.bool)], dim=1)
    visible = allowed[causal] & (torch.ones_like(real) if padding == "none" else real)[:, None, None, :]
    if padding == "inverted":  # True read as "hidden": everything flipped
        visible = ~visible
    scores = query @ keys.transpose(-2, -1) / (math.sqrt(query.size(-1)) if scale else 1.0)
    return scores.masked_fill(~visible, fill).softmax(dim=axis) @ values


def _read_step(check: Checker, result: Any, S: int, T: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"a {type(result).__name__}" if not isinstance(result, (tuple, list)) else f"{len(result)} values"
        check.fail(KV_RETURN, got=got)
    output, keys, values = result
    cache_shape = (_KV_B, _KV_H, S + T, _KV_DH)
    for name, tensor in (("keys", keys), ("values", values)):
        if isinstance(tensor, torch.Tensor) and tensor.dim() == 4 and tuple(tensor.shape) != cache_shape:
            shape = tuple(tensor.shape)
            check.fail(KV_CAT_DIM, detail=text(f" ({name}의 모양 {shape}, 기대 {cache_shape})",
                                               f" ({name} has shape {shape}, expected {cache_shape})"))
        check.tensor(tensor, what=name, shape=cache_shape)
    output = check.tensor(output, what="output", shape=(_KV_B, _KV_H, T, _KV_DH), finite=False)
    return output.detach(), keys.detach(), values.detach()


@exercise(attend_with_cache)
def check_attend_with_cache(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(88)
    names = ("past_keys", "past_values", "past_mask", "query", "key", "value")
    for layout, T in _KV_CASES:
        S = len(layout[0])
        inputs = _kv_case(layout, T, generator)
        given = tuple(tensor.clone() for tensor in inputs)
        try:
            result = check.call(fn, *given)
        except ExerciseFailed as failure:
            error = str(failure.values.get("error", ""))
            if failure.advice_id == "raised" and "Sizes of tensors must match" in error:
                check.fail(KV_CAT_DIM, detail=text(f" (오류: {error})", f" (error: {error})"))
            raise
        for name, tensor, original in zip(names, given, inputs, strict=True):
            if not torch.equal(tensor, original):
                check.fail(KV_CHANGED_INPUT, name=name)
        output, keys, values = _read_step(check, result, S, T)
        past_keys, past_values, _, _, key, value = inputs
        for what, single, got, past, new in (("keys", "key", keys, past_keys, key),
                                             ("values", "value", values, past_values, value)):
            if not torch.equal(got, torch.cat([past, new], dim=2)):
                if S and torch.equal(got, torch.cat([new, past], dim=2)):
                    check.fail(KV_ORDER)
                check.fail(KV_CACHE_WRONG, what=what, single=single, S=S, T=T)
        expected = attend_with_cache(*inputs)[0]
        if torch.allclose(output, expected, atol=1e-5):
            continue
        diagnoses = (
            ({"padding": "none"}, KV_NO_PADDING), ({"causal": "none"}, KV_FUTURE),
            ({"causal": "first-rows"}, KV_MASK_ROWS), ({"causal": "strict"}, KV_NOT_ITSELF),
            ({"scale": False}, KV_SCALE), ({"fill": 0.0}, KV_FILL_ZERO), ({"padding": "inverted"}, KV_INVERTED),
            ({"axis": -2}, KV_SOFTMAX_AXIS),
        )
        for change, advice in diagnoses:
            wrong = _kv_variant(*inputs, **change)
            if torch.allclose(wrong, expected, atol=1e-5, equal_nan=True):
                continue
            # a query with nothing to see: nan by hand, 0 from F.scaled_dot_product_attention
            if any(torch.allclose(output, w, atol=1e-5, equal_nan=True) for w in (wrong, wrong.nan_to_num(0.0))):
                check.fail(advice, T=T, Dh=_KV_DH)
        zero_filled = _kv_weights_times_mask(*inputs)
        if torch.allclose(output, zero_filled, atol=1e-5):
            check.fail(KV_FILL_ZERO)
        if torch.isnan(output).any():
            check.fail(KV_NAN, S=S, T=T)
        check.fail(KV_WRONG, S=S, T=T, difference=(output - expected).abs().max().item())


def _kv_weights_times_mask(past_keys: torch.Tensor, past_values: torch.Tensor, past_mask: torch.Tensor,
                           query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """The other way to 'mask' with a zero: softmax over every key, then the hidden weights multiplied by 0."""
    S, T = past_keys.size(2), query.size(2)
    keys, values = torch.cat([past_keys, key], dim=2), torch.cat([past_values, value], dim=2)
    real = torch.cat([past_mask, torch.ones(past_mask.size(0), T, dtype=torch.bool)], dim=1)
    visible = torch.ones(T, S + T, dtype=torch.bool).tril(diagonal=S) & real[:, None, None, :]
    weights = (query @ keys.transpose(-2, -1) / math.sqrt(query.size(-1))).softmax(dim=-1)
    return (weights * visible) @ values


# --- advice for copy_model_perplexity --------------------------------------------------------------------------

CP_NOT_A_NUMBER = Advice(
    "cp-not-a-number",
    "퍼플렉시티 하나(실수)를 돌려주세요. 받은 것: {got}.",
    "Return one number, the perplexity; got {got}.",
)
CP_RAN_MODEL = Advice(
    "cp-ran-model",
    "함수 안에서 로짓을 만들어 손실을 계산했습니다 ({what}). 그건 '실행'이고, 확인 셀이 합니다. 예측은 셈으로만: "
    "예측이 몇 번 일어나고 그중 몇 번이 앞 토큰과 같은지 세어 식에 넣으세요.",
    "Your function builds logits and computes a loss ({what}): that is the 'run' half, which the check cell "
    "does. Predict by counting alone: how many predictions are made, and how many of them repeat the token "
    "before.",
)
CP_NOT_EXP = Advice(
    "cp-not-exp",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 교차 엔트로피(손실)를 돌려주었습니다. "
    "퍼플렉시티는 그 지수 exp(손실)입니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. That is the cross-entropy (the loss); "
    "the perplexity is its exponential, exp(loss).",
)
CP_BASE = Advice(
    "cp-base",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 밑이 섞였습니다: 자연로그로 구한 손실에 "
    "2**를 씌웠거나, log2로 구한 손실에 exp를 씌웠습니다. 로그와 지수의 밑이 같으면 퍼플렉시티는 밑과 무관합니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. The bases are mixed up: 2** of a loss "
    "in natural logs, or exp of a loss in log2. With the same base for the log and the power, the perplexity "
    "does not depend on the base.",
)
CP_FIRST_TOKEN = Advice(
    "cp-first-token",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 문장의 첫 토큰도 예측으로 세었습니다. 첫 토큰 "
    "앞에는 읽은 토큰이 없으니 next_token_loss는 그 토큰을 맞히라고 하지 않습니다. 길이 n인 문장에서 예측은 "
    "n − 1번입니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. You counted each sentence's first "
    "token as a prediction. Nothing is read before it, so next_token_loss never asks for it: a sentence of n "
    "tokens makes n − 1 predictions.",
)
CP_ACROSS_SENTENCES = Advice(
    "cp-across-sentences",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 문장들을 한 줄로 이어 붙여 센 것 같습니다: 한 "
    "문장의 마지막 토큰이 다음 문장의 첫 토큰을 예측하게 됩니다. 배치의 문장은 따로따로이고 (패딩으로 길이만 "
    "맞출 뿐), 문장 경계를 넘는 예측은 없습니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. It looks as if the sentences were "
    "joined into one stream, so that a sentence's last token predicts the next sentence's first. The sentences "
    "of a batch are separate (padding only lines them up): no prediction crosses a sentence boundary.",
)
CP_MISS_SPREAD = Advice(
    "cp-miss-spread",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 틀린 예측의 확률을 잘못 잡았습니다{detail}. "
    "앞 토큰이 아닌 토큰은 V − 1개이고 나머지 확률 1 − q를 똑같이 나누어 가지므로, 각각 (1 − q)/(V − 1)입니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. The probability of a token that is "
    "not a repeat is wrong{detail}. There are V − 1 tokens other than the previous one, sharing the remaining "
    "1 − q equally: (1 − q)/(V − 1) each.",
)
CP_PER_SENTENCE = Advice(
    "cp-per-sentence",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 문장마다 따로 구한 값을 평균했습니다. "
    "next_token_loss는 배치의 모든 예측을 한꺼번에 평균하므로, 예측이 많은 긴 문장이 그만큼 더 무겁게 셉니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. You averaged values computed for each "
    "sentence; next_token_loss averages all the predictions of the batch at once, so a long sentence, with "
    "more predictions, weighs more.",
)
CP_WRONG = Advice(
    "cp-wrong",
    "{case}: 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 퍼플렉시티는 exp(예측마다의 −log 확률의 "
    "평균)입니다. 예측은 문장마다 (길이 − 1)번, 그중 앞 토큰과 같은 것은 확률 q, 나머지는 (1 − q)/(V − 1)를 "
    "받습니다.",
    "{case}: you predicted {predicted:.4f}; running gives {measured:.4f}. The perplexity is exp(the mean of −log "
    "probability over the predictions). A sentence makes (length − 1) predictions; those that repeat the "
    "previous token get probability q, the others (1 − q)/(V − 1).",
)

# --- checking copy_model_perplexity ----------------------------------------------------------------------------


def _copy_corpus(seed: int, count: int, vocab_size: int) -> list[list[int]]:
    """Sentences of 1 to 9 tokens from a small alphabet, so that repeats happen, some across boundaries."""
    generator = torch.Generator().manual_seed(seed)
    sentences = []
    for _ in range(count):
        length = int(torch.randint(1, 10, (), generator=generator))
        tokens = torch.randint(min(vocab_size, 4), (length,), generator=generator).tolist()
        sentences.append(tokens)
    return sentences


_COPY_CASES = (  # (sentences, q, V): a hand-made corpus (one boundary repeats, one sentence of one token) …
    ([[3, 3, 5, 2, 2, 2, 7], [7, 4, 4], [9], [1, 6, 6, 1]], 0.6, 12),
    (_copy_corpus(1, 40, 30), 0.3, 30),  # … a random one …
    ([[5, 5, 0, 8], [8, 2], [2, 2, 2]], 1 / 9, 9),  # … and q = 1/V, where copying is no bet at all
)


def _measure_copy(sentences: list[list[int]], q: float, vocab_size: int) -> float:
    """Run it: the copy model's logits for the padded batch, scored by attnbook.gpt.next_token_loss."""
    from attnbook.gpt import next_token_loss

    T = max(len(s) for s in sentences)
    ids = torch.tensor([s + [0] * (T - len(s)) for s in sentences])
    mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in sentences])
    miss = math.log((1 - q) / (vocab_size - 1))
    logits = torch.full((len(sentences), T, vocab_size), miss, dtype=torch.float64)
    logits.scatter_(-1, ids[..., None], math.log(q))  # the token just read gets q
    return math.exp(next_token_loss(logits, ids, mask).item())


def _copy_variant(sentences: list[list[int]], q: float, vocab_size: int, *, first: bool = False,
                  joined: bool = False, miss: str = "right", per_sentence: bool = False) -> float:
    """copy_model_perplexity with one thing counted differently."""
    if joined:
        sentences = [[t for s in sentences for t in s]]
    p_miss = {"right": (1 - q) / (vocab_size - 1), "over-V": (1 - q) / vocab_size, "whole": 1 - q,
              "uniform": 1 / vocab_size}[miss]

    def losses(s: list[int]) -> list[float]:
        out = [-math.log(q) if a == b else -math.log(p_miss) for a, b in pairwise(s)]
        return ([-math.log(p_miss)] if first and s else []) + out

    if per_sentence:
        per = [math.exp(sum(ls) / len(ls)) for ls in map(losses, sentences) if ls]
        return sum(per) / len(per)
    everything = [x for s in sentences for x in losses(s)]
    return math.exp(sum(everything) / len(everything))


def _call_without_running(check: Checker, fn: Any, sentences: list[list[int]], q: float, vocab_size: int) -> Any:
    """The reader's prediction; computing a loss from logits on the way is running, not predicting."""
    watched = {"cross_entropy": F, "log_softmax": torch}
    originals = {name: getattr(module, name) for name, module in watched.items()}
    used: list[str] = []

    def noting(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            used.append(name)
            return originals[name](*args, **kwargs)
        return call

    for name, module in watched.items():
        setattr(module, name, noting(name))
    try:
        result = check.call(fn, [list(s) for s in sentences], q, vocab_size)
    finally:
        for name, module in watched.items():
            setattr(module, name, originals[name])
    if used:
        check.fail(CP_RAN_MODEL, what=", ".join(sorted(set(used))))
    return result


@exercise(copy_model_perplexity)
def check_copy_model_perplexity(check: Checker, fn) -> None:
    for sentences, q, V in _COPY_CASES:
        result = _call_without_running(check, fn, sentences, q, V)
        if isinstance(result, torch.Tensor) and result.numel() == 1:
            result = result.item()
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            check.fail(CP_NOT_A_NUMBER, got=type(result).__name__)
        predicted = float(result)
        measured = _measure_copy(sentences, q, V)
        if math.isclose(predicted, measured, rel_tol=1e-6):
            continue
        case = f"q = {q:.4g}, V = {V}, {len(sentences)} sentences"
        values = {"case": case, "predicted": predicted, "measured": measured}
        right = _copy_variant(sentences, q, V)
        miss_detail = {
            "over-V": text(" ((1 − q)/V로 나누었습니다)", " (you divided 1 − q by V)"),
            "whole": text(" (1 − q 전체를 주었습니다)", " (you gave it all of 1 − q)"),
            "uniform": text(" (1/V로 두었습니다)", " (you used 1/V)"),
        }
        diagnoses = [
            (math.log(right), CP_NOT_EXP, {}),
            (2 ** math.log(right), CP_BASE, {}),
            (math.exp(math.log2(right)), CP_BASE, {}),
            (_copy_variant(sentences, q, V, first=True), CP_FIRST_TOKEN, {}),
            (_copy_variant(sentences, q, V, joined=True), CP_ACROSS_SENTENCES, {}),
            (_copy_variant(sentences, q, V, per_sentence=True), CP_PER_SENTENCE, {}),
            *((_copy_variant(sentences, q, V, miss=miss), CP_MISS_SPREAD, {"detail": detail})
              for miss, detail in miss_detail.items()),
        ]
        for wrong, advice, extra in diagnoses:
            if not math.isclose(wrong, measured, rel_tol=1e-6) and math.isclose(predicted, wrong, rel_tol=1e-6):
                check.fail(advice, **values, **extra)
        check.fail(CP_WRONG, **values)

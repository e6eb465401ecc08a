"""Chapter 2 (시퀀스-투-시퀀스 / Sequence to sequence): a padding-aware loss, greedy decoding and beam search."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from attnbook.exercises.checking import Advice, Checker, ExerciseFailed, exercise
from attnbook.language import text

BOS, EOS = 1, 2


def greedy(model, src: torch.Tensor, src_mask: torch.Tensor, max_len: int) -> list[int]:
    """Greedy decoding of one sentence (a batch of 1): the token ids, without <s> and </s>."""
    state = model.start(src, src_mask)
    previous = torch.tensor([model.config.bos_id])
    tokens = []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        best = log_probs.argmax(dim=-1)                     # (1,)
        if best.item() == model.config.eos_id:
            break
        tokens.append(best.item())
        previous = best
    return tokens


@dataclass(frozen=True)
class _Config:
    bos_id: int = BOS
    eos_id: int = EOS


@dataclass
class _State:
    steps: torch.Tensor  # (B,) how many tokens were produced

    def select(self, index: torch.Tensor) -> _State:
        return _State(self.steps[index])


class _ScriptedModel:
    """A stand-in decoder whose next token depends on the previous one: a readable test for greedy loops.

    From <s> it says the sentence's first word (the source's first token); then each word w is followed
    by ``follow[w]`` until </s>. ``follow`` has a second-best choice everywhere, so a loop that feeds the
    wrong token back, or never feeds one back, ends up somewhere else.
    """

    def __init__(self, follow: dict[int, int], vocab: int = 12) -> None:
        self.config, self.follow, self.vocab = _Config(), follow, vocab

    def start(self, src: torch.Tensor, src_mask: torch.Tensor) -> _State:
        self.first = src[:, 0]
        return _State(torch.zeros(src.shape[0], dtype=torch.long))

    def step(self, state: _State, previous: torch.Tensor):
        if not isinstance(previous, torch.Tensor) or tuple(previous.shape) != tuple(self.first.shape):
            got = f"Tensor {tuple(previous.shape)}" if isinstance(previous, torch.Tensor) else type(previous).__name__
            raise ExerciseFailed("greedy", PREVIOUS_SHAPE, expected=tuple(self.first.shape), got=got)
        scores = torch.full((previous.shape[0], self.vocab), -5.0)
        for b, token in enumerate(previous.tolist()):
            best = int(self.first[b]) if token == BOS else self.follow.get(token, EOS)
            scores[b, best] = 5.0
            scores[b, (best + 3) % self.vocab] = 2.0  # a plausible runner-up
        return torch.log_softmax(scores, dim=-1), _State(state.steps + 1), None


PREVIOUS_SHAPE = Advice(
    "previous-shape",
    "model.step의 previous는 모양이 {expected}인 정수 텐서(문장마다 토큰 하나)여야 하는데 {got}을(를) 넘겼습니다. "
    "argmax(dim=-1)의 결과를 그대로 넘기세요. .item()으로 꺼낸 정수나 keepdim=True로 만든 (1, 1) 텐서는 안 됩니다.",
    "model.step expects previous to be a tensor of token ids of shape {expected} (one token per sentence), but it "
    "received {got}. Pass the result of argmax(dim=-1) as it is: not a Python int from .item(), nor a (1, 1) "
    "tensor from keepdim=True.",
)
NEVER_STOPS = Advice(
    "never-stops",
    "</s>가 나와도 멈추지 않았습니다. argmax가 </s>이면 그 자리에서 멈추고, </s>는 결과에 넣지 마세요.",
    "Decoding did not stop at </s>. When the argmax is </s>, stop there, and leave </s> out of the result.",
)
KEEPS_EOS = Advice(
    "keeps-eos",
    "결과에 </s>가 들어 있습니다. 멈추는 것은 맞지만 </s>는 문장의 일부가 아닙니다.",
    "The result contains </s>. Stopping is right, but </s> is not part of the sentence.",
)
KEEPS_BOS = Advice(
    "keeps-bos",
    "결과에 <s>가 들어 있습니다. <s>는 디코더가 처음 읽는 토큰일 뿐, 만들어 낸 토큰이 아닙니다.",
    "The result contains <s>. It is only the first token the decoder reads, not one it produced.",
)
NOT_FED_BACK = Advice(
    "not-fed-back",
    "고른 토큰을 다음 단계의 입력으로 넣지 않은 것 같습니다: 정답 {expected}, 결과 {got}. "
    "매 단계 previous = 방금 고른 토큰으로 바꾸세요.",
    "It looks like the chosen token is not fed back as the next input: expected {expected}, got {got}. "
    "After each step, set previous to the token just chosen.",
)
TOO_LONG = Advice(
    "too-long",
    "max_len={max_len}인데 토큰을 {got}개 만들었습니다. 최대 max_len 단계만 디코딩하세요.",
    "max_len={max_len} but {got} tokens were produced: decode at most max_len steps.",
)
WRONG_SENTENCE = Advice(
    "wrong-sentence",
    "결과가 탐욕 디코딩과 다릅니다: 정답 {expected}, 결과 {got}. 매 단계 log_probs의 argmax(dim=-1)를 고르세요.",
    "The result differs from greedy decoding: expected {expected}, got {got}. Take the argmax of log_probs over "
    "the vocabulary (dim=-1) at every step.",
)
NOT_A_LIST = Advice(
    "not-a-list",
    "토큰 번호의 리스트(list[int])를 돌려주어야 합니다. 받은 것: {got}",
    "Return a list of token ids (list[int]); got {got}.",
)


@exercise(greedy)
def check_greedy(check: Checker, fn) -> None:
    model = _ScriptedModel(follow={5: 6, 6: 7, 7: 9, 9: EOS, 4: 8, 8: 4, 10: EOS})
    cases = [([5, 3], 20), ([10], 20), ([4, 3, 3], 5), ([9], 20)]  # 4 → 8 → 4 … never ends: max_len stops it
    for source, max_len in cases:
        src = torch.tensor([source])
        got = check.call(fn, model, src, torch.ones_like(src, dtype=torch.bool), max_len)
        if isinstance(got, torch.Tensor):
            got = got.flatten().tolist()
        if not isinstance(got, list) or not all(isinstance(t, int) for t in got):
            check.fail(NOT_A_LIST, got=type(got).__name__)
        expected = greedy(model, src, torch.ones_like(src, dtype=torch.bool), max_len)
        if got == expected:
            continue
        if BOS in got:
            check.fail(KEEPS_BOS)
        if got[: len(expected) + 1] == [*expected, EOS]:
            check.fail(KEEPS_EOS if len(got) == len(expected) + 1 else NEVER_STOPS)
        if len(got) > max_len:
            check.fail(TOO_LONG, max_len=max_len, got=len(got))
        if got[:1] == expected[:1]:
            check.fail(NOT_FED_BACK, expected=expected, got=got)
        check.fail(WRONG_SENTENCE, expected=expected, got=got)


# --- padded_cross_entropy --------------------------------------------------------------------


def padded_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean cross-entropy over the real (not <pad>) target tokens of a batch: logits (B, T, V), targets (B, T)."""
    log_probs = torch.log_softmax(logits, dim=-1)                       # log p(· | y_<t): (B, T, V)
    log_p_y = log_probs.gather(-1, targets[..., None]).squeeze(-1)      # log p(y_t | y_<t): (B, T)
    real = targets != pad_id                                            # (B, T), False at <pad>
    return -log_p_y[real].mean()                                        # every real token counts once


LOSS_NOT_REDUCED = Advice(
    "loss-not-reduced",
    "손실은 숫자 하나(모양 ())여야 하는데 모양이 {got}인 텐서를 돌려주었습니다. 토큰마다의 값을 실제 토큰 전체에 "
    "대해 평균하세요.",
    "The loss should be a single number (shape ()), but your function returned a tensor of shape {got}. Average "
    "the per-token values over all the real tokens.",
)
LOSS_DETACHED = Advice(
    "loss-detached",
    "값은 맞지만 logits와의 연결이 끊겼습니다 (requires_grad가 False). .item()이나 torch.tensor(...)로 숫자를 "
    "다시 텐서로 만들면 backward()가 모델까지 가지 못합니다. 처음부터 끝까지 텐서 연산으로 계산하세요.",
    "The value is right, but it is cut off from logits (requires_grad is False). Turning numbers back into a "
    "tensor with .item() or torch.tensor(...) stops backward() from reaching the model: keep it a tensor "
    "computation from start to end.",
)
LOSS_PAD_COUNTED = Advice(
    "loss-pad-counted",
    "<pad> 위치까지 평균에 넣었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 패딩(padding)은 문장 길이를 맞추려고 "
    "채운 자리일 뿐 모델이 맞혀야 할 토큰이 아닙니다. targets != pad_id인 자리만 세세요.",
    "The <pad> positions are included in the mean (expected {expected:.4f}, got {got:.4f}). Padding only fills "
    "sentences up to the same length; it is nothing the model must predict. Count only where targets != pad_id.",
)
LOSS_DENOMINATOR = Advice(
    "loss-denominator",
    "<pad> 자리의 값은 잘 뺐지만 {what_ko}(으)로 나누었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 실제 토큰의 "
    "개수, 이 배치에서는 {n}개로 나누어야 합니다.",
    "The <pad> terms are left out, but the sum is divided by {what_en} (expected {expected:.4f}, got {got:.4f}). "
    "Divide by the number of real tokens, {n} in this batch.",
)
LOSS_PER_SENTENCE = Advice(
    "loss-per-sentence",
    "문장마다 평균을 낸 뒤 그 평균들을 다시 평균했습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 그러면 짧은 문장의 "
    "토큰 하나가 긴 문장의 토큰보다 큰 무게를 받습니다. 배치의 모든 실제 토큰을 한 번에 평균하세요.",
    "You averaged each sentence, then averaged the sentences (expected {expected:.4f}, got {got:.4f}): a token of "
    "a short sentence then weighs more than a token of a long one. Average over all the real tokens of the "
    "batch at once.",
)
LOSS_SUM = Advice(
    "loss-sum",
    "평균이 아니라 합을 돌려주었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 합은 배치에 든 토큰 수에 따라 "
    "커지므로 학습률의 뜻이 배치마다 달라집니다. 실제 토큰의 개수로 나누세요.",
    "You returned the sum, not the mean (expected {expected:.4f}, got {got:.4f}). A sum grows with the number of "
    "tokens in the batch, so the learning rate would mean something different for every batch: divide by the "
    "number of real tokens.",
)
LOSS_SIGN = Advice(
    "loss-sign",
    "부호가 반대입니다 (정답 {expected:.4f}, 결과 {got:.4f}). 로그 확률은 0 이하이므로, 교차 엔트로피(cross-entropy)"
    "는 그 평균에 마이너스를 붙인 양수입니다.",
    "The sign is flipped (expected {expected:.4f}, got {got:.4f}). Log-probabilities are at most 0, so the "
    "cross-entropy is minus their mean, a positive number.",
)
LOSS_AXIS = Advice(
    "loss-axis",
    "log_softmax를 어휘 축이 아닌 축으로 계산했습니다. logits는 (B, T, V)이고, 각 위치의 확률분포는 마지막 축 V "
    "위에 있습니다: dim=-1.",
    "log_softmax is taken over the wrong axis. logits is (B, T, V), and each position's distribution lies along "
    "the last axis, V: dim=-1.",
)
LOSS_NOT_LOG_PROBS = Advice(
    "loss-not-log-probs",
    "{what_ko}의 평균을 돌려주었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 교차 엔트로피는 정답 토큰의 로그 "
    "확률, log_softmax(logits)에서 고른 값의 평균에 마이너스를 붙인 것입니다.",
    "You averaged {what_en} (expected {expected:.4f}, got {got:.4f}). The cross-entropy is minus the mean "
    "log-probability of the target tokens, picked out of log_softmax(logits).",
)
LOSS_PAD_HARDCODED = Advice(
    "loss-pad-hardcoded",
    "이 배치의 pad_id는 {pad_id}인데 0인 자리를 패딩으로 보았습니다. 패딩 번호를 0으로 못박지 말고 인자로 받은 "
    "pad_id와 비교하세요.",
    "In this batch pad_id is {pad_id}, but the positions holding 0 were treated as padding. Compare with the "
    "pad_id argument rather than assuming 0.",
)
LOSS_WRONG = Advice(
    "loss-wrong",
    "손실이 다릅니다: 정답 {expected:.4f}, 결과 {got:.4f}. 위치마다 log_softmax(logits)에서 정답 토큰의 로그 확률을 "
    "골라, 패딩이 아닌 자리만 평균하고 마이너스를 붙이세요.",
    "The loss differs: expected {expected:.4f}, got {got:.4f}. At each position pick the target token's "
    "log-probability out of log_softmax(logits), average over the positions that are not padding, and negate.",
)


def _loss_case(generator: torch.Generator, lengths: list[int], vocab: int, pad_id: int):
    """Random logits (B, T, V) and targets (B, T) padded with pad_id; the logits make <pad> unlikely there."""
    batch, steps = len(lengths), max(lengths)
    logits = torch.randn(batch, steps, vocab, generator=generator) * 2
    words = torch.tensor([i for i in range(vocab) if i != pad_id])
    targets = words[torch.randint(len(words), (batch, steps), generator=generator)]
    for b, length in enumerate(lengths):
        targets[b, length:] = pad_id
        logits[b, length:, pad_id] = -4.0  # counting padding changes the loss a lot
    return logits.requires_grad_(True), targets


def _loss_variants(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> dict[str, torch.Tensor]:
    """The loss, and what the usual mistakes compute instead."""
    log_p = torch.log_softmax(logits, dim=-1)
    def picked(values: torch.Tensor) -> torch.Tensor:
        return values.gather(-1, targets[..., None]).squeeze(-1)  # (B, T)
    log_p_y, real = picked(log_p), targets != pad_id
    per_sentence = -(log_p_y * real).sum(1) / real.sum(1)
    return {
        "right": -log_p_y[real].mean(),
        "pad-counted": -log_p_y.mean(),
        "all-positions": -(log_p_y * real).sum() / real.numel(),
        "sentences": -(log_p_y * real).sum() / real.shape[0],
        "per-sentence": per_sentence.mean(),
        "sum": -log_p_y[real].sum(),
        "sign": log_p_y[real].mean(),
        "axis": -picked(torch.log_softmax(logits, dim=1))[real].mean(),
        "probs": -picked(log_p.exp())[real].mean(),
        "logits": -picked(logits)[real].mean(),
        "pad-0": -log_p_y[targets != 0].mean() if pad_id != 0 else torch.tensor(float("nan")),
    }


@exercise(padded_cross_entropy)
def check_padded_cross_entropy(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(2)
    # (lengths, V, pad_id): odd sizes and uneven lengths, a pad_id that is not 0, a batch without padding
    cases = [([5, 2, 4], 7, 0), ([1, 4], 5, 3), ([3, 3], 4, 0)]
    for lengths, vocab, pad_id in cases:
        logits, targets = _loss_case(generator, lengths, vocab, pad_id)
        got = check.call(fn, logits, targets.clone(), pad_id)
        if isinstance(got, torch.Tensor) and got.dim() > 0:
            check.fail(LOSS_NOT_REDUCED, got=tuple(got.shape))
        got = check.tensor(got, what=text("손실", "the loss"), shape=())
        variants = _loss_variants(logits.detach(), targets, pad_id)
        expected = variants["right"]

        def matches(name: str, got: torch.Tensor = got, variants: dict = variants) -> bool:
            return bool(torch.allclose(got.detach(), variants[name], atol=1e-5, rtol=1e-5))

        values = {"expected": expected.item(), "got": got.item()}
        if matches("right"):
            if not got.requires_grad:
                check.fail(LOSS_DETACHED)
            continue
        if matches("sign"):
            check.fail(LOSS_SIGN, **values)
        if matches("pad-0"):
            check.fail(LOSS_PAD_HARDCODED, pad_id=pad_id)
        if matches("pad-counted"):
            check.fail(LOSS_PAD_COUNTED, **values)
        n = int((targets != pad_id).sum())
        if matches("all-positions"):
            check.fail(LOSS_DENOMINATOR, what_ko=f"모든 위치의 개수 B·T = {targets.numel()}",
                       what_en=f"the number of all positions, B·T = {targets.numel()}", n=n, **values)
        if matches("sentences"):
            check.fail(LOSS_DENOMINATOR, what_ko=f"문장 수 B = {targets.shape[0]}",
                       what_en=f"the number of sentences, B = {targets.shape[0]}", n=n, **values)
        if matches("per-sentence"):
            check.fail(LOSS_PER_SENTENCE, **values)
        if matches("sum"):
            check.fail(LOSS_SUM, **values)
        if matches("axis"):
            check.fail(LOSS_AXIS)
        if matches("probs"):
            check.fail(LOSS_NOT_LOG_PROBS, what_ko="로그가 아닌 확률", what_en="probabilities, not log-probabilities",
                       **values)
        if matches("logits"):
            check.fail(LOSS_NOT_LOG_PROBS, what_ko="로짓(정규화 전 점수)", what_en="raw logits (unnormalised scores)",
                       **values)
        check.fail(LOSS_WRONG, **values)


# --- beam_search -----------------------------------------------------------------------------


def beam_search(next_log_probs, beam_size: int, max_len: int, eos_id: int) -> tuple[list[int], float]:
    """Keep the beam_size best partial sentences; return the best sentence (no </s>) and its log-probability.

    next_log_probs(tokens) gives log p(next token | tokens) over the vocabulary, (V,); a sentence's score
    is the sum of its tokens' log-probabilities, </s> included. A finished sentence keeps its place in the
    beam, so the beam shrinks as sentences finish.
    """
    beam = [((), 0.0)]                                          # (tokens so far, score): the open sentences
    finished = []
    for _ in range(max_len):
        candidates = []
        for tokens, score in beam:
            for token, log_p in enumerate(next_log_probs(tokens).tolist()):
                candidates.append((score + log_p, (*tokens, token)))
        candidates.sort(reverse=True)                           # best first, over every sentence in the beam
        beam = []
        for score, tokens in candidates[: beam_size - len(finished)]:
            if tokens[-1] == eos_id:
                finished.append((tokens[:-1], score))           # done: it keeps its slot
            else:
                beam.append((tokens, score))
        if not beam:
            break
    tokens, score = max(finished + beam, key=lambda sentence: sentence[1])
    return list(tokens), score


def _distribution(probs: dict[int, float], vocab: int = 8) -> torch.Tensor:
    """Log-probabilities (V,): ``probs`` as given, the rest spread over the other tokens, a little less each."""
    rest = [t for t in range(vocab) if t not in probs]
    weights = torch.tensor([len(rest) - i for i in range(len(rest))], dtype=torch.float64)
    p = torch.zeros(vocab, dtype=torch.float64)
    p[list(probs)] = torch.tensor(list(probs.values()), dtype=torch.float64)
    p[rest] = (1 - sum(probs.values())) * weights / weights.sum()
    return p.log().float()


class _TableModel:
    """A stand-in language model for beam search: the next token's distribution is looked up by the prefix.

    Prefixes missing from the table end the sentence (</s> gets 0.9). It also watches how it is called:
    a prefix that contains </s>, one longer than max_len allows, or more prefixes of one length than the
    beam holds each end the check with their advice.
    """

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]], default: dict[int, float] | None = None) -> None:
        self.table = {prefix: _distribution(probs) for prefix, probs in table.items()}
        self.default = _distribution(default or {EOS: 0.9})
        self.watch: tuple[Checker, int, int] | None = None
        self.seen: dict[int, set[tuple[int, ...]]] = {}

    def __call__(self, tokens) -> torch.Tensor:
        tokens = tuple(tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens)
        if self.watch is not None:
            check, beam_size, max_len = self.watch
            if EOS in tokens:
                check.fail(BEAM_EXTENDS_FINISHED, tokens=list(tokens))
            if len(tokens) >= max_len:
                check.fail(BEAM_TOO_LONG, max_len=max_len, tokens=list(tokens), length=len(tokens))
            same_length = self.seen.setdefault(len(tokens), set())
            same_length.add(tokens)
            if len(same_length) > beam_size:
                check.fail(BEAM_GROWS, beam_size=beam_size, count=len(same_length), length=len(tokens))
        return self.table.get(tokens, self.default).clone()

    def score(self, tokens: list[int], finished: bool = True) -> float:
        """The log-probability of a sentence (with its </s> when finished)."""
        steps = [*tokens, EOS] if finished else list(tokens)
        return sum(self.table.get(tuple(steps[:i]), self.default)[t].item() for i, t in enumerate(steps))


def _beam_variant(model, beam_size: int, max_len: int, eos_id: int, *, per_parent: bool = False,
                  summed: bool = True, first_finished: bool = False, worst: bool = False) -> list[int]:
    """The tokens that a usual mistake finds instead of beam search's."""
    beam, finished = [((), 0.0)], []
    for step in range(max_len):
        candidates = []
        for tokens, score in beam:
            log_probs = model(tokens).tolist()
            options = [((score if summed else 0.0) + lp, (*tokens, t)) for t, lp in enumerate(log_probs)]
            if per_parent and step > 0:                         # each sentence follows its own best token
                options = [max(options)]
            candidates += options
        candidates.sort(reverse=not worst)
        beam = []
        for score, tokens in candidates[: beam_size - len(finished)]:
            if tokens[-1] == eos_id:
                if first_finished:
                    return list(tokens[:-1])
                finished.append((tokens[:-1], score))
            else:
                beam.append((tokens, score))
        if not beam:
            break
    return list(max(finished + beam, key=lambda c: c[1])[0])


BEAM_RETURN = Advice(
    "beam-return",
    "(토큰 리스트, 점수) 두 값을 튜플로 돌려주어야 합니다. 받은 것: {got}.",
    "Return two things, (list of tokens, score); got {got}.",
)
BEAM_EXTENDS_FINISHED = Advice(
    "beam-extends-finished",
    "</s>로 끝난 문장 {tokens}을(를) 다시 이어 가려고 next_log_probs에 넘겼습니다. </s>가 나온 후보는 끝난 "
    "문장이므로 따로 모아 두고 더는 늘이지 마세요 (빔에서 자리는 그대로 차지합니다).",
    "You passed {tokens}, a sentence that already ended with </s>, to next_log_probs to extend it. A candidate "
    "ending in </s> is finished: set it aside and do not extend it any further (it still takes its slot in the beam).",
)
BEAM_TOO_LONG = Advice(
    "beam-too-long",
    "max_len={max_len}인데 이미 토큰이 {length}개인 문장 {tokens}의 다음 토큰을 물었습니다. 한 단계에 토큰 "
    "하나(또는 </s>)가 붙으므로, 최대 max_len 단계까지만 늘이세요.",
    "max_len={max_len}, yet you asked for the token after {tokens}, which already has {length} tokens. Each step "
    "adds one token (or </s>): extend for at most max_len steps.",
)
BEAM_GROWS = Advice(
    "beam-grows",
    "길이 {length}인 문장을 {count}개나 늘였습니다. 빔에는 beam_size={beam_size}개까지만 남겨야 합니다. 모든 "
    "문장의 모든 다음 토큰을 한데 모아 점수순으로 정렬하고, 위에서부터 빈자리만큼만 남기세요.",
    "You extended {count} sentences of length {length}, but the beam holds at most beam_size={beam_size}. "
    "Gather every next token of every sentence, sort them all by score, and keep only as many as there are "
    "free slots.",
)
BEAM_NOTHING_FINISHED = Advice(
    "beam-nothing-finished",
    "max_len 단계 안에 </s>로 끝난 문장이 하나도 없는 경우를 처리하지 못했습니다 ({got}). 그때는 아직 끝나지 않은 "
    "문장 가운데 점수가 가장 높은 것을 돌려주세요.",
    "Your function does not handle the case where no sentence ends with </s> within max_len steps ({got}). "
    "Then return the best of the unfinished sentences.",
)
BEAM_IS_GREEDY = Advice(
    "beam-is-greedy",
    "결과 {got}은(는) 탐욕 디코딩이 찾는 문장입니다 (로그 확률 {got_score:.3f}). 빔 서치는 매 단계 후보를 "
    "beam_size개 남기므로 {expected} ({expected_score:.3f})을(를) 찾을 수 있습니다. beam_size를 쓰고 있는지 "
    "확인하세요.",
    "Your result, {got}, is the sentence greedy decoding finds (log-probability {got_score:.3f}). Beam search "
    "keeps beam_size candidates at every step, so it can find {expected} ({expected_score:.3f}): check that "
    "beam_size is used.",
)
BEAM_PER_PARENT = Advice(
    "beam-per-parent",
    "결과 {got} (로그 확률 {got_score:.3f})은(는) 빔의 문장마다 따로 가장 좋은 다음 토큰을 고를 때 나오는 "
    "문장입니다. 그러면 탐욕 디코딩 beam_size개를 나란히 돌리는 것과 같습니다. 모든 문장의 후보를 한데 모아 "
    "비교해야 한 문장의 좋은 후보 둘이 함께 남을 수 있고, {expected} ({expected_score:.3f})을(를) 찾습니다.",
    "Your result, {got} (log-probability {got_score:.3f}), is what you get when each sentence in the beam picks "
    "its own best next token: beam_size greedy searches side by side. Compare the candidates of all sentences "
    "together, so that two good continuations of one sentence can both stay; then you find {expected} "
    "({expected_score:.3f}).",
)
BEAM_NOT_SUMMED = Advice(
    "beam-not-summed",
    "점수를 더해 가지 않았습니다: {evidence_ko}. 후보의 점수는 문장 처음부터의 로그 확률의 합, 즉 부모 문장의 점수 + "
    "새 토큰의 로그 확률입니다. 마지막 토큰의 로그 확률만 비교하면 앞에서 확률이 낮았던 문장이 살아남습니다.",
    "The scores are not summed: {evidence_en}. A candidate's score is the sum of log-probabilities from the start "
    "of the sentence, its parent's score plus the new token's log-probability. Comparing only the last token's "
    "log-probability lets a sentence that was unlikely earlier on survive.",
)
BEAM_FIRST_FINISHED = Advice(
    "beam-first-finished",
    "처음으로 </s>가 나온 문장 {got} ({got_score:.3f})에서 멈췄습니다. 그때 빔에 남은 다른 문장이 더 높은 점수로 "
    "끝날 수 있습니다: {expected} ({expected_score:.3f}). 끝난 문장은 모아 두고, 빔이 빌 때까지 (또는 max_len까지) "
    "계속한 뒤 가장 좋은 것을 고르세요.",
    "You stopped at the first sentence that produced </s>, {got} ({got_score:.3f}). A sentence still in the beam "
    "can end with a higher score: {expected} ({expected_score:.3f}). Set finished sentences aside, go on until "
    "the beam is empty (or max_len), then pick the best.",
)
BEAM_WORST = Advice(
    "beam-worst",
    "점수가 가장 낮은 후보들을 남긴 것 같습니다 (결과 {got}, {got_score:.3f}). 로그 확률은 0 이하라서, 점수순 "
    "정렬은 큰 값이 앞에 오도록 sort(reverse=True)나 topk로 하세요.",
    "It looks like the lowest-scoring candidates are kept (result {got}, {got_score:.3f}). Log-probabilities are "
    "at most 0: sort so that the largest come first, with sort(reverse=True) or topk.",
)
BEAM_SCORE_PROB = Advice(
    "beam-score-prob",
    "문장은 맞지만 점수로 확률 {got:.4f}을(를) 돌려주었습니다. 로그 확률의 합 {expected:.4f}을(를) 돌려주세요.",
    "The sentence is right, but the score returned is a probability, {got:.4f}. Return the sum of "
    "log-probabilities, {expected:.4f}.",
)
BEAM_SCORE_WITHOUT_EOS = Advice(
    "beam-score-without-eos",
    "문장은 맞지만 점수에 </s>의 로그 확률이 빠졌습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 문장을 끝내는 것도 "
    "모델이 고른 한 단계이므로, 끝난 문장의 점수에는 </s>의 로그 확률도 더해야 다른 후보와 공정하게 비교됩니다.",
    "The sentence is right, but its score leaves out the log-probability of </s> (expected {expected:.4f}, got "
    "{got:.4f}). Ending the sentence is a step the model takes too: a finished sentence's score includes it, "
    "so that it competes fairly with the other candidates.",
)
BEAM_LENGTH_NORMALISED = Advice(
    "beam-length-normalised",
    "문장은 맞지만 점수를 길이로 나누었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 🤗 Transformers의 "
    "length_penalty와 달리 이 장의 빔 서치는 로그 확률의 합을 그대로 씁니다.",
    "The sentence is right, but its score is divided by the length (expected {expected:.4f}, got {got:.4f}). "
    "Unlike 🤗 Transformers' length_penalty, this chapter's beam search uses the plain sum of log-probabilities.",
)
BEAM_WRONG_SCORE = Advice(
    "beam-wrong-score",
    "문장은 맞지만 점수가 다릅니다: 정답 {expected:.4f}, 결과 {got:.4f}. 점수는 </s>를 포함한 모든 단계의 로그 "
    "확률의 합입니다.",
    "The sentence is right, but the score differs: expected {expected:.4f}, got {got:.4f}. The score is the sum of "
    "the log-probabilities of every step, </s> included.",
)
BEAM_WRONG_SENTENCE = Advice(
    "beam-wrong-sentence",
    "beam_size={beam_size}인 빔 서치는 {expected} (로그 확률 {expected_score:.3f})을(를) 찾는데, 결과는 {got} "
    "({got_score:.3f})입니다. 매 단계 빔의 모든 문장을 모든 토큰으로 늘이고, 점수(로그 확률의 합)가 높은 것부터 "
    "빈자리만큼 남기세요. </s>로 끝난 후보는 끝난 문장으로 옮기되 자리는 차지합니다.",
    "Beam search with beam_size={beam_size} finds {expected} (log-probability {expected_score:.3f}), but your "
    "result is {got} ({got_score:.3f}). At every step extend every sentence in the beam by every token, and keep "
    "the best-scoring ones (sums of log-probabilities) for the free slots; a candidate ending in </s> moves to "
    "the finished sentences but keeps its slot.",
)

_A, _B, _C, _D, _E = 3, 4, 5, 6, 7  # word ids of the stand-in models; </s> is EOS
_BEAM_CASES = [
    # (table, beam_size, max_len). Greedy takes A (0.5), whose continuations are all weak;
    # a beam of 2 keeps B (0.4) too and finds B C </s> (0.34 against 0.16).
    ({(): {_A: 0.5, _B: 0.4}, (_A,): {_C: 0.35, _D: 0.3}, (_B,): {_C: 0.9}, (_B, _C): {EOS: 0.95}}, 2, 10),
    # The two best continuations both come from A, and only the second of them ends well.
    ({(): {_A: 0.6, _B: 0.3}, (_A,): {_C: 0.45, _D: 0.44}, (_B,): {_C: 0.5, _D: 0.45},
      (_A, _C): {EOS: 0.3}, (_A, _D): {EOS: 0.95}}, 2, 10),
    # An empty sentence finishes first (0.4), but A then finishes higher (0.55 · 0.9).
    ({(): {_A: 0.55, EOS: 0.4}}, 2, 10),
    # beam_size 1 is greedy decoding.
    ({(): {_A: 0.5, _B: 0.4}, (_A,): {_C: 0.35, _D: 0.3}, (_B,): {_C: 0.9}, (_B, _C): {EOS: 0.95}}, 1, 10),
    # Wider than needed, and an odd beam size.
    ({(): {_A: 0.6, _B: 0.3}, (_A,): {_C: 0.45, _D: 0.44}, (_B,): {_C: 0.5, _D: 0.45},
      (_A, _C): {EOS: 0.3}, (_A, _D): {EOS: 0.95}}, 3, 10),
]
# A model that never wants to stop: within max_len nothing finishes.
_ENDLESS = ({}, {_A: 0.5, _B: 0.3, EOS: 1e-4}, 2, 4)


def _read_beam_result(check: Checker, result: Any) -> tuple[list[int], float]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        check.fail(BEAM_RETURN, got=type(result).__name__)
    tokens, score = result
    if not isinstance(tokens, (list, tuple, torch.Tensor)):  # e.g. the token list alone, of length 2
        check.fail(BEAM_RETURN, got=repr(result))
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.tolist()
    if isinstance(score, torch.Tensor) and score.numel() == 1:
        score = score.item()
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, int) for t in tokens) or not isinstance(
            score, (int, float)):
        check.fail(BEAM_RETURN, got=f"({type(tokens).__name__}, {type(score).__name__})")
    return list(tokens), float(score)


def _run_beam(check: Checker, fn: Any, model: _TableModel, beam_size: int, max_len: int) -> tuple[list[int], float]:
    model.watch, model.seen = (check, beam_size, max_len), {}
    try:
        return _read_beam_result(check, check.call(fn, model, beam_size, max_len, EOS))
    finally:
        model.watch = None


@exercise(beam_search)
def check_beam_search(check: Checker, fn) -> None:
    for table, beam_size, max_len in _BEAM_CASES:
        model = _TableModel(table)
        tokens, score = _run_beam(check, fn, model, beam_size, max_len)
        expected, expected_score = beam_search(model, beam_size, max_len, EOS)
        if tokens and tokens[-1] == EOS:
            check.fail(KEEPS_EOS)
        if tokens == expected:
            if math.isclose(score, expected_score, abs_tol=1e-4):
                continue
            values = {"expected": expected_score, "got": score}
            if math.isclose(score, math.exp(expected_score), abs_tol=1e-4):
                check.fail(BEAM_SCORE_PROB, **values)
            if math.isclose(score, model.score(tokens, finished=False), abs_tol=1e-4):
                check.fail(BEAM_SCORE_WITHOUT_EOS, **values)
            last = model(tokens)[EOS].item()  # the log-probability of the last step, </s>
            if math.isclose(score, last, abs_tol=1e-4):
                check.fail(BEAM_NOT_SUMMED,
                           evidence_ko=f"{tokens}의 점수로 마지막 단계(</s>)의 로그 확률 {score:.4f}만 돌려주었습니다",
                           evidence_en=f"the score of {tokens} is {score:.4f}, the log-probability of its last step "
                                       f"(</s>) alone")
            if any(math.isclose(score, expected_score / n, abs_tol=1e-4) for n in (len(tokens), len(tokens) + 1)):
                check.fail(BEAM_LENGTH_NORMALISED, **values)
            check.fail(BEAM_WRONG_SCORE, **values)
        values = {"got": tokens, "got_score": model.score(tokens), "expected": expected,
                  "expected_score": expected_score, "beam_size": beam_size}
        for advice, options in ((BEAM_IS_GREEDY, {"beam": 1}), (BEAM_PER_PARENT, {"per_parent": True}),
                                (BEAM_FIRST_FINISHED, {"first_finished": True}), (BEAM_WORST, {"worst": True})):
            width = options.pop("beam", beam_size)
            if tokens == _beam_variant(model, width, max_len, EOS, **options):
                check.fail(advice, **values)
        if tokens == _beam_variant(model, beam_size, max_len, EOS, summed=False):
            check.fail(BEAM_NOT_SUMMED,
                       evidence_ko=f"결과 {tokens}은(는) 후보를 마지막 토큰의 로그 확률로만 비교할 때 나오는 문장이고, "
                                   f"점수를 더해 가며 비교하면 {expected} ({expected_score:.3f})을(를) 찾습니다",
                       evidence_en=f"your result, {tokens}, is what comparing candidates by their last token's "
                                   f"log-probability finds; with summed scores you find {expected} "
                                   f"({expected_score:.3f})")
        check.fail(BEAM_WRONG_SENTENCE, **values)

    table, default, beam_size, max_len = _ENDLESS
    model = _TableModel(table, default)
    expected, expected_score = beam_search(model, beam_size, max_len, EOS)
    try:
        tokens, score = _run_beam(check, fn, model, beam_size, max_len)
    except ExerciseFailed as failure:
        if failure.advice_id in ("raised", "beam-return"):
            check.fail(BEAM_NOTHING_FINISHED, got=str(failure.values.get("error", failure.values.get("got"))))
        raise
    if (tokens, round(score, 4)) != (expected, round(expected_score, 4)):
        check.fail(BEAM_NOTHING_FINISHED, got=f"{tokens}, {score:.4f}")

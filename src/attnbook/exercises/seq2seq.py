"""Chapter 2 (시퀀스-투-시퀀스 / Sequence to sequence): teacher forcing and greedy decoding."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attnbook.exercises.checking import Advice, Checker, ExerciseFailed, exercise

BOS, EOS = 1, 2


def decoder_inputs_and_targets(target: list[int], bos_id: int, eos_id: int) -> tuple[list[int], list[int]]:
    """Teacher forcing: the decoder reads <s> y_1 … y_n and must predict y_1 … y_n </s>."""
    return [bos_id, *target], [*target, eos_id]


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


SWAPPED = Advice(
    "swapped",
    "입력과 목표가 바뀌었습니다. 디코더가 읽는 입력은 <s>로 시작하고, 맞혀야 할 목표는 </s>로 끝납니다.",
    "Inputs and targets are swapped: the decoder reads a sequence starting with <s> and must predict one "
    "ending with </s>.",
)
NOT_SHIFTED = Advice(
    "not-shifted",
    "입력과 목표가 한 칸 어긋나 있지 않습니다. 시점 t의 입력은 t-1번째 정답 토큰이어야 합니다: "
    "입력 = <s> + y, 목표 = y + </s>.",
    "Inputs and targets are not shifted by one: the input at step t must be the true token of step t-1 — "
    "inputs = <s> + y, targets = y + </s>.",
)
MISSING_BOS = Advice(
    "missing-bos",
    "디코더 입력이 <s>로 시작하지 않습니다. 첫 단어를 예측할 때 디코더가 읽을 것이 <s>입니다.",
    "The decoder inputs do not start with <s>, which is what the decoder reads when predicting the first word.",
)
MISSING_EOS = Advice(
    "missing-eos",
    "목표가 </s>로 끝나지 않습니다. 모델이 문장을 끝낼 때를 배우려면 </s>도 맞혀야 합니다.",
    "The targets do not end with </s>: the model must also learn when to stop.",
)
WRONG_TOKENS = Advice(
    "wrong-tokens",
    "{what_ko}이 틀렸습니다: y = {target}에 대해 {got}을(를) 돌려주었는데 {expected}여야 합니다.",
    "The {what_en} are wrong: for y = {target} you returned {got}, expected {expected}.",
)
NOT_A_PAIR = Advice(
    "not-a-pair",
    "(입력, 목표) 두 리스트의 튜플을 돌려주어야 합니다. 받은 것: {got}",
    "Return a tuple of two lists, (inputs, targets); got {got}.",
)


@exercise(decoder_inputs_and_targets)
def check_decoder_inputs_and_targets(check: Checker, fn) -> None:
    for target in ([7, 8, 9], [5], [4, 4, 6, 10]):
        result = check.call(fn, list(target), BOS, EOS)
        if not isinstance(result, tuple) or len(result) != 2:
            check.fail(NOT_A_PAIR, got=type(result).__name__)
        inputs, targets = (list(part.tolist() if isinstance(part, torch.Tensor) else part) for part in result)
        expected_inputs, expected_targets = decoder_inputs_and_targets(target, BOS, EOS)
        if (inputs, targets) == (expected_targets, expected_inputs):
            check.fail(SWAPPED)
        if inputs == targets:
            check.fail(NOT_SHIFTED)
        if not inputs or inputs[0] != BOS:
            check.fail(MISSING_BOS)
        if not targets or targets[-1] != EOS:
            check.fail(MISSING_EOS)
        for what_ko, what_en, got, expected in (("입력", "inputs", inputs, expected_inputs),
                                                 ("목표", "targets", targets, expected_targets)):
            if got != expected:
                check.fail(WRONG_TOKENS, what_ko=what_ko, what_en=what_en, target=target, got=got,
                           expected=expected)


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

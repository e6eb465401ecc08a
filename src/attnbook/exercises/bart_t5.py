"""Chapter 9 (BART and T5): span corruption, text infilling, T5's position buckets, and T5's length budget.

9.1 ``span_corruption``: T5's span corruption from a given noise mask (Raffel et al., 2020, §3.1.4 and
Figure 2): each run of noise tokens becomes one sentinel in the input, sentinels numbered 0, 1, 2 … in
order; the target lists each sentinel followed by the tokens it hid, and one more sentinel at the end
when the text ends with kept tokens (the paper's "<Z>"). T5's ``preprocessors.py`` gets this from
``noise_span_to_unique_sentinel`` on the inputs and ``nonnoise_span_to_unique_sentinel`` on the targets.
9.2 ``text_infilling``: BART's text infilling with given spans (Lewis et al., 2020, §2.2): each span
(start, length), in the original's positions, becomes a single mask; a 0-length span inserts one.
9.3 ``relative_position_bucket``: T5's bucketing of key position − query position (§2.1; the Mesh
TensorFlow function 🤗 copies): exact buckets for small distances, logarithmic ones up to
``max_distance``, everything beyond in the last bucket; half the buckets per direction in the encoder,
only the past in the decoder.
9.4 ``raw_length_for``: not code the chapter shows: how long a raw text T5 cuts so that its corrupted
input, with EOS, fills ``inputs_length`` exactly (T5's ``random_spans_helper``: 512 → 568 raw tokens,
targets of 114). The checker runs the corruption on the reader's length whenever the answer is off.

Shapes (9.3): any shape in, the same shape out. Every checker compares behaviour on cases built so
that one mistake changes the answer (spans at both ends, touching spans, a span of one token, sizes
that are not T5's), and names the mistake by rerunning the usual ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from attnbook.exercises.checking import Advice, Checker, as_integer, exercise
from attnbook.language import text

# --- the references ------------------------------------------------------------------------------------


def span_corruption(tokens: Sequence[Any], noise_mask: Sequence[bool],
                    sentinels: Sequence[Any]) -> tuple[list, list]:
    """T5's span corruption of ``tokens`` where ``noise_mask`` is True: returns (inputs, targets).

    Each run of noise tokens becomes the next sentinel (``sentinels[0]``, ``sentinels[1]`` …) in the
    inputs; the targets hold each sentinel followed by the tokens it hid, and one more sentinel at the
    end when the text ends with kept tokens. EOS is not added: the tokenizer adds it.
    """
    inputs, targets = [], []
    spans = 0  # sentinels used so far
    for i, (token, noise) in enumerate(zip(tokens, noise_mask, strict=True)):
        starts_a_span = noise and (i == 0 or not noise_mask[i - 1])  # at i = 0, [i - 1] would be the last
        if starts_a_span:
            inputs.append(sentinels[spans])  # the whole span: one sentinel in the inputs …
            targets.append(sentinels[spans])  # … and the same one before what it hid
            spans += 1
        (targets if noise else inputs).append(token)
    if len(tokens) > 0 and not noise_mask[-1]:
        targets.append(sentinels[spans])  # the paper's final <Z>: the kept tail has a sentinel too
    return inputs, targets


def text_infilling(tokens: Sequence[Any], spans: Sequence[tuple[int, int]], mask: Any) -> list:
    """BART's text infilling: each span (start, length) of the original becomes one ``mask``.

    ``spans`` do not overlap and are sorted by start; a 0-length span inserts one mask before
    ``tokens[start]`` (``start`` may be ``len(tokens)``: at the end).
    """
    out = []
    position = 0  # the next original token to copy
    for start, length in spans:
        out.extend(tokens[position:start])  # the kept tokens before this span
        out.append(mask)  # one mask, whatever the length, 0 included
        position = start + length  # skip the hidden tokens
    out.extend(tokens[position:])
    return out


def relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> torch.Tensor:
    """T5's bucket (a long tensor of the same shape) for relative_position = key position − query position.

    Bidirectional (encoder): keys at or before the query use buckets 0 … num_buckets/2 − 1, keys after it
    the other half. Causal (decoder): only the past counts (a key after the query gets bucket 0). In
    each direction, half the buckets are exact distances and the rest grow logarithmically up to
    ``max_distance``; every distance beyond it shares the last bucket.
    """
    bucket = torch.zeros_like(relative_position)
    distance = -relative_position  # how far back the key is: > 0 for the past
    if bidirectional:
        num_buckets //= 2  # one half for each direction
        bucket += (distance < 0).long() * num_buckets  # keys after the query: the upper half
        distance = distance.abs()
    else:
        distance = distance.clamp(min=0)  # the decoder never sees the future; bucket 0 for it
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    scaled = torch.log(distance.float().clamp(min=1) / max_exact) / torch.log(torch.tensor(max_distance / max_exact))
    large = max_exact + (scaled * (num_buckets - max_exact)).long()  # .long() rounds down
    large = large.clamp(max=num_buckets - 1)  # max_distance and beyond: the last bucket
    return bucket + torch.where(is_small, distance, large)


def raw_length_for(inputs_length: int, noise_density: float = 0.15,
                   mean_span_length: float = 3.0) -> tuple[int, int]:
    """The longest raw text whose span-corrupted input, with EOS, fits ``inputs_length``; and its target length.

    T5 draws round(n · noise_density) noise tokens in round(noise / mean_span_length) spans (Python's
    round); the input keeps the other tokens and one sentinel per span, the target holds the noise
    tokens and one sentinel per span (T5's masks end with a noise span, so no final sentinel), and both
    end with EOS. (T5's helper trims one more token at noise_density 0.5, to make targets and inputs equal;
    the mask itself rounds in float32, which differs from Python's round at a few lengths, such as
    190 · 0.15: the checker's cases avoid both.)
    """

    def lengths(raw: int) -> tuple[int, int]:
        noise = round(raw * noise_density)
        spans = round(noise / mean_span_length)
        return raw - noise + spans + 1, noise + spans + 1  # (inputs, targets), EOS included

    raw = inputs_length - 1  # corruption only shortens kept text (spans ≥ 1 token), so this fits
    while lengths(raw + 1)[0] <= inputs_length:
        raw += 1
    return raw, lengths(raw)[1]


# --- advice shared by 9.1 and 9.2 ----------------------------------------------------------------------------

LIST_RETURN = Advice(
    "bt-return",
    "{what}을(를) 리스트로 돌려주세요. 받은 것: {got}.",
    "Return {what} as a list; got {got}.",
)
CHANGED_INPUT = Advice(
    "bt-changed-input",
    "넘겨받은 {what}이(가) 바뀌었습니다. 손상은 원래 글에서 새 리스트를 만드는 일이고, 원래 글은 나중에 복원 "
    "결과와 비교할 정답이기도 합니다. 원래 리스트에 insert, pop, del을 쓰지 말고 새 리스트를 만드세요.",
    "The {what} you were given changed. Corrupting builds a new list from the original text, and the original "
    "is also the answer the restoration is compared with: build a new list instead of insert, pop or del on it.",
)

# --- advice for span_corruption ------------------------------------------------------------------------

SC_RETURN = Advice(
    "sc-return",
    "(inputs, targets) 두 리스트를 튜플로 돌려주세요. 받은 것: {got}.",
    "Return a tuple of two lists, (inputs, targets); got {got}.",
)
SC_REUSED_SENTINEL = Advice(
    "sc-reused-sentinel",
    "{case}: 스팬마다 같은 센티널 {sentinel}을(를) 썼습니다 (입력 {got}). T5는 스팬마다 다른 센티널을 "
    "sentinels[0], sentinels[1], … 순서로 씁니다. 모든 스팬이 같은 센티널이면 목표에서 어느 스팬의 토큰이 어느 "
    "자리로 가는지 알 수 없고, 입력과 목표를 맞추어 원문을 복원할 수도 없습니다.",
    "{case}: every span got the same sentinel {sentinel} (inputs {got}). T5 gives each span its own, "
    "sentinels[0], sentinels[1], … in order. With one sentinel for all, neither the model nor you can tell "
    "which hidden tokens go back where, and the original cannot be restored from inputs and targets.",
)
SC_SENTINEL_NUMBERING = Advice(
    "sc-sentinel-numbering",
    "{case}: 센티널의 번호가 건너뛰거나 순서가 어긋났습니다 (입력 {got}, 정답 {expected}). 센티널은 토큰의 "
    "위치나 지운 토큰의 수가 아니라 스팬의 순서로 고릅니다. 첫 스팬은 sentinels[0], 둘째 스팬은 sentinels[1]…. "
    "이 검사의 센티널 번호는 연속되지도, 커지지도 않으니 sentinels 리스트에서 꺼내세요.",
    "{case}: the sentinels skip or come out of order (inputs {got}, expected {expected}). A sentinel is chosen "
    "by the span's rank, not by a token's position or by the number of hidden tokens: the first span gets "
    "sentinels[0], the second sentinels[1] …; the check's sentinel ids are neither consecutive nor increasing, "
    "so take them from the list.",
)
SC_SENTINEL_PER_TOKEN = Advice(
    "sc-sentinel-per-token",
    "{case}: 지운 토큰마다 센티널을 하나씩 넣었습니다 (입력 {got}, 정답 {expected}). 이어진 노이즈 토큰들, 곧 "
    "스팬 하나가 센티널 하나가 됩니다. 그래야 입력이 짧아지고, 모델은 스팬의 길이까지 맞혀야 합니다. 센티널은 "
    "스팬이 시작하는 곳, 곧 앞 토큰이 노이즈가 아닌 노이즈 토큰에서만 넣으세요.",
    "{case}: every hidden token got its own sentinel (inputs {got}, expected {expected}). A run of noise "
    "tokens, one span, becomes one sentinel: that is what makes the input shorter, and what makes the model "
    "work out how long the span was. Add a sentinel only where a span starts: a noise token whose previous "
    "token is not noise.",
)
SC_WRAPAROUND = Advice(
    "sc-wraparound",
    "{case}: 맨 앞에서 시작하는 스팬에 센티널이 없습니다 (입력 {got}, 정답 {expected}). 위치 0에서 "
    "noise_mask[i - 1]은 noise_mask[-1], 곧 마지막 토큰입니다. 글이 노이즈로 끝나면 첫 스팬이 앞 스팬의 "
    "연속으로 보입니다. i == 0이면 언제나 새 스팬이 시작합니다.",
    "{case}: the span at the very start has no sentinel (inputs {got}, expected {expected}). At position 0, "
    "noise_mask[i - 1] is noise_mask[-1], the last token: when the text ends with noise, the first span looks "
    "like the continuation of another. At i == 0 a noise token always starts a span.",
)
SC_OFF_BY_ONE = Advice(
    "sc-off-by-one",
    "{case}: 스팬의 {end} 토큰이 입력에 남았습니다 (입력 {got}, 정답 {expected}). 노이즈 토큰은 모두 입력에서 "
    "빠지고 목표로 갑니다. 센티널은 스팬의 첫 토큰 자리에 들어가며, 토큰을 대신하는 것이 아니라 스팬 앞에 "
    "붙습니다.",
    "{case}: the {end} token of a span stayed in the inputs (inputs {got}, expected {expected}). Every noise "
    "token leaves the inputs for the targets; the sentinel goes where the span starts, in front of it, not "
    "instead of one of its tokens.",
)
SC_INPUTS_WRONG = Advice(
    "sc-inputs-wrong",
    "{case}: 입력이 {got}인데, {expected}여야 합니다. 입력은 남긴 토큰을 순서대로, 스팬마다 그 자리에 센티널 "
    "하나를 넣은 것입니다.",
    "{case}: the inputs are {got}; they should be {expected}: the kept tokens in order, with one sentinel "
    "where each span was.",
)
SC_SWAPPED = Advice(
    "sc-swapped",
    "{case}: 입력과 목표가 뒤바뀌었습니다. 모델이 읽는 입력에는 남긴 토큰이, 맞혀야 할 목표에는 지운 토큰이 "
    "갑니다 (noise_mask가 True인 것이 지운 토큰입니다).",
    "{case}: inputs and targets are swapped. The inputs, which the model reads, keep the tokens that are not "
    "noise; the targets, which it must produce, hold the hidden ones (True in noise_mask means hidden).",
)
SC_TARGET_NO_HIDDEN = Advice(
    "sc-target-no-hidden",
    "{case}: 목표에 센티널만 있고 지운 토큰이 없습니다 (목표 {got}). 목표가 알려 주어야 하는 것은 각 센티널이 "
    "가린 토큰들입니다: 센티널 다음에 그 스팬의 토큰들을 이어 적으세요.",
    "{case}: the targets hold the sentinels but not the hidden tokens (targets {got}). What the targets must "
    "teach is what each sentinel hid: write each sentinel followed by its span's tokens.",
)
SC_TARGET_NO_SENTINELS = Advice(
    "sc-target-no-sentinels",
    "{case}: 목표에 센티널이 없습니다 (목표 {got}). 지운 토큰만 이어 붙이면 어디서 한 스팬이 끝나고 다음 스팬이 "
    "시작하는지 모릅니다. 각 스팬 앞에 입력과 같은 센티널을 붙이세요.",
    "{case}: the targets have no sentinels (targets {got}). Hidden tokens run together cannot tell where one "
    "span ends and the next begins: put the same sentinel as in the inputs before each span.",
)
SC_SENTINEL_AFTER = Advice(
    "sc-sentinel-after",
    "{case}: 목표에서 센티널이 가린 토큰 뒤에 옵니다 (목표 {got}, 정답 {expected}). 디코더는 왼쪽에서 오른쪽으로 "
    "생성하니, 먼저 '어느 자리인지'(센티널)를 내고 그다음 그 자리의 토큰들을 냅니다.",
    "{case}: in the targets each sentinel comes after the tokens it hid (targets {got}, expected {expected}). "
    "The decoder writes left to right: first which place (the sentinel), then that place's tokens.",
)
SC_NO_FINAL_SENTINEL = Advice(
    "sc-no-final-sentinel",
    "{case}: 글이 남긴 토큰으로 끝나는데 목표 끝에 센티널 {sentinel}이(가) 없습니다 (목표 {got}). 논문 "
    "그림 2의 <Z>처럼, 마지막 스팬 뒤에도 입력에 남은 글이 있으면 목표는 그다음 센티널로 끝납니다. 마지막 스팬의 "
    "토큰이 어디서 끝나는지 알리는 표시입니다.",
    "{case}: the text ends with kept tokens, but the targets do not end with the sentinel {sentinel} (targets "
    "{got}). Like <Z> in the paper's Figure 2, when kept text follows the last span the targets end with the "
    "next sentinel, which marks where the last span's tokens stop.",
)
SC_EXTRA_FINAL = Advice(
    "sc-extra-final",
    "{case}: 글이 노이즈 스팬으로 끝나는데 목표 끝에 센티널을 하나 더 붙였습니다 (목표 {got}). 마지막 "
    "센티널은 스팬 뒤에 남긴 글이 있을 때만 붙입니다. T5가 실제로 만드는 마스크는 언제나 노이즈로 끝나므로 "
    "T5의 학습 목표에는 이 센티널이 없습니다.",
    "{case}: the text ends with a noise span, yet the targets end with one more sentinel (targets {got}). The "
    "final sentinel comes only when kept text follows the last span; the masks T5 actually draws always end "
    "with noise, so T5's training targets never have it.",
)
SC_TARGETS_WRONG = Advice(
    "sc-targets-wrong",
    "{case}: 목표가 {got}인데, {expected}여야 합니다. 스팬마다 입력과 같은 센티널을 적고 그 뒤에 가린 토큰들을 "
    "순서대로 적으며, 글이 남긴 토큰으로 끝나면 다음 센티널 하나로 끝냅니다.",
    "{case}: the targets are {got}; they should be {expected}: for each span its sentinel (the same as in the "
    "inputs) followed by the tokens it hid, and, when the text ends with kept tokens, one more sentinel.",
)

# --- checking span_corruption --------------------------------------------------------------------------

_PAPER = ["Thank", "you", "for", "inviting", "me", "to", "your", "party", "last", "week", "."]
_SC_CASES = (  # (what the case is, tokens, noise mask, sentinels)
    ("Raffel et al. (2020), Figure 2", _PAPER,
     [w in ("for", "inviting", "last") for w in _PAPER], ["<X>", "<Y>", "<Z>", "<W>"]),
    ("a text ending with a span, as T5's masks do", list(range(101, 113)),
     [bool(int(c)) for c in "001110000011"], [32099, 32098, 32097, 32096]),
    ("spans at both ends", [f"t{i}" for i in range(9)],
     [bool(int(c)) for c in "110000111"], [f"<extra_id_{k}>" for k in range(5)]),
    ("spans of one token, one kept token apart", list(range(10, 24)),
     [bool(int(c)) for c in "01010001111010"], [97, 93, 90, 88, 85, 83, 80]),
)


def _corrupt_mistaken(tokens: list, mask: list[bool], sentinels: list, *, sentinel: str = "span",
                      wraparound: bool = False, leak: str | None = None, target: str = "both",
                      final: str = "when-kept") -> tuple[list, list]:
    """Span corruption with one of the usual mistakes switched on (for naming the reader's)."""
    inputs, targets, spans, hidden = [], [], 0, 0
    for i, (token, noise) in enumerate(zip(tokens, mask, strict=True)):
        previous = mask[i - 1] if (i > 0 or wraparound) else False
        starts = noise and (not previous or sentinel == "token")
        last = noise and (i + 1 == len(mask) or not mask[i + 1])
        if starts:
            rank = {"span": spans, "same": 0, "position": i, "token": spans, "hidden": hidden}[sentinel]
            chosen = sentinels[rank % len(sentinels)]  # the modulo: a mistake may need more sentinels than given
            inputs.append(chosen)
            if target in ("both", "sentinels"):
                targets.append(chosen)
            spans += 1
        if noise:
            hidden += 1
        leaks = (leak == "first" and starts) or (leak == "last" and last)
        if not noise or leaks:
            inputs.append(token)
        if noise and target in ("both", "hidden", "after") and not leaks:
            targets.append(token)
        if target == "after" and last:
            targets.append(sentinels[spans - 1])
    if (final == "when-kept" and not mask[-1]) or final == "always":
        targets.append(sentinels[spans % len(sentinels)])
    return inputs, targets


def _as_list(check: Checker, value: Any, what: str) -> list:
    if not isinstance(value, (list, tuple)):
        check.fail(LIST_RETURN, what=what, got=f"a {type(value).__name__}")
    return list(value)


@exercise(span_corruption)
def check_span_corruption(check: Checker, fn) -> None:
    for case, tokens, mask, sentinels in _SC_CASES:
        given = (list(tokens), list(mask), list(sentinels))  # the reader's copies
        result = check.call(fn, *given)
        if given != (list(tokens), list(mask), list(sentinels)):
            check.fail(CHANGED_INPUT, what="tokens / noise_mask / sentinels")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            check.fail(SC_RETURN, got=f"a {type(result).__name__}" if not isinstance(result, (tuple, list))
                       else f"{len(result)} values")
        inputs, targets = (_as_list(check, part, name) for part, name in zip(result, ("inputs", "targets"),
                                                                              strict=True))
        expected_inputs, expected_targets = span_corruption(tokens, mask, sentinels)
        shown = {"case": case, "got": inputs, "expected": expected_inputs}
        hidden = [t for t, m in zip(tokens, mask, strict=True) if m]
        if inputs != expected_inputs and [t for t in inputs if t not in sentinels] == hidden:
            check.fail(SC_SWAPPED, case=case)
        if inputs != expected_inputs:
            for options, advice, extra in (
                ({"sentinel": "same"}, SC_REUSED_SENTINEL, {"sentinel": sentinels[0]}),
                ({"wraparound": True}, SC_WRAPAROUND, {}),
                ({"sentinel": "token"}, SC_SENTINEL_PER_TOKEN, {}),
                ({"sentinel": "position"}, SC_SENTINEL_NUMBERING, {}),
                ({"sentinel": "hidden"}, SC_SENTINEL_NUMBERING, {}),
                ({"leak": "first"}, SC_OFF_BY_ONE, {"end": text("첫", "first")}),
                ({"leak": "last"}, SC_OFF_BY_ONE, {"end": text("마지막", "last")}),
            ):
                if inputs == _corrupt_mistaken(tokens, mask, sentinels, **options)[0]:
                    check.fail(advice, **shown, **extra)
            spans_seen = [t for t in inputs if t in sentinels]
            expected_seen = [t for t in expected_inputs if t in sentinels]
            if len(spans_seen) == len(expected_seen) and spans_seen != expected_seen:
                check.fail(SC_SENTINEL_NUMBERING, **shown)
            check.fail(SC_INPUTS_WRONG, **shown)
        if targets == expected_targets:
            continue
        shown = {"case": case, "got": targets, "expected": expected_targets}
        for options, advice in (
            ({"target": "sentinels"}, SC_TARGET_NO_HIDDEN),
            ({"target": "hidden"}, SC_TARGET_NO_SENTINELS),
            ({"target": "after", "final": "never"}, SC_SENTINEL_AFTER),
            ({"target": "after"}, SC_SENTINEL_AFTER),
            ({"final": "never"}, SC_NO_FINAL_SENTINEL),
            ({"final": "always"}, SC_EXTRA_FINAL),
        ):
            mistaken = _corrupt_mistaken(tokens, mask, sentinels, **options)[1]
            if mistaken != expected_targets and _same_but_final(targets, mistaken, options):
                spans = sum(1 for t in expected_inputs if t in sentinels)
                check.fail(advice, **shown, sentinel=sentinels[spans])
        check.fail(SC_TARGETS_WRONG, **shown)


def _same_but_final(targets: list, mistaken: list, options: dict) -> bool:
    """Whether the reader's targets are the mistake's; a final sentinel's own mistake is judged separately."""
    if targets == mistaken:
        return True
    if "target" in options:  # a mistake in the body: judge it whether or not the final sentinel is right
        return targets[:-1] == mistaken or targets == mistaken[:-1]
    return False


# --- advice for text_infilling -------------------------------------------------------------------------

TI_MASK_PER_TOKEN = Advice(
    "ti-mask-per-token",
    "{case}: 스팬의 토큰마다 마스크를 하나씩 두었습니다 (결과 {got}, 정답 {expected}). BERT식 마스킹입니다. "
    "BART의 텍스트 채우기(text infilling)는 스팬 전체를 마스크 하나로 바꾸므로, 모델은 빠진 토큰이 무엇인지뿐 아니라 "
    "몇 개인지도 알아내야 합니다.",
    "{case}: every token of a span got its own mask (got {got}, expected {expected}). That is BERT's masking. "
    "BART's text infilling replaces a whole span by a single mask, so the model must work out how many tokens "
    "are missing, not only which.",
)
TI_ZERO_DROPPED = Advice(
    "ti-zero-dropped",
    "{case}: 길이 0인 스팬이 사라졌습니다 (결과 {got}, 정답 {expected}). 길이 0인 스팬은 아무것도 가리지 않고 "
    "마스크 하나를 끼워 넣습니다. 그래서 모델은 마스크 뒤에 빠진 것이 없을 수도 있다는 것까지 배웁니다. "
    "tokens[start:start] 자리에 마스크를 넣으세요.",
    "{case}: the 0-length spans disappeared (got {got}, expected {expected}). A 0-length span hides nothing and "
    "inserts one mask, so the model also learns that a mask may hide nothing. Put the mask at tokens[start:start].",
)
TI_ZERO_REPLACES = Advice(
    "ti-zero-replaces",
    "{case}: 길이 0인 스팬이 토큰 하나를 가렸습니다 (결과 {got}, 정답 {expected}). 길이 0은 아무 토큰도 "
    "지우지 않고, tokens[start] 앞에 마스크 하나를 끼워 넣을 뿐입니다.",
    "{case}: a 0-length span hid a token (got {got}, expected {expected}). Length 0 removes nothing; it only "
    "inserts one mask before tokens[start].",
)
TI_SHIFTED = Advice(
    "ti-shifted",
    "{case}: 첫 스팬 다음의 스팬들이 엉뚱한 자리에 갔습니다 (결과 {got}, 정답 {expected}). 스팬의 start는 원래 "
    "글의 위치인데, 이미 바뀐 리스트에 차례로 적용하면 앞의 스팬이 길이를 바꾼 만큼(length − 1) 자리가 "
    "밀립니다. 원래 글을 앞에서부터 읽으며 새 리스트를 만들거나, 뒤의 스팬부터 적용하세요.",
    "{case}: the spans after the first land in the wrong places (got {got}, expected {expected}). A span's start "
    "is a position in the original, but applied one by one to the list already changed, each earlier span "
    "shifts it by the length it removed (length − 1). Build a new list reading the original from the front, "
    "or apply the spans from the last one back.",
)
TI_INSERT_AFTER = Advice(
    "ti-insert-after",
    "{case}: 마스크가 스팬 자리가 아니라 그 뒤에 들어갔습니다 (결과 {got}, 정답 {expected}). 마스크는 가린 "
    "스팬이 있던 곳, 길이 0이면 tokens[start] 바로 앞에 들어갑니다.",
    "{case}: the mask went after the span's place, not at it (got {got}, expected {expected}). The mask stands "
    "where the hidden span was; for length 0, right before tokens[start].",
)
TI_OFF_BY_ONE = Advice(
    "ti-off-by-one",
    "{case}: 스팬이 한 칸 어긋났습니다 (결과 {got}, 정답 {expected}). (start, length)는 tokens[start:start + "
    "length]를 가리킵니다. 스팬의 첫 토큰은 tokens[start]이고, 가린 토큰은 정확히 length개입니다.",
    "{case}: the spans are off by one (got {got}, expected {expected}). (start, length) means tokens[start:start "
    "+ length]: the first hidden token is tokens[start], and exactly length tokens are hidden.",
)
TI_MERGED = Advice(
    "ti-merged",
    "{case}: 맞붙은 두 스팬이 마스크 하나가 되었습니다 (결과 {got}, 정답 {expected}). 토큰마다 가렸는지 "
    "표시한 뒤 이어진 것을 묶으면 맞붙은 스팬의 경계가 사라집니다 (길이 0인 스팬도 표시할 수 없습니다). "
    "스팬마다 마스크 하나입니다.",
    "{case}: two touching spans became one mask (got {got}, expected {expected}). Marking each token hidden or "
    "not and then collapsing the runs loses the border between touching spans (and cannot mark a 0-length "
    "span). Each span gives one mask.",
)
TI_WRONG = Advice(
    "ti-wrong",
    "{case}: 결과가 {got}인데, {expected}여야 합니다. 원래 글을 앞에서부터 읽으며, 스팬마다 가린 토큰들 대신 "
    "마스크 하나를 두고(길이 0이면 끼워 넣기만), 나머지 토큰은 그대로 옮기세요.",
    "{case}: got {got}; it should be {expected}. Read the original from the front: each span's hidden tokens give "
    "way to one mask (length 0: the mask is only inserted), and every other token is copied.",
)

# --- checking text_infilling ---------------------------------------------------------------------------

_TI_CASES = (  # (what the case is, tokens, spans, mask)
    ("two spans and an insertion", [f"w{i}" for i in range(12)], [(1, 3), (6, 0), (8, 2)], "<mask>"),
    ("touching spans, an insertion at the end", list(range(20, 30)), [(2, 2), (4, 3), (10, 0)], 50264),
    ("an insertion at the start, a span to the end", list("abcdefgh"), [(0, 0), (3, 1), (5, 3)], "[MASK]"),
)


def _infill_mistaken(tokens: list, spans: list[tuple[int, int]], mask: Any, mistake: str) -> list:
    """Text infilling with one of the usual mistakes (for naming the reader's)."""
    if mistake == "merged":
        hidden = [any(s <= i < s + n for s, n in spans) for i in range(len(tokens))]
        out = []
        for i, token in enumerate(tokens):
            if not hidden[i]:
                out.append(token)
            elif i == 0 or not hidden[i - 1]:
                out.append(mask)
        return out
    if mistake == "shifted":
        out = list(tokens)
        for s, n in spans:
            out[s:s + n] = [mask]
        return out
    out, position = [], 0
    for s, n in spans:
        if mistake == "zero-dropped" and n == 0:
            continue
        if mistake == "zero-replaces" and n == 0:
            n = 1
        if mistake == "per-token":
            out.extend(tokens[position:s])
            out.extend([mask] * n if n else [mask])
        elif mistake == "after":
            out.extend(tokens[position:s])
            out.extend(tokens[s:s + 1] if n == 0 else [])
            out.append(mask)
            n = max(n, 1) if n == 0 else n
        elif mistake == "late":  # the span starts one token late: tokens[start + 1:start + length + 1]
            out.extend(tokens[position:s + 1] if n else tokens[position:s])
            out.append(mask)
            s = s + 1 if n else s
        elif mistake == "long":  # one token too many: tokens[start:start + length + 1]
            out.extend(tokens[position:s])
            out.append(mask)
            n = n + 1 if n else n
        else:
            out.extend(tokens[position:s])
            out.append(mask)
        position = max(position, s + n)
    out.extend(tokens[position:])
    return out


_TI_MISTAKES = (("per-token", TI_MASK_PER_TOKEN), ("merged", TI_MERGED), ("zero-dropped", TI_ZERO_DROPPED),
                ("zero-replaces", TI_ZERO_REPLACES), ("shifted", TI_SHIFTED), ("after", TI_INSERT_AFTER),
                ("late", TI_OFF_BY_ONE), ("long", TI_OFF_BY_ONE))


@exercise(text_infilling)
def check_text_infilling(check: Checker, fn) -> None:
    answers = []
    for _, tokens, spans, mask in _TI_CASES:
        given_tokens, given_spans = list(tokens), list(spans)
        result = check.call(fn, given_tokens, given_spans, mask)
        if (given_tokens, given_spans) != (list(tokens), list(spans)):
            check.fail(CHANGED_INPUT, what="tokens / spans")
        answers.append(_as_list(check, result, text("손상된 토큰", "the corrupted tokens")))
    expected = [text_infilling(tokens, spans, mask) for _, tokens, spans, mask in _TI_CASES]
    if answers == expected:
        return
    first = next(i for i, (got, right) in enumerate(zip(answers, expected, strict=True)) if got != right)
    case, tokens, spans, mask = _TI_CASES[first]
    shown = {"case": f"{case}, spans = {spans}", "got": answers[first], "expected": expected[first]}
    for mistake, advice in _TI_MISTAKES:  # the mistake that explains every case
        if all(got == _infill_mistaken(t, s, m, mistake) for got, (_, t, s, m) in zip(answers, _TI_CASES, strict=True)):
            if mistake == "merged":  # show the case where two spans touch
                case, _, spans, _ = _TI_CASES[1]
                shown = {"case": f"{case}, spans = {spans}", "got": answers[1], "expected": expected[1]}
            check.fail(advice, **shown)
    got = answers[first]
    for mistake, advice in _TI_MISTAKES:  # or this case at least
        if got == _infill_mistaken(tokens, spans, mask, mistake):
            check.fail(advice, **shown)
    if got.count(mask) == sum(max(n, 1) for _, n in spans):
        check.fail(TI_MASK_PER_TOKEN, **shown)
    check.fail(TI_WRONG, **shown)


# --- advice for relative_position_bucket -----------------------------------------------------------------

RPB_WRONG_DIRECTION = Advice(
    "rpb-wrong-direction",
    "{case}: 방향이 뒤집혔습니다. relative_position은 키의 위치 − 쿼리의 위치라서, 앞에 있는 키(과거)에서 "
    "음수입니다. {detail}",
    "{case}: the direction is flipped. relative_position is key position − query position, negative for a key "
    "before the query (the past). {detail}",
)
RPB_CAUSAL_HALF = Advice(
    "rpb-causal-half",
    "{case}: 디코더(bidirectional=False)에서도 버킷을 반으로 나누었습니다 (가장 큰 버킷 {top}, 정답 {expected_top}). "
    "인과 마스크 아래에서는 미래의 키를 볼 일이 없으니 방향을 나눌 필요가 없고, 버킷 {buckets}개 모두 과거의 "
    "거리에 씁니다.",
    "{case}: the buckets were halved in the decoder too (bidirectional=False; largest bucket {top}, expected "
    "{expected_top}). Under the causal mask no query sees a later key, so there is no direction to split: all "
    "{buckets} buckets go to distances into the past.",
)
RPB_CAUSAL_FUTURE = Advice(
    "rpb-causal-future",
    "{case}: 디코더에서 미래의 키(relative_position > 0)에 과거와 같은 버킷을 주었습니다. 디코더는 거리를 0 "
    "이상으로 자릅니다(미래는 버킷 0). 어차피 인과 마스크가 가리는 자리지만, 절댓값을 쓰면 방향이 있다는 것을 "
    "잊은 셈입니다.",
    "{case}: in the decoder, keys after the query (relative_position > 0) got the buckets of the past. The "
    "decoder clamps the distance at 0 (the future: bucket 0); the causal mask hides those places anyway, but "
    "the absolute value forgets that direction matters.",
)
RPB_NO_LOG = Advice(
    "rpb-no-log",
    "{case}: 거리 {distance}(relative_position = {position})에서 "
    "버킷 {got}, 정답 {expected}. 작은 거리의 정확한 버킷 다음부터는 버킷이 "
    "로그 간격으로 넓어져야 합니다. 정확한 거리만 쓰거나 고른 간격으로 나누면 {max_distance}까지를 버킷 몇 개로 "
    "다 덮지 못하거나, 가까운 거리의 구별을 잃습니다. 한 방향의 버킷 n개 중 절반은 정확한 거리, 나머지는 "
    "log(거리 / 정확한 버킷 수)에 비례해 정해집니다.",
    "{case}: at distance {distance} (relative_position = {position}) "
    "you give bucket {got}, expected {expected}. After the exact buckets for "
    "small distances, the buckets must widen logarithmically: exact distances alone, or even steps, either run "
    "out of buckets long before {max_distance} or lose the detail near the query. Of a direction's n buckets, "
    "half are exact distances and the rest grow with log(distance / the number of exact buckets).",
)
RPB_LAST_BUCKET = Advice(
    "rpb-last-bucket",
    "{case}: 거리 {distance}(relative_position = {position})에서 "
    "버킷 {got}, 정답 {expected}: 버킷 번호가 한 방향의 범위 0 … {last}를 넘었습니다. "
    "max_distance 이상의 거리는 모두 마지막 버킷 {last}에 넣어야 합니다. min(…, n − 1)이지 min(…, n)이 "
    "아닙니다. 그렇지 않으면 편향 표의 다른 방향이나 표 밖을 읽습니다.",
    "{case}: at distance {distance} (relative_position = {position}) "
    "you give bucket {got}, expected {expected}: past a direction's range 0 … "
    "{last}. Every distance from max_distance on belongs in the last bucket, {last}: min(…, n − 1), not "
    "min(…, n). Otherwise the bias table is read in the other direction's half, or beyond its end.",
)
RPB_ROUNDED = Advice(
    "rpb-rounded",
    "{case}: 거리 {distance}(relative_position = {position})에서 "
    "버킷 {got}, 정답 {expected}. 로그 구간의 버킷 번호를 반올림했습니다. T5는 "
    "정수로 바꿀 때 버림(.long(), floor)을 씁니다. 그래야 각 버킷이 [경계, 다음 경계) 구간이 됩니다.",
    "{case}: at distance {distance} (relative_position = {position}) "
    "you give bucket {got}, expected {expected}: the logarithmic buckets were "
    "rounded. T5 rounds down (.long(), floor) when it turns the scaled log into a bucket, so that each bucket "
    "is an interval [border, next border).",
)
RPB_FIXED_SIZES = Advice(
    "rpb-fixed-sizes",
    "{case}: T5의 기본값 num_buckets = 32, max_distance = 128로 계산했습니다. 넘겨받은 num_buckets와 "
    "max_distance를 쓰세요. 모델마다 설정이 다르고(예: T5 v1.1, mT5), 작은 모델은 더 적은 버킷을 씁니다.",
    "{case}: the buckets are T5's defaults, num_buckets = 32 and max_distance = 128. Use the num_buckets and "
    "max_distance you are given: models set them differently, and a small model uses fewer buckets.",
)
RPB_WRONG = Advice(
    "rpb-wrong",
    "{case}: relative_position {position}에서 버킷 {got}, 정답 {expected}. 차례로 따져 보세요. 방향(인코더는 "
    "반씩 나눔, 디코더는 과거만), 정확한 버킷(한 방향 버킷의 절반), 로그 버킷(max_distance까지), 마지막 버킷.",
    "{case}: at relative_position {position} you give bucket {got}, expected {expected}. Go through it in order: "
    "the direction (the encoder splits the buckets in halves, the decoder sees only the past), the exact "
    "buckets (half of a direction's), the logarithmic ones (up to max_distance), the last bucket.",
)

# --- checking relative_position_bucket -------------------------------------------------------------------

_RPB_CASES = (  # (bidirectional, num_buckets, max_distance, query length, key length)
    (True, 32, 128, 300, 301),  # T5's encoder: distances from −299 to 300
    (False, 32, 128, 301, 300),  # T5's decoder
    (True, 12, 20, 47, 45),  # sizes that are not T5's, so that 32 and 128 written in cannot pass
    (False, 10, 30, 53, 50),
)


def _positions(queries: int, keys: int) -> torch.Tensor:
    """key position − query position for every (query, key) pair: (queries, keys), what T5 buckets."""
    return torch.arange(keys)[None, :] - torch.arange(queries)[:, None]


def _bucket_mistaken(position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int,
                     mistake: str) -> torch.Tensor:
    """T5's bucket with one of the usual mistakes (for naming the reader's)."""
    distance = position if mistake == "direction" else -position
    bucket = torch.zeros_like(position)
    if bidirectional or mistake == "causal-half":
        num_buckets //= 2
        if bidirectional:
            bucket += (distance < 0).long() * num_buckets
        distance = distance.abs() if bidirectional else distance.clamp(min=0)
    else:
        distance = distance.abs() if mistake == "causal-abs" else distance.clamp(min=0)
    exact = num_buckets // 2
    scaled = torch.log(distance.float().clamp(min=1) / exact) / torch.log(torch.tensor(max_distance / exact))
    value = scaled * (num_buckets - exact)
    large = exact + (value.round() if mistake == "rounded" else value).long()
    large = large.clamp(max=num_buckets - (0 if mistake == "last" else 1))
    if mistake == "exact":
        return bucket + distance.clamp(max=num_buckets - 1)
    if mistake == "linear":
        linear = exact + (distance - exact) * (num_buckets - exact) // (max_distance - exact)
        return bucket + torch.where(distance < exact, distance, linear.clamp(max=num_buckets - 1))
    return bucket + torch.where(distance < exact, distance, large)


@exercise(relative_position_bucket)
def check_relative_position_bucket(check: Checker, fn) -> None:
    for bidirectional, num_buckets, max_distance, queries, keys in _RPB_CASES:
        position = _positions(queries, keys)
        given = position.clone()
        got = check.tensor(check.call(fn, given, bidirectional=bidirectional, num_buckets=num_buckets,
                                      max_distance=max_distance),
                           what=text("버킷", "the buckets"), shape=tuple(position.shape), dtype=torch.long)
        if not torch.equal(given, position):
            check.fail(CHANGED_INPUT, what="relative_position")
        expected = relative_position_bucket(position, bidirectional, num_buckets, max_distance)
        if torch.equal(got, expected):
            continue
        case = (f"{'bidirectional (encoder)' if bidirectional else 'causal (decoder)'}, num_buckets = {num_buckets}, "
                f"max_distance = {max_distance}")
        wrong = got != expected
        past = wrong & (position <= 0)  # show the past if it is wrong there: the easier side to think about
        where = (past if past.any() else wrong).nonzero()[0]
        at = position[where[0], where[1]].item()
        shown = {"case": case, "got": got[where[0], where[1]].item(), "expected": expected[where[0], where[1]].item(),
                 "position": at}
        half = num_buckets // 2 if bidirectional else num_buckets
        if (num_buckets, max_distance) != (32, 128) and torch.equal(
                got, relative_position_bucket(position, bidirectional, 32, 128)):
            check.fail(RPB_FIXED_SIZES, case=case)
        for mistake in ("direction", "causal-half", "causal-abs", "exact", "linear", "last", "rounded"):
            if not torch.equal(got, _bucket_mistaken(position, bidirectional, num_buckets, max_distance, mistake)):
                continue
            if mistake == "direction":
                detail = text("인코더에서는 과거와 미래가 서로의 절반을 차지해, 앞뒤를 거꾸로 읽습니다.",
                              "In the encoder the past and the future take each other's half: before reads as "
                              "after.") if bidirectional else text(
                    "디코더에서는 과거의 키가 모두 버킷 0에 들어가, 바로 앞 토큰과 100 토큰 앞의 토큰이 같아 보입니다.",
                    "In the decoder every past key falls into bucket 0: the previous token and one 100 tokens "
                    "back look the same.")
                check.fail(RPB_WRONG_DIRECTION, case=case, detail=detail)
            if mistake == "causal-half":
                check.fail(RPB_CAUSAL_HALF, case=case, top=got.max().item(), expected_top=expected.max().item(),
                           buckets=num_buckets)
            if mistake == "causal-abs":
                check.fail(RPB_CAUSAL_FUTURE, case=case)
            distance = abs(at)
            if mistake in ("exact", "linear"):
                check.fail(RPB_NO_LOG, **shown, distance=distance, max_distance=max_distance)
            if mistake == "last":
                check.fail(RPB_LAST_BUCKET, **shown, distance=distance, last=half - 1)
            check.fail(RPB_ROUNDED, **shown, distance=distance)
        if (got >= num_buckets).any() or (got < 0).any() or ((position <= 0) & (got >= half)).any():
            far = (got >= num_buckets) | (got < 0) | ((position <= 0) & (got >= half))  # past the table or the half
            index = (far & (position <= 0) if (far & (position <= 0)).any() else far).nonzero()[0]
            check.fail(RPB_LAST_BUCKET, case=case, got=got[index[0], index[1]].item(),
                       expected=expected[index[0], index[1]].item(), position=position[index[0], index[1]].item(),
                       distance=abs(position[index[0], index[1]].item()), last=half - 1)
        check.fail(RPB_WRONG, **shown)


# --- advice for raw_length_for -------------------------------------------------------------------------

RL_RETURN = Advice(
    "rl-return",
    "(raw_length, targets_length) 두 정수를 튜플로 돌려주세요. 받은 것: {got}.",
    "Return a tuple of two integers, (raw_length, targets_length); got {got}.",
)
RL_NO_SENTINELS = Advice(
    "rl-no-sentinels",
    "{case}: 원문 길이 {got}을(를) 예측했는데, 실행해 보면 그 입력은 {measured}토큰입니다 (남긴 토큰 {kept} + "
    "센티널 {spans} + EOS 1). 센티널을 세지 않았습니다. 스팬 하나가 입력에서 토큰 하나, 곧 센티널로 남습니다.",
    "{case}: you predicted a raw length of {got}; running the corruption gives an input of {measured} tokens "
    "({kept} kept + {spans} sentinels + 1 EOS). The sentinels are missing from your count: each span still "
    "takes one token of the input, its sentinel.",
)
RL_NO_EOS = Advice(
    "rl-no-eos",
    "{case}: 원문 길이 {got}을(를) 예측했는데, 실행해 보면 그 입력은 {measured}토큰입니다 (남긴 토큰 {kept} + "
    "센티널 {spans} + EOS 1). EOS를 빠뜨렸습니다. 토크나이저가 입력 끝에 EOS를 붙이고, 그것도 "
    "inputs_length 안에 들어가야 합니다.",
    "{case}: you predicted a raw length of {got}; running the corruption gives an input of {measured} tokens "
    "({kept} kept + {spans} sentinels + 1 EOS). The EOS is missing: the tokenizer appends it to the inputs, "
    "and it must fit in inputs_length too.",
)
RL_DIVIDED = Advice(
    "rl-divided",
    "{case}: 원문 길이 {got}을(를) 예측했는데, 실행해 보면 그 입력은 {measured}토큰입니다 (남긴 토큰 {kept} + "
    "센티널 {spans} + EOS 1). inputs_length / (1 − noise_density)는 지운 토큰이 모두 사라진다고 본 것입니다. "
    "스팬마다 센티널이 하나 남고 EOS도 붙으니, 입력은 남긴 토큰보다 깁니다.",
    "{case}: you predicted a raw length of {got}; running the corruption gives an input of {measured} tokens "
    "({kept} kept + {spans} sentinels + 1 EOS). inputs_length / (1 − noise_density) assumes the noise simply "
    "vanishes, but each span leaves a sentinel and EOS is added: the input is longer than the kept tokens.",
)
RL_TRUNCATED = Advice(
    "rl-truncated",
    "{case}: 원문 길이 {got}, 정답 {expected}. 노이즈 토큰 수나 스팬 수를 반올림하지 않고 버렸습니다(int, //). "
    "T5는 둘 다 round로 정합니다: 노이즈 round(n · noise_density), 스팬 round(노이즈 / mean_span_length). "
    "버리면 스팬 수가 달라져 입력 길이가 한두 토큰 어긋납니다.",
    "{case}: raw length {got}, expected {expected}. The number of noise tokens or of spans was cut down (int, //) "
    "instead of rounded. T5 rounds both: noise round(n · noise_density), spans round(noise / mean_span_length); "
    "cutting down changes the count of spans, and the input length by a token or two.",
)
RL_ONE_PAST = Advice(
    "rl-one-past",
    "{case}: 원문 길이 {got}을(를) 예측했는데, 실행해 보면 그 입력은 {measured}토큰으로 inputs_length = "
    "{inputs_length}를 넘습니다. 들어가지 않는 첫 길이를 돌려주었습니다. 들어가는 가장 긴 길이는 그보다 하나 "
    "짧습니다.",
    "{case}: you predicted a raw length of {got}; running the corruption gives an input of {measured} tokens, over "
    "inputs_length = {inputs_length}. That is the first length that does not fit; the longest that fits is one "
    "shorter.",
)
RL_TOO_SHORT = Advice(
    "rl-too-short",
    "{case}: 원문 길이 {got}은(는) 들어가지만(입력 {measured}토큰) 가장 긴 길이가 아닙니다. 한 토큰 더 긴 원문도 "
    "입력이 {next_measured}토큰이라 inputs_length = {inputs_length} 안에 들어갑니다. 패딩 없이 꽉 채우는 "
    "길이를 찾으세요.",
    "{case}: a raw length of {got} fits (an input of {measured} tokens) but is not the longest: one token more "
    "gives an input of {next_measured} tokens, still within inputs_length = {inputs_length}. Find the length "
    "that fills it with no padding.",
)
RL_TOO_LONG = Advice(
    "rl-too-long",
    "{case}: 원문 길이 {got}을(를) 예측했는데, 실행해 보면 그 입력은 {measured}토큰으로 inputs_length = "
    "{inputs_length}를 넘습니다 (남긴 토큰 {kept} + 센티널 {spans} + EOS 1). 원문 길이 n에서 입력 길이를 구하는 "
    "식을 세우고, 그것이 inputs_length 이하인 가장 큰 n을 찾으세요.",
    "{case}: you predicted a raw length of {got}; running the corruption gives an input of {measured} tokens, over "
    "inputs_length = {inputs_length} ({kept} kept + {spans} sentinels + 1 EOS). Write the input length as a "
    "function of the raw length n, and find the largest n for which it is at most inputs_length.",
)
RL_TARGETS_NO_EOS = Advice(
    "rl-targets-no-eos",
    "{case}: 목표 길이 {got}, 실행해서 잰 값 {expected}. 목표에도 EOS가 붙습니다.",
    "{case}: targets length {got}; running gives {expected}. The targets get an EOS too.",
)
RL_TARGETS_NO_SENTINELS = Advice(
    "rl-targets-no-sentinels",
    "{case}: 목표 길이 {got}, 실행해서 잰 값 {expected}. 목표에는 지운 토큰뿐 아니라 스팬마다 그 앞의 센티널도 "
    "들어갑니다.",
    "{case}: targets length {got}; running gives {expected}. Besides the hidden tokens, the targets hold each "
    "span's sentinel in front of it.",
)
RL_TARGETS_FINAL = Advice(
    "rl-targets-final",
    "{case}: 목표 길이 {got}, 실행해서 잰 값 {expected}. 마지막 센티널을 하나 더 셌습니다. T5의 마스크는 "
    "언제나 노이즈 스팬으로 끝나므로(남긴 구간과 노이즈 구간이 번갈아 나오고, 남긴 구간이 먼저), 목표 끝에 붙는 "
    "센티널이 없습니다.",
    "{case}: targets length {got}; running gives {expected}. You counted a final sentinel: T5's masks always end "
    "with a noise span (kept and noise segments alternate, kept first), so no sentinel closes the targets.",
)
RL_TARGETS_WRONG = Advice(
    "rl-targets-wrong",
    "{case}: 목표 길이 {got}, 실행해서 잰 값 {expected} (지운 토큰 {noise} + 센티널 {spans} + EOS 1). 원문 "
    "길이는 맞았으니, 그 원문의 목표에 무엇이 들어가는지 세어 보세요.",
    "{case}: targets length {got}; running gives {expected} ({noise} hidden + {spans} sentinels + 1 EOS). The raw "
    "length is right: count what goes into that text's targets.",
)

# --- checking raw_length_for ---------------------------------------------------------------------------

_RL_CASES = (  # (inputs_length, noise_density, mean_span_length): T5's setting first, then others
    (512, 0.15, 3.0),
    (128, 0.15, 3.0),
    (72, 0.15, 3.0),
    (200, 0.2, 2.0),
    (101, 0.3, 8.0),
    (1024, 0.15, 10.0),
)


def _run_t5_corruption(raw: int, noise_density: float, mean_span_length: float) -> dict[str, int]:
    """Corrupt a text of ``raw`` tokens as T5 does (its counts, kept and noise segments alternating) and count.

    Only the counts matter to the lengths; the segments are spread evenly here rather than drawn.
    """
    noise = round(raw * noise_density)
    spans = max(round(noise / mean_span_length), 1)
    kept = raw - noise
    mask: list[bool] = []
    for k in range(spans):  # kept segment k, then noise span k: T5's order
        mask += [False] * ((kept * (k + 1)) // spans - (kept * k) // spans)
        mask += [True] * ((noise * (k + 1)) // spans - (noise * k) // spans)
    sentinels = [f"<extra_id_{k}>" for k in range(spans + 1)]
    inputs, targets = span_corruption(list(range(raw)), mask, sentinels)
    return {"inputs": len(inputs) + 1, "targets": len(targets) + 1, "kept": kept, "spans": spans, "noise": noise}


def _raw_mistaken(inputs_length: int, noise_density: float, mean_span_length: float, mistake: str) -> int:
    """The raw length a usual mistake gives."""
    if mistake == "one-past":
        return raw_length_for(inputs_length, noise_density, mean_span_length)[0] + 1
    if mistake == "divided":
        return int(inputs_length / (1 - noise_density))
    if mistake == "divided-rounded":
        return round(inputs_length / (1 - noise_density))
    sentinels = 0 if mistake == "no-sentinels" else 1
    eos = 0 if mistake == "no-eos" else 1

    def length(raw: int) -> int:
        if mistake == "truncated":
            noise = int(raw * noise_density)
            spans = int(noise / mean_span_length)
        else:
            noise = round(raw * noise_density)
            spans = round(noise / mean_span_length)
        return raw - noise + sentinels * spans + eos

    raw = inputs_length - 1
    while length(raw + 1) <= inputs_length:
        raw += 1
    return raw


_RL_MISTAKES = (("one-past", RL_ONE_PAST), ("no-sentinels", RL_NO_SENTINELS), ("no-eos", RL_NO_EOS),
                ("divided", RL_DIVIDED), ("divided-rounded", RL_DIVIDED), ("truncated", RL_TRUNCATED))


def _read_lengths(check: Checker, result: Any) -> tuple[int, int]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        check.fail(RL_RETURN, got=repr(result))
    raw, targets = as_integer(result[0]), as_integer(result[1])
    if raw is None or targets is None or raw < 1:
        check.fail(RL_RETURN, got=repr(result))
    return raw, targets


@exercise(raw_length_for)
def check_raw_length_for(check: Checker, fn) -> None:
    answers = []
    for n, (inputs_length, density, mean) in enumerate(_RL_CASES):
        # the first case leaves noise_density and mean_span_length to the defaults, T5's 0.15 and 3
        result = check.call(fn, inputs_length) if n == 0 else check.call(fn, inputs_length, density, mean)
        answers.append(_read_lengths(check, result))
    expected = [raw_length_for(*case) for case in _RL_CASES]
    wrong = [i for i, (got, right) in enumerate(zip(answers, expected, strict=True)) if got[0] != right[0]]
    if wrong:
        i = wrong[0]
        inputs_length, density, mean = _RL_CASES[i]
        got_raw = answers[i][0]
        run = _run_t5_corruption(got_raw, density, mean)
        shown = {"case": _rl_case(_RL_CASES[i]), "got": got_raw, "expected": expected[i][0],
                 "measured": run["inputs"], "kept": run["kept"], "spans": run["spans"], "inputs_length": inputs_length}
        for mistake, advice in _RL_MISTAKES:  # the mistake that explains every case
            if all(got[0] == _raw_mistaken(*case, mistake) for got, case in zip(answers, _RL_CASES, strict=True)):
                check.fail(advice, **shown)
        if run["inputs"] <= inputs_length:
            check.fail(RL_TOO_SHORT, **shown, next_measured=_run_t5_corruption(got_raw + 1, density, mean)["inputs"])
        if got_raw == expected[i][0] + 1:
            check.fail(RL_ONE_PAST, **shown)
        check.fail(RL_TOO_LONG, **shown)
    for (_, got_targets), (raw, targets), case in zip(answers, expected, _RL_CASES, strict=True):
        if got_targets == targets:
            continue
        run = _run_t5_corruption(raw, case[1], case[2])
        shown = {"case": _rl_case(case), "got": got_targets, "expected": run["targets"], "noise": run["noise"],
                 "spans": run["spans"]}
        for mistaken, advice in ((targets - 1, RL_TARGETS_NO_EOS), (targets - run["spans"], RL_TARGETS_NO_SENTINELS),
                                 (targets + 1, RL_TARGETS_FINAL)):
            if got_targets == mistaken:
                check.fail(advice, **shown)
        check.fail(RL_TARGETS_WRONG, **shown)


def _rl_case(case: tuple[int, float, float]) -> str:
    return f"inputs_length = {case[0]}, noise_density = {case[1]}, mean_span_length = {case[2]}"

"""Chapter 7 (BERT): masking, the masked-LM loss, next-sentence pairs, and a prediction checked by running.

7.1 ``mask_tokens``: BERT's masking (Devlin et al., 2019, §3.1): 15 % of the non-special tokens chosen,
of those 80 % → [MASK], 10 % → a random non-special token, 10 % unchanged; labels only at the chosen
positions. The checker tests the contract and the statistics over many draws, never one exact draw,
so any correct implementation passes whatever order it draws its random numbers in.
7.2 ``mlm_loss``: the masked-LM loss, a mean over the chosen positions only.
7.3 ``nsp_pairs``: next-sentence-prediction pairs from documents: for each sentence that has a next
one, a fair coin gives the real next sentence (label 0) or a sentence of another document (label 1);
0 = "B follows A" is 🤗's ``next_sentence_label`` convention.
7.4 ``predict_masking``: predict, then measure: what share of the tokens carry a label, what share
the model reads changed, and how often copying the input is right where there is a label. The
checker runs ``attnbook.corruption.bert_masking`` wherever the prediction is off.

Shapes: B batch · T positions · V vocabulary. Statistical checks allow five binomial standard
deviations, so a correct answer fails one with a probability below one in a million.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch

from attnbook.corruption import IGNORE_INDEX, MaskedTokens, bert_masking
from attnbook.exercises.checking import Advice, Checker, ExerciseFailed, as_integer, exercise
from attnbook.exercises.seq2seq import LOSS_DETACHED
from attnbook.language import text

IS_NEXT, NOT_NEXT = 0, 1  # 🤗 BertForPreTraining's next_sentence_label: 0 = B follows A


# --- the references ------------------------------------------------------------------------------------


def mask_tokens(input_ids: torch.Tensor, special_ids: list[int], mask_id: int, vocab_size: int,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking of token ids (B, T): returns (inputs, labels), both (B, T).

    Each non-special token is chosen with probability 0.15; a chosen token becomes [MASK] (80 %), a
    random non-special token (10 %) or stays (10 %). labels: the original id where chosen, -100 elsewhere.
    """
    special = torch.isin(input_ids, torch.tensor(special_ids))  # [CLS], [SEP], [PAD] …: (B, T)
    chosen = (torch.rand(input_ids.shape, generator=generator) < 0.15) & ~special
    action = torch.rand(input_ids.shape, generator=generator)  # one draw per token decides 80/10/10
    masked = chosen & (action < 0.8)
    replaced = chosen & (action >= 0.8) & (action < 0.9)  # the last 10 % stay as they are
    words = torch.tensor([i for i in range(vocab_size) if i not in special_ids])  # the non-special ids
    random_words = words[torch.randint(len(words), input_ids.shape, generator=generator)]  # (B, T)
    inputs = input_ids.clone()  # input_ids itself stays as it is: the labels come from it
    inputs[masked] = mask_id
    inputs[replaced] = random_words[replaced]
    labels = torch.where(chosen, input_ids, -100)  # -100: what F.cross_entropy ignores
    return inputs, labels


def mlm_loss(logits: torch.Tensor, batch: MaskedTokens) -> torch.Tensor:
    """The masked-LM loss: mean cross-entropy over the chosen positions only. logits (B, T, V).

    ``F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten())`` computes the same: its
    ``ignore_index`` is -100 by default.
    """
    chosen = batch.labels != -100  # (B, T): [MASK]ed, replaced and kept alike
    log_probs = torch.log_softmax(logits[chosen], dim=-1)  # (n, V): only the chosen positions
    targets = batch.labels[chosen]  # (n,) the original tokens, never what the model read
    return -log_probs.gather(-1, targets[:, None]).mean()


def nsp_pairs(documents: list[list[str]], generator: torch.Generator) -> list[tuple[str, str, int]]:
    """Next-sentence-prediction pairs (A, B, label): one for each sentence that has a next one in its document.

    A fair coin per pair: B is the next sentence (label 0, IsNext) or a sentence drawn at random
    from the other documents (label 1, NotNext).
    """
    pairs = []
    for d, document in enumerate(documents):
        others = [s for e, other in enumerate(documents) if e != d for s in other]  # never this document
        for i in range(len(document) - 1):
            if torch.rand((), generator=generator) < 0.5:
                pairs.append((document[i], document[i + 1], IS_NEXT))
            else:
                j = int(torch.randint(len(others), (), generator=generator))
                pairs.append((document[i], others[j], NOT_NEXT))
    return pairs


def predict_masking(rate: float, split: tuple[float, float, float], pool: int) -> tuple[float, float, float]:
    """Predicted shares when each non-special token is chosen with probability ``rate``.

    ``split`` = (p_mask, p_random, p_keep) for a chosen token; random tokens come uniformly from
    ``pool`` non-special tokens. Returns (labelled, changed, copy_right): the share of tokens that
    carry a label, the share whose input differs from the original, and, at labelled positions,
    the share where the input token is the answer (what a model that copies its input gets right).
    """
    p_mask, p_random, p_keep = split
    labelled = rate  # every chosen token has a label, the kept ones too
    changed = rate * (p_mask + p_random * (1 - 1 / pool))  # a random draw is the original 1 time in `pool`
    copy_right = p_keep + p_random / pool  # [MASK] is never the answer
    return labelled, changed, copy_right


# --- advice for mask_tokens ------------------------------------------------------------------------------

BM_RETURN = Advice(
    "bm-return",
    "(inputs, labels) 두 텐서를 튜플로 돌려주세요. 받은 것: {got}.",
    "Return a tuple of two tensors, (inputs, labels); got {got}.",
)
BM_IN_PLACE = Advice(
    "bm-in-place",
    "입력 input_ids 자체가 바뀌었습니다. 그러면 레이블을 만들 원래 토큰이 사라집니다. inputs = input_ids.clone()을 "
    "만들어 그쪽을 바꾸세요.",
    "Your function changed input_ids itself, which loses the original tokens the labels come from. Make "
    "inputs = input_ids.clone() and change that.",
)
BM_IGNORES_GENERATOR = Advice(
    "bm-ignores-generator",
    "같은 시드의 generator로 두 번 불렀는데 결과가 다릅니다. 모든 난수를 넘겨받은 generator에서 뽑으세요: "
    "torch.rand(shape, generator=generator), torch.randint(n, shape, generator=generator). generator 없이 "
    "뽑으면 전역 난수 생성기를 쓰게 되어 결과를 재현할 수 없습니다.",
    "Two calls with generators of the same seed gave different results. Draw every random number from the "
    "generator you are given: torch.rand(shape, generator=generator), torch.randint(n, shape, "
    "generator=generator). Without it you draw from the global generator, and the masking cannot be reproduced.",
)
BM_FIXED = Advice(
    "bm-fixed",
    "시드가 다른 generator 두 개로 불렀는데 똑같은 위치를 골랐습니다. 고르는 위치는 generator에서 뽑은 난수로 "
    "정해야 합니다. 함수 안에서 시드를 다시 정하거나 위치를 규칙으로 고르면, 모델은 매번 같은 15 %만 맞히게 됩니다.",
    "Generators with two different seeds chose exactly the same positions. The positions must come from random "
    "numbers drawn from the generator: seeding again inside the function, or choosing positions by a rule, "
    "has the model predict the same 15 % every time.",
)
BM_LABELS_EVERYWHERE = Advice(
    "bm-labels-everywhere",
    "모든 위치에 레이블이 있습니다 (labels가 input_ids의 복사본입니다). 고르지 않은 위치의 레이블은 -100이어야 "
    "합니다. 그래야 손실이 고른 15 %만 셉니다. 입력에 그대로 보이는 토큰을 맞히는 것은 베끼기일 뿐입니다.",
    "Every position has a label (labels is a copy of input_ids). Unchosen positions must be labelled -100, so "
    "that the loss counts only the chosen 15 %: predicting a token the model can see is only copying.",
)
BM_LABEL_CORRUPTED = Advice(
    "bm-label-corrupted",
    "레이블이 바뀐 뒤의 토큰입니다 (예: [MASK]의 번호 {mask_id}). 레이블은 모델이 읽은 것이 아니라 원래 토큰, "
    "input_ids의 값이어야 합니다: torch.where(chosen, input_ids, -100).",
    "The labels hold the corrupted tokens (e.g. [MASK], id {mask_id}). A label is the original token, from "
    "input_ids, not what the model reads: torch.where(chosen, input_ids, -100).",
)
BM_IGNORE_INDEX = Advice(
    "bm-ignore-index",
    "고르지 않은 위치의 레이블이 {value}입니다. -100이어야 합니다. F.cross_entropy는 ignore_index=-100인 "
    "자리만 건너뜁니다. {value}도 실제 토큰 번호라서 그 자리까지 손실에 들어갑니다.",
    "The unchosen positions are labelled {value}; they must be -100. F.cross_entropy skips only "
    "ignore_index = -100; {value} is a real token id, so those positions would count in the loss.",
)
BM_LABELS_WRONG = Advice(
    "bm-labels-wrong",
    "레이블 {count}개가 원래 토큰도 -100도 아닙니다. 고른 위치에는 input_ids의 원래 토큰, 나머지에는 -100을 "
    "두세요.",
    "{count} labels are neither the original token nor -100. Put the original token from input_ids at the chosen "
    "positions and -100 everywhere else.",
)
BM_CHOSE_PADDING = Advice(
    "bm-chose-padding",
    "패딩(padding) 위치를 골랐습니다. 패딩은 문장 길이를 맞추려고 채운 자리라 맞힐 토큰이 아닙니다. special_ids에 "
    "든 번호는 모두 고르지 마세요: ~torch.isin(input_ids, torch.tensor(special_ids)).",
    "Padding positions were chosen. Padding only fills sentences up to one length; there is nothing to predict "
    "there. Never choose an id that is in special_ids: ~torch.isin(input_ids, torch.tensor(special_ids)).",
)
BM_CHOSE_SPECIAL = Advice(
    "bm-chose-special",
    "특수 토큰(special token)을 고르거나 바꾸었습니다: {tokens}. 특수 토큰은 문장이 아니라 모델에게 주는 "
    "표시이므로, special_ids에 든 번호는 절대 고르지 않습니다. 이 검사에서는 특수 토큰의 번호가 매번 다르니 "
    "번호를 못박지 말고 special_ids를 쓰세요.",
    "Special tokens {tokens} were chosen or changed. Special tokens are signs for the model, not part of the text: "
    "an id in special_ids is never chosen. The special ids differ between the check's cases, so use special_ids "
    "rather than fixed numbers.",
)
BM_CHANGED_UNLABELLED = Advice(
    "bm-changed-unlabelled",
    "레이블이 없는(-100) 위치 {count}곳의 입력이 바뀌었습니다. [MASK]든 무작위 토큰이든, 입력을 바꾼 위치에는 "
    "반드시 원래 토큰을 레이블로 두어야 합니다. 바꾸는 것은 고른 위치뿐입니다.",
    "At {count} positions without a label (-100) the input was changed. Wherever the input is changed, to [MASK] "
    "or to a random token, the original token must be the label: only chosen positions change.",
)
BM_RANDOM_RANGE = Advice(
    "bm-random-range",
    "입력에 어휘 밖의 번호 {values}이(가) 있습니다 (0 ≤ id < {vocab_size}). 무작위 토큰은 특수 토큰이 아닌 "
    "번호 가운데서 뽑으세요.",
    "The inputs hold ids outside the vocabulary, {values} (0 ≤ id < {vocab_size}). Draw random tokens from the "
    "ids that are not special.",
)
BM_RANDOM_SPECIAL = Advice(
    "bm-random-special",
    "무작위로 바꾼 토큰 가운데 특수 토큰이 있습니다: {tokens}. 어휘 전체(randint(vocab_size))에서 뽑으면 "
    "[PAD]나 [CLS], 심지어 [MASK]도 나옵니다. 특수 토큰이 아닌 번호의 목록을 만들어 그 안에서 뽑으세요.",
    "Some random replacements are special tokens, {tokens}. Drawing from the whole vocabulary "
    "(randint(vocab_size)) gives [PAD], [CLS], even [MASK]: make the list of non-special ids and draw from it.",
)
BM_SAME_POSITIONS = Advice(
    "bm-same-positions",
    "모든 문장에서 같은 위치를 골랐습니다. 난수를 문장마다 따로 뽑지 않고 (T,) 모양으로 한 번만 뽑은 것 같습니다. "
    "input_ids.shape, 곧 (B, T) 모양으로 뽑으세요.",
    "Every sentence has the same positions chosen: the random numbers seem to be drawn once, of shape (T,), "
    "rather than for each sentence. Draw them with input_ids.shape, (B, T).",
)
BM_ALWAYS_MASK = Advice(
    "bm-always-mask",
    "고른 토큰의 {mask:.1%}가 [MASK]입니다. 80 %만 [MASK]로 바꾸고, 10 %는 무작위 토큰으로, 10 %는 그대로 두세요. "
    "미세 조정(fine-tuning) 때는 [MASK]가 없으니 모델이 [MASK]가 없는 자리에서도 원래 토큰을 맞히도록 배워야 합니다.",
    "{mask:.1%} of the chosen tokens are [MASK]. Only 80 % should be: 10 % become a random token and 10 % stay "
    "unchanged. Fine-tuning has no [MASK], so the model must learn to predict tokens it sees without one.",
)
BM_NO_KEPT = Advice(
    "bm-no-kept",
    "레이블이 있는 위치 가운데 입력이 원래 토큰 그대로인 곳이 {kept:.1%}뿐입니다 (약 10 %여야 합니다). 그대로 두는 "
    "10 %가 빠졌거나, 그대로 둔 위치에 레이블을 달지 않았습니다. 그대로 둔 토큰도 고른 토큰이라 모델이 맞혀야 "
    "합니다.",
    "Only {kept:.1%} of the labelled positions show their original token (about 10 % should). Either the 10 % "
    "left unchanged are missing, or they got no label: an unchanged token was chosen too, and the model must "
    "predict it.",
)
BM_RATE = Advice(
    "bm-rate",
    "특수 토큰이 아닌 토큰 {eligible}개 가운데 {chosen}개({share:.1%})를 골랐습니다. 15 %(허용 범위 {low:.1%}–"
    "{high:.1%})여야 합니다. 토큰마다 따로 확률 0.15로 고르고, 특수 토큰과 패딩은 세지도 고르지도 마세요.",
    "{chosen} of the {eligible} non-special tokens ({share:.1%}) were chosen; it should be 15 % (accepted: "
    "{low:.1%}–{high:.1%}). Choose each token on its own with probability 0.15, and neither count nor choose "
    "special tokens and padding.",
)
BM_SPLIT = Advice(
    "bm-split",
    "고른 토큰 {chosen}개의 입력: [MASK] {mask:.1%}, 다른 토큰 {other:.1%}, 원래 토큰 {original:.1%}. 기대값은 "
    "약 80 %, 10 %, 10 %입니다. [MASK]가 아닌 20 % 중 절반이 무작위, 절반이 그대로입니다. 난수 u 하나로 "
    "u < 0.8이면 [MASK], 0.8 ≤ u < 0.9이면 무작위, 나머지는 그대로 두면 겹치지 않습니다.",
    "The inputs at the {chosen} chosen positions: [MASK] {mask:.1%}, another token {other:.1%}, the original "
    "{original:.1%}; expected about 80 %, 10 %, 10 %. Of the 20 % that are not [MASK], half are random and half "
    "unchanged. With one random number u per token: u < 0.8 → [MASK], 0.8 ≤ u < 0.9 → random, else unchanged; "
    "then the three cannot overlap.",
)
BM_RANDOM_NARROW = Advice(
    "bm-random-narrow",
    "무작위로 바꾼 토큰 {draws}개에 나온 번호가 특수 토큰이 아닌 {pool}개 가운데 {distinct}가지뿐입니다. 무작위 "
    "토큰은 위치마다 따로, 특수 토큰이 아닌 토큰 전체에서 고르게 뽑으세요.",
    "The {draws} random replacements show only {distinct} of the {pool} non-special ids. Draw a random token for "
    "each position on its own, uniformly over all the non-special tokens.",
)

# --- checking mask_tokens ------------------------------------------------------------------------------

# Two vocabularies: the specials first (padding 0), then the same turned around (padding last), so
# that ids written into the code cannot pass. Each name is how advice shows the token.
_VOCABULARIES = (
    {"vocab_size": 23, "special_ids": [0, 1, 2, 3, 4], "mask_id": 4,
     "names": {0: "[PAD]", 1: "[UNK]", 2: "[CLS]", 3: "[SEP]", 4: "[MASK]"}},
    {"vocab_size": 31, "special_ids": [26, 27, 28, 29, 30], "mask_id": 29,
     "names": {30: "[PAD]", 26: "[UNK]", 27: "[CLS]", 28: "[SEP]", 29: "[MASK]"}},
)
_ROWS, _LENGTH = 600, 25
_SIGMAS = 5.0


def _special(vocab: dict, name: str) -> int:
    return next(i for i, n in vocab["names"].items() if n == name)


def _masking_batch(vocab: dict) -> torch.Tensor:
    """600 padded rows of 25 with 20 non-special tokens each: single sentences and pairs, some [UNK]s.

    Twenty tokens a row means 0.15 · 20 = 3 exactly, so a version that picks a fixed count per row
    (as Google's original code does) passes the statistics as well as one that draws per token.
    """
    generator = torch.Generator().manual_seed(vocab["vocab_size"])
    words = torch.tensor([i for i in range(vocab["vocab_size"]) if i not in vocab["special_ids"]])
    cls, sep, pad, unk = (_special(vocab, name) for name in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"))
    rows = []
    for r in range(_ROWS):
        text_ids = words[torch.randint(len(words), (21,), generator=generator)].tolist()
        if r % 5 == 0:
            text_ids[3] = unk  # an [UNK] stays special: never chosen
        pair = [cls, *text_ids[:10], sep, *text_ids[10:20], sep]  # [CLS] A [SEP] B [SEP]
        row = pair if r % 2 else [cls, *text_ids[:20], sep]  # or one sentence, [CLS] A [SEP]
        rows.append(row + [pad] * (_LENGTH - len(row)))
    return torch.tensor(rows)


def _run_masking(check: Checker, fn: Any, ids: torch.Tensor, vocab: dict, seed: int) -> tuple[torch.Tensor, ...]:
    given = ids.clone()
    result = check.call(fn, given, list(vocab["special_ids"]), vocab["mask_id"], vocab["vocab_size"],
                        torch.Generator().manual_seed(seed))
    if not torch.equal(given, ids):
        check.fail(BM_IN_PLACE)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = f"a {type(result).__name__}" if not isinstance(result, (tuple, list)) else f"{len(result)} values"
        check.fail(BM_RETURN, got=got)
    inputs, labels = result
    inputs = check.tensor(inputs, what="inputs", shape=tuple(ids.shape), dtype=torch.long)
    labels = check.tensor(labels, what="labels", shape=tuple(ids.shape), dtype=torch.long)
    return inputs, labels


def _names(vocab: dict, ids: torch.Tensor) -> str:
    return ", ".join(vocab["names"][i] for i in sorted(set(ids.tolist())))


def _check_masking_contract(check: Checker, ids: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor,
                            vocab: dict) -> torch.Tensor:
    """What must hold for every draw; returns the chosen positions."""
    specials = torch.tensor(vocab["special_ids"])
    special = torch.isin(ids, specials)
    odd = (labels != IGNORE_INDEX) & (labels != ids)  # a label that is not the original token
    if odd.any():
        if torch.equal(labels[odd], inputs[odd]):
            check.fail(BM_LABEL_CORRUPTED, mask_id=vocab["mask_id"])
        values = labels[odd].unique()
        if len(values) == 1:
            check.fail(BM_IGNORE_INDEX, value=int(values))
        check.fail(BM_LABELS_WRONG, count=int(odd.sum()))
    chosen = labels != IGNORE_INDEX
    if chosen.all():
        check.fail(BM_LABELS_EVERYWHERE)
    touched = chosen | (inputs != ids)  # chosen, or changed without a label
    pad = _special(vocab, "[PAD]")
    if (touched & special & (ids != pad)).any():
        check.fail(BM_CHOSE_SPECIAL, tokens=_names(vocab, ids[touched & special]))
    if (touched & (ids == pad)).any():
        check.fail(BM_CHOSE_PADDING)
    changed_unlabelled = (inputs != ids) & ~chosen
    if changed_unlabelled.any():
        check.fail(BM_CHANGED_UNLABELLED, count=int(changed_unlabelled.sum()))
    seen = inputs[chosen]
    outside = (seen < 0) | (seen >= vocab["vocab_size"])
    if outside.any():
        check.fail(BM_RANDOM_RANGE, values=sorted(set(seen[outside].tolist()))[:5], vocab_size=vocab["vocab_size"])
    drawn_special = torch.isin(seen, specials) & (seen != vocab["mask_id"]) & (seen != ids[chosen])
    if drawn_special.any():
        check.fail(BM_RANDOM_SPECIAL, tokens=_names(vocab, seen[drawn_special]))
    return chosen


def _bounds(n: int, p: float) -> tuple[float, float]:
    """The shares a correct answer gives, p ± 5 binomial standard deviations over n draws."""
    spread = _SIGMAS * math.sqrt(p * (1 - p) / n)
    return p - spread, p + spread


def _check_masking_statistics(check: Checker, ids: torch.Tensor, inputs: torch.Tensor, chosen: torch.Tensor,
                              vocab: dict) -> None:
    eligible = ~torch.isin(ids, torch.tensor(vocab["special_ids"]))
    pool = vocab["vocab_size"] - len(vocab["special_ids"])
    # every column constant over the rows where it is eligible: the same positions in every sentence
    picked, possible = (chosen & eligible).sum(0), eligible.sum(0)
    if chosen.any() and bool(((picked == 0) | (picked == possible)).all()):
        check.fail(BM_SAME_POSITIONS)
    n, k = int(eligible.sum()), int(chosen.sum())
    seen, original = inputs[chosen], ids[chosen]
    shows_mask = seen == vocab["mask_id"]
    shows_original = (seen == original) & ~shows_mask
    shares = {"mask": float(shows_mask.sum()) / max(k, 1), "original": float(shows_original.sum()) / max(k, 1)}
    shares["other"] = 1 - shares["mask"] - shares["original"]
    expected = {"mask": 0.8, "original": 0.1 + 0.1 / pool, "other": 0.1 * (1 - 1 / pool)}
    if k and shares["mask"] > 0.95:
        check.fail(BM_ALWAYS_MASK, mask=shares["mask"])
    if k and shares["original"] < _bounds(k, expected["original"])[0]:
        check.fail(BM_NO_KEPT, kept=shares["original"])
    low, high = _bounds(n, 0.15)
    if not low <= k / n <= high:
        check.fail(BM_RATE, eligible=n, chosen=k, share=k / n, low=low, high=high)
    for name, p in expected.items():
        low, high = _bounds(k, p)
        if not low <= shares[name] <= high:
            check.fail(BM_SPLIT, chosen=k, **shares)
    drawn = seen[~shows_mask & ~shows_original]
    if drawn.unique().numel() < 0.6 * pool:
        check.fail(BM_RANDOM_NARROW, draws=drawn.numel(), distinct=drawn.unique().numel(), pool=pool)


@exercise(mask_tokens)
def check_mask_tokens(check: Checker, fn) -> None:
    for vocab in _VOCABULARIES:
        ids = _masking_batch(vocab)
        inputs, labels = _run_masking(check, fn, ids, vocab, seed=1)
        again = _run_masking(check, fn, ids, vocab, seed=1)
        if not (torch.equal(inputs, again[0]) and torch.equal(labels, again[1])):
            check.fail(BM_IGNORES_GENERATOR)
        chosen = _check_masking_contract(check, ids, inputs, labels, vocab)
        other_inputs, other_labels = _run_masking(check, fn, ids, vocab, seed=2)
        other_chosen = _check_masking_contract(check, ids, other_inputs, other_labels, vocab)
        if torch.equal(chosen, other_chosen):
            check.fail(BM_FIXED)
        _check_masking_statistics(check, ids, inputs, chosen, vocab)


# --- advice for mlm_loss -------------------------------------------------------------------------------

MLM_ALL_POSITIONS = Advice(
    "mlm-all-positions",
    "고른 위치의 손실을 모든 위치의 개수(B·T = {positions})로 나누었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). "
    "레이블이 -100인 자리는 평균에서도 빠져야 합니다. 고른 위치의 개수, 이 배치에서는 {n}개로 나누세요.",
    "The chosen positions' losses were divided by the number of all positions, B·T = {positions} (expected "
    "{expected:.4f}, got {got:.4f}). Positions labelled -100 are left out of the mean too: divide by the number of "
    "chosen positions, {n} in this batch.",
)
MLM_CORRUPTED_TARGETS = Advice(
    "mlm-corrupted-targets",
    "정답으로 batch.inputs, 곧 모델이 읽은 바뀐 토큰을 썼습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 그러면 모델은 "
    "[MASK]를 보고 [MASK]를 맞히도록 배웁니다. 정답은 원래 토큰, batch.labels입니다.",
    "The targets are batch.inputs, the corrupted tokens the model read (expected {expected:.4f}, got {got:.4f}): "
    "the model would learn to answer [MASK] when it sees [MASK]. The targets are the original tokens, batch.labels.",
)
MLM_ONLY_MASKED = Advice(
    "mlm-only-masked",
    "[MASK]가 들어간 위치만 세었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 무작위 토큰으로 바뀐 10 %와 그대로 둔 "
    "10 %도 고른 위치라서 손실에 들어갑니다. batch.masked가 아니라 batch.labels != -100 (= batch.chosen)을 쓰세요.",
    "Only the [MASK]ed positions are counted (expected {expected:.4f}, got {got:.4f}). The 10 % replaced by a random "
    "token and the 10 % left unchanged were chosen too, and count in the loss: use batch.labels != -100 "
    "(= batch.chosen), not batch.masked.",
)
MLM_IGNORE = Advice(
    "mlm-ignore",
    "레이블 -100을 건너뛰지 않았습니다{detail_ko}. -100은 토큰 번호가 아니라 '이 자리는 손실에서 빼라'는 표시입니다. "
    "F.cross_entropy(..., ignore_index=-100)을 쓰거나, labels != -100인 자리만 골라 계산하세요.",
    "The -100 labels are not skipped{detail_en}. -100 is not a token id but a sign meaning 'leave this position "
    "out of the loss': use F.cross_entropy(..., ignore_index=-100), or compute only where labels != -100.",
)
MLM_AXIS = Advice(
    "mlm-axis",
    "어휘 축이 아닌 축으로 소프트맥스를 계산했습니다. logits는 (B, T, V)이고 F.cross_entropy는 클래스 축을 "
    "두 번째(dim=1)에서 찾습니다. logits.flatten(0, 1)로 (B·T, V)를 만들고 labels.flatten()과 짝지우거나, "
    "log_softmax(dim=-1)을 쓰세요.",
    "The softmax is taken over an axis other than the vocabulary. logits is (B, T, V), and F.cross_entropy looks "
    "for the classes on its second axis (dim=1): flatten to (B·T, V) with logits.flatten(0, 1) and pair it "
    "with labels.flatten(), or use log_softmax(dim=-1).",
)
MLM_NOT_REDUCED = Advice(
    "mlm-not-reduced",
    "손실은 숫자 하나(모양 ())여야 하는데 모양이 {got}인 텐서를 돌려주었습니다. 고른 위치의 값들을 평균하세요.",
    "The loss should be a single number (shape ()), but your function returned a tensor of shape {got}: average "
    "the values at the chosen positions.",
)
MLM_SUM = Advice(
    "mlm-sum",
    "평균이 아니라 합을 돌려주었습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 고른 위치의 수는 배치마다 달라서 "
    "합을 쓰면 학습률의 뜻도 배치마다 달라집니다. 고른 위치의 개수로 나누세요.",
    "You returned the sum, not the mean (expected {expected:.4f}, got {got:.4f}). The number of chosen positions "
    "varies from batch to batch, and so would the meaning of the learning rate: divide by it.",
)
MLM_PER_SEQUENCE = Advice(
    "mlm-per-sequence",
    "문장마다 평균을 낸 뒤 다시 평균했습니다 (정답 {expected:.4f}, 결과 {got:.4f}). 그러면 고른 토큰이 적은 문장의 "
    "토큰이 더 큰 무게를 받습니다. 배치의 고른 위치 전체를 한 번에 평균하세요.",
    "You averaged each sentence, then the sentences (expected {expected:.4f}, got {got:.4f}): a token of a sentence "
    "with few chosen positions then weighs more. Average over all the chosen positions of the batch at once.",
)
MLM_SIGN = Advice(
    "mlm-sign",
    "부호가 반대입니다 (정답 {expected:.4f}, 결과 {got:.4f}). 교차 엔트로피(cross-entropy)는 정답의 로그 확률의 "
    "평균에 마이너스를 붙인 양수입니다.",
    "The sign is flipped (expected {expected:.4f}, got {got:.4f}). The cross-entropy is minus the mean "
    "log-probability of the targets, a positive number.",
)
MLM_WRONG = Advice(
    "mlm-wrong",
    "손실이 다릅니다: 정답 {expected:.4f}, 결과 {got:.4f}. 고른 위치(labels != -100)에서만, 원래 토큰(labels)의 "
    "로그 확률을 log_softmax(logits, dim=-1)에서 골라 평균하고 마이너스를 붙이세요.",
    "The loss differs: expected {expected:.4f}, got {got:.4f}. At the chosen positions only (labels != -100), pick "
    "the original token's (labels) log-probability out of log_softmax(logits, dim=-1), average, and negate.",
)

# --- checking mlm_loss ---------------------------------------------------------------------------------

_MLM_MASK_ID, _MLM_V = 4, 11  # ids 0–4 are special ([MASK] = 4); V = 11 differs from B = 3 and T = 8
# what happened at each position: . unchosen, M [MASK], R random token, K kept, P padding
_MLM_LAYOUTS = (
    ("..M.R.K.", "M..K..MP", ".MR...PP"),
    ("M.......", ".R.M..K.", "..MM.K.P"),
)


def _mlm_case(layout: tuple[str, ...], generator: torch.Generator) -> tuple[torch.Tensor, MaskedTokens]:
    """Random logits (B, T, V) and a masking laid out by hand, so that every kind of position occurs."""
    B, T = len(layout), len(layout[0])
    ids = torch.randint(5, _MLM_V, (B, T), generator=generator)
    marks = [[c for c in row] for row in layout]
    pad = torch.tensor([[c == "P" for c in row] for row in marks])
    ids[pad] = 0
    masked, replaced, kept = (torch.tensor([[c == mark for c in row] for row in marks]) for mark in "MRK")
    inputs = ids.clone()
    inputs[masked] = _MLM_MASK_ID
    inputs[replaced] = 5 + (ids[replaced] - 5 + 1 + torch.randint(4, ids[replaced].shape, generator=generator)) % 6
    chosen = masked | replaced | kept
    labels = torch.where(chosen, ids, IGNORE_INDEX)
    logits = (torch.randn(B, T, _MLM_V, generator=generator) * 2).requires_grad_()
    return logits, MaskedTokens(inputs=inputs, labels=labels, chosen=chosen, masked=masked, replaced=replaced,
                                kept=kept)


def _mlm_variants(logits: torch.Tensor, batch: MaskedTokens) -> dict[str, torch.Tensor]:
    """The loss, and what the usual mistakes compute instead."""
    def picked(log_p: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return log_p.gather(-1, targets.clamp(min=0)[..., None]).squeeze(-1)  # (B, T)

    log_p = torch.log_softmax(logits, dim=-1)
    right = picked(log_p, batch.labels)
    chosen = batch.chosen
    return {
        "right": -right[chosen].mean(),
        "all-positions": -(right * chosen).sum() / chosen.numel(),
        "corrupted": -picked(log_p, batch.inputs)[chosen].mean(),
        "corrupted-everywhere": -picked(log_p, batch.inputs).mean(),
        "only-masked": -right[batch.masked].mean(),
        "clamped": -picked(log_p, batch.labels).mean(),  # -100 read as token 0, at every position
        "axis": -picked(torch.log_softmax(logits, dim=1), batch.labels)[chosen].mean(),
        "sum": -right[chosen].sum(),
        "per-sequence": (-(right * chosen).sum(1) / chosen.sum(1)).mean(),
        "sign": right[chosen].mean(),
    }


@exercise(mlm_loss)
def check_mlm_loss(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(7)
    for layout in _MLM_LAYOUTS:
        logits, batch = _mlm_case(layout, generator)
        try:
            got = check.call(fn, logits, batch)
        except ExerciseFailed as failure:
            error = str(failure.values.get("error", ""))
            if failure.advice_id == "raised" and "Expected target size" in error:
                check.fail(MLM_AXIS)
            if failure.advice_id == "raised" and "-100" in error:
                check.fail(MLM_IGNORE, detail_ko=f" (오류: {error})", detail_en=f" (error: {error})")
            raise
        if isinstance(got, torch.Tensor) and got.dim() > 0:
            check.fail(MLM_NOT_REDUCED, got=tuple(got.shape))
        got = check.tensor(got, what=text("손실", "the loss"), shape=())
        variants = _mlm_variants(logits.detach(), batch)
        values = {"expected": variants["right"].item(), "got": got.item()}
        if torch.allclose(got.detach(), variants["right"], atol=1e-5):
            if not got.requires_grad:
                check.fail(LOSS_DETACHED)
            continue
        for name, advice in (("sign", MLM_SIGN), ("all-positions", MLM_ALL_POSITIONS),
                             ("corrupted", MLM_CORRUPTED_TARGETS), ("corrupted-everywhere", MLM_CORRUPTED_TARGETS),
                             ("only-masked", MLM_ONLY_MASKED), ("clamped", MLM_IGNORE), ("axis", MLM_AXIS),
                             ("sum", MLM_SUM), ("per-sequence", MLM_PER_SEQUENCE)):
            if torch.allclose(got.detach(), variants[name], atol=1e-5):
                check.fail(advice, positions=batch.chosen.numel(), n=int(batch.chosen.sum()),
                           detail_ko=" (-100을 0번 토큰으로 읽어 모든 위치를 세었습니다)",
                           detail_en=" (-100 was read as token 0 and every position counted)", **values)
        check.fail(MLM_WRONG, **values)


# --- advice for nsp_pairs ------------------------------------------------------------------------------

NSP_RETURN = Advice(
    "nsp-return",
    "(A, B, label) 세 값짜리 튜플의 리스트를 돌려주세요. 받은 것: {got}.",
    "Return a list of triples (A, B, label); got {got}.",
)
NSP_LABEL_VALUES = Advice(
    "nsp-label-values",
    "레이블이 {values}입니다. 다음 문장 예측(next sentence prediction)은 두 클래스 분류라서 레이블은 정수 0 또는 "
    "1입니다: 0 = B가 A의 다음 문장(IsNext), 1 = 아님(NotNext). 🤗 BertForPreTraining의 next_sentence_label과 "
    "같은 약속입니다.",
    "The labels are {values}. Next sentence prediction is a two-class problem, so a label is the integer 0 or 1: "
    "0 = B follows A (IsNext), 1 = it does not (NotNext), the convention of 🤗 BertForPreTraining's "
    "next_sentence_label.",
)
NSP_ACROSS_DOCUMENTS = Advice(
    "nsp-across-documents",
    "문서의 마지막 문장 뒤에 다음 문서의 첫 문장을 진짜 다음 문장(0)으로 붙였습니다 (A {a!r}, B {b!r}). 문서가 "
    "바뀌면 글이 이어지지 않습니다. 다음 문장이 있는 문장, 곧 각 문서의 마지막 문장을 뺀 문장마다 쌍을 하나씩 "
    "만드세요.",
    "The last sentence of a document, {a!r}, is paired with the first one of the next document, {b!r}, as its "
    "real next sentence (0). A new document does not continue the text: make one pair for each sentence that has "
    "a next sentence, every sentence but the last of each document.",
)
NSP_BOTH = Advice(
    "nsp-both",
    "문장마다 진짜 쌍과 가짜 쌍을 하나씩, 모두 {got}개를 만들었습니다 ({expected}개여야 합니다). 그러면 비율은 "
    "정확히 반반이지만 같은 A를 두 번 보게 됩니다. 쌍마다 동전을 던져 둘 중 하나만 만드세요.",
    "You made both a real and a random pair for every sentence, {got} in all ({expected} expected). The share is "
    "then exactly one half, but every A appears twice: toss a coin for each pair and make only one of the two.",
)
NSP_FIRSTS = Advice(
    "nsp-firsts",
    "쌍이 {got}개인데 {expected}개여야 합니다. 다음 문장이 있는 문장(각 문서의 마지막 문장을 뺀 모든 문장)마다 "
    "그 문장을 A로 하는 쌍을 정확히 하나 만드세요.",
    "You made {got} pairs; there should be {expected}. Make exactly one pair with each sentence that has a next "
    "sentence (every sentence but the last of each document) as A.",
)
NSP_UNKNOWN = Advice(
    "nsp-unknown",
    "B 자리의 {b!r}은(는) 어느 문서에도 없는 문장입니다. 번호가 아니라 문장 자체를 넣으세요.",
    "{b!r}, in place of B, is no sentence of any document: put the sentence itself there, not its index.",
)
NSP_CONVENTION = Advice(
    "nsp-label-convention",
    "진짜 다음 문장에 1, 다른 문서의 문장에 0을 붙였습니다. 이 장은 🤗의 약속을 따릅니다: 0 = B가 A의 다음 "
    "문장(IsNext), 1 = 아님(NotNext). 어느 쪽이든 상관없어 보이지만, 🤗 BertForPreTraining에 "
    "next_sentence_label로 넘기면 뒤집힌 것을 배웁니다.",
    "Real next sentences are labelled 1 and sentences from other documents 0. This chapter follows 🤗's convention: "
    "0 = B follows A (IsNext), 1 = it does not (NotNext). Either might seem fine, but passed to 🤗 "
    "BertForPreTraining as next_sentence_label, it would learn the opposite.",
)
NSP_POSITIVE_NOT_NEXT = Advice(
    "nsp-positive-not-next",
    "레이블 0(IsNext)인 쌍에서 B가 A의 바로 다음 문장이 아닙니다: A {a!r}, B {b!r}, A의 다음 문장 {next!r}. "
    "레이블이 0이면 B는 같은 문서에서 A 바로 뒤에 오는 문장이어야 합니다.",
    "In a pair labelled 0 (IsNext), B = {b!r} is not the sentence right after A = {a!r} (that is {next!r}). With "
    "label 0, B is the sentence that follows A in its document.",
)
NSP_NEGATIVE_SAME_DOCUMENT = Advice(
    "nsp-negative-same-document",
    "레이블 1(NotNext)인 쌍 {count}개의 B가 A와 같은 문서에서 왔습니다 (예: A {a!r}, B {b!r}). 같은 문서의 문장은 "
    "주제가 같아서 가짜 쌍이 너무 쉽게 진짜처럼 보이고, 말뭉치 전체에서 뽑으면 진짜 다음 문장이 뽑힐 수도 있습니다. "
    "가짜 쌍의 B는 다른 문서의 문장에서만 뽑으세요.",
    "{count} pairs labelled 1 (NotNext) take B from A's own document (e.g. A = {a!r}, B = {b!r}). Sentences of one "
    "document share a topic, so such a pair looks real, and drawing from the whole corpus can even give the real "
    "next sentence. Draw B of a NotNext pair from the other documents only.",
)
NSP_IGNORES_GENERATOR = Advice(
    "nsp-ignores-generator",
    "같은 시드의 generator로 두 번 불렀는데 결과가 다릅니다. 동전과 문장 뽑기 모두 넘겨받은 generator로 하세요: "
    "torch.rand((), generator=generator), torch.randint(n, (), generator=generator). random 모듈이나 전역 "
    "난수 생성기를 쓰면 재현되지 않습니다.",
    "Two calls with generators of the same seed gave different pairs. Toss the coins and draw the sentences with "
    "the generator you are given: torch.rand((), generator=generator), torch.randint(n, (), generator=generator). "
    "The random module or the global generator cannot be reproduced.",
)
NSP_LABELS_FIXED = Advice(
    "nsp-labels-fixed",
    "시드가 다른 두 generator에서 레이블의 순서가 똑같습니다. 레이블이 난수가 아니라 규칙(번갈아, 앞 절반과 뒤 "
    "절반 …)으로 정해졌습니다. 그러면 모델이 문장이 아니라 위치에서 답을 배울 수 있습니다. 쌍마다 generator로 "
    "동전을 던지세요.",
    "Generators with two different seeds gave the same sequence of labels: the labels follow a rule (alternating, "
    "first half and second half …), not chance, and a model could learn the answer from the position instead of "
    "the sentences. Toss a coin with the generator for each pair.",
)
NSP_BALANCE = Advice(
    "nsp-balance",
    "쌍 {count}개 가운데 진짜 다음 문장(0)이 {share:.1%}입니다. 절반(허용 범위 {low:.1%}–{high:.1%})이어야 합니다. "
    "쌍마다 확률 0.5로 진짜와 가짜를 고르세요.",
    "Of {count} pairs, {share:.1%} have the real next sentence (0); half should (accepted: {low:.1%}–{high:.1%}). "
    "Choose real or random with probability 0.5 for each pair.",
)
NSP_NEGATIVES_FIXED = Advice(
    "nsp-negatives-fixed",
    "가짜 쌍 {count}개의 B가 {distinct}가지 문장뿐이고, {neighbour:.0%}가 바로 다음 문서에서 왔습니다. 가짜 쌍의 "
    "B는 다른 문서들 전체에서 무작위로 뽑으세요.",
    "The {count} random pairs use only {distinct} different sentences as B, and {neighbour:.0%} come from the very "
    "next document. Draw B of a random pair at random from all the other documents.",
)

# --- checking nsp_pairs --------------------------------------------------------------------------------


def _documents(lengths: list[int]) -> list[list[str]]:
    """Documents of distinct sentences, named by where they are: "d3 s2" is document 3's third sentence."""
    return [[f"d{d} s{i}" for i in range(length)] for d, length in enumerate(lengths)]


_NSP_SMALL = _documents([7, 5, 1, 6])  # a one-sentence document makes no pair but gives negatives
_NSP_LARGE = _documents([8 + (d * 5) % 7 for d in range(150)])
_NSP_SMALL_SEEDS = range(1, 9)


def _read_pairs(check: Checker, result: Any) -> list[tuple[str, str, Any]]:
    if not isinstance(result, (list, tuple)):
        check.fail(NSP_RETURN, got=f"a {type(result).__name__}")
    for pair in result:
        if not isinstance(pair, (list, tuple)) or len(pair) != 3:
            check.fail(NSP_RETURN, got=repr(pair))
    return [tuple(pair) for pair in result]


def _labels(check: Checker, pairs: list[tuple]) -> list[int]:
    labels = [as_integer(label) for _, _, label in pairs]  # None for True/False, strings …
    if any(label not in (IS_NEXT, NOT_NEXT) for label in labels):
        check.fail(NSP_LABEL_VALUES, values=", ".join(sorted({repr(label) for _, _, label in pairs})[:4]))
    return labels


def _check_pairs(check: Checker, documents: list[list[str]], pairs: list[tuple]) -> list[int]:
    """The contract every draw must keep; returns the labels."""
    where = {s: (d, i) for d, document in enumerate(documents) for i, s in enumerate(document)}
    firsts = [s for document in documents for s in document[:-1]]
    labels = _labels(check, pairs)
    for (a, b, _), label in zip(pairs, labels, strict=True):
        for sentence in (a, b):
            if sentence not in where:
                check.fail(NSP_UNKNOWN, b=sentence)
        (d, i), (e, j) = where[a], where[b]
        if label == IS_NEXT and i == len(documents[d]) - 1 and j == 0 and e == d + 1:
            check.fail(NSP_ACROSS_DOCUMENTS, a=a, b=b)
    if Counter(a for a, _, _ in pairs) != Counter(firsts):
        if Counter(a for a, _, _ in pairs) == Counter(firsts * 2):
            check.fail(NSP_BOTH, got=len(pairs), expected=len(firsts))
        check.fail(NSP_FIRSTS, got=len(pairs), expected=len(firsts))
    real = [where[b] == (where[a][0], where[a][1] + 1) for a, b, _ in pairs]
    if any(real) and not all(real) and all((label == NOT_NEXT) == r for label, r in zip(labels, real, strict=True)):
        check.fail(NSP_CONVENTION)
    same_document = []
    for (a, b, _), label, r in zip(pairs, labels, real, strict=True):
        (d, i), (e, _) = where[a], where[b]
        if label == IS_NEXT and not r:
            check.fail(NSP_POSITIVE_NOT_NEXT, a=a, b=b, next=documents[d][i + 1])
        if label == NOT_NEXT and e == d:
            same_document.append((a, b))
    if same_document:
        check.fail(NSP_NEGATIVE_SAME_DOCUMENT, count=len(same_document), a=same_document[0][0],
                   b=same_document[0][1])
    return labels


def _run_pairs(check: Checker, fn: Any, documents: list[list[str]], seed: int) -> list[tuple]:
    given = [list(document) for document in documents]  # the reader may change their copy
    return _read_pairs(check, check.call(fn, given, torch.Generator().manual_seed(seed)))


@exercise(nsp_pairs)
def check_nsp_pairs(check: Checker, fn) -> None:
    for seed in _NSP_SMALL_SEEDS:  # a few documents: a negative from the whole corpus is often from A's own
        first = _run_pairs(check, fn, _NSP_SMALL, seed)
        _check_pairs(check, _NSP_SMALL, first)
        if seed == 1 and _run_pairs(check, fn, _NSP_SMALL, seed) != first:
            check.fail(NSP_IGNORES_GENERATOR)
    pairs = _run_pairs(check, fn, _NSP_LARGE, 1)
    labels = _check_pairs(check, _NSP_LARGE, pairs)
    if _check_pairs(check, _NSP_LARGE, _run_pairs(check, fn, _NSP_LARGE, 2)) == labels:
        check.fail(NSP_LABELS_FIXED)
    count = len(labels)
    share = labels.count(IS_NEXT) / count
    low, high = _bounds(count, 0.5)
    if not low <= share <= high:
        check.fail(NSP_BALANCE, count=count, share=share, low=low, high=high)
    where = {s: d for d, document in enumerate(_NSP_LARGE) for s in document}
    negatives = [(a, b) for (a, b, _), label in zip(pairs, labels, strict=True) if label == NOT_NEXT]
    distinct = len({b for _, b in negatives})
    neighbour = sum(where[b] == where[a] + 1 for a, b in negatives) / max(len(negatives), 1)
    if distinct < 0.5 * len(negatives) or neighbour > 0.5:
        check.fail(NSP_NEGATIVES_FIXED, count=len(negatives), distinct=distinct, neighbour=neighbour)


# --- advice for predict_masking ------------------------------------------------------------------------

PM_RETURN = Advice(
    "pm-return",
    "예측값 세 개 (labelled, changed, copy_right)를 튜플로 돌려주세요. 받은 것: {got}.",
    "Return your three predictions as a tuple (labelled, changed, copy_right); got {got}.",
)
PM_MEASURED = Advice(
    "pm-measured",
    "{case}: 예측 {predicted}, 실행해서 잰 값 {measured}. 가깝지만 기댓값과 정확히 같지는 않습니다. 함수 "
    "안에서 마스킹을 돌려 재지 말고, 확률로 계산해서 정확한 값을 돌려주세요.",
    "{case}: your prediction {predicted} is close to the measured {measured} but not the exact expectation. Do not "
    "run the masking inside your function: compute the exact values from the probabilities.",
)
PM_LABELLED_MASK_ONLY = Advice(
    "pm-labelled-mask-only",
    "{case}: labelled의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. [MASK]가 된 토큰만 "
    "레이블을 가진다고 보았습니다. 무작위 토큰이 된 것과 그대로 둔 것도 고른 토큰이라 레이블이 있습니다.",
    "{case}: you predicted labelled = {predicted:.4f}; running gives {measured:.4f}. You counted only the tokens "
    "that became [MASK]: those replaced by a random token and those left unchanged were chosen too, and have labels.",
)
PM_LABELLED_CHANGED_ONLY = Advice(
    "pm-labelled-changed-only",
    "{case}: labelled의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 그대로 둔 토큰을 뺐습니다. "
    "그대로 둔 토큰도 고른 토큰이라 레이블이 있습니다. 입력에 보이는 토큰을 맞혀야 하는 자리입니다.",
    "{case}: you predicted labelled = {predicted:.4f}; running gives {measured:.4f}. You left out the unchanged "
    "tokens: they were chosen too and carry a label, positions where the answer is the token the model sees.",
)
PM_CHANGED_RANDOM_SAME = Advice(
    "pm-changed-random-same",
    "{case}: changed의 예측 {predicted:.6f}, 실행해서 잰 값 {measured:.6f}. 무작위 토큰이 원래 토큰과 "
    "같을 수도 있다는 것을 빠뜨렸습니다. 특수 토큰이 아닌 토큰 {pool}개 중에서 고르게 뽑으면 1/{pool}의 확률로 "
    "원래 토큰이 다시 나와 입력이 바뀌지 않습니다.",
    "{case}: you predicted changed = {predicted:.6f}; running gives {measured:.6f}. You missed that a random token "
    "can be the original one: drawn uniformly from {pool} non-special tokens, it gives back the original with "
    "probability 1/{pool}, and the input does not change.",
)
PM_CHANGED_ALL = Advice(
    "pm-changed-all",
    "{case}: changed의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 고른 토큰이 모두 바뀐다고 "
    "보았습니다. 그대로 두는 몫은 고른 토큰이지만 입력은 그대로입니다.",
    "{case}: you predicted changed = {predicted:.4f}; running gives {measured:.4f}. You assumed every chosen token "
    "changes, but the share left unchanged is chosen and reads as before.",
)
PM_CHANGED_NO_RANDOM = Advice(
    "pm-changed-no-random",
    "{case}: changed의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. [MASK]로 바뀐 것만 "
    "세었습니다. 무작위 토큰으로 바뀐 것도 (대부분) 입력이 달라집니다.",
    "{case}: you predicted changed = {predicted:.4f}; running gives {measured:.4f}. You counted only the tokens "
    "that became [MASK]; those replaced by a random token (mostly) change too.",
)
PM_NOT_OF_ALL = Advice(
    "pm-not-of-all",
    "{case}: {name}의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 고른 토큰 가운데의 몫을 "
    "구했습니다. labelled와 changed는 특수 토큰이 아닌 토큰 전체 가운데의 몫이라 rate를 곱해야 합니다.",
    "{case}: you predicted {name} = {predicted:.4f}; running gives {measured:.4f}. That is a share of the chosen "
    "tokens; labelled and changed are shares of all the non-special tokens, so multiply by rate.",
)
PM_COPY_RANDOM_SAME = Advice(
    "pm-copy-random-same",
    "{case}: copy_right의 예측 {predicted:.6f}, 실행해서 잰 값 {measured:.6f}. 무작위 토큰이 우연히 원래 "
    "토큰일 때(1/{pool})도 입력을 베끼면 맞습니다.",
    "{case}: you predicted copy_right = {predicted:.6f}; running gives {measured:.6f}. Copying is also right when "
    "the random token happens to be the original one (1 time in {pool}).",
)
PM_COPY_RANDOM_COUNTS = Advice(
    "pm-copy-random-counts",
    "{case}: copy_right의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 무작위 토큰으로 바뀐 "
    "자리를 모두 맞는다고 보았습니다. 그 자리의 입력은 (1/{pool}의 경우를 빼면) 다른 토큰이라 베끼면 틀립니다.",
    "{case}: you predicted copy_right = {predicted:.4f}; running gives {measured:.4f}. You counted every random "
    "replacement as right, but there the input is another token (but for 1 time in {pool}): copying it is wrong.",
)
PM_COPY_ALL_POSITIONS = Advice(
    "pm-copy-all-positions",
    "{case}: copy_right의 예측 {predicted:.4f}, 실행해서 잰 값 {measured:.4f}. 모든 위치에서 베끼기가 "
    "맞는 비율을 구했습니다. 물은 것은 레이블이 있는 위치, 곧 고른 토큰 가운데의 비율입니다.",
    "{case}: you predicted copy_right = {predicted:.4f}; running gives {measured:.4f}. That is how often copying is "
    "right over all positions; the question is about labelled positions, the chosen tokens.",
)
PM_WRONG = Advice(
    "pm-wrong",
    "{case}: 예측 {predicted}, 실행해서 잰 값 {measured} (토큰 {tokens:,}개). 하나씩 따져 보세요. 레이블은 고른 "
    "토큰마다 있고, 입력이 바뀌는 것은 [MASK]와, 원래 토큰이 다시 뽑히지 않은 무작위 토큰이며, 베끼기가 맞는 것은 "
    "입력이 원래 토큰인 자리입니다.",
    "{case}: you predicted {predicted}; measuring gives {measured} ({tokens:,} tokens). Go through them one by one: "
    "every chosen token has a label; the input changes for [MASK] and for a random token that is not the original "
    "again; copying is right where the input is the original token.",
)

# --- checking predict_masking --------------------------------------------------------------------------

_PREDICTION_CASES = (  # (rate, split, pool): BERT's settings first, a small vocabulary where 1/pool shows
    (0.15, (0.8, 0.1, 0.1), 5),
    (0.15, (0.8, 0.1, 0.1), 30_000),
    (0.4, (0.5, 0.3, 0.2), 4),
    (0.15, (1.0, 0.0, 0.0), 100),
    (0.3, (0.6, 0.2, 0.2), 3),
)
_MEASURED_TOKENS = 200 * 500


def _measure_masking(rate: float, split: tuple[float, float, float], pool: int) -> tuple[float, float, float]:
    """Run it: mask 100,000 non-special tokens with bert_masking and count."""
    generator = torch.Generator().manual_seed(pool)
    specials = [0, 1, 2]  # [PAD], [CLS], [MASK]: never in the batch, never drawn
    ids = 3 + torch.randint(pool, (200, 500), generator=generator)
    out = bert_masking(ids, vocab_size=pool + 3, special_ids=specials, mask_id=2, rate=rate, split=split,
                       generator=generator)
    labelled = out.chosen.double().mean().item()
    changed = (out.inputs != ids).double().mean().item()
    copy_right = (out.inputs == ids)[out.chosen].double().mean().item()
    return labelled, changed, copy_right


def _read_prediction(check: Checker, result: Any) -> tuple[float, float, float]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"a {type(result).__name__}" if not isinstance(result, (tuple, list)) else f"{len(result)} values"
        check.fail(PM_RETURN, got=got)
    values = []
    for value in result:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            check.fail(PM_RETURN, got=repr(tuple(result)))
        values.append(float(value))
    return values[0], values[1], values[2]


def _near(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 + 1e-7 * abs(b)


def _triple(values: tuple[float, float, float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"


@exercise(predict_masking)
def check_predict_masking(check: Checker, fn) -> None:
    for rate, split, pool in _PREDICTION_CASES:
        predicted = _read_prediction(check, check.call(fn, rate, split, pool))
        expected = predict_masking(rate, split, pool)
        if all(_near(p, e) for p, e in zip(predicted, expected, strict=True)):
            continue
        measured = _measure_masking(rate, split, pool)
        case = f"rate = {rate}, split = {split}, pool = {pool}"
        p_mask, p_random, p_keep = split
        labelled, changed, copy_right = predicted
        wrong = {  # quantity: [(what a mistake predicts, its advice), ...]
            0: [(rate * p_mask, PM_LABELLED_MASK_ONLY), (rate * (p_mask + p_random), PM_LABELLED_CHANGED_ONLY),
                (1.0, PM_NOT_OF_ALL)],
            1: [(rate * (p_mask + p_random), PM_CHANGED_RANDOM_SAME), (rate, PM_CHANGED_ALL),
                (rate * p_mask, PM_CHANGED_NO_RANDOM), (expected[1] / rate, PM_NOT_OF_ALL)],
            2: [(p_keep, PM_COPY_RANDOM_SAME), (p_keep + p_random, PM_COPY_RANDOM_COUNTS),
                (1 - expected[1], PM_COPY_ALL_POSITIONS)],
        }
        names = ("labelled", "changed", "copy_right")
        for q in range(3):
            if _near(predicted[q], expected[q]):
                continue
            for value, advice in wrong[q]:
                if not _near(value, expected[q]) and _near(predicted[q], value):
                    check.fail(advice, case=case, name=names[q], predicted=predicted[q], measured=measured[q],
                               pool=pool)
        again = _read_prediction(check, check.call(fn, rate, split, pool))
        close = all(abs(p - e) < 0.01 for p, e in zip(predicted, expected, strict=True))
        if again != (labelled, changed, copy_right) or close:
            check.fail(PM_MEASURED, case=case, predicted=_triple(predicted), measured=_triple(measured))
        check.fail(PM_WRONG, case=case, predicted=_triple(predicted), measured=_triple(measured),
                   tokens=_MEASURED_TOKENS)

"""One T5 for several tasks, told apart by a prefix in the input — and a prefix it never saw.

T5 (Raffel et al., 2020, §2.4) casts every problem as text in, text out: the task is a
few words at the start of the input ("translate English to German: That is good."), the
answer is the text the decoder writes, and one model with one loss (cross-entropy on the
target's tokens, ending with EOS) learns them all. Here four tasks the package can
generate, each with its prefix, mixed evenly (§3.5.2 compares mixing strategies; with
equal-sized tasks, "examples-proportional" and "equal" mixing coincide):

* ``translate``: "translate English to Korean: the student reads a book" → "학생은 책을 읽는다"
  (:mod:`attnbook.data.translation`, one clause);
* ``numeral_to_digits``: "Korean numeral to digits: 삼천이백사십오" → "3245" (:mod:`attnbook.data.numbers`);
* ``date_to_iso``: "Korean date to ISO: 2026년 11월 24일" → "2026-11-24";
* ``iso_to_spelled``: "spell ISO date in Korean: 2026-11-24" → "이천이십육년 십일월 이십사일";

and one the model never trains on, :data:`UNSEEN`: ``digits to Korean numeral: 3245`` →
삼천이백사십오, the inverse of ``numeral_to_digits``. Every word of its prefix is a word of
a trained prefix, and the model does read digits (``iso_to_spelled``) and write Korean
numerals (the years and days of ``iso_to_spelled``), so what it lacks is only the task. It
answers something (a greedy decoder always does), and :func:`answer_format` says which
trained task's answer that text looks like — the notes' claim that a text-to-text model
cannot do a task type it was not trained on, measured.

**The tokenizer** (:class:`TextToTextTokenizer`): whole words for the grammar's English and
Korean words and the prefixes' words, single characters for everything else (numerals,
digits, dates), with SentencePiece's ``▁`` marking the start of a word so that decoding
restores the spaces. Translation then reads and writes about eight tokens a sentence, and a
numeral or date is a character-by-character transduction (삼 천 이 백 … → 3 2 4 5). Chapter 1's
BPE learned on this mixture would merge frequent pieces such as 이십 or 2026 into single
tokens, so the same digit would be a different token from number to number. T5's own
tokenizer (§3.1.3) is a SentencePiece model (Kudo and Richardson, 2018): 32,000 pieces learned
from raw text, no word list, on ten parts English to one part each of German, French and
Romanian (its translation tasks), so Korean would fall to its unknown piece; mT5 (Xue et al., 2021)
learned 250,000 pieces over 101 languages instead. The ids follow T5: pad 0, EOS 1, unknown 2,
and 100 sentinels ``<extra_id_0>`` … ``<extra_id_99>`` at the top of the vocabulary
(``<extra_id_0>`` the last id), reserved for span corruption (§3.1.4), which this model
never sees.

Shape legend: B batch · S input length · T target length · V vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.data import lexicon as lx
from attnbook.data.numbers import date_pairs, from_korean_numeral, numeral_pairs, parse_korean_date
from attnbook.data.translation import train_test_pairs
from attnbook.language import text
from attnbook.progress import progress
from attnbook.runtime import device_of

__all__ = ["EOS", "PAD", "PREFIXES", "SENTINELS", "TASKS", "UNK", "UNSEEN", "Example", "TextToTextTokenizer",
           "TextToTextTraining", "answer_format", "make_tokenizer"]

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"  # ids 0, 1, 2, as T5's
SENTINELS = 100                          # <extra_id_0> … <extra_id_99>
WORD_START = "▁"                         # SentencePiece's mark of a word's first piece

PREFIXES = {
    "translate": "translate English to Korean:",
    "numeral_to_digits": "Korean numeral to digits:",
    "date_to_iso": "Korean date to ISO:",
    "iso_to_spelled": "spell ISO date in Korean:",
}
TASKS = tuple(PREFIXES)
UNSEEN = "digits_to_numeral"
UNSEEN_PREFIX = "digits to Korean numeral:"  # every word of it is a word of a trained prefix
OTHER = "other"

_DIGITS = re.compile(r"[0-9]+")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------------------- examples

@dataclass(frozen=True)
class Example:
    """One text-to-text example: the task's name, its source text (without the prefix) and the target text."""

    task: str
    source: str
    target: str

    @property
    def input(self) -> str:
        """What the model reads: the prefix, then the source."""
        return f"{(PREFIXES | {UNSEEN: UNSEEN_PREFIX})[self.task]} {self.source}"


def _translation(n_train: int, n_test: int, seed: int, clauses: int) -> tuple[list[Example], list[Example]]:
    train, test = train_test_pairs(n_train, n_test, seed=seed, clauses=clauses)
    make = lambda pair: Example("translate", " ".join(pair.en), " ".join(pair.ko))  # noqa: E731
    return [make(p) for p in train], [make(p) for p in test]


def _split(task: str, draw: Callable[[int, int], list[tuple[str, str]]], n_train: int, n_test: int, seed: int,
           swap: bool = False) -> tuple[list[Example], list[Example]]:
    """``n_train`` distinct pairs from one seeded stream, ``n_test`` distinct unseen ones from another."""
    def distinct(stream_seed: int, n: int, exclude: set[str]) -> list[Example]:
        chosen: dict[str, Example] = {}
        for source, target in draw(4 * n + 100, stream_seed):
            if swap:
                source, target = target, source
            if source not in exclude and source not in chosen:
                chosen[source] = Example(task, source, target)
                if len(chosen) == n:
                    return list(chosen.values())
        raise ValueError(text(f"{task}: 서로 다른 예제 {n}개를 만들 수 없습니다",
                              f"{task}: cannot draw {n} distinct examples"))
    train = distinct(seed, n_train, set())
    return train, distinct(seed + 1, n_test, {e.source for e in train})


def make_examples(task: str, n_train: int, n_test: int, *, seed: int, clauses: int = 1,
                  max_numeral: int = 10**8 - 1) -> tuple[list[Example], list[Example]]:
    """A task's training and test examples, drawn from ``seed``; no test source is a training source."""
    numerals = lambda n, s: numeral_pairs(n, seed=s, max_value=max_numeral)  # noqa: E731
    if task == "translate":
        return _translation(n_train, n_test, seed, clauses)
    if task == "numeral_to_digits":
        return _split(task, numerals, n_train, n_test, seed)
    if task == "date_to_iso":
        return _split(task, lambda n, s: date_pairs(n, seed=s), n_train, n_test, seed)
    if task == "iso_to_spelled":
        return _split(task, lambda n, s: date_pairs(n, seed=s, spelled=True), n_train, n_test, seed, swap=True)
    if task == UNSEEN:
        return _split(task, numerals, n_train, n_test, seed, swap=True)
    raise ValueError(text(f"알 수 없는 과제 {task!r} (가능: {', '.join((*TASKS, UNSEEN))})",
                          f"unknown task {task!r} (known: {', '.join((*TASKS, UNSEEN))})"))


def answer_format(output: str) -> str:
    """Which task's answer ``output`` looks like (a task name, or ``"other"``); checked in this order:

    ISO date (``date_to_iso``) · digits only (``numeral_to_digits``) · a Korean numeral in its canonical
    spelling (the unseen task's own format) · a Korean date spelled in Hangul (``iso_to_spelled``) ·
    words of the grammar's Korean (``translate``). A numeral is checked before Korean words because
    no Korean word of the grammar is a numeral (a test checks it).
    """
    if _ISO.fullmatch(output):
        return "date_to_iso"
    if _DIGITS.fullmatch(output):
        return "numeral_to_digits"
    try:
        from_korean_numeral(output)
        return UNSEEN
    except ValueError:
        pass
    if not re.search(r"[0-9]", output):
        try:
            parse_korean_date(output)
            return "iso_to_spelled"
        except ValueError:
            pass
    words = output.split()
    if words and all(word in _korean_words() for word in words):
        return "translate"
    return OTHER


@functools.lru_cache(maxsize=1)
def _korean_words() -> frozenset[str]:
    return frozenset(lx.korean_words())


# -------------------------------------------------------------------------------------------------------- tokenizer

@dataclass(frozen=True)
class TextToTextTokenizer:
    """Whole words from a word list, characters for the rest; ``▁`` starts a word; T5's special ids."""

    vocab: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.vocab[:3] != (PAD, EOS, UNK) or len(set(self.vocab)) != len(self.vocab):
            raise ValueError(text("어휘는 <pad>, </s>, <unk>로 시작하고 중복이 없어야 합니다",
                                  "the vocabulary must start with <pad>, </s>, <unk> and have no duplicates"))

    @functools.cached_property
    def _ids(self) -> dict[str, int]:
        return {token: index for index, token in enumerate(self.vocab)}

    def __len__(self) -> int:
        return len(self.vocab)

    pad_id, eos_id, unk_id = 0, 1, 2

    def sentinel_id(self, k: int) -> int:
        """The id of ``<extra_id_k>``: the last id for k = 0, as in T5's vocabulary."""
        if not _is_int(k) or not 0 <= k < SENTINELS:
            raise ValueError(text(f"센티널 번호는 0–{SENTINELS - 1}이어야 합니다: {k!r}",
                                  f"a sentinel number must be 0–{SENTINELS - 1}, got {k!r}"))
        return len(self.vocab) - 1 - k

    @property
    def sentinels(self) -> tuple[str, ...]:
        """``sentinels[k]`` is ``<extra_id_k>`` (the order :mod:`attnbook.corruption` expects)."""
        return tuple(self.vocab[self.sentinel_id(k)] for k in range(SENTINELS))

    @property
    def sentinel_ids(self) -> tuple[int, ...]:
        """``sentinel_ids[k]`` is the id of ``<extra_id_k>``: span corruption on ids takes these."""
        return tuple(self.sentinel_id(k) for k in range(SENTINELS))

    def tokenize(self, sentence: str) -> list[str]:
        """The tokens of ``sentence``: a known word is one token, ``word:`` the word then ``:``, any other word
        its characters (the first one marked ``▁``)."""
        if not isinstance(sentence, str):
            raise TypeError(text(f"문자열이 필요합니다: {sentence!r}", f"expected a string, got {sentence!r}"))
        tokens = []
        for word in sentence.split():
            if WORD_START + word in self._ids:
                tokens.append(WORD_START + word)
            elif word.endswith(":") and WORD_START + word[:-1] in self._ids:
                tokens += [WORD_START + word[:-1], ":"]
            else:
                tokens += [WORD_START + word[0], *word[1:]]
        return tokens

    def encode(self, sentence: str, *, eos: bool = False) -> list[int]:
        """Ids of ``sentence`` (unknown characters → ``<unk>``), with ``</s>`` at the end when ``eos``."""
        ids = [self._ids.get(token, self.unk_id) for token in self.tokenize(sentence)]
        return [*ids, self.eos_id] if eos else ids

    def decode(self, ids: Iterable[int] | Tensor) -> str:
        """Text up to the first ``</s>`` (pads skipped): pieces joined, each ``▁`` a space."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        pieces = []
        for index in ids:
            if index == self.eos_id:
                break
            if index != self.pad_id:
                pieces.append(self.vocab[index])
        return "".join(pieces).replace(WORD_START, " ").strip()


def make_tokenizer(train: Iterable[Example]) -> TextToTextTokenizer:
    """The vocabulary: specials, the grammar's words and the prefixes' words (sorted), the characters of the
    training text that is not such a word (sorted, word-initial and inner forms), and the 100 sentinels."""
    words = {*lx.english_words(), *lx.korean_words(),
             *(w.removesuffix(":") for prefix in PREFIXES.values() for w in prefix.split())}
    pieces: set[str] = {":"}
    for example in train:
        for sentence in (example.source, example.target):
            for word in sentence.split():
                if word not in words and word.removesuffix(":") not in words:
                    pieces |= {WORD_START + word[0], *word[1:]}
    tokens = [WORD_START + w for w in sorted(words)]
    tokens += sorted(pieces - set(tokens))
    sentinels = [f"<extra_id_{k}>" for k in reversed(range(SENTINELS))]
    return TextToTextTokenizer((PAD, EOS, UNK, *tokens, *sentinels))


# --------------------------------------------------------------------------------------------------------- training

@functools.lru_cache(maxsize=4)
def _examples(train_per_task: int, test_per_task: int, seed: int, clauses: int,
              max_numeral: int) -> dict[str, tuple[tuple[Example, ...], tuple[Example, ...]]]:
    every = {}
    for offset, task in enumerate((*TASKS, UNSEEN)):
        train, test = make_examples(task, train_per_task, test_per_task, seed=seed * 100 + 10 * offset,
                                    clauses=clauses, max_numeral=max_numeral)
        every[task] = (tuple(train) if task != UNSEEN else (), tuple(test))
    return every


def _pad(rows: Sequence[Sequence[int]], value: int) -> Tensor:
    longest = max(map(len, rows))
    return torch.tensor([[*row, *[value] * (longest - len(row))] for row in rows])


@dataclass(frozen=True)
class TextToTextTraining:
    """Data, model size and training budget of the book's multi-task T5; every field has the book's value."""

    train_per_task: int = 10000    # 3000 steps × 16 per task: each training example about 5 times
    test_per_task: int = 200       # held-out inputs per prefix (and for the unseen prefix)
    seed: int = 0
    clauses: int = 1               # translation sentences of one clause (about 8 words)
    max_numeral: int = 10**8 - 1   # numerals up to 9999만 9999 (one to eight digits, equally often)
    d_model: int = 64
    d_kv: int = 16
    d_ff: int = 256
    num_layers: int = 2            # 2 encoder + 2 decoder layers
    num_heads: int = 4
    dropout: float = 0.0           # 10,000 examples a task and 3000 steps: no need to slow learning down
    batch_size: int = 64           # 16 examples of each task in every batch
    steps: int = 3000              # 158 s of CPU on one thread (benchmarks/t5_multitask.md)
    lr: float = 3e-3
    warmup: int = 200              # steps of linear warm-up, then linear decay to 0
    weight_decay: float = 0.01
    max_new_tokens: int = 24       # the longest target is 16 tokens with </s>

    def __post_init__(self) -> None:
        for name in ("train_per_task", "test_per_task", "batch_size", "steps", "warmup", "clauses", "max_new_tokens",
                     "d_model", "d_kv", "d_ff", "num_layers", "num_heads"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "warmup" else 1):
                raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.batch_size % len(TASKS):
            raise ValueError(text(f"batch_size({self.batch_size})는 과제 수 {len(TASKS)}의 배수여야 합니다 "
                                  "(배치마다 과제를 같은 수만큼 넣으므로)",
                                  f"batch_size ({self.batch_size}) must be a multiple of the {len(TASKS)} tasks "
                                  "(every batch holds as many examples of each)"))
        if self.batch_size // len(TASKS) > self.train_per_task:
            raise ValueError(text("과제당 학습 예제가 배치 한 칸보다 적습니다",
                                  "fewer training examples per task than one batch takes of it"))
        for name in ("lr", "dropout", "weight_decay"):
            value = getattr(self, name)
            low_ok = value > 0 if name == "lr" else value >= 0
            if not isinstance(value, int | float) or isinstance(value, bool) or not low_ok or \
                    (name == "dropout" and value >= 1):
                raise ValueError(text(f"{name} 값이 올바르지 않습니다: {value!r}",
                                      f"{name} is out of range: {value!r}"))
        if not _is_int(self.max_numeral) or not 0 < self.max_numeral < 10**16:
            raise ValueError(text(f"max_numeral은 1 이상 10^16 미만이어야 합니다: {self.max_numeral!r}",
                                  f"max_numeral must be 1 ≤ n < 10^16, got {self.max_numeral!r}"))

    # ------------------------------------------------------------------------------------------------ data

    def _all(self) -> dict[str, tuple[tuple[Example, ...], tuple[Example, ...]]]:
        return _examples(self.train_per_task, self.test_per_task, self.seed, self.clauses, self.max_numeral)

    def train_examples(self, task: str) -> tuple[Example, ...]:
        """A trained task's training examples (none for the unseen task)."""
        return self._all()[self._task(task)][0]

    def test_examples(self, task: str) -> tuple[Example, ...]:
        """Held-out examples of a trained task, or of the unseen one: no source is a training source of its task."""
        return self._all()[self._task(task)][1]

    @staticmethod
    def _task(task: str) -> str:
        if task not in (*TASKS, UNSEEN):
            raise ValueError(text(f"알 수 없는 과제 {task!r} (가능: {', '.join((*TASKS, UNSEEN))})",
                                  f"unknown task {task!r} (known: {', '.join((*TASKS, UNSEEN))})"))
        return task

    @property
    def tokenizer(self) -> TextToTextTokenizer:
        """Learned from the training examples only (their characters); see the module docstring."""
        return _tokenizer(self)

    def encode(self, examples: Sequence[Example]) -> tuple[Tensor, Tensor, Tensor]:
        """Inputs (B, S), their mask (B, S) and labels (B, T): target ids then ``</s>``, padded with −100."""
        tok = self.tokenizer
        inputs = _pad([tok.encode(e.input) for e in examples], tok.pad_id)  # (B, S)
        labels = _pad([tok.encode(e.target, eos=True) for e in examples], -100)  # (B, T)
        return inputs, inputs != tok.pad_id, labels

    @functools.cached_property
    def _train_ids(self) -> dict[str, list[tuple[list[int], list[int]]]]:
        """Every training example as (input ids, target ids + </s>), encoded once."""
        tok = self.tokenizer
        return {task: [(tok.encode(e.input), tok.encode(e.target, eos=True)) for e in self.train_examples(task)]
                for task in TASKS}

    @functools.lru_cache(maxsize=64)  # noqa: B019 (frozen, hashable recipe)
    def _order(self, task: str, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch * 10 + TASKS.index(task))
        return torch.randperm(len(self.train_examples(task)), generator=generator)

    def batch_examples(self, step: int) -> list[Example]:
        """Step ``step``'s examples: ``batch_size / 4`` of each task, each task in a new seeded order per epoch."""
        share = self.batch_size // len(TASKS)
        per_epoch = self.train_per_task // share
        epoch, index = divmod(step, per_epoch)
        chosen = []
        for task in TASKS:
            examples = self.train_examples(task)
            chosen += [examples[i] for i in self._order(task, epoch)[index * share:(index + 1) * share].tolist()]
        return chosen

    def batch(self, step: int) -> tuple[Tensor, Tensor, Tensor]:
        """Step ``step``'s inputs (B, S), input mask (B, S) and labels (B, T), as :meth:`encode` makes them."""
        share = self.batch_size // len(TASKS)
        epoch, index = divmod(step, self.train_per_task // share)
        rows = [self._train_ids[task][i] for task in TASKS
                for i in self._order(task, epoch)[index * share:(index + 1) * share].tolist()]
        inputs = _pad([source for source, _ in rows], self.tokenizer.pad_id)  # (B, S)
        return inputs, inputs != self.tokenizer.pad_id, _pad([target for _, target in rows], -100)  # …, (B, T)

    def learning_rate(self, step: int) -> float:
        """Linear warm-up over ``warmup`` steps to ``lr``, then linear decay to 0 at ``steps``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * max(0.0, (self.steps - step) / max(1, self.steps - self.warmup))

    def fingerprint(self, steps: int | None = None) -> dict[str, str]:
        """SHA-256 of the vocabulary, of every step's batch (inputs and labels) and of every learning rate."""
        steps = self.steps if steps is None else steps
        data, rates = hashlib.sha256(), hashlib.sha256()
        for step in range(steps):
            inputs, _, labels = self.batch(step)
            for tensor in (inputs, labels):
                data.update(tensor.numpy().tobytes())
            rates.update(f"{self.learning_rate(step):.9g}\0".encode())
        tests = hashlib.sha256("\0".join(f"{e.input}\t{e.target}" for task in (*TASKS, UNSEEN)
                                         for e in self.test_examples(task)).encode())
        vocab = hashlib.sha256("\0".join(self.tokenizer.vocab).encode()).hexdigest()
        return {"vocab_sha256": vocab, "data_sha256": data.hexdigest(), "tests_sha256": tests.hexdigest(),
                "learning_rates_sha256": rates.hexdigest()}

    # ----------------------------------------------------------------------------------------------- model

    def config(self):
        """The tiny T5: original T5 (ReLU feed-forward, RMS norm, relative position bias, tied output)."""
        from attnbook.t5 import T5Config

        return T5Config(vocab_size=len(self.tokenizer), d_model=self.d_model, d_kv=self.d_kv, d_ff=self.d_ff,
                        num_layers=self.num_layers, num_heads=self.num_heads, dropout=self.dropout)

    def build(self, name: str = "t5_multitask"):
        """A fresh model, its initial weights seeded by ``name`` and the seed."""
        from attnbook.t5 import T5

        torch.manual_seed(self.seed + sum(map(ord, name)))
        return T5(self.config())

    def loss(self, model: nn.Module, inputs: Tensor, mask: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy of the target tokens and ``</s>``, teacher-forced (§3.1.2): the decoder reads the labels
        shifted right, starting from pad (:func:`attnbook.t5.shift_right`). The batch is moved to the model's device."""
        from attnbook.t5 import shift_right

        device = device_of(model)
        inputs, mask, labels = inputs.to(device), mask.to(device), labels.to(device)
        decoder_input_ids = shift_right(labels, model.config)  # (B, T): pad, then the target
        logits = model(inputs, attention_mask=mask, decoder_input_ids=decoder_input_ids,
                       need_weights=False).logits  # (B, T, V); the fused attention kernel, no weights kept
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "norm" not in n.lower()]
        rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "norm" not in n.lower())]
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                  {"params": rest, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.98))

    def train(self, model: nn.Module, *, max_steps: int | None = None, desc: str | None = None) -> list[float]:
        """Train ``model`` for ``steps`` steps (or the first ``max_steps`` of them); returns every step's loss.

        Each batch is made on the CPU and moved to the model's device; the losses are read once, at the end.
        """
        if getattr(getattr(model, "config", None), "vocab_size", None) != len(self.tokenizer):
            raise ValueError(text(f"모델의 어휘 크기가 토크나이저의 {len(self.tokenizer)}와 다릅니다 "
                                  "(recipe.build()로 만드세요)",
                                  f"the model's vocabulary is not the tokenizer's ({len(self.tokenizer)}); "
                                  "make it with recipe.build()"))
        steps = self.steps if max_steps is None else min(max_steps, self.steps)
        optimizer = self._optimizer(model)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.learning_rate(step) / self.lr)
        losses = []
        model.train()
        for step in progress(range(steps), desc=desc):
            loss = self.loss(model, *self.batch(step))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.detach())  # read once, after the loop: no wait for the device at every step
        model.eval()
        return torch.stack(losses).tolist() if losses else []

    # ------------------------------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def generate(self, model: nn.Module, inputs: Sequence[str], batch_size: int = 256) -> list[str]:
        """Greedy answers (:func:`attnbook.encoder_decoder.greedy_generate`) to full inputs, prefix included."""
        from attnbook.encoder_decoder import greedy_generate

        model.eval()
        answers = []
        for start in range(0, len(inputs), batch_size):
            chunk = [self.tokenizer.encode(line) for line in inputs[start:start + batch_size]]
            ids = _pad(chunk, self.tokenizer.pad_id).to(device_of(model))  # (B, S)
            out = greedy_generate(model, ids, ids != self.tokenizer.pad_id, max_new_tokens=self.max_new_tokens)
            answers += [self.tokenizer.decode(row[1:]) for row in out.tolist()]  # the start token (pad) skipped
        return answers

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict:
        """Per prefix, trained ones and the unseen one: exact match on held-out inputs, and the share of the
        answers whose format is each task's (:func:`answer_format`), with a few examples."""
        results = {}
        for task in (*TASKS, UNSEEN):
            examples = self.test_examples(task)
            answers = self.generate(model, [e.input for e in examples])
            formats = Counter(answer_format(a) for a in answers)
            results[task] = {
                "prefix": (PREFIXES | {UNSEEN: UNSEEN_PREFIX})[task],
                "examples": len(examples),
                "exact_match": round(sum(a == e.target for a, e in zip(answers, examples, strict=True))
                                     / len(examples), 4),
                "answered_as": {name: round(formats[name] / len(examples), 4) for name in (*TASKS, UNSEEN, OTHER)},
                "samples": [[e.source, e.target, a] for e, a in list(zip(examples, answers, strict=True))[:5]],
            }
        return results


@functools.lru_cache(maxsize=4)
def _tokenizer(recipe: TextToTextTraining) -> TextToTextTokenizer:
    return make_tokenizer(e for task in TASKS for e in recipe.train_examples(task))

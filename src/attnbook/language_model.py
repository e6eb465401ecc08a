"""Training a tiny GPT on the book's Korean stories, and judging what it writes.

The problem the text poses itself (Radford et al., 2018, eq. 1): at every position of
a sentence, predict the next token. Each story sentence of :mod:`attnbook.data.corpus`
becomes one sequence ``<bos> … <eos>``; the model reads ``<bos>`` and learns to write
a sentence and to end it. The last ``held_out`` documents are never trained on.

The tokenizer is chapter 7's WordPiece (:mod:`attnbook.wordpiece`), learned from the
training documents with the noun–particle boundary kept (:func:`attnbook.data.corpus.word_counts`),
plus ``<bos>`` and ``<eos>``: every noun, verb form and other word is one token and every
particle form its own ``##`` token (학생 ##은, 공원 ##으로). GPT-2 uses byte-level BPE
(chapter 1's BPE on bytes), which on this text glues frequent nouns to their particles
(학생은 one token, :func:`attnbook.wordpiece.compare_with_bpe`); the model would then copy
whole eojeols, and whether the particle agrees with its noun would be a question of which
eojeols exist, not something it learned. With the particle its own token the model has to
choose 은 or 는 after 학생 itself — which is what :meth:`CausalLMTraining.evaluate` measures.
Decoding glues each ``##`` token to the token before it, so ids turn back into eojeols
(:meth:`CausalLMTraining.decode`); a ``##`` token with nothing before it, or a special token
in the middle, stays a word of its own that the grammar does not know.

What :meth:`CausalLMTraining.evaluate` measures, on text the model never saw:

* **perplexity** per token on the held-out sentences, exp of the mean cross-entropy over
  every token the model predicts: each word piece *and* the ``<eos>`` that ends the
  sentence (a model has to say where a sentence stops; ``<bos>`` is given, never predicted).
  Next to it, the same tokens scored by two models that read no context: the *unigram*
  model (each token's frequency among the training targets, ``<eos>`` included) and the
  *uniform* one, whose perplexity is the vocabulary size V;
* **samples**: ``samples`` sentences written from ``<bos>`` with a seeded generator
  (:func:`attnbook.gpt.generate`, stopping at ``<eos>``), each judged by the grammar
  (:func:`judge`): the share that are grammatical (the grammar writes exactly these
  words as one clause), that are new (not a training sentence), that are both, that are
  distinct, and the share of noun + particle eojeols whose particle form agrees with the
  noun's final consonant (은/는, 이/가, 을/를, 와/과, (으)로), counted in every sample.

Shape legend: B batch · T positions · V vocabulary.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.data import corpus
from attnbook.data.corpus import Document, Sentence
from attnbook.data.grammar import KoreanReadError, particle_forms
from attnbook.gpt import GPT, GPTConfig, generate, next_token_loss
from attnbook.language import text
from attnbook.progress import progress
from attnbook.runtime import device_of
from attnbook.wordpiece import PAD_ID, PREFIX, SPECIAL_TOKENS, WordPiece, learn_wordpiece

__all__ = ["BOS", "EOS", "CausalLMTraining", "Judgement", "judge"]

BOS, EOS = "<bos>", "<eos>"


# ---------------------------------------------------------------------------------------------------------- judging

@dataclass(frozen=True)
class Judgement:
    """What the grammar says about a sequence of eojeols a model wrote."""

    words: tuple[str, ...]
    grammatical: bool  # the grammar writes exactly these words as one story sentence (one clause)
    fault: str | None  # why not: a KoreanReadError kind ("particle form", "order", …); None when grammatical
    reason: str | None  # the reader's message, in the current language
    particles: int  # noun + particle eojeols whose particle has two forms (은/는, 이/가, 을/를, 와/과, (으)로)
    agreeing: int  # … whose form is the one the noun's last syllable asks for


def judge(words: Sequence[str] | str) -> Judgement:
    """Judge a sentence (a string, or its eojeols): grammatical or not and why, and its particle forms.

    The particle forms are counted eojeol by eojeol, so an ungrammatical sentence (학생는 책을
    마셨다) still says which of its particles agree (2 particles, 1 agreeing).
    """
    if isinstance(words, str):
        words = words.split()
    words = tuple(words) if isinstance(words, Sequence) else words
    if not isinstance(words, tuple) or not all(isinstance(word, str) for word in words):
        raise TypeError(text(f"문장(문자열)이나 어절의 리스트가 필요합니다: {words!r}",
                             f"expected a sentence (a string) or a list of eojeols, got {words!r}"))
    forms = particle_forms(words)
    try:
        corpus.read_sentence(words)
    except KoreanReadError as error:
        fault, reason = error.kind, str(error)
    else:
        fault, reason = None, None
    return Judgement(words, fault is None, fault, reason, len(forms), sum(form.agrees for form in forms))


# ------------------------------------------------------------------------------------------------------------- data

@functools.lru_cache(maxsize=4)
def _tokenizer(documents: int, held_out: int, seed: int) -> WordPiece:
    train = corpus.shared_documents(documents, seed)[:documents - held_out]
    return learn_wordpiece(corpus.word_counts(train), corpus.VOCAB_SIZE + 2, special_tokens=(*SPECIAL_TOKENS, BOS, EOS))


@functools.lru_cache(maxsize=4)
def _rows(documents: int, held_out: int, seed: int, part: str) -> tuple[Tensor, Tensor]:
    """Every sentence of the training (or test) documents as ``<bos> … <eos>``, right-padded: ids (N, T), lengths."""
    tokenizer = _tokenizer(documents, held_out, seed)
    every = corpus.shared_documents(documents, seed)
    chosen = every[:documents - held_out] if part == "train" else every[documents - held_out:]
    bos, eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    rows = [[bos, *tokenizer.encode(sentence.text), eos] for sentence in corpus.sentences_of(chosen)]
    longest = max(map(len, rows))
    ids = torch.tensor([row + [PAD_ID] * (longest - len(row)) for row in rows])  # (N, T)
    return ids, torch.tensor([len(row) for row in rows])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CausalLMTraining:
    """Data, model size and training budget of the book's GPT; every field has the book's value."""

    documents: int = 6000
    held_out: int = 600            # the last documents: evaluation only
    seed: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_position: int = 32         # the longest sentence is 17 tokens with <bos> and <eos>
    dropout: float = 0.1
    batch_size: int = 64
    steps: int = 500               # 19–29 s on one thread of a busy 2-core CPU; 800 steps: perplexity 4.71, not 4.84
    lr: float = 3e-3
    warmup: int = 100              # steps of linear warm-up, then linear decay to 0
    weight_decay: float = 0.01
    samples: int = 200             # sentences written and judged by evaluate

    def __post_init__(self) -> None:
        for name in ("documents", "held_out", "batch_size", "steps", "warmup", "samples", "max_position"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "warmup" else 1):
                raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.held_out * 2 > self.documents:
            raise ValueError(text(f"held_out({self.held_out})은 documents({self.documents})의 절반 이하여야 합니다",
                                  f"held_out ({self.held_out}) must be at most half of documents ({self.documents})"))
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or not self.lr > 0:
            raise ValueError(text(f"lr은 0보다 커야 합니다: {self.lr!r}", f"lr must be > 0, got {self.lr!r}"))

    # ------------------------------------------------------------------------------------------------ data

    @property
    def train_documents(self) -> tuple[Document, ...]:
        return corpus.shared_documents(self.documents, self.seed)[:self.documents - self.held_out]

    @property
    def test_documents(self) -> tuple[Document, ...]:
        return corpus.shared_documents(self.documents, self.seed)[self.documents - self.held_out:]

    def train_sentences(self) -> list[Sentence]:
        return corpus.sentences_of(self.train_documents)

    def test_sentences(self) -> list[Sentence]:
        return corpus.sentences_of(self.test_documents)

    @property
    def tokenizer(self) -> WordPiece:
        """Chapter 7's WordPiece learned from the training documents (particles their own tokens), with <bos>, <eos>."""
        return _tokenizer(self.documents, self.held_out, self.seed)

    @property
    def bos_id(self) -> int:
        return self.tokenizer.token_to_id(BOS)

    @property
    def eos_id(self) -> int:
        return self.tokenizer.token_to_id(EOS)

    def encode(self, words: Sequence[str] | str) -> list[int]:
        """A sentence as the model reads it: ``<bos>``, its tokens, ``<eos>``."""
        sentence = words if isinstance(words, str) else " ".join(words)
        return [self.bos_id, *self.tokenizer.encode(sentence), self.eos_id]

    def decode(self, ids: Sequence[int] | Tensor) -> tuple[tuple[str, ...], bool]:
        """Generated ids back to eojeols, up to ``<eos>``: (the words, whether ``<eos>`` ended them).

        A leading ``<bos>`` is skipped; ``##`` tokens join the token before them; any other special
        token, or a ``##`` token that starts the sentence, is a word of its own (the grammar rejects it).
        """
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        ids = list(ids)
        if ids and ids[0] == self.bos_id:
            ids = ids[1:]
        words: list[str] = []
        for index in ids:
            if index == self.eos_id:
                return tuple(words), True
            token = self.tokenizer.id_to_token(index)
            if token.startswith(PREFIX) and words and not words[-1].startswith(("[", "<")):
                words[-1] += token.removeprefix(PREFIX)
            else:
                words.append(token)
        return tuple(words), False

    def config(self) -> GPTConfig:
        return GPTConfig(vocab_size=len(self.tokenizer), max_position=self.max_position, hidden_size=self.hidden_size,
                         num_layers=self.num_layers, num_heads=self.num_heads,
                         intermediate_size=self.intermediate_size, dropout=self.dropout, pad_id=PAD_ID,
                         eos_id=self.eos_id)

    def build(self, name: str = "gpt") -> GPT:
        """A fresh model, its initial weights seeded by ``name`` and the seed."""
        torch.manual_seed(self.seed + sum(map(ord, name)))
        return GPT(self.config())

    def _train_rows(self) -> tuple[Tensor, Tensor]:
        return _rows(self.documents, self.held_out, self.seed, "train")

    @property
    def steps_per_epoch(self) -> int:
        return len(self._train_rows()[0]) // self.batch_size

    def epoch_order(self, epoch: int) -> list[int]:
        """The order in which epoch ``epoch`` reads the training sentences (indices), drawn from the seed."""
        return self._order(epoch).tolist()

    @functools.lru_cache(maxsize=8)  # noqa: B019 (the recipe is frozen and hashable; few of them exist)
    def _order(self, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        return torch.randperm(len(self._train_rows()[0]), generator=generator)

    def batch(self, step: int) -> tuple[Tensor, Tensor]:
        """Training step ``step``'s sentences: ids (B, T) and attention mask (B, T), padded on the right.

        Every epoch visits the training sentences in a new order drawn from the seed; a batch is
        trimmed to its longest row.
        """
        epoch, index = divmod(step, self.steps_per_epoch)
        return self.rows_batch(self._order(epoch)[index * self.batch_size:(index + 1) * self.batch_size].tolist())

    def rows_batch(self, rows: list[int]) -> tuple[Tensor, Tensor]:
        """Those training sentences (indices) as ids (B, T) and attention mask (B, T), trimmed to the longest."""
        ids, lengths = self._train_rows()
        chosen = torch.tensor(rows)
        ids = ids[chosen, :int(lengths[chosen].max())]
        return ids, ids != PAD_ID

    def learning_rate(self, step: int) -> float:
        """Linear warm-up over ``warmup`` steps to ``lr``, then linear decay to 0 at ``steps``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * max(0.0, (self.steps - step) / max(1, self.steps - self.warmup))

    # -------------------------------------------------------------------------------------------- training

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "norm" not in n.lower()]
        rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "norm" not in n.lower())]
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                  {"params": rest, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.95))

    def train(self, model: GPT, *, max_steps: int | None = None, desc: str | None = None) -> list[float]:
        """Train ``model`` for ``steps`` steps (or the first ``max_steps`` of them); returns every step's loss.

        Each batch is made on the CPU and moved to the model's device; the losses are read once, at the end.
        """
        if not isinstance(model, GPT):
            raise TypeError(text(f"GPT 모델이 필요합니다: {type(model).__name__}",
                                 f"expected a GPT, got {type(model).__name__}"))
        if model.config.vocab_size != len(self.tokenizer):
            raise ValueError(text(f"모델의 어휘 크기 {model.config.vocab_size}이(가) 토크나이저의 "
                                  f"{len(self.tokenizer)}와 다릅니다 (recipe.build()로 만드세요)",
                                  f"the model's vocabulary ({model.config.vocab_size}) is not the tokenizer's "
                                  f"({len(self.tokenizer)}); make it with recipe.build()"))
        steps = self.steps if max_steps is None else min(max_steps, self.steps)
        optimizer = self._optimizer(model)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.learning_rate(step) / self.lr)
        device, losses = device_of(model), []
        model.train()
        for step in progress(range(steps), desc=desc):
            ids, mask = (tensor.to(device) for tensor in self.batch(step))
            loss = next_token_loss(model(ids, mask).logits, ids, mask)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.detach())  # read once, after the loop: no wait for the device at every step
        model.eval()
        return torch.stack(losses).tolist() if losses else []

    # ------------------------------------------------------------------------------------------ evaluation

    def target_counts(self) -> Counter[int]:
        """How often each token is a prediction target in the training sentences (tokens and <eos>, not <bos>)."""
        ids, lengths = self._train_rows()
        counts: Counter[int] = Counter()
        for row, length in zip(ids.tolist(), lengths.tolist(), strict=True):
            counts.update(row[1:length])
        return counts

    @torch.no_grad()
    def perplexity(self, model: GPT, batch_size: int = 512) -> dict:
        """Held-out perplexity per predicted token (word pieces and <eos>), with the unigram and uniform baselines."""
        model.eval()
        device = device_of(model)
        ids, lengths = _rows(self.documents, self.held_out, self.seed, "test")
        counts = self.target_counts()
        total = sum(counts.values())
        nats = unigram_nats = 0.0
        tokens = unseen = 0
        for start in range(0, len(ids), batch_size):
            chunk, chunk_lengths = ids[start:start + batch_size], lengths[start:start + batch_size]
            chunk = chunk[:, :int(chunk_lengths.max())]
            mask = chunk != PAD_ID
            logits = model(chunk.to(device), mask.to(device)).logits.cpu()  # (B, T, V)
            targets = chunk[:, 1:].masked_fill(~mask[:, 1:], -100)  # token t + 1 predicted at t
            nats += float(F.cross_entropy(logits[:, :-1].flatten(0, 1), targets.flatten(), ignore_index=-100,
                                          reduction="sum"))
            for target in chunk[:, 1:][mask[:, 1:]].tolist():
                tokens += 1
                if counts[target]:
                    unigram_nats -= math.log(counts[target] / total)
                else:
                    unseen += 1
        unigram = math.inf if unseen else math.exp(unigram_nats / tokens)
        return {"sentences": len(ids), "tokens": tokens, "model": round(math.exp(nats / tokens), 4),
                "unigram": round(unigram, 4), "uniform": len(self.tokenizer),
                "model_nats": round(nats / tokens, 4), "unseen_by_unigram": unseen}

    @torch.no_grad()
    def sample(self, model: GPT, n: int | None = None, *, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, seed: int = 0) -> list[tuple[tuple[str, ...], bool]]:
        """``n`` sentences (default ``samples``) written from ``<bos>``: (eojeols, whether ``<eos>`` ended them).

        Drawn by :func:`attnbook.gpt.generate` with a generator seeded by ``seed``, all in one batch;
        ``temperature=0`` is greedy decoding.
        """
        n = self.samples if n is None else n
        if not _is_int(n) or n < 1:
            raise ValueError(text(f"n은 1 이상의 정수여야 합니다: {n!r}", f"n must be an integer ≥ 1, got {n!r}"))
        model.eval()
        prompt = torch.full((n, 1), self.bos_id, device=device_of(model))
        generator = torch.Generator().manual_seed(seed)  # draws on the CPU: the same samples on every device
        out = generate(model, prompt, model.config.max_position - 1, temperature=temperature, top_k=top_k,
                       top_p=top_p, generator=generator)
        return [self.decode(row) for row in out.tolist()]

    def judge_samples(self, model: GPT, n: int | None = None, *, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None, seed: int = 0) -> dict:
        """Write ``n`` sentences and judge them: grammatical, new, both, distinct, particles agreeing, faults."""
        samples = self.sample(model, n, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        seen = {sentence.words for sentence in self.train_sentences()}
        judged = [judge(words) for words, _ in samples]
        ended = [finished for _, finished in samples]
        grammatical = [j.grammatical and finished for j, finished in zip(judged, ended, strict=True)]
        new = [words not in seen for words, _ in samples]
        particles = sum(j.particles for j in judged)
        faults = Counter("unfinished" if not finished else j.fault for j, finished in zip(judged, ended, strict=True)
                         if not (j.grammatical and finished))
        count = len(samples)
        return {"samples": count, "ended": round(sum(ended) / count, 4),
                "grammatical": round(sum(grammatical) / count, 4), "new": round(sum(new) / count, 4),
                "grammatical_and_new": round(sum(g and w for g, w in zip(grammatical, new, strict=True)) / count, 4),
                "distinct": round(len({words for words, _ in samples}) / count, 4),
                "particles": particles,
                "particle_agreement": round(sum(j.agreeing for j in judged) / particles, 4) if particles else None,
                "faults": dict(sorted(faults.items())),
                "examples": [" ".join(words) for words, _ in samples[:5]]}

    @torch.no_grad()
    def evaluate(self, model: GPT, *, seed: int = 0) -> dict:
        """Everything the chapter asserts about a trained model: held-out perplexity and judged samples."""
        return {"perplexity": self.perplexity(model), "samples": self.judge_samples(model, seed=seed)}

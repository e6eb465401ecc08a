"""Pretraining a tiny BART on the book's Korean stories, and measuring what it restores.

BART (Lewis et al., 2020) is an encoder–decoder trained to undo noise: the encoder reads a
corrupted document, the decoder writes the original one, token by token, with the
cross-entropy of every original token as the loss (§2.2). Which noise matters; the paper
compares five (§2.2, Figure 2) and its best setting, the one BART-large was trained with,
combines two (§5.1, §5.2):

* **sentence permutation**: the document's sentences in a random order;
* **text infilling**: spans whose lengths are drawn from Poisson(λ = 3) are chosen until
  30 % of the tokens are covered, and each span becomes *one* ``<mask>`` (a span of length 0
  inserts a ``<mask>``), so the model must also say how many tokens a mask hid.

The recipe here (:class:`BartPretraining`) is that setting, scaled down to minutes on one CPU
thread. The documents are :mod:`attnbook.data.corpus`'s stories (2–5 sentences about one
person, chapters 7 and 8's text), the last ``held_out`` never trained on; the tokens are
chapter 7's WordPiece, whose special tokens play BART's:

=============  ============  ==========================================
BART (fairseq)  here          role
=============  ============  ==========================================
``<s>``         ``[CLS]``     starts every document (id 2)
``</s>``        ``[SEP]``     ends it; the decoder's start token (id 3)
``<pad>``       ``[PAD]``     padding (id 0)
``<mask>``      ``[MASK]``    what text infilling writes (id 4)
=============  ============  ==========================================

A document is ``<s> sentence₁ sentence₂ … </s>``, the target the original document; the
decoder reads the target shifted right (``</s> <s> sentence₁ …``), as BART's does. The noise
is drawn anew at every step (from a seed made of the recipe's seed and the step, so every
batch can be rebuilt on its own): first the sentences are permuted, then text infilling
runs over the permuted tokens, as fairseq's ``DenoisingDataset`` orders them; ``<s>`` and
``</s>`` are never noised. Where this differs from the paper: fairseq splits sentences at
full stops (our sentences have none; the grammar knows where each ends) and draws spans over
whole words (here over WordPiece tokens, so a span can stop between 학생 and ##은); BART-large
also replaced 10 % of the masks by random tokens (fairseq's ``--mask-random 0.1``), which we
leave out; and the model is 64 wide, 2 + 2 layers, on 5,400 stories, not 1024 wide, 12 + 12
layers, on 160 GB of text. AdamW with weight decay 0.01, linear warm-up then linear decay,
gradients clipped to norm 1, as chapter 7's BERT, but a higher peak rate (3e-3) and no dropout:
copying the uncorrupted tokens through the cross-attention is learned slowly at this size, and
both helped it (measured over 400 steps: loss 1.07 without dropout, 1.30 with 0.1). The full
budget is shipped (``python -m tools.train_checkpoints bart``, :func:`pretrained_bart`); :data:`LIVE`
is the same recipe with a budget of seconds, for a chapter to train while the reader waits.

:meth:`BartPretraining.evaluate` restores held-out documents by greedy decoding
(:func:`attnbook.encoder_decoder.greedy_generate`) under *each* of BART's five noises alone
and under the trained combination, and compares with copying the corrupted input:

* **exact match**: the whole document restored, token for token;
* **token accuracy**: 1 − (edit distance between the output and the original) / (length of the
  original), at least 0: the Levenshtein alignment counts a token written in the wrong place
  or missing once, whatever the output's length (the output need not be as long as the input);
* **first sentence**: how often the output starts with the original's first sentence (the one that
  introduces the protagonist with 이/가, the story's clearest cue of order);
* **distinct outputs**: the number of different restorations over the number of documents (a model
  that has not yet learned to read its input writes the same typical story for all);
* **hidden tokens restored**: the share of the tokens the noise hid (masked, inside an infilled
  span, deleted) that a minimum-edit alignment of the output with the original matches. It is
  not defined for permutation and rotation, which hide nothing.

Lewis et al. train one model per noise (§5.1); here one model, trained on the combination only, is
tested under every noise, so token deletion, document rotation, and permutation or masking *without*
the other noise are inputs it never saw. The shipped record (``benchmarks/bart_pretraining.md``)
shows both sides: deleted tokens come back about as often as masked ones, and a rotated or permuted
story starts with its opening sentence again, yet given a story with no mask in it the model does
worse than copying the input (in the restorations we read, it adds sentences the story never had).

Shape legend: B batch · S input positions · T target positions · V vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook import corruption
from attnbook.bart import Bart, BartConfig
from attnbook.corruption import IGNORE_INDEX
from attnbook.data import corpus
from attnbook.data.corpus import Document
from attnbook.encoder_decoder import greedy_generate
from attnbook.experiment import pretrained
from attnbook.language import text
from attnbook.progress import progress
from attnbook.runtime import device_of
from attnbook.wordpiece import CLS_ID, MASK_ID, PAD_ID, SEP_ID, WordPiece

__all__ = ["LIVE", "NOISES", "BartPretraining", "DenoisingBatch", "Restoration", "alignment_matches", "edit_distance",
           "pretrained_bart"]

BOS_ID, EOS_ID = CLS_ID, SEP_ID  # BART's <s> and </s> are chapter 7's [CLS] and [SEP]

#: The noises :meth:`BartPretraining.evaluate` measures, each alone, and the trained combination.
NOISES = ("token_masking", "token_deletion", "text_infilling", "sentence_permutation", "document_rotation",
          "permutation_and_infilling")


def pretrained_bart(name: str = "bart") -> Bart:
    """The BART pretrained with the full budget by ``python -m tools.train_checkpoints bart`` (eval mode, CPU)."""
    return pretrained(name, Bart, BartConfig)


@dataclass(frozen=True)
class DenoisingBatch:
    """One training batch: the corrupted documents and the originals to write.

    ``input_ids`` (B, S) and ``attention_mask`` (B, S) are what the encoder reads;
    ``decoder_input_ids`` (B, T) is the original shifted right (``</s> <s> …``), what the
    decoder reads; ``labels`` (B, T) the original (``<s> … </s>``), ``IGNORE_INDEX`` at padding.
    """

    input_ids: Tensor
    attention_mask: Tensor
    decoder_input_ids: Tensor
    labels: Tensor

    def to(self, device: torch.device | str) -> DenoisingBatch:
        """The same batch on ``device``."""
        return DenoisingBatch(*(tensor.to(device) for tensor in (self.input_ids, self.attention_mask,
                                                                 self.decoder_input_ids, self.labels)))


@dataclass(frozen=True)
class Restoration:
    """One held-out document under one noise: the original, what the model read, what it wrote."""

    original: list[int]   # the document's tokens, without <s> and </s>
    corrupted: list[int]  # the same after the noise
    hidden: list[int]     # positions of ``original`` the noise hid (empty for permutation and rotation)
    restored: list[int]   # the model's output, without <s> and </s>


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def alignment_matches(output: Sequence[int], original: Sequence[int]) -> set[int]:
    """Positions of ``original`` that a minimum-edit alignment pairs with an equal token of ``output``.

    Among alignments with the fewest edits, the backtrace prefers a match, then a
    substitution, then a deletion: one fixed choice, so the count is reproducible.
    """
    n, m = len(output), len(original)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        table[i][0] = i
    for j in range(m + 1):
        table[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1,
                              table[i - 1][j - 1] + (output[i - 1] != original[j - 1]))
    matched, i, j = set(), n, m
    while i and j:
        same = output[i - 1] == original[j - 1]
        if table[i][j] == table[i - 1][j - 1] + (not same):
            if same:
                matched.add(j - 1)
            i, j = i - 1, j - 1
        elif table[i][j] == table[i][j - 1] + 1:
            j -= 1
        else:
            i -= 1
    return matched


def _token_accuracy(output: Sequence[int], original: Sequence[int]) -> float:
    return max(0.0, 1.0 - edit_distance(output, original) / len(original))


# ----------------------------------------------------------------------------------------------- the noises
# Each returns (the corrupted tokens, the positions of the original that were hidden).


def _spans_hidden(spans: Sequence[tuple[int, int]]) -> list[int]:
    return sorted(p for start, length in spans for p in range(start, start + length))


def _noise(kind: str, sentences: Sequence[Sequence[int]], generator: torch.Generator, *, rate: float,
           poisson_lambda: float) -> tuple[list[int], list[int]]:
    tokens = [t for sentence in sentences for t in sentence]
    if kind == "token_masking":
        result = corruption.token_masking(tokens, mask=MASK_ID, rate=rate, generator=generator)
        return list(result.inputs), list(result.positions)
    if kind == "token_deletion":
        result = corruption.token_deletion(tokens, rate=rate, generator=generator)
        return list(result.inputs), list(result.positions)
    if kind == "text_infilling":
        result = corruption.text_infilling(tokens, mask=MASK_ID, rate=rate, poisson_lambda=poisson_lambda,
                                           generator=generator)
        return list(result.inputs), _spans_hidden(result.spans)
    if kind == "sentence_permutation":
        result = corruption.sentence_permutation([list(s) for s in sentences], generator=generator)
        return result.tokens, []
    if kind == "document_rotation":
        result = corruption.document_rotation(tokens, generator=generator)
        return list(result.inputs), []
    if kind == "permutation_and_infilling":  # BART's best: permute first, then infill (fairseq's order)
        permuted = corruption.sentence_permutation([list(s) for s in sentences], generator=generator)
        flat = permuted.tokens
        starts, at = [], 0  # where each original sentence landed, to map hidden positions back
        for sentence in sentences:
            starts.append(at)
            at += len(sentence)
        landed = [0] * len(sentences)
        at = 0
        for k in permuted.order:
            landed[k] = at
            at += len(sentences[k])
        back = {}
        for k, sentence in enumerate(sentences):
            for offset in range(len(sentence)):
                back[landed[k] + offset] = starts[k] + offset
        result = corruption.text_infilling(flat, mask=MASK_ID, rate=rate, poisson_lambda=poisson_lambda,
                                           generator=generator)
        return list(result.inputs), sorted(back[p] for p in _spans_hidden(result.spans))
    raise ValueError(text(f"모르는 잡음입니다: {kind!r} (가능한 것: {', '.join(NOISES)})",
                          f"unknown noise {kind!r} (one of {', '.join(NOISES)})"))


# ------------------------------------------------------------------------------------------------- the recipe


@functools.lru_cache(maxsize=4)
def _tokenizer(documents: int, held_out: int, seed: int) -> WordPiece:
    return corpus.train_wordpiece(corpus.shared_documents(documents, seed)[:documents - held_out])


@functools.lru_cache(maxsize=4)
def _encoded(documents: int, held_out: int, seed: int) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Every document as its sentences' token ids (no specials), training documents first."""
    tokenizer = _tokenizer(documents, held_out, seed)
    return tuple(tuple(tuple(tokenizer.encode(s.text)) for s in d.sentences)
                 for d in corpus.shared_documents(documents, seed))


@functools.lru_cache(maxsize=4)
def _categories(documents: int, held_out: int, seed: int) -> tuple[tuple[str, ...], ...]:
    """Each held-out document's tokens as chapter 7's categories ("particle", "function", "content"), in order."""
    tokenizer = _tokenizer(documents, held_out, seed)
    return tuple(tuple(piece.category for s in d.sentences for piece in corpus.pieces(s, tokenizer))
                 for d in corpus.shared_documents(documents, seed)[documents - held_out:])


CATEGORIES = ("particle", "function", "content")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pad(rows: Sequence[Sequence[int]], value: int) -> Tensor:
    longest = max(len(row) for row in rows)
    return torch.tensor([list(row) + [value] * (longest - len(row)) for row in rows])


@dataclass(frozen=True)
class BartPretraining:
    """Data, model size, noise and training budget of the book's BART; every field has the book's value."""

    documents: int = 6000
    held_out: int = 600            # the last documents: evaluation only
    seed: int = 0
    d_model: int = 64
    layers: int = 2                # encoder layers, and as many decoder layers
    heads: int = 4
    ffn_dim: int = 256
    max_position: int = 64         # the longest document is 58 tokens, 60 with <s> and </s>
    dropout: float = 0.0           # measured over 400 steps: loss 1.07 without dropout, 1.30 with 0.1
    batch_size: int = 64
    steps: int = 8000
    lr: float = 3e-3
    warmup: int = 400              # steps of linear warm-up, then linear decay to 0
    weight_decay: float = 0.01
    mask_rate: float = 0.3         # share of the tokens text infilling hides (BART: 30 %)
    poisson_lambda: float = 3.0    # mean span length (BART: λ = 3)
    permute_sentences: bool = True
    eval_documents: int = 600      # held-out documents evaluate restores under each noise

    def __post_init__(self) -> None:
        for name in ("documents", "held_out", "batch_size", "steps", "warmup", "d_model", "layers", "heads",
                     "ffn_dim", "max_position", "eval_documents"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "warmup" else 1):
                raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.held_out * 2 > self.documents:
            raise ValueError(text(f"held_out({self.held_out})은 documents({self.documents})의 절반 이하여야 합니다",
                                  f"held_out ({self.held_out}) must be at most half of documents ({self.documents})"))
        if self.eval_documents > self.held_out:
            raise ValueError(text(f"eval_documents({self.eval_documents})는 held_out({self.held_out}) 이하여야 합니다",
                                  f"eval_documents ({self.eval_documents}) must be at most held_out "
                                  f"({self.held_out})"))
        for name, low, high in (("mask_rate", 0.0, 1.0), ("dropout", 0.0, 1.0), ("lr", 0.0, 1.0)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value < high \
                    or (name == "lr" and value == 0):
                raise ValueError(text(f"{name}은(는) [{low}, {high}) 범위의 수여야 합니다: {value!r}",
                                      f"{name} must be a number in [{low}, {high}), got {value!r}"))
        if not isinstance(self.poisson_lambda, int | float) or not self.poisson_lambda > 0:
            raise ValueError(text(f"poisson_lambda는 0보다 커야 합니다: {self.poisson_lambda!r}",
                                  f"poisson_lambda must be > 0, got {self.poisson_lambda!r}"))
        if self.d_model % self.heads:
            raise ValueError(text(f"d_model({self.d_model})은 heads({self.heads})로 나누어떨어져야 합니다",
                                  f"d_model ({self.d_model}) must be divisible by heads ({self.heads})"))

    # ------------------------------------------------------------------------------------------------ data

    @property
    def train_documents(self) -> tuple[Document, ...]:
        return corpus.shared_documents(self.documents, self.seed)[:self.documents - self.held_out]

    @property
    def test_documents(self) -> tuple[Document, ...]:
        return corpus.shared_documents(self.documents, self.seed)[self.documents - self.held_out:]

    @property
    def tokenizer(self) -> WordPiece:
        """Chapter 7's WordPiece vocabulary, learned from the training documents only."""
        return _tokenizer(self.documents, self.held_out, self.seed)

    def encoded(self, part: str = "train") -> tuple[tuple[tuple[int, ...], ...], ...]:
        """The ``"train"`` or ``"test"`` documents, each as its sentences' token ids (no <s>, </s>)."""
        every = _encoded(self.documents, self.held_out, self.seed)
        cut = self.documents - self.held_out
        return every[:cut] if part == "train" else every[cut:]

    def config(self) -> BartConfig:
        return BartConfig(vocab_size=len(self.tokenizer), d_model=self.d_model, encoder_layers=self.layers,
                          decoder_layers=self.layers, encoder_attention_heads=self.heads,
                          decoder_attention_heads=self.heads, encoder_ffn_dim=self.ffn_dim,
                          decoder_ffn_dim=self.ffn_dim, max_position_embeddings=self.max_position,
                          dropout=self.dropout, pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
                          decoder_start_token_id=EOS_ID)

    def build(self, name: str = "bart") -> Bart:
        """A fresh model, its initial weights seeded by ``name`` and the seed."""
        torch.manual_seed(self.seed + sum(map(ord, name)))
        return Bart(self.config())

    @property
    def steps_per_epoch(self) -> int:
        return len(self.encoded("train")) // self.batch_size

    @functools.lru_cache(maxsize=8)  # noqa: B019 (the recipe is frozen and hashable; few of them exist)
    def _order(self, epoch: int) -> tuple[int, ...]:
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        return tuple(torch.randperm(len(self.encoded("train")), generator=generator).tolist())

    def documents_of(self, step: int) -> list[int]:
        """Indices of the training documents of step ``step``: every epoch in a new order drawn from the seed."""
        epoch, index = divmod(step, self.steps_per_epoch)
        return list(self._order(epoch)[index * self.batch_size:(index + 1) * self.batch_size])

    def corrupt(self, sentences: Sequence[Sequence[int]], generator: torch.Generator) -> list[int]:
        """The training noise on one document: its sentences permuted (if ``permute_sentences``), then infilled."""
        kind = "permutation_and_infilling" if self.permute_sentences else "text_infilling"
        return _noise(kind, sentences, generator, rate=self.mask_rate, poisson_lambda=self.poisson_lambda)[0]

    def batch(self, step: int) -> DenoisingBatch:
        """Training step ``step``'s batch, its noise drawn from a generator seeded by (seed, step)."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        train = self.encoded("train")
        sources, targets = [], []
        for index in self.documents_of(step):
            sentences = train[index]
            sources.append([BOS_ID, *self.corrupt(sentences, generator), EOS_ID])
            targets.append([BOS_ID, *(t for s in sentences for t in s), EOS_ID])
        input_ids = _pad(sources, PAD_ID)                                      # (B, S)
        labels = _pad(targets, IGNORE_INDEX)                                   # (B, T)
        decoder_input_ids = torch.cat([torch.full((len(targets), 1), EOS_ID), labels[:, :-1]], dim=1)
        decoder_input_ids = decoder_input_ids.masked_fill(labels == IGNORE_INDEX, PAD_ID)  # (B, T): padding after </s>
        return DenoisingBatch(input_ids, input_ids != PAD_ID, decoder_input_ids, labels)

    def learning_rate(self, step: int) -> float:
        """Linear warm-up over ``warmup`` steps to ``lr``, then linear decay to 0 at ``steps``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * max(0.0, (self.steps - step) / max(1, self.steps - self.warmup))

    def fingerprint(self, noise_steps: int = 100) -> dict[str, str]:
        """SHA-256 of the vocabulary, of every step's documents, of the first ``noise_steps`` batches (noise
        included: the noise code is the same at every step) and of every learning rate."""
        order, data, rates = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
        for step in range(self.steps):
            order.update(str(self.documents_of(step)).encode())
            rates.update(f"{self.learning_rate(step):.9g}\0".encode())
        for step in range(min(noise_steps, self.steps)):
            batch = self.batch(step)
            for tensor in (batch.input_ids, batch.decoder_input_ids, batch.labels):
                data.update(tensor.numpy().tobytes())
        vocab = hashlib.sha256("\0".join(self.tokenizer.vocab).encode()).hexdigest()
        return {"vocab_sha256": vocab, "order_sha256": order.hexdigest(), "data_sha256": data.hexdigest(),
                "learning_rates_sha256": rates.hexdigest()}

    # -------------------------------------------------------------------------------------------- training

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "norm" not in n.lower()]
        rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "norm" not in n.lower())]
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                  {"params": rest, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.999), eps=1e-6)

    def loss(self, model: Bart, batch: DenoisingBatch) -> Tensor:
        """Mean cross-entropy of the original tokens (padding ignored), on the model's device."""
        batch = batch.to(device_of(model))
        logits = model(batch.input_ids, attention_mask=batch.attention_mask,
                       decoder_input_ids=batch.decoder_input_ids, need_weights=False).logits  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE_INDEX)

    def train(self, model: Bart, *, max_steps: int | None = None, desc: str | None = None) -> list[float]:
        """Pretrain ``model`` for ``steps`` steps (or the first ``max_steps`` of them); returns every step's loss.

        Each batch is made on the CPU and moved to the model's device; the losses are read once, at the end.
        """
        steps = self.steps if max_steps is None else min(max_steps, self.steps)
        optimizer = self._optimizer(model)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.learning_rate(step) / self.lr)
        losses = []
        model.train()
        for step in progress(range(steps), desc=desc):
            loss = self.loss(model, self.batch(step))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.detach())  # read once, after the loop: no wait for the device at every step
        model.eval()
        return torch.stack(losses).tolist() if losses else []

    # ------------------------------------------------------------------------------------------ evaluation

    def corrupted_test(self, kind: str, n: int | None = None) -> list[tuple[list[int], list[int], list[int]]]:
        """The first ``n`` held-out documents (default ``eval_documents``) under noise ``kind``, from a fixed seed:
        (original, corrupted, hidden positions of the original), without <s> and </s>."""
        n = self.eval_documents if n is None else n
        generator = torch.Generator().manual_seed(self.seed + 10_000 + (NOISES.index(kind) if kind in NOISES else 0))
        rows = []
        for sentences in self.encoded("test")[:n]:
            corrupted, hidden = _noise(kind, sentences, generator, rate=self.mask_rate,
                                       poisson_lambda=self.poisson_lambda)
            rows.append(([t for s in sentences for t in s], corrupted, hidden))
        return rows

    @torch.no_grad()
    def restore(self, model: Bart, corrupted: Sequence[Sequence[int]], batch_size: int = 200) -> list[list[int]]:
        """Greedy restorations of corrupted documents (token lists without <s>, </s>), without <s> and </s>."""
        model.eval()
        out = []
        for start in range(0, len(corrupted), batch_size):
            chunk = [[BOS_ID, *row, EOS_ID] for row in corrupted[start:start + batch_size]]
            input_ids = _pad(chunk, PAD_ID).to(device_of(model))  # (B, S)
            written = greedy_generate(model, input_ids, input_ids != PAD_ID, max_new_tokens=self.max_position - 1)
            for row in written[:, 1:].tolist():  # drop the decoder's start token
                if row and row[0] == BOS_ID:
                    row = row[1:]
                out.append(row[:row.index(EOS_ID)] if EOS_ID in row else [t for t in row if t != PAD_ID])
        return out

    @torch.no_grad()
    def restorations(self, model: Bart, kind: str, n: int | None = None) -> list[Restoration]:
        """Each of the first ``n`` held-out documents under noise ``kind``, and the model's restoration."""
        rows = self.corrupted_test(kind, n)
        restored = self.restore(model, [corrupted for _, corrupted, _ in rows])
        return [Restoration(o, c, h, r) for (o, c, h), r in zip(rows, restored, strict=True)]

    @staticmethod
    def score(pairs: Sequence[tuple[Sequence[int], Sequence[int], Sequence[int]]],
              first_lengths: Sequence[int] | None = None) -> dict:
        """Exact match, token accuracy and hidden tokens restored of (output, original, hidden) triples; with
        ``first_lengths`` (each original's first sentence, in tokens) also how often the output starts with it."""
        exact = sum(list(out) == list(orig) for out, orig, _ in pairs)
        accuracy = sum(_token_accuracy(out, orig) for out, orig, _ in pairs)
        hidden = sum(len(h) for _, _, h in pairs)
        restored = sum(len(alignment_matches(out, orig) & set(h)) for out, orig, h in pairs)
        scores = {"exact_match": round(exact / len(pairs), 4), "token_accuracy": round(accuracy / len(pairs), 4),
                  "hidden_restored": round(restored / hidden, 4) if hidden else None}
        if first_lengths is not None:
            first = sum(list(out[:k]) == list(orig[:k]) for (out, orig, _), k in zip(pairs, first_lengths, strict=True))
            scores["first_sentence"] = round(first / len(pairs), 4)
        return scores

    def _restored_by_category(self, rows: Sequence[Restoration]) -> dict:
        """Hidden tokens restored, per category of the hidden token: the grammar (particles, 것이다 …) can be
        inferred from the rest of the story; a content word hidden with its whole span often cannot."""
        categories = _categories(self.documents, self.held_out, self.seed)
        hidden = dict.fromkeys(CATEGORIES, 0)
        restored = dict.fromkeys(CATEGORIES, 0)
        for row, kinds in zip(rows, categories, strict=False):
            matched = alignment_matches(row.restored, row.original)
            for position in row.hidden:
                hidden[kinds[position]] += 1
                restored[kinds[position]] += position in matched
        return {c: {"hidden": hidden[c], "restored": round(restored[c] / hidden[c], 4) if hidden[c] else None}
                for c in CATEGORIES}

    @torch.no_grad()
    def evaluate(self, model: Bart, n: int | None = None, noises: Sequence[str] = NOISES) -> dict:
        """Restoration of held-out documents under each noise, next to copying the corrupted input."""
        results = {}
        for kind in noises:
            rows = self.restorations(model, kind, n)
            firsts = [len(document[0]) for document in self.encoded("test")[:len(rows)]]
            model_scores = self.score([(r.restored, r.original, r.hidden) for r in rows], firsts)
            copy_scores = self.score([(r.corrupted, r.original, r.hidden) for r in rows], firsts)
            results[kind] = {"documents": len(rows), "hidden_tokens": sum(len(r.hidden) for r in rows),
                             "distinct_outputs": round(len({tuple(r.restored) for r in rows}) / len(rows), 4),
                             "unchanged": round(sum(r.corrupted == r.original for r in rows) / len(rows), 4),
                             **model_scores, **{f"copy_{k}": v for k, v in copy_scores.items()}}
            if model_scores["hidden_restored"] is not None:
                results[kind]["hidden_restored_by_category"] = self._restored_by_category(rows)
        return results


#: The chapter's live run: the book's recipe with a budget of seconds (measured in the shipped record).
LIVE = BartPretraining(batch_size=32, steps=150, warmup=15, eval_documents=200)

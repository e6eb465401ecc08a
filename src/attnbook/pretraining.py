"""Pretraining a tiny BERT on the book's Korean stories, and measuring what it learned.

The recipe is BERT's (Devlin et al., 2019, §3.1 and Appendix A), scaled down to
a CPU minute: the two problems the text poses itself, solved at once —

* **masked LM**: 15 % of the non-special tokens are chosen, 80 % of those become
  ``[MASK]``, 10 % a random token, 10 % stay (:func:`attnbook.corruption.bert_masking`),
  and the model predicts the original token at every chosen position;
* **next-sentence prediction**: each input is ``[CLS] A [SEP] B [SEP]`` where B
  follows A in half the pairs (:func:`attnbook.data.corpus.nsp_pairs`), and the
  classifier on the pooled ``[CLS]`` says which half.

The loss is the sum of the two cross-entropies; AdamW with weight decay 0.01
(not on biases and LayerNorm weights), linear warm-up then linear decay, as BERT.
Every epoch draws new NSP pairs (new random B sentences) and every step new
masks (dynamic masking, Liu et al., 2019), each from a seed.

The text is :mod:`attnbook.data.corpus`'s stories, tokenized by the book's
WordPiece (:mod:`attnbook.wordpiece`), so every token can be told apart: a
particle (학생 ##은), a bound word (것이다) or a content word. The last
``held_out`` documents are never trained on; :meth:`BertPretraining.evaluate`
measures on them:

* masked-token accuracy and loss against two baselines that read no context:
  always the most frequent token, and the unigram distribution's cross-entropy,
  by kind of token;
* particle agreement: with one particle masked (학생[MASK]), does the model prefer
  the form the noun's last syllable asks for (은 after a final consonant, 는
  after a vowel) over the other form?
* next-sentence accuracy against chance (0.5) and against the cues the stories
  were written with (:func:`attnbook.data.corpus.rule_based_nsp`);
* attention: which head looks from a particle to its noun;
* copying: at a position whose token was swapped for a random one and *not*
  masked, does the model restore the original or copy what it reads? The 10 %
  random and 10 % kept tokens exist for this (a model that only ever sees
  ``[MASK]`` at the positions it is asked about has no reason to check the others).

Shape legend: B batch · T positions · V vocabulary · L layers · H heads.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.bert import BertConfig, BertForPreTraining
from attnbook.corruption import BERT_SPLIT, IGNORE_INDEX, bert_masking
from attnbook.data import corpus
from attnbook.data.corpus import Document, NSPPair, Piece, Sentence
from attnbook.data.hangul import PARTICLES, attach
from attnbook.experiment import pretrained
from attnbook.language import text
from attnbook.progress import progress
from attnbook.runtime import device_of
from attnbook.wordpiece import CLS_ID, MASK_ID, PAD_ID, SEP_ID, BertInputs, WordPiece

__all__ = ["BertPretraining", "StepLosses", "pad_rows", "pretrained_bert"]


def pretrained_bert(name: str = "bert") -> BertForPreTraining:
    """A BERT pretrained with the full budget by ``python -m tools.train_checkpoints`` (eval mode, CPU):
    ``"bert"`` (BERT's 80/10/10 masking) or ``"bert_mask_only"`` (every chosen token [MASK])."""
    return pretrained(name, BertForPreTraining, BertConfig)


@dataclass(frozen=True)
class StepLosses:
    """The loss of every training step: the sum, and its two parts."""

    total: list[float] = field(default_factory=list)
    mlm: list[float] = field(default_factory=list)
    nsp: list[float] = field(default_factory=list)


def pad_rows(rows: Sequence[tuple[list[int], list[int]]]) -> BertInputs:
    """(ids, token types) rows, each ``[CLS] A [SEP] B [SEP]``, padded to the longest into a :class:`BertInputs`."""
    longest = max(len(ids) for ids, _ in rows)
    input_ids = torch.tensor([ids + [PAD_ID] * (longest - len(ids)) for ids, _ in rows])  # (B, T)
    token_types = torch.tensor([types + [0] * (longest - len(types)) for _, types in rows])  # (B, T)
    return BertInputs(input_ids, token_types, input_ids != PAD_ID, input_ids <= MASK_ID)


@functools.lru_cache(maxsize=32)
def _epoch_tensors(documents: int, held_out: int, seed: int, epoch: int) -> tuple[Tensor, Tensor, Tensor]:
    """One epoch of NSP pairs from the training documents, encoded: ids and token types (N, T), labels (N,)."""
    train_documents = corpus.shared_documents(documents, seed)[:documents - held_out]
    pairs = corpus.nsp_pairs(train_documents, seed=seed * 1000 + epoch)
    encoded = _encoded_sentences(documents, held_out, seed)
    rows = []
    for pair in pairs:
        a, b = encoded[pair.a.text], encoded[pair.b.text]
        rows.append(([CLS_ID, *a, SEP_ID, *b, SEP_ID], [0] * (len(a) + 2) + [1] * (len(b) + 1)))
    inputs = pad_rows(rows)
    return inputs.input_ids, inputs.token_type_ids, torch.tensor([p.next_sentence_label for p in pairs])


@functools.lru_cache(maxsize=4)
def _encoded_sentences(documents: int, held_out: int, seed: int) -> dict[str, list[int]]:
    """Each training sentence's token ids, encoded once for every epoch (what ``encode_pair`` puts between specials)."""
    tokenizer = _tokenizer(documents, held_out, seed)
    return {sentence.text: tokenizer.encode(sentence.text)
            for document in corpus.shared_documents(documents, seed)[:documents - held_out]
            for sentence in document.sentences}


@functools.lru_cache(maxsize=4)
def _tokenizer(documents: int, held_out: int, seed: int) -> WordPiece:
    return corpus.train_wordpiece(corpus.shared_documents(documents, seed)[:documents - held_out])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class BertPretraining:
    """Data, model size and training budget of the book's BERT; every field has the book's value."""

    documents: int = 6000
    held_out: int = 600            # the last documents: evaluation only
    seed: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_position: int = 64         # the longest pair is 30 tokens
    dropout: float = 0.1
    batch_size: int = 64
    steps: int = 6000             # next-sentence prediction starts to learn only after ~3,000
    lr: float = 1e-3
    warmup: int = 300              # steps of linear warm-up, then linear decay to 0 (BERT: 10,000 of 1,000,000)
    weight_decay: float = 0.01
    rate: float = 0.15             # share of the non-special tokens chosen for prediction
    split: tuple[float, float, float] = BERT_SPLIT  # chosen → [MASK], random token, kept
    nsp: bool = True               # add the next-sentence loss

    def __post_init__(self) -> None:
        for name in ("documents", "held_out", "batch_size", "steps", "warmup"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "warmup" else 1):
                raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.held_out * 2 > self.documents:
            raise ValueError(text(f"held_out({self.held_out})은 documents({self.documents})의 절반 이하여야 합니다",
                                  f"held_out ({self.held_out}) must be at most half of documents ({self.documents})"))
        if not isinstance(self.split, tuple) or len(self.split) != 3:
            raise ValueError(text(f"split은 ([MASK], 무작위, 유지) 비율 세 개의 튜플이어야 합니다: {self.split!r}",
                                  f"split must be a tuple of three shares ([MASK], random, kept), got {self.split!r}"))

    # ------------------------------------------------------------------------------------------------ data

    @property
    def train_documents(self) -> tuple[Document, ...]:
        return corpus.shared_documents(self.documents, self.seed)[:self.documents - self.held_out]

    @property
    def test_documents(self) -> tuple[Document, ...]:
        return corpus.shared_documents(self.documents, self.seed)[self.documents - self.held_out:]

    @property
    def tokenizer(self) -> WordPiece:
        """The book's WordPiece vocabulary, learned from the training documents only."""
        return _tokenizer(self.documents, self.held_out, self.seed)

    def config(self) -> BertConfig:
        return BertConfig(vocab_size=len(self.tokenizer), hidden_size=self.hidden_size, num_layers=self.num_layers,
                          num_heads=self.num_heads, intermediate_size=self.intermediate_size,
                          max_position=self.max_position, dropout=self.dropout, attention_dropout=self.dropout)

    def build(self, name: str = "bert") -> BertForPreTraining:
        """A fresh model, its initial weights seeded by ``name`` and the seed (the same for every split)."""
        torch.manual_seed(self.seed + sum(map(ord, name)))
        return BertForPreTraining(self.config())

    @property
    def steps_per_epoch(self) -> int:
        return len(self._epoch(0)[2]) // self.batch_size

    def _epoch(self, epoch: int) -> tuple[Tensor, Tensor, Tensor]:
        return _epoch_tensors(self.documents, self.held_out, self.seed, epoch)

    def batch(self, step: int) -> tuple[BertInputs, Tensor]:
        """The inputs and NSP labels (B,) of training step ``step`` (0, 1, …): batches in order, epoch after epoch.

        Every epoch has new NSP pairs (new random B sentences); a batch is padded to its longest row.
        """
        epoch, index = divmod(step, self.steps_per_epoch)
        ids, types, labels = self._epoch(epoch)
        window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ids, types = ids[window], types[window]
        longest = int((ids != PAD_ID).sum(1).max())
        ids, types = ids[:, :longest], types[:, :longest]
        return BertInputs(ids, types, ids != PAD_ID, ids <= MASK_ID), labels[window]

    def learning_rate(self, step: int) -> float:
        """Linear warm-up over ``warmup`` steps to ``lr``, then linear decay to 0 at ``steps``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * max(0.0, (self.steps - step) / max(1, self.steps - self.warmup))

    def fingerprint(self, steps: int | None = None) -> dict[str, str]:
        """SHA-256 of the vocabulary, of every step's batch (ids, types, labels) and of every learning rate."""
        steps = self.steps if steps is None else steps
        data, rates = hashlib.sha256(), hashlib.sha256()
        for step in range(steps):
            inputs, labels = self.batch(step)
            for tensor in (inputs.input_ids, inputs.token_type_ids, labels):
                data.update(tensor.numpy().tobytes())
            rates.update(f"{self.learning_rate(step):.9g}\0".encode())
        vocab = hashlib.sha256("\0".join(self.tokenizer.vocab).encode()).hexdigest()
        return {"vocab_sha256": vocab, "data_sha256": data.hexdigest(), "learning_rates_sha256": rates.hexdigest()}

    # -------------------------------------------------------------------------------------------- training

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "norm" not in n.lower()]
        rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "norm" not in n.lower())]
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                  {"params": rest, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.999), eps=1e-6)

    def train(self, model: BertForPreTraining, *, max_steps: int | None = None, desc: str | None = None) -> StepLosses:
        """Pretrain ``model`` for ``steps`` steps (or the first ``max_steps`` of them); returns every step's losses.

        Each batch is made on the CPU and moved to the model's device; the losses are read once, at the end.
        """
        steps = self.steps if max_steps is None else min(max_steps, self.steps)
        optimizer = self._optimizer(model)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.learning_rate(step) / self.lr)
        masks = torch.Generator().manual_seed(self.seed)  # drawn on the CPU: the same masks on every device
        tokenizer, device, step_losses = self.tokenizer, device_of(model), []
        model.train()
        for step in progress(range(steps), desc=desc):
            inputs, nsp_labels = self.batch(step)
            masked = bert_masking(inputs.input_ids, vocab_size=len(tokenizer), special_ids=tokenizer.special_ids,
                                  mask_id=MASK_ID, rate=self.rate, split=self.split, generator=masks)
            inputs, nsp_labels = inputs.to(device), nsp_labels.to(device)
            out = model(masked.inputs.to(device), inputs.token_type_ids, inputs.attention_mask, need_weights=False)
            mlm = F.cross_entropy(out.mlm_logits.flatten(0, 1), masked.labels.to(device).flatten(),
                                  ignore_index=IGNORE_INDEX)
            nsp = F.cross_entropy(out.nsp_logits, nsp_labels)
            loss = mlm + nsp if self.nsp else mlm
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step_losses.append(torch.stack([loss, mlm, nsp]).detach())  # read once, after the loop: no sync per step
        model.eval()
        rows = torch.stack(step_losses).tolist() if step_losses else []
        return StepLosses([row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows])

    # ------------------------------------------------------------------------------------------ evaluation

    def test_pairs(self) -> list[NSPPair]:
        return corpus.nsp_pairs(self.test_documents, seed=self.seed + 1)

    def test_sentences(self) -> list[Sentence]:
        return corpus.sentences_of(self.test_documents)

    def token_counts(self) -> Counter[int]:
        """How often each non-special token occurs in the training documents (what the baselines know)."""
        counts: Counter[int] = Counter()
        for document in self.train_documents:
            for sentence in document.sentences:
                counts.update(self.tokenizer.encode(sentence.text))
        return counts

    @torch.no_grad()
    def evaluate(self, model: BertForPreTraining) -> dict:
        """Everything the chapter asserts about a pretrained model, measured on the held-out documents."""
        model.eval()
        return {"masked_lm": self.masked_lm_accuracy(model), "particles": self.particle_agreement(model),
                "nsp": self.nsp_accuracy(model), "attention": self.particle_attention(model),
                "copying": self.copying(model)}

    def _pair_batches(self, pairs: Sequence[NSPPair], size: int = 256):
        tokenizer = self.tokenizer
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            yield chunk, pad_rows([tokenizer.encode_pair(p.a.text, p.b.text) for p in chunk])

    @torch.no_grad()
    def masked_lm_accuracy(self, model: BertForPreTraining, draws: int = 4) -> dict:
        """Accuracy and loss at the chosen positions of held-out pairs, by kind of token, with the baselines.

        The masks are BERT's (the training ``rate`` and ``split``, a fixed seed), ``draws``
        times over the pairs. Accuracy is reported at the [MASK] positions (the model
        sees nothing of the token) and at all chosen positions; the baselines ignore
        the context: the most frequent training token, and the unigram distribution.
        """
        counts = self.token_counts()
        total = sum(counts.values())
        most_frequent = counts.most_common(1)[0][0]
        unigram = torch.full((len(self.tokenizer),), 1e-9)  # never log(0) for an unseen token
        for token, n in counts.items():
            unigram[token] = n / total
        log_unigram = unigram.log()
        tally: dict[str, list[float]] = {}  # kind → [right, most-frequent right, model nats, unigram nats, n]

        def add(kind: str, right: Tensor, baseline: Tensor, nats: Tensor, unigram_nats: Tensor) -> None:
            row = tally.setdefault(kind, [0.0, 0.0, 0.0, 0.0, 0.0])
            for k, values in enumerate((right, baseline, nats, unigram_nats)):
                row[k] += float(values.sum())
            row[4] += right.numel()

        generator = torch.Generator().manual_seed(self.seed + 10_000)
        device = device_of(model)
        pairs = self.test_pairs()
        kinds_of = [[piece.category for piece in corpus.pair_pieces(p.a, p.b, self.tokenizer)] for p in pairs]
        for _ in range(draws):
            for start, (_, inputs) in zip(range(0, len(pairs), 256), self._pair_batches(pairs, 256), strict=True):
                masked = bert_masking(inputs.input_ids, vocab_size=len(self.tokenizer),
                                      special_ids=self.tokenizer.special_ids, mask_id=MASK_ID, rate=self.rate,
                                      split=BERT_SPLIT, generator=generator)
                logits = model(masked.inputs.to(device), inputs.token_type_ids.to(device),
                               inputs.attention_mask.to(device), need_weights=False).mlm_logits.cpu()  # (B, T, V)
                rows, cols = masked.chosen.nonzero(as_tuple=True)
                targets = inputs.input_ids[rows, cols]
                scores = logits[rows, cols]  # (N, V)
                right = scores.argmax(-1) == targets
                baseline = targets == most_frequent
                nats = F.cross_entropy(scores, targets, reduction="none")
                unigram_nats = -log_unigram[targets]
                kinds = [kinds_of[start + r][c] for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
                how = ["masked" if masked.masked[r, c] else "replaced" if masked.replaced[r, c] else "kept"
                       for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
                select = {"all": torch.ones_like(right)}
                for name in ("particle", "function", "content"):
                    select[name] = torch.tensor([kind == name for kind in kinds], dtype=torch.bool)
                for name in ("masked", "replaced", "kept"):
                    select[name] = torch.tensor([h == name for h in how], dtype=torch.bool)
                at_mask = select["masked"]
                for name, chosen in select.items():
                    add(name, right[chosen], baseline[chosen], nats[chosen], unigram_nats[chosen])
                    if name in ("particle", "function", "content"):
                        both = chosen & at_mask
                        add(f"masked {name}", right[both], baseline[both], nats[both], unigram_nats[both])
        return {kind: {"positions": int(n), "accuracy": round(r / n, 4), "most_frequent_accuracy": round(b / n, 4),
                       "loss": round(m / n, 4), "unigram_loss": round(u / n, 4)}
                for kind, (r, b, m, u, n) in tally.items() if n}

    def _particle_cases(self) -> list[tuple[Sentence, int, str, str, str]]:
        """(sentence, index of its particle piece in [CLS] S [SEP], particle, right form, other form), held out."""
        cases = []
        for sentence in self.test_sentences():
            pieces = [Piece("[CLS]", None, False), *corpus.pieces(sentence, self.tokenizer)]
            for k, piece in enumerate(pieces):
                if piece.is_particle and piece.eojeol.particle in PARTICLES:
                    right = attach(piece.eojeol.stem, piece.eojeol.particle)[len(piece.eojeol.stem):]
                    forms = PARTICLES[piece.eojeol.particle]
                    other = forms[1] if right == forms[0] else forms[0]
                    cases.append((sentence, k, piece.eojeol.particle, right, other))
        return cases

    @torch.no_grad()
    def particle_agreement(self, model: BertForPreTraining) -> dict:
        """With one particle masked, how often the right form scores above the other form (and is the top token).

        The baseline picks, for each particle, its form that is more frequent in training.
        """
        tokenizer = self.tokenizer
        cases = self._particle_cases()
        counts = self.token_counts()
        tally: dict[str, list[int]] = {}
        for start in range(0, len(cases), 256):
            chunk = cases[start:start + 256]
            rows = []
            for sentence, k, *_ in chunk:
                ids, types = tokenizer.encode_pair(sentence.text)
                ids = list(ids)
                ids[k] = MASK_ID
                rows.append((ids, types))
            inputs = pad_rows(rows).to(device_of(model))
            logits = model(inputs.input_ids, inputs.token_type_ids, inputs.attention_mask,
                           need_weights=False).mlm_logits.cpu()  # read case by case below: once per batch
            for row, (_, k, particle, right, other) in enumerate(chunk):
                right_id, other_id = tokenizer.token_to_id("##" + right), tokenizer.token_to_id("##" + other)
                scores = logits[row, k]
                agrees = bool(scores[right_id] > scores[other_id])
                top = int(scores.argmax()) == right_id
                baseline = counts[right_id] > counts[other_id]
                for key in ("all", particle):
                    entry = tally.setdefault(key, [0, 0, 0, 0])
                    entry[0] += agrees
                    entry[1] += top
                    entry[2] += baseline
                    entry[3] += 1
        return {key: {"cases": n, "agreement": round(a / n, 4), "top1": round(t / n, 4),
                      "majority_form": round(b / n, 4)} for key, (a, t, b, n) in tally.items()}

    @torch.no_grad()
    def nsp_accuracy(self, model: BertForPreTraining) -> dict:
        """Next-sentence accuracy on held-out pairs (half real), next to the story cues' rule."""
        pairs = self.test_pairs()
        right = 0
        for chunk, inputs in self._pair_batches(pairs):
            inputs = inputs.to(device_of(model))
            logits = model(inputs.input_ids, inputs.token_type_ids, inputs.attention_mask,
                           need_weights=False).nsp_logits.cpu()
            labels = torch.tensor([pair.next_sentence_label for pair in chunk])
            right += int((logits.argmax(-1) == labels).sum())
        rule = sum(corpus.rule_based_nsp(pair.a, pair.b) == pair.is_next for pair in pairs)
        return {"pairs": len(pairs), "accuracy": round(right / len(pairs), 4), "chance": 0.5,
                "rule_based": round(rule / len(pairs), 4)}

    @torch.no_grad()
    def particle_attention(self, model: BertForPreTraining) -> dict:
        """For every head, the mean weight from a particle (##은) to its noun (학생), on unmasked held-out sentences.

        A particle's noun is the token before it, so a head that looks at the previous token
        from everywhere would score high too. Next to each head's particle → noun weight is
        its weight on the previous token from the other tokens (after the first word, [SEP]
        excluded); the head reported is the one whose particle → noun weight exceeds that
        the most: the head that looks at the noun *from particles*. ``uniform`` is the mean 1/T.
        """
        tokenizer = self.tokenizer
        cases = self._particle_cases()
        sums = torch.zeros(model.config.num_layers, model.config.num_heads)
        previous = torch.zeros_like(sums)
        argmax_hits = torch.zeros_like(sums)
        uniform, n_particles, n_others = 0.0, 0, 0
        by_sentence: dict[int, tuple[Sentence, list[int]]] = {}
        for sentence, k, *_ in cases:
            by_sentence.setdefault(id(sentence), (sentence, []))[1].append(k)
        items = list(by_sentence.values())
        for start in range(0, len(items), 256):
            chunk = items[start:start + 256]
            inputs = pad_rows([tokenizer.encode_pair(sentence.text) for sentence, _ in chunk])
            on_device = inputs.to(device_of(model))
            attentions = torch.stack(model(on_device.input_ids, on_device.token_type_ids,
                                           on_device.attention_mask).attentions, dim=1).cpu()  # (B, L, H, T, T)
            for row, (_, particle_positions) in enumerate(chunk):
                length = int(inputs.attention_mask[row].sum())
                for k in particle_positions:
                    weights = attentions[row, :, :, k]  # (L, H, T)
                    sums += weights[:, :, k - 1]
                    argmax_hits += (weights.argmax(-1) == k - 1).float()
                    uniform += 1 / length
                    n_particles += 1
                for k in range(2, length - 1):  # other tokens after the first word, [SEP] excluded
                    if k not in particle_positions:
                        previous += attentions[row, :, :, k, k - 1]
                        n_others += 1
        mean, elsewhere = sums / n_particles, previous / n_others
        layer, head = divmod(int((mean - elsewhere).argmax()), mean.shape[1])
        return {"particles": n_particles, "layer": layer, "head": head,
                "to_noun": round(float(mean[layer, head]), 4),
                "noun_is_argmax": round(float(argmax_hits[layer, head]) / n_particles, 4),
                "previous_token_elsewhere": round(float(elsewhere[layer, head]), 4),
                "uniform": round(uniform / n_particles, 4),
                "to_noun_by_head": [[round(float(v), 4) for v in row] for row in mean],
                "previous_elsewhere_by_head": [[round(float(v), 4) for v in row] for row in elsewhere]}

    @torch.no_grad()
    def copying(self, model: BertForPreTraining) -> dict:
        """Swap 15 % of the tokens of held-out pairs for random ones, mask none, and read the predictions there.

        ``restored``: the prediction is the original token; ``copied``: it is the random
        token the model read. Also how often an untouched token is predicted as itself.
        """
        generator = torch.Generator().manual_seed(self.seed + 20_000)
        device = device_of(model)
        restored = copied = swapped = unchanged_right = unchanged = 0
        for _, inputs in self._pair_batches(self.test_pairs()):
            noisy = bert_masking(inputs.input_ids, vocab_size=len(self.tokenizer),
                                 special_ids=self.tokenizer.special_ids, mask_id=MASK_ID, rate=self.rate,
                                 split=(0.0, 1.0, 0.0), generator=generator)
            predicted = model(noisy.inputs.to(device), inputs.token_type_ids.to(device),
                              inputs.attention_mask.to(device), need_weights=False).mlm_logits.argmax(-1)  # (B, T)
            predicted = predicted.cpu()
            changed = noisy.replaced & (noisy.inputs != inputs.input_ids)
            restored += int((predicted == inputs.input_ids)[changed].sum())
            copied += int((predicted == noisy.inputs)[changed].sum())
            swapped += int(changed.sum())
            untouched = ~noisy.chosen & ~inputs.special_tokens_mask
            unchanged_right += int((predicted == inputs.input_ids)[untouched].sum())
            unchanged += int(untouched.sum())
        return {"swapped": swapped, "restored": round(restored / swapped, 4), "copied": round(copied / swapped, 4),
                "untouched": unchanged, "untouched_predicted_as_itself": round(unchanged_right / unchanged, 4)}

    # ------------------------------------------------------------------------------------------- fill-mask

    @torch.no_grad()
    def fill_mask(self, model: BertForPreTraining, words: str, k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely tokens, with probabilities, at each [MASK] of a sentence (학생[MASK] 책을 …)."""
        tokenizer = self.tokenizer
        if "[MASK]" not in words:
            raise ValueError(text(f"문장에 [MASK]가 없습니다: {words!r}", f"the sentence has no [MASK]: {words!r}"))
        ids = [CLS_ID]
        for word in words.split():
            head, mask, tail = word.partition("[MASK]")
            if tail:
                raise ValueError(text(f"[MASK]는 낱말 하나이거나 낱말 끝(학생[MASK])에만 올 수 있습니다: {word!r}",
                                      f"[MASK] must be a word or end one (학생[MASK]), got {word!r}"))
            ids.extend(tokenizer.token_to_id(piece) for piece in (tokenizer.encode_word(head) if head else []))
            if mask:
                ids.append(MASK_ID)
        ids.append(SEP_ID)
        input_ids = torch.tensor([ids])
        on_device = input_ids.to(device_of(model))
        logits = model(on_device, torch.zeros_like(on_device), torch.ones_like(on_device, dtype=torch.bool),
                       need_weights=False).mlm_logits[0].cpu()
        out = []
        for position in (input_ids[0] == MASK_ID).nonzero().flatten().tolist():
            probs = logits[position].softmax(-1)
            top = probs.topk(k)
            out.append([(tokenizer.id_to_token(int(i)), round(float(p), 4))
                        for p, i in zip(top.values, top.indices, strict=True)])
        return out


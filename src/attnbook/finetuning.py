"""Does pretraining help when labels are few? Fine-tuning the book's BERT on particle agreement.

The task (:func:`attnbook.data.corpus.particle_agreement`): is every particle of
a sentence the form its noun asks for (학생은, 책을), or was one swapped for the
other form (학생는, 책를)? Label 1 = correct, 0 = one wrong particle (CoLA's
convention), half of each. The grammar labels it, so there is no end of
examples; the question is how few labelled ones a model needs.

Two encoders with the same architecture, size, recipe and budget: the pretrained
BERT's encoder (:class:`attnbook.pretraining.BertPretraining`), and the same
encoder with fresh random weights. Each gets a new classification head on its
pooled ``[CLS]`` (Devlin et al., 2019, §4) and all its weights are fine-tuned
on ``n`` labelled sentences from the training documents; accuracy is measured
on sentences from the held-out documents. Several seeds (which labelled
examples, the head's initial weights, the batch order) give a spread.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attnbook.bert import BertForPreTraining, BertForSequenceClassification
from attnbook.data import corpus
from attnbook.data.corpus import AgreementExample
from attnbook.data.hangul import PARTICLES
from attnbook.language import text
from attnbook.pretraining import BertPretraining, pad_rows
from attnbook.progress import progress
from attnbook.runtime import device_of
from attnbook.wordpiece import MASK_ID

__all__ = ["AgreementFineTuning"]


@dataclass(frozen=True)
class AgreementFineTuning:
    """Budgets of the comparison; every field has the book's value."""

    labelled: tuple[int, ...] = (32, 128, 512)  # labelled training sentences (half correct)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    steps: int = 300
    batch_size: int = 32
    lr: float = 3e-4
    warmup: int = 30
    test_size: int = 2000

    def __post_init__(self) -> None:
        if not self.labelled or not all(isinstance(n, int) and n >= 2 and n % 2 == 0 for n in self.labelled):
            raise ValueError(text(f"labelled는 2 이상의 짝수들이어야 합니다: {self.labelled!r}",
                                  f"labelled must hold even numbers ≥ 2, got {self.labelled!r}"))

    def examples(self, pretraining: BertPretraining, n: int, seed: int) -> list[AgreementExample]:
        """``n`` labelled examples from the training documents' sentences (half correct), drawn by ``seed``."""
        sentences = corpus.sentences_of(pretraining.train_documents)
        return corpus.particle_agreement(random.Random(f"labelled/{seed}").sample(sentences, n), seed=seed)

    def test_examples(self, pretraining: BertPretraining) -> list[AgreementExample]:
        """``test_size`` examples from the held-out documents, half correct."""
        return corpus.particle_agreement(pretraining.test_sentences(), seed=10_000, n=self.test_size)

    def fine_tune(self, pretraining: BertPretraining, encoder: BertForPreTraining | None,
                  examples: Sequence[AgreementExample], seed: int, *, desc: str | None = None,
                  device: torch.device | str | None = None) -> BertForSequenceClassification:
        """A classifier on ``encoder``'s weights (a fresh encoder when None), every weight trained on ``examples``.

        It trains on ``device``; None means the encoder's device, or the CPU for a fresh encoder (pass
        ``attnbook.default_device()`` to use the GPU). The weights are drawn on the CPU first, so every
        device starts from the same ones.
        """
        torch.manual_seed(seed)
        if encoder is None:
            model = BertForSequenceClassification(pretraining.config(), num_labels=2)
        else:
            model = BertForSequenceClassification.from_pretrained_encoder(encoder, num_labels=2)
        if device is None:
            device = torch.device("cpu") if encoder is None else device_of(encoder)
        model.to(device)
        tokenizer = pretraining.tokenizer
        rows = [tokenizer.encode_pair(example.text) for example in examples]
        labels = torch.tensor([example.label for example in examples], device=device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min((step + 1) / self.warmup, max(0.0, (self.steps - step) / self.steps)))
        order = torch.Generator().manual_seed(seed)
        model.train()
        batch = min(self.batch_size, len(rows))
        permutation = torch.randperm(len(rows), generator=order)
        cursor = 0
        for _ in progress(range(self.steps), desc=desc):
            if cursor + batch > len(rows):
                permutation, cursor = torch.randperm(len(rows), generator=order), 0
            picked = permutation[cursor:cursor + batch].tolist()
            cursor += batch
            inputs = pad_rows([rows[k] for k in picked]).to(device)
            logits = model(inputs.input_ids, inputs.token_type_ids, inputs.attention_mask, need_weights=False).logits
            loss = F.cross_entropy(logits, labels[picked])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
        return model.eval()

    @torch.no_grad()
    def accuracy(self, pretraining: BertPretraining, model: BertForSequenceClassification,
                 examples: Sequence[AgreementExample]) -> float:
        model.eval()
        tokenizer, right = pretraining.tokenizer, 0
        for start in range(0, len(examples), 500):
            chunk = examples[start:start + 500]
            inputs = pad_rows([tokenizer.encode_pair(example.text) for example in chunk]).to(device_of(model))
            predicted = model(inputs.input_ids, inputs.token_type_ids, inputs.attention_mask,
                              need_weights=False).logits.argmax(-1).cpu()
            right += int((predicted == torch.tensor([example.label for example in chunk])).sum())
        return right / len(examples)

    def run(self, pretraining: BertPretraining, encoder: BertForPreTraining | None, n: int, seed: int, *,
            device: torch.device | str | None = None) -> float:
        """Test accuracy of one fine-tuning: ``n`` labelled examples, ``seed``, on ``device`` (as :meth:`fine_tune`)."""
        model = self.fine_tune(pretraining, encoder, self.examples(pretraining, n, seed), seed, device=device)
        return self.accuracy(pretraining, model, self.test_examples(pretraining))

    @torch.no_grad()
    def masked_lm_accuracy(self, pretraining: BertPretraining, model: BertForPreTraining,
                           examples: Sequence[AgreementExample]) -> float:
        """The same test without any labels: mask each particle in turn and ask the pretraining head.

        A sentence is called wrong when, at some particle, the form written scores below the
        particle's other form (학생[MASK]: ##은 against ##는). No fine-tuning, no labelled example.
        """
        model.eval()
        tokenizer, rows, where = pretraining.tokenizer, [], []
        for index, example in enumerate(examples):
            ids, types = tokenizer.encode_pair(example.text)
            pieces = corpus.pieces(example, tokenizer)
            for k, piece in enumerate(pieces, start=1):  # position k: after [CLS]
                if piece.is_particle and piece.eojeol.particle in PARTICLES:
                    written = piece.eojeol.ending
                    forms = PARTICLES[piece.eojeol.particle]
                    other = forms[1] if written == forms[0] else forms[0]
                    masked = list(ids)
                    masked[k] = MASK_ID
                    rows.append((masked, types))
                    where.append((index, k, tokenizer.token_to_id("##" + written), tokenizer.token_to_id("##" + other)))
        called_wrong = [False] * len(examples)
        for start in range(0, len(rows), 500):
            inputs = pad_rows(rows[start:start + 500]).to(device_of(model))
            logits = model(inputs.input_ids, inputs.token_type_ids, inputs.attention_mask,
                           need_weights=False).mlm_logits.cpu()  # read row by row below: once per batch
            for row, (index, k, written, other) in enumerate(where[start:start + 500]):
                if logits[row, k, other] > logits[row, k, written]:
                    called_wrong[index] = True
        return sum(wrong != example.correct for wrong, example in zip(called_wrong, examples, strict=True)) / len(
            examples)

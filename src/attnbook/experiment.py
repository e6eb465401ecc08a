"""The book's English→Korean translation experiment, shared by chapters 2, 3 and 6.

Every model is trained on the same sentence pairs, with the same sizes and the
same budget, and tested on the same sentences bucketed by English length, so
their accuracies can be compared. The test sentences are drawn like the training
sentences (1 to 4 clauses), so a bucket measures length alone; a separate set of
sentences with 5 or 6 clauses, a structure no training sentence has, measures
what happens outside the training distribution. The full budget takes minutes
on one CPU thread, more than a chapter can spend; ``python -m
tools.train_checkpoints`` trains with it and ships the weights, with a record of
the run, in ``attnbook/pretrained/``, which the chapters load
(:func:`pretrained`, :func:`training_record`) next to a shortened run they train live.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from attnbook import checkpoints
from attnbook.data import (
    Batch,
    SentencePair,
    Vocabulary,
    make_batches,
    pad,
    padding_mask,
    pairs_by_length,
    train_test_pairs,
    vocabularies,
)
from attnbook.decoding import beam_search, greedy_decode
from attnbook.language import text
from attnbook.metrics import bleu, by_length, exact_match
from attnbook.schedules import WarmupSchedule
from attnbook.seq2seq import Seq2SeqConfig
from attnbook.transformer import Transformer, TransformerConfig

PRETRAINED = "pretrained"


@dataclass(frozen=True)
class TranslationExperiment:
    """Data, model sizes and training budget of the experiment; every field has the book's value."""

    train_size: int = 6000
    clauses: tuple[int, int] = (1, 4)        # training sentences have 1 to 4 clauses (up to ~55 words)
    test_per_bucket: int = 40
    edges: tuple[int, ...] = (1, 10, 20, 30, 40, 50)  # English length buckets [1, 10), [10, 20), …
    unseen_clauses: tuple[int, int] = (5, 6)  # a structure outside training: more clauses than any training sentence
    unseen_lengths: tuple[int, int] = (40, 50)  # … at lengths the training set does have
    batch_size: int = 64
    epochs: int = 12
    lr: float = 3e-3
    embed_dim: int = 64                      # the recurrent models (chapters 2, 3)
    hidden_dim: int = 128
    d_model: int = 64                        # the Transformer (chapter 6): pre-norm, 2 + 2 layers
    num_heads: int = 4
    d_ff: int = 256
    num_layers: int = 2
    dropout: float = 0.1
    warmup: int = 400                        # the Transformer's warm-up steps (eq. 3) …
    label_smoothing: float = 0.1             # … and label smoothing (§5.4), which help it here
    seed: int = 0
    max_len: int = 80                        # longest translation the decoders may produce
    vocabs: tuple[Vocabulary, Vocabulary] = field(default_factory=vocabularies, compare=False, repr=False)

    @property
    def src_vocab(self) -> Vocabulary:
        return self.vocabs[0]

    @property
    def tgt_vocab(self) -> Vocabulary:
        return self.vocabs[1]

    def seq2seq_config(self) -> Seq2SeqConfig:
        """The encoder–decoder sizes both recurrent models share (bidirectional encoder, one layer)."""
        return Seq2SeqConfig(len(self.src_vocab), len(self.tgt_vocab), embed_dim=self.embed_dim,
                             hidden_dim=self.hidden_dim, bidirectional=True)

    def transformer_config(self) -> TransformerConfig:
        """The Transformer's sizes: about 260 thousand parameters, trained in about a minute."""
        return TransformerConfig(len(self.src_vocab), len(self.tgt_vocab), d_model=self.d_model,
                                 num_heads=self.num_heads, d_ff=self.d_ff, num_encoder_layers=self.num_layers,
                                 num_decoder_layers=self.num_layers, dropout=self.dropout, norm_first=True,
                                 max_len=self.max_len + 1)

    def config_for(self, model_class: type[nn.Module]):
        return self.transformer_config() if issubclass(model_class, Transformer) else self.seq2seq_config()

    def training(self, model_class: type[nn.Module]) -> dict:
        """How each architecture is trained; data, batches and epochs are the same for all."""
        if issubclass(model_class, Transformer):
            return {"lr": 1.0, "schedule": WarmupSchedule(self.d_model, self.warmup),
                    "label_smoothing": self.label_smoothing}
        return {"lr": self.lr}

    @functools.cached_property
    def train_pairs(self) -> list[SentencePair]:
        return train_test_pairs(self.train_size, 0, seed=self.seed, clauses=self.clauses)[0]

    @functools.cached_property
    def test_buckets(self) -> dict[tuple[int, int], list[SentencePair]]:
        """Test sentences per English length bucket, drawn like the training sentences but none of them seen."""
        return pairs_by_length(self.test_per_bucket, seed=self.seed + 1, edges=self.edges, clauses=self.clauses,
                               exclude=self.train_pairs)

    @functools.cached_property
    def unseen_structure(self) -> list[SentencePair]:
        """Test sentences with more clauses than any training sentence, at lengths training does cover."""
        low, high = self.unseen_lengths
        pairs = pairs_by_length(self.test_per_bucket, seed=self.seed + 2, edges=(low, high),
                                clauses=self.unseen_clauses, exclude=self.train_pairs)
        return pairs[(low, high)]

    def batches(self) -> list[Batch]:
        return make_batches([(p.en, p.ko) for p in self.train_pairs], self.src_vocab, self.tgt_vocab,
                            self.batch_size, shuffle=True, seed=self.seed)

    def translate(self, model: nn.Module, sentences: list[tuple[str, ...]], *, beam_size: int = 1):
        """Korean translations (token lists) of English sentences, and the decoder's hypotheses."""
        device = next(model.parameters()).device
        src = pad([self.src_vocab.encode(list(s)) for s in sentences], self.src_vocab.pad_id).to(device)  # (B, S)
        src_mask = padding_mask(src, self.src_vocab.pad_id)                                               # (B, S)
        if beam_size == 1:
            hypotheses = greedy_decode(model, src, src_mask, max_len=self.max_len)
        else:
            hypotheses = beam_search(model, src, src_mask, beam_size=beam_size, max_len=self.max_len)
        return [self.tgt_vocab.decode(h.tokens) for h in hypotheses], hypotheses

    def evaluate(self, model: nn.Module) -> list[dict]:
        """Exact match and BLEU of greedy translations, per English length bucket."""
        lengths, translations, references = [], [], []
        for pairs in self.test_buckets.values():  # decoded bucket by bucket, as in every shipped report
            lengths += [len(p.en) for p in pairs]
            translations += self.translate(model, [p.en for p in pairs])[0]
            references += [list(p.ko) for p in pairs]
        return by_length(lengths, translations, references, self.edges)

    def evaluate_unseen(self, model: nn.Module) -> dict:
        """Exact match and BLEU of greedy translations of :attr:`unseen_structure`."""
        pairs = self.unseen_structure
        translations, _ = self.translate(model, [p.en for p in pairs])
        references = [list(p.ko) for p in pairs]
        return {"sentences": len(pairs), "exact_match": exact_match(translations, references),
                "bleu": bleu(translations, references)}


def pretrained_path(name: str) -> Path:
    return Path(str(resources.files("attnbook") / PRETRAINED / f"{name}.safetensors"))


def pretrained(name: str, model_class: type[nn.Module], config_class: type = Seq2SeqConfig) -> nn.Module:
    """A model trained with the full budget by ``python -m tools.train_checkpoints`` (eval mode, CPU)."""
    path = pretrained_path(name)
    if not path.exists():
        raise FileNotFoundError(text(
            f"사전 학습된 모델 {name!r}이 없습니다 ({path}): python -m tools.train_checkpoints 로 만드세요",
            f"no pretrained model {name!r} at {path}: make it with python -m tools.train_checkpoints",
        ))
    return checkpoints.load(path, model_class, config_class)


def training_record(name: str) -> dict:
    """How a shipped model was trained: steps, seconds, every step's loss, and its results on the test sets."""
    return json.loads(checkpoints.notes(pretrained_path(name))["training"])


def shipped_results(name: str) -> dict:
    """Results of runs too long for a chapter, shipped as ``attnbook/pretrained/<name>.json`` by a repository tool."""
    path = Path(str(resources.files("attnbook") / PRETRAINED / f"{name}.json"))
    if not path.exists():
        raise FileNotFoundError(text(f"{path}이 없습니다", f"{path} does not exist"))
    return json.loads(path.read_text(encoding="utf-8"))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def seed_for(name: str, experiment: TranslationExperiment) -> int:
    """Each model's initial weights come from its own seed, derived from the experiment's."""
    return experiment.seed + sum(map(ord, name))


def build(name: str, model_class: type[nn.Module], experiment: TranslationExperiment) -> nn.Module:
    """A fresh model of the experiment, its initial weights seeded by its name."""
    torch.manual_seed(seed_for(name, experiment))
    return model_class(experiment.config_for(model_class))

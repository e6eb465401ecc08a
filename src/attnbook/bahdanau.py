"""Sequence to sequence with attention (Bahdanau et al., 2015).

The plain encoder–decoder squeezes the whole source into one context vector.
Here the encoder keeps an *annotation* h_j for every source position (both
directions concatenated), and at every output step i the decoder computes a new
context vector from them (the paper's appendix A.2.2):

    e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j)      (eq. 6, the alignment model)
    α_ij = exp(e_ij) / Σ_k exp(e_ik)              (eq. 6)
    c_i  = Σ_j α_ij h_j                           (eq. 5)
    s_i  = f(s_{i-1}, y_{i-1}, c_i)               (eq. 4)
    p(y_i | y_<i, x) = g(y_{i-1}, s_i, c_i)       (eq. 4)

Differences from the paper, so that chapter 3 compares like with like: f is an
LSTM cell (the paper uses gated recurrent units) and the encoder, embeddings and
the decoder's first state are exactly those of :class:`attnbook.seq2seq.Seq2Seq`
with a bidirectional encoder — in particular s_0 = tanh(W [→h_S; ←h_1]) from both
directions' final states, where the paper uses s_0 = tanh(W_s ←h_1); g is one
linear layer (the paper uses a maxout layer). The query of the alignment model is
the previous state s_{i-1}.

Shape legend: B batch · S source length · T target length · E embedding ·
H hidden · V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from attnbook.attention import AdditiveAttention
from attnbook.language import text
from attnbook.seq2seq import Bridge, Encoder, Seq2SeqConfig


@dataclass
class AttentionState:
    """What the attention decoder carries from step to step."""

    h: torch.Tensor            # s_{i-1}: (B, H)
    c: torch.Tensor            # the LSTM cell: (B, H)
    annotations: torch.Tensor  # h_j: (B, S, 2H)
    projected: torch.Tensor    # U_a h_j, computed once per sentence: (B, S, H)
    src_mask: torch.Tensor     # (B, S)

    def select(self, index: torch.Tensor) -> AttentionState:
        """Keep (and repeat) the sentences at ``index``: how beam search reorders its hypotheses."""
        return AttentionState(self.h[index], self.c[index], self.annotations[index],
                              self.projected[index], self.src_mask[index])


class BahdanauSeq2Seq(nn.Module):
    """An encoder–decoder whose decoder attends over every source annotation at every step."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not config.bidirectional or config.num_layers != 1:
            raise ValueError(text(
                "바다나우 어텐션 모델은 양방향 인코더(bidirectional=True)와 한 층(num_layers=1)을 씁니다",
                "the Bahdanau model uses a bidirectional encoder (bidirectional=True) and one layer (num_layers=1)",
            ))
        self.config = config
        hidden, annotation = config.hidden_dim, config.encoder_dim
        self.encoder = Encoder(config)
        self.bridge = Bridge(config)
        self.embedding = nn.Embedding(config.tgt_vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.attention = AdditiveAttention(query_dim=hidden, key_dim=annotation, hidden_dim=hidden)
        self.cell = nn.LSTMCell(config.embed_dim + annotation, hidden)              # f
        self.output = nn.Linear(hidden + annotation + config.embed_dim, config.tgt_vocab_size)  # g

    def start(self, src: torch.Tensor, src_mask: torch.Tensor) -> AttentionState:
        """Read the source: annotations h_j, their projections U_a h_j, and s_0 from the final states."""
        annotations, (h, c) = self.encoder(src, src_mask)                    # (B, S, 2H)
        h, c = self.bridge(h, c)                                              # (1, B, H)
        return AttentionState(h[0], c[0], annotations, self.attention.project_keys(annotations), src_mask)

    def step(self, state: AttentionState, previous: torch.Tensor):
        """One output step i from y_{i-1} (B,): log p(y_i) (B, V), the new state, and α_i (B, S)."""
        logits, state, weights = self._step(state, self.embedding(previous))
        return torch.log_softmax(logits, dim=-1), state, weights

    def _step(self, state: AttentionState, embedded: torch.Tensor):
        context, weights = self.attention(state.h, state.annotations, state.src_mask,
                                          projected_keys=state.projected)    # c_i: (B, 2H), α_i: (B, S)
        h, c = self.cell(torch.cat([embedded, context], dim=-1), (state.h, state.c))  # s_i: (B, H)
        logits = self.output(torch.cat([h, context, embedded], dim=-1))     # (B, V)
        return logits, AttentionState(h, c, state.annotations, state.projected, state.src_mask), weights

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor):
        """Teacher forcing over ``tgt_in`` (B, T): logits (B, T, V) and attention weights α (B, T, S)."""
        state = self.start(src, src_mask)
        embedded = self.embedding(tgt_in)                                    # (B, T, E)
        all_logits, all_weights = [], []
        for i in range(tgt_in.shape[1]):
            logits, state, weights = self._step(state, embedded[:, i])
            all_logits.append(logits)
            all_weights.append(weights)
        return torch.stack(all_logits, dim=1), torch.stack(all_weights, dim=1)

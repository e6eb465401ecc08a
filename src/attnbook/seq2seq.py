"""Sequence to sequence with LSTMs (Sutskever et al., 2014).

The encoder reads the source sentence; its final state is the *context vector*,
the only thing the decoder knows about the source. The decoder then writes the
target one token at a time, starting from that state.

Shape legend: B batch · S source length · T target length · E embedding ·
H hidden · L layers · V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnbook.language import text
from attnbook.runtime import holds_values


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Sizes of an encoder–decoder; the special ids follow attnbook.data's vocabularies."""

    src_vocab_size: int
    tgt_vocab_size: int
    embed_dim: int = 64
    hidden_dim: int = 128
    num_layers: int = 1
    bidirectional: bool = False  # the encoder reads the source in both directions
    dropout: float = 0.0
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_dim", "hidden_dim", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(text(f"{name}는 1 이상의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(text(f"dropout은 0 이상 1 미만이어야 합니다: {self.dropout!r}",
                                  f"dropout must be in [0, 1), got {self.dropout!r}"))
        specials = (self.pad_id, self.bos_id, self.eos_id)
        if len(set(specials)) != 3 or min(specials) < 0 or max(specials) >= min(self.src_vocab_size,
                                                                                   self.tgt_vocab_size):
            raise ValueError(text(f"특수 토큰 번호 {specials}는 서로 달라야 하고 어휘 크기보다 작아야 합니다",
                                  f"special ids {specials} must differ and be smaller than the vocabularies"))

    @property
    def encoder_dim(self) -> int:
        """The size of each encoder output h_j: doubled when both directions are concatenated."""
        return self.hidden_dim * (2 if self.bidirectional else 1)


def check_source(src: torch.Tensor, src_mask: torch.Tensor) -> None:
    """Clear errors for source batches that would otherwise fail deep inside the LSTM."""
    if src.dim() != 2 or src_mask.shape != src.shape or src_mask.dtype != torch.bool:
        raise ValueError(text(
            f"src는 (B, S) 정수 텐서, src_mask는 같은 모양의 bool 텐서여야 합니다: {tuple(src.shape)}, "
            f"{tuple(src_mask.shape)} {src_mask.dtype}",
            f"src must be (B, S) token ids and src_mask a bool tensor of the same shape, got "
            f"{tuple(src.shape)} and {tuple(src_mask.shape)} {src_mask.dtype}",
        ))
    if src.shape[1] == 0 or (holds_values(src_mask) and not src_mask.any(dim=1).all()):
        raise ValueError(text("빈 문장이 있습니다: 모든 소스 문장에는 토큰이 하나 이상 있어야 합니다",
                              "empty sequence: every source sentence needs at least one token"))


class Encoder(nn.Module):
    """Embeds the source and runs an LSTM over it; padding is skipped (packed sequences)."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.src_vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_dim, num_layers=config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0,
                            bidirectional=config.bidirectional, batch_first=True)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor):
        """Returns every position's output h_j (B, S, H·directions) and the final (h, c)."""
        check_source(src, src_mask)
        embedded = self.embedding(src)                                       # (B, S, E)
        if not holds_values(src_mask):  # meta: no lengths to read; the padded batch has the same shapes
            return self.lstm(embedded)
        lengths = src_mask.sum(dim=1).cpu()  # pack_padded_sequence takes the lengths on the CPU
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        outputs, (h, c) = self.lstm(packed)                                  # h, c: (L·directions, B, H)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        return outputs, (h, c)                                               # outputs: (B, S, H·directions)


class Bridge(nn.Module):
    """The decoder's first state from a bidirectional encoder's final states: tanh(W [→h; ←h]), for h and c."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.num_layers = config.num_layers
        self.h = nn.Linear(config.encoder_dim, config.hidden_dim)
        self.c = nn.Linear(config.encoder_dim, config.hidden_dim)

    def forward(self, h: torch.Tensor, c: torch.Tensor):
        """(L·2, B, H) final states of both directions → (L, B, H) decoder states."""
        return torch.tanh(self.h(self._join(h))), torch.tanh(self.c(self._join(c)))

    def _join(self, state: torch.Tensor) -> torch.Tensor:
        batch = state.shape[1]
        state = state.view(self.num_layers, 2, batch, -1)                # (L, 2, B, H)
        return state.transpose(1, 2).reshape(self.num_layers, batch, -1)  # (L, B, 2H)


@dataclass
class LSTMState:
    """What the plain decoder carries from step to step: only (h, c)."""

    h: torch.Tensor  # (L, B, H)
    c: torch.Tensor  # (L, B, H)

    def select(self, index: torch.Tensor) -> LSTMState:
        """Keep (and repeat) the sentences at ``index``: how beam search reorders its hypotheses."""
        return LSTMState(self.h[:, index], self.c[:, index])


class Seq2Seq(nn.Module):
    """The plain encoder–decoder: the source reaches the decoder only through the final encoder state."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.bridge = Bridge(config) if config.bidirectional else None
        self.embedding = nn.Embedding(config.tgt_vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.decoder = nn.LSTM(config.embed_dim, config.hidden_dim, num_layers=config.num_layers,
                               dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        self.output = nn.Linear(config.hidden_dim, config.tgt_vocab_size)

    def context(self, src: torch.Tensor, src_mask: torch.Tensor) -> LSTMState:
        """The context vector: the encoder's final (h, c), the decoder's starting state."""
        _, (h, c) = self.encoder(src, src_mask)
        if self.bridge is not None:
            h, c = self.bridge(h, c)                                         # (L, B, H)
        return LSTMState(h.contiguous(), c.contiguous())

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor):
        """Teacher forcing: the decoder reads the true previous tokens ``tgt_in`` (B, T).

        Returns the logits (B, T, V) and, like every model in the book, the attention
        weights — None here: this decoder has no attention.
        """
        state = self.context(src, src_mask)
        outputs, _ = self.decoder(self.embedding(tgt_in), (state.h, state.c))  # (B, T, H)
        return self.output(outputs), None                                       # (B, T, V)

    # The decoding interface shared by every model in the book (see attnbook.decoding).
    def start(self, src: torch.Tensor, src_mask: torch.Tensor) -> LSTMState:
        return self.context(src, src_mask)

    def step(self, state: LSTMState, previous: torch.Tensor):
        """One decoder step from the previous tokens (B,): log-probabilities (B, V), the new state, no attention."""
        output, (h, c) = self.decoder(self.embedding(previous)[:, None], (state.h, state.c))  # (B, 1, H)
        log_probs = torch.log_softmax(self.output(output[:, 0]), dim=-1)                     # (B, V)
        return log_probs, LSTMState(h, c), None

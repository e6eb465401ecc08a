"""What BART and T5 share as encoder–decoders: greedy generation from an encoded input.

Both models read the whole input once with their encoder and then write the output one token at
a time with their decoder, as chapter 2's seq2seq and chapter 6's Transformer did. The loop is the
same for both, so it lives here and asks each model for three things only:

- ``model.encode(input_ids, attention_mask) -> (B, S, D)``: the encoder's output, computed once;
- ``model.decode(decoder_input_ids, encoder_hidden_states, attention_mask) -> output with .logits``:
  the decoder run on everything written so far;
- ``model.config``: ``decoder_start_token_id`` (what the decoder reads first: BART's ``</s>``, T5's
  pad), ``eos_token_id`` (which ends a row) and ``pad_token_id`` (what an ended row writes after it).

Each step re-runs the decoder over every token written so far (no KV cache: chapter 8 showed the
cache is exact, and at this book's output lengths the saving is small). This is 🤗's
``generate(do_sample=False, num_beams=1)`` for these models: the tests compare them token for token.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import Tensor

from .language import text

__all__ = ["greedy_generate"]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@torch.no_grad()
def greedy_generate(model: Any, input_ids: Tensor, attention_mask: Tensor | None = None, *,
                    max_new_tokens: int) -> Tensor:
    """Write up to ``max_new_tokens`` tokens for each input row, always the most probable: → (B, 1 + n).

    The result starts with ``decoder_start_token_id`` (as 🤗's does). A row that writes
    ``eos_token_id`` has ended: its later tokens are ``pad_token_id``, and the loop stops when
    every row has ended. ``attention_mask`` (B, S) is 1 (or True) at the input's real tokens.
    """
    for name in ("encode", "decode", "config"):
        if not hasattr(model, name):
            raise TypeError(text(f"인코더–디코더 모델(encode, decode, config가 있는)이 필요합니다: "
                                 f"{type(model).__name__}에는 {name}이(가) 없습니다",
                                 f"expected an encoder–decoder model with encode, decode and config: "
                                 f"{type(model).__name__} has no {name}"))
    if getattr(model, "training", False):
        raise ValueError(text("모델이 학습 모드입니다: 드롭아웃 때문에 결과가 매번 달라집니다. "
                              "model.eval()을 먼저 부르세요",
                              "the model is in training mode, so dropout would change every step: "
                              "call model.eval() first"))
    if not _is_int(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(text(f"max_new_tokens는 1 이상의 정수여야 합니다: {max_new_tokens!r}",
                              f"max_new_tokens must be an integer ≥ 1, got {max_new_tokens!r}"))
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2:
        raise ValueError(text("input_ids는 (배치, 길이) 모양의 2차원 텐서여야 합니다",
                              "input_ids must be a 2-D tensor shaped (batch, length)"))
    config = model.config
    memory = model.encode(input_ids, attention_mask)  # (B, S, D), once
    batch = input_ids.size(0)
    written = torch.full((batch, 1), config.decoder_start_token_id, dtype=torch.long, device=input_ids.device)
    done = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)  # (B,)
    for _ in range(max_new_tokens):
        logits = model.decode(written, memory, attention_mask).logits[:, -1]  # (B, V): the next token's scores
        next_ids = logits.argmax(dim=-1).masked_fill(done, config.pad_token_id)  # an ended row only pads
        done |= next_ids == config.eos_token_id
        written = torch.cat([written, next_ids[:, None]], dim=1)  # (B, t + 1)
        if done.all():
            break
    return written

"""Training a sequence-to-sequence model: teacher forcing, cross-entropy over real tokens, Adam.

Every model in the book has ``forward(src, src_mask, tgt_in) -> (logits, attention)``;
this module needs nothing else from it.

Shape legend: B batch · T target length · V vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from attnbook.language import text
from attnbook.progress import progress


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over the real (non-padding) target tokens; logits (B, T, V), targets (B, T)."""
    if logits.shape[:2] != targets.shape:
        raise ValueError(text(f"logits {tuple(logits.shape)}와 targets {tuple(targets.shape)}의 (B, T)가 다릅니다",
                              f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in (B, T)"))
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id,
                                       label_smoothing=label_smoothing)


def batch_order(num_batches: int, epochs: int, seed: int) -> list[int]:
    """Which batch each training step takes: every batch once per epoch, in a fresh order drawn from ``seed``."""
    order = torch.Generator().manual_seed(seed)
    return [int(i) for _ in range(epochs) for i in torch.randperm(num_batches, generator=order)]


def train(
    model: nn.Module,
    batches: Sequence,
    *,
    epochs: int,
    lr: float = 1e-3,
    clip: float = 1.0,
    label_smoothing: float = 0.0,
    schedule: Callable[[int], float] | None = None,
    seed: int = 0,
    desc: str | None = None,
    max_steps: int | None = None,
) -> list[float]:
    """Train with teacher forcing for ``epochs`` passes over ``batches``; returns the loss of every step.

    The batches are visited in a fresh order each epoch (drawn from ``seed``), the
    gradient norm is clipped to ``clip``, and ``schedule(step)`` multiplies the
    learning rate when given (e.g. a warm-up). Batches are moved to the model's device.
    ``max_steps`` stops early, after exactly the steps a full run would take first.
    """
    if epochs < 1 or not batches:
        raise ValueError(text("epochs는 1 이상이고 batches는 비어 있지 않아야 합니다",
                              "epochs must be at least 1 and batches must not be empty"))
    if max_steps is not None and max_steps < 1:
        raise ValueError(text(f"max_steps는 1 이상이어야 합니다: {max_steps!r}",
                              f"max_steps must be at least 1, got {max_steps!r}"))
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) if schedule else None
    pad_id = model.config.pad_id
    losses = []
    model.train()
    steps = batch_order(len(batches), epochs, seed)[:max_steps]
    for index in progress(steps, desc=desc):
        batch = batches[index].to(device)
        logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
        loss = sequence_loss(logits, batch.tgt_out, pad_id, label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach())  # read once, after the loop: no wait for the device at every step
    model.eval()
    return torch.stack(losses).tolist()

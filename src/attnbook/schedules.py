"""The Transformer's learning-rate schedule (Vaswani et al., 2017, §5.3, eq. 3).

    lrate = d_model^-0.5 · min(step_num^-0.5, step_num · warmup_steps^-1.5)

The rate rises linearly for the first ``warmup_steps`` steps, peaks at step_num =
warmup_steps with (d_model · warmup_steps)^-0.5, then decays as step_num^-0.5.
The paper used warmup_steps = 4000 with Adam (β₁ = 0.9, β₂ = 0.98, ε = 10⁻⁹).
"""

from __future__ import annotations

from dataclasses import dataclass

from attnbook.language import text

__all__ = ["WarmupSchedule"]


@dataclass(frozen=True)
class WarmupSchedule:
    """Eq. (3) as a learning-rate *multiplier*: ``train(model, batches, lr=1.0, schedule=WarmupSchedule(64, 400))``.

    ``attnbook.training.train`` (through ``torch.optim.lr_scheduler.LambdaLR``) uses
    lr × schedule(step), so ``lr=1.0`` gives the paper's rates exactly and another lr
    scales the whole curve (the peak becomes lr · (d_model · warmup)^-0.5). LambdaLR
    counts optimizer steps from 0 while the paper counts from 1: ``schedule(step)`` is
    the paper's rate at step_num = step + 1, so the first update already has a rate > 0.
    """

    d_model: int
    warmup: int = 4000

    def __post_init__(self) -> None:
        for name in ("d_model", "warmup"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다. 받은 값: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))

    def __call__(self, step: int) -> float:
        """The multiplier for optimizer step ``step`` (0, 1, 2, …): eq. (3) at step_num = step + 1."""
        step_num = step + 1
        return self.d_model**-0.5 * min(step_num**-0.5, step_num * self.warmup**-1.5)

    @property
    def peak(self) -> float:
        """The largest multiplier, (d_model · warmup)^-0.5, reached at step_num = warmup."""
        return (self.d_model * self.warmup) ** -0.5

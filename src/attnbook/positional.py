"""Sinusoidal positional encoding (Vaswani et al., 2017, §3.5).

Self-attention treats its input as a set: permute the tokens and the outputs are
permuted the same way. The Transformer therefore adds to each token's embedding a
vector that depends only on its position:

    PE(pos, 2i)   = sin(pos / 10000^{2i/d_model})
    PE(pos, 2i+1) = cos(pos / 10000^{2i/d_model})

Column pair (2i, 2i+1) turns at the angular frequency ω_i = 10000^{-2i/d_model}, so
the wavelengths run from 2π to 10000·2π. Because sin and cos of pos + k are sums of
products of sin and cos of pos and of k, PE(pos + k) is a rotation of PE(pos) by
angles ω_i·k that do not depend on pos: the model can learn to attend by relative
position (§3.5).

Shape legend: B batch · T length · L table length · D model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnbook.language import text

__all__ = ["PositionalEncoding", "sinusoidal_encoding"]


def sinusoidal_encoding(length: int, d_model: int, *, dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> Tensor:
    """The (L, D) table of §3.5: PE(pos, 2i) = sin(pos/10000^{2i/D}), PE(pos, 2i+1) = cos(pos/10000^{2i/D})."""
    for name, value in (("length", length), ("d_model", d_model)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다. 받은 값: {value!r}",
                                  f"{name} must be a positive integer, got {value!r}"))
    # Computed in float64: angles reach 10⁴ radians and lose digits in float32 before sin/cos.
    position = torch.arange(length, dtype=torch.float64, device=device)[:, None]  # pos: (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)  # 2i: (⌈D/2⌉,)
    angle = position / 10000 ** (two_i / d_model)  # pos / 10000^{2i/D}: (L, ⌈D/2⌉)
    table = torch.empty(length, d_model, dtype=torch.float64, device=device)  # (L, D)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # an odd D has one sine column more
    return table.to(dtype)


class PositionalEncoding(nn.Module):
    """Adds PE to (already scaled) embeddings, then dropout: dropout(x + PE[:T]), §3.5 and §5.4.

    The Transformer multiplies its embeddings by √d_model (§3.4) before calling this. The
    paper states no reason; with embeddings initialised N(0, 1/d_model), as chapter 6's
    model does, the product has entries of variance 1, the scale of PE (entries in [-1, 1],
    root mean square 1/√2); with N(0, 1) it would be √d_model times larger. The table is a buffer
    that is not saved with the weights (it is a function of the sizes) and follows the
    module to any device and dtype.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(text(f"dropout은 0 이상 1 미만이어야 합니다. 받은 값: {dropout!r}",
                                  f"dropout must be in [0, 1), got {dropout!r}"))
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)  # (L, D)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, T, D) → x + PE[:T] (B, T, D), with dropout in training."""
        max_len, d_model = self.table.shape
        if x.dim() != 3 or x.size(-1) != d_model:
            raise ValueError(text(f"x의 모양은 (B, T, D = {d_model})이어야 합니다. 받은 모양: {tuple(x.shape)}",
                                  f"x must have shape (B, T, D = {d_model}), got {tuple(x.shape)}"))
        if x.size(1) > max_len:
            raise ValueError(text(
                f"길이 {x.size(1)}은(는) 위치 인코딩 표의 길이 max_len = {max_len}보다 깁니다",
                f"length {x.size(1)} is longer than the positional table (max_len = {max_len})",
            ))
        return self.dropout(x + self.table[: x.size(1)])  # (B, T, D)

"""Chapter 3: the additive score (eq. 6) and the context vector (eq. 5)."""

import torch

WRONG_ANSWERS = {
    "additive_scores": [
        ("no-tanh", lambda s, h, W, U, v: ((s @ W.T)[:, None] + h @ U.T) @ v),
        ("softmaxed", lambda s, h, W, U, v: torch.softmax(torch.tanh((s @ W.T)[:, None] + h @ U.T) @ v, dim=-1)),
        ("tanh-outside", lambda s, h, W, U, v: torch.tanh(((s @ W.T)[:, None] + h @ U.T) @ v)),
        ("wrong-scores", lambda s, h, W, U, v: torch.tanh((s @ W.T)[:, None] + h @ U.T) @ v * 2),
        # tanh of each term on its own: tanh(W_a s) + tanh(U_a h) is not the one-hidden-layer network of eq. (6)
        ("wrong-scores", lambda s, h, W, U, v: (torch.tanh(s @ W.T)[:, None] + torch.tanh(h @ U.T)) @ v),
        ("raised", lambda s, h, W, U, v: torch.tanh(s @ W + h @ U) @ v),  # transposes forgotten: shape error
        ("raised", lambda s, h, W, U, v: torch.tanh(s @ W.T + h @ U.T) @ v),  # (B, A) + (B, S, A): no [:, None]
        ("no-v-a", lambda s, h, W, U, v: torch.tanh((s @ W.T)[:, None] + h @ U.T)),  # v_a forgotten
    ],
    "context_vector": [
        ("sum-over-features", lambda a, h: (a[:, :, None] * h).sum(dim=2)),
        ("not-summed", lambda a, h: a[:, :, None] * h),
        ("batch-mixed", lambda a, h: a @ h),  # (B, S) @ (B, S, Dk) → (B, B, Dk)
        ("ignores-weights", lambda a, h: h.mean(dim=1)),
        ("ignores-weights", lambda a, h: h.sum(dim=1)),
        ("wrong-context", lambda a, h: (a[:, :, None] * h).mean(dim=1)),
        ("wrong-shape", lambda a, h: (a[:, :, None] * h).sum(dim=0)),  # summed over the batch: (S, Dk)
    ],
}

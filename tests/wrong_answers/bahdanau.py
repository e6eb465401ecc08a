"""Chapter 3: the additive score (eq. 6) and masked additive attention over a padded batch (eqs. 5, 6)."""

import torch


def _attend(s, h, mask, W, U, v, *, fill=float("-inf"), where="scores", axis=-1, invert=False, tanh=True):
    """Masked additive attention as a reader might write it, with one of the usual mistakes switched on."""
    hidden = (s @ W.T)[:, None] + h @ U.T
    e = (torch.tanh(hidden) if tanh else hidden) @ v  # (B, S)
    hide = mask if invert else ~mask
    if where == "scores":
        e = e.masked_fill(hide, fill)
    weights = torch.softmax(e, dim=axis)
    if where == "weights":
        weights = weights * mask  # zeroed after the softmax, never renormalised
    if where == "values":
        h = h * mask[:, :, None]  # the padding's annotations zeroed instead of its scores
    return (weights[:, :, None] * h).sum(dim=1), weights


def _attend_in_place(s, h, mask, W, U, v):
    h.masked_fill_(~mask[:, :, None], 0.0)  # tidies the caller's annotations away
    return _attend(s, h, mask, W, U, v)


def _attend_renormalised(s, h, mask, W, U, v):
    """Zeroing after the softmax and renormalising is the same as -inf before it (not a mistake)."""
    weights = torch.softmax(torch.tanh((s @ W.T)[:, None] + h @ U.T) @ v, dim=-1) * mask
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return (weights[:, :, None] * h).sum(dim=1), weights


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
    "masked_additive_attention": [
        ("padmask-ignored", lambda *args: _attend(*args, where=None)),
        ("padmask-after-softmax", lambda *args: _attend(*args, where="weights")),
        ("padmask-zero-score", lambda *args: _attend(*args, fill=0.0)),
        ("padmask-inverted", lambda *args: _attend(*args, invert=True)),
        ("padmask-softmax-axis", lambda *args: _attend(*args, axis=0)),
        ("padmask-on-values", lambda *args: _attend(*args, where="values")),
        ("padmask-changed-input", _attend_in_place),
        ("padmask-order", lambda *args: tuple(reversed(_attend(*args)))),
        ("padmask-not-a-pair", lambda *args: _attend(*args)[0]),
        ("no-tanh", lambda *args: _attend(*args, tanh=False)),
        ("padmask-wrong-context", lambda *args: ((_attend(*args)[1][:, :, None] * args[1]).mean(dim=1),
                                                 _attend(*args)[1])),
        ("padmask-wrong-weights", lambda *args: _attend(*args, fill=-1.0)),  # a small "large negative" number
    ],
}

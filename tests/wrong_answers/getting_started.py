"""Chapter 0: softmax."""

import torch


def _no_max(scores):
    exps = scores.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


def _in_place(scores):
    scores -= scores.max(dim=-1, keepdim=True).values
    exps = scores.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


WRONG_ANSWERS = {
    "softmax": [
        ("whole-tensor", lambda s: s.exp() / s.exp().sum()),
        ("wrong-axis", lambda s: s.exp() / s.exp().sum(dim=0, keepdim=True)),
        ("wrong-axis", lambda s: torch.softmax(s, dim=1)),  # right for 2-D, wrong for a batch
        ("not-normalised", lambda s: (s - s.max(dim=-1, keepdim=True).values).exp()),
        ("overflow", _no_max),
        ("in-place", _in_place),
        ("negative", lambda s: s / s.sum(dim=-1, keepdim=True)),
        ("wrong-values", lambda s: torch.softmax(-s, dim=-1)),
        ("not-a-tensor", lambda s: torch.softmax(s, dim=-1).tolist()),
        ("not-a-tensor", lambda s: torch.softmax(s, dim=-1).numpy()),
        ("wrong-shape", lambda s: torch.softmax(s, dim=-1)[0]),
        ("wrong-dtype", lambda s: torch.softmax(s.double(), dim=-1)),
        ("raised", lambda s: s.softmax()),  # forgot the dim argument
    ],
}

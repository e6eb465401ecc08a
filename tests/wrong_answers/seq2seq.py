"""Chapter 2: teacher-forcing inputs/targets and greedy decoding."""

import torch


def _greedy_never_stops(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        tokens.append(previous.item())
    return tokens


def _greedy_keeps_eos(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        tokens.append(previous.item())
        if previous.item() == model.config.eos_id:
            break
    return tokens


def _greedy_always_bos(model, src, src_mask, max_len):
    state, bos, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, bos)  # forgot to feed the prediction back
        best = log_probs.argmax(dim=-1).item()
        if best == model.config.eos_id:
            break
        tokens.append(best)
    return tokens


def _greedy_one_too_many(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len + 1):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        if previous.item() == model.config.eos_id:
            break
        tokens.append(previous.item())
    return tokens


def _greedy_with_bos(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), [model.config.bos_id]
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1)
        if previous.item() == model.config.eos_id:
            break
        tokens.append(previous.item())
    return tokens


def _greedy_feeds_an_int(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1).item()  # a Python int, not a (1,) tensor
        if previous == model.config.eos_id:
            break
        tokens.append(previous)
    return tokens


def _greedy_keepdim(model, src, src_mask, max_len):
    state, previous, tokens = model.start(src, src_mask), torch.tensor([model.config.bos_id]), []
    for _ in range(max_len):
        log_probs, state, _ = model.step(state, previous)
        previous = log_probs.argmax(dim=-1, keepdim=True)  # (1, 1): one axis too many
        if previous.item() == model.config.eos_id:
            break
        tokens.append(previous.item())
    return tokens


WRONG_ANSWERS = {
    "decoder_inputs_and_targets": [
        ("swapped", lambda y, bos, eos: ([*y, eos], [bos, *y])),
        ("not-shifted", lambda y, bos, eos: ([bos, *y, eos], [bos, *y, eos])),
        ("missing-bos", lambda y, bos, eos: (list(y), [*y, eos])),
        ("missing-eos", lambda y, bos, eos: ([bos, *y], list(y))),
        ("wrong-tokens", lambda y, bos, eos: ([bos, *y[:-1]], [*y, eos])),  # dropped the last input
        ("missing-bos", lambda y, bos, eos: ([eos, *y], [*y, eos])),  # </s> where <s> belongs
        ("not-a-pair", lambda y, bos, eos: [bos, *y, eos]),
    ],
    "greedy": [
        ("never-stops", _greedy_never_stops),
        ("keeps-eos", _greedy_keeps_eos),
        ("not-fed-back", _greedy_always_bos),
        ("too-long", _greedy_one_too_many),
        ("keeps-bos", _greedy_with_bos),
        ("not-a-list", lambda model, src, src_mask, max_len: "5 6 7"),
        ("previous-shape", _greedy_feeds_an_int),
        ("previous-shape", _greedy_keepdim),
    ],
}

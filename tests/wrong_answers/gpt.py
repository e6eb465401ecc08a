"""Chapter 8: the shifted loss, top-p and top-k probabilities, a cached attention step, the copy model's perplexity."""

import itertools
import math

import torch
import torch.nn.functional as F

# --- padded_next_token_loss --------------------------------------------------------------------------------


def _loss(logits, input_ids, attention_mask, *, shift="right", mask="both", reduce="mean"):
    """The shifted loss as a reader might write it, with one of the usual mistakes switched on."""
    real = attention_mask.bool()
    if shift == "right":
        predictions, targets = logits[:, :-1], input_ids[:, 1:]
        counted = {"both": real[:, :-1] & real[:, 1:], "targets": real[:, 1:], "sources": real[:, :-1],
                   "none": torch.ones_like(real[:, 1:])}[mask]
    elif shift == "none":
        predictions, targets, counted = logits, input_ids, real
    else:  # "wrong way": position t + 1 predicts token t
        predictions, targets, counted = logits[:, 1:], input_ids[:, :-1], real[:, :-1] & real[:, 1:]
    losses = F.cross_entropy(predictions.transpose(1, 2), targets, reduction="none")  # (B, n)
    if reduce == "mean":
        return losses[counted].mean()
    if reduce == "over-all":
        return (losses * counted).sum() / counted.numel()
    if reduce == "per-sentence":
        return ((losses * counted).sum(1) / counted.sum(1)).mean()
    return losses[counted].sum()


def _loss_multiplied_mask(logits, input_ids, attention_mask):
    """The pair mask made by multiplying: bool stays bool, but 🤗's 0/1 integers then index positions."""
    counted = attention_mask[:, :-1] * attention_mask[:, 1:]
    return F.cross_entropy(logits[:, :-1][counted], input_ids[:, 1:][counted])


def _loss_unflattened(logits, input_ids, attention_mask):
    targets = input_ids[:, 1:].masked_fill(~(attention_mask[:, 1:].bool() & attention_mask[:, :-1].bool()), -100)
    return F.cross_entropy(logits[:, :-1], targets)  # classes expected on dim 1


def _loss_in_place(logits, input_ids, attention_mask):
    real = attention_mask.bool()
    input_ids[~real] = -100  # "the pads are ignored now"
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), input_ids[:, 1:].flatten().masked_fill(~real[:, :-1].flatten(),
                                                                                                 -100))


# --- top_p_probabilities ----------------------------------------------------------------------------------


def _top_p_like_blog_posts(logits, p):
    """Keep the sorted tokens while the cumulative sum is below p: the token that crosses p is dropped."""
    probs = logits.softmax(-1)
    ordered, order = probs.sort(dim=-1, descending=True)
    keep_sorted = ordered.cumsum(-1) < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def _top_p_split_tie(logits, p):
    """🤗-style: drop the sorted tokens whose cumulative sum exceeds p, shifted by one; ties split by position."""
    probs = logits.softmax(-1)
    ordered, order = probs.sort(dim=-1, descending=True)
    drop = ordered.cumsum(-1) > p
    drop[..., 1:] = drop[..., :-1].clone()
    drop[..., 0] = False
    keep = ~torch.zeros_like(drop).scatter(-1, order, drop)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def _top_p_ascending(logits, p):
    """The tail kept instead of the head: sorted least probable first, kept while the sum stays ≤ p."""
    probs = logits.softmax(-1)
    ordered, order = probs.sort(dim=-1)
    keep_sorted = ordered.cumsum(-1) <= p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def _top_p_not_renormalised(logits, p):
    from attnbook.exercises.gpt import top_p_probabilities

    probs = logits.softmax(-1)
    return probs * (top_p_probabilities(logits, p) > 0)


def _top_p_logits(logits, p):
    from attnbook.sampling import top_p_filter

    return top_p_filter(logits, p)  # the logits, −∞ outside: what sampling needs, not the probabilities asked for


def _top_p_sorted(logits, p):
    from attnbook.exercises.gpt import top_p_probabilities

    return top_p_probabilities(logits, p).sort(dim=-1, descending=True).values  # never scattered back


def _top_p_unsorted(logits, p):
    probs = logits.softmax(-1)
    keep = (probs.cumsum(-1) - probs) < p  # the cumulative sum over the vocabulary as it comes
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def _top_p_on_logits(logits, p):
    ordered, order = logits.sort(dim=-1, descending=True)
    keep_sorted = (ordered.cumsum(-1) - ordered) < p  # logits added up as if they were probabilities
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = logits.softmax(-1) * keep
    return kept / kept.sum(-1, keepdim=True)


def _top_p_shifted_twice(logits, p):
    """Two recipes mixed: the sum *before* each token, and then 🤗's shift by one on top."""
    probs = logits.softmax(-1)
    ordered, order = probs.sort(dim=-1, descending=True)
    drop = (ordered.cumsum(-1) - ordered) >= p
    drop[..., 1:] = drop[..., :-1].clone()
    drop[..., 0] = False
    keep = ~torch.zeros_like(drop).scatter(-1, order, drop)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def _top_p_in_place(logits, p):
    from attnbook.sampling import top_p_filter

    logits.copy_(top_p_filter(logits, p))
    return logits.softmax(-1)


# --- top_k_probabilities ----------------------------------------------------------------------------------


def _top_k(logits, k, *, kth="k-1", compare=">=", largest=True, normalise=True):
    probs = logits.softmax(-1)
    values = probs.topk(min(k + 1, probs.size(-1)), dim=-1, largest=largest).values
    threshold = values[..., {"k-1": k - 1, "k": k}[kth]: {"k-1": k - 1, "k": k}[kth] + 1]
    keep = probs >= threshold if compare == ">=" else probs > threshold
    if not largest:
        keep = probs <= threshold
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True) if normalise else kept


def _top_k_indices(logits, k):
    """Exactly k by topk's indices: a tie at the k-th is split by the sort."""
    probs = logits.softmax(-1)
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, probs.topk(k, dim=-1).indices, True)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


# --- attend_with_cache ------------------------------------------------------------------------------------


def _step(past_keys, past_values, past_mask, query, key, value, *, dim=2, new_first=False, padding=True,
          causal="right", scale=True, fill=-math.inf, in_place=False):
    """One cached attention step as a reader might write it, with one of the usual mistakes switched on."""
    S, T = past_keys.size(2), query.size(2)
    parts = (key, past_keys) if new_first else (past_keys, key)
    keys = torch.cat(parts, dim=dim)
    values = torch.cat((value, past_values) if new_first else (past_values, value), dim=dim)
    ones = torch.ones(T, S + T, dtype=torch.bool)
    allowed = {"right": ones.tril(S), "none": ones, "first-rows": torch.ones(S + T, S + T, dtype=torch.bool).tril()[:T],
               "past-only": ones.tril(S - 1)}[causal]
    if in_place:
        past_mask = torch.cat([past_mask, torch.ones(past_mask.size(0), T, dtype=torch.bool)], dim=1)
    real = torch.cat([past_mask, torch.ones(past_mask.size(0), T, dtype=torch.bool)], dim=1)[:, :S + T]
    visible = allowed & (real[:, None, None, :] if padding else True)
    scores = query @ keys.transpose(-2, -1) / (math.sqrt(query.size(-1)) if scale else 1.0)
    weights = scores.masked_fill(~visible, fill).softmax(-1)
    if in_place:
        past_keys.zero_()  # "the old cache is not needed any more"
    return weights @ values, keys, values


def _step_masked_after(past_keys, past_values, past_mask, query, key, value):
    """The mask applied to the weights after the softmax: the hidden keys' share is simply lost."""
    S, T = past_keys.size(2), query.size(2)
    keys, values = torch.cat([past_keys, key], 2), torch.cat([past_values, value], 2)
    visible = torch.ones(T, S + T, dtype=torch.bool).tril(S) & torch.cat(
        [past_mask, torch.ones(past_mask.size(0), T, dtype=torch.bool)], 1)[:, None, None, :]
    weights = (query @ keys.transpose(-2, -1) / math.sqrt(query.size(-1))).softmax(-1) * visible
    return weights @ values, keys, values


def _step_attend_past_then_append(past_keys, past_values, past_mask, query, key, value):
    """Attention over the cache as it was, the new keys appended only afterwards (T = 1 thinking)."""
    if past_keys.size(2) == 0:
        return _step(past_keys, past_values, past_mask, query, key, value)
    scores = query @ past_keys.transpose(-2, -1) / math.sqrt(query.size(-1))
    weights = scores.masked_fill(~past_mask[:, None, None, :], -math.inf).softmax(-1)
    return weights @ past_values, torch.cat([past_keys, key], 2), torch.cat([past_values, value], 2)


def _step_torch_mask(past_keys, past_values, past_mask, query, key, value):
    """F.scaled_dot_product_attention given the mask of what to hide, as torch.nn's key_padding_mask is."""
    S, T = past_keys.size(2), query.size(2)
    keys, values = torch.cat([past_keys, key], 2), torch.cat([past_values, value], 2)
    visible = torch.ones(T, S + T, dtype=torch.bool).tril(S) & torch.cat(
        [past_mask, torch.ones(past_mask.size(0), T, dtype=torch.bool)], 1)[:, None, None, :]
    return F.scaled_dot_product_attention(query, keys, values, attn_mask=~visible), keys, values


# --- copy_model_perplexity --------------------------------------------------------------------------------


def _copy(sentences, q, vocab_size, *, first=False, joined=False, miss="right", per_sentence=False, power="exp"):
    if joined:
        sentences = [[t for s in sentences for t in s]]
    p_miss = {"right": (1 - q) / (vocab_size - 1), "over-V": (1 - q) / vocab_size, "whole": 1 - q}[miss]
    per = []
    for s in sentences:
        losses = [-math.log(q if a == b else p_miss) for a, b in itertools.pairwise(s)]
        if first and s:
            losses.insert(0, -math.log(p_miss))
        per.append(losses)
    if per_sentence:
        values = [math.exp(sum(ls) / len(ls)) for ls in per if ls]
        return sum(values) / len(values)
    flat = [x for ls in per for x in ls]
    loss = sum(flat) / len(flat)
    return {"exp": math.exp(loss), "none": loss, "two": 2 ** loss}[power]


def _copy_by_running(sentences, q, vocab_size):
    from attnbook.gpt import next_token_loss

    T = max(len(s) for s in sentences)
    ids = torch.tensor([s + [0] * (T - len(s)) for s in sentences])
    mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in sentences])
    logits = torch.full((len(sentences), T, vocab_size), math.log((1 - q) / (vocab_size - 1)))
    logits.scatter_(-1, ids[..., None], math.log(q))
    return math.exp(next_token_loss(logits, ids, mask).item())


WRONG_ANSWERS = {
    "padded_next_token_loss": [
        ("ntl-no-shift", lambda lg, ids, m: _loss(lg, ids, m, shift="none")),
        ("ntl-wrong-way", lambda lg, ids, m: _loss(lg, ids, m, shift="wrong way")),
        ("ntl-pad-counted", lambda lg, ids, m: _loss(lg, ids, m, mask="none")),
        ("ntl-pad-counted", lambda lg, ids, m: F.cross_entropy(lg[:, :-1].flatten(0, 1), ids[:, 1:].flatten())),
        ("ntl-target-mask-only", lambda lg, ids, m: _loss(lg, ids, m, mask="targets")),
        ("ntl-source-mask-only", lambda lg, ids, m: _loss(lg, ids, m, mask="sources")),
        ("ntl-mean-over-all", lambda lg, ids, m: _loss(lg, ids, m, reduce="over-all")),
        ("ntl-per-sentence", lambda lg, ids, m: _loss(lg, ids, m, reduce="per-sentence")),
        ("ntl-sum", lambda lg, ids, m: _loss(lg, ids, m, reduce="sum")),
        ("ntl-mask-dtype", _loss_multiplied_mask),
        ("ntl-axis", _loss_unflattened),
        ("ntl-changed-input", _loss_in_place),
        ("loss-detached", lambda lg, ids, m: torch.tensor(_loss(lg, ids, m).item())),
        ("ntl-not-scalar",
         lambda lg, ids, m: F.cross_entropy(lg[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")),
    ],
    "top_p_probabilities": [
        ("tp-too-few", _top_p_like_blog_posts),
        ("filter-tie", _top_p_split_tie),
        ("filter-wrong-tail", _top_p_ascending),
        ("filter-not-renormalised", _top_p_not_renormalised),
        ("filter-logits", _top_p_logits),
        ("filter-sorted", _top_p_sorted),
        ("filter-unsorted", _top_p_unsorted),
        ("tp-logits-cumsum", _top_p_on_logits),
        ("tp-too-many", _top_p_shifted_twice),
        ("filter-changed-input", _top_p_in_place),
        ("filter-nothing", lambda logits, p: logits.softmax(-1)),
    ],
    "top_k_probabilities": [
        ("tk-k-minus-one", lambda logits, k: _top_k(logits, k, compare=">")),
        ("tk-k-plus-one", lambda logits, k: _top_k(logits, k, kth="k")),
        ("filter-tie", _top_k_indices),
        ("filter-wrong-tail", lambda logits, k: _top_k(logits, k, largest=False)),
        ("filter-not-renormalised", lambda logits, k: _top_k(logits, k, normalise=False)),
        ("tk-large-k", lambda logits, k: _top_k(logits, k) if k <= logits.size(-1) else logits.topk(k).values),
    ],
    "attend_with_cache": [
        ("kv-cat-dim", lambda *a: _step(*a, dim=1)),
        ("kv-cat-dim", lambda *a: _step(*a, dim=3)),
        ("kv-order", lambda *a: _step(*a, new_first=True)),
        ("kv-no-padding", lambda *a: _step(*a, padding=False)),
        ("kv-future", lambda *a: _step(*a, causal="none")),
        ("kv-mask-rows", lambda *a: _step(*a, causal="first-rows")),
        ("kv-not-itself", lambda *a: _step(*a, causal="past-only")),
        ("kv-not-itself", _step_attend_past_then_append),
        ("kv-scale", lambda *a: _step(*a, scale=False)),
        ("kv-fill-zero", lambda *a: _step(*a, fill=0.0)),
        ("kv-fill-zero", _step_masked_after),
        ("kv-inverted", _step_torch_mask),
        ("kv-changed-input", lambda *a: _step(*a, in_place=True)),
        ("kv-return", lambda *a: _step(*a)[0]),
    ],
    "copy_model_perplexity": [
        ("cp-first-token", lambda s, q, v: _copy(s, q, v, first=True)),
        ("cp-across-sentences", lambda s, q, v: _copy(s, q, v, joined=True)),
        ("cp-miss-spread", lambda s, q, v: _copy(s, q, v, miss="over-V")),
        ("cp-miss-spread", lambda s, q, v: _copy(s, q, v, miss="whole")),
        ("cp-per-sentence", lambda s, q, v: _copy(s, q, v, per_sentence=True)),
        ("cp-not-exp", lambda s, q, v: _copy(s, q, v, power="none")),
        ("cp-base", lambda s, q, v: _copy(s, q, v, power="two")),
        ("cp-ran-model", _copy_by_running),
        ("cp-not-a-number", lambda s, q, v: f"{_copy(s, q, v):.2f}"),
    ],
}

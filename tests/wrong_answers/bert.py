"""Chapter 7: BERT's masking, the masked-LM loss, next-sentence pairs, and the masking prediction."""

import random

import torch
import torch.nn.functional as F

# --- mask_tokens -----------------------------------------------------------------------------------------


def _mask(input_ids, special_ids, mask_id, vocab_size, generator, *, skip_specials=True, specials=None,
          draw_shape=None, rate=0.15, split="one-draw", pool="non-special", labels_from="original",
          ignore=-100, label="chosen", in_place=False, use_generator=True, fixed_seed=None):
    """BERT's masking as a reader might write it, with one of the usual mistakes switched on."""
    if fixed_seed is not None:
        generator = torch.Generator().manual_seed(fixed_seed)
    g = {"generator": generator} if use_generator else {}
    specials = special_ids if specials is None else specials
    special = torch.isin(input_ids, torch.tensor(specials))
    shape = input_ids.shape if draw_shape is None else draw_shape(input_ids)
    chosen = torch.rand(shape, **g) < rate
    if skip_specials:
        chosen = chosen & ~special
    chosen = chosen.expand(input_ids.shape)
    if split == "one-draw":
        action = torch.rand(input_ids.shape, **g)
        masked, replaced = chosen & (action < 0.8), chosen & (action >= 0.8) & (action < 0.9)
    elif split == "independent":  # the 10 % random drawn again, among the tokens not masked
        masked = chosen & (torch.rand(input_ids.shape, **g) < 0.8)
        replaced = chosen & ~masked & (torch.rand(input_ids.shape, **g) < 0.1)
    else:  # "all-mask": no random tokens, nothing kept
        masked, replaced = chosen, torch.zeros_like(chosen)
    words = torch.tensor([i for i in range(vocab_size) if i not in special_ids])
    if pool == "non-special":
        random_words = words[torch.randint(len(words), input_ids.shape, **g)]
    elif pool == "vocabulary":
        random_words = torch.randint(vocab_size, input_ids.shape, **g)
    elif pool == "index":  # the index into the list of words, never turned into the word's id
        random_words = torch.randint(len(words), input_ids.shape, **g)
    else:  # "one": a single random token for every replaced position
        random_words = words[torch.randint(len(words), (1,), **g)].expand(input_ids.shape)
    inputs = input_ids if in_place else input_ids.clone()
    original = input_ids.clone()
    inputs[masked] = mask_id
    inputs[replaced] = random_words[replaced]
    labelled = {"chosen": chosen, "changed": masked | replaced, "masked": masked}[label]
    source = {"original": original, "inputs": inputs}[labels_from]
    return inputs, torch.where(labelled, source, ignore)


def _mask_counting_padding(input_ids, special_ids, mask_id, vocab_size, generator):
    """Google-style: a fixed count per sentence, but the count taken from the padded length."""
    special = torch.isin(input_ids, torch.tensor(special_ids))
    count = round(0.15 * input_ids.shape[1])
    scores = torch.rand(input_ids.shape, generator=generator).masked_fill(special, 2.0)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    chosen = ranks < count
    inputs = input_ids.clone()
    action = torch.rand(input_ids.shape, generator=generator)
    words = torch.tensor([i for i in range(vocab_size) if i not in special_ids])
    random_words = words[torch.randint(len(words), input_ids.shape, generator=generator)]
    inputs[chosen & (action < 0.8)] = mask_id
    replaced = chosen & (action >= 0.8) & (action < 0.9)
    inputs[replaced] = random_words[replaced]
    return inputs, torch.where(chosen, input_ids, -100)


def _mask_labels_everywhere(input_ids, special_ids, mask_id, vocab_size, generator):
    inputs, _ = _mask(input_ids, special_ids, mask_id, vocab_size, generator)
    return inputs, input_ids.clone()  # "the model predicts every token"


# --- mlm_loss ------------------------------------------------------------------------------------------


def _mlm_mean_over_all(logits, batch):
    losses = F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), reduction="none")  # 0 where ignored
    return losses.mean()


def _mlm_corrupted_targets(logits, batch):
    targets = batch.inputs.masked_fill(~batch.chosen, -100)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _mlm_only_masked(logits, batch):
    return F.cross_entropy(logits[batch.masked], batch.labels[batch.masked])


def _mlm_gather_everything(logits, batch):
    log_probs = torch.log_softmax(logits, dim=-1)
    return -log_probs.gather(-1, batch.labels[..., None]).mean()  # -100 is no index


def _mlm_clamped(logits, batch):
    return F.cross_entropy(logits.flatten(0, 1), batch.labels.clamp(min=0).flatten())


def _mlm_wrong_axis(logits, batch):
    return F.cross_entropy(logits, batch.labels)  # F.cross_entropy wants the classes on dim 1


def _mlm_sum(logits, batch):
    return F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), reduction="sum")


def _mlm_per_sequence(logits, batch):
    per_token = F.cross_entropy(logits.transpose(1, 2), batch.labels, reduction="none")  # (B, T)
    return (per_token.sum(1) / batch.chosen.sum(1)).mean()


def _mlm_item(logits, batch):
    return torch.tensor(F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten()).item())


# --- nsp_pairs -----------------------------------------------------------------------------------------


def _pairs(documents, generator, *, negatives="other-documents", positive="next", labels=(0, 1), p_next=0.5,
           rng="generator"):
    """Next-sentence pairs as a reader might make them, with one of the usual mistakes switched on."""
    def coin():
        return random.random() if rng == "python" else torch.rand((), generator=generator).item()

    def pick(n):
        return random.randrange(n) if rng == "python" else int(torch.randint(n, (), generator=generator))

    is_next, not_next = labels
    everything = [s for document in documents for s in document]
    pairs = []
    for d, document in enumerate(documents):
        others = [s for e, other in enumerate(documents) if e != d for s in other]
        for i in range(len(document) - 1):
            if coin() < p_next:
                b = document[i + 1] if positive == "next" else document[pick(len(document))]
                pairs.append((document[i], b, is_next))
            elif negatives == "other-documents":
                pairs.append((document[i], others[pick(len(others))], not_next))
            elif negatives == "corpus":
                pairs.append((document[i], everything[pick(len(everything))], not_next))
            else:  # "next-document": always the first sentence of the following document
                following = next(other for other in documents[d + 1:] + documents[:d] if other)
                pairs.append((document[i], following[0], not_next))
    return pairs


def _pairs_as_one_stream(documents, generator):
    """The corpus read as one long text: the last sentence of a document 'continues' into the next."""
    sentences = [s for document in documents for s in document]
    owner = [d for d, document in enumerate(documents) for _ in document]
    pairs = []
    for k in range(len(sentences) - 1):
        if torch.rand((), generator=generator) < 0.5:
            pairs.append((sentences[k], sentences[k + 1], 0))
        else:
            others = [s for s, d in zip(sentences, owner, strict=True) if d != owner[k]]
            pairs.append((sentences[k], others[int(torch.randint(len(others), (), generator=generator))], 1))
    return pairs


def _pairs_both(documents, generator):
    pairs = []
    for d, document in enumerate(documents):
        others = [s for e, other in enumerate(documents) if e != d for s in other]
        for i in range(len(document) - 1):
            pairs.append((document[i], document[i + 1], 0))
            pairs.append((document[i], others[int(torch.randint(len(others), (), generator=generator))], 1))
    return pairs


def _pairs_in_halves(documents, generator):
    """Exactly half real: the first half of the pairs real, the second half random."""
    firsts = [(d, i) for d, document in enumerate(documents) for i in range(len(document) - 1)]
    pairs = []
    for k, (d, i) in enumerate(firsts):
        if k < len(firsts) // 2:
            pairs.append((documents[d][i], documents[d][i + 1], 0))
        else:
            others = [s for e, other in enumerate(documents) if e != d for s in other]
            pairs.append((documents[d][i], others[int(torch.randint(len(others), (), generator=generator))], 1))
    return pairs


# --- predict_masking -----------------------------------------------------------------------------------


def _predict(rate, split, pool, *, labelled="rate", changed="exact", copy="exact"):
    p_mask, p_random, p_keep = split
    exact_changed = rate * (p_mask + p_random * (1 - 1 / pool))
    return (
        {"rate": rate, "masked": rate * p_mask, "changed": rate * (p_mask + p_random)}[labelled],
        {"exact": exact_changed, "ninety": rate * (p_mask + p_random), "all": rate, "mask": rate * p_mask,
         "of-chosen": p_mask + p_random * (1 - 1 / pool)}[changed],
        {"exact": p_keep + p_random / pool, "keep": p_keep, "keep-and-random": p_keep + p_random,
         "everywhere": 1 - exact_changed}[copy],
    )


def _predict_by_running(rate, split, pool):
    from attnbook.corruption import bert_masking

    ids = 3 + torch.randint(pool, (100, 200))
    out = bert_masking(ids, vocab_size=pool + 3, special_ids=[0, 1, 2], mask_id=2, rate=rate, split=split,
                       generator=torch.Generator().manual_seed(torch.randint(1000, ()).item()))
    return (out.chosen.double().mean().item(), (out.inputs != ids).double().mean().item(),
            (out.inputs == ids)[out.chosen].double().mean().item())


WRONG_ANSWERS = {
    "mask_tokens": [
        ("bm-chose-special", lambda *a: _mask(*a, skip_specials=False)),
        ("bm-chose-special", lambda ids, s, m, v, g: _mask(ids, s, m, v, g, specials=[0, 1, 2, 3, 4])),  # fixed ids
        ("bm-labels-everywhere", _mask_labels_everywhere),
        ("bm-label-corrupted", lambda *a: _mask(*a, labels_from="inputs")),
        ("bm-in-place", lambda *a: _mask(*a, in_place=True)),
        ("bm-ignore-index", lambda *a: _mask(*a, ignore=0)),
        ("bm-random-special", lambda *a: _mask(*a, pool="vocabulary")),
        ("bm-random-special", lambda *a: _mask(*a, pool="index")),
        ("bm-random-narrow", lambda *a: _mask(*a, pool="one")),
        ("bm-ignores-generator", lambda *a: _mask(*a, use_generator=False)),
        ("bm-fixed", lambda *a: _mask(*a, fixed_seed=0)),
        ("bm-same-positions", lambda *a: _mask(*a, draw_shape=lambda ids: ids.shape[1:])),
        ("bm-always-mask", lambda *a: _mask(*a, split="all-mask")),
        ("bm-no-kept", lambda *a: _mask(*a, label="changed")),
        ("bm-changed-unlabelled", lambda *a: _mask(*a, label="masked")),
        ("bm-split", lambda *a: _mask(*a, split="independent")),
        ("bm-rate", lambda *a: _mask(*a, rate=0.15 * 0.8)),
        ("bm-rate", _mask_counting_padding),
    ],
    "mlm_loss": [
        ("mlm-all-positions", _mlm_mean_over_all),
        ("mlm-corrupted-targets", _mlm_corrupted_targets),
        ("mlm-only-masked", _mlm_only_masked),
        ("mlm-ignore", _mlm_gather_everything),
        ("mlm-ignore", _mlm_clamped),
        ("mlm-axis", _mlm_wrong_axis),
        ("mlm-sum", _mlm_sum),
        ("mlm-per-sequence", _mlm_per_sequence),
        ("mlm-sign", lambda logits, batch: -F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten())),
        ("loss-detached", _mlm_item),
        ("mlm-not-reduced",
         lambda logits, batch: F.cross_entropy(logits.transpose(1, 2), batch.labels, reduction="none")),
    ],
    "nsp_pairs": [
        ("nsp-negative-same-document", lambda docs, g: _pairs(docs, g, negatives="corpus")),
        ("nsp-positive-not-next", lambda docs, g: _pairs(docs, g, positive="same-document")),
        ("nsp-label-convention", lambda docs, g: _pairs(docs, g, labels=(1, 0))),
        ("nsp-label-values", lambda docs, g: _pairs(docs, g, labels=(True, False))),
        ("nsp-label-values", lambda docs, g: _pairs(docs, g, labels=("IsNext", "NotNext"))),
        ("nsp-label-values", lambda docs, g: _pairs(docs, g, labels=(1, 2))),  # the notes' "outputs 2"
        ("nsp-across-documents", _pairs_as_one_stream),
        ("nsp-both", _pairs_both),
        ("nsp-labels-fixed", _pairs_in_halves),
        ("nsp-balance", lambda docs, g: _pairs(docs, g, p_next=0.15)),
        ("nsp-ignores-generator", lambda docs, g: _pairs(docs, g, rng="python")),
        ("nsp-negatives-fixed", lambda docs, g: _pairs(docs, g, negatives="next-document")),
        ("nsp-return", lambda docs, g: [(a, b) for a, b, _ in _pairs(docs, g)]),
    ],
    "predict_masking": [
        ("pm-changed-random-same", lambda r, s, n: _predict(r, s, n, changed="ninety")),
        ("pm-changed-all", lambda r, s, n: _predict(r, s, n, changed="all")),
        ("pm-changed-no-random", lambda r, s, n: _predict(r, s, n, changed="mask")),
        ("pm-not-of-all", lambda r, s, n: _predict(r, s, n, changed="of-chosen")),
        ("pm-labelled-mask-only", lambda r, s, n: _predict(r, s, n, labelled="masked")),
        ("pm-labelled-changed-only", lambda r, s, n: _predict(r, s, n, labelled="changed")),
        ("pm-copy-random-same", lambda r, s, n: _predict(r, s, n, copy="keep")),
        ("pm-copy-random-counts", lambda r, s, n: _predict(r, s, n, copy="keep-and-random")),
        ("pm-copy-all-positions", lambda r, s, n: _predict(r, s, n, copy="everywhere")),
        ("pm-measured", _predict_by_running),
        ("pm-wrong", lambda r, s, n: (r, 1 - r, s[2] + s[1] / n)),  # "changed" read as the tokens not chosen
        ("pm-return", lambda r, s, n: {"labelled": r}),
    ],
}

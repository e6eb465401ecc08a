"""Appendix 10: the loss each rank back-propagates, each rank's shard, a ring all-reduce."""

import torch

# --- data_parallel_loss ------------------------------------------------------------------------------------


def _dp_local_mean(nll_sum, tokens, total_tokens, world_size):
    """Each rank's own mean, as on one process: DDP then averages the means."""
    return nll_sum / tokens


def _dp_local_mean_times_w(nll_sum, tokens, total_tokens, world_size):
    """× W remembered, but the local count kept."""
    return nll_sum * world_size / tokens


def _dp_global_mean(nll_sum, tokens, total_tokens, world_size):
    """The batch's mean, forgetting that DDP divides by W."""
    return nll_sum / total_tokens


def _dp_divided_twice(nll_sum, tokens, total_tokens, world_size):
    """Divided by W "because there are W ranks", on top of DDP's average."""
    return nll_sum / total_tokens / world_size


def _dp_local_times_w(nll_sum, tokens, total_tokens, world_size):
    """The batch's count guessed as tokens · W."""
    return nll_sum / (tokens * world_size)


def _dp_sum(nll_sum, tokens, total_tokens, world_size):
    return nll_sum


def _dp_item(nll_sum, tokens, total_tokens, world_size):
    """Right value, rebuilt from a Python number: no gradient."""
    return torch.tensor(nll_sum.item() * world_size / float(total_tokens))


def _dp_per_token(nll_sum, tokens, total_tokens, world_size):
    """Per-token losses spread out, as if the sum had been taken apart."""
    return (nll_sum * world_size / total_tokens).expand(int(tokens)) / int(tokens)


# --- rank_batches --------------------------------------------------------------------------------------------


def _rb_batches(rows, batch_size, *, keep_short=False):
    stop = len(rows) if keep_short else len(rows) - batch_size + 1
    return [rows[i:i + batch_size] for i in range(0, stop, batch_size)]


def _rb_blocks(order, rank, world_size, batch_size):
    """Each rank a contiguous block of the order."""
    per = len(order) // world_size
    return _rb_batches(order[rank * per:(rank + 1) * per], batch_size)


def _rb_no_truncation(order, rank, world_size, batch_size):
    """order[rank::W] without cutting order to a multiple of W first."""
    return _rb_batches(order[rank::world_size], batch_size)


def _rb_keep_short(order, rank, world_size, batch_size):
    """The short last batch kept (DataLoader's default drop_last=False)."""
    kept = len(order) // world_size * world_size
    return _rb_batches(order[rank:kept:world_size], batch_size, keep_short=True)


def _rb_range_minus_b(order, rank, world_size, batch_size):
    """range(0, len(rows) - b, b): an exactly full last batch is lost."""
    kept = len(order) // world_size * world_size
    rows = order[rank:kept:world_size]
    return [rows[i:i + batch_size] for i in range(0, len(rows) - batch_size, batch_size)]


def _rb_every_rank_the_same(order, rank, world_size, batch_size):
    """rank never used."""
    kept = len(order) // world_size * world_size
    return _rb_batches(order[0:kept:world_size], batch_size)


def _rb_positions(order, rank, world_size, batch_size):
    """The positions r, r + W, … rather than the rows at those positions."""
    kept = len(order) // world_size * world_size
    return _rb_batches(list(range(rank, kept, world_size)), batch_size)


def _rb_shuffles_in_place(order, rank, world_size, batch_size):
    """Right shards of a list it then shuffles for "the next epoch"."""
    from attnbook.exercises.scaling import rank_batches

    batches = rank_batches(list(order), rank, world_size, batch_size)
    order.reverse()
    return batches


def _rb_one_process_split(order, rank, world_size, batch_size):
    """One-process batches of b, dealt out in turn: rank r gets batches r, r + W, … (order not cut first)."""
    return _rb_batches(order, batch_size)[rank::world_size]


def _rb_reshuffled_per_rank(order, rank, world_size, batch_size):
    """The rank's shard shuffled again with a seed of its own: disjoint, but the k-th batches no longer match."""
    kept = len(order) // world_size * world_size
    rows = order[rank:kept:world_size]
    shuffled = torch.randperm(len(rows), generator=torch.Generator().manual_seed(rank)).tolist()
    return _rb_batches([rows[i] for i in shuffled], batch_size)


def _rb_own_seed(order, rank, world_size, batch_size):
    """Each rank shuffles the epoch with its own seed, then takes its interleaved share: shards overlap."""
    kept = len(order) // world_size * world_size
    shuffled = torch.randperm(len(order), generator=torch.Generator().manual_seed(rank)).tolist()
    return _rb_batches([order[i] for i in shuffled][rank:kept:world_size], batch_size)


# --- ring_all_reduce -----------------------------------------------------------------------------------------


def _ring_sum_everywhere(vectors, send):
    """What an all-reduce returns, without the all-reduce."""
    return [sum(vectors) for _ in vectors]


def _ring(vectors, send, *, neighbour=1, gather_adds=False, skip_gather=False, mean=False, chunker=None,
          same_chunk=False, scatter_steps=None, gather_steps=None):
    """The ring with one switch per usual mistake."""
    W = len(vectors)
    split = chunker or (lambda v: list(torch.tensor_split(v, W)))
    chunks = [split(v.clone()) for v in vectors]
    for step in range(W - 1 if scatter_steps is None else scatter_steps(W)):
        sent = [(r, r if same_chunk else (r - step) % W) for r in range(W)]
        arrived = [send(r, (r + neighbour) % W, c, chunks[r][c]) for r, c in sent]
        for (r, c), values in zip(sent, arrived, strict=True):
            chunks[(r + neighbour) % W][c] = chunks[(r + neighbour) % W][c] + values
    if not skip_gather:
        for step in range(W - 1 if gather_steps is None else gather_steps(W)):
            sent = [(r, (r + 1 - step) % W) for r in range(W)]
            arrived = [send(r, (r + 1) % W, c, chunks[r][c]) for r, c in sent]
            for (r, c), values in zip(sent, arrived, strict=True):
                chunks[(r + 1) % W][c] = chunks[(r + 1) % W][c] + values if gather_adds else values
    results = [torch.cat(pieces) for pieces in chunks]
    return [r / W for r in results] if mean else results


def _ring_left(vectors, send):
    return _ring(vectors, send, neighbour=-1)


def _ring_gather_adds(vectors, send):
    return _ring(vectors, send, gather_adds=True)


def _ring_reduce_scatter_only(vectors, send):
    return _ring(vectors, send, skip_gather=True)


def _ring_mean(vectors, send):
    """Divided by W at the end, as DDP does with gradients."""
    return _ring(vectors, send, mean=True)


def _ring_torch_chunk(vectors, send):
    """torch.chunk: other sizes than tensor_split when W does not divide n."""
    return _ring(vectors, send, chunker=lambda v: list(torch.chunk(v, len(vectors))))


def _ring_same_chunk(vectors, send):
    """Rank r sends its own chunk r at every reduce-scatter step."""
    return _ring(vectors, send, same_chunk=True)


def _ring_gather_w_steps(vectors, send):
    """range(W) for the all-gather: one step more than needed; right values, one chunk sent again."""
    return _ring(vectors, send, gather_steps=lambda W: W)


def _ring_scatter_w_steps(vectors, send):
    """range(W) for the reduce-scatter: a finished sum goes round once more (harmless at W = 2, only slower)."""
    return _ring(vectors, send, scatter_steps=lambda W: W)


def _ring_whole_vectors(vectors, send):
    """Each rank passes its whole vector around the ring, W − 1 times."""
    W = len(vectors)
    held = [v.clone() for v in vectors]
    totals = [v.clone() for v in vectors]
    for _ in range(W - 1):
        held = [send(r - 1 if r else W - 1, r, 0, held[r - 1]) for r in range(W)]
        totals = [t + h for t, h in zip(totals, held, strict=True)]
    return totals


def _ring_faked(vectors, send):
    """The right transfers on paper, but every rank sends sums computed from all the vectors."""
    W = len(vectors)
    total = [list(torch.tensor_split(sum(vectors), W)) for _ in range(W)]
    for step in range(2 * (W - 1)):
        for r in range(W):
            send(r, (r + 1) % W, (r - step) % W, total[r][(r - step) % W])
    return [torch.cat(pieces) for pieces in total]


WRONG_ANSWERS = {
    "data_parallel_loss": [
        ("dp-mean-of-means", _dp_local_mean),
        ("dp-mean-of-means", _dp_local_mean_times_w),
        ("dp-no-world-size", _dp_global_mean),
        ("dp-divided-by-w", _dp_divided_twice),
        ("dp-local-times-w", _dp_local_times_w),
        ("dp-sum", _dp_sum),
        ("loss-detached", _dp_item),
        ("dp-not-scalar", _dp_per_token),
    ],
    "rank_batches": [
        ("rb-contiguous", _rb_blocks),
        ("rb-uneven", _rb_no_truncation),
        ("rb-short-batch", _rb_keep_short),
        ("rb-off-by-one", _rb_range_minus_b),
        ("rb-same-rows", _rb_every_rank_the_same),
        ("rb-positions", _rb_positions),
        ("rb-changed-input", _rb_shuffles_in_place),
        ("rb-uneven", _rb_one_process_split),
        ("rb-union", _rb_reshuffled_per_rank),
        ("rb-overlap", _rb_own_seed),
    ],
    "ring_all_reduce": [
        ("ring-no-sends", _ring_sum_everywhere),
        ("ring-neighbour", _ring_left),
        ("ring-counted-twice", _ring_gather_adds),
        ("ring-no-all-gather", _ring_reduce_scatter_only),
        ("ring-mean", _ring_mean),
        ("ring-chunk-size", _ring_torch_chunk),
        ("ring-partial", _ring_same_chunk),
        ("ring-chunk-size", _ring_whole_vectors),
        ("ring-not-received", _ring_faked),
        ("ring-steps", _ring_gather_w_steps),
        ("ring-steps", _ring_scatter_w_steps),
    ],
}

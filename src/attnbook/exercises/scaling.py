"""Appendix 10 (scaling up): the loss each rank back-propagates, each rank's shard, and a ring all-reduce.

10.1 ``data_parallel_loss``: what one rank of W back-propagates so that DDP's averaged gradient is the
gradient of the one-process loss, a mean over the real tokens of the whole batch. The ranks hold
different token counts, so the mean of their means is not that mean: each rank scales its summed
negative log-likelihood by W / (the batch's token count, all-reduced), and DDP's division by W undoes
the W (Li et al., 2020, §3.2: DDP averages the gradients). The checker simulates W ranks, averages their
gradients as DDP does and compares with one process's gradient on the whole batch.
10.2 ``rank_batches``: the batches one rank reads in an epoch, as ``DistributedSampler(drop_last=True)``
and ``DataLoader(drop_last=True)`` cut them: keep a multiple of W rows of the epoch's order, give rank r
every W-th row from r, cut them into batches of b and drop a short last one. Any split passes whose
k-th batches, over the ranks, are disjoint and together the one-process k-th batch of W·b rows.
10.3 ``ring_all_reduce``: not code the appendix shows: the all-reduce NCCL and gloo run on big tensors
(Patarasuk and Yuan, 2009), on W vectors in one process. The function moves every chunk through the
checker's ``send``, which records it: the checker sees each step's transfers, what each chunk sent holds
(which ranks' pieces are summed in it), and whether a rank could have received that yet.

Shapes (10.3): W ranks · n elements per vector, n not a multiple of W in the checks; chunk c of a vector
is ``torch.tensor_split(vector, W)[c]``, n // W or n // W + 1 elements.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from attnbook.exercises.checking import Advice, Checker, as_integer, exercise
from attnbook.exercises.seq2seq import LOSS_DETACHED
from attnbook.language import text

Send = Callable[[int, int, int, torch.Tensor], torch.Tensor]

# --- the references ------------------------------------------------------------------------------------


def data_parallel_loss(nll_sum: torch.Tensor, tokens: int, total_tokens: int, world_size: int) -> torch.Tensor:
    """The loss this rank back-propagates under DDP: this rank's summed NLL · W / the batch's token count.

    ``nll_sum``: this rank's summed negative log-likelihood over its real tokens, a scalar tensor;
    ``tokens``: this rank's real-token count; ``total_tokens``: the count over all ranks (all-reduced);
    ``world_size``: W. DDP divides the summed gradients by W, which leaves Σ_r nll_r / total_tokens.
    """
    return nll_sum * world_size / total_tokens  # tokens is not needed: only the batch's count matters


def rank_batches(order: Sequence[int], rank: int, world_size: int, batch_size: int) -> list[list[int]]:
    """The batches (lists of rows) rank ``rank`` of ``world_size`` reads in an epoch whose rows come in ``order``.

    As ``DistributedSampler(drop_last=True)`` then ``DataLoader(batch_size, drop_last=True)``: a multiple of
    W rows is kept, rank r takes every W-th row from r, cut into batches of ``batch_size``.
    """
    kept = len(order) // world_size * world_size  # every rank gets as many rows
    mine = list(order[rank:kept:world_size])  # interleaved: r, r + W, r + 2W, …
    return [mine[i:i + batch_size] for i in range(0, len(mine) - batch_size + 1, batch_size)]  # full ones only


def ring_all_reduce(vectors: Sequence[torch.Tensor], send: Send) -> list[torch.Tensor]:
    """Every rank's copy of Σ_r vectors[r], by ring all-reduce; every chunk moves through ``send``.

    ``send(sender, receiver, chunk, values)`` carries chunk number ``chunk`` (``values``, a piece of
    ``torch.tensor_split(vector, W)``) from one rank to the next and returns what arrives. W − 1
    reduce-scatter steps, in which rank r sends chunk (r − s) mod W and its right neighbour adds it,
    leave rank r with the whole sum of chunk (r + 1) mod W; W − 1 all-gather steps pass the sums on.
    """
    W = len(vectors)
    chunks = [list(torch.tensor_split(vector.clone(), W)) for vector in vectors]  # chunks[r][c]: rank r's piece c
    for step in range(W - 1):  # reduce-scatter: each step, every rank sends one chunk at the same time
        sent = [(r, (r - step) % W) for r in range(W)]
        arrived = [send(r, (r + 1) % W, c, chunks[r][c]) for r, c in sent]
        for (r, c), values in zip(sent, arrived, strict=True):
            chunks[(r + 1) % W][c] = chunks[(r + 1) % W][c] + values  # the neighbour adds its own piece
    for step in range(W - 1):  # all-gather: rank r starts with chunk (r + 1) mod W, summed over every rank
        sent = [(r, (r + 1 - step) % W) for r in range(W)]
        arrived = [send(r, (r + 1) % W, c, chunks[r][c]) for r, c in sent]
        for (r, c), values in zip(sent, arrived, strict=True):
            chunks[(r + 1) % W][c] = values  # a finished sum: replace, do not add
    return [torch.cat(pieces) for pieces in chunks]


# --- advice for data_parallel_loss ---------------------------------------------------------------------

DP_MEAN_OF_MEANS = Advice(
    "dp-mean-of-means",
    "{case}: 랭크마다 자기 토큰 수로 나눈 평균 손실을 썼습니다. DDP가 기울기를 평균하므로 결과는 랭크별 평균의 "
    "평균인데, 랭크마다 실제 토큰 수({tokens})가 다르니 이것은 배치 전체의 토큰 평균이 아닙니다. "
    "토큰이 적은 랭크에서는 토큰 하나가 더 큰 비중을 차지합니다. 나누는 수는 이 랭크의 토큰 수가 아니라 모든 "
    "랭크의 토큰 수를 올리듀스한 total_tokens여야 합니다.",
    "{case}: each rank divided by its own token count. DDP averages the gradients, so you get the mean of the "
    "ranks' means; the ranks hold different numbers of real tokens ({tokens}), so that is not the mean over "
    "the batch's tokens: a token on a rank with few of them weighs more. Divide by total_tokens, the count "
    "all-reduced over every rank, not by this rank's count.",
)
DP_NO_WORLD_SIZE = Advice(
    "dp-no-world-size",
    "{case}: 기울기가 한 프로세스의 기울기보다 정확히 W = {world_size}배 작습니다. nll_sum / total_tokens는 "
    "그대로 더하면 맞지만, DDP는 랭크들의 기울기를 더한 뒤 W로 나눕니다(평균). 그 나눗셈을 되돌리도록 W를 "
    "곱하세요.",
    "{case}: the gradient is exactly W = {world_size} times smaller than one process's. nll_sum / total_tokens "
    "would be right if the gradients were summed, but DDP sums them and divides by W (an average): multiply "
    "by W to undo that division.",
)
DP_DIVIDED_BY_W = Advice(
    "dp-divided-by-w",
    "{case}: 기울기가 한 프로세스의 기울기보다 W² = {squared}배 작습니다. W로 나누는 일은 DDP가 이미 "
    "합니다. 손실에서 W로 한 번 더 나누지 말고, 오히려 W를 곱해 DDP의 나눗셈을 상쇄하세요.",
    "{case}: the gradient is W² = {squared} times smaller than one process's. DDP already divides by W; "
    "don't divide by W again in the loss: multiply by W, so that DDP's division cancels it.",
)
DP_LOCAL_TIMES_W = Advice(
    "dp-local-times-w",
    "{case}: 이 랭크의 토큰 수에 W를 곱한 값으로 나누었습니다. 랭크마다 토큰 수({tokens})가 다르니 tokens · W는 "
    "배치 전체의 토큰 수가 아닙니다. 전체 토큰 수는 각 랭크의 수를 올리듀스해서 얻습니다. 그 total_tokens로 "
    "나누고, DDP의 평균을 상쇄하도록 W를 곱하세요.",
    "{case}: you divided by this rank's token count times W. The ranks hold different numbers of tokens "
    "({tokens}), so tokens · W is not the batch's count; that comes from all-reducing every rank's count. "
    "Divide by that total_tokens, and multiply by W to cancel DDP's average.",
)
DP_SUM = Advice(
    "dp-sum",
    "{case}: 합을 나누지 않았습니다. 한 프로세스의 손실은 배치의 실제 토큰에 대한 평균이므로, 합을 그대로 쓰면 "
    "기울기가 토큰 수에 비례해 커지고 학습률의 뜻이 배치마다 달라집니다. 올리듀스한 total_tokens로 나누세요 "
    "(그리고 DDP의 평균을 상쇄하도록 W를 곱하세요).",
    "{case}: the sum is not divided. The one-process loss is a mean over the batch's real tokens; with a sum, "
    "the gradient grows with the token count and the learning rate means something different for every batch. "
    "Divide by total_tokens, the all-reduced count (and multiply by W to cancel DDP's average).",
)
DP_WRONG = Advice(
    "dp-wrong",
    "{case}: DDP가 평균한 기울기가 한 프로세스의 기울기와 다릅니다 (첫 성분: 정답 {expected:.5f}, 결과 "
    "{got:.5f}). 한 프로세스의 손실은 Σ_r nll_sum_r / total_tokens입니다. DDP가 랭크들의 기울기를 더해 W로 "
    "나눈다는 것을 생각하며, 각 랭크가 무엇을 역전파해야 이 값이 나오는지 적어 보세요.",
    "{case}: the gradient DDP averages differs from one process's (first entry: expected {expected:.5f}, got "
    "{got:.5f}). The one-process loss is Σ_r nll_sum_r / total_tokens; DDP sums the ranks' gradients and "
    "divides by W: write down what each rank must back-propagate to get it.",
)
DP_NOT_SCALAR = Advice(
    "dp-not-scalar",
    "손실은 숫자 하나(모양 ())여야 합니다. 받은 것: {got}. backward()는 스칼라에서 시작합니다.",
    "The loss should be one number (shape ()); got {got}. backward() starts from a scalar.",
)

# --- checking data_parallel_loss -----------------------------------------------------------------------

_DP_CASES = (  # (W, real tokens on each rank): never equal, so that the mean of means is wrong
    (2, (5, 11)),
    (3, (7, 2, 12)),
    (4, (3, 9, 6, 13)),
)
_DP_CLASSES, _DP_FEATURES = 5, 6


def _dp_mistaken(nll_sum: torch.Tensor, tokens: Any, total_tokens: Any, world_size: int,
                 mistake: str) -> torch.Tensor:
    """What the usual mistakes back-propagate."""
    return {
        "mean-of-means": lambda: nll_sum / tokens,
        "mean-of-means-w": lambda: nll_sum * world_size / tokens,
        "no-world-size": lambda: nll_sum / total_tokens,
        "divided-by-w": lambda: nll_sum / total_tokens / world_size,
        "local-times-w": lambda: nll_sum / (tokens * world_size),
        "sum": lambda: nll_sum,
        "sum-w": lambda: nll_sum * world_size,
    }[mistake]()


_DP_MISTAKES = (("mean-of-means", DP_MEAN_OF_MEANS), ("mean-of-means-w", DP_MEAN_OF_MEANS),
                ("no-world-size", DP_NO_WORLD_SIZE), ("divided-by-w", DP_DIVIDED_BY_W),
                ("local-times-w", DP_LOCAL_TIMES_W), ("sum", DP_SUM), ("sum-w", DP_SUM))


def _ddp_gradient(check: Checker | None, fn: Callable[..., Any], theta: torch.Tensor,
                  shards: list[tuple[torch.Tensor, torch.Tensor]], as_tensors: bool) -> torch.Tensor:
    """Every rank back-propagates fn's loss through its own replica of theta; DDP averages the gradients."""
    W, total = len(shards), sum(len(y) for _, y in shards)
    gradients = []
    for x, y in shards:
        replica = theta.clone().requires_grad_()  # every rank holds the same weights
        nll_sum = F.cross_entropy(x @ replica, y, reduction="sum")  # this rank's real tokens
        tokens, total_tokens = (torch.tensor(len(y)), torch.tensor(total)) if as_tensors else (len(y), total)
        if check is None:
            loss = fn(nll_sum, tokens, total_tokens, W)
        else:
            loss = check.call(fn, nll_sum, tokens, total_tokens, W)
            if isinstance(loss, torch.Tensor) and loss.dim() > 0:
                check.fail(DP_NOT_SCALAR, got=text(f"모양이 {tuple(loss.shape)}인 텐서",
                                                   f"a tensor of shape {tuple(loss.shape)}"))
            loss = check.tensor(loss, what=text("손실", "the loss"), shape=())
            if not loss.requires_grad:
                check.fail(LOSS_DETACHED)
        (gradient,) = torch.autograd.grad(loss, replica, allow_unused=True)
        if gradient is None and check is not None:
            check.fail(LOSS_DETACHED)
        gradients.append(gradient)
    return torch.stack(gradients).mean(0)  # DDP: all-reduce (sum), then divide by W


@exercise(data_parallel_loss)
def check_data_parallel_loss(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(10)
    for W, counts in _DP_CASES:
        theta = torch.randn(_DP_FEATURES, _DP_CLASSES, generator=generator)
        shards = [(torch.randn(n, _DP_FEATURES, generator=generator),
                   torch.randint(_DP_CLASSES, (n,), generator=generator)) for n in counts]
        as_tensors = W == 4  # as the training loop has them: all-reduced counts are tensors
        got = _ddp_gradient(check, fn, theta, shards, as_tensors)
        one = theta.clone().requires_grad_()  # one process, the whole batch, the mean over its tokens
        x, y = torch.cat([x for x, _ in shards]), torch.cat([y for _, y in shards])
        (expected,) = torch.autograd.grad(F.cross_entropy(x @ one, y), one)
        if torch.allclose(got, expected, rtol=1e-4, atol=1e-7):
            continue
        case = f"W = {W}, tokens per rank {list(counts)}"
        values = {"case": case, "tokens": list(counts), "world_size": W, "squared": W * W,
                  "expected": expected.flatten()[0].item(), "got": got.flatten()[0].item()}
        for mistake, advice in _DP_MISTAKES:
            variant = _ddp_gradient(None, lambda *a, m=mistake: _dp_mistaken(*a, m), theta, shards, as_tensors)
            if torch.allclose(got, variant, rtol=1e-4, atol=1e-7):
                check.fail(advice, **values)
        check.fail(DP_WRONG, **values)


# --- advice for rank_batches ---------------------------------------------------------------------------

RB_RETURN = Advice(
    "rb-return",
    "배치들의 리스트(각 배치는 행 번호의 리스트)를 돌려주세요. 받은 것: {got}.",
    "Return a list of batches, each a list of row indices; got {got}.",
)
RB_CHANGED_INPUT = Advice(
    "rb-changed-input",
    "넘겨받은 order가 바뀌었습니다. 모든 랭크가 같은 order를 읽어야 샤드가 서로 겹치지 않습니다. 섞거나 잘라 내지 "
    "말고 새 리스트를 만드세요.",
    "The order you were given changed. Every rank must read the same order for the shards not to overlap: "
    "build new lists instead of shuffling or cutting it.",
)
RB_SAME_ROWS = Advice(
    "rb-same-rows",
    "{case}: 모든 랭크가 같은 행을 읽습니다 (랭크 0의 첫 배치 {first}, 랭크 1의 첫 배치 {second}). rank를 쓰지 "
    "않았습니다. 그러면 W개의 프로세스가 같은 기울기를 W번 계산할 뿐, 한 번에 보는 데이터는 늘지 않습니다. "
    "랭크마다 서로 다른 샤드를 주세요.",
    "{case}: every rank reads the same rows (rank 0's first batch {first}, rank 1's {second}): rank is not used. "
    "W processes would compute the same gradient W times and see no more data per step. Give each rank its "
    "own shard.",
)
RB_POSITIONS = Advice(
    "rb-positions",
    "{case}: 배치에 order의 값이 아니라 위치를 넣었습니다 (랭크 0의 첫 배치 {got}, 정답 {expected}). order는 이번 "
    "에포크에 섞은 행 번호들입니다. range(len(order))의 위치를 고른 뒤 order[위치]를 넣으세요.",
    "{case}: the batches hold positions in order, not its values (rank 0's first batch {got}, expected "
    "{expected}). order is this epoch's shuffled row indices: pick positions, then take order[position].",
)
RB_CONTIGUOUS = Advice(
    "rb-contiguous",
    "{case}: 랭크마다 order를 이어진 덩어리로 나누었습니다. 샤드는 겹치지 않지만, 각 랭크의 배치 {k}를 모아도 "
    "한 프로세스의 배치 {k}, order[{start}:{stop}]가 되지 않습니다. 한 프로세스가 배치 W·b로 밟는 단계와 같은 "
    "단계를 밟으려면 행을 번갈아 나누어야 합니다: 랭크 r은 r, r + W, r + 2W, … 번째 행을 읽습니다.",
    "{case}: each rank took one contiguous block of order. The shards do not overlap, but the ranks' batch {k}, "
    "put together, is not the one-process batch {k}, order[{start}:{stop}]. To take the steps one process takes "
    "with batches of W·b, deal the rows out in turn: rank r reads rows r, r + W, r + 2W, … of order.",
)
RB_UNEVEN = Advice(
    "rb-uneven",
    "{case}: 랭크마다 배치 수가 다릅니다 ({counts}). DDP에서는 매 단계 모든 랭크가 올리듀스에 참여해야 하므로, 배치가 "
    "하나 더 있는 랭크는 오지 않을 상대를 기다리며 멈춥니다(hang). order를 먼저 W의 배수 길이로 자르면 모든 랭크가 "
    "같은 수의 행을 받습니다.",
    "{case}: the ranks have different numbers of batches ({counts}). Under DDP every rank joins the all-reduce of "
    "every step, so a rank with one more batch waits for partners that never come: the run hangs. Cut order to "
    "a multiple of W first, and every rank gets as many rows.",
)
RB_SHORT_BATCH = Advice(
    "rb-short-batch",
    "{case}: 랭크 {rank}의 마지막 배치가 {size}행으로, batch_size = {batch_size}보다 짧습니다. 마지막 단계에서 "
    "랭크들의 배치를 모아도 W·b행이 되지 않아 한 프로세스의 단계와 달라집니다. 모자란 마지막 배치는 버리세요"
    "(drop_last=True).",
    "{case}: rank {rank}'s last batch has {size} rows, fewer than batch_size = {batch_size}. The ranks' last "
    "batches together are then not W·b rows, and that step differs from one process's. Drop the short last "
    "batch (drop_last=True).",
)
RB_OFF_BY_ONE = Advice(
    "rb-off-by-one",
    "{case}: 랭크마다 배치가 {got}개인데 {expected}개여야 합니다. 한 에포크의 단계 수는 len(order) // (W·b)입니다. "
    "배치를 자르는 range의 끝을 확인하세요. 마지막 배치가 꼭 맞게 채워질 때도 버리면 안 됩니다.",
    "{case}: each rank has {got} batches; it should have {expected}. An epoch has len(order) // (W·b) steps: "
    "check where the range that cuts the batches stops. A last batch that is exactly full must be kept.",
)
RB_OVERLAP = Advice(
    "rb-overlap",
    "{case}: 둘 이상의 배치에 같은 행({row})이 들어 있습니다. 한 에포크에서 각 행은 한 랭크의 한 배치에만 "
    "들어가야 합니다.",
    "{case}: row {row} is read by more than one batch. In an epoch each row belongs to one batch of one rank.",
)
RB_UNION = Advice(
    "rb-union",
    "{case}: 랭크들의 배치 {k}를 모으면 {got}인데, 한 프로세스의 배치 {k}, order[{start}:{stop}]는 "
    "{expected}입니다. 그러면 W개 프로세스의 학습이 배치 W·b 한 프로세스의 학습과 같아지지 않습니다.",
    "{case}: the ranks' batch {k} together, {got}, is not the one-process batch {k}, order[{start}:{stop}] = "
    "{expected}: W processes would no longer train as one process with batches of W·b.",
)

# --- checking rank_batches ---------------------------------------------------------------------------------

_RB_CASES = (  # (rows in the epoch, W, b): rows left over at both cuts, then none left at the second
    (23, 3, 2),
    (26, 4, 3),
    (17, 2, 3),
)


def _rb_mistaken(order: list[int], rank: int, W: int, b: int, mistake: str) -> list[list[int]]:
    """The batches a usual mistake gives."""
    kept = len(order) // W * W
    mine = {
        "same": order[0:kept:W],
        "positions": list(range(len(order)))[rank:kept:W],
        "contiguous": order[rank * (len(order) // W):(rank + 1) * (len(order) // W)],
        "no-truncate": order[rank::W],
    }.get(mistake, order[rank:kept:W])
    stop = {"keep-short": len(mine), "off-by-one": len(mine) - b}.get(mistake, len(mine) - b + 1)
    return [mine[i:i + b] for i in range(0, max(stop, 0), b)]


def _read_batches(check: Checker, result: Any) -> list[list[int]]:
    if not isinstance(result, (list, tuple)):
        check.fail(RB_RETURN, got=f"a {type(result).__name__}")
    batches = []
    for batch in result:
        if isinstance(batch, torch.Tensor) and batch.dim() == 1:
            batch = batch.tolist()
        if not isinstance(batch, (list, tuple)) or any(as_integer(i) is None for i in batch):
            check.fail(RB_RETURN, got=f"a batch {batch!r}")
        batches.append([as_integer(i) for i in batch])
    return batches


@exercise(rank_batches)
def check_rank_batches(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(10)
    for rows, W, b in _RB_CASES:
        order = torch.randperm(rows, generator=generator).tolist()  # this epoch's shuffled rows
        got = []
        for rank in range(W):
            given = list(order)
            result = check.call(fn, given, rank, W, b)
            if given != order:
                check.fail(RB_CHANGED_INPUT)
            got.append(_read_batches(check, result))
        case = f"len(order) = {rows}, world_size = {W}, batch_size = {b}"
        steps = rows // (W * b)
        counts = [len(batches) for batches in got]
        rows_read = [i for batches in got for batch in batches for i in batch]
        whole = (all(len(batch) == b for batches in got for batch in batches) and counts == [steps] * W
                 and len(set(rows_read)) == len(rows_read)
                 and all(sorted(i for batches in got for i in batches[k]) == sorted(order[k * W * b:(k + 1) * W * b])
                         for k in range(steps)))
        if whole:
            continue
        first = [batches[0] if batches else [] for batches in got]
        named = {  # each mistake's advice, with what it shows
            "same": (RB_SAME_ROWS, {"first": first[0], "second": first[1]}),
            "positions": (RB_POSITIONS, {"got": first[0], "expected": rank_batches(order, 0, W, b)[0]}),
            "contiguous": (RB_CONTIGUOUS, {"k": 0, "start": 0, "stop": W * b}),
            "no-truncate": (RB_UNEVEN, {"counts": counts}),
            "keep-short": (RB_SHORT_BATCH, {"rank": W - 1, "size": len(got[-1][-1]) if got[-1] else 0,
                                            "batch_size": b}),
            "off-by-one": (RB_OFF_BY_ONE, {"got": counts[0], "expected": steps}),
        }
        for mistake, (advice, shown) in named.items():
            if got == [_rb_mistaken(order, rank, W, b, mistake) for rank in range(W)]:
                check.fail(advice, case=case, **shown)
        if len(set(counts)) > 1:
            check.fail(RB_UNEVEN, case=case, counts=counts)
        for rank, batches in enumerate(got):
            for batch in batches:
                if len(batch) != b:
                    check.fail(RB_SHORT_BATCH, case=case, rank=rank, size=len(batch), batch_size=b)
        if counts[0] != steps:
            check.fail(RB_OFF_BY_ONE, case=case, got=counts[0], expected=steps)
        seen: set[int] = set()
        for row in rows_read:
            if row in seen:
                check.fail(RB_OVERLAP, case=case, row=row)
            seen.add(row)
        for k in range(steps):
            union = sorted(i for batches in got for i in batches[k])
            wanted = sorted(order[k * W * b:(k + 1) * W * b])
            if union != wanted:
                check.fail(RB_UNION, case=case, k=k, got=union, expected=wanted, start=k * W * b,
                           stop=(k + 1) * W * b)


# --- advice for ring_all_reduce ------------------------------------------------------------------------

RING_RETURN = Advice(
    "ring-return",
    "랭크마다 하나씩, 길이 {n}인 텐서 {W}개의 리스트를 돌려주세요. 받은 것: {got}.",
    "Return a list of {W} tensors of length {n}, one per rank; got {got}.",
)
RING_NO_SENDS = Advice(
    "ring-no-sends",
    "{case}: send를 한 번도 부르지 않았습니다. 값은 맞아도, 실제 랭크들은 서로의 메모리를 볼 수 없어 한 곳에서 "
    "sum(vectors)를 계산할 수 없습니다. 각 랭크는 오른쪽 이웃에게 한 번에 조각 하나씩만 보낼 수 있습니다. "
    "모든 데이터가 send를 거쳐 움직이게 하세요.",
    "{case}: send was never called. Even with the right values: real ranks cannot see each other's memory, so "
    "nobody can compute sum(vectors) in one place; a rank can only send one chunk at a time to its right "
    "neighbour. Move every piece of data through send.",
)
RING_NEIGHBOUR = Advice(
    "ring-neighbour",
    "{case}: 랭크 {sender}의 조각이 랭크 {receiver}에게 갔습니다. 링에서 랭크 r은 오른쪽 이웃 (r + 1) mod W = "
    "{right}에게만 보냅니다. 모든 랭크가 같은 방향으로 보내야 각 링크가 매 단계 한 번씩만 쓰입니다.",
    "{case}: rank {sender} sent to rank {receiver}. In the ring, rank r sends only to its right neighbour, "
    "(r + 1) mod W = {right}: with everyone sending the same way, each link carries one chunk per step.",
)
RING_CHUNK_SIZE = Advice(
    "ring-chunk-size",
    "{case}: 랭크 {sender}에서 보낸 조각 {chunk}의 모양이 {got}인데, torch.tensor_split(vector, W)의 "
    "조각 {chunk}의 모양은 {expected}입니다. 벡터 전체가 아니라 조각 하나를 보내고, 조각은 tensor_split으로 "
    "나누세요. torch.chunk는 n이 W로 나누어지지 않을 때 크기가 다르게, 때로는 W개보다 적게 나눕니다.",
    "{case}: rank {sender} sent chunk {chunk} with shape {got}; chunk {chunk} of torch.tensor_split(vector, W) has "
    "shape {expected}. Send one chunk, not the whole vector, and split with tensor_split: when W does not "
    "divide n, torch.chunk cuts other sizes, sometimes fewer than W pieces.",
)
RING_ONE_PER_STEP = Advice(
    "ring-one-per-step",
    "{case}: 단계 {step}에서 두 번 보낸 랭크({sender})가 있고, 보내지 않은 랭크가 있습니다. 링의 한 단계에서는 모든 "
    "랭크가 동시에 조각 하나씩을 보냅니다. 단계마다 랭크 0, 1, …, W − 1이 한 번씩 send를 부르게 하세요.",
    "{case}: in step {step}, rank {sender} sent twice while another rank did not send. In one step of the ring "
    "every rank sends one chunk, all at the same time: in each step call send once for each rank 0, 1, …, W − 1.",
)
RING_NOT_A_SUM = Advice(
    "ring-not-a-sum",
    "{case}: 단계 {step}에 랭크 {sender}에서 보낸 조각 {chunk}의 값은 어느 랭크들의 조각 {chunk}을 "
    "더해도 나오지 않습니다. 조각 번호를 잘못 붙였거나, 중간에 평균을 냈을 수 있습니다. 올리듀스는 더하기만 "
    "합니다. W로 나누는 일은 올리듀스가 끝난 뒤 DDP가 합니다.",
    "{case}: what rank {sender} sent as chunk {chunk} in step {step} is not a sum of any ranks' chunk {chunk}: "
    "the chunk number may be wrong, or something was averaged on the way. An all-reduce only adds; dividing "
    "by W is DDP's business, afterwards.",
)
RING_COUNTED_TWICE = Advice(
    "ring-counted-twice",
    "{case}: {where} 조각 {chunk}에 랭크 {twice}의 조각이 두 번 더해졌습니다. 이미 그 조각이 들어 있는 합에 다시 "
    "더했습니다. 리듀스-스캐터에서는 매 단계 방금 받은 조각을 넘기고(같은 조각을 또 보내지 않고), 올-개더에서는 "
    "받은 합을 더하지 않고, 자기 조각을 그것으로 바꿉니다.",
    "{case}: {where}, chunk {chunk} holds rank {twice}'s piece twice: a piece was added to a sum that already "
    "held it. In the reduce-scatter each step forwards the chunk just received (not the same chunk again); in "
    "the all-gather the receiver replaces its chunk with the sum it gets, it does not add.",
)
RING_PARTIAL = Advice(
    "ring-partial",
    "{case}: 올-개더 단계 {step}에 랭크 {sender}에서 보낸 조각 {chunk}에는 랭크 {held}의 값만 들어 있습니다. "
    "올-개더에서는 모든 랭크의 합이 완성된 조각만 돕니다. 리듀스-스캐터의 단계 s에서 랭크 r은 자기 조각이 아니라 "
    "방금 받아 더한 조각 (r − s) mod W를 넘겨야, W − 1단계 뒤에 랭크 r이 조각 (r + 1) mod W의 전체 합을 갖습니다. "
    "올-개더는 바로 그 조각부터 보냅니다.",
    "{case}: in all-gather step {step}, rank {sender} sent chunk {chunk} holding only ranks {held}. In the "
    "all-gather only finished sums, over every rank, go round. In reduce-scatter step s, rank r must pass on the "
    "chunk it has just received and added to, (r − s) mod W, not its own: then after W − 1 steps rank r holds "
    "the full sum of chunk (r + 1) mod W, and the all-gather starts from that one.",
)
RING_NOT_RECEIVED = Advice(
    "ring-not-received",
    "{case}: {where} 랭크 {rank}의 조각 {chunk}에 랭크 {missing}의 값이 들어 있는데, 그때까지 그 값은 send로 랭크 "
    "{rank}에 도착한 적이 없습니다. 실제 랭크는 받은 것만 압니다. vectors에서 직접 합을 구하지 말고, 각 랭크가 "
    "자기 조각과 이웃에게서 받은 조각만으로 계산하게 하세요. 한 단계 안에서 받은 조각은 다음 단계에야 보낼 "
    "수 있습니다.",
    "{case}: {where}, rank {rank}'s chunk {chunk} holds rank {missing}'s values, which had not reached rank {rank} "
    "through send by then. A real rank knows only what it has received: don't sum vectors directly, let each "
    "rank compute from its own pieces and what its neighbour sent it. A chunk received in a step can be sent "
    "on in the next step, not in the same one.",
)
RING_NO_ALL_GATHER = Advice(
    "ring-no-all-gather",
    "{case}: 리듀스-스캐터의 W − 1 = {half}단계만 했습니다. 이때 각 랭크는 조각 하나의 전체 합만 가지고 있습니다 "
    "(랭크 r은 조각 (r + 1) mod W). 올-개더 W − 1단계로 그 합들을 링을 따라 돌려, 모든 랭크가 모든 조각의 합을 "
    "갖게 하세요.",
    "{case}: only the W − 1 = {half} reduce-scatter steps ran. After them each rank holds the full sum of one "
    "chunk only (rank r: chunk (r + 1) mod W). Add the W − 1 all-gather steps that pass those sums around the "
    "ring, so that every rank has every chunk's sum.",
)
RING_MEAN = Advice(
    "ring-mean",
    "{case}: 결과가 합이 아니라 평균입니다. 올리듀스(dist.all_reduce의 기본 ReduceOp.SUM)는 더하기만 합니다. DDP는 "
    "올리듀스한 다음 W로 나누지만, 그것은 올리듀스의 일이 아닙니다.",
    "{case}: the results are the mean, not the sum. An all-reduce (dist.all_reduce, ReduceOp.SUM by default) "
    "only adds; DDP divides by W after it, but that is not the all-reduce's job.",
)
RING_STEPS = Advice(
    "ring-steps",
    "{case}: 결과는 맞지만 {steps}단계가 걸렸습니다. 링 올리듀스는 리듀스-스캐터 W − 1단계와 올-개더 W − 1단계, 모두 "
    "2(W − 1) = {expected}단계이며, 그래서 각 랭크가 보내는 양이 W와 상관없이 벡터의 2(W − 1)/W배입니다.",
    "{case}: the results are right, but it took {steps} steps. A ring all-reduce takes W − 1 reduce-scatter and "
    "W − 1 all-gather steps, 2(W − 1) = {expected} in all: that is why each rank sends 2(W − 1)/W of the vector, "
    "whatever W.",
)
RING_WRONG = Advice(
    "ring-wrong",
    "{case}: 랭크 {rank}의 결과가 모든 벡터의 합과 다릅니다 (위치 {index}: 정답 {expected:.4f}, 결과 {got:.4f}). "
    "리듀스-스캐터에서는 받은 조각을 자기 조각에 더해 다음 단계에 넘기고, 올-개더에서는 완성된 합을 넘기며 "
    "바꿔 넣으세요.",
    "{case}: rank {rank}'s result differs from the sum of all vectors (index {index}: expected {expected:.4f}, got "
    "{got:.4f}). In the reduce-scatter, add what arrives to your own chunk and pass it on the next step; in the "
    "all-gather, pass the finished sums on and put them in place.",
)

# --- checking ring_all_reduce --------------------------------------------------------------------------

_RING_CASES = ((2, 7), (3, 10), (4, 10), (5, 13))  # (W, n): W never divides n


class _Wire:
    """The checker's ``send``: records every transfer and follows what each rank can know.

    ``known[r][c]``: the ranks whose piece c may be summed in rank r's chunk c, given what it has
    received so far; transfers of one step arrive at the step's end (all ranks send at once).
    """

    def __init__(self, check: Checker, vectors: list[torch.Tensor], case: str) -> None:
        self.check, self.case, self.W = check, case, len(vectors)
        self.pieces = [torch.stack([torch.tensor_split(v, self.W)[c] for v in vectors]) for c in range(self.W)]
        self.known = [[{r} for _ in range(self.W)] for r in range(self.W)]
        self.arriving: list[tuple[int, int, set[int]]] = []
        self.senders: list[int] = []
        self.sends = 0
        self.combinations = torch.tensor(list(itertools.product((0, 1, 2), repeat=self.W)), dtype=torch.float32)

    @property
    def step(self) -> int:
        return self.sends // self.W

    def decode(self, chunk: int, values: torch.Tensor) -> list[int] | None:
        """How many times each rank's piece ``chunk`` is summed in ``values`` (0, 1 or 2), or None."""
        sums = self.combinations @ self.pieces[chunk]  # (3^W, len of chunk)
        close = (sums - values.detach().float()).abs().amax(dim=1) < 1e-4
        if not close.any():
            return None
        return [int(k) for k in self.combinations[close.nonzero()[0, 0]]]

    def __call__(self, sender: Any, receiver: Any, chunk: Any, values: Any) -> torch.Tensor:
        check, W = self.check, self.W
        sender, receiver, chunk = as_integer(sender), as_integer(receiver), as_integer(chunk)
        if None in (sender, receiver, chunk) or not (0 <= sender < W and 0 <= receiver < W):
            check.fail(RING_NEIGHBOUR, case=self.case, sender=sender, receiver=receiver,
                       right=None if sender is None else (sender + 1) % W)
        if receiver != (sender + 1) % W:
            check.fail(RING_NEIGHBOUR, case=self.case, sender=sender, receiver=receiver, right=(sender + 1) % W)
        if not 0 <= chunk < W or not isinstance(values, torch.Tensor) or values.shape != self.pieces[chunk].shape[1:]:
            expected = tuple(self.pieces[chunk].shape[1:]) if 0 <= chunk < W else f"(chunk {chunk} does not exist)"
            got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
            check.fail(RING_CHUNK_SIZE, case=self.case, sender=sender, chunk=chunk, got=got, expected=expected)
        if sender in self.senders:
            check.fail(RING_ONE_PER_STEP, case=self.case, step=self.step, sender=sender)
        counts = self.decode(chunk, values)
        if counts is None:
            check.fail(RING_NOT_A_SUM, case=self.case, step=self.step, sender=sender, chunk=chunk)
        where = text(f"단계 {self.step}에 랭크 {sender}에서 보낸", f"in what rank {sender} sent in step {self.step}")
        if 2 in counts:
            check.fail(RING_COUNTED_TWICE, case=self.case, where=where, chunk=chunk, twice=counts.index(2))
        held = {r for r, k in enumerate(counts) if k}
        if not held <= self.known[sender][chunk]:
            check.fail(RING_NOT_RECEIVED, case=self.case, where=where, rank=sender, chunk=chunk,
                       missing=min(held - self.known[sender][chunk]))
        if self.step >= W - 1 and held != set(range(W)):  # the all-gather passes on finished sums only
            check.fail(RING_PARTIAL, case=self.case, step=self.step - (W - 1), sender=sender, chunk=chunk,
                       held=", ".join(map(str, sorted(held))))
        self.arriving.append((receiver, chunk, held))
        self.senders.append(sender)
        self.sends += 1
        if len(self.senders) == W:  # the step ends: what was sent arrives
            for r, c, ranks in self.arriving:
                self.known[r][c] |= ranks
            self.arriving, self.senders = [], []
        return values.detach().clone()  # what arrives is a copy: the wire


def _read_results(check: Checker, result: Any, W: int, n: int) -> list[torch.Tensor]:
    if not isinstance(result, (list, tuple)) or len(result) != W:
        check.fail(RING_RETURN, W=W, n=n, got=f"a {type(result).__name__}" + (
            f" of length {len(result)}" if isinstance(result, (list, tuple)) else ""))
    for r in result:
        if not isinstance(r, torch.Tensor) or r.shape != (n,):
            check.fail(RING_RETURN, W=W, n=n, got=f"a {type(r).__name__}" + (
                f" of shape {tuple(r.shape)}" if isinstance(r, torch.Tensor) else ""))
    return [r.detach().float() for r in result]


@exercise(ring_all_reduce)
def check_ring_all_reduce(check: Checker, fn) -> None:
    generator = torch.Generator().manual_seed(10)
    for W, n in _RING_CASES:
        vectors = [torch.randn(n, generator=generator) for _ in range(W)]
        case = f"W = {W}, n = {n}"
        wire = _Wire(check, vectors, case)
        result = check.call(fn, [v.clone() for v in vectors], wire)
        results = _read_results(check, result, W, n)
        total = torch.stack(vectors).sum(0)
        if wire.sends == 0:
            check.fail(RING_NO_SENDS, case=case)
        for rank, got in enumerate(results):
            if torch.allclose(got, total, atol=1e-4):
                continue
            if torch.allclose(got, total / W, atol=1e-4):
                check.fail(RING_MEAN, case=case)
            if wire.sends == W * (W - 1):
                check.fail(RING_NO_ALL_GATHER, case=case, half=W - 1)
            for c, piece in enumerate(torch.tensor_split(got, W)):
                counts = wire.decode(c, piece)
                if counts is not None and 2 in counts:
                    check.fail(RING_COUNTED_TWICE, case=case, where=text(f"랭크 {rank}의 결과에서",
                                                                         f"in rank {rank}'s result"),
                               chunk=c, twice=counts.index(2))
            index = int((got - total).abs().argmax())
            check.fail(RING_WRONG, case=case, rank=rank, index=index, expected=total[index].item(),
                       got=got[index].item())
        for rank, c in itertools.product(range(W), range(W)):
            if len(wire.known[rank][c]) < W:
                check.fail(RING_NOT_RECEIVED, case=case, where=text("끝났을 때", "at the end"), rank=rank, chunk=c,
                           missing=min(set(range(W)) - wire.known[rank][c]))
        if wire.sends != 2 * (W - 1) * W:
            check.fail(RING_STEPS, case=case, steps=-(-wire.sends // W), expected=2 * (W - 1))

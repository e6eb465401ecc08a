"""DistributedDataParallel on two CPU processes (gloo) equals one process with twice the batch.

The two-process runs go through ``torchrun`` exactly as a reader launches them; the
one-process reference is chapter 8's own training loop (``CausalLMTraining.train``).
Runs are small (1,200 documents, 6 steps, no dropout) so the file stays well under a minute.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from attnbook import data_parallel
from attnbook.data_parallel import DataParallelRun, launch, rank_batches, read_log, trained_model
from attnbook.gpt import next_token_loss

SMALL = {"steps": 6, "batch_size": 16, "dropout": 0.0, "save_every": 3, "documents": 1200, "held_out": 120,
         "warmup": 2}
# Two processes against one, 6 steps: measured 4.9e-6 (AMD EPYC, PyTorch's AVX2 kernels). Averaging the
# ranks' mean losses instead (the mistake the loss's divisor avoids) misses by 1.3e-2.
TOLERANCE = 1e-4


def _largest_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[name] - sb[name]).abs().max()) for name in sa)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    run = DataParallelRun(out=str(tmp_path_factory.mktemp("ddp") / "two"), **SMALL)
    launch(run, 2)
    return run


@pytest.fixture(scope="module")
def one_process():
    """Chapter 8's loop, one process, the global batch of 32."""
    recipe = DataParallelRun(out="unused", **SMALL).recipe(world_size=2)
    torch.set_num_threads(1)
    model = recipe.build()
    losses = recipe.train(model)
    return model, losses


def test_two_processes_take_the_steps_of_one_with_twice_the_batch(two_processes, one_process):
    model, losses = one_process
    assert model.training is False
    assert _largest_difference(trained_model(two_processes.out), model) < TOLERANCE
    log = read_log(two_processes.out)
    assert [entry["step"] for entry in log] == list(range(6))
    assert [entry["loss"] for entry in log] == pytest.approx(losses, abs=1e-5)
    assert losses[-1] < losses[0] - 0.5  # it learned something: 5.56 → 4.74 measured


def test_averaging_the_ranks_mean_losses_would_not_be_equal(one_process):
    """The mistake the loss's divisor avoids: the ranks hold different numbers of tokens."""
    reference, _ = one_process
    recipe = DataParallelRun(out="unused", **SMALL).recipe(world_size=2)
    model = recipe.build()
    optimizer = recipe._optimizer(model)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: recipe.learning_rate(step) / recipe.lr)
    model.train()
    counts = []
    for step in range(6):
        halves = [recipe.rows_batch(rank_batches(recipe, 0, rank, 2)[step])
                  for rank in range(2)]
        counts.append([int(mask[:, 1:].sum()) for _, mask in halves])
        loss = sum(next_token_loss(model(ids, mask).logits, ids, mask) for ids, mask in halves) / 2
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    assert any(first != second for first, second in counts)  # the ranks hold different numbers of tokens
    assert _largest_difference(model, reference) > 50 * TOLERANCE  # 5e-3; measured 1.3e-2


def test_only_rank_0_writes(two_processes):
    out = data_parallel.Path(two_processes.out)
    assert sorted(path.name for path in out.iterdir()) == ["checkpoint.pt", "gpt.safetensors", "log.jsonl"]
    log = read_log(out)
    assert {entry["rank"] for entry in log} == {0}
    assert len(log) == len({entry["step"] for entry in log})  # a second writer would have appended its own lines
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 6 and saved["world_size"] == 2


def test_a_killed_run_resumes_from_its_checkpoint_to_the_same_result(two_processes, tmp_path):
    run = DataParallelRun(out=str(tmp_path / "killed"), kill_after=4, **SMALL)
    done = launch(run, 2, expect_failure=True)
    assert done.returncode != 0
    saved = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3  # saved every 3 steps; killed after the 4th
    assert len(read_log(run.out)) == 4
    launch(dataclasses.replace(run, kill_after=None, resume=True), 2)
    resumed, uninterrupted = trained_model(run.out), trained_model(two_processes.out)
    assert _largest_difference(resumed, uninterrupted) == 0.0  # the same steps, in the same order, on this machine
    assert read_log(run.out) == [{**entry, "seconds": new["seconds"]}
                                 for entry, new in zip(read_log(two_processes.out), read_log(run.out), strict=True)]


def test_a_resumed_run_draws_the_dropout_masks_of_one_that_never_stopped(tmp_path):
    run = DataParallelRun(out=str(tmp_path / "killed"), kill_after=4, **{**SMALL, "dropout": 0.1})
    launch(run, 1, expect_failure=True)  # one process, killed after step 4 (checkpoint at 3)
    data_parallel.train(dataclasses.replace(run, kill_after=None, resume=True))  # resumed here
    unbroken = dataclasses.replace(run, kill_after=None, out=str(tmp_path / "unbroken"))
    data_parallel.train(unbroken)
    assert _largest_difference(trained_model(run.out), trained_model(unbroken.out)) == 0.0
    without = DataParallelRun(out=str(tmp_path / "no-dropout"), **SMALL)
    data_parallel.train(without)
    assert _largest_difference(trained_model(without.out), trained_model(unbroken.out)) > TOLERANCE  # masks drawn


def test_every_step_and_rank_has_its_own_dropout_seed():
    seeds = {data_parallel._step_seed(seed, step, rank) for seed in range(3) for step in (0, 1, 1000, 10**6)
             for rank in range(4)}
    assert len(seeds) == 3 * 4 * 4


@pytest.mark.parametrize("world_size", [1, 2, 4])
def test_the_shards_are_disjoint_and_make_up_the_one_process_batch(world_size):
    recipe = dataclasses.replace(DataParallelRun(out="unused", **SMALL).recipe(world_size=1), batch_size=32)
    for epoch in (0, 1):
        shards = [rank_batches(recipe, epoch, rank, world_size) for rank in range(world_size)]
        assert all(len(batches) == recipe.steps_per_epoch for batches in shards)
        seen = [row for batches in shards for batch in batches for row in batch]
        assert len(seen) == len(set(seen))  # no row read twice in an epoch, by any rank
        order = recipe.epoch_order(epoch)  # the order chapter 8's loop reads
        for step in range(recipe.steps_per_epoch):
            together = sorted(row for batches in shards for row in batches[step])
            assert together == sorted(order[step * 32:(step + 1) * 32])


def test_train_leaves_the_callers_thread_count_as_it_was(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        data_parallel.train(DataParallelRun(out=str(tmp_path), **{**SMALL, "steps": 1}))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_resume_refuses_another_runs_checkpoint(tmp_path):
    run = DataParallelRun(out=str(tmp_path), **{**SMALL, "steps": 2, "save_every": 1})
    data_parallel.train(run)
    with pytest.raises(ValueError, match="another run"):
        data_parallel.train(dataclasses.replace(run, batch_size=8, resume=True))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_close_to_float32(precision, tmp_path):
    runs = {name: DataParallelRun(out=str(tmp_path / name), precision=name, **{**SMALL, "steps": 3})
            for name in ("fp32", precision)}
    logs = {name: data_parallel.train(run) for name, run in runs.items()}
    full, mixed = ([entry["loss"] for entry in logs[name]] for name in ("fp32", precision))
    assert mixed == pytest.approx(full, abs=0.05)
    assert mixed != full  # autocast really ran in lower precision


def test_the_command_line_round_trips():
    run = DataParallelRun(out="runs/gpt", steps=40, precision="bf16", resume=True, kill_after=7)
    assert data_parallel.parse(run.arguments()) == run
    line = data_parallel.command(run, 2)
    assert line[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]


@pytest.mark.parametrize(("field", "value"), [("steps", 0), ("batch_size", 2.5), ("precision", "fp8"),
                                              ("kill_after", 6), ("save_every", True)])
def test_a_bad_run_is_refused_with_a_clear_error(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        DataParallelRun(out="x", **{**SMALL, field: value})

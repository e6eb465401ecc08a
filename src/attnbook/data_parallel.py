"""Chapter 8's GPT trained on several processes with PyTorch's DistributedDataParallel (Li et al., 2020).

Data parallelism keeps one full copy (*replica*) of the model in every process. Each
step, every process reads its own share of the batch, computes its gradient, and the
processes *all-reduce* the gradients — afterwards every process holds their average —
so every replica takes the same optimizer step and the copies never drift apart.
``torch.nn.parallel.DistributedDataParallel`` (DDP) does the all-reduce during the
backward pass; ``torchrun`` starts the processes and tells each its rank; the
``gloo`` backend moves the tensors between CPU processes, ``nccl`` between GPUs.

Launch from a terminal (one process per CPU core or per GPU)::

    torchrun --standalone --nproc-per-node 2 -m attnbook.data_parallel --out runs/gpt --batch-size 32

W processes with batch b take the same steps as one process with batch W·b — the
chapter 8 recipe's own training (:meth:`attnbook.language_model.CausalLMTraining.train`)
— because of two choices made here:

- **the shards** (:func:`rank_batches`): ``torch.utils.data.DistributedSampler`` draws the
  epoch's order exactly as the recipe does and gives rank r the rows r, r + W, r + 2W, …
  of it; so the k-th batches of all ranks together are the one-process k-th batch;
- **the loss's divisor**: the loss is a mean over real tokens and the ranks hold different
  numbers of them, so the mean of the ranks' means is not the batch's mean. Each rank
  back-propagates Σ_rank nll · W / N_tokens (N_tokens all-reduced first); DDP's division
  by W then leaves the gradient of the one-process mean.

Dropout draws a fresh mask in each process, so with dropout the two runs are equal in
distribution, not in value; the equality test runs without it. Every step reseeds the
generator from (seed, step, rank), so a run resumed from a checkpoint draws the same
masks as one that never stopped.

Only rank 0 writes: ``log.jsonl`` (one line per step), ``checkpoint.pt`` every
``save_every`` steps (model, optimizer, schedule; written to a temporary file, then
renamed, so a kill never leaves half a checkpoint) and ``gpt.safetensors`` at the end.
``--resume`` continues from the checkpoint; ``--kill-after`` kills every process after a
given step (SIGKILL, no clean-up), which is how the tests stop a run midway. Every rank
reads the checkpoint itself, so on several machines ``--out`` must be a filesystem they all
see; the ranks check that they resume from the same step.

Devices: one GPU per process (rank r on GPU ``LOCAL_RANK``, NCCL) when
:func:`attnbook.default_device` is CUDA, else the CPU (gloo); fewer GPUs than processes on a
machine is an error, never a silent move to the CPU.

Mixed precision: ``--precision bf16`` (or ``fp16``, with a gradient scaler) runs the forward
pass under ``torch.autocast``; the loss and the optimizer stay in float32.

Shape legend: B batch per process · T positions · V vocabulary · W processes (world size).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DistributedSampler

from attnbook import checkpoints
from attnbook.gpt import GPT, GPTConfig, next_token_loss
from attnbook.language import text
from attnbook.language_model import CausalLMTraining
from attnbook.runtime import default_device

__all__ = ["PRECISIONS", "DataParallelRun", "command", "launch", "main", "parse", "rank_batches", "read_log",
           "train", "trained_model"]

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
LOG, CHECKPOINT, WEIGHTS = "log.jsonl", "checkpoint.pt", "gpt.safetensors"


@dataclass(frozen=True)
class DataParallelRun:
    """One training run: where rank 0 writes, the budget per process, and chapter 8's recipe fields."""

    out: str
    steps: int = 500
    batch_size: int = 32           # per process: the global batch is batch_size × W
    dropout: float = 0.1
    precision: str = "fp32"
    save_every: int = 100
    documents: int = 6000
    held_out: int = 600
    warmup: int = 100
    seed: int = 0
    threads: int = 1
    resume: bool = False
    kill_after: int | None = None  # kill every process after this step (a test of --resume)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "save_every", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(text(f"{name}은(는) 양의 정수여야 합니다: {value!r}",
                                      f"{name} must be a positive integer, got {value!r}"))
        if self.precision not in PRECISIONS:
            raise ValueError(text(f"precision은 {', '.join(PRECISIONS)} 중 하나여야 합니다: {self.precision!r}",
                                  f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"))
        if self.kill_after is not None and not 1 <= self.kill_after < self.steps:
            raise ValueError(text(f"kill_after는 1 이상 steps({self.steps}) 미만이어야 합니다: {self.kill_after!r}",
                                  f"kill_after must be ≥ 1 and < steps ({self.steps}), got {self.kill_after!r}"))

    def recipe(self, world_size: int) -> CausalLMTraining:
        """Chapter 8's recipe with this run's budget and the global batch W·b: what one process would train."""
        return CausalLMTraining(documents=self.documents, held_out=self.held_out, seed=self.seed,
                                dropout=self.dropout, batch_size=self.batch_size * world_size, steps=self.steps,
                                warmup=self.warmup)

    def arguments(self) -> list[str]:
        """The command-line arguments that give this run to :func:`main`."""
        args = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            flag = "--" + field.name.replace("_", "-")
            if isinstance(value, bool):
                args += [flag] if value else []
            elif value is not None and value != field.default:
                args += [flag, str(value)]
        return args


# ------------------------------------------------------------------------------------------------------ the shards

def rank_batches(recipe: CausalLMTraining, epoch: int, rank: int, world_size: int) -> list[list[int]]:
    """The training rows (sentence indices) rank ``rank`` of ``world_size`` reads in each step of ``epoch``.

    ``DistributedSampler`` draws the epoch's permutation from seed + epoch — with seed = the
    recipe's seed × 1000, the very order the recipe draws — keeps a multiple of W rows and gives
    rank r every W-th one from r; ``BatchSampler`` cuts that into batches of the per-process size.
    """
    if world_size < 1 or not 0 <= rank < world_size or recipe.batch_size % world_size:
        raise ValueError(text(
            f"0 ≤ rank < world_size이고 전체 배치 {recipe.batch_size}가 world_size로 나누어져야 합니다: "
            f"rank={rank}, world_size={world_size}",
            f"need 0 ≤ rank < world_size and the global batch {recipe.batch_size} divisible by world_size, "
            f"got rank={rank}, world_size={world_size}"))
    rows = range(len(recipe._train_rows()[0]))  # the sampler needs only the length
    sampler = DistributedSampler(rows, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=recipe.seed * 1000, drop_last=True)
    sampler.set_epoch(epoch)
    return list(BatchSampler(sampler, recipe.batch_size // world_size, drop_last=True))


# ------------------------------------------------------------------------------------------------------ processes

def _start_process(run: DataParallelRun) -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes (if any): this process's rank, W and device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, default_device()
    local_rank, local_size = int(os.environ["LOCAL_RANK"]), int(os.environ["LOCAL_WORLD_SIZE"])
    on_gpu = default_device().type == "cuda"
    if on_gpu and torch.cuda.device_count() < local_size:  # every rank sees this, so every rank stops
        raise ValueError(text(
            f"이 기계에는 GPU가 {torch.cuda.device_count()}개뿐인데 프로세스는 {local_size}개입니다: "
            f"프로세스마다 GPU가 하나씩 있어야 합니다. "
            f"--nproc-per-node를 줄이거나, CPU에서 돌리려면 ATTNBOOK_DEVICE=cpu로 두세요",
            f"this machine has {torch.cuda.device_count()} GPU(s) for {local_size} processes: each process needs "
            f"its own GPU. Lower --nproc-per-node, or set ATTNBOOK_DEVICE=cpu to train on the CPU"))
    device = torch.device("cuda", local_rank) if on_gpu else torch.device("cpu")
    if on_gpu:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if on_gpu else "gloo")  # rank, W and the rendezvous come from torchrun
    return dist.get_rank(), world_size, device


def _token_sums(nll_sum: Tensor, tokens: Tensor, world_size: int) -> Tensor:
    """[Σ nll, N_tokens] summed over every process (one all-reduce): the whole batch's numbers."""
    sums = torch.stack([nll_sum.detach().float(), tokens.float()])
    if world_size > 1:
        dist.all_reduce(sums)  # sum over ranks, the same result on every rank
    return sums


def _step_seed(seed: int, step: int, rank: int) -> int:
    """A seed for (seed, step, rank): distinct for every triple, whatever their sizes."""
    digest = hashlib.sha256(f"{seed}:{step}:{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _save_checkpoint(out: Path, step: int, model: nn.Module, optimizer, scheduler, scaler, world_size: int,
                     run: DataParallelRun) -> None:
    state = {"step": step, "world_size": world_size, "run": dataclasses.asdict(run), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None}
    partial = out / (CHECKPOINT + ".partial")
    torch.save(state, partial)
    os.replace(partial, out / CHECKPOINT)  # atomic: a kill leaves the old checkpoint or the new one


def _same_run(saved: dict, run: DataParallelRun, world_size: int) -> None:
    ignored = {"resume", "kill_after", "out", "threads"}
    now = {k: v for k, v in dataclasses.asdict(run).items() if k not in ignored}
    before = {k: v for k, v in saved["run"].items() if k not in ignored}
    if now != before or saved["world_size"] != world_size:
        raise ValueError(text(
            f"체크포인트는 다른 실행의 것입니다: {before}, W={saved['world_size']} (지금: {now}, W={world_size})",
            f"the checkpoint belongs to another run: {before}, W={saved['world_size']} (now {now}, W={world_size})"))


def train(run: DataParallelRun) -> list[dict]:
    """Train (or resume) the run in this process, one of W started by torchrun (or alone); returns the log.

    Every process returns the same log: one entry per step with the whole batch's mean loss
    and real-token count; rank 0 also writes it to ``out/log.jsonl``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(run.threads)
    rank, world_size, device = _start_process(run)
    try:
        return _train(run, rank, world_size, device)
    finally:
        torch.set_num_threads(threads)  # a notebook kernel that called train() keeps its own setting
        if world_size > 1:
            dist.destroy_process_group()


def _train(run: DataParallelRun, rank: int, world_size: int, device: torch.device) -> list[dict]:
    out = Path(run.out)
    recipe = run.recipe(world_size)
    model = recipe.build().to(device)  # the same seeded weights in every process
    optimizer = recipe._optimizer(model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: recipe.learning_rate(step) / recipe.lr)
    autocast_dtype = PRECISIONS[run.precision]
    scaler = torch.amp.GradScaler(device.type) if run.precision == "fp16" else None
    start, log = 0, []
    if run.resume and (out / CHECKPOINT).exists():
        saved = torch.load(out / CHECKPOINT, map_location=device, weights_only=True)  # every rank reads it
        _same_run(saved, run, world_size)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None:
            scaler.load_state_dict(saved["scaler"])
        start = saved["step"]
        log = read_log(out)[:start]  # the steps after the checkpoint are taken again
    if world_size > 1:  # every rank must start from the same step; this also waits until all have read the log
        steps = torch.tensor([start, -start], device=device)
        dist.all_reduce(steps, op=dist.ReduceOp.MAX)
        if int(steps[0]) != -int(steps[1]):
            raise RuntimeError(text(
                "랭크마다 다른 체크포인트에서 이어 가려 합니다: "
                "--out이 모든 기계가 보는 공유 파일 시스템에 있어야 합니다",
                "the ranks would resume from different checkpoints: --out must be on a filesystem every machine sees"))
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / LOG).write_text("".join(json.dumps(entry) + "\n" for entry in log), encoding="utf-8")
    if world_size > 1:  # DDP broadcasts rank 0's weights now and all-reduces the gradients in every backward
        replica = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        replica = model
    replica.train()
    begun = time.perf_counter()
    epoch, batches = -1, []
    for step in range(start, run.steps):
        if step // recipe.steps_per_epoch != epoch:
            epoch = step // recipe.steps_per_epoch
            batches = rank_batches(recipe, epoch, rank, world_size)
        ids, mask = (tensor.to(device) for tensor in recipe.rows_batch(batches[step % recipe.steps_per_epoch]))
        torch.manual_seed(_step_seed(run.seed, step, rank))  # this step's dropout masks, the same after a resume
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = replica(ids, mask).logits  # (B, T, V)
        nll_sum = next_token_loss(logits.float(), ids, mask, reduction="sum")
        predicted = (mask[:, 1:] & mask[:, :-1]).sum()  # the predictions it counts: real token from real token
        total = _token_sums(nll_sum, predicted, world_size)  # [Σ nll, N] of the whole batch
        loss = nll_sum * world_size / total[1]  # DDP divides the summed gradients by W
        optimizer.zero_grad()
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if scaler is not None:
            scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # gradients already averaged: the same on every rank
        if scaler is not None:
            scaler.step(optimizer)  # skipped when the gradients overflowed; the schedule moves on regardless
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        entry = {"step": step, "loss": float(total[0] / total[1]), "tokens": int(total[1]), "rank": rank,
                 "seconds": round(time.perf_counter() - begun, 4)}
        log.append(entry)
        if rank == 0:
            with open(out / LOG, "a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")
            if (step + 1) % run.save_every == 0 or step + 1 == run.steps:
                _save_checkpoint(out, step + 1, model, optimizer, scheduler, scaler, world_size, run)
        if run.kill_after is not None and step + 1 == run.kill_after:
            if world_size > 1:
                dist.barrier()  # rank 0 has written this step's log line and checkpoint before anyone dies
            os.kill(os.getpid(), signal.SIGKILL)  # as if the machine went away: no clean-up at all
    if rank == 0:
        checkpoints.save(model.eval(), out / WEIGHTS,
                         notes={"processes": str(world_size), "steps": str(run.steps),
                                "batch_per_process": str(run.batch_size), "precision": run.precision})
    model.eval()
    return log


# ------------------------------------------------------------------------------------------------------ launching

def command(run: DataParallelRun, processes: int) -> list[str]:
    """The torchrun command line that trains ``run`` on ``processes`` processes of this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
            "-m", "attnbook.data_parallel", *run.arguments()]


def launch(run: DataParallelRun, processes: int, *, expect_failure: bool = False) -> subprocess.CompletedProcess:
    """Run ``torchrun`` with ``processes`` workers and wait; raises with its output when it fails unexpectedly."""
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(text(f"processes는 양의 정수여야 합니다: {processes!r}",
                              f"processes must be a positive integer, got {processes!r}"))
    environment = {**os.environ, "OMP_NUM_THREADS": str(run.threads)}
    done = subprocess.run(command(run, processes), capture_output=True, text=True, env=environment, check=False)
    if (done.returncode != 0) != expect_failure:
        raise RuntimeError(text(f"torchrun이 코드 {done.returncode}로 끝났습니다:\n{done.stderr[-3000:]}",
                                f"torchrun ended with code {done.returncode}:\n{done.stderr[-3000:]}"))
    return done


def read_log(out: str | Path) -> list[dict]:
    """The log rank 0 wrote: one dict per step."""
    path = Path(out) / LOG
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def trained_model(out: str | Path) -> GPT:
    """The final weights rank 0 wrote, as a GPT on the CPU."""
    return checkpoints.load(Path(out) / WEIGHTS, GPT, GPTConfig)


def parse(argv: list[str] | None = None) -> DataParallelRun:
    """The run the command line describes (the inverse of :meth:`DataParallelRun.arguments`)."""
    parser = argparse.ArgumentParser(prog="python -m attnbook.data_parallel", description=__doc__.split("\n")[0])
    for field in dataclasses.fields(DataParallelRun):
        flag = "--" + field.name.replace("_", "-")
        if field.type == "bool":
            parser.add_argument(flag, action="store_true")
        elif field.name == "out":
            parser.add_argument(flag, required=True)
        else:
            kind = {"int": int, "float": float, "str": str, "int | None": int}[field.type]
            parser.add_argument(flag, type=kind, default=field.default)
    return DataParallelRun(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    train(parse(argv))


if __name__ == "__main__":
    main()

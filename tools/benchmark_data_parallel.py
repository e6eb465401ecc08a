"""Tokens per second of chapter 8's GPT trained by ``attnbook.data_parallel``: 1 and 2 processes, fp32 and bf16.

    python -m tools.benchmark_data_parallel [--steps 80] [--warmup-steps 10] [--repeat 3]

Every configuration is launched with ``torchrun`` exactly as a reader would, each worker on
one CPU thread (``OMP_NUM_THREADS=1``), and timed by its own log: the predicted (real,
non-padding) tokens of the steps after the first ``--warmup-steps``, divided by the time
those steps took. The CPU rows force ``ATTNBOOK_DEVICE=cpu``; on a machine with a GPU the
same model is also measured on it (one process; fp32, bf16, fp16). The best of
``--repeat`` runs is reported. Apart from training, two processes time the all-reduce
of a tensor the size of the model's gradients on their own (gloo), to weigh
communication against a step. Writes ``benchmarks/data_parallel.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from attnbook.data_parallel import DataParallelRun, launch, read_log
from attnbook.language_model import CausalLMTraining
from tools.benchmark_notebooks import cpu_name
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "data_parallel.md"


@dataclass(frozen=True)
class Setting:
    device: str       # "cpu" or "cuda"
    processes: int
    batch_size: int   # per process
    precision: str


CPU_SETTINGS = [Setting("cpu", 1, 64, "fp32"), Setting("cpu", 1, 32, "fp32"), Setting("cpu", 2, 32, "fp32"),
                Setting("cpu", 2, 64, "fp32"),
                Setting("cpu", 1, 64, "bf16"), Setting("cpu", 2, 32, "bf16")]
GPU_SETTINGS = [Setting("cuda", 1, 64, "fp32"), Setting("cuda", 1, 64, "bf16"), Setting("cuda", 1, 64, "fp16"),
                Setting("cuda", 1, 1024, "fp32"), Setting("cuda", 1, 1024, "bf16")]


def measure(setting: Setting, steps: int, warmup_steps: int) -> tuple[float, float]:
    """(predicted tokens per second, seconds per step) after the warm-up steps, from rank 0's log."""
    with tempfile.TemporaryDirectory() as out:
        run = DataParallelRun(out=out, steps=steps, batch_size=setting.batch_size, precision=setting.precision,
                              save_every=steps)
        previous = os.environ.get("ATTNBOOK_DEVICE")
        os.environ["ATTNBOOK_DEVICE"] = setting.device
        try:
            launch(run, setting.processes)
        finally:
            if previous is None:
                del os.environ["ATTNBOOK_DEVICE"]
            else:
                os.environ["ATTNBOOK_DEVICE"] = previous
        log = read_log(out)
    timed = log[warmup_steps:]
    seconds = timed[-1]["seconds"] - log[warmup_steps - 1]["seconds"]
    return sum(entry["tokens"] for entry in timed) / seconds, seconds / len(timed)


def parameter_count() -> int:
    return sum(p.numel() for p in CausalLMTraining().build().parameters())


def all_reduce_worker(out: str, rounds: int = 300) -> None:
    """Run by each of two torchrun workers: time ``rounds`` all-reduces of the gradients' size; rank 0 writes."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    gradients = torch.randn(parameter_count())
    times = []
    for _ in range(rounds + 20):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(gradients)
        times.append(time.perf_counter() - start)
    if dist.get_rank() == 0:
        Path(out).write_text(str(statistics.median(times[20:])), encoding="utf-8")
    dist.destroy_process_group()


def all_reduce_seconds() -> float:
    """The median time of one all-reduce of the gradients between two local processes (gloo)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "seconds"
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                        "-m", "tools.benchmark_data_parallel", "--all-reduce-worker", str(out)],
                       cwd=ROOT, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        return float(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--all-reduce-worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.all_reduce_worker:
        all_reduce_worker(args.all_reduce_worker)
        return 0
    settings = CPU_SETTINGS + (GPU_SETTINGS if torch.cuda.is_available() else [])
    best: dict[Setting, tuple[float, float]] = {}
    for _ in range(args.repeat):  # whole rounds, so a busy moment does not hit one setting only
        for setting in settings:
            measured = measure(setting, args.steps, args.warmup_steps)
            print(setting, f"{measured[0]:.0f} tokens/s, {measured[1] * 1000:.1f} ms/step", flush=True)
            if setting not in best or measured[0] > best[setting][0]:
                best[setting] = measured
    communication = min(all_reduce_seconds() for _ in range(args.repeat))
    print(f"all-reduce {communication * 1000:.2f} ms", flush=True)
    REPORT.write_text(report(best, communication, args), encoding="utf-8")
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


def report(best: dict[Setting, tuple[float, float]], communication: float, args: argparse.Namespace) -> str:
    gpu = f"; GPU: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "; no GPU (no CUDA rows)"
    capability = torch.backends.cpu.get_cpu_capability()
    baseline = best[Setting("cpu", 1, 64, "fp32")][0]
    lines = [
        "# Data parallel training: tokens per second of chapter 8's GPT",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python -m tools.benchmark_data_parallel` "
        f"({args.steps} steps per run, the first {args.warmup_steps} not timed; the best of {args.repeat} runs).",
        "",
        f"- Machine: {cpu_name()}, {os.cpu_count()} cores{gpu}; PyTorch's CPU kernels: {capability}; "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        f"- Model: chapter 8's GPT (`CausalLMTraining()`: V = {len(CausalLMTraining().tokenizer)}, D = 64, "
        f"2 layers, 4 heads, F = 256, dropout 0.1; {parameter_count():,} parameters), AdamW; the story sentences, "
        "batches trimmed to their longest row.",
        "- Launch: `torchrun --standalone --nproc-per-node=P -m attnbook.data_parallel`; gloo between CPU "
        "processes; every worker on one thread (`OMP_NUM_THREADS=1`).",
        "- Tokens: the predicted (real) tokens of the whole step, summed over the processes.",
        "",
        "| device | processes | batch per process | global batch | precision | tokens/s | ms/step | "
        "vs 1 CPU process, fp32 |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for setting, (tokens_per_second, seconds) in best.items():
        lines.append(f"| {setting.device} | {setting.processes} | {setting.batch_size} | "
                     f"{setting.batch_size * setting.processes} | {setting.precision} | {tokens_per_second:,.0f} | "
                     f"{seconds * 1000:.1f} | {tokens_per_second / baseline:.2f}× |")
    lines += ["", *notes(best, communication)]
    return "\n".join(lines) + "\n"


def notes(best: dict[Setting, tuple[float, float]], communication: float) -> list[str]:
    one = best[Setting("cpu", 1, 64, "fp32")][0]
    two = best[Setting("cpu", 2, 32, "fp32")][0]
    two_big = best[Setting("cpu", 2, 64, "fp32")][0]
    bf16 = best[Setting("cpu", 1, 64, "bf16")][0]
    parameters = parameter_count()
    step_two = best[Setting("cpu", 2, 32, "fp32")][1]
    step_32, step_64 = best[Setting("cpu", 1, 32, "fp32")][1], best[Setting("cpu", 1, 64, "fp32")][1]
    return [
        f"- Two processes sharing the global batch of 64 process {two / one:.2f}× the tokens per second of one "
        f"process; two processes of 64 rows each (global 128) {two_big / one:.2f}×. Every step, DDP all-reduces "
        f"all {parameters:,} gradient numbers between the processes, whatever the batch.",
        f"- That all-reduce alone ({parameters:,} float32 numbers, {parameters * 4 / 1e6:.2f} MB, two processes, "
        f"gloo; median of 300) takes {communication * 1000:.2f} ms, against {step_two * 1000:.1f} ms for a whole step "
        f"of two processes with 32 rows each: {communication / step_two:.0%} of the step.",
        f"- One process alone takes {step_32 * 1000:.1f} ms for a step of 32 rows and {step_64 * 1000:.1f} ms for "
        f"64, so about {max(0.0, 2 * step_32 - step_64) * 1000:.1f} ms of a step does not grow with the rows. Yet "
        f"a step of two processes with 32 rows each takes {step_two * 1000:.1f} ms: {(step_two - step_32) * 1000:.1f} "
        "ms more than one process doing the same 32 rows alone, far more than the all-reduce and that fixed part. "
        "Running at the same time, the two processes slow each other down on this two-core virtual machine "
        "(shared caches and memory bandwidth, and whatever the host shares beneath its virtual cores).",
        f"- bf16 autocast on this CPU runs at {bf16 / one:.2f}× the float32 speed; its flags "
        + (f"list {', '.join(bf16_flags())}." if bf16_flags() else
           "list neither `avx512_bf16` nor `amx_bf16`: without bf16 arithmetic, autocast's matrix products "
           "convert their inputs to bf16 and compute without the hardware that makes bf16 fast."),
    ]


def bf16_flags() -> list[str]:
    """The CPU's bf16 instruction sets, from /proc/cpuinfo (empty where there are none or no such file)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    except OSError:
        return []
    return sorted({flag for flag in flags if flag in ("avx512_bf16", "amx_bf16")})


if __name__ == "__main__":
    raise SystemExit(main())

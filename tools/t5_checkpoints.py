"""The shipped multi-task T5 of chapter 9: trained, recorded and checked like the translation models.

Used by ``python -m tools.train_checkpoints t5_multitask`` (see its docstring for what the check
proves and why it compares a prefix of the losses within a tolerance). One run:
:class:`attnbook.text_to_text.TextToTextTraining` with the book's values, four tasks told apart by
their prefixes, evaluated per prefix and on a prefix it never trained on.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from attnbook import checkpoints
from attnbook.experiment import count_parameters, pretrained_path, training_record
from attnbook.text_to_text import TASKS, UNSEEN, TextToTextTraining
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "t5_multitask.md"
COMMAND = "python -m tools.train_checkpoints"

RUNS = {"t5_multitask": TextToTextTraining()}

PREFIX_STEPS = 100        # as the other shipped models'
PREFIX_TOLERANCE = 5e-3   # measured: AVX2 kernels (ATEN_CPU_CAPABILITY=avx2) vs the AVX-512 record differ by
                          # ≤ 3e-6 over 20 steps and 1.1e-3 by step 86 (more than the translation models' 3e-5)
FULL_LOSS_BAND = 0.05     # per 100-step mean loss after full retraining; measured AVX2 vs AVX-512: ≤ 0.023
EXACT_BAND = 0.02         # shipped weights re-measured (4 of 200 answers); measured with AVX2 kernels: no change
FULL_EXACT_BAND = 0.1     # … after full retraining; measured AVX2 vs AVX-512: ≤ 0.06 (an unseen-prefix share)


def recipe(name: str) -> dict:
    """Everything that decides the run, with exact fingerprints of its vocabulary, data, batches and rates."""
    run = RUNS[name]
    return {"model": "T5", "config": asdict(run.config()), "training": asdict(run), "steps": run.steps,
            **run.fingerprint()}


def load(name: str):
    from attnbook.t5 import T5, T5Config

    return checkpoints.load(pretrained_path(name), T5, T5Config)


def _run(name: str, max_steps: int | None = None):
    run = RUNS[name]
    model = run.build(name)
    return model, run.train(model, max_steps=max_steps, desc=name)


def train_one(name: str, machine: str) -> dict:
    """Train ``name`` for every step, evaluate it, and save it with the record of its run."""
    start, cpu_start = time.perf_counter(), time.process_time()
    model, losses = _run(name)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    record = {
        "recipe": recipe(name),
        "machine": machine,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),  # the machine may be shared: the process's own time as well
        "steps": len(losses),
        "parameters": count_parameters(model),
        "final_loss": round(sum(losses[-100:]) / 100, 4),
        "losses": [float(f"{loss:.7g}") for loss in losses],
        "results": RUNS[name].evaluate(model),
    }
    checkpoints.save(model, pretrained_path(name), notes={"training": json.dumps(record), "command": COMMAND})
    return record


def results_problems(name: str, got: dict, stored: dict, band: float) -> list[str]:
    """Every exact match or format share that differs from the record by more than ``band``."""
    problems = []
    for task in (*TASKS, UNSEEN):
        pairs = [("exact_match", got[task]["exact_match"], stored[task]["exact_match"])]
        pairs += [(f"answered_as.{key}", value, stored[task]["answered_as"][key])
                  for key, value in got[task]["answered_as"].items()]
        problems += [f"{name}: {task} {key} is {a}, recorded {b} (band ±{band})"
                     for key, a, b in pairs if abs(a - b) > band + 1e-9]
    return problems


def check_one(name: str, *, full: bool = False) -> list[str]:
    """What differs between the shipped ``name`` and what today's code trains (empty: nothing)."""
    record = training_record(name)
    today = recipe(name)
    problems = [f"{name}: recipe field {key!r} differs from the shipped record" for key in today
                if record["recipe"].get(key) != today[key]]
    if problems:
        return problems
    problems += results_problems(name, RUNS[name].evaluate(load(name)), record["results"], EXACT_BAND)
    model, losses = _run(name, max_steps=None if full else PREFIX_STEPS)
    prefix = [abs(a - b) for a, b in zip(losses[:PREFIX_STEPS], record["losses"], strict=False)]
    worst = max(range(len(prefix)), key=prefix.__getitem__)
    if prefix[worst] > PREFIX_TOLERANCE:
        problems.append(f"{name}: retrained loss at step {worst + 1} is {losses[worst]:.6f}, recorded "
                        f"{record['losses'][worst]:.6f} (tolerance {PREFIX_TOLERANCE})")
    if full:
        for start in range(0, len(losses), 100):
            a = sum(losses[start:start + 100]) / len(losses[start:start + 100])
            b = sum(record["losses"][start:start + 100]) / len(record["losses"][start:start + 100])
            if abs(a - b) > FULL_LOSS_BAND:
                problems.append(f"{name}: steps {start + 1}–{start + 100} mean loss {a:.4f}, recorded {b:.4f} "
                                f"(band ±{FULL_LOSS_BAND})")
        problems += results_problems(name, RUNS[name].evaluate(model), record["results"], FULL_EXACT_BAND)
    return problems


def write_report(records: dict[str, dict]) -> None:
    """benchmarks/t5_multitask.md: the run, the exact match per prefix and what the unseen prefix answered as."""
    name, r = next(iter(records.items()))
    run = RUNS[name]
    lines = [
        "# The shipped multi-task T5 (chapter 9)",
        "",
        f"Trained by `{COMMAND} {name}` with `attnbook.text_to_text.TextToTextTraining()`: "
        f"{len(TASKS)} tasks × {run.train_per_task:,} training examples, {run.batch_size // len(TASKS)} of each "
        f"task in every batch of {run.batch_size}, {run.steps:,} steps, a vocabulary of {len(run.tokenizer)} "
        "tokens (whole words, single characters, 100 sentinels).",
        f"Machine: {r['machine']}.",
        "",
        "| parameters | steps | time (s) | CPU time (s) | final loss |",
        "|---:|---:|---:|---:|---:|",
        f"| {r['parameters']:,} | {r['steps']} | {r['seconds']} | {r['cpu_seconds']} | {r['final_loss']} |",
        "",
        "Time: wall-clock seconds of training on a machine shared with other jobs; CPU time: the training "
        "process's own.",
        "",
        "Final loss: mean cross-entropy per target token (and `</s>`) over the last 100 steps.",
        "",
        f"Greedy answers to {run.test_per_task} held-out inputs per prefix: exact match, and the share of answers "
        "whose format is each task's answer format (`attnbook.text_to_text.answer_format`).",
        "",
        "| prefix | exact match | " + " | ".join(f"as {t}" for t in (*TASKS, UNSEEN)) + " | other |",
        "|---|---:|" + "---:|" * (len(TASKS) + 2),
    ]
    for task in (*TASKS, UNSEEN):
        res = r["results"][task]
        label = f"`{res['prefix']}`" + (" (never trained)" if task == UNSEEN else "")
        lines.append(f"| {label} | {res['exact_match']:.3f} | "
                     + " | ".join(f"{v:.3f}" for v in res["answered_as"].values()) + " |")
    lines += ["", "Examples from the unseen prefix (input, expected, answer):", ""]
    lines += [f"- `{s}` → expected `{t}`, answered `{a}`" for s, t, a in r["results"][UNSEEN]["samples"]]
    lines += ["", f"`{COMMAND} --check {name}` verifies on any CPU that this is what today's code trains."]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")

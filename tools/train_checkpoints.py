"""Train the book's models with the full budget and ship them in attnbook/pretrained/.

    python -m tools.train_checkpoints [MODEL ...]                train, save, write benchmarks/checkpoints.md
    python -m tools.train_checkpoints --check [MODEL ...]        is each shipped model what today's code trains?
    python -m tools.train_checkpoints --check --full [MODEL ...] … also retrain it fully and compare the results
    python -m tools.train_checkpoints --reevaluate BERT ...       re-measure shipped BERTs (changed measurements)

The chapters cannot spend minutes training, so they load these weights (and train
a shortened run live). Each weight file carries the record of its run: the recipe,
fingerprints of the data, of the order of the batches and of the learning rates,
every step's loss, and the results on the test sets. The translation models are
below; chapter 7's BERTs follow the same pattern in ``tools/bert_checkpoints.py``, chapter 9's BART in
``tools/bart_checkpoints.py`` and its multi-task T5 in ``tools/t5_checkpoints.py``.

Training is deterministic on one machine, but not across machines: float sums
differ between CPUs (Intel or AMD, AVX-512 or AVX2 kernels), and training
amplifies the differences (measured: losses agree to the last bit for about 20
steps, to 3e-5 at step 100, then drift by up to 0.02; the retrained weights
differ by up to 1.3). So ``--check`` proves, on any CPU, in seconds:

1. the recipe, the data, the batch order of every epoch and the learning rate of
   every step are today's (exact fingerprints: integers and rounded rates);
2. retraining today's code for the first ``PREFIX_STEPS`` steps, more than one
   epoch, so every training batch is seen, reproduces the recorded losses within
   ``PREFIX_TOLERANCE``: model, initial weights, loss and optimizer are today's;
3. the shipped weights give the recorded test results (within one sentence per
   bucket: greedy decoding could flip a near-tie on another CPU).

``--full`` also retrains every step and compares with the record within bands
measured across CPU kernels: per-epoch mean loss within ``FULL_LOSS_BAND``, exact
match per bucket within ``FULL_EXACT_BAND`` and BLEU within ``FULL_BLEU_BAND``.
It takes about as long as training (minutes); CI runs the fast check.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from attnbook import checkpoints
from attnbook.bahdanau import BahdanauSeq2Seq
from attnbook.experiment import TranslationExperiment, build, count_parameters, pretrained_path, training_record
from attnbook.seq2seq import Seq2Seq, Seq2SeqConfig
from attnbook.training import batch_order, train
from attnbook.transformer import Transformer, TransformerConfig
from tools import bart_checkpoints, bert_checkpoints, t5_checkpoints
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "checkpoints.md"
COMMAND = "python -m tools.train_checkpoints"

PREFIX_STEPS = 100        # > 94 batches: every training batch once
PREFIX_TOLERANCE = 1e-3   # measured across AVX-512 and AVX2 kernels: ≤ 3e-5 over the first 100 steps
FULL_LOSS_BAND = 0.05     # measured: ≤ 0.015 between kernels, per-epoch mean
FULL_EXACT_BAND = 0.2     # measured: ≤ 0.15 (6 of 40 sentences) in a long bucket
FULL_BLEU_BAND = 5.0      # measured: ≤ 2.6
EVAL_EXACT_BAND = 1 / 40  # one sentence of a bucket
EVAL_BLEU_BAND = 1.0


@dataclass(frozen=True)
class Shipped:
    """One shipped model: its classes, and how its run differs from the experiment's default."""

    model_class: type
    config_class: type
    epochs_factor: int = 1        # × the experiment's epochs
    seed_name: str | None = None  # start from the same weights as another shipped model


# Every model trains on TranslationExperiment's data. A "_long" model is its namesake's run continued
# for as many epochs again (the same first epochs, step for step): the recurrent seq2seq in 24 epochs
# takes at least as long as Bahdanau's model in 12, and so does the Transformer in 24.
MODELS = {
    "seq2seq": Shipped(Seq2Seq, Seq2SeqConfig),
    "seq2seq_long": Shipped(Seq2Seq, Seq2SeqConfig, epochs_factor=2, seed_name="seq2seq"),
    "bahdanau": Shipped(BahdanauSeq2Seq, Seq2SeqConfig),
    "transformer": Shipped(Transformer, TransformerConfig),
    "transformer_long": Shipped(Transformer, TransformerConfig, epochs_factor=2, seed_name="transformer"),
}


def _sha256(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk if isinstance(chunk, bytes) else str(chunk).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def recipe(name: str, experiment: TranslationExperiment) -> dict:
    """Everything that decides a run, with exact fingerprints of its data, batch order and learning rates."""
    shipped = MODELS[name]
    epochs = experiment.epochs * shipped.epochs_factor
    settings = experiment.training(shipped.model_class)
    batches = experiment.batches()
    steps = batch_order(len(batches), epochs, experiment.seed)
    schedule = settings.get("schedule")
    rates = [settings["lr"] * (schedule(step) if schedule else 1.0) for step in range(len(steps))]
    experiment_fields = {f.name: getattr(experiment, f.name) for f in fields(experiment) if f.name != "vocabs"}
    return {
        "model": shipped.model_class.__name__,
        "config": asdict(experiment.config_for(shipped.model_class)),
        "experiment": json.loads(json.dumps(experiment_fields)),  # tuples as lists, as stored
        "initial_weights": shipped.seed_name or name,
        "epochs": epochs,
        "steps": len(steps),
        "training": {key: repr(value) for key, value in settings.items()},
        "data_sha256": _sha256(t.numpy().tobytes() for b in batches for t in (b.src, b.tgt_in, b.tgt_out)),
        "order_sha256": _sha256(steps),
        "learning_rates_sha256": _sha256(f"{rate:.9g}" for rate in rates),
    }


def _run(name: str, experiment: TranslationExperiment, max_steps: int | None = None):
    shipped = MODELS[name]
    model = build(shipped.seed_name or name, shipped.model_class, experiment)
    epochs = experiment.epochs * shipped.epochs_factor
    losses = train(model, experiment.batches(), epochs=epochs, seed=experiment.seed, desc=name,
                   max_steps=max_steps, **experiment.training(shipped.model_class))
    return model, losses


def _machine() -> str:
    from tools.benchmark_notebooks import cpu_name

    return (f"{cpu_name()} ({torch.backends.cpu.get_cpu_capability()} kernels), Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")


def train_one(name: str, experiment: TranslationExperiment, path: Path) -> dict:
    """Train ``name`` with the full budget, evaluate it, and save it with the record of its run."""
    start = time.perf_counter()
    model, losses = _run(name, experiment)
    seconds = time.perf_counter() - start
    record = {
        "recipe": recipe(name, experiment),
        "machine": _machine(),
        "seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / (len(losses) / len(experiment.batches())), 2),
        "epochs": MODELS[name].epochs_factor * experiment.epochs,
        "steps": len(losses),
        "final_loss": round(sum(losses[-20:]) / 20, 4),
        "parameters": count_parameters(model),
        "losses": [float(f"{loss:.7g}") for loss in losses],
        "by_length": experiment.evaluate(model),
        "unseen_structure": experiment.evaluate_unseen(model),
    }
    checkpoints.save(model, path, notes={"training": json.dumps(record), "command": COMMAND})
    return record


def _epoch_means(losses: list[float], per_epoch: int) -> list[float]:
    return [sum(losses[i:i + per_epoch]) / per_epoch for i in range(0, len(losses), per_epoch)]


def _results_problems(name: str, rows: list[dict], unseen: dict, record: dict, exact_band: float,
                      bleu_band: float) -> list[str]:
    problems = []
    pairs = [(f"{row['lengths'][0]}–{row['lengths'][1]} words", row, stored)
             for row, stored in zip(rows, record["by_length"], strict=True)]
    pairs.append(("unseen structure", unseen, record["unseen_structure"]))
    for where, got, stored in pairs:
        if abs(got["exact_match"] - stored["exact_match"]) > exact_band + 1e-9:
            problems.append(f"{name}, {where}: exact match {got['exact_match']:.3f}, recorded "
                            f"{stored['exact_match']:.3f} (band ±{exact_band:.3f})")
        if abs(got["bleu"] - stored["bleu"]) > bleu_band:
            problems.append(f"{name}, {where}: BLEU {got['bleu']:.1f}, recorded {stored['bleu']:.1f} "
                            f"(band ±{bleu_band})")
    return problems


def check_one(name: str, experiment: TranslationExperiment, *, full: bool = False) -> list[str]:
    """What differs between the shipped ``name`` and what today's code trains (empty: nothing)."""
    record = training_record(name)
    today = recipe(name, experiment)
    problems = [f"{name}: recipe field {key!r} is {today[key]!r} today but {record['recipe'].get(key)!r} in the "
                f"shipped record" for key in today if record["recipe"].get(key) != today[key]]
    if len(record["losses"]) != today["steps"]:
        problems.append(f"{name}: {len(record['losses'])} recorded losses for {today['steps']} steps")
    if problems:  # retraining could not match; say what changed
        return problems
    shipped = checkpoints.load(pretrained_path(name), MODELS[name].model_class, MODELS[name].config_class)
    problems += _results_problems(name, experiment.evaluate(shipped), experiment.evaluate_unseen(shipped), record,
                                  EVAL_EXACT_BAND, EVAL_BLEU_BAND)
    model, losses = _run(name, experiment, max_steps=None if full else PREFIX_STEPS)
    prefix = [abs(a - b) for a, b in zip(losses[:PREFIX_STEPS], record["losses"], strict=False)]
    worst = max(range(len(prefix)), key=prefix.__getitem__)
    if prefix[worst] > PREFIX_TOLERANCE:
        problems.append(f"{name}: retrained loss at step {worst + 1} is {losses[worst]:.6f}, recorded "
                        f"{record['losses'][worst]:.6f} (tolerance {PREFIX_TOLERANCE})")
    if full:
        per_epoch = len(experiment.batches())
        for epoch, (a, b) in enumerate(zip(_epoch_means(losses, per_epoch), _epoch_means(record["losses"], per_epoch),
                                           strict=True), start=1):
            if abs(a - b) > FULL_LOSS_BAND:
                problems.append(f"{name}: epoch {epoch} mean loss {a:.4f}, recorded {b:.4f} (band ±{FULL_LOSS_BAND})")
        problems += _results_problems(name, experiment.evaluate(model), experiment.evaluate_unseen(model), record,
                                      FULL_EXACT_BAND, FULL_BLEU_BAND)
    return problems


def write_report(records: dict[str, dict]) -> None:
    first = next(iter(records.values()))
    lines = [
        "# The shipped translation models",
        "",
        f"Trained {datetime.date.today().isoformat()} by `{COMMAND}` with "
        "`attnbook.experiment.TranslationExperiment()`: the same data, sizes and batches for every model.",
        f"Machine: {first['machine']}.",
        "",
        "| model | parameters | epochs | steps | training time (s) | per epoch (s) | final loss |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | {r['parameters']:,} | {r['epochs']} | {r['steps']} | {r['seconds']} | "
              f"{r['seconds_per_epoch']} | {r['final_loss']} |" for name, r in records.items()]
    lines += ["", "Final loss: the mean of the last 20 steps. The Transformer trains with warm-up and label smoothing, "
              "so its loss includes the smoothing term. Gradients are clipped to norm 1.0 for every model.",
              "", "Greedy translations of unseen test sentences drawn like the training sentences (1–4 clauses), "
              "by English length, and of 40 sentences with 5–6 clauses (a structure no training sentence has) "
              "of 40–49 words (exact match / BLEU):", ""]
    buckets = [tuple(row["lengths"]) for row in first["by_length"]]
    lines += ["| model | " + " | ".join(f"{low}–{high}" for low, high in buckets) + " | 5–6 clauses |",
              "|---|" + "---:|" * (len(buckets) + 1)]
    for name, r in records.items():
        cells = [f"{row['exact_match']:.2f} / {row['bleu']:.1f}" for row in [*r["by_length"], r["unseen_structure"]]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"`{COMMAND} --check` verifies on any CPU that these are what today's code trains (see the "
              "module's docstring for what it proves and its tolerances)."]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", choices=[[], *MODELS, *bert_checkpoints.RUNS, *t5_checkpoints.RUNS,
                                                         *bart_checkpoints.RUNS],
                        default=[], help="default: all")
    parser.add_argument("--check", action="store_true", help="compare the shipped models with today's code")
    parser.add_argument("--full", action="store_true", help="with --check: retrain every step, compare results")
    parser.add_argument("--reevaluate", action="store_true",
                        help="re-measure the named shipped BERTs or BART with today's evaluation, keep their weights")
    args = parser.parse_args(argv)
    if args.reevaluate:
        reevaluable = {**bert_checkpoints.RUNS, **bart_checkpoints.RUNS}
        if not args.models or not set(args.models) <= set(reevaluable) or args.check:
            parser.error(f"--reevaluate takes BERT or BART names ({', '.join(reevaluable)}) and no --check")
        torch.set_num_threads(1)
        for name in args.models:
            (bart_checkpoints if name in bart_checkpoints.RUNS else bert_checkpoints).reevaluate(name)
            print(f"re-measured {name}")
        if set(args.models) & set(bert_checkpoints.RUNS):
            bert_checkpoints.write_report({name: training_record(name) for name in bert_checkpoints.RUNS})
        if set(args.models) & set(bart_checkpoints.RUNS):
            bart_checkpoints.write_report({name: training_record(name) for name in bart_checkpoints.RUNS})
        return 0
    if args.full and not args.check:
        parser.error("--full goes with --check")
    torch.set_num_threads(1)
    experiment = TranslationExperiment()
    names = args.models or [*MODELS, *bert_checkpoints.RUNS, *t5_checkpoints.RUNS, *bart_checkpoints.RUNS]
    berts = [name for name in names if name in bert_checkpoints.RUNS]
    t5s = [name for name in names if name in t5_checkpoints.RUNS]
    barts = [name for name in names if name in bart_checkpoints.RUNS]
    names = [name for name in names if name in MODELS]
    if args.check:
        problems = [line for name in names for line in check_one(name, experiment, full=args.full)]
        problems += [line for name in berts for line in bert_checkpoints.check_one(name, full=args.full)]
        problems += [line for name in t5s for line in t5_checkpoints.check_one(name, full=args.full)]
        problems += [line for name in barts for line in bart_checkpoints.check_one(name, full=args.full)]
        names += berts + t5s + barts
        for line in problems:
            print(line)
        print(f"{len(names)} model(s) checked{' (full retraining)' if args.full else ''}: "
              f"{'all match' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    records = {}
    for name in names:
        path = pretrained_path(name)
        path.parent.mkdir(exist_ok=True)
        records[name] = train_one(name, experiment, path)
        summary = {k: v for k, v in records[name].items() if k not in ("losses", "recipe")}
        print(name, json.dumps(summary), flush=True)
    if set(names) == set(MODELS):
        write_report(records)
        print(f"wrote {REPORT.relative_to(ROOT)}")
    elif names and all(pretrained_path(name).exists() for name in MODELS):
        write_report({name: training_record(name) for name in MODELS})
        print(f"wrote {REPORT.relative_to(ROOT)}")
    for name in berts:
        record = bert_checkpoints.train_one(name, _machine())
        print(name, json.dumps({k: v for k, v in record.items() if k in ("seconds", "final_loss", "results")}),
              flush=True)
    if berts and all(pretrained_path(name).exists() for name in bert_checkpoints.RUNS):
        bert_checkpoints.write_report({name: training_record(name) for name in bert_checkpoints.RUNS})
        print(f"wrote {bert_checkpoints.REPORT.relative_to(ROOT)}")
    for name in t5s:
        record = t5_checkpoints.train_one(name, _machine())
        print(name, json.dumps({k: v for k, v in record.items() if k in ("seconds", "final_loss", "results")}),
              flush=True)
        t5_checkpoints.write_report({name: record})
        print(f"wrote {t5_checkpoints.REPORT.relative_to(ROOT)}")
    for name in barts:
        record = bart_checkpoints.train_one(name, _machine())
        print(name, json.dumps({k: v for k, v in record.items() if k in ("seconds", "final_loss", "results")}),
              flush=True)
        bart_checkpoints.write_report({name: record})
        print(f"wrote {bart_checkpoints.REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

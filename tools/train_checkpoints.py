"""Train the book's translation models with the full budget and ship them in attnbook/pretrained/.

    python -m tools.train_checkpoints [MODEL ...]          train, save, write benchmarks/checkpoints.md
    python -m tools.train_checkpoints --check [MODEL ...]  retrain and compare with the shipped weights

The chapters cannot spend minutes training, so they load these weights (and train
a shortened run live). Training is deterministic on one CPU thread: the same
command gives the same weights, which ``--check`` verifies.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from attnbook import checkpoints
from attnbook.bahdanau import BahdanauSeq2Seq
from attnbook.experiment import TranslationExperiment, build, count_parameters, pretrained_path
from attnbook.seq2seq import Seq2Seq, Seq2SeqConfig
from attnbook.training import train
from attnbook.transformer import Transformer, TransformerConfig
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "checkpoints.md"


@dataclass(frozen=True)
class Shipped:
    """One shipped model: its classes, and how its run differs from the experiment's default."""

    model_class: type
    config_class: type
    epochs_factor: int = 1      # × the experiment's epochs
    seed_name: str | None = None  # start from the same weights as another shipped model


# Every model trains on TranslationExperiment's data; "transformer_long" is the "transformer" run
# continued for as many epochs again, which takes about as long as the Bahdanau model's run.
MODELS = {
    "seq2seq": Shipped(Seq2Seq, Seq2SeqConfig),
    "bahdanau": Shipped(BahdanauSeq2Seq, Seq2SeqConfig),
    "transformer": Shipped(Transformer, TransformerConfig),
    "transformer_long": Shipped(Transformer, TransformerConfig, epochs_factor=2, seed_name="transformer"),
}


def train_one(name: str, experiment: TranslationExperiment, path: Path) -> dict:
    shipped = MODELS[name]
    model = build(shipped.seed_name or name, shipped.model_class, experiment)
    epochs = experiment.epochs * shipped.epochs_factor
    start = time.perf_counter()
    losses = train(model, experiment.batches(), epochs=epochs, seed=experiment.seed, desc=name,
                   **experiment.training(shipped.model_class))
    seconds = time.perf_counter() - start
    rows = experiment.evaluate(model)
    summary = {"seconds": round(seconds, 1), "seconds_per_epoch": round(seconds / epochs, 2),
               "epochs": epochs, "steps": len(losses), "final_loss": round(sum(losses[-20:]) / 20, 4),
               "parameters": count_parameters(model), "by_length": rows}
    checkpoints.save(model, path, notes={"training": json.dumps(summary),
                                         "command": "python -m tools.train_checkpoints"})
    return summary


def write_report(summaries: dict[str, dict]) -> None:
    lines = [
        "# The shipped translation models",
        "",
        f"Trained {datetime.date.today().isoformat()} by `python -m tools.train_checkpoints` on one CPU thread "
        f"(`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')}`), torch {torch.__version__}, with "
        "`attnbook.experiment.TranslationExperiment()`: the same data, sizes and budget for every model.",
        "",
        "| model | parameters | epochs | steps | training time (s) | per epoch (s) | final loss |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | {s['parameters']:,} | {s['epochs']} | {s['steps']} | {s['seconds']} | "
              f"{s['seconds_per_epoch']} | {s['final_loss']} |" for name, s in summaries.items()]
    lines += ["", "The Transformer trains with warm-up and label smoothing, so its loss includes the smoothing term.",
              "", "Greedy translations of unseen sentences, by English length (exact match / BLEU):", ""]
    buckets = [tuple(row["lengths"]) for row in next(iter(summaries.values()))["by_length"]]
    lines += ["| model | " + " | ".join(f"{low}–{high}" for low, high in buckets) + " |",
              "|---|" + "---:|" * len(buckets)]
    for name, s in summaries.items():
        cells = [f"{row['exact_match']:.2f} / {row['bleu']:.1f}" for row in s["by_length"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.train_checkpoints", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", choices=[[], *MODELS], default=[], help="default: all")
    parser.add_argument("--check", action="store_true", help="retrain and compare with the shipped weights")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    experiment = TranslationExperiment()
    names = args.models or list(MODELS)
    if args.check:
        failures = 0
        with tempfile.TemporaryDirectory() as folder:
            for name in names:
                path = Path(folder) / f"{name}.safetensors"
                train_one(name, experiment, path)
                model_class, config_class = MODELS[name].model_class, MODELS[name].config_class
                fresh = checkpoints.load(path, model_class, config_class).state_dict()
                shipped = checkpoints.load(pretrained_path(name), model_class, config_class).state_dict()
                worst = max((fresh[k] - shipped[k]).abs().max().item() for k in fresh)
                same = fresh.keys() == shipped.keys() and worst <= 1e-5
                failures += not same
                print(f"{name}: {'reproduced' if same else 'DIFFERENT'} (largest weight difference {worst:.2e})")
        return 1 if failures else 0
    summaries = {}
    for name in names:
        path = pretrained_path(name)
        path.parent.mkdir(exist_ok=True)
        summaries[name] = train_one(name, experiment, path)
        print(name, json.dumps(summaries[name]), flush=True)
    if set(names) == set(MODELS):
        write_report(summaries)
        print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

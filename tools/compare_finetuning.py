"""Chapter 7's fine-tuning table: does pretraining help particle agreement when labels are few?

    python -m tools.compare_finetuning

For every number of labelled sentences in ``AgreementFineTuning().labelled`` and
every seed, fine-tunes three encoders of the same size with the same recipe and
budget (:class:`attnbook.finetuning.AgreementFineTuning`): the shipped ``bert``
(BERT's 80/10/10 masking + next-sentence prediction), the shipped
``bert_mask_only`` (every chosen token [MASK]) and a fresh random encoder
("scratch"). Seed r picks the labelled sentences, the new head's weights and the
batch order, the same for the three encoders. Also: the same test answered without labels by
each pretrained model's masked-LM head, and the ``bert`` and scratch runs at other
learning rates and lengths (so the table does not hang on one recipe).

Writes ``src/attnbook/pretrained/bert_finetuning.json`` (read by chapter 7) and
``benchmarks/bert_finetuning.md``. It takes a few minutes of CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from dataclasses import asdict, replace
from importlib import resources
from pathlib import Path

import torch

from attnbook.finetuning import AgreementFineTuning
from attnbook.pretraining import BertPretraining, pretrained_bert
from tools.project import ROOT

RESULTS = Path(str(resources.files("attnbook") / "pretrained" / "bert_finetuning.json"))
REPORT = ROOT / "benchmarks" / "bert_finetuning.md"
ENCODERS = ("bert", "bert_mask_only", "scratch")
GRID_RATES = (3e-4, 1e-3, 3e-3)
GRID_STEPS = (300, 600)
GRID_LABELLED = 512


def run_all(settings: AgreementFineTuning, pretraining: BertPretraining) -> dict:
    encoders = {name: None if name == "scratch" else pretrained_bert(name) for name in ENCODERS}
    runs = []
    for n in settings.labelled:
        for seed in settings.seeds:
            for name, encoder in encoders.items():
                start = time.perf_counter()
                accuracy = settings.run(pretraining, encoder, n, seed)
                runs.append({"encoder": name, "labelled": n, "seed": seed, "accuracy": round(accuracy, 4),
                             "seconds": round(time.perf_counter() - start, 1)})
                print(json.dumps(runs[-1]), flush=True)
    test = settings.test_examples(pretraining)
    zero_shot = {name: round(settings.masked_lm_accuracy(pretraining, encoder, test), 4)
                 for name, encoder in encoders.items() if encoder is not None}
    grid = []  # the recipe is not what makes the difference: other rates and lengths, n = GRID_LABELLED, seed 0
    for lr in GRID_RATES:
        for steps in GRID_STEPS:
            other = replace(settings, lr=lr, steps=steps)
            for name in ("bert", "scratch"):
                grid.append({"encoder": name, "lr": lr, "steps": steps, "labelled": GRID_LABELLED,
                             "accuracy": round(other.run(pretraining, encoders[name], GRID_LABELLED, 0), 4)})
                print(json.dumps(grid[-1]), flush=True)
    summary = {}
    for name in ENCODERS:
        for n in settings.labelled:
            values = [r["accuracy"] for r in runs if r["encoder"] == name and r["labelled"] == n]
            summary.setdefault(name, {})[str(n)] = {"mean": round(statistics.mean(values), 4),
                                                   "min": min(values), "max": max(values)}
    return {"settings": json.loads(json.dumps(asdict(settings))), "test_size": settings.test_size,
            "runs": runs, "summary": summary, "masked_lm_zero_shot": zero_shot, "grid": grid}


def write_report(results: dict) -> None:
    from tools.benchmark_notebooks import cpu_name

    settings = results["settings"]
    lines = [
        "# Fine-tuning the book's BERT on particle agreement (chapter 7)",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python -m tools.compare_finetuning` on {cpu_name()} "
        f"(torch {torch.__version__}, one thread).",
        "",
        f"Each run fine-tunes every weight for {settings['steps']} steps (batch {settings['batch_size']}, AdamW, "
        f"lr {settings['lr']}, {settings['warmup']} warm-up steps, linear decay) on n labelled sentences from the "
        f"training documents, half with one wrong particle form, and is tested on {results['test_size']} sentences "
        "from the held-out documents (chance 0.5). Seeds: " + ", ".join(map(str, settings["seeds"])) + ".",
        "",
        "| encoder | " + " | ".join(f"n = {n}" for n in settings["labelled"]) + " |",
        "|---|" + "---:|" * len(settings["labelled"]),
    ]
    for name, row in results["summary"].items():
        cells = [f"{row[str(n)]['mean']:.3f} ({row[str(n)]['min']:.3f}–{row[str(n)]['max']:.3f})"
                 for n in settings["labelled"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Mean test accuracy over the seeds (lowest–highest).", "",
              "Without any label: mask each particle in turn and call the sentence wrong when the written form "
              "scores below the other form under the pretraining head (`AgreementFineTuning.masked_lm_accuracy`): "
              + ", ".join(f"{name} {acc:.3f}" for name, acc in results["masked_lm_zero_shot"].items()) + ".", "",
              f"Other learning rates and lengths (n = {GRID_LABELLED}, seed 0):", "",
              "| lr | steps | bert | scratch |", "|---:|---:|---:|---:|"]
    for lr in GRID_RATES:
        for steps in GRID_STEPS:
            cells = {row["encoder"]: row["accuracy"] for row in results["grid"] if row["lr"] == lr
                     and row["steps"] == steps}
            lines.append(f"| {lr:g} | {steps} | {cells['bert']:.3f} | {cells['scratch']:.3f} |")
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compare_finetuning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    torch.set_num_threads(1)
    results = run_all(AgreementFineTuning(), BertPretraining())
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_report(results)
    print(f"wrote {RESULTS.relative_to(ROOT)} and {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

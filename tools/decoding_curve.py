"""Chapter 8's decoding curve: how temperature, top-k and top-p trade grammaticality for diversity.

    python -m tools.decoding_curve

Trains the book's GPT once with the chapter's recipe (:class:`attnbook.language_model.CausalLMTraining`,
its default seed and steps, one CPU thread), then for each decoding setting writes ``samples`` sentences
from ``<bos>`` with the same seeded generator and judges them with the grammar: the share grammatical,
the share distinct, the share new (not a training sentence), both grammatical and new, and the share of
particles that agree with their noun. Greedy decoding (temperature 0) is the low end of every curve.

Writes ``src/attnbook/pretrained/gpt_decoding.json`` (read by chapter 8) and ``benchmarks/gpt_decoding.md``.
It takes well under a minute of CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import torch

from attnbook.language_model import CausalLMTraining
from tools.project import ROOT

RESULTS = Path(str(resources.files("attnbook") / "pretrained" / "gpt_decoding.json"))
REPORT = ROOT / "benchmarks" / "gpt_decoding.md"
TEMPERATURES = (0.0, 0.5, 0.8, 1.0, 1.3, 1.6, 2.0)
TOP_K = (1, 2, 5, 20, 50)
TOP_P = (0.3, 0.6, 0.8, 0.9, 0.95)
SEEDS = (0, 1, 2)  # each setting is sampled with each seed; the table gives the mean


def measure(recipe: CausalLMTraining, model, **setting) -> dict:
    runs = [recipe.judge_samples(model, temperature=setting.get("temperature", 1.0), top_k=setting.get("top_k"),
                                 top_p=setting.get("top_p"), seed=seed) for seed in SEEDS]
    keys = ("grammatical", "distinct", "new", "grammatical_and_new", "particle_agreement", "ended")
    row = {**setting, **{key: round(sum(run[key] or 0.0 for run in runs) / len(runs), 4) for key in keys}}
    row["examples"] = runs[0]["examples"][:3]
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


def run_all(recipe: CausalLMTraining) -> dict:
    torch.set_num_threads(1)
    model = recipe.build()
    start = time.perf_counter()
    losses = recipe.train(model)
    seconds = time.perf_counter() - start
    evaluation = recipe.evaluate(model)
    curves = {
        "temperature": [measure(recipe, model, temperature=t) for t in TEMPERATURES],
        "top_k": [measure(recipe, model, top_k=k) for k in TOP_K],
        "top_p": [measure(recipe, model, top_p=p) for p in TOP_P],
    }
    return {"recipe": asdict(recipe), "seeds": list(SEEDS), "train_seconds": round(seconds, 1),
            "final_loss": round(sum(losses[-20:]) / 20, 4), "evaluation": evaluation, "curves": curves}


def write_report(results: dict) -> None:
    from tools.benchmark_notebooks import cpu_name

    perplexity, samples = results["evaluation"]["perplexity"], results["evaluation"]["samples"]
    lines = [
        "# Chapter 8: decoding, measured",
        "",
        f"Written by `python -m tools.decoding_curve` on {datetime.date.today()}, {cpu_name()} "
        f"(torch {torch.__version__}, one thread). The GPT of `CausalLMTraining()` trained in "
        f"{results['train_seconds']} s ({results['recipe']['steps']} steps).",
        "",
        f"Held-out perplexity per token (word pieces and `<eos>`): model {perplexity['model']}, "
        f"unigram {perplexity['unigram']}, uniform {perplexity['uniform']}.",
        f"At temperature 1, {samples['samples']} samples: grammatical {samples['grammatical']}, new {samples['new']}, "
        f"grammatical and new {samples['grammatical_and_new']}, particles agreeing {samples['particle_agreement']}.",
        "",
        f"Each row: {results['recipe']['samples']} samples from `<bos>` per seed, seeds {results['seeds']}, "
        "mean shares.",
        "",
    ]
    for name, rows in results["curves"].items():
        lines += [f"## {name}", "", f"| {name} | grammatical | distinct | new | grammatical and new | "
                  "particles agreeing | ended |", "|---|---|---|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row[name]} | {row['grammatical']} | {row['distinct']} | {row['new']} | "
                         f"{row['grammatical_and_new']} | {row['particle_agreement']} | {row['ended']} |")
        lines.append("")
    REPORT.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    results = run_all(CausalLMTraining())
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_report(results)
    print(f"wrote {RESULTS} and {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

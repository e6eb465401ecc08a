"""The shipped BERTs of chapter 7: trained, recorded and checked like the translation models.

Used by ``python -m tools.train_checkpoints`` (see its docstring for what the check
proves and why it compares a prefix of the losses within a tolerance). Two runs:

* ``bert``: :class:`attnbook.pretraining.BertPretraining` with the book's values
  (masked LM with BERT's 80/10/10 split, plus next-sentence prediction);
* ``bert_mask_only``: the same run, the same initial weights, data and chosen
  positions, except that every chosen token becomes ``[MASK]`` (split 1/0/0).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from attnbook import checkpoints
from attnbook.bert import BertConfig, BertForPreTraining
from attnbook.experiment import count_parameters, pretrained_path, training_record
from attnbook.pretraining import BertPretraining
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "bert_pretraining.md"
COMMAND = "python -m tools.train_checkpoints"

RUNS = {
    "bert": BertPretraining(),
    "bert_mask_only": BertPretraining(split=(1.0, 0.0, 0.0)),
}
INITIAL_WEIGHTS = "bert"  # both runs start from the same weights

PREFIX_STEPS = 100
PREFIX_TOLERANCE = 1e-3   # as the translation models'; measured for BERT in benchmarks/bert_pretraining.md
FULL_LOSS_BAND = 0.05     # per 100-step mean of the total loss
RATE_BAND = 0.01          # an accuracy or a share measured on thousands of positions (shipped weights)
LOSS_BAND = 0.01          # a mean loss in nats (shipped weights)
FULL_RATE_BAND = 0.05     # … after full retraining on another CPU


def recipe(name: str) -> dict:
    """Everything that decides the run, with exact fingerprints of its vocabulary, batches and learning rates."""
    run = RUNS[name]
    return {
        "model": BertForPreTraining.__name__,
        "config": asdict(run.config()),
        "pretraining": json.loads(json.dumps(asdict(run))),  # tuples as lists, as stored
        "initial_weights": INITIAL_WEIGHTS,
        "steps": run.steps,
        **run.fingerprint(),
    }


def _run(name: str, max_steps: int | None = None):
    run = RUNS[name]
    model = run.build(INITIAL_WEIGHTS)
    losses = run.train(model, max_steps=max_steps, desc=name)
    return model, losses


def train_one(name: str, machine: str) -> dict:
    """Pretrain ``name`` for every step, evaluate it, and save it with the record of its run."""
    start = time.perf_counter()
    model, losses = _run(name)
    seconds = time.perf_counter() - start
    record = {
        "recipe": recipe(name),
        "machine": machine,
        "seconds": round(seconds, 1),
        "steps": len(losses.total),
        "parameters": count_parameters(model),
        "final_loss": round(sum(losses.total[-100:]) / 100, 4),
        "losses": [float(f"{loss:.7g}") for loss in losses.total],
        "mlm_losses": [float(f"{loss:.7g}") for loss in losses.mlm],
        "nsp_losses": [float(f"{loss:.7g}") for loss in losses.nsp],
        "results": RUNS[name].evaluate(model),
        "vocab": list(RUNS[name].tokenizer.vocab),
    }
    checkpoints.save(model, pretrained_path(name), notes={"training": json.dumps(record), "command": COMMAND})
    return record


def reevaluate(name: str) -> dict:
    """Measure the shipped weights again with today's :meth:`BertPretraining.evaluate` and store the results in
    their record (after a change to the measurements; the weights and the rest of the record stay as trained)."""
    record = training_record(name)
    model = load(name)
    record["results"] = RUNS[name].evaluate(model)
    checkpoints.save(model, pretrained_path(name), notes={"training": json.dumps(record), "command": COMMAND})
    return record


def load(name: str) -> BertForPreTraining:
    return checkpoints.load(pretrained_path(name), BertForPreTraining, BertConfig)


def _leaves(results: dict, prefix: str = ""):
    for key, value in results.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{prefix}{key}", value


def results_problems(name: str, got: dict, stored: dict, rate_band: float, loss_band: float) -> list[str]:
    """Every measured number that differs from the record by more than its band (counts must be equal)."""
    problems = []
    stored_leaves = dict(_leaves(stored))
    for key, value in _leaves(got):
        if key not in stored_leaves:
            problems.append(f"{name}: result {key} is not in the record")
            continue
        old = stored_leaves[key]
        if isinstance(value, int) and isinstance(old, int):
            band = 0
        elif "loss" in key.rsplit(".", 1)[-1]:
            band = loss_band
        else:
            band = rate_band
        if abs(value - old) > band + 1e-9:
            problems.append(f"{name}: {key} is {value}, recorded {old} (band ±{band})")
    return problems


def check_one(name: str, *, full: bool = False) -> list[str]:
    """What differs between the shipped ``name`` and what today's code trains (empty: nothing)."""
    record = training_record(name)
    today = recipe(name)
    problems = [f"{name}: recipe field {key!r} differs from the shipped record" for key in today
                if record["recipe"].get(key) != today[key]]
    if record["vocab"] != list(RUNS[name].tokenizer.vocab):
        problems.append(f"{name}: the vocabulary differs from the shipped record")
    if problems:
        return problems
    comparable = record["results"]
    shipped = load(name)
    problems += results_problems(name, RUNS[name].evaluate(shipped), comparable, RATE_BAND, LOSS_BAND)
    model, losses = _run(name, max_steps=None if full else PREFIX_STEPS)
    prefix = [abs(a - b) for a, b in zip(losses.total[:PREFIX_STEPS], record["losses"], strict=False)]
    worst = max(range(len(prefix)), key=prefix.__getitem__)
    if prefix[worst] > PREFIX_TOLERANCE:
        problems.append(f"{name}: retrained loss at step {worst + 1} is {losses.total[worst]:.6f}, recorded "
                        f"{record['losses'][worst]:.6f} (tolerance {PREFIX_TOLERANCE})")
    if full:
        for start in range(0, len(losses.total), 100):
            a = sum(losses.total[start:start + 100]) / len(losses.total[start:start + 100])
            b = sum(record["losses"][start:start + 100]) / len(record["losses"][start:start + 100])
            if abs(a - b) > FULL_LOSS_BAND:
                problems.append(f"{name}: steps {start + 1}–{start + 100} mean loss {a:.4f}, recorded {b:.4f} "
                                f"(band ±{FULL_LOSS_BAND})")
        problems += results_problems(name, RUNS[name].evaluate(model), comparable, FULL_RATE_BAND, FULL_LOSS_BAND)
    return problems


def write_report(records: dict[str, dict]) -> None:
    """benchmarks/bert_pretraining.md: the runs, and what each model learned."""
    first = next(iter(records.values()))
    run = RUNS["bert"]
    lines = [
        "# The shipped BERTs (chapter 7)",
        "",
        f"Trained by `{COMMAND}` with `attnbook.pretraining.BertPretraining()`: {run.documents - run.held_out:,} "
        f"training documents, {run.held_out} held out, a WordPiece vocabulary of {len(run.tokenizer)} tokens, "
        f"batch {run.batch_size}, {run.steps:,} steps.",
        f"Machine: {first['machine']}.",
        "",
        "| model | split ([MASK]/random/kept) | parameters | steps | time (s) | final loss |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, r in records.items():
        split = "/".join(f"{v:g}" for v in r["recipe"]["pretraining"]["split"])
        lines.append(f"| {name} | {split} | {r['parameters']:,} | {r['steps']} | {r['seconds']} | {r['final_loss']} |")
    lines += ["", "Final loss: mean over the last 100 steps of masked-LM + next-sentence loss.", "",
              "Measured on the held-out documents:", "",
              "| model | masked acc. ([MASK]) | most frequent | MLM loss | unigram loss | particle agreement | "
              "majority form | NSP acc. | rule | kept acc. | untouched → itself | restored | copied |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in records.items():
        res = r["results"]
        masked, particles, nsp, copying = (res["masked_lm"]["masked"], res["particles"]["all"], res["nsp"],
                                           res["copying"])
        lines.append(f"| {name} | {masked['accuracy']:.3f} | {masked['most_frequent_accuracy']:.3f} | "
                     f"{masked['loss']:.3f} | {masked['unigram_loss']:.3f} | {particles['agreement']:.3f} | "
                     f"{particles['majority_form']:.3f} | {nsp['accuracy']:.3f} | {nsp['rule_based']:.3f} | "
                     f"{res['masked_lm']['kept']['accuracy']:.3f} | {copying['untouched_predicted_as_itself']:.3f} | "
                     f"{copying['restored']:.3f} | {copying['copied']:.3f} |")
    lines += ["", "Kept acc.: accuracy at chosen positions left unchanged. Untouched → itself: how often a token "
              "that was not chosen is predicted as itself. Restored / copied: at a position swapped for a random "
              "token and not masked, the prediction is the original / the random token.",
              "", f"`{COMMAND} --check` verifies on any CPU that these are what today's code trains."]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")

"""The shipped BART of chapter 9: trained, recorded and checked like chapter 7's BERTs.

Used by ``python -m tools.train_checkpoints`` (see its docstring for what the check
proves and why it compares a prefix of the losses within a tolerance). One run:

* ``bart``: :class:`attnbook.denoising.BartPretraining` with the book's values (text
  infilling + sentence permutation, BART's best setting).

Its record also holds the chapter's live run (:data:`attnbook.denoising.LIVE`): the same
recipe with a budget of seconds, trained and measured here so the chapter can say what a
run that short reaches, next to the full one.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from attnbook import checkpoints
from attnbook.bart import Bart, BartConfig
from attnbook.denoising import LIVE, NOISES, BartPretraining
from attnbook.experiment import count_parameters, pretrained_path, training_record
from tools.bert_checkpoints import results_problems
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "bart_pretraining.md"
COMMAND = "python -m tools.train_checkpoints"

RUNS = {"bart": BartPretraining()}

PREFIX_STEPS = 40         # the first steps retrained by the CI check (5–10 s on one thread)
PREFIX_TOLERANCE = 1e-3   # as the translation models' and the BERTs'
FULL_LOSS_BAND = 0.05     # per 100-step mean loss
RATE_BAND = 0.01          # a share measured on hundreds of documents or thousands of tokens (shipped weights)
FULL_RATE_BAND = 0.05     # … after full retraining on another CPU
SPOT_NOISES = ("text_infilling", "permutation_and_infilling")
SPOT_DOCUMENTS = 50       # the quick check re-measures these noises on the first held-out documents …
SPOT_BAND = 0.04          # … within two documents of 50 (greedy decoding may flip a near-tie on another CPU)


def recipe(name: str) -> dict:
    """Everything that decides the run, with exact fingerprints of its vocabulary, batches and learning rates."""
    run = RUNS[name]
    return {
        "model": Bart.__name__,
        "config": asdict(run.config()),
        "pretraining": json.loads(json.dumps(asdict(run))),
        "initial_weights": name,
        "steps": run.steps,
        **run.fingerprint(),
    }


def _run(name: str, max_steps: int | None = None):
    run = RUNS[name]
    model = run.build(name)
    losses = run.train(model, max_steps=max_steps, desc=name)
    return model, losses


def live_run() -> dict:
    """The chapter's live run, timed and measured: what a few seconds of the same recipe reach."""
    start = time.perf_counter()
    model = LIVE.build("bart")
    losses = LIVE.train(model, desc="live")
    seconds = time.perf_counter() - start
    return {"pretraining": json.loads(json.dumps(asdict(LIVE))), "seconds": round(seconds, 1),
            "losses": [float(f"{loss:.7g}") for loss in losses], "results": LIVE.evaluate(model)}


def train_one(name: str, machine: str) -> dict:
    """Pretrain ``name`` for every step, evaluate it, and save it with the record of its run."""
    start = time.perf_counter()
    model, losses = _run(name)
    seconds = time.perf_counter() - start
    results = RUNS[name].evaluate(model)
    record = {
        "recipe": recipe(name),
        "machine": machine,
        "seconds": round(seconds, 1),
        "steps": len(losses),
        "parameters": count_parameters(model),
        "final_loss": round(sum(losses[-100:]) / 100, 4),
        "losses": [float(f"{loss:.7g}") for loss in losses],
        "results": results,
        "spot_check": spot_check(model),
        "live": live_run(),
        "vocab": list(RUNS[name].tokenizer.vocab),
    }
    checkpoints.save(model, pretrained_path(name), notes={"training": json.dumps(record), "command": COMMAND})
    return record


def spot_check(model: Bart) -> dict:
    """The measurements the quick check repeats: two noises on the first ``SPOT_DOCUMENTS`` held-out documents."""
    return RUNS["bart"].evaluate(model, n=SPOT_DOCUMENTS, noises=SPOT_NOISES)


def load(name: str) -> Bart:
    return checkpoints.load(pretrained_path(name), Bart, BartConfig)


def reevaluate(name: str) -> dict:
    """Measure the shipped weights again with today's :meth:`BartPretraining.evaluate` and store the results in
    their record (after a change to the measurements; the weights and the rest of the record stay as trained).
    The live run, seconds long, is trained and measured again."""
    record = training_record(name)
    model = load(name)
    record["results"] = RUNS[name].evaluate(model)
    record["spot_check"] = spot_check(model)
    record["live"] = live_run()  # seconds of training: rerun and remeasured with today's code
    checkpoints.save(model, pretrained_path(name), notes={"training": json.dumps(record), "command": COMMAND})
    return record


def check_one(name: str, *, full: bool = False, quick: bool = False) -> list[str]:
    """What differs between the shipped ``name`` and what today's code trains (empty: nothing).

    ``quick`` (the unit test's budget) re-measures the shipped weights on the spot check only, not on
    every noise and every evaluation document.
    """
    record = training_record(name)
    today = recipe(name)
    problems = [f"{name}: recipe field {key!r} differs from the shipped record" for key in today
                if record["recipe"].get(key) != today[key]]
    if record["vocab"] != list(RUNS[name].tokenizer.vocab):
        problems.append(f"{name}: the vocabulary differs from the shipped record")
    if problems:
        return problems
    comparable = record["results"]
    if quick:
        problems += results_problems(name, spot_check(load(name)), record["spot_check"], SPOT_BAND, FULL_LOSS_BAND)
    else:
        problems += results_problems(name, RUNS[name].evaluate(load(name)), comparable, RATE_BAND, FULL_LOSS_BAND)
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
        problems += results_problems(name, RUNS[name].evaluate(model), comparable, FULL_RATE_BAND, FULL_LOSS_BAND)
    return problems


_LABELS = {"token_masking": "token masking", "token_deletion": "token deletion", "text_infilling": "text infilling",
           "sentence_permutation": "sentence permutation", "document_rotation": "document rotation",
           "permutation_and_infilling": "permutation + infilling (trained)"}


def _table(results: dict) -> list[str]:
    nan = float("nan")  # a record measured before the first-sentence score existed
    lines = ["| noise | exact match | copy | token accuracy | copy | hidden tokens restored | copy | "
             "first sentence | copy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in NOISES:
        r = results[kind]
        hidden = "–" if r["hidden_restored"] is None else f"{r['hidden_restored']:.3f}"
        copy_hidden = "–" if r["copy_hidden_restored"] is None else f"{r['copy_hidden_restored']:.3f}"
        lines.append(f"| {_LABELS[kind]} | {r['exact_match']:.3f} | {r['copy_exact_match']:.3f} | "
                     f"{r['token_accuracy']:.3f} | {r['copy_token_accuracy']:.3f} | {hidden} | {copy_hidden} | "
                     f"{r.get('first_sentence', nan):.3f} | {r.get('copy_first_sentence', nan):.3f} |")
    return lines


def write_report(records: dict[str, dict]) -> None:
    """benchmarks/bart_pretraining.md: the run, the live run, and what each restores under every noise."""
    record = records["bart"]
    run, live = RUNS["bart"], record["live"]
    lines = [
        "# The shipped BART (chapter 9)",
        "",
        f"Trained by `{COMMAND} bart` with `attnbook.denoising.BartPretraining()`: {run.documents - run.held_out:,} "
        f"training documents, {run.held_out} held out, chapter 7's WordPiece ({len(run.tokenizer)} tokens; "
        f"<s> = [CLS], </s> = [SEP], <pad> = [PAD], <mask> = [MASK]), batch {run.batch_size}, "
        f"text infilling ({run.mask_rate:.0%} of the tokens, Poisson λ = {run.poisson_lambda:g}) after sentence "
        f"permutation, drawn anew every step; d_model {run.d_model}, {run.layers} + {run.layers} layers, "
        f"{run.heads} heads, FFN {run.ffn_dim}.",
        f"Machine: {record['machine']}.",
        "",
        "| run | parameters | steps | time (s) | final loss |",
        "|---|---:|---:|---:|---:|",
        f"| bart | {record['parameters']:,} | {record['steps']} | {record['seconds']} | {record['final_loss']} |",
        f"| live (chapter) | {record['parameters']:,} | {live['pretraining']['steps']} | {live['seconds']} | "
        f"{sum(live['losses'][-10:]) / 10:.4f} |",
        "",
        "Final loss: mean cross-entropy per target token over the last 100 steps (the live run: last 10).",
        "",
        f"Greedy restoration of {run.eval_documents} held-out documents under each noise alone (the same "
        f"{run.mask_rate:.0%} rate for masking, deletion and infilling), against copying the corrupted input. "
        "Token accuracy: 1 − edit distance / original length. Hidden tokens restored: share of the tokens the "
        "noise hid that a minimum-edit alignment of the output with the original matches. First sentence: the "
        "output starts with the original's first sentence.",
        "",
        "Full run:",
        "",
        *_table(record["results"]),
        "",
        "Hidden tokens restored by what they were (chapter 7's categories: particles, function words such as "
        "것이다, content words), full run:",
        "",
        "| noise | particle | function | content |",
        "|---|---:|---:|---:|",
        *[f"| {kind.replace('_', ' ')} | " + " | ".join(
            f"{by[c]['restored']:.3f} (of {by[c]['hidden']})" for c in ("particle", "function", "content")) + " |"
          for kind, scores in record["results"].items() if (by := scores.get("hidden_restored_by_category"))],
        "",
        f"Live run ({live['pretraining']['steps']} steps, {live['seconds']} s):",
        "",
        *_table(live["results"]),
        "",
        f"`{COMMAND} --check bart` verifies on any CPU that these are what today's code trains.",
    ]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")

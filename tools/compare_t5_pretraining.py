"""Chapter 9's experiment (c): does span-corruption pretraining help the text-to-text tasks when labels are few?

    python -m tools.compare_t5_pretraining              # pretrain, then the whole table (≈ 20 min, one thread)
    python -m tools.compare_t5_pretraining --arm scratch --part /tmp/a.json   # one arm only (run two at once)
    python -m tools.compare_t5_pretraining --merge /tmp/a.json /tmp/b.json   # join the arms, write the record

**Unlabelled text** (:func:`unlabelled_documents`): the texts of chapter 9's four tasks, without the
pairs: every training example's source (without its prefix) and its target as two separate documents
(English clauses, Korean clauses, Korean numerals, digits, Korean dates, ISO dates), from the pool of
the multi-task recipe (4 × 4,000 examples; :func:`base`); a text that is any test example's source or target
(of any task, the unseen one included) is dropped, so nothing of the test split is seen.

**Pretraining** (:class:`Pretraining`): the chapter's tiny T5 (the multi-task recipe's size and
tokenizer), T5's span corruption (noise density 0.15, mean span 3; Raffel et al. 2020 §3.1.4, §3.7)
of packed chunks (the documents of each epoch in a new seeded order, concatenated without separator
as T5 does, cut into ``chunk``-token pieces), each input and target ending with ``</s>``; AdamW,
linear warm-up then linear decay. Shipped as ``pretrained/t5_span_corruption.safetensors``.

**Fine-tuning** (:class:`FineTuning`): n labelled pairs per task (the first n of a seeded order of
the pool, so the sets are nested), the four tasks mixed with their prefixes, every weight trained,
the same steps, batch and schedule for both arms; the pretrained model and a fresh one ("scratch",
its initial weights seeded by the seed). The learning rate of each arm is picked on a validation
split (50 held-out pool examples per task, never labelled) from :data:`GRID` at n = ``GRID_N``,
seed 0. Exact match per task on the recipe's 200 test inputs per task.

Why it does or does not help, measured: how well the pretrained model fills spans of unseen text
(:func:`span_filling`), and, for every run, the share of answers in the task's own format
(``answer_format``: the form of an answer can come from unlabelled text, the mapping cannot, since no
document holds a source next to its target) and the teacher-forced test loss.

Writes ``src/attnbook/pretrained/t5_pretraining.json`` and ``benchmarks/t5_pretraining.md``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from attnbook.corruption import pack, t5_span_corruption
from attnbook.text_to_text import TASKS, UNSEEN, TextToTextTraining, _pad, answer_format
from tools.project import ROOT

RESULTS = Path(str(resources.files("attnbook") / "pretrained" / "t5_pretraining.json"))
CHECKPOINT = Path(str(resources.files("attnbook") / "pretrained" / "t5_span_corruption.safetensors"))
REPORT = ROOT / "benchmarks" / "t5_pretraining.md"
ARMS = ("pretrained", "scratch")
GRID = (1e-3, 3e-3, 1e-2)
GRID_N = 256
VALIDATION = 50  # pool examples per task kept for picking the learning rate (the last ones of the pool)


def base() -> TextToTextTraining:
    """The multi-task recipe whose data pool, test inputs, tokenizer and model size the experiment uses: pinned
    here (the chapter's multi-task defaults when this experiment was run), so that the chapter's recipe can move
    without changing this record; its steps, batch and learning rate are not used (see :class:`FineTuning`)."""
    return TextToTextTraining(train_per_task=4000, test_per_task=200, seed=0, clauses=1, max_numeral=10**8 - 1,
                              d_model=64, d_kv=16, d_ff=256, num_layers=2, num_heads=4, dropout=0.1,
                              weight_decay=0.01, max_new_tokens=24)


def unlabelled_documents(recipe: TextToTextTraining) -> list[list[int]]:
    """Token ids of every training source and target as separate documents, none a test text of any task."""
    tok = recipe.tokenizer
    test_texts = {text for task in (*TASKS, UNSEEN) for e in recipe.test_examples(task)
                  for text in (e.source, e.target)}
    docs = []
    for task in TASKS:
        for e in recipe.train_examples(task):
            docs += [tok.encode(text) for text in (e.source, e.target) if text not in test_texts]
    return docs


@dataclass(frozen=True)
class Pretraining:
    """Span corruption on packed chunks of the unlabelled documents."""

    chunk: int = 32           # raw tokens per chunk (≈ 29 input tokens, ≈ 10 target tokens after corruption)
    noise_density: float = 0.15
    mean_span_length: float = 3.0
    batch_size: int = 64
    steps: int = 1000
    lr: float = 3e-3
    warmup: int = 100
    seed: int = 0

    def chunks(self, documents: list[list[int]], epoch: int) -> list[list[int]]:
        order = torch.randperm(len(documents), generator=torch.Generator().manual_seed(self.seed * 1000 + epoch))
        packed = pack([documents[i] for i in order.tolist()], self.chunk)
        return [c for c in packed if len(c) == self.chunk]  # the short last piece dropped

    def batches(self, recipe: TextToTextTraining, documents: list[list[int]]):
        """(inputs, mask, labels) per step: every chunk corrupted afresh, inputs and targets ending in </s>."""
        tok = recipe.tokenizer
        sentinels = [tok.sentinel_id(k) for k in range(100)]
        generator = torch.Generator().manual_seed(self.seed)
        epoch, pending = 0, []
        while True:
            while len(pending) < self.batch_size:
                pending += self.chunks(documents, epoch)
                epoch += 1
            rows, pending = pending[:self.batch_size], pending[self.batch_size:]
            pairs = [t5_span_corruption(c, sentinels=sentinels, noise_density=self.noise_density,
                                        mean_span_length=self.mean_span_length, generator=generator) for c in rows]
            inputs = _pad([[*p.inputs, tok.eos_id] for p in pairs], tok.pad_id)  # (B, S)
            labels = _pad([[*p.targets, tok.eos_id] for p in pairs], -100)  # (B, T)
            yield inputs, inputs != tok.pad_id, labels

    def learning_rate(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * max(0.0, (self.steps - step) / max(1, self.steps - self.warmup))

    def run(self, recipe: TextToTextTraining) -> tuple[nn.Module, list[float]]:
        documents = unlabelled_documents(recipe)
        torch.manual_seed(self.seed + sum(map(ord, "t5_span_corruption")))
        from attnbook.t5 import T5

        model = T5(recipe.config())
        losses = _train(model, recipe, self.batches(recipe, documents), self.steps, self.learning_rate, self.lr)
        return model, losses


def _train(model, recipe, batches, steps, learning_rate, lr) -> list[float]:
    optimizer = recipe._optimizer(model)
    for group in optimizer.param_groups:
        group["lr"] = lr
    losses = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        loss = recipe.loss(model, *next(batches))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@dataclass(frozen=True)
class FineTuning:
    """Few labelled pairs per task, mixed with prefixes; the same budget for every arm."""

    labelled: tuple[int, ...] = (64, 256, 1024)  # per task
    seeds: tuple[int, ...] = (0, 1, 2)
    batch_size: int = 32                      # 8 of each task per step
    steps: int = 2000                         # scratch learns the tasks at n = 256 (at 400 steps neither arm did)
    warmup: int = 200
    test_per_task: int = 200

    def subset(self, recipe: TextToTextTraining, task: str, n: int, seed: int) -> list:
        """The first n of a seeded order of the pool (nested across n), never a validation example."""
        held = {e.input for e in self.validation(recipe, task)}  # the pool repeats a few translation pairs
        pool = [e for e in recipe.train_examples(task)[:-VALIDATION] if e.input not in held]
        order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed * 10 + TASKS.index(task)))
        return [pool[i] for i in order[:n].tolist()]

    def validation(self, recipe: TextToTextTraining, task: str) -> list:
        return list(recipe.train_examples(task)[-VALIDATION:])

    def batches(self, recipe: TextToTextTraining, n: int, seed: int):
        tok = recipe.tokenizer
        share = self.batch_size // len(TASKS)
        data = {task: [(tok.encode(e.input), tok.encode(e.target, eos=True))
                       for e in self.subset(recipe, task, n, seed)] for task in TASKS}
        generator = torch.Generator().manual_seed(seed)
        queues = {task: [] for task in TASKS}
        while True:
            rows = []
            for task in TASKS:
                while len(queues[task]) < share:  # each task's examples in a new seeded order per pass
                    queues[task] += torch.randperm(n, generator=generator).tolist()
                rows += [data[task][i] for i in queues[task][:share]]
                queues[task] = queues[task][share:]
            inputs = _pad([s for s, _ in rows], tok.pad_id)  # (B, S)
            yield inputs, inputs != tok.pad_id, _pad([t for _, t in rows], -100)  # …, (B, T)

    def learning_rate(self, lr: float):
        return lambda step: lr * (step + 1) / self.warmup if step < self.warmup else \
            lr * max(0.0, (self.steps - step) / max(1, self.steps - self.warmup))

    def model(self, recipe: TextToTextTraining, arm: str, seed: int, pretrained: dict | None):
        from attnbook.t5 import T5

        torch.manual_seed(1000 + seed)  # the scratch arm's initial weights (and dropout's draws, for both arms)
        model = T5(recipe.config())
        if arm == "pretrained":
            model.load_state_dict(pretrained)
        return model

    def run(self, recipe: TextToTextTraining, arm: str, n: int, seed: int, lr: float, pretrained: dict | None,
            *, steps: int | None = None, evaluate_on: str = "test") -> dict:
        model = self.model(recipe, arm, seed, pretrained)
        steps = self.steps if steps is None else steps
        losses = _train(model, recipe, self.batches(recipe, n, seed), steps, self.learning_rate(lr), lr)
        scores, formed, tested = {}, {}, {}
        for task in TASKS:
            examples = (recipe.test_examples(task)[:self.test_per_task] if evaluate_on == "test"
                        else self.validation(recipe, task))
            answers = recipe.generate(model, [e.input for e in examples])
            scores[task] = round(sum(a == e.target for a, e in zip(answers, examples, strict=True)) / len(examples), 4)
            formed[task] = round(sum(answer_format(a) == task for a in answers) / len(examples), 4)
            with torch.no_grad():  # teacher-forced loss on the same inputs: below exact match's floor
                tested[task] = round(float(recipe.loss(model, *recipe.encode(examples))), 4)
        scores["mean"] = round(statistics.mean(scores[t] for t in TASKS), 4)
        formed["mean"] = round(statistics.mean(formed[t] for t in TASKS), 4)
        tested["mean"] = round(statistics.mean(tested[t] for t in TASKS), 4)
        return {"exact_match": scores, "well_formed": formed, "test_loss": tested,
                "final_loss": round(statistics.mean(losses[-20:]), 4), "losses": losses}


def run_arm(arm: str, fine: FineTuning, recipe: TextToTextTraining, pretrained: dict | None) -> dict:
    grid = []
    for lr in GRID:
        start = time.perf_counter()
        result = fine.run(recipe, arm, GRID_N, 0, lr, pretrained, evaluate_on="validation")
        grid.append({"arm": arm, "lr": lr, "labelled": GRID_N, "seed": 0, "validation": result["exact_match"],
                     "final_loss": result["final_loss"], "seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(grid[-1]), flush=True)
    best = max(grid, key=lambda row: row["validation"]["mean"])["lr"]
    runs = []
    for n in fine.labelled:
        for seed in fine.seeds:
            start = time.perf_counter()
            result = fine.run(recipe, arm, n, seed, best, pretrained)
            runs.append({"arm": arm, "labelled": n, "seed": seed, "lr": best, "exact_match": result["exact_match"],
                         "well_formed": result["well_formed"], "test_loss": result["test_loss"],
                         "final_loss": result["final_loss"], "seconds": round(time.perf_counter() - start, 1)})
            print(json.dumps(runs[-1]), flush=True)
    return {"arm": arm, "lr": best, "grid": grid, "runs": runs}


CHECK = {"arm": "pretrained", "labelled": 16, "seed": 0, "steps": 60}  # the short cell the test re-runs


def check_cell(recipe: TextToTextTraining, fine: FineTuning, lr: float, pretrained: dict) -> dict:
    """The short cell tests/test_t5_pretraining.py re-runs: its losses and its exact match on 50 tests per task."""
    short = FineTuning(labelled=fine.labelled, seeds=fine.seeds, batch_size=fine.batch_size, steps=CHECK["steps"],
                       warmup=fine.warmup // 4, test_per_task=50)
    result = short.run(recipe, CHECK["arm"], CHECK["labelled"], CHECK["seed"], lr, pretrained)
    return {**CHECK, "lr": lr, "warmup": short.warmup, "test_per_task": short.test_per_task,
            "losses": [round(x, 5) for x in result["losses"]], "exact_match": result["exact_match"]}


def pretrain(recipe: TextToTextTraining, settings: Pretraining) -> dict:
    from attnbook import checkpoints

    start = time.perf_counter()
    model, losses = settings.run(recipe)
    seconds = time.perf_counter() - start
    checkpoints.save(model, CHECKPOINT, notes={"pretraining": json.dumps(asdict(settings)),
                                               "command": "python -m tools.compare_t5_pretraining"})
    documents = unlabelled_documents(recipe)
    record = {"settings": asdict(settings), "documents": len(documents), "tokens": sum(map(len, documents)),
              "seconds": round(seconds, 1), "first_loss": round(statistics.mean(losses[:20]), 4),
              "final_loss": round(statistics.mean(losses[-100:]), 4),
              "losses_per_100": [round(statistics.mean(losses[i:i + 100]), 4) for i in range(0, len(losses), 100)]}
    print(json.dumps(record), flush=True)
    return record


@torch.no_grad()
def span_filling(recipe: TextToTextTraining, settings: Pretraining, state: dict) -> dict:
    """How well the pretrained model fills spans of unseen text: the test examples' texts (sources and targets of
    the four tasks, never pretrained on), packed and corrupted as in pretraining, teacher-forced; accuracy and
    loss over the hidden tokens only (not the sentinels or </s>), and the loss over the whole target."""
    from attnbook.t5 import T5

    tok = recipe.tokenizer
    documents = [tok.encode(text) for task in TASKS for e in recipe.test_examples(task)
                 for text in (e.source, e.target)]
    held_out = replace(settings, seed=12345, batch_size=len(pack(documents, settings.chunk)) - 1)
    inputs, mask, labels = next(held_out.batches(recipe, documents))
    model = T5(recipe.config())
    model.load_state_dict(state)
    model.eval()
    from attnbook.t5 import shift_right

    logits = model(inputs, attention_mask=mask, decoder_input_ids=shift_right(labels, model.config),
                   need_weights=False).logits  # (B, T, V)
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
    sentinel_ids = {tok.sentinel_id(k) for k in range(100)} | {tok.eos_id, -100}
    hidden = torch.tensor([[t not in sentinel_ids for t in row] for row in labels.tolist()])  # (B, T)
    right = (logits.argmax(-1) == labels) & hidden
    return {"chunks": int(inputs.shape[0]), "hidden_tokens": int(hidden.sum()),
            "hidden_accuracy": round(float(right.sum() / hidden.sum()), 4),
            "hidden_loss": round(float(losses[hidden].mean()), 4),
            "target_loss": round(float(losses[labels != -100].mean()), 4)}


def load_pretrained() -> dict:
    from attnbook import checkpoints
    from attnbook.t5 import T5, T5Config

    return checkpoints.load(CHECKPOINT, T5, T5Config).state_dict()


def vocab_sha256(recipe: TextToTextTraining) -> str:
    return hashlib.sha256("\0".join(recipe.tokenizer.vocab).encode()).hexdigest()


def summarize(parts: list[dict], fine: FineTuning, pretraining: dict, recipe: TextToTextTraining) -> dict:
    runs = [r for p in parts for r in p["runs"]]
    summary = {}
    for part in parts:
        for n in fine.labelled:
            for key in (*TASKS, "mean"):
                values = [r["exact_match"][key] for r in runs if r["arm"] == part["arm"] and r["labelled"] == n]
                summary.setdefault(part["arm"], {}).setdefault(str(n), {})[key] = {
                    "mean": round(statistics.mean(values), 4), "min": min(values), "max": max(values)}
            for measure in ("well_formed", "test_loss"):  # the form of the answers; the loss below exact match's floor
                values = [r[measure]["mean"] for r in runs if r["arm"] == part["arm"] and r["labelled"] == n]
                summary[part["arm"]][str(n)][measure] = round(statistics.mean(values), 4)
    return {"text_to_text": asdict(recipe), "vocab_sha256": vocab_sha256(recipe), "fine_tuning": asdict(fine),
            "grid_rates": list(GRID), "grid_labelled": GRID_N,
            "validation_per_task": VALIDATION, "pretraining": pretraining,
            "lr": {p["arm"]: p["lr"] for p in parts}, "grid": [g for p in parts for g in p["grid"]],
            "runs": runs, "summary": summary}


def write_report(results: dict) -> None:
    from tools.benchmark_notebooks import cpu_name

    fine, pre = results["fine_tuning"], results["pretraining"]
    labelled = fine["labelled"]
    lines = [
        "# Span-corruption pretraining vs scratch for chapter 9's text-to-text tasks, few labels",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python -m tools.compare_t5_pretraining` on {cpu_name()} "
        f"(torch {torch.__version__}, one thread per process).",
        "",
        f"Pretraining: {pre['documents']:,} unlabelled documents ({pre['tokens']:,} tokens; each training source and "
        f"target of the four tasks, no test text), span corruption (density {pre['settings']['noise_density']}, mean "
        f"span {pre['settings']['mean_span_length']}) of packed {pre['settings']['chunk']}-token chunks, "
        f"{pre['settings']['steps']} steps of batch {pre['settings']['batch_size']} (lr {pre['settings']['lr']}), "
        f"{pre['seconds']:.0f} s. Loss {pre['first_loss']:.3f} (first 20 steps) → {pre['final_loss']:.3f} "
        "(last 100 steps); per 100 steps: " + ", ".join(f"{x:.2f}" for x in pre["losses_per_100"]) + ".",
        "",
        f"Fine-tuning: every weight, {fine['steps']} steps of batch {fine['batch_size']} ({fine['batch_size'] // 4} "
        f"per task), {fine['warmup']} warm-up steps then linear decay, AdamW, dropout 0.1, the same for both arms. "
        f"Learning rate picked per arm on a validation split ({results['validation_per_task']} per task) from "
        f"{', '.join(f'{x:g}' for x in results['grid_rates'])} at n = {results['grid_labelled']}, seed 0: "
        + ", ".join(f"{arm} {lr:g}" for arm, lr in results["lr"].items()) + ". Seeds "
        + ", ".join(map(str, fine["seeds"])) + f"; test: {fine['test_per_task']} held-out inputs per task.",
        "",
        "Mean exact match over the four tasks, mean over seeds (lowest–highest):",
        "",
        "| arm | " + " | ".join(f"n = {n} / task" for n in labelled) + " |",
        "|---|" + "---:|" * len(labelled),
    ]
    for arm, row in results["summary"].items():
        lines.append(f"| {arm} | " + " | ".join(
            f"{row[str(n)]['mean']['mean']:.3f} ({row[str(n)]['mean']['min']:.3f}–{row[str(n)]['mean']['max']:.3f})"
            for n in labelled) + " |")
    lines += ["", "Per task (mean over seeds):", "", "| arm | n | " + " | ".join(TASKS) + " |",
              "|---|---:|" + "---:|" * len(TASKS)]
    for arm, row in results["summary"].items():
        for n in labelled:
            lines.append(f"| {arm} | {n} | " + " | ".join(
                f"{row[str(n)][t]['mean']:.3f} ({row[str(n)][t]['min']:.2f}–{row[str(n)][t]['max']:.2f})"
                for t in TASKS) + " |")
    lines += ["", "Learning-rate grid (validation exact match, mean of tasks; final training loss):", "",
              "| arm | lr | validation | final loss |", "|---|---:|---:|---:|"]
    for g in results["grid"]:
        lines.append(f"| {g['arm']} | {g['lr']:g} | {g['validation']['mean']:.3f} | {g['final_loss']:.3f} |")
    summary = results["summary"]
    lines += ["", "Pretrained minus scratch (mean exact match over tasks and seeds); do the seed ranges overlap?", ""]
    for n in labelled:
        a, b = summary["pretrained"][str(n)]["mean"], summary["scratch"][str(n)]["mean"]
        overlap = a["min"] <= b["max"] and b["min"] <= a["max"]
        lines.append(f"- n = {n}: {a['mean'] - b['mean']:+.3f} ({'ranges overlap' if overlap else 'ranges apart'})")
    if results.get("span_filling"):
        fill = results["span_filling"]
        lines += ["", f"Span filling on unseen text (the test examples' texts, {fill['chunks']} chunks corrupted as in "
                  f"pretraining, {fill['hidden_tokens']} hidden tokens, teacher-forced): hidden tokens right "
                  f"{fill['hidden_accuracy']:.3f}, their loss {fill['hidden_loss']:.3f}; loss over the whole target "
                  f"(sentinels and </s> included, as in training) {fill['target_loss']:.3f}."]
    lines += ["", "Why: the share of answers in the task's own format (`answer_format`) and the teacher-forced test "
              "loss, mean over tasks and seeds:", "", "| arm | " + " | ".join(f"n = {n}" for n in labelled) + " |",
              "|---|" + "---:|" * len(labelled)]
    for arm, row in results["summary"].items():
        lines.append(f"| {arm} | " + " | ".join(
            f"{row[str(n)]['well_formed']:.3f} / {row[str(n)]['test_loss']:.2f}" for n in labelled) + " |")
    check = results["check"]
    lines += ["", f"The cell `tests/test_t5_pretraining.py` re-runs: {check['arm']}, n = {check['labelled']}, seed "
              f"{check['seed']}, {check['steps']} steps (lr {check['lr']:g}), {check['test_per_task']} tests per task: "
              f"exact match {check['exact_match']['mean']:.3f}, last loss {check['losses'][-1]:.3f}."]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compare_t5_pretraining", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", choices=ARMS, help="run one arm only (pretrained: pretrain first)")
    parser.add_argument("--part", help="where --arm writes its part")
    parser.add_argument("--reuse-pretraining", action="store_true",
                        help="pretrained arm: fine-tune the shipped checkpoint instead of pretraining again")
    parser.add_argument("--merge", nargs="+", help="parts to join into the record")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    recipe, fine = base(), FineTuning()
    if args.merge:
        parts = [json.loads(Path(p).read_text()) for p in args.merge]
        pretraining = next(p["pretraining"] for p in parts if p.get("pretraining"))
        results = summarize([p for p in parts if "runs" in p], fine, pretraining, recipe)
        results["check"] = next(p["check"] for p in parts if p.get("check"))
        results["span_filling"] = span_filling(recipe, Pretraining(), load_pretrained())
        for run in results["runs"]:
            run.pop("losses", None)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        write_report(results)
        print(f"wrote {RESULTS.relative_to(ROOT)} and {REPORT.relative_to(ROOT)}")
        return 0
    arms = (args.arm,) if args.arm else ARMS
    parts = []
    for arm in arms:
        part = {"pretraining": None, "check": None}
        pretrained = None
        if arm == "pretrained":
            part["pretraining"] = (json.loads(RESULTS.read_text())["pretraining"] if args.reuse_pretraining
                                   else pretrain(recipe, Pretraining()))
            pretrained = load_pretrained()
        part |= run_arm(arm, fine, recipe, pretrained)
        if arm == "pretrained":
            part["check"] = check_cell(recipe, fine, part["lr"], pretrained)
        if args.part:
            Path(args.part).write_text(json.dumps(part) + "\n", encoding="utf-8")
        parts.append(part)
    if not args.part:
        results = summarize(parts, fine, parts[0]["pretraining"], recipe)
        results["check"] = parts[0]["check"]
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        write_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

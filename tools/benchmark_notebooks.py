"""Time every reader notebook on one CPU thread and write the table to benchmarks/notebooks.md.

    python -m tools.benchmark_notebooks [--repeat N] [SLUG ...]

Each notebook runs top to bottom in a fresh kernel, one at a time (so runs do
not compete for the cores), exactly as ``tools.notebooks`` executes it. The
budget (DESIGN.md) is at most 60 s per notebook and a median of at most 30 s.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys

import nbformat
import torch

from tools.notebooks import execute
from tools.project import LANGUAGES, ROOT, reader_path, slugs

REPORT = ROOT / "benchmarks" / "notebooks.md"
BUDGET_EACH, BUDGET_MEDIAN = 60.0, 30.0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def time_notebook(language: str, slug: str, repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds (kernel start-up included)."""
    times = []
    for _ in range(repeat):
        nb = nbformat.read(reader_path(language, slug), as_version=4)
        times.append(execute(nb, language))
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.benchmark_notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("slugs", nargs="*", help="chapters to time (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook; the fastest counts")
    args = parser.parse_args(argv)

    rows = []
    for slug in args.slugs or slugs():
        for language in LANGUAGES:
            seconds = time_notebook(language, slug, args.repeat)
            rows.append((slug, language, seconds))
            print(f"{language}/{slug}: {seconds:.1f} s", flush=True)
    times = [seconds for _, _, seconds in rows]
    median = statistics.median(times)
    lines = [
        "# Reader notebooks: run time on one CPU thread",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python -m tools.benchmark_notebooks "
        f"--repeat {args.repeat}` (fastest of {args.repeat} run(s), a fresh kernel each, kernel start-up included).",
        "",
        f"- Machine: {cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"torch {torch.__version__}; `OMP_NUM_THREADS=1`.",
        f"- Budget: at most {BUDGET_EACH:.0f} s per notebook, median at most {BUDGET_MEDIAN:.0f} s.",
        "",
        "| chapter | language | seconds | within budget |",
        "|---|---|---:|---|",
    ]
    lines += [f"| `{slug}` | {language} | {seconds:.1f} | {'yes' if seconds <= BUDGET_EACH else '**no**'} |"
              for slug, language, seconds in rows]
    lines += [
        "",
        f"Median: {median:.1f} s ({'within' if median <= BUDGET_MEDIAN else '**over**'} "
        f"the {BUDGET_MEDIAN:.0f} s budget); "
        f"slowest: {max(times):.1f} s; total: {sum(times):.1f} s.",
        "",
    ]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {REPORT.relative_to(ROOT)}")
    over = [row for row in rows if row[2] > BUDGET_EACH]
    return 1 if over or median > BUDGET_MEDIAN else 0


if __name__ == "__main__":
    sys.exit(main())

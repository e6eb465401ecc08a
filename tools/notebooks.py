"""Generate the reader notebooks in ``book/ko`` and ``book/en`` from the sources in ``notebooks/``.

    python -m tools.notebooks generate [--force] [--jobs N] [SLUG ...]
    python -m tools.notebooks check

``generate`` splits each source by language (:mod:`tools.bilingual`), executes
the result on one CPU thread, and stores it with its outputs and a fingerprint
of the code that produced them: the notebook's code cells and every file of
the attnbook package. When only prose changed, the fingerprint is unchanged and
the stored outputs are carried over instead of executing again.

``check`` lists reader notebooks that are missing, stale (their cells differ
from what the source gives today) or whose outputs came from other code.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from tools.bilingual import split
from tools.project import BOOK, LANGUAGES, PACKAGE, ROOT, reader_path, slugs, source_path

# Tiny models run far faster on one thread than on two busy ones.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def package_files() -> list[Path]:
    """Every file of the attnbook package (its code and any data it ships)."""
    return sorted(
        path for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def fingerprint(reader: NotebookNode) -> str:
    """A hash of what determines a notebook's outputs: its code cells and the package source."""
    digest = hashlib.sha256()
    for cell in reader.cells:
        if cell.cell_type == "code":
            digest.update(b"code\0" + cell.source.encode() + b"\0")
    for path in package_files():
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def expected_reader(language: str, slug: str) -> NotebookNode:
    """The reader notebook the source gives today, without outputs, with its fingerprint."""
    reader = split(nbformat.read(source_path(slug), as_version=4), language, slug)
    reader.metadata["attnbook"]["fingerprint"] = fingerprint(reader)
    return reader


def without_outputs(nb: NotebookNode) -> dict:
    """The parts of a notebook its source determines (everything but execution results)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("language_info", None)  # the kernel fills it in when it runs
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    return dict(nb)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def problem(language: str, slug: str) -> str | None:
    """Why ``book/<language>/<slug>.ipynb`` is not fresh, or None if it is."""
    path = reader_path(language, slug)
    if not path.exists():
        return f"{_shown(path)} is missing"
    stored = nbformat.read(path, as_version=4)
    if stored.metadata.get("attnbook", {}).get("fingerprint") != fingerprint(stored):
        return (
            f"{_shown(path)}: its outputs were produced by other code than today's "
            "(its code cells or the attnbook package changed after it was executed)"
        )
    if without_outputs(stored) != without_outputs(expected_reader(language, slug)):
        return f"{_shown(path)} is stale: its cells differ from what notebooks/{slug}.ipynb gives today"
    if any(cell.cell_type == "code" and cell.execution_count is None for cell in stored.cells):
        return f"{_shown(path)} has cells that were never executed"
    return None


def execute(nb: NotebookNode, language: str, timeout: int = 600, allow_errors: bool = False) -> float:
    """Run every cell in place, in the notebook's folder, on one CPU thread; return the seconds.

    With ``allow_errors`` a failing cell leaves its error in its outputs and the rest still run."""
    from nbclient import NotebookClient

    os.environ.update(ONE_THREAD)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(BOOK / language)}},
        record_timing=False,
        store_widget_state=True,
        allow_errors=allow_errors,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    return seconds


def _coalesce_streams(outputs: list) -> list:
    """One stream output per run of prints: the kernel may split one print across messages."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None and previous.output_type == "stream"
                and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def _carry_outputs(old: NotebookNode, new: NotebookNode) -> None:
    """Copy execution results from ``old`` into ``new``; their code cells are identical."""
    old_code = [cell for cell in old.cells if cell.cell_type == "code"]
    new_code = [cell for cell in new.cells if cell.cell_type == "code"]
    for before, after in zip(old_code, new_code, strict=True):
        after.outputs, after.execution_count = before.outputs, before.execution_count
    for key in ("widgets", "language_info"):  # written by the kernel when it ran
        if key in old.metadata:
            new.metadata[key] = old.metadata[key]


def _write(nb: NotebookNode, path: Path) -> None:
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def generate_one(language: str, slug: str, force: bool = False) -> str:
    """Bring one reader notebook up to date; return what was done."""
    path = reader_path(language, slug)
    reader = expected_reader(language, slug)
    if path.exists() and not force:
        stored = nbformat.read(path, as_version=4)
        if stored.metadata.get("attnbook", {}).get("fingerprint") == reader.metadata["attnbook"]["fingerprint"]:
            _carry_outputs(stored, reader)
            if reader != stored:
                _write(reader, path)
                return f"{language}/{slug}: prose updated, outputs kept"
            return f"{language}/{slug}: up to date"
    seconds = execute(reader, language)
    _write(reader, path)
    return f"{language}/{slug}: executed in {seconds:.1f} s"


def _generate_task(task: tuple[str, str, bool]) -> str:
    return generate_one(*task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="split, execute and store the reader notebooks")
    gen.add_argument("slugs", nargs="*", help="chapters to generate (default: all)")
    gen.add_argument("--force", action="store_true", help="execute even when outputs are current")
    gen.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks run at once")
    commands.add_parser("check", help="list reader notebooks that are missing or stale")
    args = parser.parse_args(argv)

    if args.command == "check":
        problems = [p for language in LANGUAGES for slug in slugs() if (p := problem(language, slug))]
        for line in problems:
            print(line)
        if not problems:
            print(f"all {len(slugs()) * len(LANGUAGES)} reader notebooks are fresh")
        return 1 if problems else 0

    unknown = sorted(set(args.slugs) - set(slugs()))
    if unknown:
        parser.error(f"no source notebook for {unknown}; chapters: {slugs()}")
    tasks = [(language, slug, args.force) for slug in (args.slugs or slugs()) for language in LANGUAGES]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for line in pool.map(_generate_task, tasks):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Readers who solve every exercise get ✅ everywhere: each stub replaced by its solution, run top to bottom."""

from __future__ import annotations

import re

import pytest

from tests.conftest import all_slugs, read_reader
from tools.bilingual import tags
from tools.notebooks import execute
from tools.project import LANGUAGES

SOLVED = {"ko": "✅ 정답입니다", "en": "✅ Correct"}


def with_solutions(nb):
    """The notebook with each exercise stub's body replaced by its solution's code."""
    cells = nb.cells
    checks = []
    for index, cell in enumerate(cells):
        if "exercise" not in tags(cell):
            continue
        name = re.search(r"def (\w+)\(", cell.source)[1]
        solution = next(c for c in cells[index + 1:] if "solution" in tags(c))
        cell.source = solution.source
        checks.append(next(c for c in cells[index + 1:] if f"check_{name}({name})" in c.source))
    return nb, checks


# One edition per chapter, the two languages taking turns: the editions' code cells are the same
# cells (tests/test_bilingual.py), and every checker's verdict in both languages is tested in
# tests/test_exercises.py, so a second run of the same code would only double the suite's slowest part.
EDITIONS = [(LANGUAGES[index % len(LANGUAGES)], slug) for index, slug in enumerate(all_slugs())]


@pytest.mark.slow
@pytest.mark.parametrize(("language", "slug"), EDITIONS)
def test_solved_notebooks_print_a_check_mark_for_every_exercise(language, slug):
    nb, checks = with_solutions(read_reader(language, slug))
    assert checks, f"{slug} has no exercises; every chapter has at least one"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    execute(nb, language)
    for check in checks:
        printed = "".join(output.get("text", "") for output in check.outputs)
        assert printed.startswith(SOLVED[language]), f"{slug}: {check.source!r} printed {printed!r}"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors

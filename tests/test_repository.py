"""What a new user and a maintainer rely on: the README's two commands, CI, pins, one repository URL."""

from __future__ import annotations

import re

import pytest
import tomllib

from tools.project import ROOT, repository, slugs

README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_commands(markdown: str) -> list[str]:
    blocks = re.findall(r"```(?:sh|bash|console|shell)\n(.*?)```", markdown, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_gives_exactly_two_commands_korean_first():
    commands = shell_commands(README)
    assert commands == ["make book", "make test"] * 2, commands  # once per language
    assert README.index("make book") < README.index("## English"), "Korean comes first"


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.MULTILINE)
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"


def test_the_readme_and_package_metadata_follow_the_canonical_repository():
    repo = repository()
    urls = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", README))
    assert urls == {repo.url}, urls
    linked = {"ko": set(), "en": set()}
    for colab in re.findall(r"https://colab\.research\.google\.com/github/\S+?\.ipynb", README):
        language, slug = re.search(r"/book/(\w+)/(\w+)\.ipynb$", colab).groups()
        assert colab == repo.colab_url(language, slug)
        linked[language].add(slug)
    assert linked["ko"] == linked["en"] == set(slugs()), "the README's chapter tables list every chapter"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["urls"]["Repository"] == repo.url


def test_requirements_pin_torch_and_jupyter_book_1():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "torch==2.13.0" in lines
    book = next(line for line in lines if line.startswith("jupyter-book"))
    version = tuple(int(part) for part in re.search(r"==(\d+)\.(\d+)\.(\d+)", book).groups())
    assert (1, 0, 4) <= version < (2,)
    assert "-e ." in lines


@pytest.mark.parametrize("never_pinned", ["torch", "ipywidgets"])
def test_the_package_never_pins_what_colab_brings(never_pinned):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in pyproject["project"]["dependencies"]:
        name = re.match(r"[\w.-]+", requirement)[0]
        if name == never_pinned:
            assert "==" not in requirement and "<" not in requirement, requirement


def test_the_offline_javascript_is_pinned():
    import json

    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version

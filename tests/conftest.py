"""Shared fixtures. Tests run offline, on the CPU, seeded."""

from __future__ import annotations

import nbformat
import pytest
import torch

import attnbook
from attnbook import language
from tools.project import LANGUAGES, reader_path, slugs, source_path


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts with no language chosen and a fixed seed."""
    previous = language._language
    language._language = None
    torch.manual_seed(0)
    yield
    language._language = previous


@pytest.fixture(params=LANGUAGES)
def lang(request) -> str:
    return request.param


def all_slugs() -> list[str]:
    return slugs()


def read_reader(language_code: str, slug: str) -> nbformat.NotebookNode:
    return nbformat.read(reader_path(language_code, slug), as_version=4)


def read_source(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(source_path(slug), as_version=4)


@pytest.fixture
def in_language():
    """Set the reader's language for one test: ``in_language("en")``."""
    def choose(code: str) -> None:
        attnbook.set_language(code)
    return choose

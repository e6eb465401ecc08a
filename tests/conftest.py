"""Shared fixtures. Tests run offline, on the CPU, seeded."""

from __future__ import annotations

import nbformat
import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

import attnbook
from attnbook import language
from attnbook.data import Batch
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


def padded_batch(sources: list[list[int]], targets: list[list[int]], pad: int = 0, bos: int = 1,
                 eos: int = 2) -> Batch:
    """A hand-made batch of token ids: tgt_in = <s> + y, tgt_out = y + </s>, padded with ``pad``."""
    def padded(rows):
        return pad_sequence([torch.tensor(r) for r in rows], batch_first=True, padding_value=pad)

    src = padded(sources)
    tgt_in, tgt_out = padded([[bos, *t] for t in targets]), padded([[*t, eos] for t in targets])
    return Batch(src=src, src_mask=src != pad, tgt_in=tgt_in, tgt_out=tgt_out, tgt_mask=tgt_out != pad)


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

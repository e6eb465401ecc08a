"""Progress bars for long loops: a widget in Jupyter and Colab, text in a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None) -> tqdm:
    """Wrap ``iterable`` in a progress bar that stays visible when the loop ends."""
    return tqdm(iterable, desc=desc, total=total, leave=True, mininterval=0.25)

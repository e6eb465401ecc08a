"""Progress bars for long loops: a widget in Jupyter and Colab, text in a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

T = TypeVar("T")


class _SavedBar(notebook_tqdm):
    """A notebook bar whose saved plain-text form is its final state.

    A widget bar is saved twice in the notebook: as the widget, which the book and a
    running kernel show, and as plain text, which GitHub, nbviewer and Colab show
    before anything runs. tqdm writes that text once, when the bar appears (0 %); this
    bar displays itself with a display id and replaces the saved output when it closes.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, display=False, **kwargs)
        self._handle = None
        if hasattr(self, "container"):  # not disabled
            from IPython.display import display

            self._handle = display(self.container, display_id=True)
            self.displayed = True

    def close(self) -> None:
        super().close()
        if getattr(self, "_handle", None) is not None:
            self._handle.update(self.container)
            self._handle = None


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None) -> tqdm:
    """Wrap ``iterable`` in a progress bar that stays visible, finished, when the loop ends."""
    bar = _SavedBar if issubclass(tqdm, notebook_tqdm) else tqdm
    return bar(iterable, desc=desc, total=total, leave=True, mininterval=0.25)

"""Figures for the book: the Korean font, heatmaps, and explorers.

Every explorer comes in two forms that show the same information:
:func:`slider_view` (one slider) or :func:`explorer` (several choices) is an
ipywidget for readers running the notebook, and :func:`small_multiples` is its
static counterpart for the published book, where no kernel answers the widget.
Both take the same ``draw(value, ax)`` function.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.language import text

# NanumGothic (SIL Open Font License 1.1) arrives with the koreanize-matplotlib
# distribution. We read the file and never import that package: its import
# needs distutils (gone in Python 3.12) and changes matplotlib's settings.
_FONT_DISTRIBUTION = "koreanize-matplotlib"
_FONT_FILE = "NanumGothic.ttf"
# Latin text keeps matplotlib's DejaVu Sans; glyphs it lacks (Hangul) fall back
# to NanumGothic, and glyphs NanumGothic lacks (the minus sign) stay in DejaVu.
_LATIN_FAMILY = "DejaVu Sans"


def korean_font_path() -> Path:
    """Where NanumGothic is installed (it ships with the koreanize-matplotlib wheel)."""
    try:
        files = metadata.files(_FONT_DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == _FONT_FILE:
            return Path(str(file.locate()))
    raise FileNotFoundError(
        f"{_FONT_FILE} not found: install attnbook's dependency {_FONT_DISTRIBUTION} "
        f"(pip install {_FONT_DISTRIBUTION}) / 한글 글꼴 {_FONT_FILE}을 찾을 수 없습니다: "
        f"pip install {_FONT_DISTRIBUTION} 로 설치하세요"
    )


def use_korean_font() -> list[str]:
    """Register NanumGothic with matplotlib so Hangul renders; returns the font families in use."""
    path = korean_font_path()
    font_manager.fontManager.addfont(str(path))
    korean = font_manager.FontProperties(fname=str(path)).get_name()
    families = [_LATIN_FAMILY, korean]
    plt.rcParams["font.family"] = families
    return families


def _as_matrix(weights: torch.Tensor | np.ndarray) -> np.ndarray:
    matrix = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else weights
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(
            text(
                f"히트맵에는 2차원 행렬이 필요합니다. 받은 모양: {matrix.shape}",
                f"a heatmap needs a 2-D matrix, got shape {matrix.shape}",
            )
        )
    return matrix


def heatmap(
    weights: torch.Tensor | np.ndarray,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    annotate: bool = False,
    cmap: str = "Blues",
) -> Axes:
    """Draw a matrix such as attention weights: rows are queries, columns are keys."""
    matrix = _as_matrix(weights)
    rows, cols = matrix.shape
    for labels, size, axis in ((x_labels, cols, "x"), (y_labels, rows, "y")):
        if labels is not None and len(labels) != size:
            raise ValueError(
                text(
                    f"{axis}축 이름표가 {len(labels)}개인데 행렬의 해당 크기는 {size}입니다",
                    f"{len(labels)} {axis}-labels for a matrix dimension of size {size}",
                )
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * cols + 1.5, 0.5 * rows + 1.0))
    ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=max(1.0, float(matrix.max())), aspect="auto")
    ax.set_xticks(range(cols), labels=list(x_labels) if x_labels is not None else None)
    ax.set_yticks(range(rows), labels=list(y_labels) if y_labels is not None else None)
    if x_labels is not None and max((len(label) for label in x_labels), default=0) > 3:
        ax.tick_params(axis="x", labelrotation=45)
    if annotate:
        for i in range(rows):
            for j in range(cols):
                value = matrix[i, j]
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if value > 0.6 else "black")
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


Draw = Callable[[Any, Axes], None]


def small_multiples(
    draw: Draw,
    values: Sequence[Any],
    *,
    ncols: int = 4,
    panel_size: tuple[float, float] = (3.0, 2.4),
) -> Figure:
    """The static counterpart of :func:`slider_view`: one panel per value, side by side."""
    if len(values) == 0:
        raise ValueError(text("값이 하나 이상 필요합니다", "need at least one value"))
    ncols = min(ncols, len(values))
    nrows = -(-len(values) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False
    )
    for ax, value in zip(axes.flat, values, strict=False):  # spare panels stay empty
        draw(value, ax)
    for ax in list(axes.flat)[len(values):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _png(draw: Draw, value: Any, figsize: tuple[float, float]) -> bytes:
    """One panel drawn off-screen: no pyplot state, nothing displayed."""
    fig = Figure(figsize=figsize)
    draw(value, fig.subplots())
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def slider_view(
    draw: Draw,
    values: Sequence[Any],
    *,
    description: str,
    initial: Any = None,
    figsize: tuple[float, float] = (5.0, 3.0),
):
    """An ipywidget: a slider over ``values`` that redraws ``draw(value, ax)`` (ipywidgets 7 and 8).

    The figure is an Image widget rather than an Output widget, so the picture is
    part of the widget's saved state: the published book shows it without a kernel.
    """
    import ipywidgets as widgets

    if len(values) == 0:
        raise ValueError(text("값이 하나 이상 필요합니다", "need at least one value"))
    slider = widgets.SelectionSlider(
        options=[(str(value), value) for value in values],
        value=values[0] if initial is None else initial,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="420px"),
    )
    image = widgets.Image(value=_png(draw, slider.value, figsize), format="png")

    def redraw(change: dict) -> None:
        image.value = _png(draw, change["new"], figsize)

    slider.observe(redraw, names="value")
    return widgets.VBox([slider, image])


def explorer(
    draw: Draw,
    options: dict[str, Sequence[Any]],
    *,
    initial: dict[str, Any] | None = None,
    figsize: tuple[float, float] = (5.0, 3.0),
):
    """An ipywidget with one dropdown per option; ``draw(choice, ax)`` gets a dict {option name: value}.

    For example ``options={"kind": ["encoder", "cross"], "layer": [0, 1], "head": [0, 1, 2, 3]}``.
    Like :func:`slider_view`, the figure is an Image widget, saved with the notebook.
    """
    import ipywidgets as widgets

    if not options or any(len(values) == 0 for values in options.values()):
        raise ValueError(text("선택지가 하나 이상 있는 옵션이 필요합니다", "every option needs at least one value"))
    initial = initial or {}
    unknown = set(initial) - set(options)
    if unknown:
        raise ValueError(text(f"없는 옵션: {sorted(unknown)}", f"unknown options: {sorted(unknown)}"))
    menus = {
        name: widgets.Dropdown(options=[(str(value), value) for value in values],
                               value=initial.get(name, values[0]), description=name,
                               style={"description_width": "initial"}, layout=widgets.Layout(width="auto"))
        for name, values in options.items()
    }

    def choice() -> dict[str, Any]:
        return {name: menu.value for name, menu in menus.items()}

    image = widgets.Image(value=_png(draw, choice(), figsize), format="png")

    def redraw(change: dict) -> None:
        image.value = _png(draw, choice(), figsize)

    for menu in menus.values():
        menu.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox(list(menus.values())), image])


def corruption_gallery(
    sentences: Sequence[Sequence[Any]],
    *,
    seed: int = 0,
    mask: str = "<mask>",
    sentinels: Sequence[str] | None = None,
    interactive: bool = False,
    seeds: Sequence[int] = tuple(range(10)),
    figsize: tuple[float, float] = (11.0, 4.2),
):
    """One text under each corruption of chapter 9, a row each: BART's five noisings and T5's span corruption.

    ``sentences`` is the text as sentences of tokens (sentence permutation needs them; the others see
    them joined). Masks and sentinels are drawn in red, the token a rotation starts at in blue. Returns
    a Figure drawn with ``seed``; with ``interactive=True`` an ipywidget whose slider picks the seed
    among ``seeds`` (the Figure is its static counterpart). Hangul needs :func:`use_korean_font`
    (``attnbook.setup`` calls it).
    """
    from attnbook import corruption as c

    if isinstance(sentences, (str, bytes)) or not sentences or any(isinstance(s, (str, bytes)) for s in sentences):
        raise ValueError(text("sentences는 문장(토큰 리스트)의 비어 있지 않은 리스트여야 합니다",
                              "sentences must be a non-empty list of sentences (token lists)"))
    tokens = [str(t) for sentence in sentences for t in sentence]
    sentinels = list(sentinels) if sentinels is not None else [f"<extra_id_{k}>" for k in range(100)]

    def rows(value: int) -> list[tuple[str, list[str], set[int], set[int]]]:
        generator = torch.Generator().manual_seed(value)
        masked = c.token_masking(tokens, mask=mask, rate=0.15, generator=generator)
        deleted = c.token_deletion(tokens, rate=0.15, generator=generator)
        infilled = c.text_infilling(tokens, mask=mask, generator=generator)
        permuted = c.sentence_permutation([[str(t) for t in s] for s in sentences], generator=generator)
        rotated = c.document_rotation(tokens, generator=generator)
        t5 = c.t5_span_corruption(tokens, sentinels=sentinels, generator=generator)

        def marks(seq: list[str], special: set[str]) -> set[int]:
            return {i for i, t in enumerate(seq) if t in special}

        return [
            (text("원문", "original"), tokens, set(), set()),
            (text("토큰 마스킹", "token masking"), masked.inputs, set(masked.positions), set()),
            (text("토큰 삭제", "token deletion"), deleted.inputs, set(), set()),
            (text("텍스트 채우기", "text infilling"), infilled.inputs, set(infilled.mask_positions), set()),
            (text("문장 순서 섞기", "sentence permutation"), permuted.tokens, set(), set()),
            (text("문서 회전", "document rotation"), rotated.inputs, set(), {0}),
            (text("T5 입력", "T5 inputs"), t5.inputs, marks(t5.inputs, set(sentinels)), set()),
            (text("T5 타깃", "T5 targets"), t5.targets, marks(t5.targets, set(sentinels)), set()),
        ]

    def draw(value: int, ax: Axes) -> None:
        ax.set_axis_off()
        table = rows(value)
        ax.set_title(text(f"한 텍스트를 망가뜨리는 여러 방법 (seed {value})",
                          f"one text under each corruption (seed {value})"), fontsize=10)
        for r, (label, seq, red, blue) in enumerate(table):
            y = 1.0 - (r + 0.5) / len(table)
            ax.text(0.0, y, label, transform=ax.transAxes, fontsize=9, color="dimgray", va="center")
            previous = None
            for i, token in enumerate(seq):  # colour only: NanumGothic has no bold face
                color = "tab:red" if i in red else "tab:blue" if i in blue else "black"
                if previous is None:
                    previous = ax.text(0.2, y, token, transform=ax.transAxes, fontsize=9, va="center", color=color)
                else:  # placed right after the previous token, whatever its width
                    previous = ax.annotate(" " + token, xy=(1, 0), xycoords=previous, va="bottom", fontsize=9,
                                           color=color)

    if interactive:
        return slider_view(draw, list(seeds), description="seed", initial=seed if seed in seeds else None,
                           figsize=figsize)
    fig = Figure(figsize=figsize)
    draw(seed, fig.subplots())
    return fig

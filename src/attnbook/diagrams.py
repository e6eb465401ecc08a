"""Architecture diagrams: the book's drawings of seq2seq, Bahdanau attention, multi-head attention and the Transformer.

Five figures, each drawn the way its paper draws it (the last, the appendix's own):

- :func:`encoder_decoder`: chapter 2's LSTM encoder–decoder unrolled in time (Sutskever et al., 2014,
  Fig. 1, with the book's bidirectional encoder); everything the decoder knows passes through one vector v.
- :func:`bahdanau_step`: one decoder step with attention (Bahdanau et al., 2015, Fig. 1).
- :func:`multi_head`: multi-head attention, its split into heads and their merge (Vaswani et al., 2017,
  Fig. 2 right).
- :func:`transformer`: the Transformer (Vaswani et al., 2017, Fig. 1), post-norm or pre-norm, built from
  parts so that an encoder alone (BERT) or a decoder alone (GPT) is the same call with switches.
- :func:`data_parallel`: the appendix's one step of data parallelism: replicas, shards, gradients, all-reduce.

They are made of a few primitives on plain matplotlib: :func:`box`, :func:`node`, :func:`arrow`,
:func:`elbow`, :func:`frame` and :func:`label`; :func:`stack` composes a Transformer layer from its
:class:`Sublayer` kinds once and places it anywhere, so Part III draws BERT, GPT, BART and T5 from
the same parts. Everything is placed in data units with equal aspect; at a figure's own size one
unit is half an inch (at most 8 inches wide), and fonts follow the unit, so a diagram looks the same
at any size. Every word comes from :func:`attnbook.text`, so both editions'
labels have one source. Call :func:`attnbook.viz.use_korean_font` (``attnbook.setup`` does) before
drawing Korean labels.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon
from matplotlib.text import Text

from attnbook.data import BOS, EOS, TAKE_YOUR_TIME
from attnbook.language import text

__all__ = [
    "ROLES",
    "SUBLAYERS",
    "Box",
    "Canvas",
    "Stack",
    "Sublayer",
    "arrow",
    "bahdanau_step",
    "begin",
    "box",
    "data_parallel",
    "elbow",
    "encoder_decoder",
    "finish",
    "frame",
    "label",
    "multi_head",
    "node",
    "stack",
    "transformer",
]

Point = tuple[float, float]

INCH_PER_UNIT = 0.5  # one data unit at a figure's own size
MAX_WIDTH = 8.0  # inches: the book's text width
FONT, SMALL = 9.5, 8.5  # points at a figure's own size
_HANGUL = re.compile("[\uac00-\ud7a3\u3131-\u318e]")
INK, MUTED, ACCENT = "#303030", "#707070", "#b3261e"

# (fill, edge) per role; the Transformer's colours follow Vaswani et al. (2017), Fig. 1.
ROLES: dict[str, tuple[str, str]] = {
    "embedding": ("#fbdada", "#b4545a"),
    "recurrent": ("#dce8f6", "#4a72a8"),
    "attention": ("#fde0bf", "#c77a2c"),
    "feedforward": ("#d3ecf6", "#3d8db0"),
    "norm": ("#f4f3c2", "#9c962c"),
    "linear": ("#e2dcf1", "#6b589f"),
    "softmax": ("#d5eed5", "#418b41"),
    "state": ("#e9e9e9", "#666666"),  # a decoder state s_t
    "context": ("#f9d3d0", ACCENT),  # a context vector: v, c_t
    "head": ("#ece6d6", "#7d6a45"),  # a task head on top of a stack (Part III)
}
HEAD_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#2a9d8f")


# ---------------------------------------------------------------- primitives


@dataclass(frozen=True)
class Box:
    """A drawn shape in data units: centre (x, y), width w, height h; ``round`` for a circle node."""

    x: float
    y: float
    w: float
    h: float
    round: bool = False

    def top(self, dx: float = 0.0) -> Point:
        return (self.x + dx, self.y + self.h / 2)

    def bottom(self, dx: float = 0.0) -> Point:
        return (self.x + dx, self.y - self.h / 2)

    def left(self, dy: float = 0.0) -> Point:
        return (self.x - self.w / 2, self.y + dy)

    def right(self, dy: float = 0.0) -> Point:
        return (self.x + self.w / 2, self.y + dy)

    def toward(self, point: Point) -> Point:
        """The point of the outline on the straight way from the centre to ``point``."""
        dx, dy = point[0] - self.x, point[1] - self.y
        if self.round:
            t = self.w / 2 / float(np.hypot(dx, dy))
        else:
            t = min(self.w / 2 / abs(dx) if dx else np.inf, self.h / 2 / abs(dy) if dy else np.inf)
        return (self.x + t * dx, self.y + t * dy)


def label(ax: Axes, x: float, y: float, s: str, *, size: float = FONT, color: str = INK,
          ha: str = "center", va: str = "center") -> Text:
    """A text at (x, y); sizes are points at the figure's own size and follow the unit when scaled.

    Mathtext draws a line that holds ``$…$`` in its own font, which has no Hangul: keep words and
    math on separate lines.
    """
    if any("$" in line and _HANGUL.search(line) for line in s.split("\n")):
        raise ValueError(text(f"한 줄에 한글과 수식($…$)을 함께 쓸 수 없습니다 (수식 글꼴에 한글이 없습니다): {s!r}",
                              f"a line may not mix Hangul and math ($…$): mathtext's font has no Hangul: {s!r}"))
    return ax.text(x, y, s, fontsize=size, color=color, ha=ha, va=va, zorder=4, linespacing=1.25)


def box(ax: Axes, x: float, y: float, w: float, h: float, s: str, role: str, *, size: float = FONT) -> Box:
    """A rounded box centred at (x, y), coloured by its role (see ``ROLES``), labelled ``s``."""
    if role not in ROLES:
        raise ValueError(text(f"상자의 역할 {role!r}은 없습니다. 가능한 역할: {sorted(ROLES)}",
                              f"unknown box role {role!r}; the roles are {sorted(ROLES)}"))
    fill, edge = ROLES[role]
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                fc=fill, ec=edge, lw=1.2, zorder=2, gid=f"box:{role}"))
    if s:
        label(ax, x, y, s, size=size)
    return Box(x, y, w, h)


def node(ax: Axes, x: float, y: float, symbol: str = "+", r: float = 0.17) -> Box:
    """A circle: "+" ⊕ adds, "×" multiplies, "~" is a positional encoding (Vaswani et al., Fig. 1)."""
    ax.add_patch(Circle((x, y), r, fc="white", ec=INK, lw=1.1, zorder=2, gid="node"))
    a = 0.62 * r
    if symbol == "~":
        t = np.linspace(-a, a, 40)
        strokes = [(x + t, y + 0.45 * r * np.sin(np.pi * t / a))]
    elif symbol in ("+", "×"):
        c, s = (1.0, 0.0) if symbol == "+" else (np.sqrt(0.5), np.sqrt(0.5))
        strokes = [([x - a * c, x + a * c], [y - a * s, y + a * s]), ([x - a * s, x + a * s], [y + a * c, y - a * c])]
    else:
        raise ValueError(text(f"노드 기호는 '+', '×', '~' 중 하나여야 합니다: {symbol!r}",
                              f"a node's symbol is '+', '×' or '~', got {symbol!r}"))
    for xs, ys in strokes:
        ax.add_line(Line2D(xs, ys, color=INK, lw=1.1, zorder=3, gid="glyph"))
    return Box(x, y, 2 * r, 2 * r, round=True)


def arrow(ax: Axes, *points: Point, dashed: bool = False, color: str = INK, width: float = 1.1,
          head: bool = True) -> None:
    """A line through ``points`` with a head at the last one; start and end on edges (``Box.top()`` …)."""
    xs, ys = zip(*points, strict=True)
    ax.add_line(Line2D(xs, ys, color=color, lw=width, ls=(0, (3.5, 2.5)) if dashed else "-", zorder=1,
                       solid_capstyle="butt", gid="arrow"))
    if head:
        (x0, y0), (x1, y1) = points[-2], points[-1]
        length = float(np.hypot(x1 - x0, y1 - y0))
        tail = (x1 - 1e-3 * (x1 - x0) / length, y1 - 1e-3 * (y1 - y0) / length)
        ax.add_artist(FancyArrowPatch(tail, (x1, y1), arrowstyle="-|>,head_length=0.55,head_width=0.22",
                                      mutation_scale=8 + 3.5 * width, shrinkA=0, shrinkB=0, lw=0, color=color,
                                      zorder=1.5, gid="head"))


def elbow(ax: Axes, start: Point, end: Point, *, vertical_first: bool = True, **style) -> None:
    """An arrow with one right-angled corner."""
    corner = (start[0], end[1]) if vertical_first else (end[0], start[1])
    arrow(ax, start, corner, end, **style)


def frame(ax: Axes, left: float, bottom: float, right: float, top: float, *, repeat: str | None = None,
          title: str | None = None, side: str = "left", colour: str = "#f1f1f1", edge: str = "#b9b9b9") -> Box:
    """The rounded background of a block; ``repeat`` ("N") writes "N×" beside it, as Vaswani et al. (Fig. 1) do."""
    if side not in ("left", "right"):
        raise ValueError(text(f"side는 'left' 또는 'right'여야 합니다: {side!r}",
                              f"side must be 'left' or 'right', got {side!r}"))
    ax.add_patch(FancyBboxPatch((left, bottom), right - left, top - bottom, boxstyle="round,pad=0,rounding_size=0.2",
                                fc=colour, ec=edge, lw=1.0, zorder=0, gid="frame"))
    x, ha = (left - 0.15, "right") if side == "left" else (right + 0.15, "left")
    middle = (bottom + top) / 2
    if title:
        label(ax, x, middle + (0.25 if repeat else 0.0), title, ha=ha)
    if repeat:
        label(ax, x, middle - (0.25 if title else 0.0), f"{repeat}×", size=FONT + 1.5, ha=ha)
    return Box((left + right) / 2, (bottom + top) / 2, right - left, top - bottom)


# ---------------------------------------------------------------- figure and fit


@dataclass(frozen=True)
class Canvas:
    """Where a diagram is drawn: its Axes, whether the diagram made the figure, and what was there before."""

    ax: Axes
    own: bool
    first: tuple[int, int, int]  # how many texts, patches and lines the Axes held already


def begin(ax: Axes | None = None) -> Canvas:
    """A canvas for a new diagram: the given Axes, or a new figure that :func:`finish` sizes to fit."""
    if ax is None:
        return Canvas(plt.figure(figsize=(6, 4)).add_axes((0, 0, 1, 1)), True, (0, 0, 0))
    return Canvas(ax, False, (len(ax.texts), len(ax.patches), len(ax.lines)))


def _shape_bounds(ax: Axes, first: tuple[int, int, int]) -> np.ndarray:
    corners = [line.get_xydata() for line in ax.lines[first[2]:]]
    for patch in ax.patches[first[1]:]:
        if not isinstance(patch, FancyArrowPatch):
            corners.append(patch.get_path().get_extents(patch.get_patch_transform()).get_points())
    points = np.concatenate(corners)
    return np.array([points.min(axis=0), points.max(axis=0)])


def _points_per_unit(ax: Axes) -> float:
    ax.apply_aspect()
    box_, (x0, x1), (y0, y1) = ax.get_position(), ax.get_xlim(), ax.get_ylim()
    width, height = ax.figure.get_size_inches() * 72
    return min(box_.width * width / (x1 - x0), box_.height * height / (y1 - y0))


def finish(canvas: Canvas, margin: float = 0.12) -> Axes:
    """Equal aspect, limits around everything drawn (texts included), fonts scaled with the unit."""
    ax, own, first = canvas.ax, canvas.own, canvas.first
    ax.set_axis_off()
    ax.set_aspect("equal")
    texts = ax.texts[first[0]:]
    sizes = [t.get_fontsize() for t in texts]
    shapes = bounds = _shape_bounds(ax, first)
    for _ in range(3):  # text extents depend on the limits only through the scale: this converges at once
        (x0, y0), (x1, y1) = bounds[0] - margin, bounds[1] + margin
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        if own:
            inches = (x1 - x0) * INCH_PER_UNIT
            shrink = min(1.0, MAX_WIDTH / inches)
            ax.figure.set_size_inches(inches * shrink, (y1 - y0) * INCH_PER_UNIT * shrink)
        scale = _points_per_unit(ax) / (72 * INCH_PER_UNIT)
        for t, size in zip(texts, sizes, strict=True):
            t.set_fontsize(size * scale)
        renderer = ax.figure.canvas.get_renderer()
        extents = [t.get_window_extent(renderer).transformed(ax.transData.inverted()).get_points() for t in texts]
        points = np.concatenate([shapes, *extents])
        bounds = np.array([points.min(axis=0), points.max(axis=0)])
    return ax


# ---------------------------------------------------------------- arguments


def _tokens(tokens: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(tokens, str) or not all(isinstance(t, str) and t for t in tokens) or len(tokens) == 0:
        raise ValueError(text(f"{name}에는 비어 있지 않은 토큰(문자열)의 목록이 필요합니다: {tokens!r}",
                              f"{name} must be a non-empty list of non-empty strings (tokens), got {tokens!r}"))
    return tuple(tokens)


def _sub(symbol: str, index: int | str) -> str:
    return f"${symbol}_{{{index}}}$"


# ---------------------------------------------------------------- chapter 2: the unrolled encoder–decoder


def _bidirectional(ax: Axes, tokens: Sequence[str], *, y: float, pitch: float, w: float, h: float,
                   symbols: bool = False) -> tuple[list[Box], list[Box]]:
    """Tokens under columns [→h_j; ←h_j]: the forward LSTM reads left to right, the backward one right to left."""
    forward, backward = [], []
    for j, token in enumerate(tokens, start=1):
        x = (j - 1) * pitch
        if symbols:
            label(ax, x, y - 0.95, _sub("x", j))
        label(ax, x, y - 1.35 if symbols else y - 1.0, token)
        forward.append(box(ax, x, y, w, h, rf"$\overrightarrow{{h}}_{{{j}}}$", "recurrent"))
        backward.append(box(ax, x, y + h, w, h, rf"$\overleftarrow{{h}}_{{{j}}}$", "recurrent"))
        arrow(ax, (x, y - (0.75 if symbols else 0.8)), forward[-1].bottom())
    for a, b in itertools.pairwise(forward):
        arrow(ax, a.right(), b.left())
    for a, b in itertools.pairwise(backward):
        arrow(ax, b.left(), a.right())
    return forward, backward


def encoder_decoder(source: Sequence[str] = TAKE_YOUR_TIME.en, target: Sequence[str] = TAKE_YOUR_TIME.ko, *,
                    ax: Axes | None = None) -> Axes:
    """Chapter 2's model unrolled in time (Sutskever et al., 2014, Fig. 1, with a bidirectional encoder).

    The encoder reads ``source`` in both directions; the final states →h_S and ←h_1 make the context
    vector v, the decoder's first state and the only thing it knows about the source. The decoder starts
    from <s> and feeds each output back as its next input, until </s>.
    """
    source, target = _tokens(source, "source"), _tokens(target, "target")
    canvas = begin(ax)
    ax = canvas.ax
    w, h, y = 1.1, 0.5, 1.25
    forward, backward = _bidirectional(ax, source, y=y, pitch=1.5, w=w, h=h)
    encoder = frame(ax, -w / 2 - 0.2, y - h / 2 - 0.2, forward[-1].x + w / 2 + 0.2, y + 1.5 * h + 0.2)
    v = box(ax, encoder.right()[0] + 1.4, y + h / 2, 0.55, 0.55, "$v$", "context")
    cells = [v.x + 1.7 + 1.9 * t for t in range(len(target) + 1)]
    decoder = frame(ax, cells[0] - w / 2 - 0.25, v.y - 0.55, cells[-1] + w / 2 + 0.25, v.y + 0.55)
    _funnel(ax, encoder, v, decoder)

    route = encoder.top()[1] + 0.3  # ←h_1 has read the whole sentence last: its state travels over the top
    arrow(ax, forward[-1].right(), v.left(-0.12))
    arrow(ax, backward[0].top(), (backward[0].x, route), (v.x - 0.75, route), (v.x - 0.75, v.y + 0.12), v.left(0.12))
    label(ax, v.x, v.y - 0.6, text("문맥 벡터\n(고정 크기)", "context vector\n(fixed size)"), size=SMALL,
          color=ACCENT, va="top")

    inputs, outputs = (BOS, *target), (*target, EOS)
    previous = v.right()
    for t, (x, seen, said) in enumerate(zip(cells, inputs, outputs, strict=True)):
        cell = box(ax, x, v.y, w, 0.6, f"$h^{{\\mathrm{{dec}}}}_{{{t + 1}}}$", "recurrent")
        arrow(ax, previous, cell.left())
        previous = cell.right()
        label(ax, x, 0.25, seen)
        arrow(ax, (x, 0.47), cell.bottom())
        label(ax, x, v.y + 1.25, said)
        arrow(ax, cell.top(), (x, v.y + 1.03))
        if t + 1 < len(cells):  # the output is the next step's input
            gap = x + 0.95
            arrow(ax, (x + 0.55, v.y + 1.25), (gap, v.y + 1.25), (gap, 0.25), (cells[t + 1] - 0.55, 0.25),
                  dashed=True, color=MUTED)
    top = v.y + 1.8
    label(ax, encoder.x, top, text("인코더(양방향 LSTM)", "encoder (bidirectional LSTM)"))
    label(ax, decoder.x, top, text("디코더(LSTM)", "decoder (LSTM)"))
    feedback = text("점선: 출력이 다음 단계의 입력이 됩니다.\n학습 때는 정답 토큰(교사 강요)을,\n"
                    "번역할 때는 모델이 고른 토큰(탐욕 디코딩)을 넣습니다.",
                    "dashed: each output is the next step's input:\nthe reference token in training (teacher "
                    "forcing),\nthe model's own choice when translating (greedy decoding)")
    label(ax, decoder.left()[0], -0.3, feedback,
          size=SMALL, color=MUTED, ha="left", va="top")
    return finish(canvas)


def _funnel(ax: Axes, encoder: Box, v: Box, decoder: Box) -> None:
    """The bottleneck: the encoder's whole height narrows to v and widens again to the decoder."""
    (x0, y0), (x1, y1) = encoder.right(-encoder.h / 2), encoder.right(encoder.h / 2)
    (d0, e0), (d1, e1) = decoder.left(-decoder.h / 2), decoder.left(decoder.h / 2)
    for points in ([(x0, y0), (x1, y1), v.left(v.h / 2), v.left(-v.h / 2)],
                   [v.right(-v.h / 2), v.right(v.h / 2), (d1, e1), (d0, e0)]):
        ax.add_patch(Polygon(points, closed=True, fc="#f6e3e1", ec="none", zorder=0, gid="funnel"))


# ---------------------------------------------------------------- chapter 3: one step of Bahdanau attention


def _weights(weights: Sequence[float] | None, count: int) -> list[float] | None:
    if weights is None:
        return None
    values = np.asarray(weights, dtype=float)
    if values.shape != (count,) or (values < 0).any() or abs(values.sum() - 1.0) > 1e-3:
        raise ValueError(text(f"weights에는 합이 1인 음이 아닌 수 {count}개가 필요합니다 (토큰마다 하나): {weights!r}",
                              f"weights must be {count} non-negative numbers summing to 1 (one per token), "
                              f"got {weights!r}"))
    return [float(value) for value in values]


def bahdanau_step(source: Sequence[str] = TAKE_YOUR_TIME.en, *, weights: Sequence[float] | None = None,
                  step: str = "t", ax: Axes | None = None) -> Axes:
    """One decoder step with attention, after Fig. 1 of Bahdanau et al. (2015).

    The annotations h_j = [→h_j; ←h_j] over x_1 … x_T, weighted by α_{t,j} and summed (⊕) into the
    context vector c_t, eq. (5); the weights come from the *previous* state s_{t−1}, the query, eq. (6).
    ``weights`` (one per token, summing to 1) draws each arrow as thick as its weight and prints it.
    ``step`` is the symbol of the decoder step: "t" as in the paper's figure, "i" as in its equations, or a
    number for one concrete step ("1": the first, whose previous state is s_0).
    """
    source, alphas = _tokens(source, "source"), _weights(weights, len(source))
    if not isinstance(step, str) or not step:
        raise ValueError(text(f"step은 기호 문자열이어야 합니다: {step!r}", f"step must be a symbol, got {step!r}"))
    canvas = begin(ax)
    ax = canvas.ax
    t, previous = step, (str(int(step) - 1) if step.isdecimal() and int(step) > 0 else f"{step}-1")  # "1" → s_0
    forward, backward = _bidirectional(ax, source, y=1.3, pitch=1.7, w=1.15, h=0.5, symbols=True)
    left = forward[0].left()[0] - 0.25
    label(ax, left, 1.85, text("주석 벡터", "annotations"), ha="right")
    label(ax, left, 1.35, r"$h_j=[\overrightarrow{h}_j;\overleftarrow{h}_j]$", ha="right")
    lift = 0.3 * max(0, len(source) - 3)  # a wider fan rises higher, so that its arrows stay apart
    plus = node(ax, forward[-1].x / 2, 3.75 + lift, "+", r=0.22)
    for j, column in enumerate(backward, start=1):
        base = column.top()
        alpha = None if alphas is None else alphas[j - 1]
        width = 1.1 if alpha is None else 0.5 + 5 * alpha  # as thick as its weight
        arrow(ax, base, plus.toward(base), width=width)
        name = f"$\\alpha_{{{t},{j}}}$" + ("" if alpha is None else f"\n{alpha:.2f}")
        leans_right = plus.x - base[0] > 1e-9  # the label sits low, on the side the arrow leaves
        clear = 0.08 + width / 72 / INCH_PER_UNIT / 2
        label(ax, base[0] - clear if leans_right else base[0] + clear, base[1] + (0.45 if alpha else 0.25), name,
              ha="right" if leans_right else "left", size=SMALL + 0.5)
    label(ax, plus.x + 0.22, plus.y + 0.06, text("문맥 벡터\n", "context vector\n") + _sub("c", t), ha="left",
          va="bottom")  # above the arrows that come in from below

    state = box(ax, plus.x, 5.1 + lift, 1.15, 0.55, _sub("s", t), "state")
    before = box(ax, min(plus.x - 2.8, -1.1), state.y, 1.15, 0.55, _sub("s", previous), "state")  # clear of the fan
    arrow(ax, plus.top(), state.bottom())
    arrow(ax, before.right(), state.left())
    for cell, word in ((before, previous), (state, t)):
        label(ax, cell.x, cell.y + 1.2, _sub("y", word))
        arrow(ax, cell.top(), (cell.x, cell.y + 0.98))
    arrow(ax, (before.x + 0.3, before.y + 1.02), state.top(-0.35))
    label(ax, before.left()[0] - 0.2, before.y, text("디코더\n상태", "decoder\nstates"), ha="right")

    formula = f"$e_{{{t},j}}=a(s_{{{previous}}},h_j)$\n" + f"$\\alpha_{{{t},j}}=\\mathrm{{softmax}}_j\\,e_{{{t},j}}$"
    score = box(ax, before.x, 3.3 + lift, 2.5, 0.85, formula, "attention", size=SMALL + 0.5)
    arrow(ax, before.bottom(), score.top(), dashed=True, color=ACCENT)
    label(ax, before.x - 0.15, (before.bottom()[1] + score.top()[1]) / 2,
          text("쿼리 =\n이전 상태\n", "query =\nprevious state\n") + _sub("s", previous),
          size=SMALL, color=ACCENT, ha="right")
    first, end = backward[0].top(), plus.toward(backward[0].top())
    share = (score.y - first[1]) / (end[1] - first[1])  # where the first α arrow passes the score's height
    arrow(ax, score.right(), (first[0] + share * (end[0] - first[0]) - 0.06, score.y), dashed=True, color=MUTED)
    return finish(canvas)


# ---------------------------------------------------------------- chapter 5: multi-head attention


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(text(f"{name}는 1 이상의 정수여야 합니다: {value!r}",
                              f"{name} must be an integer of at least 1, got {value!r}"))
    return value


def _tint(colour: str, amount: float = 0.86) -> tuple[float, float, float]:
    rgb = np.array(plt.matplotlib.colors.to_rgb(colour))
    return tuple(rgb + (1 - rgb) * amount)


def multi_head(heads: int = 4, *, ax: Axes | None = None) -> Axes:
    """Multi-head attention, after Fig. 2 (right) of Vaswani et al. (2017), §3.2.2.

    Every head i reads the same Q, K, V through its own projections W_i^Q, W_i^K, W_i^V into
    d_k = d_model / h dimensions, attends there, and the h outputs are concatenated and mixed by W^O.
    The shapes at the right are the code's: (B, T, D) split into (B, H, T, Dh) and merged back.
    More than four heads are drawn as heads 1, 2, 3, ⋯, h.
    """
    heads = _count(heads, "heads")
    canvas = begin(ax)
    ax = canvas.ax
    shown = list(range(1, heads + 1)) if heads <= 4 else [1, 2, 3, None, heads]
    widths = [2.9 if i else 1.0 for i in shown]  # one slot per head drawn, a narrow one for ⋯
    edges = np.concatenate([[0.0], np.cumsum(widths)]) - 1.45
    slots = [(float(a + b) / 2, i) for a, b, i in zip(edges, edges[1:], shown, strict=False)]
    buses = {"Q": 0.95, "K": 0.65, "V": 0.35}
    for name, y in buses.items():
        label(ax, edges[0] - 0.25, y, f"${name}$", ha="right")
        ax.add_line(Line2D([edges[0] - 0.1, slots[-1][0] + 0.85], [y, y], color=INK, lw=1.1, zorder=1, gid="bus"))
    concat = box(ax, (edges[0] + edges[-1]) / 2, 4.75, edges[-1] - edges[0], 0.5, "", "norm")
    for x, i in slots:
        if i is None:
            label(ax, x, 2.4, "⋯")
            label(ax, x, concat.y, "⋯")
            continue
        colour = HEAD_COLOURS[(i - 1) % len(HEAD_COLOURS)]
        _head(ax, x, i, colour, buses, into=concat)
        ax.add_patch(FancyBboxPatch((x - 1.4, 4.56), 2.8, 0.38, boxstyle="round,pad=0,rounding_size=0.05", lw=0,
                                    fc=_tint(colour, 0.65), zorder=2.5, gid="segment"))
    label(ax, concat.x, concat.y, text("이어 붙이기(Concat)", "Concat"))
    linear = box(ax, concat.x, 5.8, 2.5, 0.75, text("선형층", "Linear") + "\n$W^O$", "linear")
    arrow(ax, concat.top(), linear.bottom())
    label(ax, concat.x, 6.8, r"$\mathrm{MultiHead}(Q,K,V)$")
    arrow(ax, linear.top(), (concat.x, 6.58))
    _shapes(ax, edges[-1] + 0.2)
    return finish(canvas)


def _head(ax: Axes, x: float, i: int, colour: str, buses: Mapping[str, float], *, into: Box) -> None:
    """Head i: its projections W_i^Q, W_i^K, W_i^V tapping the Q, K, V lines, and its attention."""
    frame(ax, x - 1.35, 1.3, x + 1.35, 4.1, colour=_tint(colour, 0.9), edge=colour)
    label(ax, x - 1.22, 3.82, f"$\\mathrm{{head}}_{{{i}}}$", size=SMALL, color=colour, ha="left")
    attention = box(ax, x, 3.0, 2.55, 0.95, text("스케일드 닷-프로덕트\n어텐션", "Scaled Dot-Product\nAttention"),
                    "attention", size=SMALL + 0.5)
    for k, (name, y) in enumerate(buses.items()):
        px = x + (k - 1) * 0.85
        projection = box(ax, px, 1.75, 0.7, 0.55, f"$W^{name}_{{{i}}}$", "linear")
        ax.add_patch(Circle((px, y), 0.045, color=INK, zorder=2, gid="dot"))
        arrow(ax, (px, y), projection.bottom())
        arrow(ax, projection.top(), attention.bottom(px - x))
    arrow(ax, attention.top(), into.bottom(x - into.x))


def _shapes(ax: Axes, x: float) -> None:
    """The tensor shapes beside multi-head attention, as the code's comments write them."""
    for y, words, shape in (
        (0.65, text("입력", "inputs"), "(B, T, D)"),
        (1.75, text("투영한 뒤 헤드로 나누기", "project, split into heads"), "(B, T, D) → (B, H, T, Dh)"),
        (3.0, r"$d_k = d_v = d_{\mathrm{model}}\,/\,h$", "(B, H, T, Dh)"),
        (4.75, text("헤드를 합치기", "merge the heads"), "(B, H, T, Dh) → (B, T, D)"),
        (5.8, text("출력", "output"), "(B, T, D)"),
    ):
        label(ax, x, y + 0.16, words, size=SMALL, color=MUTED, ha="left")
        label(ax, x, y - 0.16, shape, size=SMALL, color=MUTED, ha="left")


# ---------------------------------------------------------------- chapter 6: the Transformer

WIDTH = 3.3  # of a sub-layer's box
LABELS = ("inputs", "input_embedding", "outputs", "output_embedding", "positional", "output")


SUBLAYERS = ("self", "masked", "cross", "ff")


@dataclass(frozen=True)
class Sublayer:
    """One residual sub-layer of a Transformer layer: "self", "masked", "cross" attention or "ff"."""

    kind: str

    def __post_init__(self) -> None:
        if self.kind not in SUBLAYERS:
            raise ValueError(text(f"부분층의 종류 {self.kind!r}는 없습니다. 가능한 종류: {list(SUBLAYERS)}",
                                  f"unknown sub-layer kind {self.kind!r}; the kinds are {list(SUBLAYERS)}"))

    def name(self) -> str:
        return {
            "self": text("멀티헤드\n셀프 어텐션", "Multi-Head\nSelf-Attention"),
            "masked": text("마스크드 멀티헤드\n셀프 어텐션", "Masked Multi-Head\nSelf-Attention"),
            "cross": text("멀티헤드 어텐션\n(인코더–디코더)", "Multi-Head Attention\n(encoder–decoder)"),
            "ff": text("피드포워드 신경망", "Feed Forward"),
        }[self.kind]


def _residual(ax: Axes, x: float, y: float, sublayer: Sublayer, norm_first: bool) -> tuple[float, list[Point]]:
    """One sub-layer whose input arrives at (x, y) from below; returns where its output leaves, and K/V inputs.

    Post-norm (the paper, §3.1): LayerNorm(x + Sublayer(x)), drawn as the sub-layer then "Add & Norm".
    Pre-norm: x + Sublayer(LayerNorm(x)), drawn as "LayerNorm", the sub-layer, then ⊕.
    """
    branch, side = y + 0.15, x - WIDTH / 2 - 0.3
    start = y
    if norm_first:
        norm = box(ax, x, y + 0.6, WIDTH * 0.75, 0.42, text("층 정규화", "LayerNorm"), "norm")
        arrow(ax, (x, y), norm.bottom())
        start = norm.top()[1]
    attention, cross = sublayer.kind != "ff", sublayer.kind == "cross"
    room = 0.85 if cross else 0.55 if attention else 0.3  # under the box: the fork, and the encoder's line
    body = box(ax, x, start + room + 0.4, WIDTH, 0.8, sublayer.name(), "attention" if attention else "feedforward")
    fork = start + 0.22 if norm_first else branch + 0.12
    kv: list[Point] = []
    if cross:  # queries from below, keys and values from the encoder (Fig. 1)
        arrow(ax, (x, start), (x, fork), (x + 0.9, fork), body.bottom(0.9))
        label(ax, x + 1.0, (fork + body.bottom()[1]) / 2, "$Q$", size=SMALL, color=MUTED, ha="left")
        kv = [body.bottom(-1.1), body.bottom(-0.5)]
    elif attention:  # the same x as queries, keys and values
        for dx in (-0.9, 0.0, 0.9):
            arrow(ax, (x, start), (x, fork), (x + dx, fork), body.bottom(dx))
    else:
        arrow(ax, (x, start), body.bottom())
    if norm_first:
        add = node(ax, x, body.top()[1] + 0.5)
        arrow(ax, body.top(), add.bottom())
    else:
        add = box(ax, x, body.top()[1] + 0.5, WIDTH, 0.42, text("더하기 & 정규화", "Add & Norm"), "norm")
        arrow(ax, body.top(), add.bottom())
    arrow(ax, (x, branch), (side, branch), (side, add.y), add.left())
    ax.add_patch(Circle((x, branch), 0.04, color=INK, zorder=2, gid="dot"))
    return add.top()[1], kv


@dataclass(frozen=True)
class Stack:
    """Where a drawn stack ends: its output leaves upwards from ``top``; ``keys_values`` are the bottom
    points of its encoder–decoder attention where the encoder's output comes in (empty without one)."""

    top: Point
    keys_values: tuple[Point, ...]


def stack(ax: Axes, x: float, y: float, sublayers: Sequence[Sublayer], *, norm_first: bool = False,
          repeat: str = "N", title: str | None = None, side: str = "left") -> Stack:
    """A layer composed of ``sublayers``, placed with its input at (x, y), framed and marked "N×".

    An encoder layer is ``[Sublayer("self"), Sublayer("ff")]``, the paper's decoder layer
    ``[Sublayer("masked"), Sublayer("cross"), Sublayer("ff")]`` (Vaswani et al., 2017, Fig. 1);
    pre-norm adds the final LayerNorm above the frame.
    """
    top, kv = y + 0.1, []
    for sublayer in sublayers:
        top, entries = _residual(ax, x, top, sublayer, norm_first)
        kv += entries
    arrow(ax, (x, y), (x, y + 0.1), head=False)
    frame(ax, x - WIDTH / 2 - 0.55, y + 0.05, x + WIDTH / 2 + 0.2, top + 0.15, repeat=repeat, title=title, side=side)
    if norm_first:
        final = box(ax, x, top + 0.75, WIDTH * 0.75, 0.42, text("층 정규화", "LayerNorm"), "norm")
        arrow(ax, (x, top), final.bottom())
        top = final.top()[1]
    return Stack((x, top), tuple(kv))


def _embedded(ax: Axes, x: float, caption: str, embedding: str, positional: str, side: str, lines: int,
              learned: bool = False, norm: bool = False) -> float:
    """Tokens, their embedding (``lines`` of label) and the positional encoding added (§3.4, §3.5); returns
    the top of ⊕. ``learned`` draws the positions as an embedding table (a box) instead of the sinusoid;
    ``norm`` adds a LayerNorm on the sum (BART)."""
    label(ax, x, 0.0, caption)
    height = 0.25 + 0.3 * lines
    embed = box(ax, x, 0.625 + height / 2, WIDTH * 0.8, height, embedding, "embedding")
    arrow(ax, (x, 0.2), embed.bottom())
    add = node(ax, x, embed.top()[1] + 0.575)
    arrow(ax, embed.top(), add.bottom())
    sign = -1 if side == "left" else 1
    if learned:
        table = box(ax, x + sign * 1.8, add.y, 2.5, 0.25 + 0.3 * (1 + positional.count("\n")), positional,
                    "embedding", size=SMALL)
        arrow(ax, table.left() if sign > 0 else table.right(), add.right() if sign > 0 else add.left())
    else:
        wave = node(ax, x + sign * 0.9, add.y, "~", r=0.22)
        arrow(ax, wave.left() if sign > 0 else wave.right(), add.right() if sign > 0 else add.left())
        label(ax, wave.x + sign * 0.35, add.y, positional, size=SMALL, ha="left" if sign > 0 else "right")
    if not norm:
        return add.top()[1]
    layer_norm = box(ax, x, add.top()[1] + 0.5, WIDTH * 0.75, 0.42, text("층 정규화", "LayerNorm"), "norm")
    arrow(ax, add.top(), layer_norm.bottom())
    return layer_norm.top()[1]


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    unknown = set(labels or {}) - set(LABELS)
    if unknown:
        raise ValueError(text(f"labels의 키 {sorted(unknown)}는 없습니다. 가능한 키: {list(LABELS)}",
                              f"unknown labels {sorted(unknown)}; the parts are {list(LABELS)}"))
    defaults = {
        "inputs": text("입력", "Inputs"),
        "input_embedding": text("입력 임베딩", "Input Embedding"),
        "outputs": text("출력(오른쪽으로 한 칸 밀림)", "Outputs (shifted right)"),
        "output_embedding": text("출력 임베딩", "Output Embedding"),
        "positional": text("위치\n인코딩", "Positional\nEncoding"),
        "output": text("출력 확률", "Output Probabilities"),
    }
    return defaults | dict(labels or {})


def transformer(*, norm_first: bool = False, encoder: bool = True, decoder: bool = True,
                cross_attention: bool | None = None, heads: Sequence[str] | None = None, layers: int | str = "N",
                labels: Mapping[str, str] | None = None, learned_positions: bool = False,
                embedding_norm: bool = False, ax: Axes | None = None) -> Axes:
    """The Transformer, after Fig. 1 of Vaswani et al. (2017), from parts that later models reuse.

    ``norm_first=False`` draws the paper's post-norm layers (sub-layer, then Add & Norm); ``True`` the
    pre-norm layers of the book's package (LayerNorm, sub-layer, ⊕) with a final LayerNorm on each stack.
    ``encoder``/``decoder``/``cross_attention`` choose the parts: both with encoder–decoder attention is
    the paper's model (BART, T5); the encoder alone is BERT's stack; the decoder alone, without
    encoder–decoder attention, is GPT's. ``heads`` are labels of boxes put side by side on top of the
    last stack (e.g. an MLM head and an NSP head) instead of the paper's Linear and Softmax; ``layers``
    writes "N×" (or "12×"); ``labels`` renames the parts in ``LABELS``. ``learned_positions`` draws the
    positions as a learned table instead of the sinusoid, ``embedding_norm`` a LayerNorm on the embeddings'
    sum (both BART's).
    """
    cross = encoder and decoder if cross_attention is None else cross_attention
    _model_choice(norm_first, encoder, decoder, cross, heads, layers)
    names = _labels(labels)
    lines = 1 + max(names[part].count("\n") for part in ("input_embedding", "output_embedding"))  # both alike
    canvas = begin(ax)
    ax = canvas.ax
    enc_x, dec_x = 0.0, 6.4 if encoder else 0.0
    memory: Point | None = None
    if encoder:
        y = _embedded(ax, enc_x, names["inputs"], names["input_embedding"], names["positional"], "left", lines,
                      learned_positions, embedding_norm)
        memory = stack(ax, enc_x, y, [Sublayer("self"), Sublayer("ff")], norm_first=norm_first,
                       repeat=str(layers), title=text("인코더", "Encoder"), side="left").top
    top = memory
    if decoder:
        side = ("outputs", "output_embedding") if encoder else ("inputs", "input_embedding")  # GPT reads inputs
        y = _embedded(ax, dec_x, names[side[0]], names[side[1]], names["positional"], "right", lines,
                      learned_positions, embedding_norm)
        parts = [Sublayer("masked"), *([Sublayer("cross")] if cross else []), Sublayer("ff")]
        drawn = stack(ax, dec_x, y, parts, norm_first=norm_first, repeat=str(layers),
                      title=text("디코더", "Decoder"), side="right")
        if memory is not None:
            _memory(ax, memory, drawn.keys_values, gap=(enc_x + dec_x) / 2 - 0.1)
        top = drawn.top
    if heads:
        _heads(ax, top, heads)
    elif decoder:
        _output(ax, top, names["output"])
    else:
        label(ax, top[0], top[1] + 0.55, text("인코더 출력", "Encoder output"))
        arrow(ax, top, (top[0], top[1] + 0.35))
    return finish(canvas)


def _memory(ax: Axes, source: Point, kv: Sequence[Point], gap: float) -> None:
    """The encoder's output, keys and values of every decoder layer's encoder–decoder attention."""
    lift = source[1] + 0.35
    level = kv[0][1] - 0.25  # above the decoder's own fork: the two lines never meet
    for entry in kv:
        arrow(ax, source, (source[0], lift), (gap, lift), (gap, level), (entry[0], level), entry)
    label(ax, gap + 0.15, level + 0.17, "$K, V$", size=SMALL, color=MUTED, ha="left")


def _output(ax: Axes, start: Point, caption: str) -> None:
    """The paper's top: Linear, Softmax, output probabilities."""
    x, top = start
    linear = box(ax, x, top + 0.75, WIDTH * 0.75, 0.45, text("선형층", "Linear"), "linear")
    softmax = box(ax, x, linear.top()[1] + 0.55, WIDTH * 0.75, 0.45, text("소프트맥스", "Softmax"), "softmax")
    arrow(ax, (x, top), linear.bottom())
    arrow(ax, linear.top(), softmax.bottom())
    label(ax, x, softmax.top()[1] + 0.55, caption)
    arrow(ax, softmax.top(), (x, softmax.top()[1] + 0.35))


def _heads(ax: Axes, start: Point, heads: Sequence[str]) -> None:
    """Task heads side by side on the last stack's output (Part III: BERT's MLM and NSP heads …)."""
    x, top = start
    pitch = max(WIDTH / len(heads), 1.9)
    fork = top + 0.3
    for k, name in enumerate(heads):
        hx = x + (k - (len(heads) - 1) / 2) * pitch
        head = box(ax, hx, fork + 0.65, pitch - 0.2, 0.6, name, "head")
        arrow(ax, (x, top), (x, fork), (hx, fork), head.bottom())


def _model_choice(norm_first, encoder, decoder, cross, heads, layers) -> None:
    for name, value in (("norm_first", norm_first), ("encoder", encoder), ("decoder", decoder),
                        ("cross_attention", cross)):
        if not isinstance(value, bool):
            raise ValueError(text(f"{name}는 True 또는 False여야 합니다: {value!r}",
                                  f"{name} must be True or False, got {value!r}"))
    if not (encoder or decoder):
        raise ValueError(text("인코더와 디코더 중 하나는 그려야 합니다", "draw an encoder, a decoder or both"))
    if cross and not (encoder and decoder):
        raise ValueError(text("인코더–디코더 어텐션에는 인코더와 디코더가 모두 필요합니다",
                              "encoder–decoder attention needs both an encoder and a decoder"))
    if encoder and decoder and not cross:
        raise ValueError(text("인코더와 디코더를 함께 그리면 디코더는 인코더–디코더 어텐션으로 인코더 출력을 읽습니다: "
                              "cross_attention=False는 인코더나 디코더 하나만 그릴 때 씁니다",
                              "with both stacks the decoder reads the encoder through encoder–decoder attention: "
                              "cross_attention=False is for a decoder alone"))
    if heads is not None and (isinstance(heads, str) or not heads or not all(isinstance(h, str) and h for h in heads)):
        raise ValueError(text(f"heads에는 머리 이름(문자열)의 목록이 필요합니다: {heads!r}",
                              f"heads must be a list of head names (strings), got {heads!r}"))
    if not (isinstance(layers, str) and layers) and not (isinstance(layers, int) and not isinstance(layers, bool)
                                                        and layers >= 1):
        raise ValueError(text(f"layers는 층 수(1 이상의 정수)나 기호(\"N\")여야 합니다: {layers!r}",
                              f"layers must be a number of layers (at least 1) or a symbol (\"N\"), got {layers!r}"))


# ---------------------------------------------------------------- appendix: data parallelism


def _mean_of_gradients(processes: int) -> str:
    """ḡ = (g_0 + g_1)/2, or with ⋯ for many processes."""
    terms = "+".join(f"g_{{{r}}}" for r in range(processes)) if processes <= 3 else f"g_0+\\cdots+g_{{{processes - 1}}}"
    return f"$\\bar{{g}}=({terms})/{processes}$"


def data_parallel(*, processes: int = 2, ax: Axes | None = None) -> Axes:
    """One step of data parallelism with DistributedDataParallel (Li et al., 2020, Fig. 2 in spirit).

    Each process holds a replica of the GPT with the same weights and reads its own shard of the batch
    (rows r, r + W, r + 2W, … of the epoch's order); forward and backward give its gradient g_r; the
    all-reduce sums them over the processes and DDP divides by W, writing ḡ back into every process; so
    every optimizer step is the same and the replicas stay equal. More than three processes are drawn as
    0, 1, ⋯, W − 1.
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 2:
        raise ValueError(text(f"processes는 2 이상의 정수여야 합니다: {processes!r}",
                              f"processes must be an integer of at least 2, got {processes!r}"))
    canvas = begin(ax)
    ax = canvas.ax
    W, pitch, w = processes, 4.6, 2.9
    shown = list(range(W)) if W <= 3 else [0, 1, None, W - 1]
    xs = [k * pitch for k in range(W)] if W <= 3 else [0.0, pitch, pitch + 3.0, pitch + 6.0]  # ⋯: a narrow column
    columns = list(zip(xs, shown, strict=True))
    left, right = columns[0][0] - w / 2 - 0.2, columns[-1][0] + w / 2 + 0.2
    bar = box(ax, (left + right) / 2, 4.3, right - left - 0.4, 0.95,
              text("올리듀스(모든 프로세스의 합) ÷ W", "all-reduce (sum over processes) ÷ W") + "\n"
              + _mean_of_gradients(W), "norm")
    for x, r in columns:
        if r is None:
            for y in (0.0, 1.45, 2.85, 5.7, 6.9):
                label(ax, x, y, "⋯")
            continue
        frame(ax, x - w / 2 - 0.15, -0.55, x + w / 2 + 0.15, 7.75, colour="#f6f6f6", edge="#c9c9c9")
        label(ax, x, 7.45, text(f"프로세스 {r} (랭크 {r})", f"process {r} (rank {r})"))
        rows = ", ".join(str(r + k * W) for k in range(3))
        shard = box(ax, x, 0.0, w, 0.75, text(f"데이터 샤드 {r}\n순서의 {rows}, …번째",
                                              f"data shard {r}\npositions {rows}, …"),
                    "state", size=SMALL + 0.5)
        replica = box(ax, x, 1.45, w, 0.8, text("GPT 복제본\n(같은 가중치)", "GPT replica\n(same weights)"), "linear")
        gradient = box(ax, x, 2.85, 0.9, 0.55, _sub("g", r), "context")
        mean = box(ax, x, 5.7, 0.9, 0.55, r"$\bar{g}$", "context")
        step = box(ax, x, 6.75, w, 0.55, text("옵티마이저 단계", "optimizer step"), "softmax")
        arrow(ax, shard.top(), replica.bottom())
        arrow(ax, replica.top(), gradient.bottom())
        label(ax, x + 0.15, (replica.top()[1] + gradient.bottom()[1]) / 2,
              text("순전파,\n역전파", "forward,\nbackward"), size=SMALL, color=MUTED, ha="left")
        arrow(ax, gradient.top(), bar.bottom(x - bar.x))
        arrow(ax, bar.top(x - bar.x), mean.bottom())
        arrow(ax, mean.top(), step.bottom())
    label(ax, right + 0.3, 6.75, text("모든 프로세스가 같은\n단계를 밟으므로\n복제본들이 계속 같습니다",
                                      "every process takes\nthe same step: the\nreplicas stay equal"),
          size=SMALL, color=MUTED, ha="left")
    return finish(canvas)

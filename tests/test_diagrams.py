"""The architecture diagrams: both languages, no font warnings, labels apart and legible, arrows between edges."""

import itertools
import logging
import re
import subprocess
import sys
import textwrap
import warnings

import matplotlib
import numpy as np
import pytest
from torch import nn

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch

import attnbook
from attnbook import diagrams
from attnbook.data import TAKE_YOUR_TIME
from attnbook.transformer import Transformer, TransformerConfig
from attnbook.viz import use_korean_font

HANGUL = re.compile("[\uac00-\ud7a3]")
HEADS = (("MLM 헤드", "MLM head"), ("NSP 헤드", "NSP head"))

DRAWINGS = {
    "encoder_decoder": lambda: diagrams.encoder_decoder(),
    "bahdanau_step": lambda: diagrams.bahdanau_step(),
    "bahdanau_weights": lambda: diagrams.bahdanau_step(weights=[0.15, 0.25, 0.6], step="i"),
    "bahdanau_first_step": lambda: diagrams.bahdanau_step(weights=[0.956, 0.011, 0.033], step="1"),
    "bahdanau_six_tokens": lambda: diagrams.bahdanau_step(["the", "student", "read", "a", "book", "yesterday"]),
    "multi_head": lambda: diagrams.multi_head(),
    "multi_head_8": lambda: diagrams.multi_head(heads=8),
    "post_norm": lambda: diagrams.transformer(),
    "pre_norm": lambda: diagrams.transformer(norm_first=True),
    "encoder_only": lambda: diagrams.transformer(
        decoder=False, layers=12, heads=[attnbook.text(*head) for head in HEADS],
        labels={"input_embedding": attnbook.text("토큰 + 세그먼트\n임베딩", "Token + Segment\nEmbedding"),
                "positional": attnbook.text("위치\n임베딩", "Position\nEmbedding")}),
    "decoder_only": lambda: diagrams.transformer(encoder=False, norm_first=True),
    "bart": lambda: diagrams.transformer(
        learned_positions=True, embedding_norm=True, heads=[attnbook.text("공유 출력층", "Tied output layer")],
        labels={"inputs": attnbook.text("망가진 글", "corrupted text"), "outputs": "</s> <s> x₁ … x_t",
                "positional": attnbook.text("학습되는 위치\n임베딩 (p+2)", "learned positions\n(row p+2)")}),
    "data_parallel": lambda: diagrams.data_parallel(),
    "data_parallel_5": lambda: diagrams.data_parallel(processes=5),
}

STRICT = textwrap.dedent(
    """
    import logging, warnings
    warnings.simplefilter("error")

    class Fail(logging.Handler):
        def emit(self, record):
            raise SystemExit(f"matplotlib logged: {record.getMessage()}")

    logging.getLogger("matplotlib").addHandler(Fail(level=logging.WARNING))
    import matplotlib
    matplotlib.use("Agg")
    import io
    import matplotlib.pyplot as plt
    import attnbook
    from attnbook import diagrams
    from attnbook.viz import use_korean_font

    use_korean_font()
    for language in ("ko", "en"):
        attnbook.set_language(language)
        for draw in (lambda: diagrams.encoder_decoder(), lambda: diagrams.bahdanau_step(weights=[0.2, 0.3, 0.5]),
                     lambda: diagrams.multi_head(heads=8), lambda: diagrams.transformer(),
                     lambda: diagrams.transformer(norm_first=True, encoder=False, heads=["LM"])):
            ax = draw()
            ax.figure.savefig(io.BytesIO(), format="png")
            plt.close(ax.figure)
    print("ok")
    """
)


def test_every_diagram_renders_hangul_without_missing_glyph_or_findfont_warnings():
    # A fresh process: font look-ups are cached, so an earlier test could hide a findfont warning.
    result = subprocess.run([sys.executable, "-c", STRICT], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "ok\n" and result.stderr == "", result.stdout + result.stderr


class _Fail(logging.Handler):
    def emit(self, record):
        raise AssertionError(f"matplotlib logged: {record.getMessage()}")


@pytest.fixture(scope="module")
def drawn():
    """Every diagram in both languages, drawn once with warnings and matplotlib's warning logs as errors."""
    handler, previous = _Fail(level=logging.WARNING), attnbook.get_language()
    logging.getLogger("matplotlib").addHandler(handler)
    figures = {}
    try:
        with matplotlib.rc_context({"figure.max_open_warning": 0}), warnings.catch_warnings():
            warnings.simplefilter("error")
            use_korean_font()
            for name, language in itertools.product(DRAWINGS, ("ko", "en")):
                attnbook.set_language(language)
                ax = DRAWINGS[name]()
                ax.figure.canvas.draw()
                figures[name, language] = ax
            yield figures
    finally:
        logging.getLogger("matplotlib").removeHandler(handler)
        attnbook.language._language = previous
        for ax in figures.values():
            plt.close(ax.figure)


# ---------------------------------------------------------------- geometry read back from the drawing


def boxes(ax, role=None):
    """(left, bottom, right, top) of every box (of one role), in data units."""
    found = []
    for patch in ax.patches:
        gid = patch.get_gid() or ""
        if isinstance(patch, FancyBboxPatch) and gid.startswith("box:") and role in (None, gid[4:]):
            found.append((patch.get_x(), patch.get_y(), patch.get_x() + patch.get_width(),
                          patch.get_y() + patch.get_height()))
    return found


def nodes(ax):
    return [(*patch.center, patch.radius) for patch in ax.patches
            if isinstance(patch, Circle) and patch.get_gid() == "node"]


def arrows(ax):
    return [line.get_xydata() for line in ax.lines if line.get_gid() == "arrow"]


def texts(ax):
    return [t for t in ax.texts if t.get_text()]


def inside(point, rect, margin=0.02):
    x, y = point
    left, bottom, right, top = rect
    return left + margin < x < right - margin and bottom + margin < y < top - margin


def in_node(point, node, margin=0.02):
    x, y, r = node
    return np.hypot(point[0] - x, point[1] - y) < r - margin


def on_outline(point, ax, tolerance=0.01):
    x, y = point
    for left, bottom, right, top in boxes(ax):
        near_x, near_y = left - tolerance <= x <= right + tolerance, bottom - tolerance <= y <= top + tolerance
        if near_x and near_y and min(abs(x - left), abs(x - right), abs(y - bottom), abs(y - top)) <= tolerance:
            return True
    return any(abs(np.hypot(x - cx, y - cy) - r) <= tolerance for cx, cy, r in nodes(ax))


def along(path, step=0.02):
    """Points every ``step`` units along a polyline, ends included."""
    points = [path[0]]
    for a, b in itertools.pairwise(path):
        count = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        points += [a + (b - a) * k / count for k in range(1, count + 1)]
    return np.array(points)


def window(t):
    return t.get_window_extent()


# ---------------------------------------------------------------- the tests

ALL = list(itertools.product(DRAWINGS, ("ko", "en")))


@pytest.mark.parametrize(("name", "language"), ALL)
def test_labels_are_in_the_edition_language(drawn, name, language):
    words = [t.get_text() for t in texts(drawn[name, language])]
    with_hangul = {w for w in words if HANGUL.search(w)}
    if language == "ko":
        assert with_hangul, words
    else:  # the only Hangul in the English edition is the Korean sentence being translated
        assert with_hangul <= set(TAKE_YOUR_TIME.ko), with_hangul


@pytest.mark.parametrize("name", DRAWINGS)
def test_both_editions_draw_the_same_boxes_and_arrows(drawn, name):
    ko, en = drawn[name, "ko"], drawn[name, "en"]
    np.testing.assert_allclose(boxes(ko), boxes(en))
    assert len(arrows(ko)) == len(arrows(en)) and len(texts(ko)) == len(texts(en))


@pytest.mark.parametrize(("name", "language"), ALL)
def test_labels_are_legible_apart_and_inside_the_figure(drawn, name, language):
    ax = drawn[name, language]
    figure = ax.figure.bbox
    width, _ = ax.figure.get_size_inches()
    assert width <= 8.0 + 1e-9
    for t in texts(ax):
        assert t.get_fontsize() >= 8.0, (t.get_text(), t.get_fontsize())
        box = window(t)
        assert figure.x0 <= box.x0 and box.x1 <= figure.x1 and figure.y0 <= box.y0 and box.y1 <= figure.y1, t
    for a, b in itertools.combinations(texts(ax), 2):
        assert not window(a).shrunk(0.98, 0.9).overlaps(window(b).shrunk(0.98, 0.9)), (a.get_text(), b.get_text())


@pytest.mark.parametrize(("name", "language"), ALL)
def test_a_label_fits_the_box_it_names_and_other_labels_stay_off_boxes(drawn, name, language):
    ax = drawn[name, language]
    to_data = ax.transData.inverted()
    for t in texts(ax):
        (x0, y0), (x1, y1) = window(t).transformed(to_data).get_points()
        holder = [rect for rect in boxes(ax) if inside(t.get_position(), rect)]
        if holder:
            left, bottom, right, top = holder[0]
            assert left < x0 and x1 < right and bottom < y0 and y1 < top, (t.get_text(), holder[0])
        else:
            for left, bottom, right, top in boxes(ax):
                assert x1 <= left or right <= x0 or y1 <= bottom or top <= y0, (t.get_text(), (left, bottom))


@pytest.mark.parametrize(("name", "language"), ALL)
def test_arrows_run_between_box_edges_and_past_labels(drawn, name, language):
    ax = drawn[name, language]
    rects, circles = boxes(ax), nodes(ax)
    label_boxes = [window(t).shrunk(0.96, 0.8) for t in texts(ax)]
    for path in arrows(ax):
        for point in along(path):
            assert not any(inside(point, rect) for rect in rects), (path.tolist(), point)
            assert not any(in_node(point, node) for node in circles), (path.tolist(), point)
            x, y = ax.transData.transform(point)
            assert not any(b.contains(x, y) for b in label_boxes), (path.tolist(), point)
    ends = [point for path in arrows(ax) for point in (path[0], path[-1])]
    touched = [any(on_outline(p, ax) and _touches(p, rect) for p in ends) for rect in rects]
    assert all(touched), [rect for rect, ok in zip(rects, touched, strict=True) if not ok]  # every box is connected


def _touches(point, rect, tolerance=0.01):
    left, bottom, right, top = rect
    x, y = point
    return left - tolerance <= x <= right + tolerance and bottom - tolerance <= y <= top + tolerance


def _norm_count(norm_first: bool) -> int:
    """LayerNorms in the package's Transformer with one encoder and one decoder layer."""
    config = TransformerConfig(src_vocab_size=11, tgt_vocab_size=13, num_encoder_layers=1, num_decoder_layers=1,
                               norm_first=norm_first)
    return sum(isinstance(module, nn.LayerNorm) for module in Transformer(config).modules())


def test_the_norms_drawn_are_the_models_norms_in_the_models_order(drawn):
    post, pre = drawn["post_norm", "en"], drawn["pre_norm", "en"]
    assert len(boxes(post, "norm")) == _norm_count(False) == 5  # one Add & Norm per sub-layer
    assert len(boxes(pre, "norm")) == _norm_count(True) == 7  # one per sub-layer and one per stack
    assert len(nodes(post)) == 2 + 2 and len(nodes(pre)) == 2 + 2 + 5  # ⊕ and ~ of the inputs; pre: ⊕ per sub-layer
    for ax, norm_first in ((post, False), (pre, True)):
        norms = boxes(ax, "norm")
        for body in boxes(ax, "attention") + boxes(ax, "feedforward"):
            column = [n for n in norms if n[0] < (body[0] + body[2]) / 2 < n[2]]
            gap_below = min((body[1] - n[3] for n in column if n[3] <= body[1]), default=np.inf)
            gap_above = min((n[1] - body[3] for n in column if n[1] >= body[3]), default=np.inf)
            # post-norm: LayerNorm(x + Sublayer(x)) right above; pre-norm: Sublayer(LayerNorm(x)) right below
            assert (gap_below < gap_above) == norm_first, (norm_first, body)


def test_encoder_only_and_decoder_only_variants_draw_their_parts(drawn):
    full, bert, gpt = drawn["post_norm", "en"], drawn["encoder_only", "en"], drawn["decoder_only", "en"]
    assert len(boxes(full, "attention")) == 3 and len(boxes(bert, "attention")) == 1
    assert len(boxes(gpt, "attention")) == 1 and len(boxes(full, "embedding")) == 2
    words = {name: " ".join(t.get_text() for t in texts(drawn[name, "en"])) for name in DRAWINGS}
    assert "Masked" in words["decoder_only"] and "encoder–decoder" not in words["decoder_only"]
    assert "Masked" not in words["encoder_only"] and "12×" in words["encoder_only"]
    assert len(boxes(bert, "head")) == 2 and {"MLM head", "NSP head"} <= {t.get_text() for t in texts(bert)}
    assert not boxes(bert, "softmax") and boxes(gpt, "softmax")
    assert "Token + Segment\nEmbedding" in words["encoder_only"] and "Position\nEmbedding" in words["encoder_only"]
    assert "MLM 헤드" in {t.get_text() for t in texts(drawn["encoder_only", "ko"])}


def test_multi_head_draws_one_projection_per_head_and_input(drawn):
    four, eight = drawn["multi_head", "en"], drawn["multi_head_8", "en"]
    assert len(boxes(four, "linear")) == 3 * 4 + 1  # W_i^Q, W_i^K, W_i^V for each head, and W^O
    assert len(boxes(eight, "linear")) == 3 * 4 + 1  # heads 1, 2, 3, ⋯, 8
    assert {t.get_text() for t in texts(eight)} >= {"⋯", "$W^Q_{8}$", "$\\mathrm{head}_{8}$"}
    assert len(boxes(four, "attention")) == 4
    assert "(B, T, D) → (B, H, T, Dh)" in {t.get_text() for t in texts(four)}


def test_bahdanau_marks_the_previous_state_as_the_query(drawn):
    words = [t.get_text() for t in texts(drawn["bahdanau_step", "en"])]
    assert any("query" in w and "$s_{t-1}$" in w for w in words), words
    assert {"$\\alpha_{t,1}$", "$\\alpha_{t,3}$"} <= set(words)
    weighted = [t.get_text() for t in texts(drawn["bahdanau_weights", "en"])]
    assert "$\\alpha_{i,3}$\n0.60" in weighted  # the step symbol of the paper's equations, and the weight
    widths = [line.get_linewidth() for line in drawn["bahdanau_weights", "en"].lines
              if line.get_gid() == "arrow" and line.get_linewidth() != 1.1]
    assert widths == pytest.approx([0.5 + 5 * 0.15, 0.5 + 5 * 0.25, 0.5 + 5 * 0.6])  # as thick as its weight


def test_data_parallel_draws_a_replica_per_process_joined_by_one_all_reduce(drawn):
    two, five = drawn["data_parallel", "en"], drawn["data_parallel_5", "en"]
    assert len(boxes(two, "linear")) == 2 and len(boxes(five, "linear")) == 3  # processes 0, 1, ⋯, 4
    assert len(boxes(two, "norm")) == 1  # one all-reduce joins every process
    words = {t.get_text() for t in texts(two)}
    assert {"GPT replica\n(same weights)", "$g_{0}$", "$g_{1}$", "optimizer step",
            "data shard 1\npositions 1, 3, 5, …",  # positions in the epoch's order, not row numbers
            "all-reduce (sum over processes) ÷ W\n$\\bar{g}=(g_{0}+g_{1})/2$"} <= words, words
    five_words = {t.get_text() for t in texts(five)}
    assert "all-reduce (sum over processes) ÷ W\n$\\bar{g}=(g_0+\\cdots+g_{4})/5$" in five_words, five_words
    korean = {t.get_text() for t in texts(drawn["data_parallel", "ko"])}
    assert {"GPT 복제본\n(같은 가중치)", "옵티마이저 단계", "데이터 샤드 0\n순서의 0, 2, 4, …번째"} <= korean, korean
    bar = boxes(two, "norm")[0]
    for left, bottom, right, top in boxes(two, "context"):  # g_r below the bar, ḡ above it, in every column
        assert top < bar[1] or bottom > bar[3]
        assert bar[0] < left and right < bar[2]


def test_a_diagram_draws_into_a_given_axes_and_scales_its_fonts():
    fig, (left, right) = plt.subplots(1, 2, figsize=(6, 4))
    attnbook.set_language("en")
    assert diagrams.transformer(decoder=False, ax=left) is left
    assert diagrams.transformer(encoder=False, ax=right) is right
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in left.texts]
    assert min(sizes) > 3 and max(sizes) < 9.5  # the diagram is smaller than at its own size, and so are fonts
    for ax in (left, right):
        for a, b in itertools.combinations(texts(ax), 2):
            assert not window(a).shrunk(0.98, 0.9).overlaps(window(b).shrunk(0.98, 0.9))
    plt.close(fig)


def test_a_layer_is_composed_once_and_placed_anywhere(in_language):
    in_language("en")
    fig, ax = plt.subplots()
    layer = [diagrams.Sublayer("masked"), diagrams.Sublayer("cross"), diagrams.Sublayer("ff")]
    first = diagrams.stack(ax, 0.0, 0.0, layer)
    count = len(boxes(ax))
    second = diagrams.stack(ax, 10.0, 3.0, layer, norm_first=False, title="Decoder", side="right")
    moved = np.array(boxes(ax)[count:]) - np.array(boxes(ax)[:count])
    np.testing.assert_allclose(moved, np.tile([10.0, 3.0, 10.0, 3.0], (count, 1)))
    assert second.top == pytest.approx((first.top[0] + 10.0, first.top[1] + 3.0))
    assert len(first.keys_values) == 2  # where the encoder's keys and values come in
    plt.close(fig)


BAD = [
    (lambda: diagrams.multi_head(heads=0), "at least 1", "1 이상"),
    (lambda: diagrams.multi_head(heads=2.0), "at least 1", "1 이상"),
    (lambda: diagrams.data_parallel(processes=1), "at least 2", "2 이상"),
    (lambda: diagrams.transformer(encoder=False, decoder=False), "draw an encoder", "하나는 그려야"),
    (lambda: diagrams.transformer(decoder=False, cross_attention=True), "needs both", "모두 필요"),
    (lambda: diagrams.transformer(cross_attention=False), "for a decoder alone", "하나만 그릴 때"),
    (lambda: diagrams.transformer(labels={"inputz": "x"}), "unknown labels", "없습니다"),
    (lambda: diagrams.transformer(layers=0), "number of layers", "층 수"),
    (lambda: diagrams.transformer(heads="MLM head"), "list of head names", "머리 이름"),
    (lambda: diagrams.transformer(norm_first="yes"), "True or False", "True 또는 False"),
    (lambda: diagrams.bahdanau_step(weights=[0.5, 0.5]), "3 non-negative numbers", "3개"),
    (lambda: diagrams.bahdanau_step(weights=[0.5, 0.5, 0.5]), "summing to 1", "합이 1"),
    (lambda: diagrams.encoder_decoder(source="take your time"), "non-empty list", "비어 있지 않은"),
    (lambda: diagrams.encoder_decoder(target=[]), "non-empty list", "비어 있지 않은"),
    (lambda: diagrams.box(plt.figure().add_subplot(), 0, 0, 1, 1, "x", "convolution"), "unknown box role", "역할"),
    (lambda: diagrams.Sublayer("convolution"), "unknown sub-layer kind", "부분층의 종류"),
    (lambda: diagrams.label(plt.figure().add_subplot(), 0, 0, "문맥 벡터 $c_t$"), "may not mix", "함께 쓸 수"),
]


@pytest.mark.parametrize(("draw", "english", "korean"), BAD)
def test_bad_arguments_get_a_clear_error_in_both_languages(in_language, draw, english, korean):
    in_language("en")
    with pytest.raises(ValueError, match=english):
        draw()
    in_language("ko")
    with pytest.raises(ValueError, match=korean):
        draw()
    plt.close("all")

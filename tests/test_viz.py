import subprocess
import sys
import textwrap

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import attnbook
from attnbook.viz import explorer, heatmap, korean_font_path, slider_view, small_multiples

HANGUL_FIGURE = textwrap.dedent(
    """
    import logging, warnings
    warnings.simplefilter("error")  # a missing glyph is a UserWarning: make it fatal

    class Fail(logging.Handler):
        def emit(self, record):
            raise SystemExit(f"matplotlib logged: {record.getMessage()}")

    logging.getLogger("matplotlib").addHandler(Fail(level=logging.WARNING))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from attnbook.viz import use_korean_font

    families = use_korean_font()
    fig, ax = plt.subplots()
    ax.set_title("천천히 하세요 — take your time")
    ax.set_xticks([0, 1], labels=["그분", "사수님"])
    ax.plot([-1, 1], [-2, 2])  # tick labels with a minus sign
    ax.set_xlabel("가나다라마바사아자차카타파하 ㄱㄴㄷ 똠방각하 −1")
    fig.canvas.draw()
    hangul_font = font_manager.findfont(font_manager.FontProperties(family="NanumGothic"),
                                        fallback_to_default=False)
    assert hangul_font.endswith("NanumGothic.ttf"), hangul_font
    print("ok", families)
    """
)


def test_hangul_renders_without_missing_glyph_or_findfont_warnings():
    result = subprocess.run([sys.executable, "-c", HANGUL_FIGURE], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok"), result.stdout
    assert result.stderr == "", result.stderr


def test_attnbook_never_imports_koreanize_matplotlib():
    # Its import needs distutils, which Python 3.12 (Colab) no longer has.
    code = ("import sys, attnbook; attnbook.setup(language='ko');"
            "assert 'koreanize_matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_font_ships_with_a_dependency_not_the_system():
    path = korean_font_path()
    assert path.name == "NanumGothic.ttf" and path.exists()
    assert "site-packages" in path.parts or "dist-packages" in path.parts


def test_heatmap_labels_must_match_the_matrix(in_language):
    in_language("en")
    with pytest.raises(ValueError, match="2 x-labels for a matrix dimension of size 3"):
        heatmap(torch.rand(2, 3), x_labels=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        heatmap(torch.rand(2, 3, 4))
    in_language("ko")
    with pytest.raises(ValueError, match="2차원"):
        heatmap(torch.rand(5))


def test_heatmap_draws_rows_as_queries_and_columns_as_keys():
    ax = heatmap(torch.tensor([[0.1, 0.9, 0.0], [0.5, 0.25, 0.25]]), x_labels=["a", "b", "c"],
                 y_labels=["가", "나"], annotate=True)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["가", "나"]
    assert ax.images[0].get_array().shape == (2, 3)
    assert len(ax.texts) == 6
    plt.close("all")


def test_the_widget_and_its_static_counterpart_draw_the_same_panels():
    drawn = []

    def draw(value, ax):
        drawn.append(value)
        ax.plot([0, value])

    fig = small_multiples(draw, [1, 2, 3], ncols=2)
    assert drawn == [1, 2, 3]
    assert sum(ax.get_visible() for ax in fig.axes) == 3
    drawn.clear()
    view = slider_view(draw, [1, 2, 3], description="x", initial=2)
    slider, image = view.children
    assert drawn == [2] and slider.value == 2
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG")
    slider.value = 3  # moving the slider redraws
    assert drawn == [2, 3] and bytes(image.value) != first
    plt.close("all")


def test_the_explorer_draws_every_choice_it_is_given():
    seen = []

    def draw(choice, ax):
        seen.append(dict(choice))

    view = explorer(draw, {"kind": ["encoder", "cross"], "head": [0, 1, 2]}, initial={"head": 2})
    (kind, _), image = view.children[0].children, view.children[1]
    assert seen == [{"kind": "encoder", "head": 2}]
    first = bytes(image.value)
    kind.value = "cross"
    assert seen[-1] == {"kind": "cross", "head": 2} and bytes(image.value).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        explorer(draw, {"kind": []})
    with pytest.raises(ValueError):
        explorer(draw, {"kind": ["a"]}, initial={"layer": 0})
    assert first.startswith(b"\x89PNG")
    plt.close("all")


def test_explorers_need_values():
    with pytest.raises(ValueError):
        small_multiples(lambda value, ax: None, [])
    with pytest.raises(ValueError):
        slider_view(lambda value, ax: None, [], description="x")


def test_setup_leaves_the_font_registered_for_later_figures():
    attnbook.setup(language="ko", threads=None)
    assert plt.rcParams["font.family"][-1] == "NanumGothic"

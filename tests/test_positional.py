"""attnbook.positional: the sinusoidal table of Vaswani et al. (2017) §3.5 and its properties."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from attnbook.positional import PositionalEncoding, sinusoidal_encoding

F64 = torch.float64


def frequencies(d_model: int) -> torch.Tensor:
    """ω_i = 1 / 10000^{2i/d_model}, one per column pair."""
    return 1.0 / 10000 ** (torch.arange(0, d_model, 2, dtype=F64) / d_model)


def test_shape_dtype_and_values_at_hand_checked_positions():
    table = sinusoidal_encoding(50, 4, dtype=F64)
    assert table.shape == (50, 4) and table.dtype == F64
    assert_close(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=F64))  # sin 0, cos 0 in every pair
    # pos = 1: ω_0 = 1, ω_1 = 1/10000^{2/4} = 1/100
    assert_close(table[1], torch.tensor([math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], dtype=F64))
    assert table[2, 2].item() == pytest.approx(0.019998666693333084)  # sin(0.02)
    assert table[49, 1].item() == pytest.approx(math.cos(49))
    assert sinusoidal_encoding(3, 4).dtype == torch.float32


def test_the_general_formula_for_every_entry():
    length, d = 30, 10
    table = sinusoidal_encoding(length, d, dtype=F64)
    for pos in range(length):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-12)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-12)


def test_an_odd_width_ends_with_a_sine_column():
    table = sinusoidal_encoding(6, 7, dtype=F64)
    assert table.shape == (6, 7)
    pos = torch.arange(6, dtype=F64)
    assert_close(table[:, 0], torch.sin(pos))
    assert_close(table[:, 5], torch.cos(pos / 10000 ** (4 / 7)))
    assert_close(table[:, 6], torch.sin(pos / 10000 ** (6 / 7)))  # 2i = 6 < 7 has no cosine partner


def test_every_entry_is_bounded_and_every_pair_has_unit_norm():
    table = sinusoidal_encoding(200, 16, dtype=F64)
    assert table.abs().max() <= 1.0
    pairs = table.view(200, 8, 2)
    assert_close(pairs.pow(2).sum(-1), torch.ones(200, 8, dtype=F64))  # sin² + cos² = 1
    assert_close(table.pow(2).sum(-1), torch.full((200,), 8.0, dtype=F64))  # every PE(pos) has norm √(D/2)


def test_the_dot_product_depends_only_on_the_distance():
    d = 64
    table = sinusoidal_encoding(120, d, dtype=F64)
    dots = table @ table.T  # (L, L)
    for k in (0, 1, 3, 17, 50):
        along = torch.diagonal(dots, offset=k)  # PE(p)·PE(p + k) for every p
        assert_close(along, torch.full_like(along, along[0].item()))
        assert_close(along, torch.diagonal(dots, offset=-k))  # symmetric in ±k
        assert along[0].item() == pytest.approx(torch.cos(frequencies(d) * k).sum().item())  # Σ_i cos(ω_i k)


def test_the_dot_product_falls_with_distance_only_over_a_range():
    d = 512
    dots = sinusoidal_encoding(300, d, dtype=F64) @ sinusoidal_encoding(1, d, dtype=F64)[0]  # PE(k)·PE(0)
    falls = dots[1:] < dots[:-1]
    assert falls[:40].all(), "strictly decreasing for the first 40 distances (d_model = 512)"
    assert not falls.all(), "…but not everywhere: it oscillates further away"
    assert (dots[1:] < dots[0]).all(), "every other position is less similar than the position itself"


@pytest.mark.parametrize("k", [1, 2, 7, 31])
def test_a_shift_by_k_is_a_rotation_that_does_not_depend_on_the_position(k):
    d, length = 12, 60
    table = sinusoidal_encoding(length + k, d, dtype=F64)
    rotation = torch.zeros(d, d, dtype=F64)  # block diagonal: one 2×2 rotation by ω_i·k per column pair
    for i, omega in enumerate(frequencies(d)):
        c, s = math.cos(omega * k), math.sin(omega * k)
        # [sin(a + b), cos(a + b)] = [[cos b, sin b], [-sin b, cos b]] @ [sin a, cos a]
        rotation[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[c, s], [-s, c]], dtype=F64)
    assert_close(table[k:], table[:length] @ rotation.T)  # PE(pos + k) = M_k PE(pos) for every pos
    assert_close(rotation @ rotation.T, torch.eye(d, dtype=F64))  # orthogonal: lengths are kept


def test_large_angles_are_accurate_in_float32():
    table = sinusoidal_encoding(5000, 8)
    assert table[4999, 0].item() == pytest.approx(math.sin(4999), abs=1e-6)


@pytest.mark.parametrize(("length", "d_model"), [(0, 4), (4, 0), (2.5, 4), (True, 4), (4, -1)])
def test_bad_sizes_are_refused(length, d_model):
    with pytest.raises(ValueError, match="positive integer"):
        sinusoidal_encoding(length, d_model)


# --- the module ---------------------------------------------------------------------------------


def test_the_module_adds_the_table():
    module = PositionalEncoding(6, max_len=9).eval()
    x = torch.randn(2, 5, 6)
    assert_close(module(x), x + sinusoidal_encoding(5, 6))
    assert_close(module(torch.zeros(1, 9, 6)), sinusoidal_encoding(9, 6)[None])


def test_the_table_is_a_buffer_not_a_weight_and_follows_dtype_and_device():
    module = PositionalEncoding(6, max_len=9)
    assert list(module.parameters()) == [] and module.state_dict() == {}
    module = module.double()
    assert module.table.dtype == F64
    assert module(torch.zeros(1, 3, 6, dtype=F64)).dtype == F64


def test_dropout_acts_only_in_training():
    module = PositionalEncoding(8, max_len=20, dropout=0.5)
    x = torch.randn(4, 20, 8)
    assert_close(module.eval()(x), x + sinusoidal_encoding(20, 8))
    dropped = module.train()(x)
    zeros = (dropped == 0).float().mean().item()
    assert 0.35 < zeros < 0.65
    kept = dropped != 0
    assert_close(dropped[kept], 2 * (x + sinusoidal_encoding(20, 8))[kept])  # survivors scaled by 1/(1 - p)


def test_the_module_refuses_bad_input():
    module = PositionalEncoding(6, max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        module(torch.zeros(1, 5, 6))
    with pytest.raises(ValueError, match="shape"):
        module(torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match="shape"):
        module(torch.zeros(3, 6))
    with pytest.raises(ValueError, match="dropout"):
        PositionalEncoding(6, dropout=1.0)

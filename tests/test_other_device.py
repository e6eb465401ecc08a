"""``tools.other_device``: the dropout it swaps in is dropout, and its report finds failing cells."""

from __future__ import annotations

import nbformat
import pytest
import torch
import torch.nn.functional as F

from tools.other_device import OTHER_DROPOUT, as_another_device, failures


@pytest.fixture
def other_dropout(monkeypatch):
    """Torch's dropout and attention replaced for one test, put back after it."""
    monkeypatch.setattr(F, "dropout", F.dropout)
    monkeypatch.setattr(F, "scaled_dot_product_attention", F.scaled_dot_product_attention)
    exec(OTHER_DROPOUT.format(stream=1), {})


def test_other_masks_with_the_same_rate_and_scale(other_dropout):
    torch.manual_seed(0)
    x = torch.ones(100_000)
    before = torch.get_rng_state()
    dropped = F.dropout(x, 0.1)
    assert torch.equal(torch.get_rng_state(), before)  # the global generator is left alone, as on a GPU
    assert torch.equal(dropped.unique(), torch.tensor([0.0, 1 / 0.9]))
    assert abs((dropped == 0).float().mean().item() - 0.1) < 0.005
    assert not torch.equal(dropped, torch.nn.Dropout(0.1)(x)) and torch.equal(F.dropout(x, 0.1, training=False), x)
    torch.nn.Dropout(0.1)(x)
    assert torch.equal(torch.get_rng_state(), before)  # nn.Dropout goes through it too


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_attention_with_dropout_is_attention_then_dropout(other_dropout, mask):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8)
    keep = torch.rand(5, 5) > 0.3
    keep.fill_diagonal_(True)
    arguments = {"none": {}, "bool": {"attn_mask": keep}, "causal": {"is_causal": True},
                 "float": {"attn_mask": torch.zeros(5, 5).masked_fill(~keep, float("-inf"))}}[mask]
    plain = F.scaled_dot_product_attention(q, k, v, **arguments)
    assert torch.allclose(F.scaled_dot_product_attention(q, k, v, dropout_p=1e-9, **arguments), plain, atol=1e-5)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, **arguments)
    assert dropped.shape == plain.shape and not torch.allclose(dropped, plain)


def test_the_notebook_runs_as_off_the_cpu():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("text"),
                                         nbformat.v4.new_code_cell('if device.type == "cpu":\n    assert 1 == 2')])
    changed = as_another_device(nb, stream=7)
    assert "manual_seed(7)" in changed.cells[0].source
    assert changed.cells[2].source == "if False:\n    assert 1 == 2"


def test_failing_cells_are_reported_by_their_number_in_the_reader_notebook():
    nb = as_another_device(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                                           nbformat.v4.new_code_cell("assert x == 2, 'x | y'")]), 1)
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="x | y", traceback=[])]
    assert failures(nb) == ["cell 1 (`assert x == 2, 'x | y'`): AssertionError: x \\| y"]

"""Chapter 6's new exercise references: the label-smoothed loss and the parameter count agree with PyTorch."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import attnbook
from attnbook.exercises import transformer as exercises
from attnbook.experiment import count_parameters
from attnbook.training import sequence_loss
from attnbook.transformer import Transformer, TransformerConfig


@pytest.mark.parametrize(("pad_id", "epsilon"), [(0, 0.0), (0, 0.1), (3, 0.25), (6, 0.9)])
def test_the_smoothed_loss_is_pytorchs_and_the_packages(pad_id, epsilon):
    _ = torch.manual_seed(pad_id)
    logits = torch.randn(4, 6, 7) * 3
    targets = torch.randint(0, 7, (4, 6))
    targets[:, 4:] = pad_id  # padding at the end
    targets[1, 1:] = pad_id
    targets[0, 0] = pad_id if pad_id == 0 else 0
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id, label_smoothing=epsilon)
    got = exercises.label_smoothed_loss(logits, targets, pad_id, epsilon)
    assert_close(got, expected)
    assert_close(got, sequence_loss(logits, targets, pad_id, label_smoothing=epsilon))


def test_the_smoothed_loss_has_the_gradient_of_pytorchs():
    _ = torch.manual_seed(1)
    logits = torch.randn(3, 5, 7, requires_grad=True)
    targets = torch.tensor([[1, 2, 3, 4, 5], [6, 1, 0, 0, 0], [2, 0, 0, 0, 0]])
    exercises.label_smoothed_loss(logits, targets, 0, 0.1).backward()
    ours = logits.grad.clone()
    logits.grad = None
    F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0, label_smoothing=0.1).backward()
    assert_close(ours, logits.grad)
    assert (ours[targets == 0] == 0).all()  # padding gets no gradient


def test_a_perfect_model_is_left_with_the_entropy_of_the_smoothed_target():
    # the chapter's floor H(q): the loss of a model whose prediction is q itself
    V, epsilon = 156, 0.1
    q = torch.full((V,), epsilon / V)
    q[5] += 1 - epsilon
    loss = exercises.label_smoothed_loss(q.log()[None, None], torch.tensor([[5]]), 0, epsilon)
    assert round(loss.item(), 3) == round(-(q * q.log()).sum().item(), 3) == 0.825


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize(("vocabularies", "d_model", "num_heads", "d_ff", "layers"), [
    ((99, 156), 64, 4, 256, (2, 2)), ((30, 50), 12, 3, 20, (3, 1)), ((41, 23), 24, 6, 40, (1, 2)),
    ((5, 5), 8, 8, 1, (1, 1)),
])
def test_the_predicted_count_is_the_models(norm_first, vocabularies, d_model, num_heads, d_ff, layers):
    config = TransformerConfig(*vocabularies, d_model=d_model, num_heads=num_heads, d_ff=d_ff,
                               num_encoder_layers=layers[0], num_decoder_layers=layers[1], norm_first=norm_first)
    assert exercises.transformer_parameter_count(config) == count_parameters(Transformer(config))


def test_the_chapters_model_has_260_188_parameters_and_max_len_changes_nothing():
    config = TransformerConfig(99, 156, d_model=64, num_heads=4, d_ff=256, norm_first=True, max_len=81)
    assert exercises.transformer_parameter_count(config) == 260_188
    longer = dataclasses.replace(config, max_len=500)  # the positional table is a buffer
    assert count_parameters(Transformer(longer)) == exercises.transformer_parameter_count(longer) == 260_188


def test_every_diagnosis_of_the_count_differs_from_the_right_count():
    for config in exercises._parameter_configs():
        right = exercises._count(config)
        assert right == exercises.transformer_parameter_count(config)
        for knobs in ({"positional": 1}, {"norm_size": 0}, {"norm_size": 1}, {"decoder_attentions": 1},
                      {"biases": False}, {"heads": True}, {"pad_rows": True}, {"output": "no bias"},
                      {"output": "tied"}, {"output": "none"}):
            assert exercises._count(config, **knobs) != right, knobs


def test_answers_that_differ_only_in_form_pass(capsys):
    attnbook.set_language("en")

    def nll_plus_uniform_term(logits, targets, pad_id, epsilon):
        # (1 − ε)·(−log p_y) + ε·mean_k(−log p_k): the same loss, rearranged
        log_p = logits.log_softmax(dim=-1)
        nll = -log_p.gather(-1, targets[..., None]).squeeze(-1)
        uniform = -log_p.mean(dim=-1)
        real = targets != pad_id
        return ((1 - epsilon) * nll + epsilon * uniform)[real].mean()

    def with_pytorch_without_smoothing(logits, targets, pad_id, epsilon):
        flat, flat_targets = logits.flatten(0, 1), targets.flatten()
        nll = F.cross_entropy(flat, flat_targets, ignore_index=pad_id)  # the mean over the real tokens
        real = flat_targets != pad_id
        return (1 - epsilon) * nll + epsilon * (-flat.log_softmax(dim=-1)[real].mean())

    def count_by_parts(config):
        D = config.d_model
        linear = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
        attention = 3 * linear(D, D) + linear(D, D)
        ffn = linear(D, config.d_ff) + linear(config.d_ff, D)
        encoder = config.num_encoder_layers * (attention + ffn + 2 * 2 * D) + (2 * D if config.norm_first else 0)
        decoder = config.num_decoder_layers * (2 * attention + ffn + 3 * 2 * D) + (2 * D if config.norm_first else 0)
        return config.src_vocab_size * D + config.tgt_vocab_size * D + encoder + decoder \
            + linear(D, config.tgt_vocab_size)

    for answer in (nll_plus_uniform_term, with_pytorch_without_smoothing):
        assert exercises.check_label_smoothed_loss(answer) is True
    assert exercises.check_transformer_parameter_count(count_by_parts) is True
    assert capsys.readouterr().out.count("✅") == 3

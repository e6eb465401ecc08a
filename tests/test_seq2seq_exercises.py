"""Chapter 2's exercises: the padded loss and beam search agree with the package's training and decoding."""

from __future__ import annotations

import math

import pytest
import torch

from attnbook.decoding import beam_search as package_beam_search
from attnbook.decoding import greedy_decode
from attnbook.exercises.seq2seq import _BEAM_CASES, EOS, _TableModel, beam_search, padded_cross_entropy
from attnbook.seq2seq import Seq2Seq, Seq2SeqConfig
from attnbook.training import sequence_loss

CONFIG = Seq2SeqConfig(src_vocab_size=13, tgt_vocab_size=11, embed_dim=7, hidden_dim=9, bidirectional=True)


@pytest.mark.parametrize("pad_id", [0, 4])
def test_the_padded_loss_is_the_trainings_loss(pad_id):
    generator = torch.Generator().manual_seed(pad_id)
    logits = torch.randn(3, 6, 9, generator=generator, requires_grad=True)
    targets = torch.randint(5, 9, (3, 6), generator=generator)
    for b, length in enumerate([6, 2, 4]):
        targets[b, length:] = pad_id
    loss = padded_cross_entropy(logits, targets, pad_id)
    torch.testing.assert_close(loss, sequence_loss(logits, targets, pad_id))
    loss.backward()
    assert logits.grad[targets == pad_id].abs().max() == 0  # padding gets no gradient


def test_the_stand_in_model_scores_what_beam_search_returns():
    for table, beam_size, max_len in _BEAM_CASES:
        model = _TableModel(table)
        tokens, score = beam_search(model, beam_size, max_len, EOS)
        assert math.isclose(score, model.score(tokens), abs_tol=1e-5)


def _prefix_model(model: Seq2Seq, src: torch.Tensor):
    """The seq2seq decoder as next_log_probs(tokens): feed <s> and the tokens, read the next distribution."""
    mask = torch.ones_like(src, dtype=torch.bool)

    @torch.no_grad()
    def next_log_probs(tokens):
        state = model.start(src, mask)
        for token in [model.config.bos_id, *tokens]:
            log_probs, state, _ = model.step(state, torch.tensor([token]))
        return log_probs[0]

    return next_log_probs, mask


@pytest.mark.parametrize("beam_size", [1, 2, 3, 5])
def test_beam_search_agrees_with_the_packages_on_a_seq2seq_model(beam_size):
    torch.manual_seed(0)
    model = Seq2Seq(CONFIG).eval()
    for source in ([5, 6, 7], [3, 9, 10, 11, 12], [8]):
        src = torch.tensor([source])
        next_log_probs, mask = _prefix_model(model, src)
        tokens, score = beam_search(next_log_probs, beam_size, 6, CONFIG.eos_id)
        (expected,) = package_beam_search(model, src, mask, beam_size=beam_size, max_len=6)
        assert tokens == expected.tokens
        assert math.isclose(score, expected.log_prob, abs_tol=1e-4)
        if beam_size == 1:
            assert tokens == greedy_decode(model, src, mask, max_len=6)[0].tokens

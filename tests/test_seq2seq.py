"""The encoder–decoders of chapters 2 and 3, their decoding, training and checkpoints."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from attnbook import checkpoints
from attnbook.bahdanau import BahdanauSeq2Seq
from attnbook.data import Batch
from attnbook.decoding import beam_search, greedy_decode
from attnbook.seq2seq import Encoder, Seq2Seq, Seq2SeqConfig
from attnbook.training import sequence_loss, train
from tests.conftest import padded_batch

PAD, BOS, EOS = 0, 1, 2
# Tiny, odd sizes so that a transposed dimension cannot go unnoticed.
CONFIG = Seq2SeqConfig(src_vocab_size=13, tgt_vocab_size=11, embed_dim=7, hidden_dim=9, bidirectional=True)
MODELS = [Seq2Seq, BahdanauSeq2Seq]


@pytest.fixture
def batch() -> Batch:
    return padded_batch([[5, 6, 7, 8, 9], [3, 4], [10, 11, 12]], [[3, 4, 5], [6, 7, 8, 9, 10], [4]])


def model_of(model_class, config=CONFIG, seed=0):
    torch.manual_seed(seed)
    return model_class(config).eval()


@pytest.mark.parametrize(
    "changes",
    [{"hidden_dim": 0}, {"embed_dim": -3}, {"num_layers": 1.5}, {"dropout": 1.0}, {"bos_id": 0},
     {"eos_id": 11}],
)
def test_a_bad_config_is_refused(changes):
    base = {"src_vocab_size": 13, "tgt_vocab_size": 11}
    with pytest.raises(ValueError):
        Seq2SeqConfig(**base, **changes)


def test_the_bahdanau_model_needs_a_bidirectional_one_layer_encoder():
    with pytest.raises(ValueError, match="bidirectional"):
        BahdanauSeq2Seq(Seq2SeqConfig(src_vocab_size=13, tgt_vocab_size=11))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_encoder_agrees_with_torch_lstm_on_each_unpadded_sentence(batch, bidirectional):
    torch.manual_seed(0)
    encoder = Encoder(Seq2SeqConfig(13, 11, embed_dim=7, hidden_dim=9, num_layers=2,
                                    bidirectional=bidirectional)).eval()
    outputs, (h, c) = encoder(batch.src, batch.src_mask)
    directions = 2 if bidirectional else 1
    assert outputs.shape == (3, 5, 9 * directions) and h.shape == c.shape == (2 * directions, 3, 9)
    for b in range(3):
        length = int(batch.src_mask[b].sum())
        alone, (h_alone, c_alone) = encoder.lstm(encoder.embedding(batch.src[b: b + 1, :length]))
        torch.testing.assert_close(outputs[b, :length], alone[0])
        torch.testing.assert_close(h[:, b], h_alone[:, 0])
        torch.testing.assert_close(c[:, b], c_alone[:, 0])
        assert (outputs[b, length:] == 0).all(), "padding positions carry nothing"


@pytest.mark.parametrize(
    ("src", "mask", "message"),
    [(torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 0, dtype=torch.bool), "empty"),
     (torch.ones(2, 3, dtype=torch.long), torch.tensor([[True] * 3, [False] * 3]), "empty"),
     (torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool), "same shape"),
     (torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3), "bool")],
)
def test_bad_source_batches_get_a_clear_error(src, mask, message):
    with pytest.raises(ValueError, match=message):
        model_of(Seq2Seq).start(src, mask)


@pytest.mark.parametrize("model_class", MODELS)
def test_shapes_and_attention_weights(batch, model_class):
    logits, attention = model_of(model_class)(batch.src, batch.src_mask, batch.tgt_in)
    assert logits.shape == (3, 6, 11)
    if model_class is Seq2Seq:
        assert attention is None
        return
    assert attention.shape == (3, 6, 5)
    torch.testing.assert_close(attention.sum(-1), torch.ones(3, 6))
    assert (attention.masked_select(~batch.src_mask[:, None, :].expand_as(attention)) == 0).all(), \
        "padding never receives attention"


@pytest.mark.parametrize("model_class", MODELS)
def test_loss_at_initialisation_is_about_log_v(batch, model_class):
    logits, _ = model_of(model_class)(batch.src, batch.src_mask, batch.tgt_in)
    loss = sequence_loss(logits, batch.tgt_out, PAD).item()
    assert abs(loss - math.log(11)) < 0.15, loss


@pytest.mark.parametrize("model_class", MODELS)
def test_teacher_forcing_equals_step_by_step_decoding(batch, model_class):
    model = model_of(model_class)
    logits, attention = model(batch.src, batch.src_mask, batch.tgt_in)
    state = model.start(batch.src, batch.src_mask)
    for t in range(batch.tgt_in.shape[1]):
        log_probs, state, weights = model.step(state, batch.tgt_in[:, t])
        torch.testing.assert_close(log_probs, torch.log_softmax(logits[:, t], dim=-1))
        if attention is not None:
            torch.testing.assert_close(weights, attention[:, t])


@pytest.mark.parametrize("model_class", MODELS)
def test_a_model_overfits_one_batch(batch, model_class):
    model = model_of(model_class)
    losses = train(model, [batch], epochs=150, lr=0.02, desc=None)
    assert losses[-1] < 0.05 < losses[0], (losses[0], losses[-1])
    hypotheses = greedy_decode(model, batch.src, batch.src_mask, max_len=8)
    assert [h.tokens for h in hypotheses] == [[3, 4, 5], [6, 7, 8, 9, 10], [4]]


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_of_width_one_is_greedy_decoding(batch, model_class, seed):
    model = model_of(model_class, seed=seed)
    greedy = greedy_decode(model, batch.src, batch.src_mask, max_len=7)
    beam = beam_search(model, batch.src, batch.src_mask, beam_size=1, max_len=7)
    for g, b in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens and g.finished == b.finished
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-5)  # float32: a batch of B vs a batch of 1
        if g.attention is not None:
            torch.testing.assert_close(g.attention, b.attention)


def sequence_log_prob(model, src, src_mask, tokens: list[int], finished: bool) -> float:
    """log p(tokens [+ </s>] | src) by teacher forcing."""
    target = [*tokens, EOS] if finished else tokens
    logits, _ = model(src, src_mask, torch.tensor([[BOS, *target[:-1]]]))
    log_probs = torch.log_softmax(logits[0].double(), dim=-1)
    return sum(log_probs[t, token].item() for t, token in enumerate(target))


@pytest.mark.parametrize("model_class", MODELS)
def test_decoders_report_the_true_log_probability(batch, model_class):
    model = model_of(model_class)
    for h in greedy_decode(model, batch.src[:1], batch.src_mask[:1], max_len=6) + \
            beam_search(model, batch.src[:1], batch.src_mask[:1], beam_size=3, max_len=6):
        expected = sequence_log_prob(model, batch.src[:1], batch.src_mask[:1], h.tokens, h.finished)
        assert h.log_prob == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("model_class", MODELS)
def test_a_wide_enough_beam_finds_the_most_probable_sentence(model_class):
    """With a beam wider than the number of sentences, beam search is exhaustive: compare with brute force."""
    config = Seq2SeqConfig(src_vocab_size=6, tgt_vocab_size=5, embed_dim=4, hidden_dim=5, bidirectional=True)
    model = model_of(model_class, config, seed=3)
    src, mask = torch.tensor([[3, 4, 5]]), torch.ones(1, 3, dtype=torch.bool)
    max_len, words = 3, [0, 1, 3, 4]  # every token but </s> may appear
    candidates = [(list(t), True) for n in range(max_len) for t in itertools.product(words, repeat=n)]
    candidates += [(list(t), False) for t in itertools.product(words, repeat=max_len)]
    best = max(sequence_log_prob(model, src, mask, t, f) for t, f in candidates)
    found = beam_search(model, src, mask, beam_size=len(candidates), max_len=max_len)[0]
    assert found.log_prob == pytest.approx(best, abs=1e-6)
    greedy = greedy_decode(model, src, mask, max_len=max_len)[0]
    assert found.log_prob >= greedy.log_prob - 1e-9


@pytest.mark.parametrize("model_class", MODELS)
def test_a_saved_and_reloaded_model_gives_identical_outputs(batch, model_class, tmp_path):
    model = model_of(model_class)
    path = tmp_path / "model.safetensors"
    checkpoints.save(model, path)
    reloaded = checkpoints.load(path, model_class, Seq2SeqConfig)
    assert reloaded.config == model.config
    for a, b in zip(model(batch.src, batch.src_mask, batch.tgt_in), reloaded(batch.src, batch.src_mask,
                                                                                batch.tgt_in), strict=True):
        if a is not None:
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match="not a"):
        checkpoints.load(path, Seq2Seq if model_class is BahdanauSeq2Seq else BahdanauSeq2Seq, Seq2SeqConfig)

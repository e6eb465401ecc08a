"""The greedy loop BART and T5 share, on a scripted model whose every answer is known."""

from types import SimpleNamespace

import pytest
import torch

from attnbook.encoder_decoder import greedy_generate

START, EOS, PAD, V = 0, 1, 2, 9


class Scripted:
    """Writes row r's script token by token: the next token depends on how many were written."""

    training = False

    def __init__(self, scripts):
        self.scripts = scripts
        self.config = SimpleNamespace(decoder_start_token_id=START, eos_token_id=EOS, pad_token_id=PAD)
        self.encoded = 0

    def encode(self, input_ids, attention_mask=None):
        self.encoded += 1
        return input_ids.float()[..., None]  # (B, S, 1)

    def decode(self, decoder_input_ids, encoder_hidden_states, attention_mask=None):
        b, t = decoder_input_ids.shape
        logits = torch.zeros(b, t, V)
        for row, script in enumerate(self.scripts):
            token = script[min(t - 1, len(script) - 1)]
            logits[row, -1, token] = 1.0
        return SimpleNamespace(logits=logits)


def test_rows_end_at_eos_and_pad_after():
    model = Scripted([[5, 6, EOS, 7, 7], [4, EOS, 8, 8, 8]])
    out = greedy_generate(model, torch.ones(2, 3, dtype=torch.long), max_new_tokens=10)
    assert out.tolist() == [[START, 5, 6, EOS], [START, 4, EOS, PAD]]
    assert model.encoded == 1  # the encoder runs once


def test_stops_at_max_new_tokens():
    model = Scripted([[5, 6, 7, 8, 3]])
    out = greedy_generate(model, torch.ones(1, 2, dtype=torch.long), max_new_tokens=3)
    assert out.tolist() == [[START, 5, 6, 7]]


def test_bad_inputs_are_refused():
    model = Scripted([[5]])
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_generate(model, torch.ones(1, 2, dtype=torch.long), max_new_tokens=0)
    with pytest.raises(ValueError, match="2-D"):
        greedy_generate(model, torch.ones(2, dtype=torch.long), max_new_tokens=2)
    with pytest.raises(TypeError, match="encode"):
        greedy_generate(object(), torch.ones(1, 2, dtype=torch.long), max_new_tokens=2)
    model.training = True
    with pytest.raises(ValueError, match="eval"):
        greedy_generate(model, torch.ones(1, 2, dtype=torch.long), max_new_tokens=2)

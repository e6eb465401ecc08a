"""attnbook.bart: equal to 🤗 ``BartForConditionalGeneration``, and each of BART's details shown to matter.

The equality tests use a tiny odd-sized config (V=41, D=18, 3 heads, ffn 23 in the encoder and 29
in the decoder, 2 encoder + 3 decoder layers, 17 positions) whose weights are redrawn large (std 0.3,
LayerNorm γ ≈ 1 ± 0.3, the position tables' unread rows 0 and 1 too) with a non-zero
``final_logits_bias`` (std 1), on batches padded in the encoder and the decoder. Comparisons are
float32, with ``atol`` = 10⁻⁵ × the reference's largest entry. Each mutation test changes one detail
of our model (position offset 0, no embedding LayerNorm, tanh GELU, pre-norm layers, no
``final_logits_bias``, ``<s>`` as the decoder's start) and runs both models in float64, where the right
model misses 🤗's logits by less than 10⁻¹² (relative): the tanh GELU misses by 1–4 × 10⁻⁴, every other
change by 5 × 10⁻² or more, so each would fail the float32 test as well (> 10 × its tolerance).
Generation is compared with 🤗's ``generate(do_sample=False, num_beams=1)`` with the
tiny config's ``forced_eos_token_id`` off (🤗's BartConfig sets it to 2, which forces ``</s>`` at
``max_length``; the book's loop does not force anything) and ``forced_bos_token_id`` unset.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import transformers
from torch.testing import assert_close
from transformers.models.bart.modeling_bart import shift_tokens_right as hf_shift_tokens_right

from attnbook import checkpoints
from attnbook.bart import (
    INIT_STD,
    POSITION_OFFSET,
    Bart,
    BartConfig,
    BartOutput,
    from_huggingface,
    huggingface_state_dict,
    shift_tokens_right,
)
from attnbook.encoder_decoder import greedy_generate
from attnbook.transformer import ACTIVATIONS

V, D, H, FF_ENCODER, FF_DECODER, N_ENCODER, N_DECODER, POSITIONS = 41, 18, 3, 23, 29, 2, 3, 17
B, S, T = 4, 11, 9
SOURCE_LENGTHS, TARGET_LENGTHS = [11, 7, 4, 1], [9, 9, 5, 2]
PAD, BOS, EOS = 1, 0, 2
CONFIG = BartConfig(vocab_size=V, d_model=D, encoder_layers=N_ENCODER, decoder_layers=N_DECODER,
                    encoder_attention_heads=H, decoder_attention_heads=H, encoder_ffn_dim=FF_ENCODER,
                    decoder_ffn_dim=FF_DECODER, max_position_embeddings=POSITIONS)
TOLERANCE = 1e-5  # relative to the reference's largest entry
TOLERANCE_64 = 1e-12  # the same comparison in float64
MARGIN = 10 * TOLERANCE  # how far a mutated model must miss, at least (as in test_bert and test_gpt)


def hf_config(**changes) -> transformers.BartConfig:
    settings = dict(vocab_size=V, d_model=D, encoder_layers=N_ENCODER, decoder_layers=N_DECODER,
                    encoder_attention_heads=H, decoder_attention_heads=H, encoder_ffn_dim=FF_ENCODER,
                    decoder_ffn_dim=FF_DECODER, max_position_embeddings=POSITIONS, dropout=0.0,
                    forced_eos_token_id=None, attn_implementation="eager")
    return transformers.BartConfig(**(settings | changes))


def hf_bart(seed: int = 1, **changes) -> transformers.BartForConditionalGeneration:
    """A 🤗 BART with every weight redrawn large, LayerNorm γ ≈ 1 ± 0.3, and a final_logits_bias of std 1."""
    model = transformers.BartForConditionalGeneration(hf_config(**changes))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            is_gain = ("layer_norm" in name or "layernorm" in name) and name.endswith("weight")
            parameter.copy_(1 + 0.3 * noise if is_gain else 0.3 * noise)
        model.final_logits_bias.copy_(torch.randn(model.final_logits_bias.shape, generator=generator))
    return model.eval()


def padded_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """input_ids (B, S) and decoder_input_ids (B, T), each with its 0/1 mask, padded on the right with pad = 1."""
    generator = torch.Generator().manual_seed(seed)
    attention_mask = (torch.arange(S) < torch.tensor(SOURCE_LENGTHS)[:, None]).long()
    decoder_attention_mask = (torch.arange(T) < torch.tensor(TARGET_LENGTHS)[:, None]).long()
    input_ids = torch.randint(3, V, (B, S), generator=generator).masked_fill(attention_mask == 0, PAD)
    decoder_input_ids = torch.randint(3, V, (B, T), generator=generator).masked_fill(decoder_attention_mask == 0, PAD)
    decoder_input_ids[:, 0] = EOS  # the decoder's start token
    return {"input_ids": input_ids, "attention_mask": attention_mask, "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask}


def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


def assert_matches(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert_close(ours, theirs, rtol=0, atol=TOLERANCE * theirs.abs().max().item())


def hf_logits(hf: transformers.BartForConditionalGeneration, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return hf(**batch).logits


# --- the config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"vocab_size": 0}, "vocab_size"), ({"d_model": 19}, "divisible"), ({"decoder_attention_heads": 4}, "divisible"),
     ({"encoder_layers": 1.5}, "encoder_layers"), ({"decoder_ffn_dim": 0}, "decoder_ffn_dim"),
     ({"max_position_embeddings": True}, "max_position_embeddings"), ({"activation": "gelu_new"}, "activation"),
     ({"dropout": 1.0}, "dropout"), ({"attention_dropout": -0.1}, "attention_dropout"),
     ({"activation_dropout": "0"}, "activation_dropout"), ({"scale_embedding": 1}, "scale_embedding"),
     ({"pad_token_id": V}, "pad_token_id"), ({"decoder_start_token_id": -1}, "decoder_start_token_id"),
     ({"bos_token_id": PAD}, "must differ")],
)
def test_a_bad_config_is_refused_in_both_languages(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        dataclasses.replace(CONFIG, **changes)
    assert " / " in str(error.value)


def test_a_config_is_frozen_and_reads_a_huggingface_config():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.d_model = 24  # type: ignore[misc]
    ours = BartConfig.from_huggingface_config(hf_config(dropout=0.2, attention_dropout=0.1, activation_dropout=0.05,
                                                        scale_embedding=True))
    assert ours == dataclasses.replace(CONFIG, dropout=0.2, attention_dropout=0.1, activation_dropout=0.05,
                                       scale_embedding=True)
    assert (CONFIG.pad_token_id, CONFIG.bos_token_id, CONFIG.eos_token_id, CONFIG.decoder_start_token_id) == \
        (PAD, BOS, EOS, EOS)  # 🤗's defaults: the decoder starts from </s>


# --- equal to 🤗 transformers -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_logits_and_attention_equal_transformers_with_padding_on_both_sides(seed):
    hf = hf_bart(seed)
    ours = from_huggingface(hf)
    assert isinstance(ours, Bart) and not ours.training
    batch = padded_batch(seed)
    out = ours(**batch)
    with torch.no_grad():
        theirs = hf(**batch, output_attentions=True)
    assert isinstance(out, BartOutput) and out.logits.shape == (B, T, V)
    assert_matches(out.logits, theirs.logits)
    assert_matches(out.encoder_hidden_states, theirs.encoder_last_hidden_state)
    for mine, hf_weights, shape in [(out.attentions.encoder_self, theirs.encoder_attentions, (B, H, S, S)),
                                    (out.attentions.decoder_self, theirs.decoder_attentions, (B, H, T, T)),
                                    (out.attentions.cross, theirs.cross_attentions, (B, H, T, S))]:
        assert len(mine) == len(hf_weights)
        for layer, hf_layer in zip(mine, hf_weights, strict=True):
            assert layer.shape == shape
            assert_matches(layer, hf_layer)
    fused = ours(**batch, need_weights=False)
    assert fused.attentions is None
    assert_matches(fused.logits, theirs.logits)


def test_the_large_weights_make_the_logits_large_and_varied():
    """The comparison means something: logits span tens of units, and the bias alone moves them."""
    hf = hf_bart(1)
    logits = hf_logits(hf, padded_batch(1))
    assert logits.abs().max() > 3 and logits.std() > 1
    assert hf.final_logits_bias.abs().max() > 1


@pytest.mark.parametrize("changes", [{"activation_function": "relu"}, {"scale_embedding": True}],
                         ids=["relu", "scaled embeddings"])
def test_the_other_supported_settings_equal_transformers(changes):
    hf = hf_bart(3, **changes)
    ours = from_huggingface(hf)
    batch = padded_batch(3)
    assert_matches(ours(**batch).logits, hf_logits(hf, batch))


def test_without_decoder_input_ids_the_input_is_shifted_right_as_in_transformers():
    hf = hf_bart(4)
    ours = from_huggingface(hf)
    batch = padded_batch(4)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    out = ours(**inputs)
    with torch.no_grad():
        theirs = hf(**inputs).logits
    assert out.logits.shape == (B, S, V)
    assert_matches(out.logits, theirs)
    assert_matches(ours(batch["input_ids"], batch["attention_mask"], shift_tokens_right(batch["input_ids"], CONFIG))
                   .logits, theirs)


def test_shift_tokens_right_is_transformers_and_turns_minus_100_into_pad():
    labels = torch.tensor([[5, 6, 7, EOS], [8, EOS, -100, -100]])
    shifted = shift_tokens_right(labels, CONFIG)
    assert shifted.tolist() == [[EOS, 5, 6, 7], [EOS, 8, EOS, PAD]]
    assert torch.equal(shifted, hf_shift_tokens_right(labels, PAD, EOS))
    other = dataclasses.replace(CONFIG, decoder_start_token_id=BOS)
    assert torch.equal(shift_tokens_right(labels, other), hf_shift_tokens_right(labels, PAD, BOS))


def test_encode_then_decode_is_the_forward_pass():
    hf = hf_bart(5)
    ours = from_huggingface(hf)
    batch = padded_batch(5)
    memory = ours.encode(batch["input_ids"], batch["attention_mask"])
    decoded = ours.decode(batch["decoder_input_ids"], memory, batch["attention_mask"],
                          decoder_attention_mask=batch["decoder_attention_mask"])
    full = ours(**batch)
    assert_close(memory, full.encoder_hidden_states)
    assert_close(decoded.logits, full.logits)
    assert decoded.attentions.encoder_self == ()
    assert_close(decoded.attentions.cross[-1], full.attentions.cross[-1])


def test_greedy_generation_equals_transformers_generate():
    """Greedy search token for token; with these weights three rows end at </s> at once (then pad), one runs on."""
    hf = hf_bart(6)
    ours = from_huggingface(hf)
    batch = padded_batch(6)
    ours_tokens = greedy_generate(ours, batch["input_ids"], batch["attention_mask"], max_new_tokens=12)
    with torch.no_grad():
        theirs = hf.generate(batch["input_ids"], attention_mask=batch["attention_mask"], do_sample=False,
                             num_beams=1, max_new_tokens=12, forced_eos_token_id=None, forced_bos_token_id=None)
    assert torch.equal(ours_tokens, theirs)
    assert (ours_tokens[:, 0] == EOS).all()  # both start from decoder_start_token_id = </s>
    ended = (ours_tokens[:, 1:] == EOS).any(dim=1)
    assert ended.any() and not ended.all(), ours_tokens
    assert (ours_tokens == PAD).any()


# --- each detail matters ------------------------------------------------------------------------------


def _offset_zero(model: Bart) -> None:
    model.encoder.embed_positions.offset = model.decoder.embed_positions.offset = 0


def _no_embedding_norm(model: Bart) -> None:
    model.encoder.layernorm_embedding = torch.nn.Identity()
    model.decoder.layernorm_embedding = torch.nn.Identity()


def _tanh_gelu(model: Bart) -> None:
    for layer in [*model.encoder.layers, *model.decoder.layers]:
        layer.activation = ACTIVATIONS["gelu_tanh"]


def _pre_norm(model: Bart) -> None:
    for layer in [*model.encoder.layers, *model.decoder.layers]:
        layer.norm_first = True


def _no_final_logits_bias(model: Bart) -> None:
    model.final_logits_bias.zero_()


def _bos_start(model: Bart) -> None:
    model.config = dataclasses.replace(model.config, decoder_start_token_id=BOS)


MUTATIONS = {"position offset 0": _offset_zero, "no embedding LayerNorm": _no_embedding_norm,
             "tanh GELU": _tanh_gelu, "pre-norm": _pre_norm, "no final_logits_bias": _no_final_logits_bias,
             "<s> as start token": _bos_start}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_each_detail_of_bart_matters(mutation, seed):
    """Our model with one detail changed misses 🤗's logits; in float64, the right model misses by < 10⁻¹².

    The inputs omit ``decoder_input_ids``, so the start token reaches the decoder through the shift.
    Each miss is also more than 10 × the float32 tolerance: the float32 equality test catches it too.
    """
    hf = hf_bart(seed).double()
    batch = padded_batch(seed)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        theirs = hf(**inputs).logits
        ours = from_huggingface(hf).double()
        assert relative_difference(ours(**inputs).logits, theirs) < TOLERANCE_64
        MUTATIONS[mutation](ours)
        difference = relative_difference(ours(**inputs).logits, theirs)
    assert difference > MARGIN, difference
    assert difference > 10**6 * TOLERANCE_64, difference


def test_the_first_two_rows_of_a_position_table_are_never_read():
    """🤗's offset: rows 0 and 1 are stored, and changing them changes nothing."""
    hf = hf_bart(1)
    ours = from_huggingface(hf)
    assert POSITION_OFFSET == 2
    assert ours.encoder.embed_positions.weight.shape == (POSITIONS + 2, D)
    batch = padded_batch(1)
    before = ours(**batch).logits
    with torch.no_grad():
        for table in (ours.encoder.embed_positions, ours.decoder.embed_positions):
            table.weight[:POSITION_OFFSET] = 100.0
    assert torch.equal(ours(**batch).logits, before)


# --- from_huggingface refuses what it cannot compute ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"activation_function": "gelu_new"}, "activation_function"), ({"normalize_before": True}, "normalize_before"),
     ({"add_final_layer_norm": True}, "add_final_layer_norm"), ({"encoder_layerdrop": 0.1}, "encoder_layerdrop"),
     ({"static_position_embeddings": True}, "static_position_embeddings"),
     ({"tie_word_embeddings": False}, "tie_word_embeddings")],
    ids=["gelu_new", "pre-norm (mBART)", "final layer norm", "layerdrop", "sinusoidal positions", "untied"],
)
def test_from_huggingface_refuses_settings_our_bart_does_not_compute(changes, message):
    hf = transformers.BartForConditionalGeneration(hf_config(**changes))
    with pytest.raises(ValueError, match=message) as error:
        from_huggingface(hf)
    assert " / " in str(error.value)


def test_from_huggingface_refuses_other_models_and_unknown_or_untied_weights():
    with pytest.raises(TypeError, match="BartForConditionalGeneration") as error:
        from_huggingface(transformers.BartModel(hf_config()))
    assert " / " in str(error.value)
    state = hf_bart(1).state_dict()
    with pytest.raises(ValueError, match="does not have") as error:
        huggingface_state_dict(state | {"model.encoder.layers.0.self_attn.rotary.weight": torch.zeros(D)})
    assert "rotary" in str(error.value)
    with pytest.raises(ValueError, match="does not have"):
        huggingface_state_dict(state | {"model.encoder.layers.0.encoder_attn.q_proj.weight": torch.zeros(D, D)})
    untied = dict(state)
    untied["lm_head.weight"] = untied["lm_head.weight"] + 1.0
    with pytest.raises(ValueError, match="one token table"):
        huggingface_state_dict(untied)
    incomplete = {k: v for k, v in state.items() if k != "model.decoder.layers.2.encoder_attn.v_proj.bias"}
    with pytest.raises(ValueError, match="does not have"):
        huggingface_state_dict(incomplete)


# --- the model itself -----------------------------------------------------------------------------------


def test_initialisation_follows_transformers_init_weights():
    model = Bart(dataclasses.replace(CONFIG, vocab_size=400, d_model=48, encoder_ffn_dim=96))
    shared = model.shared.weight
    assert torch.equal(shared[PAD], torch.zeros(48))
    decoder_layer = model.decoder.layers[1]
    for tensor in (shared, model.encoder.embed_positions.weight, decoder_layer.linear1.weight,
                   model.encoder.layers[0].self_attn.in_proj_weight, decoder_layer.multihead_attn.out_proj.weight):
        assert abs(tensor.std().item() - INIT_STD) < 0.2 * INIT_STD
    layer = model.decoder.layers[0]
    assert not layer.linear1.bias.any() and not layer.self_attn.in_proj_bias.any()
    assert (layer.norm3.weight == 1).all() and not layer.norm3.bias.any()
    assert not model.final_logits_bias.any() and model.final_logits_bias.shape == (1, 400)
    assert "final_logits_bias" not in dict(model.named_parameters())  # a buffer, as in 🤗: never trained


def test_one_token_table_serves_encoder_decoder_and_output(tmp_path):
    model = Bart(CONFIG).eval()
    assert [name for name, t in model.state_dict().items() if t.shape == (V, D)] == ["shared.weight"]
    batch = padded_batch(0)
    model(**batch).logits.sum().backward()
    assert (model.shared.weight.grad[3:].abs().sum(-1) > 0).all()  # every non-special token learns as an output
    checkpoints.save(model, tmp_path / "bart.safetensors")
    reloaded = checkpoints.load(tmp_path / "bart.safetensors", Bart, BartConfig)
    assert torch.equal(reloaded(**batch).logits, model(**batch).logits)


def test_dropout_settings_reach_the_layers_and_act_in_training_only():
    config = dataclasses.replace(CONFIG, dropout=0.1, attention_dropout=0.2, activation_dropout=0.3)
    model = Bart(config)
    for layer in [*model.encoder.layers, *model.decoder.layers]:
        assert layer.self_attn.dropout == 0.2 and layer.dropout.p == 0.3 and layer.dropout1.p == 0.1
    assert model.decoder.layers[0].multihead_attn.dropout == 0.2 and model.encoder.dropout.p == 0.1
    batch = padded_batch(0)
    assert not torch.equal(model(**batch).logits, model(**batch).logits)
    model.eval()
    assert torch.equal(model(**batch).logits, model(**batch).logits)


def test_a_decoder_position_never_sees_the_future():
    model = Bart(CONFIG).eval()
    batch = padded_batch(0)
    before = model(batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"]).logits
    changed = batch["decoder_input_ids"].clone()
    changed[:, 5] = 7
    after = model(batch["input_ids"], batch["attention_mask"], changed).logits
    assert torch.equal(after[:, :5], before[:, :5])
    assert not torch.allclose(after[:, 5:], before[:, 5:])


@pytest.mark.parametrize(
    ("inputs", "message"),
    [({"input_ids": torch.zeros(2, 3)}, "input_ids"), ({"input_ids": torch.full((1, 3), V)}, "vocab_size"),
     ({"input_ids": torch.ones(1, POSITIONS + 1, dtype=torch.long)}, "max_position_embeddings"),
     ({"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.ones(2, 4)}, "attention_mask"),
     ({"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.tensor([[1, 1, 0], [0, 0, 0]])},
      "no real token"),
     ({"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.full((2, 3), 2)}, "0 or 1"),
     ({"input_ids": torch.ones(2, 3, dtype=torch.long), "decoder_input_ids": torch.ones(3, 2, dtype=torch.long)},
      "batch size"),
     ({"input_ids": torch.ones(1, 3, dtype=torch.long), "decoder_input_ids": torch.tensor([[2, -100]])}, "-100")],
    ids=["float ids", "out of vocabulary", "too long", "mask shape", "empty row", "mask values", "batch", "-100"],
)
def test_bad_inputs_get_a_clear_bilingual_error(inputs, message):
    model = Bart(CONFIG).eval()
    with pytest.raises(ValueError, match=message) as error:
        model(**inputs)
    assert " / " in str(error.value)


def test_a_bad_config_or_encoder_output_is_refused():
    with pytest.raises(TypeError, match="BartConfig"):
        Bart(hf_config())  # type: ignore[arg-type]
    model = Bart(CONFIG).eval()
    with pytest.raises(ValueError, match="encoder_hidden_states") as error:
        model.decode(torch.tensor([[EOS]]), torch.zeros(1, 3, D + 1))
    assert " / " in str(error.value)


def test_left_padding_in_the_decoder_equals_transformers_at_the_real_tokens():
    """A padded decoder position that may attend to nothing gets zero attention here (chapter 5), other
    numbers in 🤗; no real position ever reads it, so the logits agree wherever the token is real."""
    hf = hf_bart(7)
    ours = from_huggingface(hf)
    batch = padded_batch(7)
    real = torch.ones(B, T, dtype=torch.long)
    real[1, :3] = 0  # left padding: positions 0, 1, 2 of the second row
    batch["decoder_attention_mask"] = real
    logits = ours(**batch).logits
    theirs = hf_logits(hf, batch)
    keep = real.bool()
    assert_matches(logits[keep], theirs[keep])

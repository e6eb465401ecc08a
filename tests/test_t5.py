"""attnbook.t5: equality with 🤗 T5ForConditionalGeneration, each T5 detail shown to matter, generation.

The tiny config is odd-sized on purpose (V=37, D=20, Dkv=7 so H·Dkv = 21 ≠ D, H=3, F=29,
2 encoder and 3 decoder layers, 8 buckets up to distance 12) and its weights are redrawn large
(std 0.3; the shared embedding std 1; each position-bias table std 1; RMS norm γ ≈ 1 ± 0.3), so
that every detail listed in the module docstring moves the logits far outside the tolerance
when it is wrong: each "mutation" test computes the wrong variant and asserts that it misses by
more than :data:`CLEAR_MARGIN` tolerances. Comparisons are float32 with ``atol`` = 10⁻⁵ × the
reference's largest entry. Both masks have padding (encoder rows of 15, 10 and 4 real tokens;
decoder rows of 14, 9 and 14).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
import transformers
from torch.testing import assert_close

from attnbook import t5 as t5_module
from attnbook.attention import MultiHeadAttention
from attnbook.encoder_decoder import greedy_generate
from attnbook.t5 import (
    IGNORE_INDEX,
    T5,
    RelativePositionBias,
    RMSNorm,
    T5Config,
    from_huggingface,
    huggingface_state_dict,
    relative_position_bucket,
    shift_right,
)

V, D, DKV, H, FF, N_ENC, N_DEC, BUCKETS, MAX_DISTANCE = 37, 20, 7, 3, 29, 2, 3, 8, 12
B, S, T = 3, 15, 14
TOLERANCE = 1e-5  # relative to the reference's largest entry
CLEAR_MARGIN = 1000  # a wrong detail must miss by more than this many tolerances (each misses by > 10⁴)
CONFIG = T5Config(vocab_size=V, d_model=D, d_kv=DKV, d_ff=FF, num_layers=N_ENC, num_heads=H,
                  num_decoder_layers=N_DEC, relative_attention_num_buckets=BUCKETS,
                  relative_attention_max_distance=MAX_DISTANCE)


def hf_config(**changes) -> transformers.T5Config:
    settings = dict(vocab_size=V, d_model=D, d_kv=DKV, d_ff=FF, num_layers=N_ENC, num_decoder_layers=N_DEC,
                    num_heads=H, relative_attention_num_buckets=BUCKETS, relative_attention_max_distance=MAX_DISTANCE,
                    dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                    attn_implementation="eager")
    return transformers.T5Config(**(settings | changes))


def redraw_large(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Weights std 0.3, the shared embedding and the bias tables std 1, the norms' γ = 1 ± 0.3."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "layer_norm" in name:
                parameter.copy_(1 + 0.3 * noise)
            elif name == "shared.weight" or "relative_attention_bias" in name:
                parameter.copy_(noise)
            else:
                parameter.copy_(0.3 * noise)
    return model.eval()


def hf_model(seed: int = 1, **changes) -> transformers.T5ForConditionalGeneration:
    return redraw_large(transformers.T5ForConditionalGeneration(hf_config(**changes)), seed)


def padded(lengths: list[int], length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids (B, L) in [2, V) with pad 0 after each row's length, and the 0/1 mask."""
    mask = (torch.arange(length) < torch.tensor(lengths)[:, None]).long()  # (B, L)
    ids = torch.randint(2, V, (len(lengths), length), generator=torch.Generator().manual_seed(seed))
    return ids * mask, mask


def batch() -> dict[str, torch.Tensor]:
    input_ids, attention_mask = padded([15, 10, 4], S, seed=2)
    decoder_input_ids, decoder_attention_mask = padded([14, 9, 14], T, seed=3)
    decoder_input_ids[:, 0] = 0  # T5's start token is pad, and it is a real token
    return dict(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                decoder_attention_mask=decoder_attention_mask)


def misses(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """How many tolerances apart the two are: max |ours − theirs| / (TOLERANCE · max |theirs|)."""
    return ((ours - theirs).abs().max() / (TOLERANCE * theirs.abs().max())).item()


def assert_matches(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert_close(ours, theirs, rtol=0, atol=TOLERANCE * theirs.abs().max().item())


@pytest.fixture(scope="module")
def pair() -> tuple[transformers.T5ForConditionalGeneration, T5]:
    hf = hf_model(1)
    return hf, from_huggingface(hf)


@pytest.fixture(scope="module")
def reference(pair):
    hf, _ = pair
    with torch.no_grad():
        return hf(**batch(), output_attentions=True)


def ours_logits(model: T5, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(**(batch() | kwargs)).logits


# --- equal to 🤗 ----------------------------------------------------------------------------------


def test_the_logits_equal_huggingfaces_with_padding_on_both_sides(pair, reference):
    _, ours = pair
    with torch.no_grad():
        out = ours(**batch())
    assert out.logits.shape == (B, T, V)
    assert_matches(out.logits, reference.logits)
    assert reference.logits.abs().max() > 2  # not all near zero: differences have room to show


def test_every_attention_weight_equals_huggingfaces(pair, reference):
    _, ours = pair
    with torch.no_grad():
        out = ours(**batch())
    for mine, theirs, count in ((out.encoder_attentions, reference.encoder_attentions, N_ENC),
                                (out.decoder_attentions, reference.decoder_attentions, N_DEC),
                                (out.cross_attentions, reference.cross_attentions, N_DEC)):
        assert len(mine) == len(theirs) == count
        for a, b in zip(mine, theirs, strict=True):
            assert_close(a, b, rtol=0, atol=1e-5)
    assert out.encoder_attentions[0].shape == (B, H, S, S)
    assert out.cross_attentions[0].shape == (B, H, T, S)
    assert out.cross_attentions[0][2, :, :, 4:].abs().max() == 0  # the source's padding gets no weight
    assert out.decoder_attentions[0][0].triu(1).abs().max() == 0  # nor does the future


def test_the_position_biases_returned_are_huggingfaces(pair):
    hf, ours = pair
    with torch.no_grad():
        out = ours(**batch())
        encoder_bias = hf.encoder.block[0].layer[0].SelfAttention.compute_bias(S, S)
        decoder_bias = hf.decoder.block[0].layer[0].SelfAttention.compute_bias(T, T)
    assert_close(out.encoder_position_bias, encoder_bias, rtol=0, atol=0)
    assert_close(out.decoder_position_bias, decoder_bias, rtol=0, atol=0)
    assert out.encoder_position_bias.std() > 0.5  # the bias table drawn with std ≈ 1


def test_the_fused_path_gives_the_same_logits_and_no_weights(pair, reference):
    _, ours = pair
    with torch.no_grad():
        out = ours(**batch(), need_weights=False)
    assert_matches(out.logits, reference.logits)
    assert out.encoder_attentions == out.decoder_attentions == out.cross_attentions == ()


def test_encode_then_decode_is_the_forward_pass(pair, reference):
    _, ours = pair
    inputs = batch()
    with torch.no_grad():
        memory = ours.encode(inputs["input_ids"], inputs["attention_mask"])
        out = ours.decode(inputs["decoder_input_ids"], memory, inputs["attention_mask"],
                          inputs["decoder_attention_mask"])
    assert memory.shape == (B, S, D)
    assert_matches(memory, reference.encoder_last_hidden_state)
    assert_matches(out.logits, reference.logits)


def test_labels_shifted_right_give_huggingfaces_training_logits(pair):
    hf, ours = pair
    labels, _ = padded([14, 9, 14], T, seed=5)
    labels[1, 9:] = IGNORE_INDEX
    inputs = batch()
    del inputs["decoder_input_ids"], inputs["decoder_attention_mask"]
    with torch.no_grad():
        theirs = hf(**inputs, labels=labels)
        mine = ours(**inputs, decoder_input_ids=shift_right(labels, CONFIG)).logits
    assert_matches(mine, theirs.logits)
    loss = F.cross_entropy(mine.transpose(1, 2), labels, ignore_index=IGNORE_INDEX)
    assert_close(loss, theirs.loss, rtol=1e-5, atol=0)


def test_shift_right_starts_from_pad_and_reads_ignored_labels_as_pad(pair):
    hf, _ = pair
    labels = torch.tensor([[5, 6, 7, 1], [8, 1, IGNORE_INDEX, IGNORE_INDEX]])
    assert shift_right(labels, CONFIG).tolist() == [[0, 5, 6, 7], [0, 8, 1, 0]]
    assert torch.equal(shift_right(labels, CONFIG), hf._shift_right(labels))
    with pytest.raises(ValueError, match="labels"):
        shift_right(labels[0], CONFIG)


def test_the_mapping_is_our_initialisation_when_huggingfaces_draws_it():
    torch.manual_seed(0)
    hf = transformers.T5ForConditionalGeneration(hf_config()).eval()
    ours = from_huggingface(hf)
    with torch.no_grad():
        assert_matches(ours_logits(ours), hf(**batch()).logits)


# --- each detail matters --------------------------------------------------------------------------


def test_a_wrong_bucket_direction_in_the_decoder_misses(pair, reference, monkeypatch):
    hf, _ = pair
    correct = relative_position_bucket

    def reversed_in_the_decoder(relative_position, *, bidirectional, **kwargs):
        return correct(relative_position if bidirectional else -relative_position, bidirectional=bidirectional,
                       **kwargs)

    monkeypatch.setattr(t5_module, "relative_position_bucket", reversed_in_the_decoder)
    assert misses(ours_logits(from_huggingface(hf)), reference.logits) > CLEAR_MARGIN


def test_a_bidirectional_decoder_misses(pair, reference):
    hf, _ = pair
    ours = from_huggingface(hf)
    ours.decoder.position_bias.bidirectional = True
    assert misses(ours_logits(ours), reference.logits) > CLEAR_MARGIN


def test_dividing_by_the_square_root_of_d_kv_misses(pair, reference):
    hf, _ = pair
    ours = from_huggingface(hf)
    for module in ours.modules():
        if isinstance(module, MultiHeadAttention):
            module.scale = None  # back to 1/√Dkv
    assert misses(ours_logits(ours), reference.logits) > CLEAR_MARGIN


def test_layer_norm_instead_of_rms_norm_misses(pair, reference, monkeypatch):
    _, ours = pair
    monkeypatch.setattr(RMSNorm, "forward",
                        lambda self, x: F.layer_norm(x, x.shape[-1:], self.weight, None, self.eps))
    assert misses(ours_logits(ours), reference.logits) > CLEAR_MARGIN


def test_leaving_out_the_output_rescaling_misses(pair, reference):
    _, ours = pair
    with torch.no_grad():
        hidden = ours(**batch()).decoder_hidden_states
    unscaled = hidden @ ours.shared.weight.T  # no D^-0.5
    assert misses(unscaled, reference.logits) > CLEAR_MARGIN


@pytest.mark.parametrize("variant", ["separate tables", "first layer only"])
def test_a_bias_not_shared_by_every_layer_misses(pair, reference, variant):
    """One bias per stack, added in every layer: a table per layer, or none after the first, misses."""
    hf, _ = pair
    ours = from_huggingface(hf)
    generator = torch.Generator().manual_seed(7)
    for stack, index in ((ours.encoder, 2), (ours.decoder, 4)):  # where each layer's call passes the bias
        for layer in list(stack.layers)[1:]:
            table = RelativePositionBias(CONFIG, bidirectional=stack.position_bias.bidirectional)
            with torch.no_grad():
                table.relative_attention_bias.weight.copy_(torch.randn(BUCKETS, H, generator=generator))

            def own_bias(module, args, kwargs, table=table, index=index):
                length = args[0].size(1)
                bias = table(length, length) if variant == "separate tables" else torch.zeros(1, H, length, length)
                return (*args[:index], bias, *args[index + 1:]), kwargs

            layer.register_forward_pre_hook(own_bias, with_kwargs=True)
    assert misses(ours_logits(ours), reference.logits) > CLEAR_MARGIN


def test_starting_from_another_token_than_pad_misses(pair):
    hf, ours = pair
    labels, _ = padded([14, 9, 14], T, seed=5)
    inputs = batch()
    del inputs["decoder_input_ids"], inputs["decoder_attention_mask"]
    wrong = dataclasses.replace(CONFIG, decoder_start_token_id=2)
    with torch.no_grad():
        theirs = hf(**inputs, labels=labels).logits
        mine = ours(**inputs, decoder_input_ids=shift_right(labels, wrong)).logits
    assert misses(mine, theirs) > CLEAR_MARGIN


def test_cross_attention_with_a_position_bias_misses(pair, reference):
    hf, _ = pair
    ours = from_huggingface(hf)
    for layer in ours.decoder.layers:
        original = layer.multihead_attn.forward

        def biased(query, key, value, mask=None, *, need_weights=True, position_bias=None, original=original):
            bias = RelativePositionBias(CONFIG, bidirectional=True).to(query.device)
            with torch.no_grad():
                bias.relative_attention_bias.weight.copy_(ours.encoder.position_bias.relative_attention_bias.weight)
            return original(query, key, value, mask, need_weights=need_weights,
                            position_bias=bias(query.size(1), key.size(1)))

        layer.multihead_attn.forward = biased
    assert misses(ours_logits(ours), reference.logits) > CLEAR_MARGIN


# --- the buckets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("num_buckets", "max_distance"), [(32, 128), (8, 12), (10, 20), (6, 7), (16, 30), (5, 9)])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_position_bucket_is_huggingfaces(num_buckets, max_distance, bidirectional):
    offsets = torch.arange(-300, 301)
    expected = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket(
        offsets, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance)
    ours = relative_position_bucket(offsets, bidirectional=bidirectional, num_buckets=num_buckets,
                                    max_distance=max_distance)
    assert torch.equal(ours, expected)
    assert int(ours.min()) >= 0 and int(ours.max()) < num_buckets


def test_the_buckets_exact_then_logarithmic_then_shared():
    offsets = torch.arange(-40, 41)
    causal = relative_position_bucket(offsets, bidirectional=False, num_buckets=8, max_distance=12)
    both = relative_position_bucket(offsets, bidirectional=True, num_buckets=8, max_distance=12)
    by_offset = dict(zip(offsets.tolist(), causal.tolist(), strict=True))
    assert [by_offset[-d] for d in range(4)] == [0, 1, 2, 3]  # exact: one bucket per distance
    assert by_offset[-12] == by_offset[-40] == 7  # from max_distance on: the last bucket
    assert {by_offset[d] for d in range(1, 41)} == {0}  # the future: bucket 0 (masked anyway)
    assert set(both[offsets > 0].tolist()) <= set(range(4, 8)) and set(both[offsets <= 0].tolist()) <= set(range(4))


def test_bucket_arguments_are_checked():
    with pytest.raises(TypeError, match="integer tensor"):
        relative_position_bucket(torch.zeros(3), bidirectional=True)
    with pytest.raises(TypeError, match="bidirectional"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), bidirectional=1)
    with pytest.raises(ValueError, match="max_distance"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), bidirectional=False, num_buckets=8, max_distance=4)


# --- generation -------------------------------------------------------------------------------------


def test_greedy_generation_equals_huggingfaces_generate():
    hf = hf_model(3)
    with torch.no_grad():
        hf.shared.weight[1] *= 2.5  # a louder EOS, so that some rows end before the limit
    ours = from_huggingface(hf).eval()
    input_ids, attention_mask = padded([15, 10, 4, 12, 7, 15], S, seed=11)
    theirs = hf.generate(input_ids=input_ids, attention_mask=attention_mask, do_sample=False, num_beams=1,
                         max_new_tokens=12, min_length=0, use_cache=False)
    mine = greedy_generate(ours, input_ids, attention_mask, max_new_tokens=12)
    assert torch.equal(mine, theirs)
    assert (mine[:, 0] == 0).all()
    ended = (mine == 1).any(dim=1)
    assert ended.any() and not ended.all()  # both a row that wrote EOS and one that ran to the limit


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"vocab_size": 0}, "vocab_size"), ({"d_kv": 0}, "d_kv"), ({"num_heads": 1.5}, "num_heads"),
     ({"num_decoder_layers": 0}, "num_decoder_layers"), ({"relative_attention_num_buckets": 3}, "at least 4"),
     ({"relative_attention_max_distance": 4}, "relative_attention_max_distance"), ({"dropout": 1.0}, "dropout"),
     ({"layer_norm_epsilon": 0.0}, "layer_norm_epsilon"), ({"pad_token_id": V}, "pad_token_id"),
     ({"eos_token_id": -1}, "eos_token_id"), ({"decoder_start_token_id": 2.0}, "decoder_start_token_id"),
     ({"d_model": True}, "d_model")],
)
def test_a_bad_config_is_refused_in_both_languages(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        dataclasses.replace(CONFIG, **changes)
    assert " / " in str(error.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"feed_forward_proj": "gated-gelu"}, "feed_forward_proj"), ({"feed_forward_proj": "gelu"}, "feed_forward_proj"),
     ({"tie_word_embeddings": False}, "tie_word_embeddings"), ({"decoder_start_token_id": None}, "decoder_start")],
)
def test_unsupported_huggingface_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        from_huggingface(transformers.T5ForConditionalGeneration(hf_config(**changes)))
    assert " / " in str(error.value)


def test_other_models_and_untied_or_unknown_weights_are_refused(pair):
    hf, _ = pair
    with pytest.raises(TypeError, match="T5ForConditionalGeneration"):
        from_huggingface(transformers.T5Model(hf_config()))
    state = dict(hf.state_dict())
    with pytest.raises(ValueError, match=r"lm_head\.weight"):
        huggingface_state_dict(state | {"lm_head.weight": state["lm_head.weight"] + 1})
    with pytest.raises(ValueError, match="does not have"):
        huggingface_state_dict(state | {"decoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight":
                                        torch.zeros(BUCKETS, H)})
    missing = {k: v for k, v in huggingface_state_dict(state).items() if "norm3" not in k}
    with pytest.raises(RuntimeError, match="norm3"):
        T5(CONFIG).load_state_dict(missing, strict=True)


def test_bad_inputs_get_clear_errors(pair):
    _, ours = pair
    inputs = batch()
    with pytest.raises(ValueError, match="decoder_input_ids is required"):
        ours(inputs["input_ids"], inputs["attention_mask"])
    with pytest.raises(ValueError, match="outside"):
        ours(**(inputs | {"input_ids": inputs["input_ids"] + V}))
    with pytest.raises(ValueError, match="shape"):
        ours(**(inputs | {"attention_mask": inputs["attention_mask"][:, 1:]}))
    with pytest.raises(ValueError, match="0 and 1"):
        ours(**(inputs | {"decoder_attention_mask": inputs["decoder_attention_mask"] * 2}))
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        ours.decode(inputs["decoder_input_ids"], torch.zeros(B, S, D + 1))
    with pytest.raises(TypeError, match="T5Config"):
        T5({"vocab_size": V})


def test_our_initialisation_follows_huggingfaces_standard_deviations():
    torch.manual_seed(0)
    big = T5Config(vocab_size=300, d_model=64, d_kv=16, d_ff=256, num_layers=1, num_heads=4)
    model = T5(big)
    attention = model.encoder.layers[0].self_attn
    W_Q, W_K, _ = attention.in_proj_weight.chunk(3)
    for tensor, std in ((model.shared.weight, 1.0), (W_Q, (64 * 16) ** -0.5), (W_K, 64 ** -0.5),
                        (attention.out_proj.weight, 64 ** -0.5), (model.encoder.layers[0].linear2.weight, 256 ** -0.5),
                        (model.decoder.position_bias.relative_attention_bias.weight, 64 ** -0.5)):
        assert abs(tensor.std().item() / std - 1) < 0.25
    assert torch.equal(model.decoder.layers[0].norm3.weight, torch.ones(64))

"""attnbook.transformer and attnbook.schedules: equality with PyTorch's Transformer, invariances, decoding, training.

Sizes are small and odd (B=3, S=7, T=5, D=12, H=3, F=20, vocabularies 13 and 11) so that a
transposed axis cannot go unnoticed; equality with PyTorch runs in float64, in eval mode.
PyTorch's masks say True = may NOT attend; ours say True = may attend, hence the ``~``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from attnbook import checkpoints
from attnbook.attention import causal_mask
from attnbook.data import Batch
from attnbook.decoding import beam_search, greedy_decode
from attnbook.positional import sinusoidal_encoding
from attnbook.schedules import WarmupSchedule
from attnbook.training import sequence_loss, train
from attnbook.transformer import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    Transformer,
    TransformerAttention,
    TransformerConfig,
)
from tests.conftest import padded_batch

B, S, T, D, H, FF = 3, 7, 5, 12, 3, 20
F64 = torch.float64
PAD, BOS, EOS = 0, 1, 2
CONFIG = TransformerConfig(src_vocab_size=13, tgt_vocab_size=11, d_model=D, num_heads=H, d_ff=FF,
                           num_encoder_layers=2, num_decoder_layers=3, dropout=0.1, max_len=16)
NORMS = pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])


def lengths_to_mask(lengths: list[int], size: int) -> torch.Tensor:
    """(B, size) bool, True at the first ``lengths[b]`` positions (real tokens)."""
    return torch.arange(size) < torch.tensor(lengths)[:, None]


SOURCE_VALID = lengths_to_mask([7, 4, 1], S)  # (B, S)
TARGET_VALID = lengths_to_mask([5, 3, 2], T)  # (B, T)


@pytest.fixture
def batch() -> Batch:
    return padded_batch([[5, 6, 7, 8, 9, 10, 11], [3, 4, 12], [10]], [[3, 4, 5, 6], [6, 7, 8, 9, 10], [4]])


def model_of(config: TransformerConfig = CONFIG, seed: int = 0, **changes) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(dataclasses.replace(config, **changes)).eval()


# --- the config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"d_model": 10}, "divisible"), ({"num_heads": 0}, "num_heads"), ({"d_ff": -1}, "d_ff"),
     ({"num_encoder_layers": 0}, "num_encoder_layers"), ({"num_decoder_layers": 1.5}, "num_decoder_layers"),
     ({"dropout": 1.0}, "dropout"), ({"dropout": -0.1}, "dropout"), ({"norm_first": "yes"}, "norm_first"),
     ({"max_len": 0}, "max_len"), ({"bos_id": 0}, "special ids"), ({"eos_id": 11}, "special ids"),
     ({"pad_id": -1}, "special ids"), ({"src_vocab_size": 2}, "special ids"), ({"d_model": True}, "d_model")],
)
def test_a_bad_config_is_refused_in_both_languages(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        dataclasses.replace(CONFIG, **changes)
    assert " / " in str(error.value), "no language chosen: the message is given in Korean and English"


def test_a_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.d_model = 16  # type: ignore[misc]


@pytest.mark.parametrize(("changes", "message"), [({"d_ff": 0}, "d_ff"), ({"activation": "tanh"}, "activation"),
                                                  ({"num_heads": 5}, "divisible")])
def test_bad_layer_arguments_are_refused(changes, message):
    arguments = {"d_model": D, "num_heads": H, "d_ff": FF} | changes
    for layer in (EncoderLayer, DecoderLayer):
        with pytest.raises(ValueError, match=message):
            layer(**arguments)


# --- layers equal PyTorch's -----------------------------------------------------------------------

ENCODER_MASKS = {  # name: (ours, torch's keyword arguments)
    "none": (None, {}),
    "padding": (SOURCE_VALID[:, None, None, :], {"src_key_padding_mask": ~SOURCE_VALID}),
    "causal": (causal_mask(S), {"src_mask": ~causal_mask(S)}),
    "causal and padding": (causal_mask(S) & SOURCE_VALID[:, None, None, :],
                           {"src_mask": ~causal_mask(S), "src_key_padding_mask": ~SOURCE_VALID}),
}
DECODER_MASKS = {
    "none": (None, None, {}),
    "causal": (causal_mask(T), None, {"tgt_mask": ~causal_mask(T)}),
    "causal, padding": (causal_mask(T) & TARGET_VALID[:, None, None, :], SOURCE_VALID[:, None, None, :],
                        {"tgt_mask": ~causal_mask(T), "tgt_key_padding_mask": ~TARGET_VALID,
                         "memory_key_padding_mask": ~SOURCE_VALID}),
}


def layer_pair(ours_class, theirs_class, norm_first, activation="relu"):
    torch.manual_seed(0)
    ours = ours_class(D, H, FF, 0.1, norm_first=norm_first, activation=activation).double().eval()
    theirs = theirs_class(D, H, FF, 0.1, activation=activation, batch_first=True, norm_first=norm_first,
                          dtype=F64).eval()
    randomise(ours)  # non-trivial LayerNorm and bias values, so that a swapped one cannot pass
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs


def randomise(module: nn.Module) -> None:
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3 + (1.0 if parameter.dim() == 1 else 0.0))


@NORMS
@pytest.mark.parametrize("masks", ENCODER_MASKS)
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_equals_torch(norm_first, masks, activation):
    ours, theirs = layer_pair(EncoderLayer, nn.TransformerEncoderLayer, norm_first, activation)
    mask, torch_masks = ENCODER_MASKS[masks]
    x = torch.randn(B, S, D, dtype=F64)
    out, weights = ours(x, mask)
    assert out.shape == (B, S, D) and weights.shape == (B, H, S, S)
    assert_close(out, theirs(x, **torch_masks))
    # The weights are those of torch's own attention module on the first sub-layer's input.
    attn_input = theirs.norm1(x) if norm_first else x
    _, expected = theirs.self_attn(attn_input, attn_input, attn_input, attn_mask=torch_masks.get("src_mask"),
                                   key_padding_mask=torch_masks.get("src_key_padding_mask"),
                                   average_attn_weights=False)
    assert_close(weights, expected)


@NORMS
@pytest.mark.parametrize("masks", DECODER_MASKS)
def test_decoder_layer_equals_torch(norm_first, masks):
    ours, theirs = layer_pair(DecoderLayer, nn.TransformerDecoderLayer, norm_first)
    self_mask, memory_mask, torch_masks = DECODER_MASKS[masks]
    y, memory = torch.randn(B, T, D, dtype=F64), torch.randn(B, S, D, dtype=F64)
    out, self_weights, cross_weights = ours(y, memory, self_mask, memory_mask)
    assert out.shape == (B, T, D) and self_weights.shape == (B, H, T, T) and cross_weights.shape == (B, H, T, S)
    assert_close(out, theirs(y, memory, **torch_masks))
    if memory_mask is not None:
        assert (cross_weights.masked_select(~memory_mask) == 0).all(), "source padding gets no weight"
    if self_mask is not None:
        assert (self_weights.triu(diagonal=1) == 0).all(), "no weight on the future"


@NORMS
def test_layer_state_dicts_load_both_ways_strictly(norm_first):
    for ours_class, theirs_class in ((EncoderLayer, nn.TransformerEncoderLayer),
                                     (DecoderLayer, nn.TransformerDecoderLayer)):
        ours, theirs = layer_pair(ours_class, theirs_class, norm_first)
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        fresh = ours_class(D, H, FF, norm_first=norm_first).double()
        fresh.load_state_dict(theirs.state_dict(), strict=True)  # and back
        for name, tensor in ours.state_dict().items():
            assert torch.equal(fresh.state_dict()[name], tensor), name


@NORMS
def test_layers_in_training_mode_apply_dropout(norm_first):
    layer = EncoderLayer(D, H, FF, 0.5, norm_first=norm_first).train()
    x = torch.randn(B, S, D)
    assert not torch.equal(layer(x)[0], layer(x)[0])
    layer.eval()
    assert torch.equal(layer(x)[0], layer(x)[0])


# --- the whole stack equals torch.nn.Transformer --------------------------------------------------


def torch_transformer(model: Transformer) -> nn.Transformer:
    """torch.nn.Transformer with our encoder and decoder weights.

    With pre-norm, PyTorch's default final LayerNorms are our ``encoder.norm`` and
    ``decoder.norm``. With post-norm our stacks end with the last layer's norm, as in the
    paper, while nn.Transformer would add one more LayerNorm: we pass it stacks without one.
    """
    config = model.config
    arguments = {"d_model": config.d_model, "nhead": config.num_heads, "dim_feedforward": config.d_ff,
                 "dropout": config.dropout, "batch_first": True, "norm_first": config.norm_first, "dtype": F64}
    custom = {}
    if not config.norm_first:
        encoder_layer = nn.TransformerEncoderLayer(**arguments)
        decoder_layer = nn.TransformerDecoderLayer(**arguments)
        custom = {"custom_encoder": nn.TransformerEncoder(encoder_layer, config.num_encoder_layers, norm=None,
                                                          enable_nested_tensor=False),
                  "custom_decoder": nn.TransformerDecoder(decoder_layer, config.num_decoder_layers, norm=None)}
    theirs = nn.Transformer(num_encoder_layers=config.num_encoder_layers,
                            num_decoder_layers=config.num_decoder_layers, **arguments, **custom).eval()
    core = {name: tensor for name, tensor in model.state_dict().items() if name.startswith(("encoder.", "decoder."))}
    theirs.load_state_dict(core, strict=True)
    return theirs


@NORMS
@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # nn.Transformer's own pre-norm notice
def test_the_model_equals_torch_transformer_with_the_same_weights(batch, norm_first):
    model = model_of(norm_first=norm_first).double()
    randomise(model.encoder)
    randomise(model.decoder)
    theirs = torch_transformer(model)
    assert sorted(theirs.state_dict()) == sorted(k for k in model.state_dict() if k.startswith(("enc", "dec")))

    def embed(ids, embedding):  # §3.4–3.5 written out
        return embedding.weight[ids] * math.sqrt(D) + sinusoidal_encoding(ids.shape[1], D, dtype=F64)

    hidden = theirs(embed(batch.src, model.src_embedding), embed(batch.tgt_in, model.tgt_embedding),
                    tgt_mask=~causal_mask(batch.tgt_in.shape[1]), src_key_padding_mask=~batch.src_mask,
                    memory_key_padding_mask=~batch.src_mask)
    logits, attention = model(batch.src, batch.src_mask, batch.tgt_in)
    assert_close(logits, model.output(hidden))
    assert len(attention.encoder_self) == 2 and len(attention.decoder_self) == len(attention.cross) == 3


@NORMS
def test_encoder_and_decoder_state_dicts_load_into_torch_stacks(norm_first):
    config = dataclasses.replace(CONFIG, norm_first=norm_first)
    arguments = {"d_model": D, "nhead": H, "dim_feedforward": FF, "batch_first": True, "norm_first": norm_first}
    norm = nn.LayerNorm(D) if norm_first else None
    for ours, theirs in ((Encoder(config), nn.TransformerEncoder(nn.TransformerEncoderLayer(**arguments), 2, norm,
                                                                 enable_nested_tensor=False)),
                         (Decoder(config), nn.TransformerDecoder(nn.TransformerDecoderLayer(**arguments), 3, norm))):
        theirs.load_state_dict(ours.state_dict(), strict=True)
        ours.load_state_dict(theirs.state_dict(), strict=True)


# --- invariances ----------------------------------------------------------------------------------


@NORMS
def test_no_information_from_the_future(batch, norm_first):
    model = model_of(norm_first=norm_first)
    logits, attention = model(batch.src, batch.src_mask, batch.tgt_in)
    for t in range(1, batch.tgt_in.shape[1]):
        changed = batch.tgt_in.clone()
        changed[:, t] = (changed[:, t] + 4) % 11  # another token at position t
        new_logits, new_attention = model(batch.src, batch.src_mask, changed)
        assert_close(new_logits[:, :t], logits[:, :t], rtol=0, atol=1e-6)
        for before, after in zip(attention.decoder_self + attention.cross,
                                 new_attention.decoder_self + new_attention.cross, strict=True):
            assert_close(after[:, :, :t], before[:, :, :t], rtol=0, atol=1e-6)
        assert (new_logits[:, t] - logits[:, t]).abs().max() > 1e-3, "position t does read its own token"
    for weights in attention.decoder_self:
        assert (weights.triu(diagonal=1) == 0).all()


@NORMS
def test_source_padding_never_changes_real_positions(batch, norm_first):
    model = model_of(norm_first=norm_first)
    logits, attention = model(batch.src, batch.src_mask, batch.tgt_in)
    extra = 4  # more padding columns, holding arbitrary ids that the mask hides
    src = torch.cat([batch.src, torch.randint(3, 13, (B, extra))], dim=1)
    src[:, :S][~batch.src_mask] = torch.randint(3, 13, (int((~batch.src_mask).sum()),))
    src_mask = torch.cat([batch.src_mask, torch.zeros(B, extra, dtype=torch.bool)], dim=1)
    new_logits, new_attention = model(src, src_mask, batch.tgt_in)
    assert_close(new_logits, logits)
    for before, after in zip(attention.cross, new_attention.cross, strict=True):
        assert_close(after[..., :S], before)
        assert (after.masked_select(~src_mask[:, None, None, :]) == 0).all()
    for before, after in zip(attention.encoder_self, new_attention.encoder_self, strict=True):
        real = batch.src_mask[:, None, :, None] & batch.src_mask[:, None, None, :]  # real query, real key
        assert_close(after[..., :S, :S].masked_select(real), before.masked_select(real))


def test_attention_weights_are_distributions(batch):
    _, attention = model_of()(batch.src, batch.src_mask, batch.tgt_in)
    assert isinstance(attention, TransformerAttention)
    T_in = batch.tgt_in.shape[1]
    shapes = {"encoder_self": (B, H, S, S), "decoder_self": (B, H, T_in, T_in), "cross": (B, H, T_in, S)}
    for name, shape in shapes.items():
        for weights in getattr(attention, name):
            assert weights.shape == shape, name
            assert_close(weights.sum(-1), torch.ones(shape[:-1]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        attention.cross = ()  # type: ignore[misc]


@NORMS
def test_the_fused_path_gives_the_same_logits(batch, norm_first):
    model = model_of(norm_first=norm_first)
    logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
    fused, attention = model(batch.src, batch.src_mask, batch.tgt_in, need_weights=False)
    assert attention is None
    assert_close(fused, logits)


# --- training sanity ------------------------------------------------------------------------------


@NORMS
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_at_initialisation_is_about_log_v(batch, norm_first, seed):
    logits, _ = model_of(norm_first=norm_first, seed=seed)(batch.src, batch.src_mask, batch.tgt_in)
    loss = sequence_loss(logits, batch.tgt_out, PAD).item()
    # Default nn.Linear init gives logits of variance ≈ 1/3, which adds ≈ 1/6 to ln V on average.
    assert abs(loss - math.log(11)) < 0.35, loss


def test_every_parameter_gets_a_gradient(batch):
    model = model_of().train()
    logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
    sequence_loss(logits, batch.tgt_out, PAD).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    for embedding in (model.src_embedding, model.tgt_embedding):
        assert (embedding.weight.grad[PAD] == 0).all() and (embedding.weight[PAD] == 0).all()


@NORMS
def test_the_model_overfits_one_batch(batch, norm_first):
    model = model_of(norm_first=norm_first, dropout=0.0)
    losses = train(model, [batch], epochs=120, lr=3e-3, desc=None)
    assert losses[-1] < 0.05 < losses[0], (losses[0], losses[-1])
    hypotheses = greedy_decode(model, batch.src, batch.src_mask, max_len=8)
    assert [h.tokens for h in hypotheses] == [[3, 4, 5, 6], [6, 7, 8, 9, 10], [4]]


def test_training_with_the_warmup_schedule_lowers_the_loss(batch):
    model = model_of(dropout=0.0)
    losses = train(model, [batch], epochs=60, lr=1.0, schedule=WarmupSchedule(D, warmup=20), desc=None)
    assert losses[-1] < losses[0] / 3, (losses[0], losses[-1])


# --- decoding -------------------------------------------------------------------------------------


@NORMS
def test_teacher_forcing_equals_step_by_step_decoding(batch, norm_first):
    model = model_of(norm_first=norm_first)
    logits, attention = model(batch.src, batch.src_mask, batch.tgt_in)
    state = model.start(batch.src, batch.src_mask)
    for t in range(batch.tgt_in.shape[1]):
        log_probs, state, weights = model.step(state, batch.tgt_in[:, t])
        assert state.tokens.shape == (B, t + 1)
        assert_close(log_probs, torch.log_softmax(logits[:, t], dim=-1))
        assert_close(weights, attention.cross[-1][:, :, t].mean(dim=1))  # last layer, mean over heads: (B, S)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_of_width_one_is_greedy_decoding(batch, seed):
    model = model_of(seed=seed)
    greedy = greedy_decode(model, batch.src, batch.src_mask, max_len=7)
    beam = beam_search(model, batch.src, batch.src_mask, beam_size=1, max_len=7)
    for g, b in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens and g.finished == b.finished
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-5)
        torch.testing.assert_close(g.attention, b.attention)


def test_decoders_report_the_true_log_probability(batch):
    model = model_of(seed=1)
    src, mask = batch.src[:1], batch.src_mask[:1]
    for h in greedy_decode(model, src, mask, max_len=6) + beam_search(model, src, mask, beam_size=3, max_len=6):
        target = [*h.tokens, EOS] if h.finished else h.tokens
        logits, _ = model(src, mask, torch.tensor([[BOS, *target[:-1]]]))
        log_probs = torch.log_softmax(logits[0].double(), dim=-1)
        assert h.log_prob == pytest.approx(sum(log_probs[t, token].item() for t, token in enumerate(target)),
                                           abs=1e-5)


def test_state_select_keeps_and_repeats_sentences(batch):
    model = model_of()
    state = model.start(batch.src, batch.src_mask)
    _, state, _ = model.step(state, torch.full((B,), BOS))
    index = torch.tensor([2, 0, 0])
    chosen = state.select(index)
    assert torch.equal(chosen.memory, state.memory[index]) and torch.equal(chosen.tokens, state.tokens[index])
    assert torch.equal(chosen.src_mask, batch.src_mask[index])


@NORMS
def test_a_saved_and_reloaded_model_gives_identical_outputs(batch, norm_first, tmp_path):
    model = model_of(norm_first=norm_first)
    path = tmp_path / "transformer.safetensors"
    checkpoints.save(model, path)
    reloaded = checkpoints.load(path, Transformer, TransformerConfig)
    assert reloaded.config == model.config and not reloaded.training
    (logits, attention), (new_logits, new_attention) = (m(batch.src, batch.src_mask, batch.tgt_in)
                                                        for m in (model, reloaded))
    assert torch.equal(new_logits, logits)
    for before, after in zip(attention.cross, new_attention.cross, strict=True):
        assert torch.equal(after, before)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [({"src": torch.full((B, S), 13)}, "outside the vocabulary"),
     ({"tgt_in": torch.full((B, T), 11)}, "outside the vocabulary"),
     ({"src": torch.ones(B, 17, dtype=torch.long), "src_mask": torch.ones(B, 17, dtype=torch.bool)}, "max_len"),
     ({"tgt_in": torch.ones(B, 17, dtype=torch.long)}, "max_len"),
     ({"src": torch.ones(B, S)}, "token ids"),
     ({"tgt_in": torch.ones(B, T, 2, dtype=torch.long)}, "token ids"),
     ({"tgt_in": torch.ones(B + 1, T, dtype=torch.long)}, "batch size"),
     ({"src_mask": torch.ones(B, S)}, "bool"),
     ({"src_mask": torch.zeros(B, S, dtype=torch.bool)}, "empty")],
)
def test_bad_inputs_get_a_clear_bilingual_error(batch, change, message):
    inputs = {"src": batch.src, "src_mask": batch.src_mask, "tgt_in": batch.tgt_in} | change
    with pytest.raises(ValueError, match=message) as error:
        model_of()(**inputs)
    assert " / " in str(error.value)


def test_step_refuses_a_wrong_previous(batch):
    model = model_of()
    state = model.start(batch.src, batch.src_mask)
    with pytest.raises(ValueError, match="previous"):
        model.step(state, torch.full((B, 1), BOS))


# --- the learning-rate schedule, eq. (3) ------------------------------------------------------------


def paper_rate(step_num: int, d_model: int, warmup: int) -> float:
    return d_model**-0.5 * min(step_num**-0.5, step_num * warmup**-1.5)


def test_the_schedule_rises_linearly_peaks_at_warmup_then_decays_as_inverse_square_root():
    schedule = WarmupSchedule(d_model=64, warmup=100)
    rates = [schedule(step) for step in range(1000)]  # rates[s] is for the paper's step_num = s + 1
    assert rates[0] == pytest.approx(64**-0.5 * 100**-1.5)  # step_num 1
    for step_num in (1, 2, 50, 99, 100):
        assert rates[step_num - 1] == pytest.approx(step_num * rates[0])  # linear warm-up
    assert max(rates) == rates[99] == pytest.approx(schedule.peak) == pytest.approx((64 * 100) ** -0.5)
    assert rates[399] == pytest.approx(rates[99] / 2)  # 4× the steps, half the rate
    assert rates[899] == pytest.approx(rates[99] / 3)
    assert all(a < b for a, b in itertools.pairwise(rates[:100]))
    assert all(a > b for a, b in itertools.pairwise(rates[99:]))
    assert schedule(3999) == pytest.approx(paper_rate(4000, 64, 100))


def test_the_paper_base_model_peaks_near_7e_4():
    assert WarmupSchedule(512)(3999) == pytest.approx(512**-0.5 * 4000**-0.5) == pytest.approx(6.99e-4, rel=1e-3)


def test_the_schedule_drives_torch_lambda_lr_as_the_paper_says():
    schedule = WarmupSchedule(d_model=16, warmup=5)
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=2.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    used = []
    for _ in range(12):  # the rate of each update, as attnbook.training.train steps them
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert used == pytest.approx([2.0 * paper_rate(n, 16, 5) for n in range(1, 13)])


@pytest.mark.parametrize("changes", [{"d_model": 0}, {"warmup": 0}, {"warmup": 2.5}])
def test_a_bad_schedule_is_refused(changes):
    with pytest.raises(ValueError, match="positive integer"):
        WarmupSchedule(**({"d_model": 64} | changes))

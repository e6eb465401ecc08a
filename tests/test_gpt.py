"""attnbook.gpt: equality with 🤗 GPT2LMHeadModel, the causal guarantee, the KV cache, generation.

The equality tests use a tiny odd-sized config (V=53, D=30, H=3, N=2, F=37, 41 positions)
whose weights are redrawn large (std 0.3, LayerNorm γ ≈ 1 ± 0.3), except the token and
position embeddings (std 0.003): the first LayerNorm then sees inputs of variance ≈ 2·10⁻⁵,
where ε = 10⁻⁵ and 10⁻⁶ give different answers. Tests show that 🤗 models with the exact
(erf) GELU or another ε fail the same comparison. Comparisons are float32, with
``atol`` = 10⁻⁵ × the reference's largest entry.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
import transformers
from torch.testing import assert_close

from attnbook import checkpoints
from attnbook.attention import MultiHeadAttention, causal_mask
from attnbook.gpt import (
    GPT,
    INIT_STD,
    CausalSelfAttention,
    GPTBlock,
    GPTConfig,
    GPTOutput,
    KVCache,
    count_positions,
    from_huggingface,
    generate,
    huggingface_state_dict,
    next_token_loss,
)
from attnbook.transformer import EncoderLayer

V, D, H, N, FF, MAX_POSITION = 53, 30, 3, 2, 37, 41
B, T = 4, 11
LENGTHS = [11, 8, 5, 1]
CONFIG = GPTConfig(vocab_size=V, max_position=MAX_POSITION, hidden_size=D, num_layers=N, num_heads=H,
                   intermediate_size=FF)
TOLERANCE = 1e-5  # relative to the reference's largest entry


def hf_config(**changes) -> transformers.GPT2Config:
    settings = dict(vocab_size=V, n_positions=MAX_POSITION, n_embd=D, n_layer=N, n_head=H, n_inner=FF,
                    bos_token_id=None, eos_token_id=None, attn_implementation="eager")
    return transformers.GPT2Config(**(settings | changes))


def redraw_large(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Weights large enough that a wrong GELU shows; embeddings small enough that the first LayerNorm's ε shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if ".ln_" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.3 * noise)
            elif name.endswith(("wte.weight", "wpe.weight")):
                parameter.copy_(0.003 * noise)  # the first LayerNorm's input: variance ≈ 2e-5
            else:
                parameter.copy_(0.3 * noise)
    return model.eval()


def hf_model(seed: int = 1, **changes) -> transformers.GPT2LMHeadModel:
    return redraw_large(transformers.GPT2LMHeadModel(hf_config(**changes)), seed)


def token_ids(seed: int, batch: int = B, length: int = T) -> torch.Tensor:
    return torch.randint(0, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def right_padding() -> torch.Tensor:
    return (torch.arange(T) < torch.tensor(LENGTHS)[:, None]).long()  # (B, T): 1 then 0


def left_padding() -> torch.Tensor:
    return right_padding().flip(1)  # (B, T): 0 then 1


def positions_of(attention_mask: torch.Tensor) -> torch.Tensor:
    """🤗 generate's position_ids: real tokens counted from 0, padding at 0."""
    return (attention_mask.long().cumsum(1) - 1).masked_fill(attention_mask == 0, 0)


def assert_matches(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert_close(ours, theirs, rtol=0, atol=TOLERANCE * theirs.abs().max().item())


def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


@pytest.fixture(scope="module")
def pair() -> tuple[transformers.GPT2LMHeadModel, GPT]:
    hf = hf_model(1)
    return hf, from_huggingface(hf)


# --- the config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"vocab_size": 0}, "vocab_size"), ({"hidden_size": 31}, "divisible"), ({"num_heads": 0}, "num_heads"),
     ({"num_layers": 1.5}, "num_layers"), ({"intermediate_size": -1}, "intermediate_size"),
     ({"max_position": 0}, "max_position"), ({"hidden_size": True}, "hidden_size"), ({"dropout": 1.0}, "dropout"),
     ({"layer_norm_eps": 0.0}, "layer_norm_eps"), ({"layer_norm_eps": "1e-5"}, "layer_norm_eps"),
     ({"pad_id": V}, "pad_id"), ({"eos_id": -1}, "eos_id"), ({"eos_id": 2.0}, "eos_id")],
)
def test_a_bad_config_is_refused_in_both_languages(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        dataclasses.replace(CONFIG, **changes)
    assert " / " in str(error.value)


def test_a_config_is_frozen_and_reads_a_huggingface_config():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.hidden_size = 32  # type: ignore[misc]
    assert CONFIG.head_dim == D // H
    ours = GPTConfig.from_huggingface_config(hf_config(resid_pdrop=0.2, embd_pdrop=0.2, attn_pdrop=0.2,
                                                       layer_norm_epsilon=1e-6, eos_token_id=7, pad_token_id=0))
    assert ours == dataclasses.replace(CONFIG, dropout=0.2, layer_norm_eps=1e-6, eos_id=7, pad_id=0)
    assert GPTConfig.from_huggingface_config(hf_config(n_inner=None)).intermediate_size == 4 * D  # GPT-2's 4 × D
    as_dict = hf_config().to_dict()  # a config.json
    assert GPTConfig.from_huggingface_config(as_dict) == CONFIG
    gpt2_small = GPTConfig.from_huggingface_config(transformers.GPT2Config())
    assert (gpt2_small.vocab_size, gpt2_small.max_position, gpt2_small.hidden_size, gpt2_small.num_layers,
            gpt2_small.num_heads, gpt2_small.intermediate_size, gpt2_small.eos_id) == \
        (50257, 1024, 768, 12, 12, 3072, 50256)


# --- equal to 🤗 transformers -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_logits_and_attention_equal_transformers(seed):
    hf = hf_model(seed)
    ours = from_huggingface(hf)
    assert isinstance(ours, GPT) and not ours.training
    input_ids = token_ids(seed)
    out = ours(input_ids, need_weights=True)
    with torch.no_grad():
        theirs = hf(input_ids, output_attentions=True)
    assert isinstance(out, GPTOutput) and out.past is None
    assert out.logits.shape == (B, T, V)
    assert_matches(out.logits, theirs.logits)
    assert len(out.attentions) == len(theirs.attentions) == N
    for mine, hf_weights in zip(out.attentions, theirs.attentions, strict=True):
        assert mine.shape == (B, H, T, T)
        assert_matches(mine, hf_weights)
    assert_matches(ours(input_ids).logits, theirs.logits)  # the fused path (need_weights=False) too


def test_right_padding_equals_transformers_at_the_real_tokens(pair):
    hf, ours = pair
    input_ids, attention_mask = token_ids(3) * right_padding(), right_padding()
    out = ours(input_ids, attention_mask, need_weights=True)
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, output_attentions=True)
    real = attention_mask.bool()
    assert_matches(out.logits[real], theirs.logits[real])
    for mine, hf_weights in zip(out.attentions, theirs.attentions, strict=True):
        rows = real[:, None, :, None].expand_as(mine)  # the real queries
        assert_matches(mine[rows], hf_weights[rows])


def test_left_padding_equals_transformers_given_the_positions_of_real_tokens(pair):
    hf, ours = pair
    attention_mask = left_padding()
    input_ids = token_ids(4) * attention_mask
    out = ours(input_ids, attention_mask)
    real = attention_mask.bool()
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, position_ids=positions_of(attention_mask)).logits
        numbered = hf(input_ids, attention_mask=attention_mask).logits  # 🤗's forward numbers 0..T-1 by default
    assert_matches(out.logits[real], theirs[real])
    assert relative_difference(out.logits[real], numbered[real]) > 1e-2, "positions counted from the first column"


def test_padding_on_either_side_leaves_each_sentence_as_it_is_alone(pair):
    _, ours = pair
    input_ids = token_ids(5)
    for attention_mask in (right_padding(), left_padding()):
        out = ours(input_ids * attention_mask, attention_mask)
        for b in range(B):
            real = attention_mask[b].bool()
            alone = ours(input_ids[b][real][None]).logits[0]  # (length, V)
            assert_matches(out.logits[b][real], alone)
            assert torch.isfinite(out.logits[b]).all()  # the padding's logits mean nothing, but are numbers


@pytest.mark.parametrize("padded", [False, True], ids=["no padding", "left-padded prompts"])
def test_the_cache_path_equals_transformers_past_key_values(pair, padded):
    hf, ours = pair
    input_ids, prompt = token_ids(6), 5
    prompt_mask = (torch.arange(prompt) >= torch.tensor([0, 2, 4, 1])[:, None]).long() if padded \
        else torch.ones(B, prompt, dtype=torch.long)  # (B, 5): 0 at the left padding
    real = prompt_mask.bool()
    with torch.no_grad():
        theirs = hf(input_ids[:, :prompt], attention_mask=prompt_mask, position_ids=positions_of(prompt_mask),
                    use_cache=True)
    out = ours(input_ids[:, :prompt], prompt_mask, use_cache=True)
    assert_matches(out.logits[real], theirs.logits[real])
    past, cache, hf_mask = out.past, theirs.cache, prompt_mask
    for t in range(prompt, T):
        hf_mask = torch.cat([hf_mask, torch.ones(B, 1, dtype=torch.long)], dim=1)  # 🤗 takes the whole mask
        with torch.no_grad():
            theirs = hf(input_ids[:, t:t + 1], attention_mask=hf_mask, position_ids=past.next_positions[:, None],
                        cache=cache, use_cache=True)
        out = ours(input_ids[:, t:t + 1], past=past, use_cache=True)  # ours, the new token's only (None: real)
        past, cache = out.past, theirs.cache
        assert out.logits.shape == (B, 1, V)
        assert_matches(out.logits, theirs.logits)
    assert isinstance(past, KVCache) and past.length == T
    assert torch.equal(past.next_positions, hf_mask.sum(1)) and torch.equal(past.mask, hf_mask.bool())
    for layer in range(N):  # the same keys and values, in the same (B, H, S, Dh) layout
        assert past.keys[layer].shape == (B, H, T, D // H)
        keep = past.mask[:, None, :, None].expand_as(past.keys[layer])  # the padding's keys mean nothing
        assert_matches(past.keys[layer][keep], cache.layers[layer].keys[keep])
        assert_matches(past.values[layer][keep], cache.layers[layer].values[keep])


def test_greedy_generation_equals_transformers_generate(pair):
    hf, ours = pair
    prompt = token_ids(7, batch=2, length=3)
    with torch.no_grad():
        theirs = hf.generate(prompt, max_new_tokens=30, do_sample=False)
    for use_cache in (True, False):
        assert torch.equal(generate(ours, prompt, 30, temperature=0, use_cache=use_cache), theirs)


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(0.8, None, None), (1.2, 5, None), (1.0, 7, 0.8)])
def test_sampled_generation_equals_transformers_generate_under_the_same_seed(pair, temperature, top_k, top_p):
    """🤗's sampling step is softmax then torch.multinomial on the global generator: ours, given generator=None."""
    hf, ours = pair
    prompt = token_ids(8, batch=2, length=3)
    torch.manual_seed(11)
    with torch.no_grad():
        theirs = hf.generate(prompt, max_new_tokens=25, do_sample=True, temperature=temperature, top_k=top_k,
                             top_p=top_p)
    torch.manual_seed(11)
    assert torch.equal(generate(ours, prompt, 25, temperature=temperature, top_k=top_k, top_p=top_p), theirs)


@pytest.mark.parametrize(
    "variant",
    [{"activation_function": "gelu"}, {"layer_norm_epsilon": 1e-6}, {"layer_norm_epsilon": 1e-4}],
    ids=["exact GELU", "eps 1e-6", "eps 1e-4"],
)
def test_the_comparison_catches_a_wrong_gelu_or_layer_norm_eps(pair, variant):
    """The same weights in a 🤗 model that computes GELU or LayerNorm differently fail the equality test."""
    hf, ours = pair
    wrong = transformers.GPT2LMHeadModel(hf_config(**variant)).eval()
    wrong.load_state_dict(hf.state_dict())
    input_ids = token_ids(1)
    with torch.no_grad():
        theirs = wrong(input_ids).logits
    out = ours(input_ids).logits
    assert relative_difference(out, theirs) > 10 * TOLERANCE
    with pytest.raises(AssertionError):
        assert_matches(out, theirs)


def test_our_model_with_the_exact_gelu_or_another_eps_fails_the_comparison(pair):
    hf, ours = pair
    input_ids = token_ids(1)
    with torch.no_grad():
        theirs = hf(input_ids).logits
    exact = GPT(CONFIG).eval()
    exact.load_state_dict(ours.state_dict())
    for layer in exact.layers:
        layer.activation = F.gelu  # the erf GELU of BERT
    assert relative_difference(exact(input_ids).logits, theirs) > 10 * TOLERANCE
    other_eps = GPT(dataclasses.replace(CONFIG, layer_norm_eps=1e-6)).eval()
    other_eps.load_state_dict(ours.state_dict())
    assert relative_difference(other_eps(input_ids).logits, theirs) > 1e-2


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"activation_function": "gelu"}, "activation_function"), ({"activation_function": "relu"}, "activation_function"),
     ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
     ({"reorder_and_upcast_attn": True}, "reorder_and_upcast_attn"),
     ({"scale_attn_weights": False}, "scale_attn_weights"),
     ({"add_cross_attention": True}, "add_cross_attention"),
     ({"tie_word_embeddings": False}, "tie_word_embeddings"),
     ({"attn_pdrop": 0.0}, "attn_pdrop"),
     ({"eos_token_id": 50256}, "eos_id")],
    ids=["exact GELU", "relu", "inverse layer scaling", "reorder and upcast", "unscaled", "cross-attention",
         "untied", "two dropout rates", "eos outside the vocabulary"],
)
def test_from_huggingface_refuses_what_our_gpt_does_not_compute(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        from_huggingface(transformers.GPT2LMHeadModel(hf_config(**changes)))
    assert " / " in str(error.value)


def test_from_huggingface_refuses_other_models_and_unknown_or_untied_weights(pair):
    hf, _ = pair
    with pytest.raises(TypeError, match="GPT2LMHeadModel") as error:
        from_huggingface(transformers.GPT2Model(hf_config()))
    assert " / " in str(error.value)
    state = dict(hf.state_dict())
    with pytest.raises(ValueError, match="does not have") as error:
        huggingface_state_dict(state | {"transformer.h.0.attn.rotary.weight": torch.zeros(D)})
    assert "rotary" in str(error.value)
    with pytest.raises(ValueError, match="ties the output layer"):
        huggingface_state_dict(state | {"lm_head.weight": state["lm_head.weight"] + 1})
    older = state | {"transformer.h.0.attn.bias": torch.ones(1, 1, MAX_POSITION, MAX_POSITION).tril(),
                     "transformer.h.0.attn.masked_bias": torch.tensor(-1e4)}  # buffers of older files
    assert huggingface_state_dict(older).keys() == huggingface_state_dict(state).keys()


def test_conv1d_weights_arrive_transposed_and_c_attn_splits_into_q_k_v(pair):
    hf, ours = pair
    block, layer = hf.transformer.h[1], ours.layers[1]
    assert block.attn.c_attn.weight.shape == (D, 3 * D) and layer.self_attn.in_proj_weight.shape == (3 * D, D)
    W_Q, W_K, W_V = layer.self_attn.in_proj_weight.chunk(3)
    for ours_part, theirs_part in zip((W_Q, W_K, W_V), block.attn.c_attn.weight.split(D, dim=1), strict=True):
        assert torch.equal(ours_part, theirs_part.t())
    assert torch.equal(layer.linear1.weight, block.mlp.c_fc.weight.t())  # (F, D) ← (D, F)
    assert layer.linear1.weight.shape == (FF, D)


# --- built from the book's layers ---------------------------------------------------------------


def test_a_block_is_chapter_6s_pre_norm_encoder_layer_under_the_causal_mask(pair):
    _, ours = pair
    block = ours.layers[0]
    assert isinstance(block, GPTBlock) and isinstance(block, EncoderLayer) and block.norm_first
    layer = EncoderLayer(D, H, FF, norm_first=True, activation="gelu_tanh").eval()
    layer.load_state_dict(block.state_dict(), strict=True)  # the same names
    x = torch.randn(B, T, D)
    causal = causal_mask(T)
    expected, expected_weights = layer(x, causal)
    out, weights, (k, v) = block(x, causal, need_weights=True)
    assert_close(out, expected)
    assert_close(weights, expected_weights)
    assert k.shape == v.shape == (B, H, T, D // H)


def test_the_tanh_gelu_is_within_5e_4_of_the_exact_one_and_farthest_near_2_7():
    x = torch.linspace(-6, 6, 12001, dtype=torch.float64)
    difference = (GPTBlock(CONFIG).activation(x) - F.gelu(x)).abs()  # GPT-2's GELU against BERT's
    assert 4.6e-4 < difference.max().item() < 4.8e-4
    assert abs(abs(x[difference.argmax()].item()) - 2.7) < 0.05


def test_causal_self_attention_is_multi_head_attention_with_the_causal_mask():
    attention = CausalSelfAttention(D, H).eval()
    assert isinstance(attention, MultiHeadAttention)
    x = torch.randn(2, 7, D)
    expected, expected_weights = MultiHeadAttention.forward(attention, x, x, x, causal_mask(7))
    out, weights, _ = attention(x, causal_mask(7), need_weights=True)
    assert_close(out, expected)
    assert_close(weights, expected_weights)
    plain = MultiHeadAttention(D, H)
    plain.load_state_dict(attention.state_dict(), strict=True)


def test_no_position_sees_the_future(pair):
    _, ours = pair
    input_ids = token_ids(9, batch=1)
    out = ours(input_ids, need_weights=True)
    for t in range(1, T):
        changed = input_ids.clone()
        changed[0, t] = (changed[0, t] + 1) % V
        new = ours(changed).logits
        assert_close(new[:, :t], out.logits[:, :t], rtol=0, atol=1e-6)
        assert (new[:, t] - out.logits[:, t]).abs().max() > 1e-4  # … but the changed position does change
    for weights in out.attentions:
        assert (weights[..., ~causal_mask(T)] == 0).all()
        assert_close(weights.sum(-1), torch.ones(1, H, T))


def test_the_output_layer_is_the_token_embedding_table(tmp_path):
    model = GPT(CONFIG)
    assert model.output_weight is model.token_embedding.weight
    assert [name for name, t in model.state_dict().items() if t.shape == (V, D)] == ["token_embedding.weight"]
    input_ids = torch.tensor([[2, 5, 6, 7, 3]])
    model(input_ids).logits.sum().backward()
    unused = torch.ones(V, dtype=torch.bool)
    unused[input_ids.unique()] = False
    assert (model.token_embedding.weight.grad[unused].abs().sum(-1) > 0).all(), "absent tokens learn as outputs"
    model = GPT(dataclasses.replace(CONFIG, pad_id=0, eos_id=2)).eval()  # a checkpoint keeps the table once
    checkpoints.save(model, tmp_path / "gpt.safetensors")
    reloaded = checkpoints.load(tmp_path / "gpt.safetensors", GPT, GPTConfig)
    assert reloaded.config == model.config and reloaded.output_weight is reloaded.token_embedding.weight
    assert torch.equal(reloaded(input_ids).logits, model(input_ids).logits)


# --- the KV cache ----------------------------------------------------------------------------------


def test_cached_steps_give_the_logits_of_recomputation(pair):
    _, ours = pair
    input_ids = token_ids(10, length=MAX_POSITION)
    full = ours(input_ids).logits  # (B, T, V)
    out = ours(input_ids[:, :1], use_cache=True)
    worst = 0.0
    for t in range(1, MAX_POSITION):
        out = ours(input_ids[:, t:t + 1], past=out.past, use_cache=True)
        worst = max(worst, relative_difference(out.logits[:, 0], full[:, t]))
    assert worst < TOLERANCE, worst
    # several new tokens at once on top of a cache: the causal mask inside the new block
    half = ours(input_ids[:, :20], use_cache=True)
    rest = ours(input_ids[:, 20:], past=half.past, use_cache=True, need_weights=True)
    assert_matches(rest.logits, full[:, 20:])
    assert rest.attentions[0].shape == (B, H, MAX_POSITION - 20, MAX_POSITION)


def test_greedy_tokens_are_identical_with_and_without_the_cache(pair):
    _, ours = pair
    prompt = token_ids(11, batch=3, length=2)
    cached = generate(ours, prompt, MAX_POSITION - 2, temperature=0)
    recomputed = generate(ours, prompt, MAX_POSITION - 2, temperature=0, use_cache=False)
    assert cached.shape == (3, MAX_POSITION)
    assert torch.equal(cached, recomputed)
    assert torch.equal(cached[:, :2], prompt)


def test_the_cache_counts_t_positions_and_recomputation_t_t_plus_1_over_2(pair):
    _, ours = pair
    prompt = token_ids(12, batch=1, length=1)
    steps = 30
    with count_positions(ours) as cached:
        generate(ours, prompt, steps, temperature=0)
    with count_positions(ours) as recomputed:
        generate(ours, prompt, steps, temperature=0, use_cache=False)
    assert (cached.calls, cached.positions) == (steps, steps)
    assert (recomputed.calls, recomputed.positions) == (steps, steps * (steps + 1) // 2)
    with count_positions(ours) as batch:
        generate(ours, token_ids(12, batch=3, length=4), 5, temperature=0)
    assert batch.positions == 3 * (4 + 4)  # B × (the prompt once, then one token per further step)
    ours(prompt)
    assert batch.positions == 24, "counting stops when the with block ends"
    with pytest.raises(TypeError, match="GPT") as error, count_positions(torch.nn.Linear(2, 2)):
        pass
    assert " / " in str(error.value)


def test_a_cache_is_never_changed_so_two_continuations_can_share_it(pair):
    _, ours = pair
    input_ids = token_ids(13, batch=2, length=8)
    prefix = ours(input_ids[:, :5], use_cache=True).past
    keys_before = [k.clone() for k in prefix.keys]
    first = ours(input_ids[:, 5:6], past=prefix, use_cache=True)
    second = ours((input_ids[:, 5:6] + 1) % V, past=prefix, use_cache=True)
    assert all(torch.equal(k, before) for k, before in zip(prefix.keys, keys_before, strict=True))
    assert prefix.length == 5 and first.past.length == second.past.length == 6
    assert_matches(first.logits[:, 0], ours(input_ids[:, :6]).logits[:, 5])
    changed = torch.cat([input_ids[:, :5], (input_ids[:, 5:6] + 1) % V], dim=1)
    assert_matches(second.logits[:, 0], ours(changed).logits[:, 5])


def test_left_padded_prompts_generate_what_each_prompt_generates_alone_as_in_transformers(pair):
    hf, ours = pair
    lengths = [6, 3, 1]
    prompts = [token_ids(14 + i, batch=1, length=n)[0] for i, n in enumerate(lengths)]
    attention_mask = (torch.arange(6) >= 6 - torch.tensor(lengths)[:, None]).long()  # (3, 6), left padding
    batch = torch.zeros(3, 6, dtype=torch.long)
    for b, prompt in enumerate(prompts):
        batch[b, 6 - len(prompt):] = prompt
    for use_cache in (True, False):
        together = generate(ours, batch, 20, attention_mask=attention_mask, temperature=0, use_cache=use_cache)
        for b, prompt in enumerate(prompts):
            alone = generate(ours, prompt[None], 20, temperature=0)
            assert torch.equal(together[b, 6:], alone[0, len(prompt):]), (b, use_cache)
    with torch.no_grad():
        theirs = hf.generate(batch, attention_mask=attention_mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
    assert torch.equal(together, theirs)


def test_generation_stops_at_eos_and_pads_the_rows_that_ended(pair):
    hf, _ = pair
    prompt = token_ids(15, batch=3, length=2)
    free = generate(from_huggingface(hf), prompt, 25, temperature=0)
    eos = free[0, 6].item()  # the token row 0 makes at its 5th step
    with_eos = GPT(dataclasses.replace(CONFIG, eos_id=eos, pad_id=0)).eval()
    with_eos.load_state_dict(from_huggingface(hf).state_dict())
    out = generate(with_eos, prompt, 25, temperature=0)
    for b in range(3):
        row, free_row = out[b, 2:].tolist(), free[b, 2:len(out[b])].tolist()
        end = free_row.index(eos) if eos in free_row else len(free_row)
        assert row[:end + 1] == free_row[:end + 1]  # the same tokens up to and with the first eos …
        assert all(token == 0 for token in row[end + 1:])  # … then padding
    ended = [eos in free[b, 2:].tolist() for b in range(3)]
    assert out.size(1) < free.size(1) if all(ended) else out.size(1) == free.size(1)
    with torch.no_grad():
        theirs = hf.generate(prompt, max_new_tokens=25, do_sample=False, eos_token_id=eos, pad_token_id=0)
    assert torch.equal(out, theirs)


def test_sampling_is_repeatable_with_a_generator_and_the_same_with_the_cache(pair):
    _, ours = pair
    prompt = token_ids(16, batch=2, length=3)

    def run(seed, **settings):
        return generate(ours, prompt, 30, temperature=1.5, top_k=10, top_p=0.95,
                        generator=torch.Generator().manual_seed(seed), **settings)

    first = run(0)
    assert torch.equal(first, run(0))
    assert torch.equal(first, run(0, use_cache=False))
    assert not torch.equal(first, run(1))
    assert torch.equal(generate(ours, prompt, 30, temperature=0), generate(ours, prompt, 30, temperature=0, top_k=1))


# --- initialisation, training, the loss ----------------------------------------------------------------


def test_initialisation_follows_gpt_2():
    config = GPTConfig(vocab_size=250, max_position=64, num_layers=4)
    state = GPT(config).state_dict()
    residual = 1 / math.sqrt(2 * config.num_layers)
    for name, tensor in state.items():
        if name.endswith(("norm.weight", "norm1.weight", "norm2.weight")):
            assert torch.equal(tensor, torch.ones_like(tensor)), name
        elif name.endswith("bias"):
            assert torch.equal(tensor, torch.zeros_like(tensor)), name
        else:
            expected = INIT_STD * (residual if name.endswith(("out_proj.weight", "linear2.weight")) else 1.0)
            assert abs(tensor.std().item() - expected) < 0.15 * expected, name


def test_the_loss_at_initialisation_is_about_log_v():
    config = GPTConfig(vocab_size=250)
    model = GPT(config).eval()
    input_ids = torch.randint(0, 250, (16, 24))
    loss = next_token_loss(model(input_ids).logits, input_ids)
    assert abs(loss.item() - math.log(250)) < 0.05


def test_next_token_loss_equals_transformers_labels_loss(pair):
    hf, ours = pair
    attention_mask = right_padding()
    input_ids = token_ids(17) * attention_mask
    labels = input_ids.masked_fill(attention_mask == 0, -100)  # 🤗 shifts the labels inside
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, labels=labels).loss
    assert_close(next_token_loss(ours(input_ids, attention_mask).logits, input_ids, attention_mask), theirs)


def test_next_token_loss_is_small_for_a_model_that_knows_the_next_token_and_only_for_it():
    attention_mask = right_padding()
    input_ids = token_ids(18) * attention_mask
    following = torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=1)  # the token after each position
    pad_follows = torch.cat([attention_mask[:, 1:], torch.zeros(B, 1, dtype=torch.long)], dim=1) == 0
    prophet = 20.0 * F.one_hot(following.masked_fill(pad_follows, 1), V).float()  # sure of the next real token
    parrot = 20.0 * F.one_hot(input_ids, V).float()  # sure of the token it reads
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    loss = next_token_loss(prophet, input_ids, attention_mask)
    assert_close(loss, transformers.loss.loss_utils.ForCausalLMLoss(prophet, labels, V))
    assert loss.item() < 1e-6
    assert next_token_loss(parrot, input_ids, attention_mask).item() > 10  # no shift: another problem
    backwards = torch.cat([input_ids[:, -1:], input_ids[:, :-1]], dim=1)  # the token before each position
    assert next_token_loss(20.0 * F.one_hot(backwards, V).float(), input_ids, attention_mask).item() > 10
    assert next_token_loss(prophet, input_ids).item() > 1, "without the mask, padding would count"


def test_next_token_loss_skips_predictions_made_from_padding():
    logits = torch.randn(1, 4, V)
    input_ids = torch.tensor([[0, 5, 6, 7]])
    left = torch.tensor([[0, 1, 1, 1]])  # position 0 is padding: it predicts nothing
    expected = F.cross_entropy(logits[0, 1:3], input_ids[0, 2:])
    assert_close(next_token_loss(logits, input_ids, left), expected)
    with pytest.raises(ValueError, match="T ≥ 2") as error:
        next_token_loss(logits[:, :1], input_ids[:, :1])
    assert " / " in str(error.value)


def test_next_token_loss_summed_is_the_mean_times_the_counted_predictions():
    logits, input_ids = torch.randn(2, 5, V), token_ids(2, batch=2, length=5)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    counted = 4 + 2  # row 2: positions 0 and 1 predict real tokens; 2 predicts padding; 3, 4 are padding
    summed = next_token_loss(logits, input_ids, mask, reduction="sum")
    assert_close(summed, next_token_loss(logits, input_ids, mask) * counted)
    with pytest.raises(ValueError, match="reduction") as error:
        next_token_loss(logits, input_ids, mask, reduction="none")
    assert " / " in str(error.value)


def test_dropout_acts_in_training_mode_only_and_generation_wants_eval():
    model = GPT(CONFIG)
    input_ids = token_ids(19)
    assert not torch.allclose(model(input_ids).logits, model(input_ids).logits)
    model.eval()
    assert torch.equal(model(input_ids).logits, model(input_ids).logits)
    with pytest.raises(ValueError, match="eval") as error:
        generate(model.train(), input_ids, 3)
    assert " / " in str(error.value)
    assert from_huggingface(hf_model(1).train()).training


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "message"),
    [({"input_ids": torch.full((B, T), V)}, "vocab_size"),
     ({"input_ids": torch.full((B, T), -1)}, "vocab_size"),
     ({"input_ids": torch.ones(B, MAX_POSITION + 1, dtype=torch.long)}, "max_position"),
     ({"input_ids": torch.ones(B, T)}, "input_ids"),
     ({"input_ids": torch.ones(T, dtype=torch.long)}, "input_ids"),
     ({"input_ids": torch.ones(B, 0, dtype=torch.long)}, "input_ids"),
     ({"attention_mask": torch.full((B, T), 2)}, "attention_mask"),
     ({"attention_mask": torch.ones(B, T)}, "attention_mask"),
     ({"attention_mask": torch.ones(B, T + 1, dtype=torch.long)}, "attention_mask"),
     ({"attention_mask": torch.zeros(B, T, dtype=torch.long)}, "empty")],
    ids=["id = V", "id < 0", "too long", "float ids", "1-D ids", "empty ids", "mask of 2", "float mask",
         "mask shape", "all padding"],
)
def test_bad_inputs_get_a_clear_bilingual_error(pair, inputs, message):
    _, ours = pair
    inputs = {"input_ids": token_ids(0)} | inputs
    with pytest.raises(ValueError, match=message) as error:
        ours(**inputs)
    assert " / " in str(error.value)


def test_a_cache_that_does_not_fit_or_runs_past_max_position_is_refused(pair):
    _, ours = pair
    past = ours(token_ids(0, batch=2, length=MAX_POSITION), use_cache=True).past
    for bad_past, message in [(past, "max_position"), ("keys", "KVCache")]:
        with pytest.raises(ValueError, match=message) as error:
            ours(token_ids(0, batch=2, length=1), past=bad_past)
        assert " / " in str(error.value)
    with pytest.raises(ValueError, match="batch of 3"):
        ours(token_ids(0, batch=3, length=1), past=past)


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"max_new_tokens": 0}, "max_new_tokens"), ({"max_new_tokens": 2.0}, "max_new_tokens"),
     ({"max_new_tokens": MAX_POSITION}, "max_position"), ({"temperature": -1.0}, "temperature"),
     ({"top_k": 0}, "top_k"), ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"),
     ({"temperature": 0, "top_k": -2}, "top_k")],
)
def test_bad_generation_settings_get_a_clear_bilingual_error(pair, settings, message):
    _, ours = pair
    arguments = {"max_new_tokens": 5} | settings
    with pytest.raises(ValueError, match=message) as error:
        generate(ours, token_ids(0, batch=2, length=3), **arguments)
    assert " / " in str(error.value)
    with pytest.raises(TypeError, match="GPT"):
        generate(torch.nn.Linear(2, 2), token_ids(0), 3)

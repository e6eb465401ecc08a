"""Every chapter's model, recipe and helper runs on the device its model is on.

The core paths (train two steps, then evaluate, sample or generate on a few examples) run
on the CPU and, where a GPU is present, on CUDA, where they must agree with the CPU run
within a loose tolerance. Every model's forward pass also runs on ``meta`` (shapes, no
values): a tensor made on the CPU inside a forward pass fails there, so this catches one.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

import attnbook
from attnbook.bahdanau import BahdanauSeq2Seq
from attnbook.bart import Bart, BartConfig
from attnbook.bert import BertConfig, BertForPreTraining, BertForSequenceClassification
from attnbook.denoising import BartPretraining
from attnbook.experiment import TranslationExperiment, build
from attnbook.finetuning import AgreementFineTuning
from attnbook.gpt import GPT, GPTConfig, generate
from attnbook.language_model import CausalLMTraining
from attnbook.pretraining import BertPretraining
from attnbook.runtime import DEVICE_VARIABLE, device_of
from attnbook.seq2seq import Seq2Seq, Seq2SeqConfig
from attnbook.t5 import T5, T5Config
from attnbook.text_to_text import TextToTextTraining
from attnbook.training import train
from attnbook.transformer import Transformer, TransformerConfig

META = torch.device("meta")
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
TOLERANCE = {"rtol": 1e-3, "atol": 1e-3}  # CUDA kernels sum in another order than the CPU's
# No dropout in the recipes below: a GPU draws its own masks, so with dropout its losses would part from the
# CPU's at the first step. What dropout does on another device is python -m tools.other_device's question.

GPT_RECIPE = CausalLMTraining(documents=60, held_out=10, steps=2, warmup=1, batch_size=8, hidden_size=16,
                              num_layers=1, num_heads=2, intermediate_size=32, samples=4, dropout=0.0)
BERT_RECIPE = BertPretraining(documents=60, held_out=10, steps=2, warmup=1, batch_size=8, hidden_size=16,
                              num_layers=1, num_heads=2, intermediate_size=32, dropout=0.0)
BART_RECIPE = BartPretraining(documents=60, held_out=10, steps=2, warmup=1, batch_size=8, d_model=16, layers=1,
                              heads=2, ffn_dim=32, eval_documents=3)
T5_RECIPE = TextToTextTraining(train_per_task=16, test_per_task=2, steps=2, warmup=1, batch_size=8, d_model=16,
                               d_kv=8, d_ff=32, num_layers=1, num_heads=2, max_new_tokens=4)


def _close(actual: list[float], expected: list[float]) -> None:
    torch.testing.assert_close(torch.tensor(actual), torch.tensor(expected), **TOLERANCE)


def _check(device: str, run) -> None:
    """Run ``run(device)``; on a GPU, its losses must be the CPU run's within the tolerance."""
    losses = run(device)
    assert len(losses) == 2
    if device != "cpu":
        _close(losses, run("cpu"))


# ------------------------------------------------------------------------------------------ the device setting


def test_default_device_without_the_variable(monkeypatch):
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)
    assert attnbook.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_variable_chooses_the_device(monkeypatch):
    monkeypatch.setenv(DEVICE_VARIABLE, "cpu")
    assert attnbook.default_device() == torch.device("cpu")
    if torch.cuda.is_available():
        monkeypatch.setenv(DEVICE_VARIABLE, "cuda:0")
        assert attnbook.default_device() == torch.device("cuda:0")


@pytest.mark.parametrize("name", ["gpu", "cuda:99", "meta", "cpu:x"])
def test_an_unknown_or_missing_device_is_refused_in_both_languages(monkeypatch, name):
    monkeypatch.setenv(DEVICE_VARIABLE, name)
    with pytest.raises(ValueError, match=DEVICE_VARIABLE) as error:
        attnbook.default_device()
    assert " / " in str(error.value)  # no language chosen: the message in Korean and English
    if not torch.cuda.is_available():
        monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
        with pytest.raises(ValueError, match="GPU"):
            attnbook.default_device()


def test_device_of_a_model():
    assert device_of(torch.nn.Linear(2, 3)) == torch.device("cpu")
    assert device_of(torch.nn.Identity()) == torch.device("cpu")  # no parameters, no buffers: a scripted stand-in
    with META:
        assert device_of(torch.nn.Linear(2, 3)) == META


# ------------------------------------------------------------------------------------------- chapters 7–9


@pytest.mark.parametrize("device", DEVICES)
def test_gpt_language_model(device):
    def run(device: str) -> list[float]:
        model = GPT_RECIPE.build().to(device)
        losses = GPT_RECIPE.train(model)
        assert device_of(model).type == device
        assert GPT_RECIPE.perplexity(model)["tokens"] > 0
        greedy = GPT_RECIPE.sample(model, 3, temperature=0)
        sampled = GPT_RECIPE.sample(model, 3, seed=1)  # a CPU generator: drawn on the CPU whatever the device
        assert len(greedy) == len(sampled) == 3
        return losses

    _check(device, run)


@pytest.mark.parametrize("device", DEVICES)
def test_bert_pretraining_and_fine_tuning(device):
    def run(device: str) -> list[float]:
        model = BERT_RECIPE.build().to(device)
        losses = BERT_RECIPE.train(model)
        assert len(losses.total) == len(losses.mlm) == len(losses.nsp)
        assert BERT_RECIPE.nsp_accuracy(model)["pairs"] > 0
        filled = BERT_RECIPE.fill_mask(model, "학생[MASK] 책을 읽었다", k=2)
        assert len(filled) == 1 and len(filled[0]) == 2
        tuning = AgreementFineTuning(steps=2, warmup=1, batch_size=4, test_size=8)
        classifier = tuning.fine_tune(BERT_RECIPE, model, tuning.examples(BERT_RECIPE, 8, 0), 0)
        assert device_of(classifier).type == device
        fresh = tuning.run(BERT_RECIPE, None, 8, 0, device=device)  # a fresh encoder, drawn on the CPU, moved
        assert 0 <= fresh <= 1
        assert 0 <= tuning.accuracy(BERT_RECIPE, classifier, tuning.test_examples(BERT_RECIPE)) <= 1
        return losses.total

    _check(device, run)


@pytest.mark.parametrize("device", DEVICES)
def test_bart_denoising(device):
    def run(device: str) -> list[float]:
        model = BART_RECIPE.build().to(device)
        losses = BART_RECIPE.train(model)
        corrupted = [row[1] for row in BART_RECIPE.corrupted_test("text_infilling", 2)]
        assert len(BART_RECIPE.restore(model, corrupted)) == 2
        return losses

    _check(device, run)


@pytest.mark.parametrize("device", DEVICES)
def test_t5_text_to_text(device):
    def run(device: str) -> list[float]:
        model = T5_RECIPE.build().to(device)
        losses = T5_RECIPE.train(model)
        answers = T5_RECIPE.generate(model, [e.input for e in T5_RECIPE.test_examples("numeral_to_digits")[:2]])
        assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)
        return losses

    _check(device, run)


# ------------------------------------------------------------------------------------------- chapters 2–6


@pytest.mark.parametrize("model_class", [Seq2Seq, BahdanauSeq2Seq, Transformer])
@pytest.mark.parametrize("device", DEVICES)
def test_translation_training_and_decoding(device, model_class):
    experiment = TranslationExperiment(train_size=32, batch_size=16, embed_dim=8, hidden_dim=8, d_model=16,
                                       num_heads=2, d_ff=32, num_layers=1, dropout=0.0)

    def run(device: str) -> list[float]:
        model = build(model_class.__name__, model_class, experiment).to(device)
        losses = train(model, experiment.batches(), epochs=1, max_steps=2, **experiment.training(model_class))
        sentences = [pair.en for pair in experiment.train_pairs[:2]]
        greedy, _ = experiment.translate(model, sentences)
        beam, _ = experiment.translate(model, sentences, beam_size=2)
        assert len(greedy) == len(beam) == 2
        return losses

    _check(device, run)


# ------------------------------------------------------------------------------------------ meta: shapes only


def _ids(B: int, T: int, V: int) -> torch.Tensor:
    return torch.randint(0, V, (B, T), device=META)


def test_gpt_runs_on_meta_with_and_without_the_cache():
    with META:
        model = GPT(GPTConfig(vocab_size=37, max_position=16, hidden_size=16, num_layers=2, num_heads=2,
                              intermediate_size=32, pad_id=0, eos_id=1))
    mask = torch.ones(2, 5, dtype=torch.long, device=META)
    assert model(_ids(2, 5, 37), mask).logits.shape == (2, 5, 37)
    out = model(_ids(2, 5, 37), use_cache=True)
    step = model(_ids(2, 1, 37), past=out.past, use_cache=True)
    assert step.logits.shape == (2, 1, 37) and step.past.length == 6


def test_bert_runs_on_meta():
    config = BertConfig(vocab_size=37, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                        max_position=16)
    with META:
        pretraining, classifier = BertForPreTraining(config), BertForSequenceClassification(config, 3)
    mask = torch.ones(2, 5, dtype=torch.long, device=META)
    assert pretraining(_ids(2, 5, 37), attention_mask=mask).mlm_logits.shape == (2, 5, 37)
    assert classifier(_ids(2, 5, 37), _ids(2, 5, 2), mask).logits.shape == (2, 3)


def test_bart_and_t5_run_on_meta():
    with META:
        bart = Bart(BartConfig(37, 16, 1, 1, 2, 2, 32, 32, 16))
        t5 = T5(T5Config(37, 16, 8, 32, 1, 2))
    mask = torch.ones(2, 5, dtype=torch.long, device=META)
    for model in (bart, t5):
        assert model(_ids(2, 5, 37), attention_mask=mask, decoder_input_ids=_ids(2, 4, 37)).logits.shape == (2, 4, 37)


@pytest.mark.parametrize("model_class", [Seq2Seq, BahdanauSeq2Seq, Transformer])
def test_translation_models_run_on_meta(model_class):
    config = (TransformerConfig(13, 11, d_model=16, num_heads=2, d_ff=32, num_encoder_layers=1,
                                num_decoder_layers=1, max_len=16) if model_class is Transformer
              else Seq2SeqConfig(13, 11, embed_dim=7, hidden_dim=9, bidirectional=True))
    with META:
        model = model_class(config)
    logits, _ = model(_ids(2, 5, 13), torch.ones(2, 5, dtype=torch.bool, device=META), _ids(2, 4, 11))
    assert logits.shape == (2, 4, 11) and logits.is_meta


def test_generate_runs_on_the_model_device():
    """``generate`` with a CPU generator draws the same tokens as before the model moved (here: the CPU)."""
    model = GPT(dataclasses.replace(GPT_RECIPE.config(), dropout=0.0)).eval()
    prompt = torch.full((2, 1), GPT_RECIPE.bos_id)
    first = generate(model, prompt, 5, generator=torch.Generator().manual_seed(0))
    again = generate(model, prompt, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again) and first.device == prompt.device

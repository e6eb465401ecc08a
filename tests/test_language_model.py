"""The book's GPT training recipe: its data, tokenizer, schedule and loop, and that each measurement measures
what it says.

The measurements are tested on scripted models whose answers are known: a uniform model (perplexity V),
a model that predicts the unigram distribution everywhere (the unigram baseline's perplexity), and
models that always write one fixed sentence (a training sentence: grammatical, not new).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch

import attnbook
from attnbook.data import corpus
from attnbook.gpt import GPT, GPTOutput
from attnbook.language_model import BOS, EOS, CausalLMTraining, judge
from attnbook.wordpiece import PAD_ID

SMALL = CausalLMTraining(documents=300, held_out=60, steps=30, warmup=5, batch_size=16, hidden_size=16, num_heads=2,
                         intermediate_size=32, samples=20)


class Scripted(GPT):
    """A GPT whose logits at position t are row t of a fixed table, whatever it reads (its weights are unused)."""

    def __init__(self, recipe: CausalLMTraining, table: torch.Tensor) -> None:
        super().__init__(recipe.config())
        self.table = table  # (max_position, V)

    def forward(self, input_ids, attention_mask=None, *, past=None, use_cache=False, need_weights=False):
        out = super().forward(input_ids, attention_mask, past=past, use_cache=use_cache)
        start, length = (0 if past is None else past.length), input_ids.size(1)
        logits = self.table[start:start + length].expand(input_ids.size(0), length, -1)  # (B, T, V)
        return GPTOutput(logits, out.attentions, out.past)


def writes(recipe: CausalLMTraining, words) -> Scripted:
    """A model that always writes ``<bos> words <eos>``."""
    ids = recipe.encode(words)
    table = torch.zeros(recipe.max_position, len(recipe.tokenizer))
    for t, target in enumerate(ids[1:]):
        table[t, target] = 50.0
    return Scripted(recipe, table).eval()


def test_the_recipe_rejects_impossible_values():
    with pytest.raises(ValueError, match="held_out"):
        CausalLMTraining(documents=10, held_out=6)
    with pytest.raises(ValueError, match="steps"):
        CausalLMTraining(steps=0)
    with pytest.raises(ValueError, match="lr"):
        CausalLMTraining(lr=0.0)
    attnbook.set_language("ko")  # reset by conftest after the test
    with pytest.raises(ValueError, match="양의 정수"):
        CausalLMTraining(samples=0)


def test_documents_are_split_and_the_tokenizer_learned_from_training_only_with_particles_their_own_tokens():
    run = SMALL
    every = corpus.generate_documents(300, seed=0)
    assert list(run.train_documents) == every[:240] and list(run.test_documents) == every[240:]
    tokenizer = run.tokenizer
    assert tokenizer.vocab[:5] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert {BOS, EOS} <= set(tokenizer.vocab[:tokenizer.num_special])
    assert tokenizer.vocab[tokenizer.num_special:] == corpus.train_wordpiece(run.train_documents).vocab[5:]
    assert tokenizer.tokenize("학생은 공원으로 갔다") == ["학생", "##은", "공원", "##으로", "갔다"]


def test_every_held_out_sentence_encodes_as_bos_tokens_eos_and_decodes_back_to_its_eojeols():
    run = SMALL
    for sentence in run.test_sentences():
        ids = run.encode(sentence.words)
        assert ids[0] == run.bos_id and ids[-1] == run.eos_id and PAD_ID not in ids
        assert run.decode(ids) == (sentence.words, True)
        assert run.decode(torch.tensor([*ids, PAD_ID, PAD_ID])) == (sentence.words, True)  # generate's padding


def test_decoding_keeps_what_the_grammar_must_reject_visible():
    run = SMALL
    ids = run.tokenizer.ids
    assert run.decode([run.bos_id, ids["##은"], ids["학생"], ids["##은"]]) == (("##은", "학생은"), False)
    assert run.decode([run.bos_id, ids["학생"], ids["[MASK]"], ids["##은"], run.eos_id]) == (("학생", "[MASK]", "##은"),
                                                                                          True)


def test_batches_are_deterministic_and_each_epoch_visits_every_training_sentence_once():
    run = SMALL
    sentences = Counter(tuple(run.encode(s.words)) for s in run.train_sentences())
    seen: Counter = Counter()
    for step in range(run.steps_per_epoch):
        ids, mask = run.batch(step)
        assert ids.shape[0] == run.batch_size and mask[:, -1].any()
        assert torch.equal(mask, ids != PAD_ID) and (ids[:, 0] == run.bos_id).all()
        seen.update(tuple(row[m].tolist()) for row, m in zip(ids, mask, strict=True))
    assert sum(seen.values()) == run.steps_per_epoch * run.batch_size
    assert not seen - sentences  # no sentence more often than it occurs
    assert torch.equal(run.batch(3)[0], CausalLMTraining(**{**SMALL.__dict__}).batch(3)[0])
    assert not torch.equal(run.batch(0)[0][:, :5], run.batch(run.steps_per_epoch)[0][:, :5])  # a new order


def test_learning_rate_warms_up_then_decays_to_zero():
    run = SMALL
    rates = [run.learning_rate(step) for step in range(run.steps)]
    assert rates[run.warmup - 1] == pytest.approx(run.lr)
    assert all(a < b for a, b in itertools.pairwise(rates[:run.warmup]))
    assert all(a >= b for a, b in itertools.pairwise(rates[run.warmup:]))
    assert run.learning_rate(run.steps) == 0.0


def test_training_returns_every_steps_loss_repeatably_and_lowers_it():
    first = SMALL.build()
    losses = SMALL.train(first)
    assert len(losses) == SMALL.steps and not first.training
    assert sum(losses[-5:]) / 5 < losses[0] - 0.5
    again = SMALL.train(SMALL.build(), max_steps=4)
    assert again == pytest.approx(losses[:4], rel=1e-5)
    with pytest.raises(ValueError, match="vocabulary"):
        SMALL.train(GPT(CausalLMTraining(documents=40, held_out=10).config()))


def test_a_uniform_model_has_perplexity_v_and_a_unigram_model_the_unigram_baselines():
    run = SMALL
    uniform = run.build()
    with torch.no_grad():
        uniform.token_embedding.weight.zero_()  # logits h Eᵀ = 0 everywhere
    result = run.perplexity(uniform)
    assert result["model"] == pytest.approx(len(run.tokenizer), rel=1e-4) == result["uniform"]
    counts = run.target_counts()
    assert counts[run.eos_id] == len(run.train_sentences()) and counts[run.bos_id] == 0
    unigram = torch.full((len(run.tokenizer),), 1e-30)
    for token, n in counts.items():
        unigram[token] = n / sum(counts.values())
    scripted = Scripted(run, unigram.log().expand(run.max_position, -1)).eval()
    measured = run.perplexity(scripted)
    assert measured["unseen_by_unigram"] == 0
    assert measured["model"] == pytest.approx(measured["unigram"], rel=1e-4)
    assert 1 < measured["unigram"] < len(run.tokenizer)
    expected_tokens = sum(len(run.encode(s.words)) - 1 for s in run.test_sentences())  # <eos> counted, <bos> not
    assert measured["tokens"] == expected_tokens


def test_a_model_that_writes_one_training_sentence_is_grammatical_never_new_and_never_diverse():
    run = SMALL
    sentence = run.train_sentences()[0]
    result = run.judge_samples(writes(run, sentence.words), 12)
    assert result["samples"] == 12 and result["ended"] == 1.0
    assert result["grammatical"] == 1.0 and result["new"] == 0.0 and result["grammatical_and_new"] == 0.0
    assert result["distinct"] == pytest.approx(1 / 12, abs=1e-4)
    assert result["particle_agreement"] == 1.0 and result["particles"] == 12 * judge(sentence.words).particles
    assert result["faults"] == {} and result["examples"][0] == sentence.text


def test_a_new_grammatical_sentence_counts_as_new_and_a_wrong_particle_as_half_agreeing():
    run = SMALL
    seen = {s.words for s in run.train_sentences()}
    new = next(s.words for s in run.test_sentences() if s.words not in seen)
    assert run.judge_samples(writes(run, new), 4)["grammatical_and_new"] == 1.0
    wrong = run.judge_samples(writes(run, ["학생는", "책을", "읽었다"]), 4)
    assert wrong["grammatical"] == 0.0 and wrong["new"] == 1.0 and wrong["particle_agreement"] == 0.5
    assert wrong["faults"] == {"particle form": 4}


def test_a_sample_that_never_ends_is_not_grammatical():
    run = SMALL
    words = run.train_sentences()[0].words
    model = writes(run, words)
    model.table[len(run.encode(words)) - 2] = 0.0
    model.table[:, run.eos_id] = -50.0  # it can never write <eos>
    result = run.judge_samples(model, 3)
    assert result["ended"] == 0.0 and result["grammatical"] == 0.0 and result["faults"] == {"unfinished": 3}


def test_judge_reports_grammaticality_and_particle_agreement_separately():
    good = judge("학생은 책을 읽었다")
    assert good.grammatical and good.fault is None and (good.particles, good.agreeing) == (2, 2)
    bad = judge(["학생는", "책을", "마셨다"])
    assert not bad.grammatical and bad.fault == "particle form" and (bad.particles, bad.agreeing) == (2, 1)
    assert judge("학생은 책을 마셨다").fault == "selection"
    assert judge("").fault == "missing" and judge("학생은 책을 읽었고 친구는 빵을 먹는다").fault == "clauses"
    with pytest.raises(TypeError):
        judge(42)


def test_evaluate_and_sampling_are_repeatable():
    run = SMALL
    model = run.build()
    first, second = run.evaluate(model), run.evaluate(model)
    assert first == second
    assert set(first) == {"perplexity", "samples"} and first["samples"]["samples"] == run.samples
    assert math.isfinite(first["perplexity"]["model"])
    greedy = run.sample(model, 3, temperature=0)
    assert greedy[0] == greedy[1] == greedy[2]


def test_the_shipped_decoding_curve_was_measured_with_todays_recipe():
    import json
    from dataclasses import asdict

    from attnbook.experiment import shipped_results

    curve = shipped_results("gpt_decoding")
    assert curve["recipe"] == json.loads(json.dumps(asdict(CausalLMTraining())))

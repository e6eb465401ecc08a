"""The book's BART pretraining: its data, noise, schedule and loop, its measurements, and the shipped checkpoint.

The measurements are tested on a scripted model that copies what it reads (its scores must be
copying's) and on hand-made outputs whose edit distances are known.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections import Counter
from dataclasses import asdict, replace

import pytest
import torch

import attnbook
from attnbook.corruption import IGNORE_INDEX, infill_spans
from attnbook.data import corpus
from attnbook.denoising import (
    BOS_ID,
    EOS_ID,
    LIVE,
    NOISES,
    BartPretraining,
    alignment_matches,
    edit_distance,
)
from attnbook.experiment import training_record
from attnbook.pretraining import BertPretraining
from attnbook.wordpiece import CLS_ID, MASK_ID, PAD_ID, SEP_ID
from tools import bart_checkpoints

SMALL = BartPretraining(documents=300, held_out=60, steps=30, warmup=5, batch_size=16, d_model=32, heads=2,
                        ffn_dim=64, eval_documents=40)


class Copier(torch.nn.Module):
    """A stand-in encoder–decoder that writes back what it read: its restorations are the corrupted inputs."""

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.eval()

    def encode(self, input_ids, attention_mask=None):
        return torch.nn.functional.one_hot(input_ids, self.config.vocab_size).float()  # (B, S, V)

    def decode(self, decoder_input_ids, encoder_hidden_states, attention_mask=None):
        batch, length = decoder_input_ids.shape
        source = encoder_hidden_states.argmax(-1)  # (B, S)
        wanted = torch.full((batch, length), SEP_ID)
        width = min(length, source.size(1))
        wanted[:, :width] = source[:, :width]  # position t writes input token t (</s> after the input)
        wanted = wanted.masked_fill(wanted == PAD_ID, SEP_ID)

        class Out:
            logits = torch.nn.functional.one_hot(wanted, self.config.vocab_size).float()
        return Out()


def test_the_recipe_rejects_impossible_values():
    with pytest.raises(ValueError, match="held_out"):
        BartPretraining(documents=10, held_out=6)
    with pytest.raises(ValueError, match="steps"):
        BartPretraining(steps=0)
    with pytest.raises(ValueError, match="mask_rate"):
        BartPretraining(mask_rate=1.5)
    with pytest.raises(ValueError, match="eval_documents"):
        BartPretraining(held_out=100, eval_documents=200)
    with pytest.raises(ValueError, match="heads"):
        BartPretraining(d_model=30, heads=4)
    attnbook.set_language("ko")  # reset by conftest after the test
    with pytest.raises(ValueError, match="양의 정수"):
        BartPretraining(batch_size=-1)


def test_the_documents_and_vocabulary_are_chapter_7s_and_bart_special_tokens_are_its_specials():
    run = SMALL
    every = corpus.generate_documents(300, seed=0)
    assert list(run.train_documents) == every[:240] and list(run.test_documents) == every[240:]
    assert run.tokenizer == BertPretraining(documents=300, held_out=60).tokenizer  # learned from training only
    assert (BOS_ID, EOS_ID) == (CLS_ID, SEP_ID)
    config = run.config()
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (CLS_ID, SEP_ID, PAD_ID)
    assert config.decoder_start_token_id == SEP_ID  # BART's decoder starts from </s>
    assert config.max_position_embeddings >= 2 + max(sum(map(len, d)) for d in BartPretraining().encoded("train"))


def test_a_batch_is_the_corrupted_documents_and_the_originals_shifted_right():
    run = SMALL
    batch = run.batch(3)
    train = run.encoded("train")
    assert torch.equal(batch.attention_mask, batch.input_ids != PAD_ID)
    for row, index in enumerate(run.documents_of(3)):
        original = [t for s in train[index] for t in s]
        labels = batch.labels[row][batch.labels[row] != IGNORE_INDEX].tolist()
        assert labels == [BOS_ID, *original, EOS_ID]  # the target is the whole original
        assert (batch.labels[row, len(labels):] == IGNORE_INDEX).all()
        decoder = batch.decoder_input_ids[row].tolist()
        assert decoder[:len(labels)] == [EOS_ID, BOS_ID, *original]  # shifted right, </s> first
        assert all(t == PAD_ID for t in decoder[len(labels):])
        source = batch.input_ids[row][batch.attention_mask[row]].tolist()
        assert source[0] == BOS_ID and source[-1] == EOS_ID  # never noised
        kept = [t for t in source[1:-1] if t != MASK_ID]
        assert len(kept) == len(original) - math.ceil(0.3 * len(original))  # 30 % hidden, exactly
        assert not Counter(kept) - Counter(original)  # nothing the document did not have
        assert source.count(MASK_ID) >= 1


def test_batches_are_repeatable_and_the_noise_is_new_at_every_step():
    run = SMALL
    first, again = run.batch(0), run.batch(0)
    assert torch.equal(first.input_ids, again.input_ids) and torch.equal(first.labels, again.labels)
    later = run.batch(run.steps_per_epoch)  # the next epoch: the same documents in another order, new noise
    assert sorted(run.documents_of(0) + run.documents_of(1)) != sorted(run.documents_of(run.steps_per_epoch))
    epoch = [i for step in range(run.steps_per_epoch) for i in run.documents_of(step)]
    assert len(epoch) == len(set(epoch)) == run.steps_per_epoch * run.batch_size
    assert not torch.equal(later.input_ids, first.input_ids)
    # the same document in two epochs is corrupted differently
    step = next(s for s in range(run.steps_per_epoch, 2 * run.steps_per_epoch) if run.documents_of(0)[0]
                in run.documents_of(s))
    row = run.documents_of(step).index(run.documents_of(0)[0])
    assert first.labels[0].tolist()[:5] == run.batch(step).labels[row].tolist()[:5]
    assert run.batch(step).input_ids[row].tolist() != first.input_ids[0].tolist()


def test_without_permutation_the_kept_tokens_stay_in_order():
    run = replace(SMALL, permute_sentences=False)
    sentences = run.encoded("train")[0]
    original = [t for s in sentences for t in s]
    corrupted = run.corrupt(sentences, torch.Generator().manual_seed(1))
    kept = iter(original)
    assert all(any(t == o for o in kept) for t in corrupted if t != MASK_ID)  # a subsequence of the original


def test_each_noise_records_what_it_hid():
    run = SMALL
    for kind in NOISES:
        for original, corrupted, hidden in run.corrupted_test(kind, 20):
            gone = [original[p] for p in hidden]
            if kind == "token_masking":
                assert len(corrupted) == len(original) and all(corrupted[p] == MASK_ID for p in hidden)
            elif kind == "token_deletion":
                assert corrupted == [t for i, t in enumerate(original) if i not in set(hidden)]
            elif kind in ("sentence_permutation", "document_rotation"):
                assert hidden == [] and Counter(corrupted) == Counter(original)
            if kind in ("token_masking", "token_deletion", "text_infilling", "permutation_and_infilling"):
                assert len(hidden) == math.ceil(0.3 * len(original))
                kept = [t for t in corrupted if t != MASK_ID]
                assert Counter(kept) + Counter(gone) == Counter(original)
    assert run.corrupted_test("text_infilling", 5) == run.corrupted_test("text_infilling", 5)  # a fixed seed
    with pytest.raises(ValueError, match="noise"):
        run.corrupted_test("shuffling", 1)


def test_edit_distance_and_the_alignment():
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([1, 3], [1, 2, 3]) == 1 and edit_distance([], [1, 2]) == 2
    assert edit_distance([2, 3, 1], [1, 2, 3]) == 2  # a rotation by one: one deletion, one insertion
    assert alignment_matches([1, 3], [1, 2, 3]) == {0, 2}
    assert alignment_matches([1, 9, 3], [1, 2, 3]) == {0, 2}
    assert alignment_matches([1, 2, 5, 3], [1, 2, 3]) == {0, 1, 2}


def test_scores_of_perfect_and_of_copied_outputs():
    original = [5, 6, 7, 8]
    perfect = BartPretraining.score([(original, original, [1, 2])])
    assert perfect == {"exact_match": 1.0, "token_accuracy": 1.0, "hidden_restored": 1.0}
    masked = BartPretraining.score([([5, MASK_ID, MASK_ID, 8], original, [1, 2])])
    assert masked == {"exact_match": 0.0, "token_accuracy": 0.5, "hidden_restored": 0.0}
    infilled = infill_spans(original, [(1, 2)], mask=MASK_ID).inputs  # [5, MASK, 8]
    assert BartPretraining.score([(infilled, original, [1, 2])])["token_accuracy"] == 0.5
    assert BartPretraining.score([(original, original, [])])["hidden_restored"] is None


def test_a_model_that_copies_its_input_scores_exactly_as_copying():
    run = SMALL
    results = run.evaluate(Copier(run.config()), n=30)
    assert set(results) == set(NOISES)
    for row in results.values():
        assert row["documents"] == 30
        for key in ("exact_match", "token_accuracy", "hidden_restored", "first_sentence"):
            assert row[key] == row[f"copy_{key}"]
    assert results["token_masking"]["exact_match"] == 0.0 and results["token_masking"]["hidden_restored"] == 0.0
    assert 0.6 < results["token_masking"]["token_accuracy"] < 0.75  # 30 % of the tokens are masks
    assert results["sentence_permutation"]["exact_match"] == results["sentence_permutation"]["unchanged"] > 0


def test_the_learning_rate_warms_up_linearly_then_decays_to_zero():
    run = replace(SMALL, lr=1e-3, warmup=10, steps=40)
    rates = [run.learning_rate(step) for step in range(run.steps)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a < b for a, b in itertools.pairwise(rates[:10]))
    assert all(a > b for a, b in itertools.pairwise(rates[10:]))
    assert run.learning_rate(40) == 0


def test_a_short_run_starts_near_chance_learns_and_repeats():
    run = replace(SMALL, lr=3e-3)
    model = run.build()
    losses = run.train(model, max_steps=25)
    assert losses[0] == pytest.approx(math.log(len(run.tokenizer)), abs=0.5)  # uniform over the vocabulary
    assert sum(losses[-5:]) / 5 < losses[0] - 1.0
    assert not model.training
    assert run.train(run.build(), max_steps=3) == losses[:3]


# --- the shipped checkpoint (tools/bart_checkpoints.py) ------------------------------------------------------


def test_the_shipped_bart_records_how_it_was_made_and_what_it_restores():
    record = training_record("bart")
    run = bart_checkpoints.RUNS["bart"]
    assert record["steps"] == len(record["losses"]) == run.steps
    assert record["vocab"] == list(run.tokenizer.vocab)
    assert record["parameters"] == sum(p.numel() for p in bart_checkpoints.load("bart").parameters())
    assert set(record["results"]) == set(NOISES) and record["live"]["pretraining"]["steps"] == LIVE.steps


def test_the_shipped_bart_is_what_todays_code_trains():
    assert bart_checkpoints.check_one("bart", quick=True) == []


def test_the_shipped_record_supports_what_the_chapter_claims():
    results = training_record("bart")["results"]
    trained, infilling = results["permutation_and_infilling"], results["text_infilling"]
    # the trained noise: the model puts back more than half of what was hidden, copying none of it
    assert trained["hidden_restored"] > 0.5 > 0.2 > trained["copy_hidden_restored"]
    assert trained["token_accuracy"] > trained["copy_token_accuracy"] + 0.2
    assert infilling["hidden_restored"] > 0.5 and infilling["copy_hidden_restored"] < 0.01
    assert infilling["exact_match"] > infilling["copy_exact_match"] == 0.0
    # a mask per token (never trained, but a span of length one) and deletion (never trained): hidden tokens back
    for kind in ("token_masking", "token_deletion"):
        assert results[kind]["hidden_restored"] > 0.5 and results[kind]["copy_hidden_restored"] < 0.01
    # what it never saw without masks, it does not undo: copying the input is better
    for kind in ("sentence_permutation", "document_rotation"):
        assert results[kind]["exact_match"] < results[kind]["copy_exact_match"]
        assert results[kind]["token_accuracy"] < results[kind]["copy_token_accuracy"]
    # … but it puts the story's opening sentence (이/가) first, which copying does only by chance
    assert results["sentence_permutation"]["first_sentence"] > 0.9 > 0.4 > results["sentence_permutation"][
        "copy_first_sentence"]
    assert results["document_rotation"]["first_sentence"] > 0.7 > 0.1 > results["document_rotation"][
        "copy_first_sentence"]
    assert all(row["distinct_outputs"] > 0.95 for row in results.values())  # it reads its input


def test_the_recorded_live_run_is_todays_recipe_and_writes_one_story_for_every_input():
    live = training_record("bart")["live"]
    assert live["pretraining"] == json.loads(json.dumps(asdict(LIVE))) and len(live["losses"]) == LIVE.steps
    assert live["losses"][-1] < live["losses"][0] - 2  # it learns the stories' words …
    for row in live["results"].values():  # … but after seconds it has not learned to read what it is given
        assert row["distinct_outputs"] < 0.05 and row["token_accuracy"] < row["copy_token_accuracy"]


def test_the_check_catches_a_loss_that_differs_and_results_that_differ(monkeypatch):
    record = copy.deepcopy(training_record("bart"))
    record["losses"][4] += 0.01
    record["spot_check"]["text_infilling"]["hidden_restored"] += 0.1
    monkeypatch.setattr(bart_checkpoints, "training_record", lambda name: record)
    monkeypatch.setattr(bart_checkpoints, "PREFIX_STEPS", 6)
    problems = bart_checkpoints.check_one("bart", quick=True)
    assert len(problems) == 2, problems
    assert any("text_infilling.hidden_restored" in line for line in problems)
    assert any("loss at step 5" in line for line in problems)

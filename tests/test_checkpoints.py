"""The shipped models are what today's code trains, checked in a way that holds on any CPU.

Retraining gives the same weights only on the machine that trained them (float sums
differ between CPUs and training amplifies them), so the check compares the recipe
and exact fingerprints of data, batch order and learning rates, the first
PREFIX_STEPS losses of a retraining within a tolerance, and the shipped weights'
test results with the record (see tools/train_checkpoints.py).
"""

import copy

import pytest

from attnbook import checkpoints
from attnbook.experiment import TranslationExperiment, pretrained_path, training_record
from tools import bert_checkpoints, train_checkpoints
from tools.train_checkpoints import MODELS, check_one, recipe


@pytest.fixture(scope="module")
def experiment():
    return TranslationExperiment()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_shipped_model_records_how_it_was_made(name):
    notes = checkpoints.notes(pretrained_path(name))
    assert notes["command"] == "python -m tools.train_checkpoints"
    assert notes["model"] == MODELS[name].model_class.__name__
    record = training_record(name)
    assert len(record["losses"]) == record["steps"] == record["recipe"]["steps"]
    assert record["final_loss"] == round(sum(record["losses"][-20:]) / 20, 4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_shipped_model_is_what_todays_code_trains(name, experiment):
    assert check_one(name, experiment) == []


@pytest.mark.parametrize("name", [name for name, shipped in MODELS.items() if shipped.seed_name])
def test_a_long_run_continues_its_namesake_step_for_step(name):
    short, long = training_record(MODELS[name].seed_name)["losses"], training_record(name)["losses"]
    assert long[:len(short)] == short  # the same machine trained both: the same floats


def test_the_check_names_a_changed_recipe(experiment):
    changed = TranslationExperiment(lr=1e-3)
    problems = check_one("seq2seq", changed)
    assert any("'training'" in line for line in problems), problems
    assert recipe("seq2seq", experiment) != recipe("seq2seq", changed)


def test_the_recipe_fingerprints_the_data_and_the_order(experiment):
    today = recipe("seq2seq", experiment)
    assert recipe("seq2seq", TranslationExperiment(train_size=5999))["data_sha256"] != today["data_sha256"]
    assert recipe("seq2seq_long", experiment)["order_sha256"] != today["order_sha256"]  # 24 epochs, not 12


def test_the_check_catches_a_run_that_trains_differently(experiment, monkeypatch):
    record = copy.deepcopy(training_record("seq2seq"))
    record["losses"][5] += 0.01  # as if step 6 had trained on another batch
    monkeypatch.setattr(train_checkpoints, "training_record", lambda name: record)
    monkeypatch.setattr(train_checkpoints, "PREFIX_STEPS", 8)
    problems = check_one("seq2seq", experiment)
    assert len(problems) == 1 and "loss at step 6" in problems[0], problems


def test_the_check_catches_weights_that_give_other_results(experiment, monkeypatch):
    record = copy.deepcopy(training_record("seq2seq"))
    record["by_length"][0]["exact_match"] -= 2 / 40
    monkeypatch.setattr(train_checkpoints, "training_record", lambda name: record)
    monkeypatch.setattr(train_checkpoints, "PREFIX_STEPS", 2)
    problems = check_one("seq2seq", experiment)
    assert len(problems) == 1 and "1–9 words: exact match" in problems[0], problems


# --- chapter 7's BERTs (tools/bert_checkpoints.py): the same record-and-prefix check ---------------------------

@pytest.mark.parametrize("name", sorted(bert_checkpoints.RUNS))
def test_a_shipped_bert_records_how_it_was_made(name):
    notes = checkpoints.notes(pretrained_path(name))
    assert notes["command"] == "python -m tools.train_checkpoints" and notes["model"] == "BertForPreTraining"
    record = training_record(name)
    assert len(record["losses"]) == len(record["mlm_losses"]) == record["steps"] == bert_checkpoints.RUNS[name].steps
    assert record["vocab"] == list(bert_checkpoints.RUNS[name].tokenizer.vocab)
    assert record["recipe"]["pretraining"]["split"] == list(bert_checkpoints.RUNS[name].split)


@pytest.mark.parametrize("name", sorted(bert_checkpoints.RUNS))
def test_a_shipped_bert_is_what_todays_code_trains(name):
    assert bert_checkpoints.check_one(name) == []


def test_the_two_berts_differ_only_in_what_a_chosen_token_becomes():
    bert, mask_only = bert_checkpoints.recipe("bert"), bert_checkpoints.recipe("bert_mask_only")
    differing = {key for key in bert if bert[key] != mask_only[key]}
    assert differing == {"pretraining"}
    assert {k for k in bert["pretraining"] if bert["pretraining"][k] != mask_only["pretraining"][k]} == {"split"}


def test_the_bert_check_catches_a_loss_that_differs_and_results_that_differ(monkeypatch):
    record = copy.deepcopy(training_record("bert"))
    record["losses"][4] += 0.01
    record["results"]["nsp"]["accuracy"] += 0.02
    monkeypatch.setattr(bert_checkpoints, "training_record", lambda name: record)
    monkeypatch.setattr(bert_checkpoints, "PREFIX_STEPS", 6)
    problems = bert_checkpoints.check_one("bert")
    assert len(problems) == 2, problems
    assert any("nsp.accuracy" in line for line in problems) and any("loss at step 5" in line for line in problems)

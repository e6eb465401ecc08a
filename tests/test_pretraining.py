"""The book's BERT pretraining: its data, schedule and loop, and that each measurement measures what it says.

The measurements are tested on scripted models whose answers are known (a model that
copies what it reads, one that looks only at the previous token), so a wrong count, a
swapped baseline or a misaligned position shows as a wrong number.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import pytest
import torch

import attnbook
from attnbook.bert import BertConfig, PreTrainingOutput
from attnbook.data import corpus
from attnbook.finetuning import AgreementFineTuning
from attnbook.pretraining import BertPretraining, pad_rows
from attnbook.wordpiece import CLS_ID, MASK_ID, PAD_ID, SEP_ID

SMALL = BertPretraining(documents=300, held_out=60, steps=40, warmup=10, batch_size=16, hidden_size=16,
                        num_heads=2, intermediate_size=32)


class Scripted(torch.nn.Module):
    """A stand-in for BertForPreTraining with scripted answers.

    MLM: all mass on the token it reads at each position (``copy``), or on the token
    before it. NSP: always IsNext. Attention: every query on the previous position.
    """

    def __init__(self, config: BertConfig, mlm: str = "copy") -> None:
        super().__init__()
        self.config = config
        self.mlm = mlm

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, *, need_weights=True):
        batch, length = input_ids.shape
        answer = input_ids if self.mlm == "copy" else torch.roll(input_ids, 1, dims=1)
        logits = torch.nn.functional.one_hot(answer, self.config.vocab_size).float() * 10  # (B, T, V)
        previous = torch.zeros(length, length)
        previous[torch.arange(1, length), torch.arange(length - 1)] = 1.0
        previous[0, 0] = 1.0
        attention = previous.expand(batch, self.config.num_heads, length, length)
        nsp = torch.tensor([[5.0, 0.0]]).expand(batch, 2)
        layers = tuple(attention for _ in range(self.config.num_layers)) if need_weights else ()
        return PreTrainingOutput(logits, nsp, torch.zeros(batch, length, self.config.hidden_size), layers)


def test_the_recipe_rejects_impossible_values():
    with pytest.raises(ValueError, match="held_out"):
        BertPretraining(documents=10, held_out=6)
    with pytest.raises(ValueError, match="steps"):
        BertPretraining(steps=0)
    with pytest.raises(ValueError, match="split"):
        BertPretraining(split=[0.8, 0.1, 0.1])
    attnbook.set_language("ko")  # reset by conftest after the test
    with pytest.raises(ValueError, match="양의 정수"):
        BertPretraining(batch_size=-1)


def test_training_and_test_documents_are_disjoint_and_the_vocabulary_is_learned_from_training_only():
    run = SMALL
    assert len(run.train_documents) == 240 and len(run.test_documents) == 60
    assert run.tokenizer == corpus.train_wordpiece(run.train_documents)
    every = corpus.generate_documents(300, seed=0)
    assert list(run.train_documents) == every[:240] and list(run.test_documents) == every[240:]


def test_batches_are_the_epochs_nsp_pairs_in_order_padded_to_their_longest():
    run = SMALL
    inputs, labels = run.batch(0)
    assert inputs.input_ids.shape[0] == labels.shape[0] == run.batch_size
    assert (inputs.input_ids[:, 0] == CLS_ID).all()
    assert inputs.attention_mask[:, -1].any()  # no column of padding only
    assert (inputs.attention_mask == (inputs.input_ids != PAD_ID)).all()
    for row in range(run.batch_size):  # [CLS] A [SEP] B [SEP]: segment 1 starts after the first [SEP]
        ids = inputs.input_ids[row][inputs.attention_mask[row]].tolist()
        first = ids.index(SEP_ID)
        assert ids[-1] == SEP_ID and ids.count(SEP_ID) == 2
        assert inputs.token_type_ids[row, :len(ids)].tolist() == [0] * (first + 1) + [1] * (len(ids) - first - 1)
    epoch_labels = torch.cat([run.batch(step)[1] for step in range(run.steps_per_epoch)])
    assert abs(epoch_labels.float().mean().item() - 0.5) < 0.05  # NSP pairs are 50/50 (the tail is dropped)
    again, _ = run.batch(0)
    assert torch.equal(again.input_ids, inputs.input_ids)
    next_epoch, _ = run.batch(run.steps_per_epoch)
    assert not torch.equal(next_epoch.input_ids, inputs.input_ids)  # new pairs every epoch


def test_the_learning_rate_warms_up_linearly_then_decays_to_zero():
    run = replace(SMALL, lr=1e-3, warmup=10, steps=40)
    rates = [run.learning_rate(step) for step in range(run.steps)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a < b for a, b in itertools.pairwise(rates[:10]))
    assert all(a > b for a, b in itertools.pairwise(rates[10:])) and rates[10] == rates[9]
    assert rates[-1] == pytest.approx(1e-3 / 30) and run.learning_rate(40) == 0


def test_weight_decay_spares_biases_and_layer_norms():
    run = SMALL
    model = run.build()
    groups = run._optimizer(model).param_groups
    decayed = {id(p) for p in groups[0]["params"]}
    names = {name for name, p in model.named_parameters() if id(p) in decayed}
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0
    assert names and not any(name.endswith("bias") or "norm" in name for name in names)
    assert "bert.embeddings.word_embeddings.weight" in names


def test_a_short_run_starts_near_chance_and_learns():
    run = replace(SMALL, lr=3e-3)
    model = run.build()
    losses = run.train(model, max_steps=40)
    assert len(losses.total) == len(losses.mlm) == len(losses.nsp) == 40
    assert losses.mlm[0] == pytest.approx(math.log(len(run.tokenizer)), abs=0.3)  # uniform over the vocabulary
    assert losses.nsp[0] == pytest.approx(math.log(2), abs=0.1)
    assert sum(losses.mlm[-5:]) / 5 < losses.mlm[0] - 0.5
    assert losses.total[3] == pytest.approx(losses.mlm[3] + losses.nsp[3], rel=1e-6)
    assert not model.training  # left in eval mode


def test_a_run_is_repeatable_and_max_steps_is_its_prefix():
    first = SMALL.train(SMALL.build(), max_steps=6).total
    again = SMALL.train(SMALL.build(), max_steps=3).total
    assert again == first[:3]


def test_the_measurements_of_a_model_that_copies_what_it_reads():
    run = SMALL
    results = run.evaluate(Scripted(run.config(), "copy"))
    lm = results["masked_lm"]
    assert lm["kept"]["accuracy"] == 1.0 and lm["masked"]["accuracy"] == 0.0
    assert lm["replaced"]["accuracy"] < 0.05  # a random token is rarely the original
    assert lm["masked"]["positions"] + lm["replaced"]["positions"] + lm["kept"]["positions"] == lm["all"]["positions"]
    assert lm["masked"]["positions"] / lm["all"]["positions"] == pytest.approx(0.8, abs=0.03)
    assert 0 < lm["all"]["most_frequent_accuracy"] < 0.2 and lm["all"]["unigram_loss"] > 2
    copying = results["copying"]
    assert copying["copied"] == 1.0 and copying["restored"] == 0.0
    assert copying["untouched_predicted_as_itself"] == 1.0
    assert results["nsp"]["accuracy"] == 0.5 and 0.9 < results["nsp"]["rule_based"] <= 1.0
    assert results["particles"]["all"]["agreement"] == 0.0  # [MASK] scores above both forms: neither wins


def test_the_measurements_of_a_model_that_looks_at_the_previous_token():
    run = SMALL
    results = run.evaluate(Scripted(run.config(), "previous"))
    attention = results["attention"]
    assert attention["to_noun"] == 1.0 and attention["noun_is_argmax"] == 1.0
    assert attention["previous_token_elsewhere"] == 1.0 and 0 < attention["uniform"] < 0.2
    assert (attention["layer"], attention["head"]) == (0, 0)  # every head alike: the first wins
    particles = results["particles"]
    assert particles["all"]["cases"] == sum(row["cases"] for key, row in particles.items() if key != "all")
    assert 0.4 < particles["all"]["majority_form"] < 0.7


def test_fill_mask_reads_masks_at_the_end_of_a_word_and_rejects_others():
    run = SMALL
    model = Scripted(run.config(), "previous")  # predicts the token before each position
    (top,) = run.fill_mask(model, "학생[MASK] 책을 읽었다", k=1)
    assert top[0][0] == "학생"
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        run.fill_mask(model, "학생[MASK]은 책을")
    with pytest.raises(ValueError):
        run.fill_mask(model, "학생은 책을")


def test_pad_rows_pads_to_the_longest_row():
    inputs = pad_rows([([CLS_ID, 7, SEP_ID], [0, 0, 0]), ([CLS_ID, SEP_ID], [0, 0])])
    assert inputs.input_ids.tolist() == [[CLS_ID, 7, SEP_ID], [CLS_ID, SEP_ID, PAD_ID]]
    assert inputs.special_tokens_mask.tolist() == [[True, False, True], [True, True, True]]
    assert MASK_ID < 7


def test_fine_tuning_examples_come_from_training_documents_and_the_test_from_held_out_ones():
    settings = AgreementFineTuning(test_size=100)
    examples = settings.examples(SMALL, 32, seed=0)
    assert len(examples) == 32 and sum(e.label for e in examples) == 16
    train = {s.text for d in SMALL.train_documents for s in d.sentences}
    held_out = {s.text for d in SMALL.test_documents for s in d.sentences}
    assert all(e.source.text in train for e in examples)
    assert all(e.source.text in held_out for e in settings.test_examples(SMALL))
    assert settings.examples(SMALL, 32, seed=1) != examples


def test_the_label_free_agreement_check_on_scripted_models():
    settings = AgreementFineTuning(test_size=100)
    test = settings.test_examples(SMALL)
    # copying: at a [MASK] both forms score 0, so no sentence is called wrong → the correct half is right
    assert settings.masked_lm_accuracy(SMALL, Scripted(SMALL.config(), "copy"), test) == 0.5


def test_fine_tuning_runs_and_reports_an_accuracy():
    settings = AgreementFineTuning(steps=5, warmup=2, test_size=40)
    accuracy = settings.run(SMALL, None, 8, seed=0)
    assert 0.0 <= accuracy <= 1.0
    with pytest.raises(ValueError):
        AgreementFineTuning(labelled=(3,))


def test_the_shipped_fine_tuning_table_is_todays_and_one_of_its_runs_reproduces():
    from dataclasses import asdict

    from attnbook.experiment import shipped_results
    from attnbook.pretraining import pretrained_bert

    results = shipped_results("bert_finetuning")
    settings = AgreementFineTuning()
    assert results["settings"] == json.loads(json.dumps(asdict(settings)))
    for name, row in results["summary"].items():
        for n, cell in row.items():
            values = [r["accuracy"] for r in results["runs"] if r["encoder"] == name and r["labelled"] == int(n)]
            assert len(values) == len(settings.seeds) and cell["mean"] == round(sum(values) / len(values), 4)
    recorded = next(r["accuracy"] for r in results["runs"]
                    if (r["encoder"], r["labelled"], r["seed"]) == ("bert", 128, 0))
    again = settings.run(BertPretraining(), pretrained_bert("bert"), 128, 0)
    assert again == pytest.approx(recorded, abs=0.03)  # 300 steps of training: close, not bit for bit, elsewhere

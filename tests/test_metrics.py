import pytest
import torch

import attnbook
from attnbook.metrics import bleu, by_length, exact_match
from attnbook.training import sequence_loss, train


def test_exact_match_counts_whole_sentences():
    refs = [["a", "b"], ["c"], ["d", "e", "f"]]
    assert exact_match([["a", "b"], ["c"], ["d", "e"]], refs) == pytest.approx(2 / 3)
    assert exact_match(refs, refs) == 1.0


def test_bleu_is_100_for_perfect_and_lower_otherwise():
    refs = [["바쁜", "학생은", "오늘", "도서관에서", "책을", "천천히", "읽었다"],
            ["친절한", "아이는", "차가운", "우유를", "빨리", "마셨고", "학생이", "이웃을", "만난다"]]
    assert bleu(refs, refs) == pytest.approx(100.0)
    worse = bleu([["바쁜", "학생은", "오늘", "도서관에서", "책을", "읽었다"], refs[1]], refs)
    assert 0 < worse < 100


def test_by_length_buckets_sentences():
    refs = [["a"] * n for n in (3, 5, 12, 15, 25)]
    preds = [list(r) for r in refs]
    preds[3] = ["b"]
    rows = by_length([len(r) for r in refs], preds, refs, edges=[1, 10, 20, 30])
    assert [row["lengths"] for row in rows] == [(1, 9), (10, 19), (20, 29)]
    assert [row["sentences"] for row in rows] == [2, 2, 1]
    assert [row["exact_match"] for row in rows] == [1.0, 0.5, 1.0]


@pytest.mark.parametrize(("predictions", "references"), [([], []), ([["a"]], [["a"], ["b"]])])
def test_metrics_refuse_mismatched_inputs(predictions, references):
    attnbook.set_language("en")
    with pytest.raises(ValueError, match="as many predictions as references"):
        exact_match(predictions, references)


def test_sequence_loss_ignores_padding():
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[1, 2, 0], [3, 0, 0]])
    expected = torch.nn.functional.cross_entropy(logits[targets != 0], targets[targets != 0])
    torch.testing.assert_close(sequence_loss(logits, targets, pad_id=0), expected)
    with pytest.raises(ValueError):
        sequence_loss(logits, targets[:, :2], pad_id=0)


def test_train_refuses_nothing_to_do():
    with pytest.raises(ValueError):
        train(torch.nn.Linear(2, 2), [], epochs=1)

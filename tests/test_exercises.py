"""The exercise contract (DESIGN.md, "Exercises"), for every exercise in the book.

Each exercise needs at least three realistic wrong answers in
``tests/wrong_answers/<chapter module>.py``, each failing with the advice written
for it; adding an exercise without them fails ``test_every_exercise_has_three_wrong_answers``.
"""

from __future__ import annotations

import re

import pytest
import torch

import attnbook
from attnbook.exercises import EXERCISES, ExerciseFailed
from attnbook.exercises.checking import Advice
from tests.wrong_answers import collect

HANGUL = re.compile(r"[\uac00-\ud7a3]")


WRONG_ANSWERS = collect()


def _stub(*args, **kwargs):
    raise NotImplementedError


def test_every_exercise_has_three_wrong_answers():
    assert EXERCISES, "no exercises registered"
    for name in EXERCISES:
        assert len(WRONG_ANSWERS.get(name, [])) >= 3, f"add wrong answers for {name!r}"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_reference_solution_passes(name, capsys, lang):
    attnbook.set_language(lang)
    exercise = EXERCISES[name]
    assert exercise.check(exercise.reference) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_a_stub_prints_not_yet_and_never_raises(name, capsys):
    attnbook.set_language("ko")
    assert EXERCISES[name].check(_stub) is None
    assert capsys.readouterr().out.startswith("⏳ 아직입니다")
    attnbook.set_language("en")
    EXERCISES[name].check(_stub)
    assert capsys.readouterr().out.startswith("⏳ Not yet")


@pytest.mark.parametrize(
    ("name", "advice", "answer"),
    [(name, advice, answer) for name, answers in WRONG_ANSWERS.items() for advice, answer in answers],
)
def test_a_wrong_answer_gets_its_advice(name, advice, answer, lang):
    attnbook.set_language(lang)
    with pytest.raises(ExerciseFailed) as failure:
        EXERCISES[name].check(answer)
    assert failure.value.advice_id == advice, str(failure.value)
    message = str(failure.value)
    assert bool(HANGUL.search(message)) == (lang == "ko"), message
    # IPython shows a one-line message instead of a traceback through the checker
    assert failure.value._render_traceback_() == [f"❌ ExerciseFailed: {message}"]


@pytest.mark.parametrize("name", sorted(EXERCISES))
@pytest.mark.parametrize("thing", [None, [1, 2, 3], "softmax", 3.0, torch.ones(3), torch.nn.Linear])
def test_a_checker_handed_the_wrong_kind_of_thing_says_so(name, thing):
    attnbook.set_language("en")
    with pytest.raises(ExerciseFailed) as failure:
        EXERCISES[name].check(thing)
    assert failure.value.advice_id == "not-a-function"
    assert "should be a function" in str(failure.value)


def test_advice_reads_in_both_languages():
    import importlib
    import pkgutil

    import attnbook.exercises as package

    modules = [importlib.import_module(f"attnbook.exercises.{m.name}") for m in pkgutil.iter_modules(package.__path__)]
    advices = [value for module in modules for value in vars(module).values() if isinstance(value, Advice)]
    assert len({advice.id for advice in advices}) == len(set(advices)), "advice ids must be unique"
    for advice in advices:
        assert HANGUL.search(advice.ko), advice.id
        assert not HANGUL.search(advice.en), advice.id


def test_messages_show_both_languages_until_one_is_chosen():
    with pytest.raises(ExerciseFailed) as failure:
        EXERCISES["softmax"].check(None)
    assert "함수" in str(failure.value) and "function" in str(failure.value)

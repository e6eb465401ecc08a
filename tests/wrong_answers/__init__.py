"""Realistic wrong answers to every exercise, one module per chapter.

Each module defines ``WRONG_ANSWERS = {exercise_name: [(advice_id, wrong_function), ...]}``;
``tests/test_exercises.py`` runs each through its checker and expects that advice.
"""

from __future__ import annotations

import importlib
import pkgutil


def collect() -> dict[str, list[tuple[str, object]]]:
    answers: dict[str, list[tuple[str, object]]] = {}
    for module in pkgutil.iter_modules(__path__):
        found = importlib.import_module(f"{__name__}.{module.name}").WRONG_ANSWERS
        for name, wrong in found.items():
            if name in answers:
                raise ValueError(f"wrong answers for {name!r} are defined twice")
            answers[name] = wrong
    return answers

"""Exercises: the checkers readers call and the reference solutions they are checked against.

One module per chapter holds that chapter's references and checkers; the
checkers are re-exported here, so a notebook writes
``from attnbook.exercises import check_softmax``.
"""

from attnbook.exercises.checking import EXERCISES, ExerciseFailed
from attnbook.exercises.getting_started import check_softmax

__all__ = ["EXERCISES", "ExerciseFailed", "check_softmax"]

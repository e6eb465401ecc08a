"""How exercises are checked: the contract every ``check_<name>`` follows.

A reader's exercise cell defines a function whose body starts as
``raise NotImplementedError``. Its check cell calls ``check_<name>(fn)``:

- on the stub, the check prints a "not yet / 아직" line and returns, so
  "Run all", nbval and the book build pass;
- on a wrong answer it raises :class:`ExerciseFailed` with specific advice in
  the reader's language (see :func:`attnbook.set_language`);
- on a right answer it prints ✅.

Each advice has an ``id`` so tests can assert that a realistic mistake gets the
advice written for it.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from attnbook.language import text

NOT_YET_MARK = "⏳"
PASSED_MARK = "✅"
FAILED_MARK = "❌"


@dataclass(frozen=True)
class Advice:
    """What to tell a reader about one kind of mistake; ``{placeholders}`` are filled in."""

    id: str
    ko: str
    en: str

    def render(self, **values: Any) -> str:
        return text(self.ko.format(**values), self.en.format(**values))


class ExerciseFailed(AssertionError):
    """A wrong answer to an exercise, with advice on what to fix."""

    def __init__(self, exercise: str, advice: Advice, **values: Any) -> None:
        self.exercise = exercise
        self.advice = advice
        self.advice_id = advice.id
        self.values = values  # what filled the advice's {placeholders}
        super().__init__(f"[{exercise}] {advice.render(**values)}")

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback through the checker's internals.
        return [f"{FAILED_MARK} ExerciseFailed: {self}"]


class _Pending(Exception):
    """The reader's function still raises NotImplementedError."""


# Advice that applies to any exercise.
NOT_A_FUNCTION = Advice(
    "not-a-function",
    "`{name}` 자리에는 함수가 와야 합니다. 받은 것: {got}. 함수 이름 뒤에 괄호를 붙이지 말고 함수 자체를 넘기세요.",
    "`{name}` should be a function, but the check received {got}. Pass the function itself, "
    "without calling it.",
)
RAISED = Advice(
    "raised",
    "함수를 실행하다가 오류가 났습니다: {error}",
    "Your function raised an error: {error}",
)
NOT_A_TENSOR = Advice(
    "not-a-tensor",
    "{what}은(는) torch.Tensor여야 하는데 {got}을(를) 돌려주었습니다.{hint}",
    "{what} should be a torch.Tensor, but your function returned {got}.{hint}",
)
WRONG_SHAPE = Advice(
    "wrong-shape",
    "{what}의 모양(shape)이 {expected}여야 하는데 {got}입니다.",
    "{what} should have shape {expected}, but it has shape {got}.",
)
WRONG_DTYPE = Advice(
    "wrong-dtype",
    "{what}의 자료형(dtype)이 {expected}여야 하는데 {got}입니다.",
    "{what} should have dtype {expected}, but it has dtype {got}.",
)
NOT_FINITE = Advice(
    "not-finite",
    "{what}에 nan 또는 inf가 있습니다.",
    "{what} contains nan or inf.",
)


def as_integer(value: Any) -> int | None:
    """``value`` as a Python int if it is a whole number (int, NumPy integer, 3.0, a one-element tensor), else None."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return None


def _describe(obj: Any) -> str:
    """A short, plain description of what the reader handed over or returned."""
    if obj is None:
        return "None"
    if isinstance(obj, torch.Tensor):
        return f"a tensor of shape {tuple(obj.shape)} and dtype {obj.dtype}"
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of length {len(obj)}"
    if type(obj).__module__ == "numpy" and hasattr(obj, "shape"):
        return f"a NumPy array of shape {tuple(obj.shape)}"
    return f"a {type(obj).__name__}"


class Checker:
    """The tools a ``check_<name>`` function uses; every failure names the exercise."""

    def __init__(self, exercise: str) -> None:
        self.exercise = exercise

    def fail(self, advice: Advice, **values: Any) -> None:
        raise ExerciseFailed(self.exercise, advice, **values)

    def function(self, fn: Any) -> Callable[..., Any]:
        if not callable(fn) or isinstance(fn, type):
            self.fail(NOT_A_FUNCTION, name=self.exercise, got=_describe(fn))
        return fn

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the reader's function; a stub ends the check as "not yet"."""
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as error:
            raise _Pending from error
        except ExerciseFailed:
            raise
        except Exception as error:  # the reader's code may raise anything
            self.fail(RAISED, error=f"{type(error).__name__}: {error}")

    def tensor(
        self,
        value: Any,
        *,
        what: str,
        shape: Sequence[int] | None = None,
        dtype: torch.dtype | None = None,
        finite: bool = True,
    ) -> torch.Tensor:
        """Check that ``value`` is a tensor of the given shape and dtype, and return it."""
        if not isinstance(value, torch.Tensor):
            hint = ""
            if isinstance(value, (list, tuple)):
                hint = text(" torch.tensor(...)로 감싸지 말고 텐서 연산 결과를 그대로 돌려주세요.",
                            " Return the tensor itself rather than a Python list.")
            elif type(value).__module__ == "numpy":
                hint = text(" NumPy가 아닌 torch 연산을 쓰세요.", " Use torch operations, not NumPy.")
            self.fail(NOT_A_TENSOR, what=what, got=_describe(value), hint=hint)
        if shape is not None and tuple(value.shape) != tuple(shape):
            self.fail(WRONG_SHAPE, what=what, expected=tuple(shape), got=tuple(value.shape))
        if dtype is not None and value.dtype != dtype:
            self.fail(WRONG_DTYPE, what=what, expected=dtype, got=value.dtype)
        if finite and value.is_floating_point() and not torch.isfinite(value).all():
            self.fail(NOT_FINITE, what=what)
        return value


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name, the package's reference solution, and its checker."""

    name: str
    reference: Callable[..., Any]
    check: Callable[[Any], bool | None]


#: Every exercise in the book, by name (filled in by :func:`exercise`).
EXERCISES: dict[str, Exercise] = {}


def exercise(reference: Callable[..., Any]) -> Callable[[Callable[..., None]], Callable[[Any], bool | None]]:
    """Turn ``body(check, fn)`` into ``check_<name>(fn)`` and register the exercise.

    The exercise is named after its reference solution, which is also the name of
    the function the reader writes.
    """
    name = reference.__name__

    def decorate(body: Callable[..., None]) -> Callable[[Any], bool | None]:
        @functools.wraps(body)
        def check(fn: Any) -> bool | None:
            checker = Checker(name)
            try:
                body(checker, checker.function(fn))
            except _Pending:
                print(NOT_YET_MARK, text(
                    f"아직입니다: `{name}` 함수의 본문을 채운 뒤 이 셀을 다시 실행하세요.",
                    f"Not yet: fill in the body of `{name}`, then run this cell again.",
                ))
                return None
            print(PASSED_MARK, text(f"정답입니다: `{name}`", f"Correct: `{name}`"))
            return True

        check.__name__ = f"check_{name}"
        check.__qualname__ = check.__name__
        check.__doc__ = f"Check the reader's `{name}`: prints ✅ when right, raises ExerciseFailed when wrong."
        check.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        )
        if name in EXERCISES:
            raise ValueError(f"two exercises are named {name!r}")
        EXERCISES[name] = Exercise(name, reference, check)
        return check

    return decorate

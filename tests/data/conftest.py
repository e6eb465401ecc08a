"""Helpers for the data tests: every bad input must be explained in the reader's language."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import attnbook


def _check_both_languages(error: type[Exception], call: Callable[[], object], ko: str, en: str) -> None:
    """``call()`` raises ``error`` whose message has ``ko`` in Korean and ``en`` in English (and not the other)."""
    for code, wanted, other in (("ko", ko, en), ("en", en, ko)):
        attnbook.set_language(code)
        with pytest.raises(error) as info:
            call()
        message = str(info.value.args[0])
        assert wanted in message, (code, message)
        assert other not in message, (code, message)


@pytest.fixture
def raises_in_both_languages() -> Callable[..., None]:
    return _check_both_languages

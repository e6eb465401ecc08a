"""The reader's language (한국어 or English) for messages, labels and checker advice.

The book has two editions. Code cells are shared between them; what a cell
*prints* follows the language chosen by :func:`attnbook.setup` (or
:func:`set_language`). Until a language is chosen, messages are shown in both.
"""

from __future__ import annotations

LANGUAGES = ("ko", "en")

_language: str | None = None


def set_language(language: str) -> None:
    """Choose the language of printed messages: "ko" or "en"."""
    if language not in LANGUAGES:
        raise ValueError(
            f"language must be one of {LANGUAGES}, got {language!r} "
            f"(언어는 {' 또는 '.join(LANGUAGES)} 중 하나여야 합니다)"
        )
    global _language
    _language = language


def get_language() -> str | None:
    """The chosen language, or None if none was chosen yet."""
    return _language


def text(ko: str, en: str) -> str:
    """The message in the reader's language; both, joined by " / ", when none is chosen."""
    if _language == "ko":
        return ko
    if _language == "en":
        return en
    return f"{ko} / {en}"

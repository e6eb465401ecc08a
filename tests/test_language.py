import pytest

import attnbook
from attnbook import text


def test_text_follows_the_chosen_language():
    assert text("안녕", "hello") == "안녕 / hello"  # nothing chosen yet: both
    attnbook.set_language("ko")
    assert text("안녕", "hello") == "안녕"
    attnbook.set_language("en")
    assert text("안녕", "hello") == "hello"
    assert attnbook.get_language() == "en"


@pytest.mark.parametrize("bad", ["kr", "EN", "", None, "english"])
def test_an_unknown_language_is_refused_in_both_languages(bad):
    with pytest.raises(ValueError, match="ko") as error:
        attnbook.set_language(bad)
    assert "언어" in str(error.value) and "language" in str(error.value)

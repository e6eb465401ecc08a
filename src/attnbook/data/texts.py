"""A small Korean and English corpus for the tokenization chapter, written for this book.

Four short paragraphs in each language about looking for a book in a bookstore
and reading it slowly — the lecture notes' bookstore search and "take your
time" → "천천히". The two texts tell the same story but are not line-by-line
translations. Both are NFC-normalised, as text typed on most keyboards is.
"""

from __future__ import annotations

import re

from attnbook.language import text

KOREAN = """\
토요일 오후, 동네 서점에 들렀다. 디스토피아 소설을 한 권 읽고 싶었는데 제목이 도무지 떠오르지 않았다. \
기억나는 것은 표지가 회색이었다는 것과 작가가 영국 사람이라는 것뿐이었다. 서점 직원에게 물어보니, \
직원은 검색대에서 작가의 이름과 책의 제목을 차례로 찾아 주었다. 찾던 책은 소설 코너의 맨 아래 칸에 꽂혀 있었다.

책을 사서 서점 옆 카페에 앉았다. 첫 장을 천천히 읽었다. 책을 빨리 읽으면 줄거리는 금방 알 수 있지만, \
문장의 맛은 놓치기 쉽다. 그래서 나는 좋은 문장을 만나면 읽기를 멈추고 그 문장을 한 번 더 읽는다. \
천천히 읽은 책은 오래 기억에 남는다.

내 친구는 책을 빨리 읽는 사람이다. 친구는 한 달에 열 권을 읽고, 나는 한 달에 두 권을 읽는다. \
그래도 같은 책을 다 읽고 나면 우리는 서로 생각을 나눈다. 친구가 놓친 문장은 내가 찾아 주고, \
내가 놓친 줄거리는 친구가 찾아 준다. 빨리 읽는 사람과 천천히 읽는 사람이 함께 읽으면 책 한 권이 두 배로 넓어진다.

서점 주인은 책을 고르는 손님에게 늘 서두르지 말라고 말한다. 천천히 고르세요. 천천히 읽으세요. \
좋은 책은 기다려 줍니다.
"""

ENGLISH = """\
On Saturday afternoon I stopped at the bookstore in my neighbourhood. I wanted to read a dystopian novel, \
but I could not remember its title. All I remembered was a grey cover and an English author. I asked the \
bookseller, and she searched the catalogue for the author and then for the title. The book I was looking \
for stood on the lowest shelf of the fiction section.

I bought the book and sat down in the cafe next to the bookstore. I read the first chapter slowly. When you \
read quickly, you learn the story fast, but you easily miss the taste of the sentences. So when I meet a \
good sentence, I stop reading and read the sentence once more. A book you read slowly stays in your memory \
for a long time.

My friend is a quick reader. My friend reads ten books a month, and I read two books a month. Still, when \
we have both finished the same book, we share our thoughts. I find the sentences my friend missed, and my \
friend finds the parts of the story I missed. When a quick reader and a slow reader read together, one \
book becomes twice as wide.

The owner of the bookstore always tells customers who are choosing books not to hurry. Take your time \
choosing. Take your time reading. A good book will wait for you.
"""

#: Sentences that are not in the corpus: new words and new forms of old words.
NEW_SENTENCES = {
    "ko": "주인은 서점에서 천천히 읽을 소설을 골라 주었다.",
    "en": "The bookseller slowly chose new novels for the readers.",
}

_CORPORA = {"ko": KOREAN, "en": ENGLISH}


def corpus(language: str) -> str:
    """The chapter's text in ``language`` ("ko" or "en")."""
    if language not in _CORPORA:
        raise KeyError(text(
            f"언어는 {' 또는 '.join(_CORPORA)} 중 하나여야 합니다. 받은 값: {language!r}",
            f"language must be one of {', '.join(_CORPORA)}, got {language!r}",
        ))
    return _CORPORA[language]


def sentences(language: str) -> list[str]:
    """The corpus split into sentences (after ".", "?" or "!"), without line breaks."""
    flat = " ".join(corpus(language).split())
    return [sentence for sentence in re.split(r"(?<=[.?!])\s+", flat) if sentence]

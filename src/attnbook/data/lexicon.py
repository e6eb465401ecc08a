"""The words of the translation task: nouns, verbs with every form written out, adjectives, adverbs.

Every verb form is spelled out in a table rather than produced by rules, so
irregular verbs are right by construction: 돕다 → 도왔다/도울 (ㅂ), 걷다 → 걸었다
(ㄷ), 만들다/놀다 → 만든다/논다 (ㄹ), 쓰다 → 썼다 (ㅡ). Korean verbs are in the
plain written style (해라체): 읽는다, 읽었다, 읽을 것이다.

Nouns say what they can do in a sentence (``kind``) and which adjectives fit
them, so the generator only makes sentences that make sense.
"""

from __future__ import annotations

from dataclasses import dataclass

from attnbook.data.hangul import attach

TENSES = ("present", "past", "future")


@dataclass(frozen=True)
class Noun:
    """A noun in both languages; mass nouns take no "a", proper nouns no article at all."""

    en: str
    ko: str
    kind: str  # "person" | "thing" | "place"
    adjectives: tuple[str, ...] = ()  # English adjectives that fit the noun
    mass: bool = False
    proper: bool = False


@dataclass(frozen=True)
class Verb:
    """A verb in both languages, with the Korean form of each tense and its -고 (and) form.

    ``frame`` says what follows the verb: an "object" (read a book), a
    "destination" (go to the park, (으)로) or an optional "location"
    (play in the park, 에서). ``nouns`` lists the objects or places that fit.
    """

    en: tuple[str, str, str]  # (3rd person present, past, base form after "will")
    ko: tuple[str, str, str, str, str]  # (present, present + -고, past, past + -고, future adnominal)
    frame: str
    nouns: tuple[str, ...]
    companion: bool = True  # may take "with the friend" (친구와)

    def korean(self, tense: str, *, final: bool) -> tuple[str, ...]:
        """The Korean tokens of the verb: one for present and past, two for the future (읽을 것이다)."""
        present, present_and, past, past_and, future = self.ko
        if tense == "present":
            return (present if final else present_and,)
        if tense == "past":
            return (past if final else past_and,)
        return (future, FUTURE if final else FUTURE_AND)

    def english(self, tense: str) -> tuple[str, ...]:
        """The English tokens of the verb: "reads", "read" or "will read"."""
        present, past, base = self.en
        return {"present": (present,), "past": (past,), "future": (WILL, base)}[tense]


WILL, FUTURE, FUTURE_AND = "will", "것이다", "것이고"
AND = "and"

PERSON_ADJECTIVES = ("kind", "happy", "tired", "busy")
PLACE_ADJECTIVES = ("big", "small", "new", "old")

NOUNS: tuple[Noun, ...] = (
    # people: subjects, the people one helps or meets, companions
    Noun("student", "학생", "person", PERSON_ADJECTIVES),
    Noun("neighbor", "이웃", "person", PERSON_ADJECTIVES),
    Noun("boy", "소년", "person", PERSON_ADJECTIVES),
    Noun("friend", "친구", "person", PERSON_ADJECTIVES),
    Noun("child", "아이", "person", PERSON_ADJECTIVES),
    Noun("artist", "화가", "person", PERSON_ADJECTIVES),
    # things
    Noun("book", "책", "thing", ("new", "old")),
    Noun("newspaper", "신문", "thing", ("new", "old")),
    Noun("letter", "편지", "thing", ("long", "old")),
    Noun("apple", "사과", "thing", ("big", "small", "delicious")),
    Noun("cake", "케이크", "thing", ("big", "small", "delicious")),
    Noun("bread", "빵", "thing", ("delicious",), mass=True),
    Noun("rice", "밥", "thing", ("delicious", "hot"), mass=True),
    Noun("water", "물", "thing", ("cold", "hot"), mass=True),
    Noun("coffee", "커피", "thing", ("cold", "hot"), mass=True),
    Noun("milk", "우유", "thing", ("cold",), mass=True),
    # places
    Noun("school", "학교", "place", PLACE_ADJECTIVES),
    Noun("cafe", "카페", "place", PLACE_ADJECTIVES),
    Noun("house", "집", "place", PLACE_ADJECTIVES),
    Noun("park", "공원", "place", PLACE_ADJECTIVES),
    Noun("library", "도서관", "place", PLACE_ADJECTIVES),
    Noun("market", "시장", "place", PLACE_ADJECTIVES),
    Noun("office", "사무실", "place", PLACE_ADJECTIVES),
    Noun("seoul", "서울", "place", proper=True),
)

PEOPLE = tuple(noun.en for noun in NOUNS if noun.kind == "person")
PLACES = tuple(noun.en for noun in NOUNS if noun.kind == "place")

VERBS: tuple[Verb, ...] = (
    #     English forms                     Korean: present, +고, past, +고, future
    Verb(("eats", "ate", "eat"), ("먹는다", "먹고", "먹었다", "먹었고", "먹을"),
         "object", ("apple", "cake", "bread", "rice")),
    Verb(("drinks", "drank", "drink"), ("마신다", "마시고", "마셨다", "마셨고", "마실"),
         "object", ("water", "coffee", "milk")),
    Verb(("reads", "read", "read"), ("읽는다", "읽고", "읽었다", "읽었고", "읽을"),
         "object", ("book", "newspaper", "letter")),
    Verb(("writes", "wrote", "write"), ("쓴다", "쓰고", "썼다", "썼고", "쓸"),
         "object", ("letter", "book")),
    Verb(("buys", "bought", "buy"), ("산다", "사고", "샀다", "샀고", "살"),
         "object", ("book", "newspaper", "apple", "cake", "bread", "coffee", "milk")),
    Verb(("makes", "made", "make"), ("만든다", "만들고", "만들었다", "만들었고", "만들"),
         "object", ("cake", "bread", "coffee")),
    Verb(("helps", "helped", "help"), ("돕는다", "돕고", "도왔다", "도왔고", "도울"),
         "object", PEOPLE, companion=False),
    Verb(("meets", "met", "meet"), ("만난다", "만나고", "만났다", "만났고", "만날"),
         "object", PEOPLE, companion=False),
    Verb(("goes", "went", "go"), ("간다", "가고", "갔다", "갔고", "갈"),
         "destination", PLACES),
    Verb(("returns", "returned", "return"), ("돌아간다", "돌아가고", "돌아갔다", "돌아갔고", "돌아갈"),
         "destination", ("house", "office", "school", "seoul")),
    Verb(("plays", "played", "play"), ("논다", "놀고", "놀았다", "놀았고", "놀"),
         "location", ("park", "house", "school")),
    Verb(("studies", "studied", "study"), ("공부한다", "공부하고", "공부했다", "공부했고", "공부할"),
         "location", ("library", "school", "cafe", "house")),
    Verb(("works", "worked", "work"), ("일한다", "일하고", "일했다", "일했고", "일할"),
         "location", ("office", "market", "cafe", "library", "school", "seoul")),
    Verb(("walks", "walked", "walk"), ("걷는다", "걷고", "걸었다", "걸었고", "걸을"),
         "location", ("park", "market", "seoul")),
)

ADJECTIVES: dict[str, str] = {
    "kind": "친절한", "happy": "행복한", "tired": "피곤한", "busy": "바쁜",
    "big": "큰", "small": "작은", "new": "새", "old": "오래된", "long": "긴",
    "delicious": "맛있는", "hot": "뜨거운", "cold": "차가운",
}

ADVERBS: dict[str, str] = {"slowly": "천천히", "quickly": "빨리", "quietly": "조용히", "happily": "즐겁게"}

# A time word must agree with the tense: "yesterday" only with the past, "tomorrow" only with the future.
TIME_WORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "yesterday": ("어제", ("past",)),
    "today": ("오늘", TENSES),
    "tomorrow": ("내일", ("future",)),
}

# Prepositions become particles: "to the park" → 공원으로, "in the park" → 공원에서, "with a friend" → 친구와.
TO, IN, WITH = "to", "in", "with"
LOCATIVE = "에서"  # one form after both consonants and vowels

# The book's running example, an imperative idiom: "take your time" → "천천히 하세요" (lit. "do it slowly").
IDIOM_EN = ("take", "your", "time")
IDIOM_KO = ("천천히", "하세요")

NOUN_BY_EN: dict[str, Noun] = {noun.en: noun for noun in NOUNS}


def english_words() -> tuple[str, ...]:
    """Every English token the grammar can write, sorted."""
    words = {"a", "an", "the", WILL, AND, TO, IN, WITH, *IDIOM_EN}
    words.update(noun.en for noun in NOUNS)
    words.update(form for verb in VERBS for form in verb.en)
    words.update(ADJECTIVES, ADVERBS, TIME_WORDS)
    return tuple(sorted(words))


def korean_words() -> tuple[str, ...]:
    """Every Korean token (eojeol) the grammar can write, sorted."""
    words = {FUTURE, FUTURE_AND, *IDIOM_KO}
    for noun in NOUNS:
        particles = {"person": ("은/는", "이/가", "을/를", "와/과"), "thing": ("을/를", "와/과"),
                     "place": ("(으)로",)}[noun.kind]
        words.update(attach(noun.ko, particle) for particle in particles)
        if noun.kind == "place":
            words.add(noun.ko + LOCATIVE)
    words.update(form for verb in VERBS for form in verb.ko)
    words.update(ADJECTIVES.values(), ADVERBS.values(), (ko for ko, _ in TIME_WORDS.values()))
    return tuple(sorted(words))

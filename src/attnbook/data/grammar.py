"""The small grammar behind the translation task: clauses drawn at random, written in both languages, and parsed.

English is subject–verb–object, Korean subject–object–verb, so a translator has
to reorder words, and an attention map shows it. One clause::

    the tired student read a book slowly in the library yesterday
    피곤한 학생은 어제 도서관에서 책을 천천히 읽었다

English order:  subject · verb · object(s) · adverb · place · companion · time
Korean order:   subject · time · companion · place · object(s) · adverb · verb

Every choice the Korean makes is read off the English, so translation is a
function and exact match can reach 100 %:

- a definite subject ("the student") is the topic, 은/는: 학생은; an indefinite
  one ("a student") takes 이/가: 학생이;
- objects take 을/를; "X and Y" becomes X와/과 Y을/를; "with the friend" → 친구와;
- "to the park" → 공원으로 ((으)로, but 서울로: ㄹ takes 로); "in the park" → 공원에서;
- present / past / future: "reads" / "read" / "will read" → 읽는다 / 읽었다 / 읽을 것이다;
- clauses joined by "and" (compound sentences) put -고 on every Korean verb but
  the last: 읽고, 읽었고, 읽을 것이고. More clauses, longer sentences: one clause
  has about 8 English tokens, six clauses about 50.

The imperative idiom "take your time" → "천천히 하세요" appears as a sentence of
its own: a one-clause sentence is the idiom with probability ``P_IDIOM``.

Gold alignment: for each Korean token, the English tokens it translates. Articles
and prepositions align with their noun (공원으로 ← to, the, park), "will" with
것이다, a joining "and" with the -고 token or 와/과 noun before it, and the idiom's
two Korean words each with all three English words (an idiom aligns as a phrase).

Shape legend: T target (Korean) length · S source (English) length.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from attnbook.data import lexicon as lx
from attnbook.data.hangul import attach
from attnbook.language import text

P_ADJECTIVE = 0.3  # a noun gets an adjective that fits it
P_TWO_OBJECTS = 0.2  # "a book and a letter"
P_LOCATION = 0.25  # an object verb gets a place ("reads a book in the library")
P_LOCATION_INTRANSITIVE = 0.7  # "plays in the park" rather than "plays"
P_COMPANION = 0.2  # "with a friend"
P_ADVERB = 0.3
P_TIME = 0.3
P_IDIOM = 0.02  # a one-clause sentence is "take your time"


@dataclass(frozen=True)
class SentencePair:
    """An English sentence, its Korean translation, and for each Korean token the English indices it translates."""

    en: tuple[str, ...]
    ko: tuple[str, ...]
    alignment: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "en", tuple(self.en))
        object.__setattr__(self, "ko", tuple(self.ko))
        object.__setattr__(self, "alignment", tuple(tuple(links) for links in self.alignment))
        if not self.en or not self.ko:
            raise ValueError(text("문장 쌍의 영어와 한국어는 비어 있으면 안 됩니다",
                                  "neither side of a sentence pair may be empty"))
        if len(self.alignment) != len(self.ko):
            raise ValueError(text(f"정렬은 한국어 토큰마다 하나씩 {len(self.ko)}개여야 하는데 "
                                  f"{len(self.alignment)}개입니다",
                                  f"the alignment needs one entry per Korean token ({len(self.ko)}), "
                                  f"got {len(self.alignment)}"))
        for links in self.alignment:
            if any(not isinstance(j, int) or not 0 <= j < len(self.en) for j in links):
                raise ValueError(text(f"정렬 {links}에 영어 토큰 범위(0–{len(self.en) - 1}) 밖의 번호가 있습니다",
                                      f"alignment {links} has an index outside the English tokens "
                                      f"(0–{len(self.en) - 1})"))

    def alignment_matrix(self) -> torch.Tensor:
        """The gold alignment as a 0/1 matrix (T, S), laid out like attention weights."""
        matrix = torch.zeros(len(self.ko), len(self.en))  # (T, S)
        for i, links in enumerate(self.alignment):
            matrix[i, list(links)] = 1.0
        return matrix


TAKE_YOUR_TIME = SentencePair(lx.IDIOM_EN, lx.IDIOM_KO, ((0, 1, 2), (0, 1, 2)))

POS = ("noun", "verb", "bound", "adjective", "adverb", "time")  # 것이다/것이고 are "bound" (의존 명사 것 + 이다)


@dataclass(frozen=True)
class Eojeol:
    """One Korean token as the grammar wrote it: 학생은 = stem 학생 + particle form 은 of 은/는.

    ``particle`` names the particle as :data:`attnbook.data.hangul.PARTICLES` does
    ("은/는", "이/가", "을/를", "와/과", "(으)로") or is "에서" (one form only); None
    for a token without one. Verbs, adjectives, adverbs and time words are written
    whole (their forms come from the lexicon's tables), so their ``ending`` is "".
    """

    text: str
    stem: str
    ending: str = ""
    particle: str | None = None
    pos: str = "noun"

    def __post_init__(self) -> None:
        if self.stem + self.ending != self.text or self.pos not in POS or (self.particle is None) != (not self.ending):
            raise ValueError(text(f"어절 {self.text!r}의 분석이 맞지 않습니다: 어간 {self.stem!r} + 어미 "
                                  f"{self.ending!r}, 조사 {self.particle!r}, 품사 {self.pos!r}",
                                  f"inconsistent analysis of {self.text!r}: stem {self.stem!r} + ending "
                                  f"{self.ending!r}, particle {self.particle!r}, part of speech {self.pos!r}"))


@dataclass(frozen=True)
class Phrase:
    """A noun phrase: (article) (adjective) noun."""

    noun: lx.Noun
    article: str | None
    adjective: str | None


@dataclass(frozen=True)
class Clause:
    """What one clause says, before it is written in either language."""

    subject: Phrase
    verb: lx.Verb
    tense: str
    objects: tuple[Phrase, ...]
    place: Phrase | None
    companion: Phrase | None
    adverb: str | None
    time: str | None


def sample_phrase(rng: random.Random, noun_en: str, articles: tuple[str | None, ...] | None = None) -> Phrase:
    """A noun with an article that fits it and, sometimes, an adjective."""
    noun = lx.NOUN_BY_EN[noun_en]
    adjective = rng.choice(noun.adjectives) if noun.adjectives and rng.random() < P_ADJECTIVE else None
    if articles is None:
        articles = (None,) if noun.proper else ("the",) if noun.kind == "place" else \
            (None, "the") if noun.mass else ("a", "the")
    article = rng.choice(articles)
    if article == "a" and (adjective or noun.en)[0] in "aeiou":
        article = "an"
    return Phrase(noun, article, adjective)


def sample_clause(rng: random.Random) -> Clause:
    """One clause: a person does something, with the optional parts drawn at their rates."""
    verb = rng.choice(lx.VERBS)
    tense = rng.choice(lx.TENSES)
    subject = sample_phrase(rng, rng.choice(lx.PEOPLE), ("a", "the"))
    taken = {subject.noun.en}
    objects: tuple[Phrase, ...] = ()
    place = None
    if verb.frame == "object":
        count = 2 if rng.random() < P_TWO_OBJECTS else 1
        names = rng.sample([name for name in verb.nouns if name not in taken], count)
        objects = tuple(sample_phrase(rng, name) for name in names)
        taken.update(names)
        if rng.random() < P_LOCATION:
            place = sample_phrase(rng, rng.choice(lx.PLACES))
    elif verb.frame == "destination" or rng.random() < P_LOCATION_INTRANSITIVE:
        place = sample_phrase(rng, rng.choice(verb.nouns))
    companion = None
    # no companion beside two objects: 학생과 빵과 케이크를 would read as a list of three
    if verb.companion and len(objects) < 2 and rng.random() < P_COMPANION:
        companion = sample_phrase(rng, rng.choice([name for name in lx.PEOPLE if name not in taken]), ("a", "the"))
    adverb = rng.choice(tuple(lx.ADVERBS)) if rng.random() < P_ADVERB else None
    times = [word for word, (_, tenses) in lx.TIME_WORDS.items() if tense in tenses]
    time = rng.choice(times) if rng.random() < P_TIME else None
    return Clause(subject, verb, tense, objects, place, companion, adverb, time)


class Builder:
    """English tokens, then Korean tokens each with the English indices it translates."""

    def __init__(self) -> None:
        self.en: list[str] = []
        self.ko: list[str] = []
        self.alignment: list[tuple[int, ...]] = []
        self.parts: list[tuple[str, str | None, str]] = []  # (stem, particle, part of speech) of each Korean token

    def english(self, *words: str | None) -> tuple[int, ...]:
        start = len(self.en)
        self.en.extend(word for word in words if word is not None)
        return tuple(range(start, len(self.en)))

    def korean(self, token: str, links: tuple[int, ...], pos: str, stem: str | None = None,
               particle: str | None = None) -> None:
        self.ko.append(token)
        self.alignment.append(tuple(sorted(links)))
        self.parts.append((token if stem is None else stem, particle, pos))

    def eojeols(self) -> tuple[Eojeol, ...]:
        return tuple(Eojeol(token, stem, token[len(stem):], particle, pos)
                     for token, (stem, particle, pos) in zip(self.ko, self.parts, strict=True))

    def pair(self) -> SentencePair:
        return SentencePair(tuple(self.en), tuple(self.ko), tuple(self.alignment))


Spans = tuple[tuple[int, ...], tuple[int, ...]]  # (adjective index, preposition + article + noun indices)


def _english_phrase(b: Builder, phrase: Phrase, preposition: str | None = None) -> Spans:
    head = b.english(preposition, phrase.article)
    adjective = b.english(phrase.adjective)
    return adjective, head + b.english(phrase.noun.en)


def _korean_phrase(b: Builder, phrase: Phrase, spans: Spans, particle: str) -> None:
    adjective, head = spans
    if phrase.adjective:
        b.korean(lx.ADJECTIVES[phrase.adjective], adjective, "adjective")
    word = phrase.noun.ko + particle if particle == lx.LOCATIVE else attach(phrase.noun.ko, particle)
    b.korean(word, head, "noun", phrase.noun.ko, particle)


def _english_clause(b: Builder, c: Clause) -> dict[str, Any]:
    """Write the clause in English order; return where each part landed."""
    spans: dict[str, Any] = {"subject": _english_phrase(b, c.subject), "verb": b.english(*c.verb.english(c.tense))}
    objects = [_english_phrase(b, phrase) for phrase in c.objects[:1]]
    for phrase in c.objects[1:]:
        adjective, head = objects[-1]
        objects[-1] = (adjective, head + b.english(lx.AND))  # X와/과 translates "X and"
        objects.append(_english_phrase(b, phrase))
    spans["objects"] = objects
    spans["adverb"] = b.english(c.adverb)
    if c.place:
        spans["place"] = _english_phrase(b, c.place, lx.TO if c.verb.frame == "destination" else lx.IN)
    if c.companion:
        spans["companion"] = _english_phrase(b, c.companion, lx.WITH)
    spans["time"] = b.english(c.time)
    return spans


def _korean_clause(b: Builder, c: Clause, spans: dict[str, Any], joined: tuple[int, ...]) -> None:
    """Write the clause in Korean order; ``joined`` is the "and" after it, if any (→ -고)."""
    topic = c.subject.article == "the"  # a known person is the topic (은/는); a new one the subject (이/가)
    _korean_phrase(b, c.subject, spans["subject"], "은/는" if topic else "이/가")
    if c.time:
        b.korean(lx.TIME_WORDS[c.time][0], spans["time"], "time")
    if c.companion:
        _korean_phrase(b, c.companion, spans["companion"], "와/과")
    if c.place:
        _korean_phrase(b, c.place, spans["place"], "(으)로" if c.verb.frame == "destination" else lx.LOCATIVE)
    for k, (phrase, phrase_spans) in enumerate(zip(c.objects, spans["objects"], strict=True)):
        _korean_phrase(b, phrase, phrase_spans, "을/를" if k == len(c.objects) - 1 else "와/과")
    if c.adverb:
        b.korean(lx.ADVERBS[c.adverb], spans["adverb"], "adverb")
    tokens = c.verb.korean(c.tense, final=not joined)
    if len(tokens) == 1:  # 읽는다 ← reads, 읽고 ← reads and
        b.korean(tokens[0], spans["verb"] + joined, "verb")
    else:  # 읽을 ← read, 것이다 ← will
        will, base = spans["verb"]
        b.korean(tokens[0], (base,), "verb")
        b.korean(tokens[1], (will, *joined), "bound")


def render(clauses: Sequence[Clause]) -> SentencePair:
    """The English sentence of the clauses joined by "and", its Korean translation and the alignment."""
    return _write(clauses).pair()


def render_eojeols(clauses: Sequence[Clause]) -> tuple[SentencePair, tuple[Eojeol, ...]]:
    """What :func:`render` writes, and for each Korean token what it is made of (stem, particle, part of speech)."""
    b = _write(clauses)
    return b.pair(), b.eojeols()


def _write(clauses: Sequence[Clause]) -> Builder:
    b = Builder()
    spans, joins = [], []
    for k, clause in enumerate(clauses):
        if k:
            joins.append(b.english(lx.AND))
        spans.append(_english_clause(b, clause))
    joins.append(())
    for clause, clause_spans, joined in zip(clauses, spans, joins, strict=True):
        _korean_clause(b, clause, clause_spans, joined)
    return b


def sample(rng: random.Random, clauses: int) -> SentencePair:
    """A random sentence of ``clauses`` clauses (or, for one clause, sometimes the idiom)."""
    if clauses == 1 and rng.random() < P_IDIOM:
        return TAKE_YOUR_TIME
    return render([sample_clause(rng) for _ in range(clauses)])


# Parsing English back into clauses: the inverse of render's English side, so
# that any sentence of the grammar (not only sampled ones) can be translated.
_ARTICLES = ("a", "an", "the")
_BY_FORM = [{verb.en[k]: verb for verb in lx.VERBS} for k in range(3)]  # present, past, base
_VERB_STARTS = {lx.WILL} | {form for forms in _BY_FORM for form in forms}


class _Reader:
    """A cursor over English tokens that fails with the position and what was expected."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens, self.i = tuple(tokens), 0

    def peek(self, ahead: int = 0) -> str | None:
        return self.tokens[self.i + ahead] if self.i + ahead < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.i += 1
        return token

    def fail(self, expected_ko: str, expected_en: str) -> ValueError:
        sentence, found, word = " ".join(self.tokens), self.peek(), self.i + 1
        found_ko = "문장이 끝났습니다" if found is None else f"{found!r}이(가) 있습니다"
        found_en = "the sentence ended" if found is None else f"found {found!r}"
        return ValueError(text(f"{sentence!r}: {word}번째 단어는 {expected_ko} 자리인데 {found_ko} "
                               "(이 문법의 단어는 attnbook.data.english_words()에 있습니다)",
                               f"{sentence!r}: word {word} should be {expected_en}, but {found_en} "
                               "(the grammar's words are in attnbook.data.english_words())"))


def _read_phrase(r: _Reader) -> Phrase:
    article = r.take() if r.peek() in _ARTICLES else None
    adjective = r.take() if r.peek() in lx.ADJECTIVES else None
    if r.peek() not in lx.NOUN_BY_EN:
        raise r.fail("명사", "a noun")
    return Phrase(lx.NOUN_BY_EN[r.take()], article, adjective)


def _read_verb(r: _Reader) -> tuple[lx.Verb, str]:
    if r.peek() == lx.WILL:
        r.take()
        if r.peek() not in _BY_FORM[2]:
            raise r.fail("동사 원형", "a verb's base form")
        return _BY_FORM[2][r.take()], "future"
    for forms, tense in ((_BY_FORM[0], "present"), (_BY_FORM[1], "past")):
        if r.peek() in forms:
            return forms[r.take()], tense
    raise r.fail("동사", "a verb")


def _second_object_follows(r: _Reader) -> bool:
    """Whether "and" joins two objects; it joins two clauses when a verb follows the next noun phrase."""
    start = r.i
    try:
        r.take()
        _read_phrase(r)
        return r.peek() not in _VERB_STARTS
    except ValueError:
        return False
    finally:
        r.i = start


def _read_clause(r: _Reader) -> Clause:
    subject = _read_phrase(r)
    verb, tense = _read_verb(r)
    objects = []
    if verb.frame == "object":
        objects.append(_read_phrase(r))
        if r.peek() == lx.AND and _second_object_follows(r):
            r.take()
            objects.append(_read_phrase(r))
    adverb = r.take() if r.peek() in lx.ADVERBS else None
    place = None
    preposition = lx.TO if verb.frame == "destination" else lx.IN
    if r.peek() == preposition:
        r.take()
        place = _read_phrase(r)
    elif verb.frame == "destination":
        raise r.fail(f"전치사 {preposition!r}", f"the preposition {preposition!r}")
    companion = None
    if r.peek() == lx.WITH:
        r.take()
        companion = _read_phrase(r)
    time = r.take() if r.peek() in lx.TIME_WORDS else None
    return Clause(subject, verb, tense, tuple(objects), place, companion, adverb, time)


def parse(tokens: Sequence[str]) -> SentencePair:
    """The pair whose English is ``tokens``: read the clauses, then render them."""
    if tuple(tokens) == lx.IDIOM_EN:
        return TAKE_YOUR_TIME
    r = _Reader(tokens)
    clauses = [_read_clause(r)]
    while r.peek() == lx.AND:
        r.take()
        clauses.append(_read_clause(r))
    if r.peek() is not None:
        raise r.fail("'and' 또는 문장의 끝", "'and' or the end of the sentence")
    return render(clauses)

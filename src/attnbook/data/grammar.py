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
from attnbook.data.hangul import PARTICLES, attach
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


# Reading Korean back into clauses: the inverse of render's Korean side, so that a sentence a
# model wrote can be judged. Korean marks no article on objects, places or companions, so the
# reader gives each the one a first mention takes (a/an, none for mass and proper nouns, "the"
# for places); the subject's is read off its particle (은/는 → "the", 이/가 → "a").
READ_FAULTS = ("unknown word", "particle form", "order", "missing", "selection", "tense", "not a clause", "clauses")

_FORMS = {form: name for name, forms in PARTICLES.items() for form in forms} | {lx.LOCATIVE: lx.LOCATIVE}
_NOUN_BY_KO = {noun.ko: noun for noun in lx.NOUNS}
_VERB_FORMS = {form: (verb, slot) for verb in lx.VERBS for slot, form in enumerate(verb.ko)}  # slot: Verb.ko's index
_ADJECTIVE_BY_KO = {ko: en for en, ko in lx.ADJECTIVES.items()}
_ADVERB_BY_KO = {ko: en for en, ko in lx.ADVERBS.items()}
_TIME_BY_KO = {ko: en for en, (ko, _) in lx.TIME_WORDS.items()}
_SLOT_TENSE = ("present", "present", "past", "past", "future")


class KoreanReadError(ValueError):
    """Why some eojeols are not a sentence the grammar writes: ``kind`` (one of ``READ_FAULTS``) and where."""

    def __init__(self, message: str, kind: str, position: int | None) -> None:
        super().__init__(message)
        self.kind = kind
        self.position = position  # the index of the eojeol at fault; None when the fault is the whole sentence


def analyse_eojeol(word: str) -> Eojeol | None:
    """What an eojeol of the grammar is made of, or None for a word the grammar does not have.

    A known noun followed by any form of a particle is analysed, the wrong form too:
    ``analyse_eojeol("학생는")`` is stem 학생 + 는, a form of 은/는 (:func:`particle_forms` says it disagrees).
    A noun alone (학생) is a noun without a particle.
    """
    if not isinstance(word, str):
        raise TypeError(text(f"어절은 문자열이어야 합니다: {word!r}", f"an eojeol must be a string, got {word!r}"))
    if word in _VERB_FORMS:
        return Eojeol(word, word, pos="verb")
    if word in (lx.FUTURE, lx.FUTURE_AND):
        return Eojeol(word, word, pos="bound")
    for table, pos in ((_ADJECTIVE_BY_KO, "adjective"), (_ADVERB_BY_KO, "adverb"), (_TIME_BY_KO, "time")):
        if word in table:
            return Eojeol(word, word, pos=pos)
    if word in _NOUN_BY_KO:
        return Eojeol(word, word, pos="noun")
    for split in range(len(word) - 1, 0, -1):  # the longest known noun first
        stem, ending = word[:split], word[split:]
        if stem in _NOUN_BY_KO and ending in _FORMS:
            return Eojeol(word, stem, ending, _FORMS[ending], "noun")
    return None


@dataclass(frozen=True)
class ParticleForm:
    """One noun + particle eojeol and whether the particle's form is the one the noun's last syllable asks for."""

    position: int  # the eojeol's index in the sentence
    eojeol: Eojeol
    right: str  # the form the grammar writes: attach(stem, particle) minus the stem

    @property
    def agrees(self) -> bool:
        return self.eojeol.ending == self.right


def particle_forms(words: Sequence[str]) -> tuple[ParticleForm, ...]:
    """Every eojeol of ``words`` that is a known noun with a two-form particle (은/는, 이/가, 을/를, 와/과, (으)로).

    Read eojeol by eojeol, so it works on any sequence, grammatical or not (에서 has one form and is left out).
    """
    found = []
    for position, word in enumerate(_checked_words(words)):
        eojeol = analyse_eojeol(word)
        if eojeol is not None and eojeol.particle in PARTICLES:
            found.append(ParticleForm(position, eojeol, attach(eojeol.stem, eojeol.particle)[len(eojeol.stem):]))
    return tuple(found)


def _checked_words(words: Sequence[str]) -> tuple[str, ...]:
    if isinstance(words, str) or not isinstance(words, Sequence) or not all(isinstance(w, str) for w in words):
        raise TypeError(text(f"어절(문자열)의 리스트나 튜플이 필요합니다 (문장은 .split()으로): {words!r}",
                             f"expected a list or tuple of eojeols (strings; split a sentence with .split()), "
                             f"got {words!r}"))
    return tuple(words)


def _fault(kind: str, position: int | None, words: Sequence[str], ko: str, en: str) -> KoreanReadError:
    where_ko = "" if position is None else f" ({position + 1}번째 어절 {words[position]!r})" \
        if position < len(words) else " (문장 끝)"
    where_en = "" if position is None else f" (eojeol {position + 1}, {words[position]!r})" \
        if position < len(words) else " (at the end)"
    sentence = " ".join(words)
    return KoreanReadError(text(f"{sentence!r}: {ko}{where_ko}", f"{sentence!r}: {en}{where_en}"), kind, position)


def _first_mention(noun: lx.Noun, adjective: str | None) -> Phrase:
    """A noun phrase with the article a first mention takes; Korean writes none, so any would render the same."""
    if noun.proper or noun.mass:
        article = None
    elif noun.kind == "place":
        article = "the"
    else:
        article = "an" if (adjective or noun.en)[0] in "aeiou" else "a"
    return Phrase(noun, article, adjective)


_Read = tuple[lx.Noun, str | None, str | None, int]  # a Korean noun phrase: noun, adjective (English), particle, index


def _read_korean_phrases(eojeols: Sequence[Eojeol], i: int, words: Sequence[str]) -> tuple[list[_Read], int]:
    """The noun phrases from index i on, each (adjective) noun + particle, up to the first word that is neither."""
    phrases = []
    while i < len(eojeols) and eojeols[i].pos in ("adjective", "noun"):
        adjective = None
        if eojeols[i].pos == "adjective":
            adjective = _ADJECTIVE_BY_KO[eojeols[i].text]
            i += 1
            if i >= len(eojeols) or eojeols[i].pos != "noun":
                raise _fault("order", i, words, "관형사형 형용사 뒤에는 명사가 와야 합니다",
                             "an adjective must be followed by its noun")
        if eojeols[i].particle is None:
            raise _fault("missing", i, words, "명사에 조사가 없습니다", "the noun has no particle")
        phrases.append((_NOUN_BY_KO[eojeols[i].stem], adjective, eojeols[i].particle, i))
        i += 1
    return phrases, i


def _korean_roles(verb: lx.Verb, phrases: list[_Read], words: Sequence[str]) -> list[dict[str, list[_Read]]]:
    """The ways to read the noun phrases between subject and verb as companion · place · object(s), in that order.

    A phrase with 와/과 just before the object with 을/를 may be a companion (친구와 빵을 먹었다) or the
    first of two objects (빵과 우유를 샀다); both readings are returned, and the checks keep the one that fits.
    """
    particles = [particle for _, _, particle, _ in phrases]
    readings = []
    k = 0
    companion = []
    if k < len(particles) and particles[k] == "와/과" and k + 1 < len(particles) and particles[k + 1] != "을/를":
        companion, k = [phrases[k]], k + 1  # 와/과 before a place, or before another 와/과: the companion
    place = []
    if k < len(particles) and particles[k] in ("(으)로", lx.LOCATIVE):
        place, k = [phrases[k]], k + 1
    rest = phrases[k:]
    rest_particles = particles[k:]
    if rest_particles in ([], ["을/를"], ["와/과", "을/를"]):
        readings.append({"companion": companion, "place": place, "objects": rest})
    if not companion and not place and rest_particles == ["와/과", "을/를"]:
        readings.append({"companion": rest[:1], "place": [], "objects": rest[1:]})
    if not companion and not place and rest_particles == ["와/과"]:
        readings.append({"companion": rest, "place": [], "objects": []})
    if not readings:
        position = phrases[min(k, len(phrases) - 1)][3]
        expected = " · ".join(["X와/과", "X(으)로 | X에서", "(X와/과) X을/를"])
        raise _fault("order", position, words,
                     f"주어와 동사 사이 명사들의 조사 순서가 이 문법의 순서({expected})가 아닙니다: {particles}",
                     f"the particles of the nouns between subject and verb are not in the grammar's order "
                     f"(companion 와/과 · place (으)로 or 에서 · (X와/과) object 을/를): {particles}")
    return readings


def _check_clause(verb: lx.Verb, tense: str, subject: _Read, time: str | None, roles: dict[str, list[_Read]],
                  words: Sequence[str]) -> None:
    """Raise the first way in which the clause is not one the grammar draws (``sample_clause``'s rules)."""
    def fail(at: _Read | None, ko: str, en: str) -> KoreanReadError:
        return _fault("selection", None if at is None else at[3], words, ko, en)

    for noun, adjective, _, position in (subject, *roles["companion"], *roles["place"], *roles["objects"]):
        if adjective is not None and adjective not in noun.adjectives:
            raise _fault("selection", position - 1, words, f"형용사 {lx.ADJECTIVES[adjective]}은(는) "
                         f"{noun.ko}에 쓰지 않습니다", f"the adjective {adjective!r} does not go with {noun.en!r}")
    if subject[0].kind != "person":
        raise fail(subject, "주어는 사람이어야 합니다", "the subject must be a person")
    objects, place, companion = roles["objects"], roles["place"], roles["companion"]
    if verb.frame == "object":
        if not objects:
            raise _fault("missing", None, words, f"{verb.ko[0]}에는 목적어(을/를)가 필요합니다",
                         f"{verb.en[0]!r} needs an object (을/를)")
        for phrase in objects:
            if phrase[0].en not in verb.nouns:
                raise fail(phrase, f"{phrase[0].ko}은(는) {verb.ko[0]}의 목적어가 될 수 없습니다",
                           f"{phrase[0].en!r} cannot be the object of {verb.en[0]!r}")
    elif objects:
        raise fail(objects[0], f"{verb.ko[0]}은(는) 목적어를 받지 않습니다", f"{verb.en[0]!r} takes no object")
    if len({phrase[0].en for phrase in (subject, *objects, *companion)}) != 1 + len(objects) + len(companion):
        raise fail(None, "한 문장에 같은 사람이나 물건이 두 번 나옵니다", "the same noun plays two parts")
    if verb.frame == "destination" and not place:
        raise _fault("missing", None, words, f"{verb.ko[0]}에는 목적지(으로/로)가 필요합니다",
                     f"{verb.en[0]!r} needs a destination ((으)로)")
    for phrase in place:
        wanted = "(으)로" if verb.frame == "destination" else lx.LOCATIVE
        if phrase[2] != wanted:
            raise fail(phrase, f"{verb.ko[0]}의 장소에는 {wanted}이(가) 붙습니다",
                       f"the place of {verb.en[0]!r} takes {wanted}")
        if phrase[0].kind != "place" or (verb.frame != "object" and phrase[0].en not in verb.nouns):
            raise fail(phrase, f"{phrase[0].ko}은(는) {verb.ko[0]}의 장소가 될 수 없습니다",
                       f"{phrase[0].en!r} cannot be the place of {verb.en[0]!r}")
    for phrase in companion:
        if phrase[0].kind != "person" or not verb.companion or len(objects) > 1:
            raise fail(phrase, f"{phrase[0].ko}와/과 함께는 이 문장에 올 수 없습니다",
                       f"'with {phrase[0].en}' cannot be part of this clause")
    if time is not None and tense not in lx.TIME_WORDS[time][1]:
        raise _fault("tense", None, words, f"{lx.TIME_WORDS[time][0]}와(과) 동사의 시제가 맞지 않습니다",
                     f"{time!r} does not agree with the verb's tense ({tense})")


def _read_korean_clause(eojeols: Sequence[Eojeol], i: int, words: Sequence[str]) -> tuple[Clause, int, bool]:
    """One clause from index i: (the clause, the index after it, whether -고 joins another clause to it)."""
    phrases, j = _read_korean_phrases(eojeols, i, words)
    time = None
    if phrases and j < len(eojeols) and eojeols[j].pos == "time" and len(phrases) == 1:
        time = _TIME_BY_KO[eojeols[j].text]
        more, j = _read_korean_phrases(eojeols, j + 1, words)
        phrases += more
    if not phrases or phrases[0][2] not in ("은/는", "이/가"):
        raise _fault("order", i, words, "절은 주어(은/는, 이/가)로 시작해야 합니다",
                     "a clause must start with its subject (은/는 or 이/가)")
    subject, rest = phrases[0], phrases[1:]
    for phrase in rest:
        if phrase[2] in ("은/는", "이/가"):
            raise _fault("order", phrase[3], words, "주어는 절에 하나뿐이고 맨 앞에 옵니다",
                         "a clause has one subject, and it comes first")
    adverb = None
    if j < len(eojeols) and eojeols[j].pos == "adverb":
        adverb = _ADVERB_BY_KO[eojeols[j].text]
        j += 1
    if j >= len(eojeols) or eojeols[j].pos != "verb":
        found_ko, found_en = ("문장이 끝났습니다", "the sentence ended") if j >= len(eojeols) else \
            ("다른 낱말이 있습니다", "another word is there")
        raise _fault("missing" if j >= len(eojeols) or eojeols[j].pos == "bound" else "order", j, words,
                     f"동사가 와야 할 자리인데 {found_ko}", f"the verb should come here, but {found_en}")
    verb, slot = _VERB_FORMS[eojeols[j].text]
    tense, j = _SLOT_TENSE[slot], j + 1
    if slot == 4:  # 읽을 것이다 / 읽을 것이고
        if j >= len(eojeols) or eojeols[j].text not in (lx.FUTURE, lx.FUTURE_AND):
            raise _fault("missing", j, words, f"미래형 {eojeols[j - 1].text} 뒤에는 {lx.FUTURE}가 와야 합니다",
                         f"the future form {eojeols[j - 1].text} must be followed by {lx.FUTURE}")
        joined, j = eojeols[j].text == lx.FUTURE_AND, j + 1
    else:
        joined = slot in (1, 3)
    if not joined and j < len(eojeols):
        raise _fault("order", j, words, "동사 뒤에 낱말이 더 있습니다 (한국어 동사는 절 끝에 옵니다)",
                     "there are words after the verb (a Korean verb ends its clause)")
    if joined and j >= len(eojeols):
        raise _fault("missing", j, words, "-고로 이어진 다음 절이 없습니다", "-고 joins a clause that never comes")
    fault = None
    for roles in _korean_roles(verb, rest, words):
        try:
            _check_clause(verb, tense, subject, time, roles, words)
        except KoreanReadError as error:
            fault = fault or error
            continue
        noun, adjective, particle, _ = subject
        subject_phrase = _first_mention(noun, adjective) if particle == "이/가" else Phrase(noun, "the", adjective)
        places, companions, objects = ([_first_mention(n, a) for n, a, _, _ in roles[role]]
                                       for role in ("place", "companion", "objects"))
        clause = Clause(subject_phrase, verb, tense, tuple(objects), places[0] if places else None,
                        companions[0] if companions else None, adverb, time)
        return clause, j, joined
    raise fault


def parse_korean(words: Sequence[str]) -> tuple[Clause, ...]:
    """The clauses whose Korean the grammar writes as exactly ``words`` (eojeols), or a :class:`KoreanReadError`.

    The inverse of :func:`render_eojeols` on the Korean side: ``render_eojeols(parse_korean(w))``
    writes ``w`` again, for every sentence the grammar writes and for no other sequence. The error's
    ``kind`` says what is wrong first: a word the grammar does not have ("unknown word"), a particle form
    that disagrees with its noun (학생는, "particle form"), words out of order, a missing verb, object or
    particle ("missing"), words that do not go together (책을 마셨다, "selection"), a time word against
    the tense (내일 … 읽었다, "tense"), or the idiom 천천히 하세요, which is no clause ("not a clause").
    """
    words = _checked_words(words)
    if not words:
        raise _fault("missing", None, words, "빈 문장입니다", "the sentence is empty")
    if words == lx.IDIOM_KO:
        raise _fault("not a clause", None, words, "관용구 '천천히 하세요'는 절이 아닙니다",
                     "the idiom 'take your time' is not a clause")
    eojeols = []
    for position, word in enumerate(words):
        eojeol = analyse_eojeol(word)
        if eojeol is None:
            raise _fault("unknown word", position, words, "이 문법에 없는 어절입니다 "
                         "(attnbook.data.korean_words()에 있습니다)",
                         "the grammar has no such eojeol (they are in attnbook.data.korean_words())")
        eojeols.append(eojeol)
    for form in particle_forms(words):
        if not form.agrees:
            raise _fault("particle form", form.position, words,
                         f"{form.eojeol.stem} 뒤에는 {form.eojeol.ending}이(가) 아니라 {form.right}이(가) 와야 합니다",
                         f"{form.eojeol.stem} takes {form.right}, not {form.eojeol.ending}")
    clauses, i, joined = [], 0, True
    while joined:
        clause, i, joined = _read_korean_clause(eojeols, i, words)
        clauses.append(clause)
    if render_eojeols(clauses)[0].ko != words:  # a safety net: what was read must write the same words
        raise _fault("order", None, words, "이 문법은 이 절을 다르게 씁니다",
                     "the grammar writes these clauses differently")
    return tuple(clauses)

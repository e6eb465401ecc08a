"""A monolingual Korean corpus for BERT: short stories, next-sentence pairs and a particle-agreement task.

Everything comes from the grammar of :mod:`attnbook.data.grammar`, deterministic
from a seed and offline. Each sentence is one clause of that grammar, written by
:func:`~attnbook.data.grammar.render_eojeols`, so it is a sentence the book can
parse and translate (``translate(sentence.english).ko == sentence.words``), and
each of its tokens (eojeol, 어절) says what it is made of: 학생은 = stem 학생 +
particle 은, a form of 은/는 chosen by the final consonant (받침) of 학생.

Documents. A document is a story of 2–5 sentences about one person, its
protagonist. Three cues tie a sentence to the one before it:

1. **The same person.** The first sentence introduces the protagonist with 이/가,
   as Korean introduces a new referent (학생이 …, "a student …"); every later
   sentence keeps that person as its topic with 은/는 (학생은 …, "the student …").
   The protagonist has one adjective, mentioned now and then (피곤한 학생은 …).
2. **Time moves forward.** The story runs over the days 어제 → 오늘 → 내일, and
   the tense follows the day (past → present → future): a sentence is on the
   same day as the one before it or, with probability ``P_NEXT_DAY`` (unless the
   day is already 내일), on the next, never earlier. A sentence that starts a day
   (the first one, or one that moved on) names it (어제, 오늘, 내일) with
   probability ``P_TIME_WORD``; no other sentence names a day.
3. **Something carries over.** With probability ``P_LINK`` a sentence picks up
   an entity of the sentence before it, when there is one to pick up: the
   thing (시장에서 사과를 샀다 → 사과를 먹는다), a person met, helped or come
   along with (친구를 만났다 → 친구와 공원에서 놀았다), or the place (도서관으로
   갔다 → 도서관에서 공부했다). Otherwise the protagonist does something new.

Next-sentence prediction (NSP; Devlin et al. 2019, §3.1, task #2).
:func:`nsp_pairs` takes every sentence A that has a next sentence, in a shuffled
order, and pairs exactly half of them with their real next sentence B and half
with a random B from *another* document. Labels follow 🤗's
``next_sentence_label``: **0 = B follows A (IsNext), 1 = B is random
(NotNext)**; :class:`NSPPair` also has ``is_next`` so nobody has to remember the
number. A random B is drawn uniformly from the *non-first* sentences of the other
documents, since a real next sentence is never a first one: in both classes A
is a uniform non-last sentence and B a (nearly) uniform non-first one, so A
alone or B alone (length, tense, particles — B's subject is always a topic with
은/는) says next to nothing about the label (tested). The relation between A and
B does: the cues above. :func:`rule_based_nsp` reads the first two; its accuracy,
about 0.95 (tested), is what they give away, a yardstick for a model trained on
the text. It errs only on random Bs that happen to keep A's protagonist and
time line.

Downstream tasks the grammar labels. :func:`particle_agreement`: sentences in
which one particle was replaced by its other form (학생는, 책를, 친구이, 집로,
서울으로) against correct sentences, 50/50; a wrong sentence differs from the
correct sentence it was made from in that one particle and nothing else
(label 1 = correct, 0 = wrong, as in CoLA). :func:`tense_examples`: past,
present, future, balanced.

Subwords. :func:`train_wordpiece` learns the book's WordPiece vocabulary
(:mod:`attnbook.wordpiece`) from a corpus. Learning never merges a noun with its
particle, and by default it runs until it stops by itself, when every morpheme
is one token: ``VOCAB_SIZE`` is a cap it does not reach on this grammar (246
tokens from ``generate_documents(6000, seed=0)``; a model's embedding table takes
``len(tokenizer)``). Every noun is then one token, every particle form its own
``##`` token (학생 ##은, 공원 ##으로, and the wrong forms of the agreement task,
학생 ##는), and every other word one token; all tested. With fewer tokens nouns
split (at 200: 화 ##가 ##가, 집 ##에 ##서). The tokens a sentence becomes do not
depend on how many stories the vocabulary was learned from (tested: 2000 and
6000), but the ids do: the merged tokens that encoding never outputs (친절 or
##절한 on the way to 친절한) and the order of all tokens change, so a model keeps
the tokenizer it was trained with. :func:`pair_pieces` lines up each token of
``[CLS] A [SEP] B [SEP]`` with the eojeol it comes from, so masked-token accuracy
can be broken down (particle pieces, function and content words).
"""

from __future__ import annotations

import functools
import gc
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from attnbook.data import lexicon as lx
from attnbook.data.grammar import (
    P_ADJECTIVE,
    P_ADVERB,
    P_COMPANION,
    P_LOCATION,
    P_LOCATION_INTRANSITIVE,
    P_TWO_OBJECTS,
    Clause,
    Eojeol,
    KoreanReadError,
    Phrase,
    parse_korean,
    render_eojeols,
)
from attnbook.data.hangul import PARTICLES, has_final_consonant
from attnbook.language import text
from attnbook.wordpiece import BertInputs, WordPiece, learn_wordpiece

__all__ = ["DAYS", "PARTICLE_KINDS", "VOCAB_SIZE", "AgreementExample", "Document", "Eojeol", "NSPCues", "NSPPair",
           "Piece", "Sentence", "TenseExample", "generate_documents", "nsp_cues", "nsp_inputs", "nsp_pairs",
           "pair_pieces", "particle_agreement", "pieces", "read_sentence", "rule_based_nsp", "sentences_of",
           "tense_examples", "train_wordpiece", "word_counts"]

SENTENCES = (2, 5)  # sentences per document, inclusive
P_NEXT_DAY = 0.4  # the next sentence moves on to the next day
P_TIME_WORD = 0.8  # a sentence that starts a day names it
P_LINK = 0.8  # a sentence picks up the previous sentence's thing, person or place

DAYS = ("yesterday", "today", "tomorrow")  # 어제, 오늘, 내일: the story's days, in order
TENSE_OF_DAY = ("past", "present", "future")
TENSE_ORDER = TENSE_OF_DAY  # the labels of tense_examples: 0 past, 1 present, 2 future

# What each particle marks; the keys are the grammar's names (hangul.PARTICLES, and 에서 with one form).
PARTICLE_KINDS = {"은/는": "topic", "이/가": "subject", "을/를": "object", "와/과": "and/with",
                  "(으)로": "direction", lx.LOCATIVE: "location"}

VOCAB_SIZE = 256  # a cap: learning stops by itself before it, when every morpheme is one token (246 tokens)


# ----------------------------------------------------------------------------------------------- sentences, documents

@dataclass(frozen=True)
class Sentence:
    """One sentence of a story: its Korean tokens with what each is made of, what it says, and its English."""

    eojeols: tuple[Eojeol, ...]
    clause: Clause
    english: tuple[str, ...]

    @property
    def words(self) -> tuple[str, ...]:
        """The Korean tokens (eojeols), as written: ("학생은", "책을", "읽었다")."""
        return tuple(eojeol.text for eojeol in self.eojeols)

    @property
    def text(self) -> str:
        """The Korean sentence: its eojeols joined by spaces."""
        return " ".join(self.words)

    @property
    def tense(self) -> str:
        """"past", "present" or "future" (the story's day: 어제, 오늘, 내일)."""
        return self.clause.tense

    @property
    def protagonist(self) -> str:
        """The Korean noun the sentence is about (its subject): "학생"."""
        return self.clause.subject.noun.ko

    @property
    def entities(self) -> tuple[str, ...]:
        """The Korean nouns of its things, people and place, other than the subject: ("책", "도서관")."""
        phrases = (*self.clause.objects, self.clause.place, self.clause.companion)
        return tuple(phrase.noun.ko for phrase in phrases if phrase is not None)


@dataclass(frozen=True)
class Document:
    """A story: sentences about one protagonist, in order."""

    sentences: tuple[Sentence, ...]

    @property
    def protagonist(self) -> str:
        """The Korean noun every sentence is about: "학생"."""
        return self.sentences[0].protagonist

    @property
    def text(self) -> str:
        """The sentences, one per line."""
        return "\n".join(sentence.text for sentence in self.sentences)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_seed(seed: object) -> None:
    if not _is_int(seed):
        raise TypeError(text(f"seed는 정수여야 합니다 (같은 seed → 같은 말뭉치): {seed!r}",
                             f"seed must be an integer (same seed → same corpus), got {seed!r}"))


def _phrase(noun_en: str, article: str | None, adjective: str | None = None) -> Phrase:
    noun = lx.NOUN_BY_EN[noun_en]
    if noun.proper:
        article = None
    elif article == "a" and (adjective or noun.en)[0] in "aeiou":
        article = "an"
    elif article == "a" and noun.mass:
        article = None
    return Phrase(noun, article, adjective)


def _new_phrase(rng: random.Random, noun_en: str, article: str) -> Phrase:
    """A noun mentioned for the first time, sometimes with an adjective (the grammar's rate)."""
    noun = lx.NOUN_BY_EN[noun_en]
    adjective = rng.choice(noun.adjectives) if noun.adjectives and rng.random() < P_ADJECTIVE else None
    return _phrase(noun_en, "the" if noun.kind == "place" else article, adjective)


def _again(phrase: Phrase) -> Phrase:
    """A noun picked up from the sentence before: now definite, the same adjective or none."""
    return _phrase(phrase.noun.en, "the", phrase.adjective)


def _clause(rng: random.Random, subject: Phrase, verb: lx.Verb, tense: str, time: str | None, *,
            obj: Phrase | None = None, place: Phrase | None = None, companion: Phrase | None = None) -> Clause:
    """A clause with the given parts; the others drawn at the grammar's rates."""
    taken = [subject.noun.en] + [phrase.noun.en for phrase in (obj, companion) if phrase is not None]
    objects: list[Phrase] = []
    if verb.frame == "object":
        wanted = 2 if rng.random() < P_TWO_OBJECTS and companion is None else 1
        if obj is not None:
            objects.append(obj)
        free = [name for name in verb.nouns if name not in taken]
        for name in rng.sample(free, min(wanted - len(objects), len(free))):
            objects.append(_new_phrase(rng, name, "a"))
            taken.append(name)
        if place is None and rng.random() < P_LOCATION:
            place = _new_phrase(rng, rng.choice(lx.PLACES), "the")
    elif place is None and (verb.frame == "destination" or rng.random() < P_LOCATION_INTRANSITIVE):
        place = _new_phrase(rng, rng.choice(verb.nouns), "the")
    if companion is None and verb.companion and len(objects) < 2 and rng.random() < P_COMPANION:
        companion = _new_phrase(rng, rng.choice([name for name in lx.PEOPLE if name not in taken]), "a")
    adverb = rng.choice(tuple(lx.ADVERBS)) if rng.random() < P_ADVERB else None
    return Clause(subject, verb, tense, tuple(objects), place, companion, adverb, time)


def _links(previous: Clause, subject: str) -> list[tuple[str, Phrase, list[lx.Verb]]]:
    """What the next sentence may pick up: (as what, the phrase, the verbs that can take it there)."""
    links = []
    for phrase in previous.objects:
        if phrase.noun.kind == "thing":
            verbs = [v for v in lx.VERBS if v.frame == "object" and phrase.noun.en in v.nouns and v != previous.verb]
            links.append(("object", phrase, verbs))
    people = [phrase for phrase in (*previous.objects, previous.companion)
              if phrase is not None and phrase.noun.kind == "person" and phrase.noun.en != subject]
    for phrase in people:
        links.append(("companion", phrase, [v for v in lx.VERBS if v.companion]))
        links.append(("object", phrase, [v for v in lx.VERBS if v.frame == "object" and phrase.noun.en in v.nouns
                                         and v != previous.verb]))
    if previous.place is not None:
        place = previous.place.noun.en
        links.append(("place", previous.place, [v for v in lx.VERBS if v.frame == "object" or
                                                (v.frame == "location" and place in v.nouns)]))
    return [link for link in links if link[2]]


def _next_clause(rng: random.Random, subject: Phrase, previous: Clause | None, tense: str,
                 time: str | None) -> Clause:
    links = _links(previous, subject.noun.en) if previous is not None else []
    if links and rng.random() < P_LINK:
        role, phrase, verbs = rng.choice(links)
        verb = rng.choice(verbs)
        return _clause(rng, subject, verb, tense, time, **{{"object": "obj"}.get(role, role): _again(phrase)})
    return _clause(rng, subject, rng.choice(lx.VERBS), tense, time)


def _sentence(clause: Clause) -> Sentence:
    pair, eojeols = render_eojeols([clause])
    return Sentence(eojeols, clause, pair.en)


def read_sentence(words: Sequence[str]) -> Sentence:
    """The story sentence written as exactly ``words`` (eojeols), read back by the grammar; else a
    :class:`~attnbook.data.grammar.KoreanReadError` saying why (a story sentence is one clause).

    ``read_sentence(sentence.words)`` renders the same words for every sentence of the stories; the
    Sentence it returns has the clause :func:`~attnbook.data.grammar.parse_korean` reads (articles that
    Korean does not write are a first mention's) and that clause's English.
    """
    clauses = parse_korean(words)
    if len(clauses) != 1:
        raise KoreanReadError(text(f"{' '.join(words)!r}: 이야기의 문장은 절 하나인데 {len(clauses)}개입니다",
                                   f"{' '.join(words)!r}: a story sentence is one clause, this has {len(clauses)}"),
                              "clauses", None)
    return _sentence(clauses[0])


def _document(rng: random.Random, length: int) -> Document:
    noun = lx.NOUN_BY_EN[rng.choice(lx.PEOPLE)]
    adjective = rng.choice(noun.adjectives)  # the protagonist keeps one adjective, mentioned now and then
    day = rng.randrange(len(DAYS))
    sentences: list[Sentence] = []
    previous: Clause | None = None
    for k in range(length):
        new_day = k == 0
        if k and day < len(DAYS) - 1 and rng.random() < P_NEXT_DAY:
            day, new_day = day + 1, True
        time = DAYS[day] if new_day and rng.random() < P_TIME_WORD else None
        subject = _phrase(noun.en, "a" if k == 0 else "the", adjective if rng.random() < P_ADJECTIVE else None)
        previous = _next_clause(rng, subject, previous, TENSE_OF_DAY[day], time)
        sentences.append(_sentence(previous))
    return Document(tuple(sentences))


def generate_documents(n: int, *, seed: int, sentences: tuple[int, int] = SENTENCES) -> list[Document]:
    """``n`` stories, each of a number of sentences drawn uniformly from ``sentences`` (inclusive)."""
    if not _is_int(n) or n < 0:
        raise ValueError(text(f"n은 0 이상의 정수여야 합니다: {n!r}", f"n must be a non-negative integer, got {n!r}"))
    _check_seed(seed)
    bounds = tuple(sentences) if isinstance(sentences, tuple | list) else ()
    if len(bounds) != 2 or not all(_is_int(v) for v in bounds) or not 2 <= bounds[0] <= bounds[1]:
        raise ValueError(text(f"sentences는 2 ≤ 최소 ≤ 최대인 (최소, 최대) 쌍이어야 합니다 (다음 문장이 있으려면 "
                              f"문서마다 두 문장 이상): {sentences!r}",
                              f"sentences must be a pair (low, high) with 2 ≤ low ≤ high (a next sentence needs "
                              f"two sentences per document), got {sentences!r}"))
    rng = random.Random(f"stories/{seed}")
    with _no_garbage_collection():
        return [_document(rng, rng.randint(*bounds)) for _ in range(n)]


@functools.lru_cache(maxsize=4)
def shared_documents(n: int, seed: int) -> tuple[Document, ...]:
    """``generate_documents(n, seed=seed)`` as a tuple, written once per process: chapter 7's BERT and chapter 8's
    GPT train on the same stories, and a chapter that uses both should not write them twice."""
    return tuple(generate_documents(n, seed=seed))


@contextmanager
def _no_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while the stories are written: its passes over tens of thousands of live
    objects, none in a cycle, cost time and free nothing (measured: 1.95 s instead of 1.35 s for 10,000 stories)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sentences_of(documents: Iterable[Document]) -> list[Sentence]:
    """Every sentence of the documents, in order (for masked-LM training without NSP)."""
    return [sentence for document in _checked_documents(documents, 1) for sentence in document.sentences]


def _checked_documents(documents: Iterable[Document], at_least: int) -> list[Document]:
    documents = list(documents) if isinstance(documents, Iterable) else None
    if documents is None or not all(isinstance(document, Document) for document in documents):
        raise TypeError(text("Document의 리스트가 필요합니다 (generate_documents가 만듭니다)",
                             "expected a list of Documents (generate_documents makes them)"))
    if len(documents) < at_least:
        raise ValueError(text(f"문서가 {at_least}개 이상 필요한데 {len(documents)}개입니다",
                              f"need at least {at_least} documents, got {len(documents)}"))
    return documents


def _even_count(n: int | None, available: int, what: tuple[str, str]) -> int:
    if n is None:
        return available - available % 2
    if not _is_int(n) or n < 0 or n % 2 or n > available:
        raise ValueError(text(f"n은 {available} 이하의 0 이상 짝수여야 합니다 (정확히 절반씩 나누려면 짝수; "
                              f"{what[0]}이(가) {available}개 있습니다): {n!r}",
                              f"n must be an even integer from 0 to {available} (even, to split exactly in half; "
                              f"there are {available} {what[1]}), got {n!r}"))
    return n


# ----------------------------------------------------------------------------------- next-sentence prediction (NSP)

@dataclass(frozen=True)
class NSPPair:
    """Sentence A, sentence B, and whether B is A's real next sentence; positions are (document, sentence)."""

    a: Sentence
    b: Sentence
    is_next: bool
    a_position: tuple[int, int]
    b_position: tuple[int, int]

    @property
    def next_sentence_label(self) -> int:
        """🤗's label: 0 = B follows A (IsNext), 1 = B is a random sentence (NotNext)."""
        return 0 if self.is_next else 1


def nsp_pairs(documents: Sequence[Document], *, seed: int, n: int | None = None) -> list[NSPPair]:
    """``n`` NSP pairs (default: one per sentence that has a next one, rounded down to even), exactly half IsNext.

    Each A is used once. A NotNext B is drawn uniformly from the non-first sentences
    of the *other* documents, so that B's own distribution is (nearly) the same in both classes.
    """
    documents = _checked_documents(documents, 2)
    _check_seed(seed)
    rng = random.Random(f"nsp/{seed}")
    with_next = [(d, i) for d, document in enumerate(documents) for i in range(len(document.sentences) - 1)]
    non_first = [(d, i + 1) for d, i in with_next]
    if len({d for d, _ in with_next}) < 2:
        raise ValueError(text("다른 문서에서 B를 뽑으려면 두 문장 이상인 문서가 둘 이상 필요합니다",
                              "a random B from another document needs two or more documents of two or more sentences"))
    n = _even_count(n, len(with_next), ("다음 문장이 있는 문장", "sentences with a next sentence"))
    rng.shuffle(with_next)
    labels = [True] * (n // 2) + [False] * (n // 2)
    rng.shuffle(labels)
    pairs = []
    for (d, i), is_next in zip(with_next[:n], labels, strict=True):
        if is_next:
            b_position = (d, i + 1)
        else:
            b_position = rng.choice(non_first)
            while b_position[0] == d:
                b_position = rng.choice(non_first)
        pairs.append(NSPPair(documents[d].sentences[i], documents[b_position[0]].sentences[b_position[1]], is_next,
                             (d, i), b_position))
    return pairs


@dataclass(frozen=True)
class NSPCues:
    """The three cues that tie a sentence to the one before it (see the module docstring)."""

    same_protagonist: bool  # B's subject is A's subject
    time_forward: bool  # B is on A's day or the next one, and names its day only if it moved on
    shared_entity: bool  # B mentions a thing, person or place of A (other than the subject)


def nsp_cues(a: Sentence, b: Sentence) -> NSPCues:
    """Read the three cues off two sentences."""
    day_a, day_b = TENSE_OF_DAY.index(a.tense), TENSE_OF_DAY.index(b.tense)
    names_day = b.clause.time is not None
    time_forward = day_b == day_a + 1 or (day_b == day_a and not names_day)
    return NSPCues(a.protagonist == b.protagonist, time_forward, bool(set(a.entities) & set(b.entities)))


def rule_based_nsp(a: Sentence, b: Sentence) -> bool:
    """A hand-written NSP classifier: IsNext when B keeps A's protagonist and A's time line."""
    cues = nsp_cues(a, b)
    return cues.same_protagonist and cues.time_forward


def nsp_inputs(pairs: Sequence[NSPPair], tokenizer: WordPiece, *,
               max_length: int | None = None) -> tuple[BertInputs, torch.Tensor]:
    """BERT inputs ``[CLS] A [SEP] B [SEP]`` for the pairs and their ``next_sentence_label`` (B,), 0 = IsNext."""
    if not pairs or not all(isinstance(pair, NSPPair) for pair in pairs):
        raise TypeError(text("NSPPair의 리스트가 필요합니다 (nsp_pairs가 만듭니다)",
                             "expected a non-empty list of NSPPairs (nsp_pairs makes them)"))
    inputs = tokenizer.bert_inputs([(pair.a.text, pair.b.text) for pair in pairs], max_length=max_length)
    return inputs, torch.tensor([pair.next_sentence_label for pair in pairs])


# -------------------------------------------------------------------------------------------- downstream tasks

def _checked_sentences(sentences: Iterable[Sentence]) -> list[Sentence]:
    sentences = list(sentences) if isinstance(sentences, Iterable) else None
    if sentences is None or not all(isinstance(sentence, Sentence) for sentence in sentences):
        raise TypeError(text("Sentence의 리스트가 필요합니다 (sentences_of(documents)가 만듭니다)",
                             "expected a list of Sentences (sentences_of(documents) makes them)"))
    return sentences


def _other_form(eojeol: Eojeol) -> Eojeol:
    """The same noun with the particle's other form: 학생은 → 학생는, 서울로 → 서울으로."""
    after_consonant, after_vowel = PARTICLES[eojeol.particle]
    wrong = after_vowel if eojeol.ending == after_consonant else after_consonant
    return Eojeol(eojeol.stem + wrong, eojeol.stem, wrong, eojeol.particle, eojeol.pos)


@dataclass(frozen=True)
class AgreementExample:
    """A sentence whose particles all agree with their nouns, or one with exactly one wrong particle form."""

    eojeols: tuple[Eojeol, ...]  # what the model reads
    correct: bool
    position: int | None  # the index of the wrong eojeol; None when correct
    source: Sentence  # the correct sentence it was made from

    @property
    def words(self) -> tuple[str, ...]:
        """The Korean tokens (eojeols) as the model reads them, the wrong one included."""
        return tuple(eojeol.text for eojeol in self.eojeols)

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(self.words)

    @property
    def label(self) -> int:
        """1 = correct (acceptable), 0 = a particle disagrees with its noun — CoLA's convention."""
        return int(self.correct)


def particle_agreement(sentences: Iterable[Sentence], *, seed: int, n: int | None = None) -> list[AgreementExample]:
    """``n`` examples (default: every sentence, rounded down to even), exactly half with one particle's wrong form.

    The sentences are shuffled; each is used once, kept as it is or given one wrong
    particle, chosen uniformly among its particles that have two forms.
    """
    sentences = _checked_sentences(sentences)
    _check_seed(seed)
    n = _even_count(n, len(sentences), ("문장", "sentences"))
    rng = random.Random(f"agreement/{seed}")
    chosen = rng.sample(sentences, n)
    wrong = [False] * (n // 2) + [True] * (n // 2)
    rng.shuffle(wrong)
    examples = []
    for sentence, make_wrong in zip(chosen, wrong, strict=True):
        if not make_wrong:
            examples.append(AgreementExample(sentence.eojeols, True, None, sentence))
            continue
        candidates = [k for k, eojeol in enumerate(sentence.eojeols) if eojeol.particle in PARTICLES]
        k = rng.choice(candidates)  # every sentence has one: its subject takes 은/는 or 이/가
        eojeols = (*sentence.eojeols[:k], _other_form(sentence.eojeols[k]), *sentence.eojeols[k + 1:])
        examples.append(AgreementExample(eojeols, False, k, sentence))
    return examples


@dataclass(frozen=True)
class TenseExample:
    """A sentence to classify by its tense."""

    sentence: Sentence

    @property
    def label(self) -> int:
        """0 past, 1 present, 2 future (``TENSE_ORDER``)."""
        return TENSE_ORDER.index(self.sentence.tense)


def tense_examples(sentences: Iterable[Sentence], *, seed: int, per_tense: int) -> list[TenseExample]:
    """``per_tense`` sentences of each tense, shuffled."""
    sentences = _checked_sentences(sentences)
    _check_seed(seed)
    by_tense = {tense: [s for s in sentences if s.tense == tense] for tense in TENSE_ORDER}
    fewest = min(len(found) for found in by_tense.values())
    if not _is_int(per_tense) or not 0 <= per_tense <= fewest:
        raise ValueError(text(f"per_tense는 0 이상 {fewest} 이하의 정수여야 합니다 (가장 적은 시제의 문장 수): "
                              f"{per_tense!r}",
                              f"per_tense must be an integer from 0 to {fewest} (the sentences of the rarest "
                              f"tense), got {per_tense!r}"))
    rng = random.Random(f"tense/{seed}")
    examples = [TenseExample(s) for tense in TENSE_ORDER for s in rng.sample(by_tense[tense], per_tense)]
    rng.shuffle(examples)
    return examples


# ---------------------------------------------------------------------------------------------------------- subwords

def word_counts(sentences: Iterable[Sentence | Document], *,
                split_particles: bool = True) -> dict[str | tuple[str, str], int]:
    """How often each eojeol occurs; with ``split_particles`` a noun with a particle is keyed (stem, particle form)."""
    if isinstance(sentences, str) or not isinstance(sentences, Iterable):
        raise TypeError(text(f"Document나 Sentence의 리스트가 필요합니다: {sentences!r}",
                             f"expected a list of Documents or Sentences, got {sentences!r}"))
    counts: Counter[str | tuple[str, str]] = Counter()
    for item in sentences:
        if isinstance(item, Document):
            eojeols = [eojeol for sentence in item.sentences for eojeol in sentence.eojeols]
        elif isinstance(item, Sentence):
            eojeols = item.eojeols
        else:
            raise TypeError(text(f"Document나 Sentence가 필요합니다: {item!r}",
                                 f"expected Documents or Sentences, got {item!r}"))
        counts.update((e.stem, e.ending) if split_particles and e.ending else e.text for e in eojeols)
    return dict(counts)


def train_wordpiece(sentences: Iterable[Sentence | Document], vocab_size: int = VOCAB_SIZE, *,
                    split_particles: bool = True) -> WordPiece:
    """The book's WordPiece vocabulary, learned from a corpus (documents or sentences).

    With ``split_particles`` learning never merges a noun with its particle (the grammar
    knows where one ends and the other begins), as Korean tokenizers that segment
    morphemes before learning subwords do; without it, plain WordPiece on whole eojeols.
    The default ``vocab_size`` lets learning run until every morpheme is one token.
    """
    return learn_wordpiece(word_counts(sentences, split_particles=split_particles), vocab_size)


@dataclass(frozen=True)
class Piece:
    """One WordPiece token and the eojeol it belongs to (None for [CLS] and [SEP])."""

    token: str
    eojeol: Eojeol | None
    is_particle: bool  # the token is exactly the eojeol's particle form: ##은 of 학생은

    @property
    def category(self) -> str:
        """"special", "particle", "function" (것이다, 것이고) or "content" (nouns, verbs, adjectives, adverbs, days)."""
        if self.eojeol is None:
            return "special"
        if self.is_particle:
            return "particle"
        return "function" if self.eojeol.pos == "bound" else "content"

    @property
    def after_final_consonant(self) -> bool | None:
        """For a particle piece: whether its noun ends in a final consonant (책을 True, 사과를 False); else None."""
        return has_final_consonant(self.eojeol.stem) if self.is_particle else None


def pieces(eojeols: Sentence | AgreementExample | Sequence[Eojeol], tokenizer: WordPiece) -> list[Piece]:
    """The WordPiece tokens of a sentence, each with its eojeol (in the order ``tokenizer.tokenize`` gives them)."""
    if isinstance(eojeols, Sentence | AgreementExample):
        eojeols = eojeols.eojeols
    if isinstance(eojeols, str) or not isinstance(eojeols, Sequence) or \
            not all(isinstance(eojeol, Eojeol) for eojeol in eojeols):
        raise TypeError(text(f"Sentence, AgreementExample 또는 Eojeol의 리스트가 필요합니다: {eojeols!r}",
                             f"expected a Sentence, an AgreementExample or a list of Eojeols, got {eojeols!r}"))
    out = []
    for eojeol in eojeols:
        tokens = tokenizer.encode_word(eojeol.text)
        particle = len(tokens) > 1 and bool(eojeol.ending) and tokens[-1] == "##" + eojeol.ending
        out.extend(Piece(token, eojeol, particle and k == len(tokens) - 1) for k, token in enumerate(tokens))
    return out


def pair_pieces(a: Sentence | AgreementExample | Sequence[Eojeol], b: Sentence | AgreementExample | Sequence[Eojeol],
                tokenizer: WordPiece) -> list[Piece]:
    """The tokens of ``[CLS] A [SEP] B [SEP]`` (the unpadded row of :meth:`WordPiece.bert_inputs`), annotated."""
    cls, sep = Piece("[CLS]", None, False), Piece("[SEP]", None, False)
    return [cls, *pieces(a, tokenizer), sep, *pieces(b, tokenizer), sep]

"""The lecture notes' bookstore, with real sentences: a shelf of short book descriptions and a search over it.

Chapter 4 looked for a "dystopian novel" among eight books whose keys were written by
hand; chapter 7 asks a pretrained sentence encoder for the keys instead. The shelf holds
thirteen invented books (titles and descriptions written for this book): three dystopias
and ten others — cookbook, romance, popular science, travel, children's picture book,
history, mystery, gardening, self-help, poetry. Only one dystopia uses the word "dystopian";
the other two describe a surveillance state and a society that sorts its children,
so matching the query takes more than matching its words.

:func:`rank` scores every description against a query by cosine similarity of the
vectors an embedding function returns — e.g. :func:`attnbook.bert.sentence_embeddings`
of all-MiniLM-L6-v2 — and sorts the shelf, best first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.language import text

__all__ = ["DYSTOPIA", "KOREAN_QUERY", "QUERY", "SHELF", "Book", "Match", "dystopias", "rank"]

QUERY = "dystopian novel"  # the lecture notes' query
KOREAN_QUERY = "디스토피아 소설"  # the same query, as the notes write it
DYSTOPIA = "dystopia"  # the genre label of the books the query looks for


@dataclass(frozen=True)
class Book:
    """One book on the shelf: its title, a genre label and the description a search reads."""

    title: str
    genre: str
    description: str


@dataclass(frozen=True)
class Match:
    """A book and its score against the query (cosine similarity, from -1 to 1)."""

    book: Book
    score: float


SHELF: tuple[Book, ...] = (
    Book("The Quiet Ministry", DYSTOPIA,
         "In a city where every window faces a government camera, a clerk who rewrites old newspapers "
         "starts hiding the originals. A bleak novel about surveillance, obedience and the price of remembering."),
    Book("Salt, Fire and Patience", "cookbook",
         "Ninety recipes for slow weekend cooking: braised short ribs, kimchi stew, sourdough bread and soups "
         "that simmer all afternoon, with a shopping list for every chapter."),
    Book("Letters from the Harbour", "romance",
         "Two strangers trade letters through a little seaside bookshop, each sure the other is someone else. "
         "A warm, funny love story about second chances."),
    Book("The Restless Atom", "science",
         "A physicist explains how atoms, light and energy shape everything from sunsets to smartphones, "
         "with clear drawings and no mathematics beyond school algebra."),
    Book("Ration Day", DYSTOPIA,
         "After the collapse, the state feeds only citizens with a perfect loyalty score. Mara has lost three "
         "points and has one week to win them back before she disappears. A dystopian story of a totalitarian "
         "future."),
    Book("Slow Roads Through Portugal", "travel",
         "A guide for walkers and cyclists: coastal paths, hill villages, where to sleep, what to eat, and how "
         "to cross the country on regional trains."),
    Book("Pip Finds the Moon", "children",
         "A small hedgehog sets out one night to catch the moon in a bucket. A bedtime picture book with gentle "
         "rhymes for ages three to six."),
    Book("The Silk Merchants", "history",
         "The trade routes between China and the Mediterranean, told through the letters, ledgers and diaries "
         "of the merchants who travelled them."),
    Book("The Glass Orchard", DYSTOPIA,
         "Behind the walls of the last city, a machine assigns every child a job, a partner and a date of death. "
         "When a gardener's daughter receives no number at all, she becomes the most hunted girl alive."),
    Book("Death at the Lighthouse", "mystery",
         "The lighthouse keeper is found dead in a locked lamp room, and a retired detective must work out which "
         "of six island guests is lying. A classic whodunit."),
    Book("A Year in the Vegetable Patch", "gardening",
         "Month-by-month advice on growing tomatoes, beans and herbs in a small garden or on a balcony, "
         "with composting and natural pest control."),
    Book("Deep Focus at Work", "self-help",
         "Practical habits for managing time, email and meetings, so that you can do your most important work "
         "without burning out."),
    Book("Rain on the Tin Roof", "poetry",
         "Sixty short poems about childhood summers, grandparents' kitchens and the sound of rain at night."),
)


def dystopias(shelf: Sequence[Book] = SHELF) -> list[Book]:
    """The books on ``shelf`` labelled :data:`DYSTOPIA`, in shelf order."""
    return [book for book in shelf if book.genre == DYSTOPIA]


def rank(query: str, embed: Callable[[list[str]], Tensor], shelf: Sequence[Book] = SHELF) -> list[Match]:
    """Every book on ``shelf`` with its cosine similarity to ``query``, best first (ties keep shelf order).

    ``embed`` maps N texts to an (N, D) tensor; the query and the descriptions are embedded
    together, as keys and query of chapter 4's lookup.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError(text(f"query는 비어 있지 않은 문자열이어야 합니다: {query!r}",
                              f"query must be a non-empty string, got {query!r}"))
    if not shelf:
        raise ValueError(text("책장이 비어 있습니다", "the shelf is empty"))
    vectors = embed([query, *(book.description for book in shelf)])  # (1 + N, D)
    if not isinstance(vectors, Tensor) or vectors.dim() != 2 or vectors.size(0) != len(shelf) + 1:
        shape = tuple(vectors.shape) if isinstance(vectors, Tensor) else type(vectors).__name__
        raise ValueError(text(f"embed는 (텍스트 수, D) = ({len(shelf) + 1}, D) 텐서를 돌려주어야 합니다: {shape}",
                              f"embed must return a ({len(shelf) + 1}, D) tensor (one row per text), got {shape}"))
    scores = F.cosine_similarity(vectors[1:], vectors[:1], dim=-1)  # (N,)
    order = torch.sort(scores, descending=True, stable=True).indices
    return [Match(shelf[i], float(scores[i])) for i in order.tolist()]

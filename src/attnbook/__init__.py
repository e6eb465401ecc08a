"""attnbook: the code behind the book "Attention, from Seq2Seq to T5".

어텐션, Seq2Seq에서 T5까지 — each chapter imports this package and never redefines it.
Importing it has no side effects: language, seeds, threads and fonts are set by
an explicit call to :func:`attnbook.setup`.
"""

from attnbook.language import get_language, set_language, text
from attnbook.runtime import default_device, seed_everything, setup

__version__ = "0.1.0"

__all__ = [
    "default_device",
    "get_language",
    "seed_everything",
    "set_language",
    "setup",
    "text",
]

"""Getting a chapter ready to run: language, seeds, threads, device, fonts."""

from __future__ import annotations

import random

import numpy as np
import torch

from attnbook.language import set_language


def setup(language: str = "ko", seed: int = 0, threads: int | None = 1) -> None:
    """Prepare a notebook: the reader's language, seeds, CPU threads and the Korean font.

    The chapters' models are tiny: one CPU thread runs every chapter within its
    budget (``benchmarks/notebooks.md``), and a fixed thread count keeps the results
    from depending on how many cores the machine has. So ``threads`` defaults to 1;
    pass ``None`` to keep PyTorch's choice.
    """
    from attnbook.viz import use_korean_font  # matplotlib is imported only when needed

    set_language(language)
    seed_everything(seed)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        torch.set_num_threads(threads)
    use_korean_font()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so a chapter runs the same every time."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def default_device() -> torch.device:
    """The GPU when one is available (e.g. a Colab GPU runtime), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")

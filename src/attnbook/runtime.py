"""Getting a chapter ready to run: language, seeds, threads, device, fonts."""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
import torch

from attnbook.language import set_language, text

DEVICE_VARIABLE = "ATTNBOOK_DEVICE"


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
    """The device every chapter runs on: the one way to choose it.

    By default the GPU when one is available (e.g. a Colab GPU runtime), else the CPU. To
    choose, set the environment variable ``ATTNBOOK_DEVICE`` before a chapter runs —
    ``cpu``, ``cuda`` or ``cuda:1`` (in a notebook: ``%env ATTNBOOK_DEVICE=cpu``). A name
    PyTorch does not know, or a GPU this machine lacks, is an error rather than a silent
    fallback. The chapters then do ``model.to(device)``; every recipe and helper runs on
    the device of the model it is given.
    """
    name = os.environ.get(DEVICE_VARIABLE, "").strip()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(text(f"{DEVICE_VARIABLE}={name!r}: 알 수 없는 장치입니다 (예: cpu, cuda, cuda:1)",
                              f"{DEVICE_VARIABLE}={name!r} is not a device (e.g. cpu, cuda, cuda:1)")) from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(text(f"{DEVICE_VARIABLE}={name!r}: cpu나 cuda만 쓸 수 있습니다",
                              f"{DEVICE_VARIABLE}={name!r}: only cpu and cuda are supported"))
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(text(f"{DEVICE_VARIABLE}={name!r}: 이 컴퓨터에는 그 GPU가 없습니다 (GPU {count}개)",
                                  f"{DEVICE_VARIABLE}={name!r}: this machine has no such GPU ({count} GPUs)"))
    return device


def holds_values(tensor: torch.Tensor) -> bool:
    """Whether ``tensor``'s values can be read: False on the ``meta`` device, which keeps only shapes.

    Models check their inputs' values (ids in range, masks of 0 and 1) when there are values
    to check, so a forward pass on ``meta`` traces shapes without reading any.
    """
    return not tensor.is_meta


def device_of(model: torch.nn.Module) -> torch.device:
    """Where ``model``'s parameters are: the device every recipe moves the batches it makes to.

    A model with no parameters (a scripted stand-in) is where its buffers are, else on the CPU.
    """
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return torch.device("cpu") if first is None else first.device

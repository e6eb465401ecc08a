import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import attnbook


def test_setup_sets_language_seed_threads_and_font():
    threads = torch.get_num_threads()
    try:
        attnbook.setup(language="en", seed=3, threads=1)
        assert attnbook.get_language() == "en"
        assert torch.get_num_threads() == 1
        first = (random.random(), np.random.rand(), torch.rand(1).item())
        attnbook.setup(language="en", seed=3, threads=1)
        assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
        import matplotlib.pyplot as plt
        assert "NanumGothic" in plt.rcParams["font.family"]
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_a_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        attnbook.seed_everything(seed)


def test_a_bad_thread_count_is_refused():
    with pytest.raises(ValueError, match="threads"):
        attnbook.setup(language="ko", threads=0)


def test_importing_attnbook_changes_no_settings():
    code = (
        "import matplotlib, torch; before = (list(matplotlib.rcParams['font.family']), torch.get_num_threads());"
        "import attnbook, attnbook.viz, attnbook.exercises;"
        "after = (list(matplotlib.rcParams['font.family']), torch.get_num_threads());"
        "assert before == after, (before, after); assert attnbook.get_language() is None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_device_is_cpu_without_a_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert attnbook.default_device().type == expected

"""The shipped models are what today's code trains: retraining reproduces their weights."""

import os
import subprocess
import sys

import pytest

from attnbook import checkpoints
from attnbook.experiment import pretrained_path
from tools.project import ROOT
from tools.train_checkpoints import MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_shipped_model_records_how_it_was_made(name):
    notes = checkpoints.notes(pretrained_path(name))
    assert notes["command"] == "python -m tools.train_checkpoints"
    assert notes["model"] == MODELS[name].model_class.__name__


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_weights():
    result = subprocess.run([sys.executable, "-m", "tools.train_checkpoints", "--check"], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert result.stdout.count("reproduced") == len(MODELS), result.stdout

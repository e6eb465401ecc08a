"""Saving and loading trained models as safetensors (weights only, never pickle), config included."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from attnbook.language import text


def save(model: nn.Module, path: str | Path, notes: dict[str, str] | None = None) -> None:
    """Write the model's weights, its config and any ``notes`` (as JSON metadata) to ``path``."""
    state, tied, seen = {}, {}, {}
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.stride())
        if key in seen:  # a tied weight (BERT's output layer is its token embedding): stored once
            tied[name] = seen[key]
            continue
        seen[key] = name
        state[name] = tensor.detach().cpu().contiguous()
    metadata = {**(notes or {}), "model": type(model).__name__,
                "config": json.dumps(dataclasses.asdict(model.config))}
    if tied:
        metadata["tied"] = json.dumps(tied)
    save_file(state, str(path), metadata=metadata)


def notes(path: str | Path) -> dict[str, str]:
    """The metadata stored with the weights (model class, config, and the notes given to :func:`save`)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        return dict(file.metadata() or {})


def load(path: str | Path, model_class: type[nn.Module], config_class: type) -> nn.Module:
    """Rebuild a ``model_class`` from a file written by :func:`save`, in eval mode, on the CPU."""
    metadata = notes(path)
    if metadata.get("model") != model_class.__name__:
        raise ValueError(text(
            f"{path}에는 {metadata.get('model')!r} 모델이 저장되어 있습니다 ({model_class.__name__}이 아님)",
            f"{path} holds a {metadata.get('model')!r}, not a {model_class.__name__}",
        ))
    model = model_class(config_class(**json.loads(metadata["config"])))
    state = load_file(str(path))
    for name, source in json.loads(metadata.get("tied", "{}")).items():
        state[name] = state[source]
    model.load_state_dict(state)
    return model.eval()

"""Checkpoints: a model's weights (and its optimizer's state) saved atomically, loaded safely.

A crash mid-save never leaves a half-written file in place of a good one (write, then rename),
and loading refuses to run code hidden in a pickle (``weights_only=True``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int = 0,
    history: dict[str, list[float]] | None = None,
) -> Path:
    """Save weights (and optimizer state, epoch, history) to ``path``.

    Written to a temporary file first and then renamed, so a crash mid-save never leaves a
    half-written checkpoint in place of a good one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": epoch,
        "history": history or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    map_location: str | torch.device = "cpu",
) -> dict:
    """Load a checkpoint saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Uses ``torch.load(weights_only=True)``, which refuses to run code hidden in a pickle.
    Returns the stored ``epoch`` and ``history``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}; train first or check the path.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {err}). "
            "Delete it and train again."
        ) from err
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"The checkpoint {path} was saved from a model of another shape; build the model "
            f"with the same settings it was trained with.\n{err}"
        ) from err
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    return {"epoch": state.get("epoch", 0), "history": state.get("history", {})}

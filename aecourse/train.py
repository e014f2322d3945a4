"""One training loop for every lesson: :func:`fit`.

Lesson 01 writes this loop out by hand; later lessons call :func:`fit`, which adds what a
hand-written loop usually lacks: progress bars, a loss history, seeding, a stop with a clear
message on a non-finite loss, and checkpoints that are saved atomically and loaded safely.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from aecourse.data import batches

LossOutput = torch.Tensor | dict[str, torch.Tensor]
LossFn = Callable[[object, torch.Tensor], LossOutput]
History = dict[str, list[float]]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def progress_enabled(progress: bool | None) -> bool:
    """Progress bars are on unless turned off here or by ``AECOURSE_PROGRESS=0``.

    tqdm.auto ignores ``TQDM_DISABLE`` inside a Jupyter kernel, so the switch is passed
    explicitly as ``disable=``.
    """
    if progress is not None:
        return progress
    return os.environ.get("AECOURSE_PROGRESS", "1") != "0"


def mse_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all pixels: the seed's loss for every plain autoencoder."""
    return nn.functional.mse_loss(output, target)


def _as_dict(loss: LossOutput) -> dict[str, torch.Tensor]:
    return loss if isinstance(loss, dict) else {"loss": loss}


def _split_data(data: torch.Tensor | tuple[torch.Tensor, torch.Tensor], name: str):
    """``data`` is images (targets = inputs, an autoencoder) or an ``(inputs, targets)`` pair."""
    inputs, targets = data if isinstance(data, tuple | list) else (data, data)
    if len(inputs) != len(targets):
        raise ValueError(f"{name}: {len(inputs)} inputs but {len(targets)} targets.")
    if len(inputs) == 0:
        raise ValueError(f"{name} is empty: there is nothing to train or evaluate on.")
    if not (torch.isfinite(inputs).all() and torch.isfinite(targets).all()):
        raise ValueError(f"{name} contains NaN or infinite values; clean the data first.")
    return inputs, targets


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: LossFn = mse_loss,
    batch_size: int = 512,
    corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float]:
    """Average every loss term over ``data`` (weighted by batch size), in eval mode."""
    inputs, targets = _split_data(data, "evaluation data")
    was_training = model.training
    model.eval()
    totals: dict[str, torch.Tensor] = {}
    for idx in batches(len(inputs), batch_size, device=inputs.device):
        x = inputs[idx]
        x = corrupt(x) if corrupt else x
        for key, value in _as_dict(loss_fn(model(x), targets[idx])).items():
            totals[key] = totals.get(key, 0) + value.detach() * len(idx)
    model.train(was_training)
    return {key: (value / len(inputs)).item() for key, value in totals.items()}


def fit(
    model: nn.Module,
    train: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    val: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    loss_fn: LossFn = mse_loss,
    optimizer: torch.optim.Optimizer | None = None,
    corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    checkpoint_path: str | Path | None = None,
    progress: bool | None = None,
    print_every: int = 1,
    start_epoch: int = 1,
    desc: str = "Training",
    mixed_precision: bool = False,
    keep_best: bool = False,
) -> History:
    """Train ``model`` and return its history: one list per loss term and split.

    ``train`` and ``val`` are image tensors on the model's device (an autoencoder's target is
    its input) or ``(inputs, targets)`` pairs. ``loss_fn(output, target)`` returns a scalar or a
    dict with a ``"loss"`` entry plus any parts worth tracking (e.g. a VAE's KL term).
    ``corrupt`` is applied to every input batch, fresh each time (a denoising autoencoder).
    Prints ``Epoch 8 | Train Loss: 0.0293 | Val Loss: 0.0295`` every ``print_every`` epochs;
    ``start_epoch`` numbers the epochs of a run that continues an earlier one.
    ``mixed_precision`` runs the forward pass in bfloat16 (``torch.autocast``): faster on a
    recent GPU, no loss scaling needed; validation stays in float32.
    ``keep_best`` restores, at the end, the weights of the epoch with the lowest validation
    loss (early stopping chosen on val, never on test) and records it as ``best_epoch``.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    train_x, train_y = _split_data(train, "train data")
    _split_data(val, "val data")
    model.to(train_x.device)
    seed_everything(seed)
    shuffle_gen = torch.Generator().manual_seed(seed)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    show = progress_enabled(progress)
    n_batches = -(-len(train_x) // batch_size)
    history: History = {}
    last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best: tuple[float, int, dict] | None = None  # (val loss, epoch, weights) for keep_best

    last_epoch = start_epoch + epochs - 1
    epoch_bar = tqdm(range(start_epoch, last_epoch + 1), desc=desc, unit="epoch", disable=not show)
    batch_bar = tqdm(total=n_batches, unit="batch", leave=False, disable=not show)
    for epoch in epoch_bar:
        model.train()
        batch_bar.reset()
        # Losses stay on the device: no synchronising .item() per step.
        step_losses = torch.zeros(n_batches, device=train_x.device)
        totals: dict[str, torch.Tensor] = {}
        idx_batches = batches(
            len(train_x), batch_size, shuffle=True, generator=shuffle_gen, device=train_x.device
        )
        for b, idx in enumerate(idx_batches):
            x = train_x[idx]
            x = corrupt(x) if corrupt else x
            with torch.autocast(x.device.type, torch.bfloat16, enabled=mixed_precision):
                parts = _as_dict(loss_fn(model(x), train_y[idx]))
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            optimizer.step()
            step_losses[b] = parts["loss"].detach()
            for key, value in parts.items():
                totals[key] = totals.get(key, 0) + value.detach() * len(idx)
            batch_bar.update()

        bad = torch.nonzero(~torch.isfinite(step_losses)).flatten()
        if len(bad):
            model.load_state_dict(last_good)
            first = bad[0].item() + 1
            restored = f"the end of epoch {epoch - 1}" if epoch > start_epoch else "their start"
            raise NonFiniteLossError(
                f"The loss became {step_losses[first - 1].item()} at epoch {epoch}, batch "
                f"{first} of {n_batches}. The model's weights were restored to {restored}. "
                f"Try a lower learning rate (lr={lr}) or check the loss function and the "
                "inputs of that batch."
            )
        last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}

        for key, value in totals.items():
            history.setdefault(f"train_{key}", []).append((value / len(train_x)).item())
        val_parts = evaluate(
            model, val, loss_fn=loss_fn, batch_size=max(batch_size, 512), corrupt=corrupt
        )
        for key, value in val_parts.items():
            history.setdefault(f"val_{key}", []).append(value)
        train_loss, val_loss = history["train_loss"][-1], history["val_loss"][-1]
        epoch_bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if print_every and (epoch % print_every == 0 or epoch == last_epoch):
            print(f"Epoch {epoch} | Train Loss: {train_loss:.4f} | Val Loss: {val_loss:.4f}")
        if keep_best and (best is None or val_loss < best[0]):
            best = (val_loss, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model, optimizer, epoch=epoch, history=history)
    batch_bar.close()
    epoch_bar.close()
    if best is not None:
        model.load_state_dict(best[2])
        history["best_epoch"] = [float(best[1])]
        if print_every:
            print(f"Kept the weights of epoch {best[1]}, the lowest val loss ({best[0]:.4f}).")
    return history


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int = 0,
    history: History | None = None,
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

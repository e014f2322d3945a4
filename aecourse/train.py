"""The training loop of every lesson: :func:`fit` (and :func:`evaluate`, its validation).

Lesson 01 writes this loop out by hand; later lessons call :func:`fit`, which adds what a
hand-written loop usually lacks: progress bars, a loss history, seeding, a stop with a clear
message on a non-finite loss, and checkpoints (:mod:`aecourse.checkpoints`). On a GPU it
also makes each step cheap: the losses stay on the GPU (no synchronisation per step), Adam is
fused, and the step is recorded once as a CUDA graph and replayed
(:mod:`aecourse.cuda_graphs`). Several models at once: :mod:`aecourse.train_many`.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from aecourse import results
from aecourse.checkpoints import save_checkpoint
from aecourse.cuda_graphs import GraphedStep, graphs_available
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


def as_loss_dict(loss: LossOutput) -> dict[str, torch.Tensor]:
    return loss if isinstance(loss, dict) else {"loss": loss}


def split_data(data: torch.Tensor | tuple[torch.Tensor, torch.Tensor], name: str):
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
    inputs, targets = split_data(data, "evaluation data")
    was_training = model.training
    model.eval()
    totals: dict[str, torch.Tensor] = {}
    for idx in batches(len(inputs), batch_size, device=inputs.device):
        x = inputs[idx]
        x = corrupt(x) if corrupt else x
        for key, value in as_loss_dict(loss_fn(model(x), targets[idx])).items():
            totals[key] = totals.get(key, 0) + value.detach() * len(idx)
    model.train(was_training)
    return {key: (value / len(inputs)).item() for key, value in totals.items()}


def make_optimizer(params, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam, as :func:`fit` makes it when it is given none.

    On CUDA it is *fused* (one kernel updates every weight, instead of several per weight) and
    *capturable* (its step can be recorded in a CUDA graph). Elsewhere it is PyTorch's default
    Adam, so results on a CPU stay exactly as they were.
    """
    params = list(params)
    if params and params[0].device.type == "cuda":
        # The learning rate as a tensor on the GPU: a recorded step reads it from there, so a
        # schedule that changes it (set_lr) reaches the replays too.
        lr_tensor = torch.tensor(lr, device=params[0].device)
        return torch.optim.Adam(params, lr=lr_tensor, fused=True, capturable=True)
    return torch.optim.Adam(params, lr=lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every group's learning rate; in place where it is a tensor (see make_optimizer)."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def cosine_schedule(lr: float, epochs: int) -> Callable[[int], float]:
    """The learning rate of epoch 1 to ``epochs``, falling along half a cosine from ``lr``
    towards 0: big steps while far from a minimum, ever finer ones as training ends."""
    return lambda epoch: lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))


class TrainStep:
    """One optimizer step on the batch ``inputs[idx]``: what each iteration of :func:`fit` runs.

    Calling it returns the loss parts stacked into one tensor that stays on the device; their
    names are in ``names``. The loop never reads a loss back in between steps, which would make
    the CPU wait for the GPU (``loss.item()``): it stacks them and reads them once per epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        *,
        loss_fn: LossFn = mse_loss,
        corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None,
        mixed_precision: bool = False,
    ):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.inputs, self.targets = inputs, targets
        self.corrupt, self.mixed_precision = corrupt, mixed_precision
        self.names: list[str] = []

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.inputs[idx]
        x = self.corrupt(x) if self.corrupt else x
        # cache_enabled=False: autocast's cache of cast weights cannot live in a CUDA graph.
        precision = (
            torch.autocast(x.device.type, torch.bfloat16, cache_enabled=False)
            if self.mixed_precision
            else contextlib.nullcontext()
        )
        with precision:
            parts = as_loss_dict(self.loss_fn(self.model(x), self.targets[idx]))
        self.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        self.optimizer.step()
        self.names = list(parts)
        return torch.stack([value.detach().float() for value in parts.values()])


def check_finite(parts: torch.Tensor, epoch: int, restored: str, lr: float, who: str = ""):
    """Raise :class:`NonFiniteLossError` naming the first batch whose loss is NaN or infinite.

    ``parts`` holds the epoch's losses, one row per batch (the loss in column 0).
    """
    bad = torch.nonzero(~torch.isfinite(parts[:, 0])).flatten()
    if len(bad):
        first = bad[0].item()
        raise NonFiniteLossError(
            f"{who}The loss became {parts[first, 0].item()} at epoch {epoch}, batch "
            f"{first + 1} of {len(parts)}. The model's weights were restored to {restored}. "
            f"Try a lower learning rate (lr={lr}) or check the loss function and the "
            "inputs of that batch."
        )


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
    lr_schedule: Callable[[int], float] | None = None,
    cuda_graph: bool = True,
) -> History:
    """Train ``model`` and return its history: one list per loss term and split.

    ``train`` and ``val`` are image tensors on the model's device (an autoencoder's target is
    its input) or ``(inputs, targets)`` pairs. ``loss_fn(output, target)`` returns a scalar or a
    dict with a ``"loss"`` entry plus any parts worth tracking (e.g. a VAE's KL term).
    ``corrupt`` is applied to every input batch, fresh each time (a denoising autoencoder).
    Prints ``Epoch 8 | Train Loss: 0.0293 | Val Loss: 0.0295`` every ``print_every`` epochs;
    ``start_epoch`` numbers the epochs of a run that continues an earlier one.
    ``optimizer`` defaults to :func:`make_optimizer`; pass one to continue with its state.
    ``mixed_precision`` runs the forward pass in bfloat16 (``torch.autocast``): faster on a
    recent GPU, no loss scaling needed; validation stays in float32.
    ``keep_best`` restores, at the end, the weights of the epoch with the lowest validation
    loss (early stopping chosen on val, never on test) and records it as ``best_epoch``.
    ``lr_schedule(epoch)`` gives each epoch's learning rate (e.g. :func:`cosine_schedule`);
    without one, the rate stays ``lr`` (or the given optimizer's).
    ``cuda_graph``: on CUDA, with a capturable optimizer, record the step once as a CUDA graph
    and replay it (:mod:`aecourse.cuda_graphs`); ``False`` runs every step eagerly.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    train_x, train_y = split_data(train, "train data")
    split_data(val, "val data")
    device = train_x.device
    model.to(device)
    seed_everything(seed)
    shuffle_gen = torch.Generator().manual_seed(seed)
    optimizer = optimizer or make_optimizer(model.parameters(), lr)
    train_step = TrainStep(model, optimizer, train_x, train_y, loss_fn=loss_fn, corrupt=corrupt,
                           mixed_precision=mixed_precision)  # fmt: skip
    step = train_step
    if cuda_graph and graphs_available(device, optimizer):
        step = GraphedStep(train_step, optimizer, (min(batch_size, len(train_x)),), device)
    show = progress_enabled(progress)
    n_batches = -(-len(train_x) // batch_size)
    batch_sizes = torch.full((n_batches, 1), float(batch_size), device=device)
    batch_sizes[-1] = len(train_x) - (n_batches - 1) * batch_size
    history: History = {}
    last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best: tuple[float, int, dict] | None = None  # (val loss, epoch, weights) for keep_best

    last_epoch = start_epoch + epochs - 1
    epoch_bar = tqdm(range(start_epoch, last_epoch + 1), desc=desc, unit="epoch", disable=not show)
    batch_bar = tqdm(total=n_batches, unit="batch", leave=False, disable=not show)
    for epoch in epoch_bar:
        model.train()
        batch_bar.reset()
        if lr_schedule is not None:
            set_lr(optimizer, lr_schedule(epoch))
        step_parts = []
        for idx in batches(len(train_x), batch_size, shuffle=True, generator=shuffle_gen,
                           device=device):  # fmt: skip
            step_parts.append(step(idx))
            batch_bar.update()
        parts = torch.stack(step_parts)  # (batches, loss parts), read back once per epoch
        try:
            restored = f"the end of epoch {epoch - 1}" if epoch > start_epoch else "their start"
            check_finite(parts, epoch, restored, lr)
        except NonFiniteLossError:
            model.load_state_dict(last_good)
            raise
        last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}

        means = (parts * batch_sizes).sum(dim=0) / len(train_x)
        for name, value in zip(train_step.names, means.tolist(), strict=True):
            history.setdefault(f"train_{name}", []).append(value)
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
    results.save_progress()  # the lesson's step count, kept even if a later cell fails
    if best is not None:
        model.load_state_dict(best[2])
        history["best_epoch"] = [float(best[1])]
        if print_every:
            print(f"Kept the weights of epoch {best[1]}, the lowest val loss ({best[0]:.4f}).")
    return history

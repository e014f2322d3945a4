"""One training loop for every lesson: :func:`fit`, and two ways to train several models at once.

Lesson 01 writes this loop out by hand; later lessons call :func:`fit`, which adds what a
hand-written loop usually lacks: progress bars, a loss history, seeding, a stop with a clear
message on a non-finite loss, and checkpoints that are saved atomically and loaded safely.
On a GPU it also makes each step cheap: the losses stay on the GPU (no synchronisation per
step), Adam is fused, and the step is recorded once as a CUDA graph and replayed
(:mod:`aecourse.cuda_graphs`).

:func:`fit_together` trains models of any shapes on the same batches in one loop;
:func:`fit_many` trains models of one shape, each on its own data, as one batched model.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from aecourse import results
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
            parts = _as_dict(self.loss_fn(self.model(x), self.targets[idx]))
        self.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        self.optimizer.step()
        self.names = list(parts)
        return torch.stack([value.detach().float() for value in parts.values()])


def _check_finite(parts: torch.Tensor, epoch: int, restored: str, lr: float, who: str = ""):
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
    train_x, train_y = _split_data(train, "train data")
    _split_data(val, "val data")
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
            _check_finite(parts, epoch, restored, lr)
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


class _Together(nn.Module):
    """Several independent models as one module: the output is the list of their outputs."""

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> list:
        return [member(x) for member in self.members]


def fit_together(
    models: Sequence[nn.Module],
    train: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    val: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: LossFn = mse_loss,
    **fit_args,
) -> list[History]:
    """Train independent models (of any shapes) on the same batches, in one run of :func:`fit`.

    Each step sums the models' losses. The gradient of that sum with respect to one model's
    weights is that model's own gradient, and Adam updates every weight on its own, so each
    model trains exactly as it would alone with the same seed, in one pass over the data
    instead of one pass per model. That pays on a GPU, where a step costs about the same
    whatever it computes. Returns one history (``train_loss``, ``val_loss``) per model.
    """
    if not models:
        raise ValueError("fit_together needs at least one model.")

    def summed(outputs: list, target: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = [_as_dict(loss_fn(out, target))["loss"] for out in outputs]
        return {"loss": sum(losses), **{f"model{i}": loss for i, loss in enumerate(losses)}}

    history = fit(_Together(models), train, val, loss_fn=summed, **fit_args)
    return [
        {"train_loss": history[f"train_model{i}"], "val_loss": history[f"val_model{i}"]}
        for i in range(len(models))
    ]


def fit_many(
    models: Sequence[nn.Module],
    train: torch.Tensor,
    subsets: Sequence[torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    loss_fn: LossFn = mse_loss,
    seed: int = 0,
    progress: bool | None = None,
    desc: str = "Training",
    cuda_graph: bool = True,
) -> list[History]:
    """Train models of one architecture side by side, model ``i`` on ``train[subsets[i]]``.

    ``subsets`` are boolean masks or index tensors over ``train``. The models' weights are
    stacked into one set of tensors (``torch.func.stack_module_state``) and their losses are
    computed as one batched model (``torch.func.vmap``), so one step trains every model, each
    on a batch of its own data, with its own Adam statistics and its own random draws. That is
    the same training as one :func:`fit` per model, in as many steps as one of them. Every epoch
    each model takes the same number of batches, as many as the smallest subset fills (the
    rest of a larger subset is left out of that epoch, a different part each time). No
    validation; returns one history (each ``train_`` loss part per epoch) per model.
    """
    from torch.func import functional_call, stack_module_state, vmap

    if len(models) != len(subsets) or not models:
        raise ValueError(f"Give one subset per model: {len(models)} models, {len(subsets)} given.")
    shapes = [[(n, p.shape) for n, p in m.named_parameters()] for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError("fit_many trains models of one architecture; use fit_together for others.")
    if any(len(list(m.buffers())) for m in models):
        raise ValueError("fit_many cannot train models with buffers (e.g. BatchNorm); use fit.")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    _split_data(train, "train data")
    device = train.device
    indices = [s.nonzero().flatten().cpu() if s.dtype == torch.bool else s.cpu() for s in subsets]
    steps = min(len(i) for i in indices) // batch_size
    if steps < 1:
        raise ValueError(
            f"The smallest subset has {min(len(i) for i in indices)} images, fewer than one "
            f"batch of {batch_size}: lower batch_size or give each model more data."
        )
    seed_everything(seed)
    shuffle_gen = torch.Generator().manual_seed(seed)
    params, _ = stack_module_state([m.to(device) for m in models])  # name -> (K, ...) tensors
    template = copy.deepcopy(models[0]).to("meta")  # the architecture, without weights
    optimizer = make_optimizer(params.values(), lr)
    names: list[str] = []

    def one_model(weights: dict, x: torch.Tensor) -> torch.Tensor:
        parts = _as_dict(loss_fn(functional_call(template, weights, (x,)), x))
        names[:] = parts
        return torch.stack([value.float() for value in parts.values()])

    all_models = vmap(one_model, randomness="different")  # (K, B, ...) batches -> (K, parts)

    def step(idx: torch.Tensor) -> torch.Tensor:
        parts = all_models(params, train[idx])
        optimizer.zero_grad(set_to_none=True)
        parts[:, 0].sum().backward()  # each model's gradient is that of its own loss
        optimizer.step()
        return parts.detach()

    if cuda_graph and graphs_available(device, optimizer):
        step = GraphedStep(step, optimizer, (len(models), batch_size), device)

    def copy_weights(weights: dict) -> None:
        with torch.no_grad():
            for i, model in enumerate(models):
                for name, p in model.named_parameters():
                    p.copy_(weights[name][i])

    histories: list[History] = [{} for _ in models]
    last_good = {k: v.detach().clone() for k, v in params.items()}
    for epoch in tqdm(range(1, epochs + 1), desc=desc, unit="epoch",
                      disable=not progress_enabled(progress)):  # fmt: skip
        taken = [i[torch.randperm(len(i), generator=shuffle_gen)[: steps * batch_size]]
                 for i in indices]  # fmt: skip
        order = torch.stack(taken).view(len(models), steps, batch_size).to(device)
        parts = torch.stack([step(order[:, s]) for s in range(steps)])  # (steps, K, parts)
        for i, history in enumerate(histories):
            try:
                restored = f"the end of epoch {epoch - 1}" if epoch > 1 else "their start"
                _check_finite(parts[:, i], epoch, restored, lr, who=f"Model {i}: ")
            except NonFiniteLossError:
                copy_weights(last_good)
                raise
            for name, value in zip(names, parts[:, i].mean(dim=0).tolist(), strict=True):
                history.setdefault(f"train_{name}", []).append(value)
        last_good = {k: v.detach().clone() for k, v in params.items()}
    copy_weights(params)
    results.save_progress()
    return histories


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

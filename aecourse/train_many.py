"""Training several models at once, as fast as one: :func:`fit_together` and :func:`fit_many`.

:func:`fit_together` trains models of any shapes on the same batches in one run of
:func:`aecourse.train.fit` (Lesson 01's seven latent sizes); :func:`fit_many` trains models of
one shape, each on its own data, as one batched model (Lesson 03's ten anomaly detectors).
Each model ends as it would after its own ``fit`` with the same seed; on a GPU, where a small
model's step costs about the same whatever it computes, that is several times fewer steps.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from aecourse import results
from aecourse.cuda_graphs import GraphedStep, graphs_available
from aecourse.train import (
    History,
    LossFn,
    NonFiniteLossError,
    as_loss_dict,
    check_finite,
    fit,
    make_optimizer,
    mse_loss,
    progress_enabled,
    seed_everything,
    split_data,
)


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
        losses = [as_loss_dict(loss_fn(out, target))["loss"] for out in outputs]
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
    split_data(train, "train data")
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
        parts = as_loss_dict(loss_fn(functional_call(template, weights, (x,)), x))
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
                check_finite(parts[:, i], epoch, restored, lr, who=f"Model {i}: ")
            except NonFiniteLossError:
                copy_weights(last_good)
                raise
            for name, value in zip(names, parts[:, i].mean(dim=0).tolist(), strict=True):
                history.setdefault(f"train_{name}", []).append(value)
        last_good = {k: v.detach().clone() for k, v in params.items()}
    copy_weights(params)
    results.save_progress()
    return histories

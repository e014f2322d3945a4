"""An epoch of training, judged on the learner's own batches and on its contract.

How an epoch shuffles (``batches``, a ``DataLoader``, ``torch.randperm``), how it adds noise
and in what order it zeroes the gradients are its own business. What must hold:

* it uses the generator it is given (its state moves), and the order is not the images' own;
* it visits each image once, in batches of ``batch_size`` (the last one may be smaller), with
  the model in training mode (it is handed over in evaluation mode, as after a measurement);
* for Lesson 02, the model sees the clean batch with Gaussian noise of the given standard
  deviation, clipped to [0, 1], and is scored against the clean batch;
* one optimizer step per batch, each on the gradient of that batch's MSE alone;
* it returns the mean loss over the epoch's images (each image weighs the same).

The case records what the model is fed (a forward pre-hook) and counts the optimizer's steps
(a step hook). The judge, in the grader's own process, matches each fed batch to the images
it came from and replays the epoch with the package's update on those very batches: the
weights and the loss it returns must come out as the replay's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from aecourse.steps import Case, close, seeded
from aecourse.steps.cases import load_weights

LR = 1e-2
NOISE_SIGMAS = 5.0  # how far (in standard errors) a noise share may stray from its expectation


def epoch_inputs(make_model: Callable[[], torch.nn.Module], n: int, batch_size: int,
                 seed: int, std: float | None = None):  # fmt: skip
    """A case's inputs: the stand-in's weights, ``n`` images, the batch size and seeds. With a
    noise level ``std``, the images are black-and-white patterns: each noisy image is then
    nearest to the clean one it came from, whatever noise was drawn."""

    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = make_model()
        shape = (n, 1, 28, 28)
        draw = torch.rand(shape, generator=seeded(seed + 1))
        x = (draw < 0.5).float() if std is not None else draw
        return {"weights": [p.detach().clone() for p in model.parameters()], "x": x,
                "batch_size": batch_size, "seed": seed, "std": std}  # fmt: skip

    return inputs


def run_epoch(make_model: Callable[[], torch.nn.Module], call: Callable) -> Callable:
    """A case's ``run``: ``call(epoch, model, x, optimizer, inputs, generator)`` runs the
    learner's epoch once on the stand-in, in evaluation mode to start with; what comes back is
    what the model was fed, in which mode, the number of optimizer steps, the weights after,
    the loss returned, and whether the generator was used. The reference run adds the
    stand-in's first weights and the images, for the judge's replay."""

    def run(epoch: Any, inputs: dict) -> dict:
        model = make_model()
        load_weights(model, inputs["weights"])
        model.eval()
        fed, modes, steps = [], [], [0]

        def seen(module: torch.nn.Module, args: tuple) -> None:
            fed.append(args[0].detach().clone())
            modes.append(module.training)

        model.register_forward_pre_hook(seen)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        optimizer.register_step_post_hook(lambda *_: steps.__setitem__(0, steps[0] + 1))
        generator = seeded(inputs["seed"] + 2)
        before = generator.get_state()
        torch.manual_seed(inputs["seed"])  # for an epoch that draws its noise from it
        loss = call(epoch, model, inputs["x"].clone(), optimizer, inputs, generator)
        return {
            "loss": torch.tensor(float(loss)),
            "weights": [p.detach().clone() for p in model.parameters()],
            "fed": fed,
            "training": all(modes),
            "steps": steps[0],
            "generator_used": not torch.equal(before, generator.get_state()),
            "init": inputs["weights"],
            "x": inputs["x"],
            "batch_size": inputs["batch_size"],
            "std": -1.0 if inputs["std"] is None else inputs["std"],
        }

    return run


def _matched(fed: list[torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """For each fed batch, the index of the image each of its rows is nearest to."""
    flat = x.flatten(1).double()
    return [torch.cdist(b.flatten(1).double(), flat).argmin(dim=1) for b in fed]


def _noise_problem(fed: list[torch.Tensor], clean: list[torch.Tensor], std: float) -> str | None:
    """None if the fed batches are the clean ones with N(0, std^2) noise clipped to [0, 1]:
    where the clean pixel is 0 (or 1), the share of noisy pixels more than ``std`` above it
    (below it) is P(N(0, 1) > 1) = 0.159, within :data:`NOISE_SIGMAS` standard errors."""
    noisy, target = torch.cat(fed).flatten(), torch.cat(clean).flatten()
    if noisy.min() < 0 or noisy.max() > 1:
        return "the model was fed pixels outside [0, 1]: the noisy images are not clipped"
    away = torch.where(target == 0, noisy, 1 - noisy)  # the noise, folded onto the black side
    share = (away > std).double().mean().item()
    expected = 0.5 * math.erfc(1 / math.sqrt(2))
    error = math.sqrt(expected * (1 - expected) / away.numel())
    if abs(share - expected) > NOISE_SIGMAS * error:
        return (
            f"{share:.1%} of the fed pixels are more than std = {std} away from the clean "
            f"pixel; Gaussian noise of that standard deviation puts {expected:.1%} there"
        )
    return None


def _replay(exp: dict, fed: list[torch.Tensor], targets: list[torch.Tensor], make_model,
            zero: bool = True):  # fmt: skip
    """The package's update on the learner's own batches: (weights after, mean loss);
    ``zero=False``: the usual slip, each step on the gradients of all batches so far."""
    model = make_model()
    load_weights(model, exp["init"])
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    total = 0.0
    for inputs, target in zip(fed, targets, strict=True):
        loss = torch.nn.functional.mse_loss(model(inputs), target)
        if zero:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(inputs)
    return [p.detach() for p in model.parameters()], total / sum(len(b) for b in fed)


def _differs(got: list, expected: list) -> int | None:
    """The first parameter of ``got`` not within tolerance of ``expected``'s, else None."""
    pairs = enumerate(zip(got, expected, strict=True))
    return next((i for i, (g, e) in pairs if close(g, e, "", "", tol=1e-3) is not None), None)


def judge_epoch(make_model: Callable[[], torch.nn.Module]) -> Callable:
    """A case's ``judge``: the contract (see the module), then the replay."""

    def judge(got: dict, exp: dict) -> str | None:
        fed, x, size = got["fed"], exp["x"], exp["batch_size"]
        if not fed:
            return "the model was never called"
        if not all(isinstance(b, torch.Tensor) and b.shape[1:] == x.shape[1:] for b in fed):
            return f"the model was fed something other than batches of images {tuple(x.shape[1:])}"
        if not got["training"]:
            return "the model was in evaluation mode during the epoch (it was handed over so)"
        rows = _matched(fed, x)
        order = torch.cat(rows)
        if sorted(order.tolist()) != list(range(len(x))):
            return (f"the model saw {len(order)} images in the epoch, not each of the {len(x)} "
                    "once")  # fmt: skip
        sizes = [len(b) for b in fed]
        if any(s != size for s in sizes[:-1]) or sizes[-1] > size:
            return f"the batches held {sizes} images; batch_size was {size}"
        if torch.equal(order, torch.arange(len(x))):
            return "the images came in their own order: an epoch shuffles them"
        if not got["generator_used"]:
            return "the generator it was given was not used: shuffle with it, so runs repeat"
        if got["steps"] != len(fed):
            return f"{got['steps']} optimizer steps for {len(fed)} batches: take one per batch"
        clean = [x[r] for r in rows]
        if exp["std"] >= 0:
            problem = _noise_problem(fed, clean, exp["std"])
            if problem:
                return problem
        elif not all(torch.equal(b, c) for b, c in zip(fed, clean, strict=True)):
            return "the model was fed batches that are not the training images themselves"
        weights, loss = _replay(exp, fed, clean, make_model)
        wrong = _differs(got["weights"], weights)
        if wrong is not None:
            if (
                _differs(got["weights"], _replay(exp, fed, clean, make_model, zero=False)[0])
                is None
            ):
                return ("each optimizer step used the gradients of all the batches so far, not "
                        "of its own batch alone")  # fmt: skip
            target = "the clean batch" if exp["std"] >= 0 else "the batch itself"
            return (f"parameter {wrong} after the epoch is not what one Adam step per batch on "
                    f"that batch's MSE against {target} gives, on the batches your epoch fed "
                    "the model")  # fmt: skip
        return close(got["loss"], torch.tensor(loss), "the returned loss",
                     "it should be the mean of the loss over the epoch's images, each image "
                     "weighing the same (a smaller last batch weighs less)")  # fmt: skip

    return judge


def epoch_case(name: str, make_model: Callable[[], torch.nn.Module], call: Callable, n: int,
               batch_size: int, seed: int, std: float | None = None,
               hidden: bool = False) -> Case:  # fmt: skip
    return Case(name, epoch_inputs(make_model, n, batch_size, seed, std),
                run_epoch(make_model, call), judge_epoch(make_model), hidden)  # fmt: skip

"""Test cases that every lesson's steps are made of: a module's parameters, its outputs on
the lesson's own weights, its gradients, and how it answers a wrong input.

The lesson's weights are handed over by role, not by the order a module creates its
parameters in: each of the learner's parameters may take any of the lesson's of its shape (or
of its shape transposed, for a matrix stored the other way round), and a module passes if one
such assignment (:func:`assignments`) gives the lesson's outputs and gradients. So a learner
may name, order and store the layers as they like; what each parameter does is what counts,
and their own initialisation never decides a verdict.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, close, first_problem, seeded


def build(make: Any, args: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    model = make(**args)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"it builds a {type(model).__name__}, not an nn.Module")
    return model


def shapes(model: torch.nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in model.parameters()]


def load_weights(
    model: torch.nn.Module, weights: list[torch.Tensor], roles: Assignment | None = None
) -> None:
    """Copy ``weights`` into ``model``'s parameters: in order, or as ``roles`` assigns them."""
    roles = roles or [(i, False) for i in range(len(weights))]
    with torch.no_grad():
        for param, (j, flipped) in zip(model.parameters(), roles, strict=True):
            param.copy_(weights[j].T if flipped else weights[j])


Assignment = list[tuple[int, bool]]  # per parameter of the answer: (the lesson's, transposed?)
MAX_ASSIGNMENTS = 24


def kinds(model: torch.nn.Module) -> list[str]:
    """What each parameter of ``model`` is, in ``parameters()`` order: ``"Conv2d.bias"`` for one
    of PyTorch's layers, ``""`` for one of the learner's own (an ``nn.Parameter`` of theirs)."""
    found = []
    for module in model.modules():
        own = type(module).__module__.startswith("torch.nn")
        for name, _ in module.named_parameters(recurse=False):
            found.append(f"{type(module).__name__}.{name}" if own else "")
    return found


def assignments(
    mine: list[tuple[int, ...]],
    lessons: list[tuple[int, ...]],
    my_kinds: list[str] | None = None,
    lesson_kinds: list[str] | None = None,
) -> list[Assignment]:
    """The ways to give the learner's parameters (shaped ``mine``) the lesson's (``lessons``):
    one each, of the same shape or, for a matrix, transposed; where both are parameters of
    PyTorch's layers (``kinds``), only of the same kind (a BatchNorm's weight never takes a
    convolution's bias). The creation order's own assignment comes first; at most
    :data:`MAX_ASSIGNMENTS`."""
    if len(mine) != len(lessons):
        return []
    my_kinds = my_kinds or [""] * len(mine)
    lesson_kinds = lesson_kinds or [""] * len(lessons)

    def fits(i: int, j: int) -> bool:
        return not (my_kinds[i] and lesson_kinds[j]) or my_kinds[i] == lesson_kinds[j]

    options = []
    for i, shape in enumerate(mine):
        same = [(j, False) for j, other in enumerate(lessons) if other == shape and fits(i, j)]
        flipped = len(shape) == 2 and shape[0] != shape[1]
        turned = [(j, True) for j, other in enumerate(lessons)
                  if flipped and other == shape[::-1] and fits(i, j)]  # fmt: skip
        options.append(sorted(same + turned, key=lambda o, i=i: (o[0] != i, o[1], o[0])))
    found: list[Assignment] = []

    def walk(chosen: Assignment, used: set[int]) -> None:
        if len(found) == MAX_ASSIGNMENTS:
            return
        if len(chosen) == len(mine):
            found.append(list(chosen))
            return
        for j, turned in options[len(chosen)]:
            if j not in used:
                walk([*chosen, (j, turned)], used | {j})

    walk([], set())
    return found


def ways_for(model: torch.nn.Module, inputs: dict) -> list[Assignment]:
    """The ways ``model``'s parameters can take the lesson's weights in ``inputs``."""
    lessons = [tuple(w.shape) for w in inputs["weights"]]
    return assignments(shapes(model), lessons, kinds(model), inputs.get("kinds"))


def module_inputs(args: dict, x_shape: tuple[int, ...], seed: int, extra: tuple = ()):
    """A case's ``inputs``: the reference built with ``args``, its weights (seeded), an input
    batch of ``x_shape`` in [0, 1] and the ``extra`` arguments of ``forward`` after it (e.g. a
    decoder's sizes)."""

    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = reference(**args)
        return {
            "args": args,
            "weights": [p.detach().clone() for p in model.parameters()],
            "kinds": kinds(model),
            "x": torch.rand(x_shape, generator=seeded(seed + 1)),
            "seed": seed,
            "extra": extra,
        }

    return inputs


def run_module(make: Any, inputs: dict) -> dict:
    """Build ``make(**args)``; for each way its parameters can take the reference's weights
    (:func:`assignments`), run the input batch forwards and a fixed weighted sum of the output
    (of each output, for a module that returns several, e.g. a VAE's mean and log-variance)
    backwards. Only shapes, and each way's outputs and gradients (in the reference's order of
    parameters) go back. The global generator is seeded first, for a module that samples."""
    model = build(make, inputs["args"])
    found: dict = {"shapes": shapes(model), "ways": []}
    for roles in ways_for(model, inputs):
        load_weights(model, inputs["weights"], roles)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(inputs["seed"])
        out = model(inputs["x"], *inputs["extra"])
        outs = tuple(out) if isinstance(out, tuple | list) else (out,)
        tensors = [o for o in outs if isinstance(o, torch.Tensor)]
        way: dict = {"out": [_plain(o) for o in outs]}
        if tensors and all(o.requires_grad for o in tensors):
            total = sum((o * torch.linspace(-1, 1, o.numel()).view(o.shape)).sum() for o in tensors)
            total.backward()
            grads: list[torch.Tensor] = [torch.zeros(0)] * len(roles)
            for p, (j, turned) in zip(model.parameters(), roles, strict=True):
                if p.grad is not None:
                    grads[j] = (p.grad.T if turned else p.grad).detach().clone()
            way["grads"] = grads
        found["ways"].append(way)
    return found


def best_way(got: dict, exp: dict, problem: Any) -> str | None:
    """None if one of the answer's ways to take the lesson's weights passes ``problem(way,
    expected way)``; else the problem of the first way (the creation order's own)."""
    ways = got.get("ways") or []
    found = [problem(way, exp["ways"][0]) for way in ways]
    if any(f is None for f in found):
        return None
    return found[0] if found else "its parameters cannot take the lesson's weights"


def _plain(value: Any) -> Any:
    """An output as data to send back: a tensor, a list of sizes as a tensor of ints (an
    encoder's sizes), anything else as the name of its type."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    try:
        return torch.tensor([tuple(v) for v in value], dtype=torch.long)
    except (TypeError, ValueError, RuntimeError):
        return repr(type(value))


def outputs_problem(got: Any, expected: list, names: tuple[str, ...], hint: str) -> str | None:
    """None if the module's outputs ``got`` are ``expected`` (a list of tensors, named
    ``names``), else what differs first: how many it returns, a shape, or the values."""
    if not isinstance(got, list) or len(got) != len(expected):
        count = len(got) if isinstance(got, list) else 0
        returns = " and ".join(names) if len(names) > 1 else "one tensor"
        return f"forward() returns {count} values; it should return {returns}"
    found = (close(g, e, name, hint) for g, e, name in zip(got, expected, names, strict=True))
    return first_problem(*found)


def _shape_problem(got: dict, expected: dict, shape_hint: str) -> str | None:
    if not assignments(got["shapes"], expected["shapes"]):
        return (
            f"its parameters are shaped {sorted(got['shapes'])}, the lesson's model has "
            f"{sorted(expected['shapes'])} (in any order): {shape_hint}"
        )
    return None


def parameters_case(
    args: dict, x_shape: tuple[int, ...], seed: int, shape_hint: str, hidden: bool = False
) -> Case:
    """The module built with ``args`` has the lesson's parameters, shaped and ordered so."""
    return Case(
        f"parameters with {args_text(args)}",
        module_inputs(args, x_shape, seed),
        lambda make, inputs: {"shapes": shapes(build(make, inputs["args"]))},
        lambda got, exp: _shape_problem(got, exp, shape_hint),
        hidden,
    )


def forward_case(
    args: dict,
    x_shape: tuple[int, ...],
    seed: int,
    shape_hint: str,
    value_hint: str,
    hidden: bool = False,
    outputs: tuple[str, ...] = ("the output",),
    extra: tuple = (),
) -> Case:
    """With the lesson's weights, the output (or ``outputs``, for a module that returns
    several) for a batch of ``x_shape`` is the lesson's."""

    def judge(got: dict, exp: dict) -> str | None:
        return _shape_problem(got, exp, shape_hint) or best_way(
            got, exp, lambda way, e: outputs_problem(way.get("out"), e["out"], outputs, value_hint)
        )

    return Case(
        f"output for input {x_shape} with {args_text(args)}",
        module_inputs(args, x_shape, seed, extra),
        run_module,
        judge,
        hidden,
    )


def backward_case(
    args: dict,
    x_shape: tuple[int, ...],
    seed: int,
    shape_hint: str,
    hidden: bool = False,
    extra: tuple = (),
) -> Case:
    """Gradients reach every parameter as they do in the lesson's model."""

    def gradients(way: dict, e: dict) -> str | None:
        if "grads" not in way:
            return "the output does not depend on the parameters (no gradient)"
        for g, want in zip(way["grads"], e["grads"], strict=True):
            if g.numel() == 0:
                return f"the lesson's parameter {tuple(want.shape)} has no role in your forward()"
            problem = close(g, want, f"the gradient of the parameter {tuple(want.shape)}", "")
            if problem:
                return problem.split(":")[0]
        return None

    def judge(got: dict, exp: dict) -> str | None:
        return _shape_problem(got, exp, shape_hint) or best_way(got, exp, gradients)

    return Case(
        f"gradients for input {x_shape} with {args_text(args)}",
        module_inputs(args, x_shape, seed, extra),
        run_module,
        judge,
        hidden,
    )


def raised(call: Any) -> dict:
    """Run ``call()``: the name of the error it raises ("" if none), as a case sends it back."""
    try:
        call()
    except NotImplementedError:
        raise  # the stub, not a refusal: the step is not written (aecourse.steps.failure)
    except Exception as err:  # which error it raises is the finding
        return {"raised": type(err).__name__}
    return {"raised": ""}


def refusal_problem(got: dict, exp: dict, when: str, error: str, hint: str) -> str | None:
    """None if the answer raised what the reference raised, else what it did instead."""
    if got["raised"] == exp["raised"]:
        return None
    did = f"raises {got['raised']}" if got["raised"] else "runs"
    return f"{when} it {did}; it should raise {error}: {hint}"


def raises_case(
    args: dict, bad_shape: tuple[int, ...], error: str, hint: str, hidden: bool = False
) -> Case:
    """A batch of the wrong shape ``bad_shape`` raises ``error`` (with advice), not garbage."""

    def run(make: Any, inputs: dict) -> dict:
        model = build(make, inputs["args"])
        return raised(lambda: model(torch.rand(inputs["bad_shape"])))

    def judge(got: dict, exp: dict) -> str | None:
        return refusal_problem(got, exp, f"for input of shape {bad_shape}", error, hint)

    inputs = {"args": args, "bad_shape": bad_shape}
    return Case(f"input {bad_shape} refused", lambda reference: inputs, run, judge, hidden)


def args_text(args: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in args.items()) or "default arguments"


# --- stand-ins: the models that training and measuring steps are run on ---------------------
# Not the lesson's models: while a lesson's steps are judged, the package's copies of its
# models are withheld (aecourse.steps.withheld), and an epoch or a measure is judged on its own.
# Each stand-in differs from every model a lesson builds, so no answer passes as one of them.


def stand_in_autoencoder(latent_dim: int) -> torch.nn.Module:
    """Images (B, 1, 28, 28) to images, through ``latent_dim`` numbers and a tanh."""
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, latent_dim), nn.Tanh(),
                         nn.Linear(latent_dim, 28 * 28), nn.Unflatten(1, (1, 28, 28)))  # fmt: skip


def stand_in_conv(in_channels: int, out_channels: int, width: int = 4) -> torch.nn.Module:
    """Images to images of ``out_channels`` in [0, 1], the same size: two 3x3 convolutions."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.Tanh(),
                         nn.Conv2d(width, out_channels, 3, padding=1), nn.Sigmoid())  # fmt: skip


class StandInVAE(torch.nn.Module):
    """A VAE's interface (Lesson 03's: forward to (logits, mu, logvar), encode, decode,
    reconstruct), with one linear map each way (``hidden`` is accepted and unused)."""

    def __init__(self, latent_dim: int, hidden: int = 0):
        super().__init__()
        self.to_code = torch.nn.Linear(28 * 28, 2 * latent_dim)
        self.to_logits = torch.nn.Linear(latent_dim, 28 * 28)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_code(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.to_logits(z).view(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.to_logits(z).view(-1, 1, 28, 28), mu, logvar

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

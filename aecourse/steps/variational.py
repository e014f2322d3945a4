"""Lesson 03's graded steps: the VAE (its encoder to mean and log-variance, the sampling, its
Bernoulli decoder, the whole model), its loss term by term, and its anomaly score.

The loss: the KL term per latent unit, the reconstruction term, the negative ELBO in nats.

Visible cases use small models (a latent size of 8, one hidden layer of 64) and small batches;
the hidden ones two hidden layers, other sizes, shapes, seeds and values of beta.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seed_problem, seeded
from aecourse.steps.cases import (
    StandInVAE,
    args_text,
    assignments,
    backward_case,
    best_way,
    build,
    forward_case,
    load_weights,
    module_inputs,
    parameters_case,
    raises_case,
    shapes,
    ways_for,
)
from aecourse.steps.elbo import (
    BERNOULLI_NLL,
    KL_PER_UNIT,
    REPARAMETERIZE,
    VAE_LOSS,
    eps_problem,
)

SMALL = {"latent_dim": 8, "hidden": (64,)}
DEEP = {"latent_dim": 3, "hidden": (48, 24)}
IMAGES = (5, 1, 28, 28)

ENCODER_SHAPES = (
    "an affine map and a ReLU for each width in hidden (from the 784 pixels), then two "
    "affine maps from the last width to latent_dim: one for mu, one for logvar"
)
DECODER_SHAPES = (
    "an affine map and a ReLU from latent_dim through the widths of hidden in reverse, then an "
    "affine map to the 784 pixels, in image shape"
)
VAE_SHAPES = "the encoder and the decoder of steps 1 and 3, and nothing else"
VAE_FORWARD = (
    "it should return the decoder's logits for a draw of the code, and the code's mu and logvar"
)


def _module_cases(x_shape, hidden_x, shape_hint, value_hint, outputs) -> tuple[Case, ...]:
    return (
        parameters_case(SMALL, x_shape, 1, shape_hint),
        forward_case(SMALL, x_shape, 2, shape_hint, value_hint, outputs=outputs),
        backward_case(SMALL, x_shape, 3, shape_hint),
        parameters_case(DEEP, hidden_x, 11, shape_hint, hidden=True),
        forward_case(DEEP, hidden_x, 12, shape_hint, value_hint, hidden=True, outputs=outputs),
        backward_case(DEEP, hidden_x, 13, shape_hint, hidden=True),
    )


# --- the VAE's forward pass: judged apart from the draw it makes ----------------------------
# Which numbers the VAE draws is its sampling's business (step 2 judges the sampling). So its
# outputs and gradients are compared with the lesson's where the encoder's log-variance head
# says sigma is about e^-20: then z is mu to within rounding whatever eps was drawn, and the
# logits are the decoder's of mu. That the forward pass does sample is its own case: the code
# the decoder takes must be a draw of N(mu, sigma^2), repeatable with torch.manual_seed.

QUIET_LOGVAR = -40.0
HEADS = {"mu": "encoder.to_mu.", "logvar": "encoder.to_logvar."}  # in the lesson's VAE
DRAWN = (1000, 1, 28, 28)  # images per draw: 1000 draws of each number of the code


def _set_heads(inputs: Any, mu_bias: Any = None, logvar_bias: Any = None, scale: float = 1.0):
    """``inputs`` of :func:`module_inputs` with the lesson's VAE's heads set: a bias (as a
    function of the latent size) for mu or logvar, and the logvar head's weights scaled."""

    def changed(reference: Any) -> dict:
        found = inputs(reference)
        names = [n for n, _ in reference(**found["args"]).named_parameters()]
        weights = list(found["weights"])
        latent = found["args"]["latent_dim"]
        for head, bias in (("mu", mu_bias), ("logvar", logvar_bias)):
            if bias is not None:
                weights[names.index(HEADS[head] + "bias")] = bias(latent)
        index = names.index(HEADS["logvar"] + "weight")
        weights[index] = weights[index] * scale
        return found | {"weights": weights}

    return changed


def _quiet(case: Case) -> Case:
    """``case`` on weights where sigma is about e^-20: no draw changes its outcome."""
    inputs = _set_heads(case.inputs, logvar_bias=lambda n: torch.full((n,), QUIET_LOGVAR),
                        scale=0.01)  # fmt: skip
    return Case(f"{case.name}, sigma about e^-20", inputs, case.run, case.judge, case.hidden)


def _code_taken(model: torch.nn.Module, batch: int, latent: int) -> list[torch.Tensor]:
    """Hooks on every part of ``model``: the first input of shape (batch, latent) that a part
    takes, the code the decoder receives, is appended to the list returned."""
    taken: list[torch.Tensor] = []

    def hook(module: torch.nn.Module, args: tuple) -> None:
        first = args[0] if args else None
        if not taken and isinstance(first, torch.Tensor) and first.shape == (batch, latent):
            taken.append(first.detach().clone())

    for part in list(model.modules())[1:]:
        part.register_forward_pre_hook(hook)
    return taken


def _run_sampling(make: Any, inputs: dict) -> dict:
    model = build(make, inputs["args"])
    load_weights(model, inputs["weights"], ways_for(model, inputs)[0])
    x, latent, found = inputs["x"], inputs["args"]["latent_dim"], {"codes": [], "logits": []}
    taken = _code_taken(model, len(x), latent)
    for seed in (inputs["seed"], inputs["seed"], inputs["seed"] + 1):
        taken.clear()
        torch.manual_seed(seed)
        with torch.no_grad():
            out = model(x)
        if not isinstance(out, tuple | list) or len(out) != 3:
            return {"error": "forward() should return the logits, mu and logvar"}
        found["codes"].append(taken[0] if taken else None)
        found["logits"].append(out[0].detach().clone())
        found["mu"], found["logvar"] = out[1].detach().clone(), out[2].detach().clone()
    return found


def _judge_sampling(got: dict, exp: dict) -> str | None:
    anew = "forward() should decode a draw of the code, not its mean"
    problem = seed_problem(*got["logits"], "forward passes' logits", anew)
    if problem:
        return problem
    code = got["codes"][0]
    if code is None:
        return "no part of the VAE took a code of shape (batch, latent_dim): " + VAE_SHAPES
    return eps_problem(code, got["mu"], got["logvar"])


def _sampling_case(args: dict, seed: int, hidden: bool = False) -> Case:
    inputs = _set_heads(
        module_inputs(args, DRAWN, seed),
        mu_bias=lambda n: torch.linspace(-2.0, 2.0, n),
        logvar_bias=lambda n: torch.linspace(-3.0, 1.5, n),
    )
    return Case(
        f"the code it decodes, over {DRAWN[0]} images with {args_text(args)}",
        inputs,
        _run_sampling,
        _judge_sampling,
        hidden,
    )


# --- the VAE's other methods: decode (pixel values) and reconstruct (the mean code) ---------


def _methods_inputs(args: dict, seed: int):
    base = module_inputs(args, IMAGES, seed)

    def inputs(reference: Any) -> dict:
        found = base(reference)
        found["z"] = torch.randn(4, args["latent_dim"], generator=seeded(seed + 2))
        return found

    return inputs


def _run_methods(make: Any, inputs: dict) -> dict:
    model = build(make, inputs["args"])
    found: dict = {"shapes": shapes(model), "ways": []}
    for roles in ways_for(model, inputs):
        load_weights(model, inputs["weights"], roles)
        torch.manual_seed(inputs["seed"])
        decoded, recon = model.decode(inputs["z"]), model.reconstruct(inputs["x"])
        found["ways"].append({"decoded": decoded.detach().clone(), "recon": recon.detach().clone(),
                              "graph": recon.requires_grad})  # fmt: skip
    return found


def _judge_methods(got: dict, exp: dict) -> str | None:
    if not assignments(got["shapes"], exp["shapes"]):
        return f"its parameters are shaped {sorted(got['shapes'])}: {VAE_SHAPES}"

    def methods(way: dict, e: dict) -> str | None:
        if way["graph"]:
            return "reconstruct(x) built a graph for gradients, which a measurement does not need"
        return first_problem(
            close(way["decoded"], e["decoded"], "decode(z)", "it should be an image in [0, 1]"),
            close(way["recon"], e["recon"], "reconstruct(x)", "it should not depend on a draw"),
        )

    return best_way(got, exp, methods)


def _methods_case(args: dict, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"decode and reconstruct with {', '.join(f'{k}={v}' for k, v in args.items())}",
        _methods_inputs(args, seed),
        _run_methods,
        _judge_methods,
        hidden,
    )


# --- the anomaly score: a choice of the learner's, judged by what it achieves ---------------
# A stand-in VAE whose decoder knows one kind of image (it decodes every code to about the same
# template) scores a batch that mixes that kind with images of another kind. Any score that
# measures how badly the VAE explains an image ranks the other kind higher; a score of the code
# alone (the KL), or one with its sign turned, does not.

MIN_AUC = 0.9


def _blob(centre: tuple[float, float], radius: float) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    return (((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) < radius**2).float()


def _score_inputs(args: dict, n: int, odd: int, seed: int):
    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = StandInVAE(**args)
        known, other = _blob((10, 12), 6), _blob((19, 15), 5)
        with torch.no_grad():
            model.to_code.weight.mul_(0.01)
            model.to_logits.weight.mul_(0.01)
            model.to_logits.bias.copy_(torch.logit(known.flatten().clamp(0.05, 0.95)))
        flips = torch.rand(n, 1, 28, 28, generator=seeded(seed + 1)) < 0.05
        labels = torch.zeros(n, dtype=torch.bool)
        labels[torch.randperm(n, generator=seeded(seed + 2))[:odd]] = True
        base = torch.where(labels.view(-1, 1, 1, 1), other, known)
        x = torch.where(flips, 1 - base, base)
        weights = [p.detach().clone() for p in model.parameters()]
        return {"args": args, "weights": weights, "x": x, "labels": labels, "seed": seed}

    return inputs


def _run_scores(anomaly_scores: Any, inputs: dict) -> dict:
    model = StandInVAE(**inputs["args"])
    load_weights(model, inputs["weights"])
    graphs = []  # whether each forward pass built a graph for gradients
    model.register_forward_pre_hook(lambda *_: graphs.append(torch.is_grad_enabled()))
    torch.manual_seed(inputs["seed"])
    out = anomaly_scores(model, inputs["x"])
    scores = out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out))
    return {"scores": scores, "grads": any(graphs), "labels": inputs["labels"]}


def _judge_scores(got: dict, exp: dict) -> str | None:
    from aecourse.metrics import roc_auc

    scores, labels = got["scores"], exp["labels"]
    if not isinstance(scores, torch.Tensor):
        return f"it returned a {scores}, not a tensor of scores"
    if tuple(scores.shape) != (len(labels),):
        return f"the scores have shape {tuple(scores.shape)}: one number per image, {len(labels)}"
    if not torch.isfinite(scores).all():
        return "some scores are NaN or infinite"
    if got["grads"]:
        return "its forward pass built a graph for gradients, which scoring does not need"
    auc = roc_auc(scores, labels)
    if auc < MIN_AUC:
        return (
            f"on a VAE that knows one kind of image, the images of another kind are not ranked "
            f"above it: their AUC is {auc:.2f}, and at least {MIN_AUC} is needed"
        )
    return None


def _score_case(args: dict, n: int, odd: int, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"{n} images, {odd} unlike what the VAE knows, latent size {args['latent_dim']}",
        _score_inputs(args, n, odd, seed),
        _run_scores,
        _judge_scores,
        hidden,
    )


STEPS = (
    Step(
        "vae_encoder",
        "VAEEncoder",
        "the encoder: an image to a mean and a log-variance",
        3,
        lambda: package("models").VAEEncoder,
        _module_cases(
            IMAGES,
            (7, 1, 28, 28),
            ENCODER_SHAPES,
            "the hidden layers, then mu and logvar from the same last hidden layer",
            ("mu", "logvar"),
        ),
    ),
    REPARAMETERIZE,
    Step(
        "vae_decoder",
        "VAEDecoder",
        "the decoder: a code to one Bernoulli logit per pixel",
        2,
        lambda: package("models").VAEDecoder,
        _module_cases(
            (5, 8),
            (7, 3),
            DECODER_SHAPES,
            "logits: no sigmoid at the end (the loss and decode() apply it)",
            ("the logits",),
        ),
    ),
    Step(
        "vae",
        "VAE",
        "the VAE: encode, sample, decode",
        3,
        lambda: package("models").VAE,
        (
            *map(
                _quiet,
                _module_cases(
                    IMAGES, (7, 1, 28, 28), VAE_SHAPES, VAE_FORWARD, ("the logits", "mu", "logvar")
                ),
            ),
            _sampling_case(SMALL, 5),
            _methods_case(SMALL, 4),
            raises_case(
                SMALL, (1, 28, 28), "ValueError", "an image without a batch dimension is refused"
            ),
            _methods_case(DEEP, 14, hidden=True),
            _sampling_case(DEEP, 15, hidden=True),
            raises_case(DEEP, (4, 784), "ValueError", "check the shape of x first", hidden=True),
        ),
    ),
    KL_PER_UNIT,
    BERNOULLI_NLL,
    VAE_LOSS,
    Step(
        "anomaly_scores",
        "anomaly_scores",
        "an anomaly score of your choice, judged by what it flags",
        2,
        lambda: package("loop").anomaly_scores,
        (
            _score_case(SMALL, 24, 8, 61),
            _score_case(DEEP, 30, 6, 62, hidden=True),
        ),
    ),
)

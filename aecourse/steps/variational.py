"""Lesson 03's graded steps: the VAE (its encoder to mean and log-variance, the sampling, its
Bernoulli decoder, the whole model), its loss term by term, and its anomaly score.

The loss: the KL term per latent unit, the reconstruction term, the negative ELBO in nats.

Visible cases use small models (a latent size of 8, one hidden layer of 64) and small batches;
the hidden ones two hidden layers, other sizes, shapes, seeds and values of beta.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seeded
from aecourse.steps.cases import (
    StandInVAE,
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
)
from aecourse.steps.elbo import BERNOULLI_NLL, KL_PER_UNIT, REPARAMETERIZE, VAE_LOSS

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
    for roles in assignments(found["shapes"], [tuple(w.shape) for w in inputs["weights"]]):
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


# --- the anomaly score: the negative ELBO of each image ---------------------------------------


def _score_inputs(args: dict, n: int, seed: int):
    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = StandInVAE(**args)
        x = (torch.rand(n, 1, 28, 28, generator=seeded(seed + 1)) > 0.6).float()
        weights = [p.detach().clone() for p in model.parameters()]
        return {"args": args, "weights": weights, "x": x, "seed": seed}

    return inputs


def _run_scores(anomaly_scores: Any, inputs: dict) -> dict:
    model = StandInVAE(**inputs["args"])
    load_weights(model, inputs["weights"])
    graphs = []  # whether each forward pass built a graph for gradients
    model.register_forward_pre_hook(lambda *_: graphs.append(torch.is_grad_enabled()))
    torch.manual_seed(inputs["seed"])
    out = anomaly_scores(model, inputs["x"])
    scores = out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out))
    return {"scores": scores, "grads": any(graphs)}


def _judge_scores(got: dict, exp: dict) -> str | None:
    if got["grads"]:
        return "its forward pass built a graph for gradients, which scoring does not need"
    return close(
        got["scores"],
        exp["scores"],
        "the scores",
        "bernoulli_nll(logits, x) + kl_divergence(mu, logvar) for the VAE's output on x "
        "(one forward pass): one value per image",
    )


def _score_case(args: dict, n: int, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"scores of {n} images, latent size {args['latent_dim']}",
        _score_inputs(args, n, seed),
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
            *_module_cases(
                IMAGES, (7, 1, 28, 28), VAE_SHAPES, VAE_FORWARD, ("the logits", "mu", "logvar")
            ),
            _methods_case(SMALL, 4),
            raises_case(
                SMALL, (1, 28, 28), "ValueError", "an image without a batch dimension is refused"
            ),
            _methods_case(DEEP, 14, hidden=True),
            raises_case(DEEP, (4, 784), "ValueError", "check the shape of x first", hidden=True),
        ),
    ),
    KL_PER_UNIT,
    BERNOULLI_NLL,
    VAE_LOSS,
    Step(
        "anomaly_scores",
        "anomaly_scores",
        "the anomaly score: each image's negative ELBO",
        2,
        lambda: package("loop").anomaly_scores,
        (
            _score_case(SMALL, 10, 61),
            _score_case(DEEP, 13, 62, hidden=True),
        ),
    ),
)

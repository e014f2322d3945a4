"""Lesson 03's graded steps: the VAE's encoder to mean and log-variance, the
reparameterisation, the Bernoulli decoder, the whole VAE, the KL term, the reconstruction
term, the negative ELBO, and the anomaly score it gives each image.

Visible cases use small models (a latent size of 8, one hidden layer of 64) and small batches;
the hidden ones two hidden layers, other sizes, shapes, seeds and values of beta.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seeded
from aecourse.steps.cases import (
    backward_case,
    forward_case,
    load_weights,
    module_inputs,
    parameters_case,
    raises_case,
    with_weights,
)

SMALL = {"latent_dim": 8, "hidden": (64,)}
DEEP = {"latent_dim": 3, "hidden": (48, 24)}
IMAGES = (5, 1, 28, 28)

ENCODER_SHAPES = (
    "self.body: a flatten, then Linear + ReLU for each width in hidden (from 784); then "
    "self.to_mu and self.to_logvar, each an nn.Linear from hidden[-1] to latent_dim"
)
DECODER_SHAPES = (
    "Linear + ReLU from latent_dim through the widths of hidden in reverse, then an nn.Linear "
    "from hidden[0] to 784 and nn.Unflatten(1, (1, 28, 28)), in self.layers"
)
VAE_SHAPES = "self.encoder = VAEEncoder(latent_dim, hidden), then self.decoder = VAEDecoder(...)"
VAE_FORWARD = (
    "encode x (after check_image_batch), z = reparameterize(mu, logvar), return the decoder's "
    "logits for z, mu and logvar"
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
    model, found = with_weights(make, inputs)
    if model is None:
        return found
    torch.manual_seed(inputs["seed"])
    decoded, recon = model.decode(inputs["z"]), model.reconstruct(inputs["x"])
    return {**found, "decoded": decoded.detach().clone(), "recon": recon.detach().clone(),
            "graph": recon.requires_grad}  # fmt: skip


def _judge_methods(got: dict, exp: dict) -> str | None:
    if got["shapes"] != exp["shapes"]:
        return f"its parameters are shaped {got['shapes']}: {VAE_SHAPES}"
    if got["graph"]:
        return "reconstruct(x) built a graph for gradients: keep @torch.no_grad() on it"
    return first_problem(
        close(got["decoded"], exp["decoded"], "decode(z)", "the decoder's logits, then a sigmoid"),
        close(got["recon"], exp["recon"], "reconstruct(x)", "decode the mean code mu: no sample"),
    )


def _methods_case(args: dict, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"decode and reconstruct with {', '.join(f'{k}={v}' for k, v in args.items())}",
        _methods_inputs(args, seed),
        _run_methods,
        _judge_methods,
        hidden,
    )


# --- functions of (mu, logvar): the reparameterisation and the KL per unit -------------------


def _pair_inputs(shape: tuple[int, ...], seed: int, spread: float = 1.0, prior: bool = False):
    def inputs(reference: Any) -> dict:
        if prior:
            return {"mu": torch.zeros(shape), "logvar": torch.zeros(shape), "seed": seed}
        g = seeded(seed)
        mu, logvar = torch.randn(shape, generator=g), torch.randn(shape, generator=g) * spread
        return {"mu": mu, "logvar": logvar, "seed": seed}

    return inputs


def _run_pair(fn: Any, inputs: dict) -> dict:
    mu = inputs["mu"].clone().requires_grad_()
    logvar = inputs["logvar"].clone().requires_grad_()
    torch.manual_seed(inputs["seed"])  # a function that samples draws the same numbers
    out = fn(mu, logvar)
    found = {
        "out": out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out)),
        "unchanged": torch.equal(mu.detach(), inputs["mu"])
        and torch.equal(logvar.detach(), inputs["logvar"]),
    }
    if isinstance(out, torch.Tensor) and out.requires_grad:
        (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
        found["grads"] = [
            torch.zeros(0) if t.grad is None else t.grad.clone() for t in (mu, logvar)
        ]
    return found


def _pair_judge(what: str, hint: str, gradients: bool):
    def judge(got: dict, exp: dict) -> str | None:
        if not got["unchanged"]:
            return "it changed mu or logvar: compute a new tensor, leave its inputs as they were"
        problem = close(got["out"], exp["out"], what, hint)
        if problem or not gradients:
            return problem
        if "grads" not in got:
            return f"{what} is not differentiable in mu and logvar: no .detach() or .item()"
        found = (close(g, e, f"the gradient in {name}", hint) for g, e, name in
                 zip(got["grads"], exp["grads"], ("mu", "logvar"), strict=True))  # fmt: skip
        return first_problem(*found)

    return judge


def _pair_case(name, shape, seed, what, hint, *, gradients=False, hidden=False, **kind) -> Case:
    return Case(
        f"{name} for mu and logvar of shape {shape}",
        _pair_inputs(shape, seed, **kind),
        _run_pair,
        _pair_judge(what, hint, gradients),
        hidden,
    )


DRAW = (
    "z = mu + sigma * eps with sigma = exp(logvar / 2) and eps = torch.randn_like(mu), drawn once"
)
KL = "0.5 * (mu^2 + sigma^2 - log sigma^2 - 1) for each unit, with sigma^2 = exp(logvar)"


def _reparameterize_cases() -> tuple[Case, ...]:
    return (
        _pair_case("a draw", (5, 4), 21, "z", DRAW),
        _pair_case("gradients of a draw", (5, 4), 22, "z", DRAW, gradients=True),
        _pair_case("a draw", (3, 7), 23, "z", DRAW, spread=3.0, hidden=True),
        _pair_case("gradients of a draw", (6, 2), 24, "z", DRAW, gradients=True, hidden=True),
    )


def _kl_cases() -> tuple[Case, ...]:
    return (
        _pair_case("the prior itself", (3, 4), 31, "the KL", KL, prior=True),
        _pair_case("values", (5, 8), 32, "the KL", KL),
        _pair_case("gradients", (5, 8), 33, "the KL", KL, gradients=True),
        _pair_case("values", (7, 3), 34, "the KL", KL, spread=4.0, hidden=True),
        _pair_case("gradients", (4, 20), 35, "the KL", KL, gradients=True, hidden=True),
    )


# --- the reconstruction term: Bernoulli negative log-likelihood per image ---------------------


def _nll_inputs(shape: tuple[int, ...], seed: int, scale: float, binary: bool):
    def inputs(reference: Any) -> dict:
        g = seeded(seed)
        target = torch.rand(shape, generator=g)
        if binary:
            target = (target > 0.5).float()
        return {"logits": torch.randn(shape, generator=g) * scale, "target": target}

    return inputs


def _run_nll(fn: Any, inputs: dict) -> dict:
    logits = inputs["logits"].clone().requires_grad_()
    out = fn(logits, inputs["target"])
    found = {"out": out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out))}
    if isinstance(out, torch.Tensor) and out.requires_grad:
        (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
        found["grad"] = torch.zeros(0) if logits.grad is None else logits.grad.clone()
    return found


NLL = (
    "nn.functional.binary_cross_entropy_with_logits(logits, target, reduction='none'), then "
    "summed over each image's pixels: .flatten(1).sum(dim=1)"
)


def _nll_judge(gradients: bool):
    def judge(got: dict, exp: dict) -> str | None:
        out = got["out"]
        if isinstance(out, torch.Tensor) and out.shape == exp["out"].shape:
            if not torch.isfinite(out).all():
                return "it overflows for large logits: work on the logits, " + NLL
        problem = close(out, exp["out"], "the negative log-likelihood", NLL)
        if problem or not gradients:
            return problem
        if "grad" not in got:
            return "it is not differentiable in the logits: no .detach() or .item()"
        return close(got["grad"], exp["grad"], "the gradient in the logits", NLL)

    return judge


def _nll_case(name, shape, seed, *, scale=2.0, binary=True, gradients=False, hidden=False):
    return Case(
        f"{name} for logits of shape {shape}",
        _nll_inputs(shape, seed, scale, binary),
        _run_nll,
        _nll_judge(gradients),
        hidden,
    )


# --- the negative ELBO: a dict of batch means ------------------------------------------------


def _loss_inputs(n: int, latent: int, seed: int, beta: float | None):
    def inputs(reference: Any) -> dict:
        g = seeded(seed)
        return {
            "logits": torch.randn(n, 1, 28, 28, generator=g) * 2,
            "mu": torch.randn(n, latent, generator=g),
            "logvar": torch.randn(n, latent, generator=g),
            "target": (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float(),
            "beta": beta,
        }

    return inputs


def _run_loss(vae_loss: Any, inputs: dict) -> dict:
    output = tuple(inputs[k].clone().requires_grad_() for k in ("logits", "mu", "logvar"))
    kw = {} if inputs["beta"] is None else {"beta": inputs["beta"]}
    parts = vae_loss(output, inputs["target"], **kw)
    if not isinstance(parts, dict):
        return {"type": type(parts).__name__}
    found: dict = {"type": "dict", "keys": sorted(map(str, parts))}
    for key in ("loss", "recon", "kl"):
        value = parts.get(key)
        if isinstance(value, torch.Tensor):
            found[key] = value.detach().clone()
            found[f"{key}_graph"] = value.requires_grad
    return found


LOSS_HINTS = {
    "recon": "bernoulli_nll(logits, target), averaged over the batch",
    "kl": "kl_divergence(mu, logvar), averaged over the batch",
    "loss": "recon + beta * kl (beta 1 unless given)",
}


def _judge_loss(got: dict, exp: dict) -> str | None:
    if got["type"] != "dict":
        return f"it returns a {got['type']}: return a dict with 'loss', 'recon' and 'kl'"
    missing = [k for k in LOSS_HINTS if k not in got]
    if missing:
        return f"the dict has no tensor under {', '.join(map(repr, missing))}"
    if not got["loss_graph"]:
        return "the loss has no graph for gradients: keep it a tensor (no .item(), no .detach())"
    return first_problem(*(close(got[k], exp[k], repr(k), h) for k, h in LOSS_HINTS.items()))


def _loss_case(n, latent, seed, beta, hidden=False) -> Case:
    said = "the default beta" if beta is None else f"beta={beta}"
    return Case(
        f"{n} images, latent size {latent}, {said}",
        _loss_inputs(n, latent, seed, beta),
        _run_loss,
        _judge_loss,
        hidden,
    )


# --- the anomaly score: the negative ELBO of each image ---------------------------------------


def _score_inputs(args: dict, n: int, seed: int):
    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = package("models").VAE(**args)
        x = (torch.rand(n, 1, 28, 28, generator=seeded(seed + 1)) > 0.6).float()
        weights = [p.detach().clone() for p in model.parameters()]
        return {"args": args, "weights": weights, "x": x, "seed": seed}

    return inputs


def _run_scores(anomaly_scores: Any, inputs: dict) -> dict:
    model = package("models").VAE(**inputs["args"])
    load_weights(model, inputs["weights"])
    graphs = []  # whether each forward pass built a graph for gradients
    model.register_forward_pre_hook(lambda *_: graphs.append(torch.is_grad_enabled()))
    torch.manual_seed(inputs["seed"])
    out = anomaly_scores(model, inputs["x"])
    scores = out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out))
    return {"scores": scores, "grads": any(graphs)}


def _judge_scores(got: dict, exp: dict) -> str | None:
    if got["grads"]:
        return "its forward pass built a graph for gradients: score under torch.no_grad()"
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
    Step(
        "reparameterize",
        "reparameterize",
        "the reparameterisation trick: a sample gradients pass through",
        2,
        lambda: package("models").reparameterize,
        _reparameterize_cases(),
    ),
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
                SMALL, (1, 28, 28), "ValueError", "call check_image_batch(x, (1, 28, 28), 'VAE')"
            ),
            _methods_case(DEEP, 14, hidden=True),
            raises_case(DEEP, (4, 784), "ValueError", "check the shape of x first", hidden=True),
        ),
    ),
    Step(
        "kl_per_unit",
        "kl_per_unit",
        "the KL term in closed form, per latent unit",
        2,
        lambda: package("losses").kl_per_unit,
        _kl_cases(),
    ),
    Step(
        "bernoulli_nll",
        "bernoulli_nll",
        "the reconstruction term: Bernoulli negative log-likelihood per image",
        2,
        lambda: package("losses").bernoulli_nll,
        (
            _nll_case("values", (4, 1, 28, 28), 41),
            _nll_case("large logits", (2, 1, 6, 6), 42, scale=60.0),
            _nll_case("gradients", (4, 1, 28, 28), 43, gradients=True),
            _nll_case("grey targets", (3, 1, 5, 5), 44, binary=False, hidden=True),
            _nll_case("gradients", (2, 1, 9, 9), 45, gradients=True, hidden=True),
            _nll_case("larger logits", (3, 1, 28, 28), 46, scale=200.0, hidden=True),
        ),
    ),
    Step(
        "vae_loss",
        "vae_loss",
        "the negative ELBO in nats per image: reconstruction + beta * KL",
        2,
        lambda: package("losses").vae_loss,
        (
            _loss_case(6, 8, 51, None),
            _loss_case(6, 8, 52, 4.0),
            _loss_case(9, 3, 53, 0.5, hidden=True),
            _loss_case(4, 20, 54, 0.0, hidden=True),
        ),
    ),
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

"""Lesson 03's steps that are functions of tensors: the reparameterisation, and the loss term
by term (the KL per latent unit, the Bernoulli reconstruction term, the negative ELBO).

Each is checked on its values and on its gradients, which the VAE's training relies on.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seed_problem, seeded

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
            return f"{what} is not differentiable in mu and logvar: gradients cannot reach them"
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


KL = "it should be the KL divergence of N(mu, sigma^2) from N(0, 1), unit by unit"


# --- the reparameterisation: judged by what a draw must be, not by which numbers it drew ----
# How eps is drawn from torch's global generator is the learner's business. A case asks for
# draws of many rows and reads them back; the grader checks what must hold of
# z = mu + sigma * eps: in every column, eps = (z - mu) / sigma has a standard normal's mean,
# spread and share within one, and neighbouring columns are uncorrelated (one eps per number);
# the same torch.manual_seed gives the same draw and another seed another; dz/dmu = 1 and
# dz/dlogvar = (z - mu) / 2, the gradients the encoder learns from.

ROWS = 2000  # draws per column: its mean and spread are then known to about 2%
BOUND = 5.0  # standard errors a correct draw stays within (it fails once in millions)
WITHIN_ONE = 0.6827  # a standard normal's share within one standard deviation of 0
DRAW = "z = mu + sigma * eps, one standard normal eps per number, sigma^2 = exp(logvar)"


def _draw_inputs(each: tuple[int, ...], seed: int):
    """``ROWS`` rows of mu and logvar, each row shaped ``each``: log-variances from -4 to 2
    (sigma from 0.14 to 2.7) spread over the columns, a little different in every row."""

    def inputs(reference: Any) -> dict:
        g, size = seeded(seed), torch.Size(each).numel()
        logvar = torch.linspace(-4.0, 2.0, size) + 0.5 * torch.randn(ROWS, size, generator=g)
        mu = 2 * torch.randn(ROWS, size, generator=g)
        return {"mu": mu.view(ROWS, *each), "logvar": logvar.view(ROWS, *each), "seed": seed}

    return inputs


def _run_draws(reparameterize: Any, inputs: dict) -> dict:
    """Three draws (seeds s, s and s + 1) and the gradients of a weighted sum of the first."""
    draws, grads, unchanged = [], [], True
    for seed in (inputs["seed"], inputs["seed"], inputs["seed"] + 1):
        mu = inputs["mu"].clone().requires_grad_()
        logvar = inputs["logvar"].clone().requires_grad_()
        torch.manual_seed(seed)
        z = reparameterize(mu, logvar)
        if not isinstance(z, torch.Tensor):
            return {"type": type(z).__name__}
        if not grads and z.requires_grad and z.shape == mu.shape:
            (z * torch.linspace(-1, 1, z.numel()).view(z.shape)).sum().backward()
            grads = [torch.zeros(0) if t.grad is None else t.grad.clone() for t in (mu, logvar)]
        unchanged = unchanged and torch.equal(mu.detach(), inputs["mu"])
        unchanged = unchanged and torch.equal(logvar.detach(), inputs["logvar"])
        draws.append(z.detach().clone())
    found = {"type": "Tensor", "draws": draws, "grads": grads, "unchanged": unchanged}
    return found | {
        "mu": inputs["mu"],
        "logvar": inputs["logvar"],
    }  # the judge reads the reference's


def eps_problem(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> str | None:
    """What is wrong with eps = (z - mu) / sigma as standard normal draws, column by column."""
    eps = ((z.double() - mu.double()) / torch.exp(0.5 * logvar.double())).flatten(1)
    if not torch.isfinite(eps).all():
        return "z holds NaN or inf values"
    rows = eps.shape[0]
    mean, spread = eps.mean(dim=0), eps.std(dim=0)
    within = (eps.abs() < 1).double().mean(dim=0)
    sigmas = torch.exp(0.5 * logvar.double()).flatten(1).mean(dim=0)
    worst = int((spread - 1).abs().argmax())
    if spread.min() < 1e-3:
        return "(z - mu) / sigma is the same in every row: each number of mu needs its own eps"
    if (spread - 1).abs().max() > BOUND / (2 * rows) ** 0.5:
        return (
            f"where sigma is about {sigmas[worst]:.2g}, (z - mu) / sigma has a standard deviation "
            f"of {spread[worst]:.3g} over {rows} draws, not 1: {DRAW}"
        )
    if mean.abs().max() > BOUND / rows**0.5:
        return f"(z - mu) / sigma has a mean of {mean.abs().max():.3g} over {rows} draws, not 0"
    share_error = BOUND * (WITHIN_ONE * (1 - WITHIN_ONE) / rows) ** 0.5
    if (within - WITHIN_ONE).abs().max() > share_error:
        found = within[int((within - WITHIN_ONE).abs().argmax())]
        return (
            f"{found:.1%} of (z - mu) / sigma lies within 1 of 0; a standard normal draw has "
            f"{WITHIN_ONE:.1%} there: eps is not normal"
        )
    if eps.shape[1] > 1:
        a, b = eps[:, :-1] - mean[:-1], eps[:, 1:] - mean[1:]
        corr = (a * b).mean(dim=0) / (spread[:-1] * spread[1:])
        if corr.abs().max() > BOUND / rows**0.5:
            return (
                f"the draws of neighbouring numbers are correlated ({corr.abs().max():.2f}): each "
                "number of mu needs its own eps"
            )
    return None


def _judge_draws(got: dict, exp: dict) -> str | None:
    if got["type"] != "Tensor":
        return f"it returned a {got['type']}, not a tensor"
    first, again, other = got["draws"]
    mu, logvar = exp["mu"], exp["logvar"]
    if tuple(first.shape) != tuple(mu.shape):
        return f"z has shape {tuple(first.shape)}; it should have mu's, {tuple(mu.shape)}"
    if not got["unchanged"]:
        return "it changed mu or logvar: compute a new tensor, leave its inputs as they were"
    anew = "draw eps from torch's global generator, anew at every call"
    return seed_problem(first, again, other, "draws", anew) or eps_problem(first, mu, logvar)


def _judge_draw_gradients(got: dict, exp: dict) -> str | None:
    problem = _judge_draws(got, exp)
    if problem:
        return problem
    if not got["grads"]:
        return "z is not differentiable in mu and logvar: gradients cannot reach the encoder"
    z, mu, weights = got["draws"][0], exp["mu"], torch.linspace(-1, 1, exp["mu"].numel())
    weights = weights.view(mu.shape)
    wanted = {"mu": (weights, "dz/dmu should be 1"), "logvar": (weights * (z - mu) / 2,
              "dz/dlogvar should be (z - mu) / 2, since sigma = exp(logvar / 2)")}  # fmt: skip
    for grad, (name, (want, why)) in zip(got["grads"], wanted.items(), strict=True):
        if grad.numel() == 0:
            return f"z has no gradient in {name}: it must be a function of mu and of logvar"
        problem = close(grad, want, f"dz/d{name} (times the weights)", why)
        if problem:
            return problem
    return None


def _draw_case(each: tuple[int, ...], seed: int, gradients: bool, hidden: bool = False) -> Case:
    what = "gradients of" if gradients else "the spread of"
    return Case(
        f"{what} {ROWS} draws for mu and logvar of shape {(ROWS, *each)}",
        _draw_inputs(each, seed),
        _run_draws,
        _judge_draw_gradients if gradients else _judge_draws,
        hidden,
    )


def _reparameterize_cases() -> tuple[Case, ...]:
    return (
        _draw_case((6,), 21, gradients=False),
        _draw_case((6,), 22, gradients=True),
        _draw_case((2, 3), 23, gradients=False, hidden=True),
        _draw_case((4,), 24, gradients=True, hidden=True),
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
    "it should be each image's negative log-likelihood under independent Bernoulli pixels "
    "(in nats, summed over its pixels), computed from the logits in a way that stays finite"
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
            return "it is not differentiable in the logits: gradients cannot reach them"
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
        return "the loss has no graph for gradients: training could not follow it"
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


REPARAMETERIZE = Step(
    "reparameterize",
    "reparameterize",
    "the reparameterisation trick: a sample gradients pass through",
    2,
    lambda: package("models").reparameterize,
    _reparameterize_cases(),
)


KL_PER_UNIT = Step(
    "kl_per_unit",
    "kl_per_unit",
    "the KL term in closed form, per latent unit",
    2,
    lambda: package("losses").kl_per_unit,
    _kl_cases(),
)


BERNOULLI_NLL = Step(
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
)


VAE_LOSS = Step(
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
)

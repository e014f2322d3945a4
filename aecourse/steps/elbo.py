"""Lesson 03's steps that are functions of tensors: the reparameterisation, and the loss term
by term (the KL per latent unit, the Bernoulli reconstruction term, the negative ELBO).

Each is checked on its values and on its gradients, which the VAE's training relies on.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seeded

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


DRAW = "z is mu plus sigma times one standard normal draw per number, sigma^2 = exp(logvar)"
KL = "it should be the KL divergence of N(mu, sigma^2) from N(0, 1), unit by unit"


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

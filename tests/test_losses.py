import math

import pytest
import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from aecourse.losses import bernoulli_nll, kl_divergence, vae_loss


def test_kl_is_zero_for_the_prior_and_positive_otherwise():
    zeros = torch.zeros(4, 10)
    assert torch.equal(kl_divergence(zeros, zeros), torch.zeros(4))
    g = torch.Generator().manual_seed(0)
    assert (
        kl_divergence(torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g)) > 0
    ).all()


def test_kl_matches_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64) * 0.5
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,))  # E_q[log q(z) - log p(z)]
    estimate = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(kl_divergence(mu, logvar), estimate, rtol=0.02, atol=0.01)


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    reference = torch_kl(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl_divergence(mu, logvar), reference, atol=1e-5)


def test_bernoulli_nll_is_summed_per_image_in_nats():
    target = torch.tensor([[[[0.0, 1.0]]], [[[1.0, 1.0]]]])
    logits = torch.zeros_like(target)  # p = 0.5 everywhere: log 2 nats per pixel
    assert torch.allclose(bernoulli_nll(logits, target), torch.full((2,), 2 * math.log(2)))


def test_vae_loss_adds_the_terms_with_beta():
    g = torch.Generator().manual_seed(2)
    logits, target = torch.randn(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    mu, logvar = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g)
    parts = vae_loss((logits, mu, logvar), target, beta=4.0)
    assert parts["recon"].item() == pytest.approx(bernoulli_nll(logits, target).mean().item())
    assert parts["kl"].item() == pytest.approx(kl_divergence(mu, logvar).mean().item())
    expected = parts["recon"] + 4.0 * parts["kl"]
    assert parts["loss"].item() == pytest.approx(expected.item())

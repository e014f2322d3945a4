import pytest
import torch

from aecourse.noise import gaussian_noise, masking_noise, salt_and_pepper

NOISES = [(gaussian_noise, 0.5), (salt_and_pepper, 0.2), (masking_noise, 0.5)]


@pytest.mark.parametrize(("noise", "level"), NOISES)
def test_values_stay_in_range_and_input_is_untouched(noise, level, digits):
    x = digits[:64]
    before = x.clone()
    out = noise(x, level)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(x, before)
    assert not torch.equal(out, x)


@pytest.mark.parametrize(("noise", "level"), NOISES)
def test_seeded_noise_repeats(noise, level, digits):
    a = noise(digits[:8], level, torch.Generator().manual_seed(3))
    b = noise(digits[:8], level, torch.Generator().manual_seed(3))
    c = noise(digits[:8], level, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)  # without a generator: torch's global one, which fit() seeds
    d = noise(digits[:8], level)
    torch.manual_seed(0)
    assert torch.equal(d, noise(digits[:8], level))


@pytest.mark.parametrize(("noise", "level"), NOISES)
def test_levels_outside_the_range_are_refused(noise, level):
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="must be between 0.0 and 1.0"):
            noise(torch.rand(2, 1, 4, 4), bad)


def test_noise_statistics():
    x = torch.full((1, 1, 200, 200), 0.5)
    g = torch.Generator().manual_seed(0)
    assert (gaussian_noise(x, 0.1, g) - x).std().item() == pytest.approx(0.1, rel=0.05)
    sp = salt_and_pepper(x, 0.2, g)
    assert (sp == 0).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert (sp == 1).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert (masking_noise(x, 0.3, g) == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(gaussian_noise(x, 0.0), x)

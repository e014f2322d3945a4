import pytest
import torch
from skimage.filters import gaussian

from aecourse.baselines import gaussian_blur, total_variation, tune
from aecourse.noise import gaussian_noise


def test_blur_matches_scikit_image_image_by_image(digits):
    x = digits[:3]
    ours = gaussian_blur(x, 1.0)
    for i in range(3):
        ref = gaussian(x[i, 0].double().numpy(), sigma=1.0)
        assert torch.allclose(ours[i, 0].double(), torch.from_numpy(ref), atol=1e-6)


def test_denoisers_reduce_noise_and_tuning_picks_the_best(digits):
    clean = digits[:100]
    noisy = gaussian_noise(clean, 0.5, torch.Generator().manual_seed(0))
    best, scores = tune(total_variation, [0.01, 0.2, 2.0], noisy, clean)
    assert best == max(scores, key=scores.get) == 0.2
    assert total_variation(noisy, 0.2).shape == clean.shape


def test_denoisers_refuse_color_batches():
    with pytest.raises(ValueError, match=r"grayscale batch \(B, 1, H, W\)"):
        gaussian_blur(torch.rand(2, 3, 8, 8), 1.0)

"""The package's copies of what the lessons write (aecourse.loop), against independent
references: scikit-image for PSNR and Lab."""

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab
from skimage.metrics import peak_signal_noise_ratio

from aecourse.color import to_gray
from aecourse.loop import gain_by_photo, mean_chroma, predict_colors, psnr_gain
from aecourse.models import ConvColorizer


def _skimage_psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of scikit-image's PSNR (data range 1)."""
    return float(np.mean([peak_signal_noise_ratio(y.numpy(), x.numpy(), data_range=1.0)
                          for x, y in zip(a.double(), b.double(), strict=True)]))  # fmt: skip


def test_psnr_gain_is_the_models_psnr_above_the_gray_copys():
    g = torch.Generator().manual_seed(0)
    rgb, predicted = torch.rand(4, 3, 12, 12, generator=g), torch.rand(4, 3, 12, 12, generator=g)
    gray = to_gray(rgb)
    expected = _skimage_psnr(predicted, rgb) - _skimage_psnr(gray.expand(-1, 3, -1, -1), rgb)
    assert psnr_gain(predicted, gray, rgb) == pytest.approx(expected, abs=1e-3)
    assert psnr_gain(gray.expand(-1, 3, -1, -1), gray, rgb) == 0.0  # doing nothing gains 0


def test_gain_by_photo_scores_each_photo_apart_in_order():
    g = torch.Generator().manual_seed(1)
    rgb, predicted = torch.rand(5, 3, 8, 8, generator=g), torch.rand(5, 3, 8, 8, generator=g)
    sources = ["b", "a", "b", "b", "a"]
    gains = gain_by_photo(predicted, rgb, sources)
    assert list(gains) == ["b", "a"]
    for name, idx in {"b": [0, 2, 3], "a": [1, 4]}.items():
        assert gains[name] == pytest.approx(psnr_gain(predicted[idx], to_gray(rgb[idx]), rgb[idx]))


def test_mean_chroma_matches_scikit_image_and_is_zero_for_gray():
    g = torch.Generator().manual_seed(2)
    rgb = torch.rand(3, 3, 8, 8, generator=g)
    lab = np.stack([rgb2lab(im.permute(1, 2, 0).numpy()) for im in rgb])
    assert mean_chroma(rgb) == pytest.approx(float(np.hypot(lab[..., 1], lab[..., 2]).mean()),
                                             rel=1e-3)  # fmt: skip
    assert mean_chroma(torch.full((2, 3, 4, 4), 0.5)) < 0.05  # sRGB gray: a* = b* = 0 (rounded)


def test_predict_colors_batch_by_batch_equals_all_at_once():
    torch.manual_seed(0)
    model, gray = ConvColorizer(width=4), torch.rand(10, 1, 16, 16)
    with torch.no_grad():
        whole = model(gray)
    assert torch.allclose(predict_colors(model, gray, batch_size=3), whole, atol=1e-6)
    assert not model.training

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from aecourse.color import constant_color, lab_join, lab_split, lab_to_rgb, rgb_to_lab, to_gray


def _images(seed=0):
    return torch.rand(3, 3, 9, 11, generator=torch.Generator().manual_seed(seed)).double()


def test_rgb_to_lab_matches_scikit_image():
    x = _images()
    ref = np.stack([rgb2lab(img.permute(1, 2, 0).numpy()) for img in x])
    assert np.abs(rgb_to_lab(x).permute(0, 2, 3, 1).numpy() - ref).max() < 1e-4


def test_lab_to_rgb_matches_scikit_image_and_round_trips():
    x = _images(1)
    lab = rgb_to_lab(x)
    ref = np.stack([lab2rgb(img.permute(1, 2, 0).numpy()) for img in lab])
    assert np.abs(lab_to_rgb(lab).permute(0, 2, 3, 1).numpy() - ref).max() < 1e-4
    assert torch.allclose(lab_to_rgb(lab), x, atol=1e-9)


def test_split_and_join_keep_lightness_and_scale_ab():
    x = _images(2).float()
    lightness, ab = lab_split(x)
    assert lightness.shape == (3, 1, 9, 11) and ab.shape == (3, 2, 9, 11)
    assert lightness.min() >= 0 and lightness.max() <= 1 and ab.min() >= 0 and ab.max() <= 1
    assert torch.allclose(lab_join(lightness, ab), x, atol=1e-4)


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match=r"RGB images of shape \(B, 3, H, W\)"):
        rgb_to_lab(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="Lab images"):
        lab_to_rgb(torch.rand(1, 2, 8, 8))


def test_colorize_keeps_lightness_in_lab_and_checks_its_arguments():
    from aecourse.color import colorize
    from aecourse.models import ColorAutoEncoder

    torch.manual_seed(0)
    rgb = torch.rand(3, 3, 32, 32)
    lab_out = colorize(ColorAutoEncoder(2), rgb, "lab", batch_size=2)
    rgb_out = colorize(ColorAutoEncoder(3), rgb, "rgb")
    assert lab_out.shape == rgb_out.shape == rgb.shape
    assert 0 <= lab_out.min() and lab_out.max() <= 1
    # Lab keeps the given lightness, except where the predicted colour leaves the sRGB gamut.
    lightness_error = (rgb_to_lab(lab_out)[:, 0] - rgb_to_lab(rgb)[:, 0]).abs()
    assert lightness_error.median() < 0.5
    with pytest.raises(ValueError, match="space must be 'rgb' or 'lab'"):
        colorize(ColorAutoEncoder(3), rgb, "hsv")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        colorize(ColorAutoEncoder(3), rgb[:, :1], "rgb")


def test_constant_color_is_own_lightness_with_the_mean_training_color():
    rng = np.random.default_rng(0)
    train = torch.from_numpy(rng.random((4, 3, 8, 8))).float()
    test = torch.from_numpy(rng.random((2, 3, 8, 8))).float()
    ours = constant_color(train, test)
    # The same by scikit-image: mean a*b* of the training pixels, each test pixel's own L.
    train_lab = rgb2lab(train.permute(0, 2, 3, 1).numpy())
    test_lab = rgb2lab(test.permute(0, 2, 3, 1).numpy())
    test_lab[..., 1:] = train_lab[..., 1:].reshape(-1, 2).mean(0)
    reference = torch.from_numpy(lab2rgb(test_lab)).permute(0, 3, 1, 2).float()
    assert torch.allclose(ours, reference, atol=2e-3)


def test_to_gray_refuses_gray_input_and_says_what_it_needs():
    with pytest.raises(
        ValueError, match=r"colour images of shape \(B, 3, H, W\), got \(2, 1, 8, 8\)"
    ):
        to_gray(torch.rand(2, 1, 8, 8))

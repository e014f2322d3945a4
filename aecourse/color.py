"""Colour spaces in torch, batched on any device: gray (luma), and sRGB <-> CIE Lab.

Gray is what a black-and-white photo keeps of a colour photo: the luma, a weighted sum of the
gamma-encoded R, G and B (ITU-R BT.601; luminance proper sums linear light). Lab separates
lightness L (0..100) from two colour axes a* (green-red) and b* (blue-yellow). Colorizing in
Lab means predicting only a*b* from L: the lightness the photo already has is kept exactly, as
published colorization methods do. Matches ``skimage.color.rgb2lab`` (D65 white) and PIL's
``convert("L")``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# ITU-R BT.601 luma, the weights PIL uses for mode "L" (and most "grayscale" photos).
LUMA = (0.299, 0.587, 0.114)

# sRGB (linear) -> XYZ, and the D65 reference white.
_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
AB_RANGE = 110.0  # |a*|, |b*| of sRGB colours stay within about 110


def _check(x: torch.Tensor, channels: int, what: str) -> None:
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"Expected {what} of shape (B, {channels}, H, W), got {tuple(x.shape)}.")


def to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB colour in [0, 1] -> (B, 1, H, W) luma in [0, 1]."""
    _check(rgb, 3, "colour images")
    weights = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> (B, 3, H, W) Lab: L in [0, 100], a*, b* about +-110."""
    _check(rgb, 3, "RGB images")
    x = rgb.double()
    linear = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = torch.einsum("ij,bjhw->bihw", _RGB_TO_XYZ.to(x), linear)
    xyz = xyz / _WHITE.to(x).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    lab = torch.stack(
        [116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1
    )
    return lab.to(rgb.dtype)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) Lab -> (B, 3, H, W) sRGB, clipped to [0, 1] (out-of-gamut colours)."""
    _check(lab, 3, "Lab images")
    x = lab.double()
    fy = (x[:, 0] + 16) / 116
    f = torch.stack([fy + x[:, 1] / 500, fy, fy - x[:, 2] / 200], dim=1)
    xyz = torch.where(f > 0.206893, f**3, (f - 16 / 116) / 7.787)
    xyz = xyz * _WHITE.to(x).view(1, 3, 1, 1)
    linear = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_XYZ.to(x)), xyz)
    linear = linear.clamp_min(0)
    srgb = torch.where(linear > 0.0031308, 1.055 * linear ** (1 / 2.4) - 0.055, 12.92 * linear)
    return srgb.clamp(0, 1).to(lab.dtype)


def lab_split(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour images -> the model's input L/100 (B, 1, H, W) and target a*b* scaled to [0, 1]."""
    lab = rgb_to_lab(rgb)
    return lab[:, :1] / 100, (lab[:, 1:] / AB_RANGE + 1) / 2


def lab_join(lightness: torch.Tensor, ab_scaled: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`lab_split`: L/100 and scaled a*b* -> sRGB in [0, 1]."""
    ab = (ab_scaled * 2 - 1) * AB_RANGE
    return lab_to_rgb(torch.cat([lightness * 100, ab], dim=1))


@torch.no_grad()
def constant_color(
    train_rgb: torch.Tensor, rgb: torch.Tensor, lab: tuple[Callable, Callable] | None = None
) -> torch.Tensor:
    """Each photo of ``rgb`` with its own lightness and one colour for all: the mean a*b* of
    ``train_rgb``. It is the best single colour under MSE on a*b*, so a colorizer's skill is
    what it scores above this, not above the gray copy. ``lab``: the (split, join) pair to use,
    e.g. the learner's own (Lesson 05 writes them); by default :func:`lab_split` and
    :func:`lab_join`."""
    _check(train_rgb, 3, "RGB images")
    _check(rgb, 3, "RGB images")
    split, join = lab or (lab_split, lab_join)
    mean_ab = split(train_rgb)[1].mean(dim=(0, 2, 3), keepdim=True).to(rgb.device)
    lightness, ab = split(rgb)
    return join(lightness, mean_ab.expand_as(ab))


@torch.no_grad()
def colorize(
    model: torch.nn.Module,
    rgb: torch.Tensor,
    space: str,
    batch_size: int = 256,
    lab: tuple[Callable, Callable] | None = None,
):
    """Colour predictions (B, 3, H, W) in [0, 1] for the photos ``rgb``, from their gray alone.

    ``space="rgb"``: the model maps the luma (:func:`to_gray`) to RGB.
    ``space="lab"``: the model maps L to a*b*, joined with the photo's own L (kept exactly),
    with ``lab``'s (split, join) pair (default :func:`lab_split` and :func:`lab_join`).
    """
    split, join = lab or (lab_split, lab_join)
    if space not in ("rgb", "lab"):
        raise ValueError(f"space must be 'rgb' or 'lab', got {space!r}.")
    _check(rgb, 3, "RGB images")
    model.eval()
    device = next(model.parameters()).device
    out = []
    for chunk in rgb.split(batch_size):
        chunk = chunk.to(device)
        if space == "rgb":
            out.append(model(to_gray(chunk)).float())
        else:
            lightness, _ = split(chunk)
            out.append(join(lightness, model(lightness).float()))
    return torch.cat(out)

"""Classical, non-learned answers to the lessons' tasks: what a model has to beat.

The denoisers come from scikit-image and run on the whole batch in one call; their parameter
is tuned on the validation split (:func:`tune`), never on the test split. scikit-image is
imported when a denoiser first runs: importing it (and SciPy's statistics) costs half a
second that every process importing the lesson's cells would pay, the grader's included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from aecourse.metrics import psnr

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]


def _per_image(fn, x: torch.Tensor) -> torch.Tensor:
    """Apply a NumPy function to a (B, 1, H, W) batch as a (B, H, W) stack, back to torch."""
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"Expected a grayscale batch (B, 1, H, W), got {tuple(x.shape)}.")
    out = fn(x[:, 0].double().cpu().numpy())
    return torch.from_numpy(out).to(x.dtype).unsqueeze(1).to(x.device)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each image with a Gaussian of standard deviation ``sigma`` pixels."""
    from skimage.filters import gaussian

    return _per_image(lambda a: gaussian(a, sigma=(0, sigma, sigma)), x)


def total_variation(x: torch.Tensor, weight: float) -> torch.Tensor:
    """Chambolle's total-variation denoising of each image (larger weight, flatter result)."""
    from skimage.restoration import denoise_tv_chambolle

    return _per_image(lambda a: denoise_tv_chambolle(a, weight=weight, channel_axis=0), x)


def tune(
    denoiser: Denoiser, params: Sequence[float], noisy: torch.Tensor, clean: torch.Tensor
) -> tuple[float, dict[float, float]]:
    """The parameter with the best mean PSNR on (noisy, clean), and the PSNR of every one."""
    scores = {p: psnr(denoiser(noisy, p), clean).mean().item() for p in params}
    return max(scores, key=scores.get), scores

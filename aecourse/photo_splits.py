"""Photos as a colorization data set: gray inputs and colour targets, split by photo.

A few photos make few images, so each photo is cut into many random, randomly mirrored crops.
The split is made by *photo* first (:func:`split_photo_names`), so that no test crop comes
from a photo the model trained on; then each split's budget of crops is shared out among its
photos (:func:`split_crops`). The crops stay uint8 while they are cut, and become float
tensors in [0, 1] on the training device at the end (:func:`make_photos`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from aecourse.color import to_gray
from aecourse.photo_files import image_tensor

SPLITS = ("train", "val", "test")
CROP_SCALE = 2.5  # crops are cut after the shorter side is resized to 2.5 crop sizes


@dataclass
class ColorSplit:
    """Grayscale inputs (N, 1, S, S) and colour targets (N, 3, S, S), floats in [0, 1]."""

    gray: torch.Tensor
    rgb: torch.Tensor
    sources: list[str] | None = None  # the photo each image was cut from

    def __len__(self) -> int:
        return len(self.rgb)


@dataclass
class Photos:
    """The three splits, where they came from, and what the loader warned about."""

    train: ColorSplit
    val: ColorSplit
    test: ColorSplit
    source: str
    description: str
    image_size: int
    photos_per_split: dict[str, list[str]] | None = None  # which photos went where
    warnings: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def split_summary(self) -> dict[str, dict[str, int]]:
        """Images and source photos per split, for the record."""
        photos = self.photos_per_split or {}
        return {k: {"images": n, "photos": len(photos.get(k, []))} for k, n in self.sizes().items()}


def split_photo_names(
    names: list[str], test_photos: int = 2, val_photos: int = 1, seed: int = 0
) -> dict[str, list[str]]:
    """Which photos go to train, val and test: a fixed-seed shuffle of the sorted names."""
    names = sorted(names)
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    test = [names[i] for i in order[:test_photos]]
    val = [names[i] for i in order[test_photos : test_photos + val_photos]]
    train = [names[i] for i in order[test_photos + val_photos :]]
    return {"train": train, "val": val, "test": test}


def random_crops(
    photo: np.ndarray, n: int, size: int, scale: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` crops (randomly mirrored) of a photo whose shorter
    side is first resized to ``scale`` pixels: a (n, 3, size, size) uint8 tensor."""
    image = Image.fromarray(photo).convert("RGB")
    factor = scale / min(image.size)
    image = image.resize((round(image.width * factor), round(image.height * factor)),
                         Image.BICUBIC)  # fmt: skip
    full = image_tensor(image)
    _, h, w = full.shape
    tops = torch.randint(0, h - size + 1, (n,), generator=generator).tolist()
    lefts = torch.randint(0, w - size + 1, (n,), generator=generator).tolist()
    flips = (torch.rand(n, generator=generator) < 0.5).tolist()
    crops = [full[:, t : t + size, x : x + size] for t, x in zip(tops, lefts, strict=True)]
    return torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flips, strict=True)])


def crops_of(
    groups: dict[str, list[np.ndarray]],
    names: list[str],
    total: int,
    image_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, list[str]]:
    """``total`` random crops shared out evenly among the photos of ``names``: a uint8
    (total, 3, S, S) tensor and, per crop, the name of its photo. Crops are cut after the
    shorter side is resized to 2.5 crop sizes, so a crop shows a part of the scene."""
    photos = [(name, p) for name in names for p in groups[name]]
    shares = [total // len(photos) + (i < total % len(photos)) for i in range(len(photos))]
    crops = [
        random_crops(p, k, image_size, int(image_size * CROP_SCALE), generator)
        for (_, p), k in zip(photos, shares, strict=True)
    ]
    sources = [name for (name, _), k in zip(photos, shares, strict=True) for _ in range(k)]
    return torch.cat(crops), sources


def split_crops(
    groups: dict[str, list[np.ndarray]],
    names: dict[str, list[str]],
    crops: tuple[int, int, int],
    image_size: int,
    seed: int,
) -> tuple[list[torch.Tensor], list[list[str]]]:
    """Each split's budget of crops (``crops``: train, val, test) cut from its own photos
    (``names``, as :func:`split_photo_names` gives them): uint8 tensors and sources."""
    generator = torch.Generator().manual_seed(seed)
    parts, sources = [], []
    for split, total in zip(SPLITS, crops, strict=True):
        images, split_sources = crops_of(groups, names[split], total, image_size, generator)
        parts.append(images)
        sources.append(split_sources)
    return parts, sources


def make_photos(
    parts: list[torch.Tensor],
    source: str,
    description: str,
    image_size: int,
    device: str | torch.device,
    verbose: bool,
    names: dict[str, list[str]] | None = None,
    sources: list[list[str]] | None = None,
) -> Photos:
    """The data set from three uint8 image tensors (train, val, test): floats in [0, 1] on
    ``device``, with their gray inputs; ``verbose`` prints where they came from and how many."""
    splits = []
    for i, rgb in enumerate(parts):
        rgb = rgb.to(device).float().div_(255.0)
        splits.append(ColorSplit(to_gray(rgb), rgb, sources[i] if sources else None))
    photos = Photos(*splits, source=source, description=description, image_size=image_size,
                    photos_per_split=names)  # fmt: skip
    if verbose:
        sizes = " | ".join(f"{k} {v:,}" for k, v in photos.sizes().items())
        print(f"Photo source: {description}\nImages of {image_size}x{image_size}: {sizes}")
    return photos

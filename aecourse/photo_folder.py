"""A folder of photos as a colorization data set: found, decoded once, cached, checked, split.

Every jpg/jpeg/png/bmp/webp file under the folder (your own photos, the seed's 7,129
landscapes, Flowers-102) is decoded upright and in RGB (:mod:`aecourse.photo_files`).
Unreadable, tiny and gray photos are skipped with a warning that names them; other files are
named as ignored. The decoded photos are cached as a tensor file in ``data/cache/``, so a
second run does not decode them again (and repeats the warnings). The photos are split
80/10/10 with a fixed seed, at least one photo in each split: a large folder gives one
resized, centre-cropped image per photo, split by image as in the seed; a small one is split
by photo and cut into random crops like the shipped photos (:mod:`aecourse.photo_splits`).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from aecourse.color import rgb_to_lab
from aecourse.data import DATA_DIR
from aecourse.photo_files import (
    DECODE_ERRORS,
    EXTENSIONS,
    MIN_SIDE,
    decode_error,
    fit_square,
    open_photo,
    shorter_side,
)
from aecourse.photo_splits import (
    CROP_SCALE,
    SPLITS,
    Photos,
    make_photos,
    split_crops,
    split_photo_names,
)
from aecourse.train import progress_enabled

FOLDER_FRACTIONS = (0.8, 0.1, 0.1)
MIN_PHOTOS = 3  # one each to train, validate and test on
FEW_TEST_PHOTOS = 5  # fewer test photos than this, and a verdict rests on too little
GRAY_CHROMA = 4.0  # mean Lab chroma below this: a gray or near-gray photo, no colour to learn
CACHE_VERSION = 2  # bump when decoding changes, so that old caches are not reused


def plural(n: int, word: str) -> str:
    """``plural(1, "photo")`` -> "1 photo", ``plural(3, "photo")`` -> "3 photos"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _names(items: list[str], most: int = 8) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most:,} more" if len(items) > most else "")


def find_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """Image files under ``folder`` (recursively, sorted for a stable order), and the other
    files found there, which are not read."""
    if not folder.exists():
        raise FileNotFoundError(
            f"The photo folder {folder} does not exist. Put your photos there (jpg, png, "
            "bmp or webp, in any sub-folders) or use the offline photos: source='shipped'."
        )
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; point the source at a folder of photos.")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in EXTENSIONS]
    if not images:
        raise FileNotFoundError(
            f"No images ({', '.join(sorted(EXTENSIONS))}) in {folder}. Check the path, or use "
            "the offline photos: source='shipped'."
        )
    return images, [p for p in files if p.suffix.lower() not in EXTENSIONS]


def photo_chroma(image: Image.Image) -> float:
    """Mean colourfulness of a photo: Lab chroma sqrt(a*^2 + b*^2), averaged over a 64x64
    thumbnail (0 for gray; everyday photos score 10 to 40)."""
    small = np.asarray(image.resize((64, 64), Image.BILINEAR), dtype=np.float32) / 255.0
    lab = rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1)[None])
    return torch.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2).mean().item()


@dataclass
class DecodedFolder:
    """The usable photos of a folder as uint8 tensors, their names, and what was skipped."""

    images: list[torch.Tensor] | torch.Tensor  # squares come back from the cache stacked
    names: list[str]
    warnings: list[str]


def decode_folder(
    folder: Path, files: list[Path], side: int, square: bool, progress: bool | None = None
) -> DecodedFolder:
    """Decode every file: a (3, side, side) square each (``square``) or the photo with its
    shorter side resized to ``side``. Unreadable, tiny and gray photos are skipped and named."""
    images, names = [], []
    skipped: dict[str, list[str]] = {"unreadable": [], "tiny": [], "gray": []}
    show = progress_enabled(progress) and len(files) >= 100
    for path in tqdm(files, desc="decoding photos", unit="photo", disable=not show):
        name = str(path.relative_to(folder))
        try:
            image = open_photo(path, draft=side)
        except DECODE_ERRORS as err:
            skipped["unreadable"].append(f"{name} ({decode_error(err)})")
            continue
        if min(image.size) < MIN_SIDE:
            skipped["tiny"].append(f"{name} ({image.width}x{image.height})")
        elif photo_chroma(image) < GRAY_CHROMA:
            skipped["gray"].append(name)
        else:
            images.append(fit_square(image, side) if square else shorter_side(image, side))
            names.append(name)
    why = {
        "unreadable": "not readable as images",
        "tiny": f"smaller than {MIN_SIDE} pixels on a side",
        "gray": f"gray or nearly gray (mean chroma below {GRAY_CHROMA:g}): no colours to learn",
    }
    notes = [
        f"skipped {plural(len(items), 'file')} {why[kind]}: {_names(items)}"
        for kind, items in skipped.items()
        if items
    ]
    return DecodedFolder(images, names, notes)


def _cache_path(files: list[Path], key: str, cache_dir: Path) -> Path:
    """A cache name that changes when any file, its size or its date, or ``key`` changes."""
    digest = hashlib.sha256(f"{key}|{CACHE_VERSION}".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir / f"photos-{key}-{digest.hexdigest()[:16]}.pt"


def _decode_cached(folder, files, side, square, cache_dir) -> tuple[DecodedFolder, str]:
    key = f"{side}px-{'squares' if square else 'photos'}"
    cache = _cache_path(files, key, Path(cache_dir) if cache_dir else DATA_DIR / "cache")
    if cache.is_file():
        payload = torch.load(cache, weights_only=True)
        decoded = DecodedFolder(payload["images"], payload["names"], payload["warnings"])
        decoded.warnings = [f"{w} (found when the folder was decoded)" for w in decoded.warnings]
        return decoded, f"decoded earlier, cached in {cache.name}"
    decoded = decode_folder(folder, files, side, square)
    cache.parent.mkdir(parents=True, exist_ok=True)
    images = torch.stack(decoded.images) if square and decoded.images else decoded.images
    torch.save({"images": images, "names": decoded.names, "warnings": decoded.warnings}, cache)
    return decoded, f"decoded now, cached as {cache}"


def split_counts(n: int) -> tuple[int, int, int]:
    """Train, val and test counts for ``n`` photos: 80/10/10, at least one in each."""
    if n < MIN_PHOTOS:
        raise ValueError(f"{n} is fewer than the {MIN_PHOTOS} photos a split needs")
    val = test = max(1, round(n * FOLDER_FRACTIONS[2]))
    return n - val - test, val, test


def load_photo_folder(
    folder: str | Path,
    image_size: int,
    *,
    crops: tuple[int, int, int] = (1200, 200, 200),
    seed: int = 0,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    verbose: bool = True,
) -> Photos:
    """Photos from a folder, split 80/10/10 with a fixed seed (at least one photo each).

    A folder with at least as many photos as ``crops`` asks for is used as the seed used its
    7,129 landscapes: each photo resized and centre-cropped to one image, split by image. A
    smaller folder is used like the shipped photos: split by photo, then each split's crop
    budget is cut as random crops of its photos. Every warning (files skipped, too few test
    photos) is printed and kept in ``Photos.warnings``, also when the folder comes from the
    cache.
    """
    folder = Path(folder)
    files, others = find_images(folder)
    large = len(files) >= sum(crops)
    side = image_size if large else int(image_size * CROP_SCALE)
    decoded, note = _decode_cached(folder, files, side, large, cache_dir)
    notes = list(decoded.warnings)
    if others:
        kinds = [str(p.relative_to(folder)) for p in others]
        notes.insert(0, f"ignored {plural(len(others), 'file')} not in a format read here "
                     f"(jpg, png, bmp, webp): {_names(kinds)}")  # fmt: skip
    n = len(decoded.images)
    if n < MIN_PHOTOS:
        for warning in notes:
            print(f"Warning: {warning}", file=sys.stderr)
        skipped = f" ({plural(len(files) - n, 'file')} skipped, see the warnings above)" if (
            len(files) > n) else ""  # fmt: skip
        raise ValueError(
            f"{folder} has {plural(n, 'usable colour photo')}{skipped}; at least {MIN_PHOTOS} "
            "are needed (one each to train, validate and test): add photos, or use "
            "photo_source='shipped'."
        )
    n_train, n_val, n_test = split_counts(n)
    if large:  # one image per photo, split by image (the seed's way)
        images = decoded.images if torch.is_tensor(decoded.images) else torch.stack(decoded.images)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        index = [order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]]
        names = {
            k: [decoded.names[j] for j in i.tolist()] for k, i in zip(SPLITS, index, strict=True)
        }
        parts, sources = [images[i] for i in index], [names[k] for k in SPLITS]
        how = "one image per photo, split by image"
    else:  # random crops, split by photo (like the shipped photos)
        groups = {name: [im.permute(1, 2, 0).numpy()] for name, im in
                  zip(decoded.names, decoded.images, strict=True)}  # fmt: skip
        names = split_photo_names(decoded.names, n_test, n_val, seed)
        parts, sources = split_crops(groups, names, crops, image_size, seed)
        how = "random crops, split by photo"
    if n_test < FEW_TEST_PHOTOS:
        notes.append(
            f"only {plural(n_test, 'test photo')}: verdicts on so few photos mean little "
            f"(a folder of {FEW_TEST_PHOTOS * 10} photos or more gives {FEW_TEST_PHOTOS} or more)"
        )
    for warning in notes:
        print(f"Warning: {warning}", file=sys.stderr)
    counts = " | ".join(f"{k} {len(v):,}" for k, v in names.items())
    desc = f"{plural(n, 'photo')} from {folder}, {how} (photos: {counts}; {note})"
    photos = make_photos(parts, "folder", desc, image_size, device, verbose, names, sources)
    photos.warnings = notes
    return photos

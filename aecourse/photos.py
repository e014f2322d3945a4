"""Colour photographs for colorization: grayscale input, colour target, split by photo.

Two sources stand behind :func:`load_photos`:

* ``"shipped"`` (offline default): the colour photographs that scikit-image, scikit-learn and
  matplotlib ship, cut into many random crops. Train, val and test are split by *source
  photo*, so no test crop comes from a training photo.
* a folder path: every jpg/jpeg/png/bmp/webp file under it (e.g. the seed's 7,129 landscape
  photos, or your own), converted to RGB, resized and centre-cropped to a square, and split
  80/10/10 by image with a fixed seed. Decoded images are cached as a tensor file in
  ``data/cache/`` so a second run does not decode them again.

Images are kept as uint8 while decoding and become float tensors in [0, 1] on the device.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from aecourse.data import DATA_DIR

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
FOLDER_FRACTIONS = (0.8, 0.1, 0.1)
# ITU-R BT.601 luma, the weights PIL uses for mode "L" (and most "grayscale" photos).
LUMA = (0.299, 0.587, 0.114)


def to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) colour in [0, 1] -> (B, 1, H, W) luminance in [0, 1]."""
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"Expected colour images (B, 3, H, W), got {tuple(rgb.shape)}.")
    weights = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)


@dataclass
class ColourSplit:
    """Grayscale inputs (N, 1, S, S) and colour targets (N, 3, S, S), floats in [0, 1]."""

    gray: torch.Tensor
    rgb: torch.Tensor
    sources: list[str] | None = None  # shipped photos: the photo each crop was cut from

    def __len__(self) -> int:
        return len(self.rgb)


@dataclass
class Photos:
    train: ColourSplit
    val: ColourSplit
    test: ColourSplit
    source: str
    description: str
    image_size: int
    photos_per_split: dict[str, list[str]] | None = None  # shipped photos: which went where

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB: grayscale, palette, RGBA (on white) and 16-bit included."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


def _square(image: Image.Image, size: int) -> torch.Tensor:
    """Resize the shorter side to ``size`` and centre-crop: a (3, size, size) uint8 tensor."""
    fitted = ImageOps.fit(image, (size, size), method=Image.BICUBIC)
    return torch.from_numpy(np.asarray(fitted, dtype=np.uint8).copy()).permute(2, 0, 1)


def _finish(
    parts, source: str, desc: str, size: int, device, verbose: bool, names=None, sources=None
) -> Photos:
    splits = []
    for i, rgb in enumerate(parts):
        rgb = rgb.to(device).float().div_(255.0)
        splits.append(ColourSplit(to_gray(rgb), rgb, sources[i] if sources else None))
    photos = Photos(*splits, source=source, description=desc, image_size=size,
                    photos_per_split=names)  # fmt: skip
    if verbose:
        sizes = " | ".join(f"{k} {v:,}" for k, v in photos.sizes().items())
        print(f"Photo source: {desc}\nImages of {size}x{size}: {sizes}")
    return photos


# --- a folder of photos ------------------------------------------------------------------


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted for a stable order."""
    if not folder.exists():
        raise FileNotFoundError(
            f"The photo folder {folder} does not exist. Put your photos there (jpg, png, "
            "bmp or webp, in any sub-folders) or use the offline photos: source='shipped'."
        )
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; point the source at a folder of photos.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)
    if not files:
        raise FileNotFoundError(
            f"No images ({', '.join(sorted(EXTENSIONS))}) in {folder}. Check the path, or use "
            "the offline photos: source='shipped'."
        )
    return files


def decode_folder(files: list[Path], size: int) -> tuple[torch.Tensor, list[Path]]:
    """Decode every file to a (3, size, size) uint8 tensor; unreadable ones are skipped and
    listed in one warning. Returns the stacked images and the files that were read."""
    images, kept, skipped = [], [], []
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()  # decode now, so a truncated file fails here
                images.append(_square(to_rgb(image), size))
            kept.append(path)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            skipped.append(f"{path.name} ({type(err).__name__}: {err})")
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} unreadable image file(s): " + "; ".join(skipped),
            stacklevel=2,
        )
    if not images:
        raise FileNotFoundError("None of the image files could be read; see the warning.")
    return torch.stack(images), kept


def _cache_path(files: list[Path], size: int, cache_dir: Path) -> Path:
    """A cache name that changes when any file, its size or its date, or the size changes."""
    digest = hashlib.sha256(str(size).encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir / f"photos-{size}px-{digest.hexdigest()[:16]}.pt"


def load_photo_folder(
    folder: str | Path,
    image_size: int,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    verbose: bool = True,
) -> Photos:
    """Photos from a folder, resized to ``image_size``, split 80/10/10 by image (fixed seed)."""
    folder = Path(folder)
    files = find_images(folder)
    cache = _cache_path(files, image_size, Path(cache_dir) if cache_dir else DATA_DIR / "cache")
    if cache.is_file():
        images = torch.load(cache, weights_only=True)["images"]
        note = f"decoded earlier, cached in {cache.name}"
    else:
        images, _ = decode_folder(files, image_size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"images": images}, cache)
        note = f"decoded now, cached as {cache}"
    n = len(images)
    n_val = n_test = max(1, round(n * FOLDER_FRACTIONS[1])) if n >= 3 else 0
    if n - n_val - n_test < 1:
        raise ValueError(f"{folder} has {n} readable images; at least 3 are needed to split.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    parts = [
        order[: n - n_val - n_test],
        order[n - n_val - n_test : n - n_test],
        order[n - n_test :],
    ]
    desc = f"{n:,} photos from {folder} ({note})"
    return _finish([images[p] for p in parts], "folder", desc, image_size, device, verbose)


# --- the photos that installed packages ship ---------------------------------------------


def shipped_photos() -> dict[str, list[np.ndarray]]:
    """Real colour photographs of everyday scenes from scikit-image, scikit-learn and
    matplotlib, by source.

    Views of one scene (scikit-image's stereo motorcycle pair) form one group, so they land
    in the same split. Left out: synthetic images (logos, charts, phantoms) and the scientific
    images (``retina``, ``immunohistochemistry``, ``hubble_deep_field``), whose colours come
    from stains, filters and false-colour composites rather than from the scene: a colorizer
    of photos should not learn them, and the seed's own data set is landscape photos.
    """
    from matplotlib import cbook
    from skimage import data as skdata
    from sklearn.datasets import load_sample_image

    left, right, _ = skdata.stereo_motorcycle()
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(to_rgb(Image.open(f)))
    return {
        "astronaut": [skdata.astronaut()],
        "chelsea": [skdata.chelsea()],
        "coffee": [skdata.coffee()],
        "motorcycle": [left, right],
        "rocket": [skdata.rocket()],
        "china": [load_sample_image("china.jpg")],
        "flower": [load_sample_image("flower.jpg")],
        "grace_hopper": [hopper],
    }


def random_crops(
    photo: np.ndarray, n: int, size: int, scale: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` crops (randomly mirrored) of a photo whose shorter
    side is first resized to ``scale`` pixels: a (n, 3, size, size) uint8 tensor."""
    image = Image.fromarray(photo).convert("RGB")
    factor = scale / min(image.size)
    image = image.resize((round(image.width * factor), round(image.height * factor)),
                         Image.BICUBIC)  # fmt: skip
    full = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
    _, h, w = full.shape
    tops = torch.randint(0, h - size + 1, (n,), generator=generator).tolist()
    lefts = torch.randint(0, w - size + 1, (n,), generator=generator).tolist()
    flips = (torch.rand(n, generator=generator) < 0.5).tolist()
    crops = [full[:, t : t + size, x : x + size] for t, x in zip(tops, lefts, strict=True)]
    return torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flips, strict=True)])


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
        random_crops(p, k, image_size, int(image_size * 2.5), generator)
        for (_, p), k in zip(photos, shares, strict=True)
    ]
    sources = [name for (name, _), k in zip(photos, shares, strict=True) for _ in range(k)]
    return torch.cat(crops), sources


def load_shipped_photos(
    image_size: int = 64,
    *,
    crops: tuple[int, int, int] = (1600, 200, 200),
    test_photos: int = 2,
    val_photos: int = 1,
    seed: int = 0,
    device: str | torch.device = "cpu",
    verbose: bool = True,
) -> Photos:
    """Random crops of the shipped photographs; photos are split between train, val and test
    with a fixed seed, then each split's crops are shared out evenly among its photos."""
    groups = shipped_photos()
    names = split_photo_names(list(groups), test_photos, val_photos, seed)
    generator = torch.Generator().manual_seed(seed)
    parts, sources = [], []
    for split, total in zip(("train", "val", "test"), crops, strict=True):
        images, split_sources = crops_of(groups, names[split], total, image_size, generator)
        parts.append(images)
        sources.append(split_sources)
    desc = (
        f"offline: crops of {len(groups)} photos shipped with scikit-image, scikit-learn "
        f"and matplotlib (test photos: {', '.join(names['test'])}; "
        f"val: {', '.join(names['val'])})"
    )
    return _finish(parts, "shipped", desc, image_size, device, verbose, names, sources)


def download_flowers102(root: Path = DATA_DIR) -> Path:
    """Oxford Flowers-102 through torchvision (8,189 colour photos, about 330 MB, needs a
    network once): returns its folder of jpg files, which :func:`load_photo_folder` reads."""
    from torchvision.datasets import Flowers102

    try:
        Flowers102(str(root), split="test", download=True)
    except Exception as err:  # a network error, a full disk, a broken archive ...
        raise RuntimeError(
            f"Could not download Flowers-102 into {root} ({type(err).__name__}: {err}). "
            "Without a network use the offline photos: photo_source='shipped'."
        ) from err
    return Path(root) / "flowers-102" / "jpg"


def resolve_photo_source(source: str | Path) -> tuple[str | Path, str]:
    """``"auto"`` becomes ``data/photos/`` when it holds images, else ``"shipped"``; the
    reason is returned for the lesson to print."""
    if str(source) != "auto":
        return source, "as chosen"
    folder = DATA_DIR / "photos"
    if folder.is_dir() and any(p.suffix.lower() in EXTENSIONS for p in folder.rglob("*")):
        return folder, f"auto: found photos in {folder}"
    return "shipped", f"auto: no photos in {folder}, so the offline shipped photos"


def load_photos(source: str | Path, image_size: int, **kwargs) -> Photos:
    """``"shipped"`` (offline), ``"flowers102"`` (torchvision download), ``"auto"``, or the
    path of a folder of photos. Keyword arguments go to the loader that applies."""
    source, why = resolve_photo_source(source)
    if why != "as chosen" and kwargs.get("verbose", True):
        print(f"Photo source {why}")
    if str(source) == "shipped":
        return load_shipped_photos(image_size, **kwargs)
    if str(source) == "flowers102":
        source = download_flowers102()
    folder_kwargs = {k: v for k, v in kwargs.items() if k in ("seed", "device", "verbose")}
    return load_photo_folder(source, image_size, **folder_kwargs)


def read_photo(photo: str | Path | bytes | np.ndarray, image_size: int) -> torch.Tensor:
    """One photo (a file path, the bytes of an uploaded file, or an (H, W, 3) uint8 array) as
    a (1, 3, S, S) float tensor in [0, 1], resized and centre-cropped: "colorize your own"."""
    if isinstance(photo, np.ndarray):
        return _square(to_rgb(Image.fromarray(photo)), image_size).unsqueeze(0).float() / 255.0
    if isinstance(photo, bytes):
        name, source = "the uploaded file", io.BytesIO(photo)
    else:
        source = Path(photo)
        name = source.name
        if not source.is_file():
            raise FileNotFoundError(
                f"No file at {source}: check the path (relative paths start in {Path.cwd()})."
            )
    try:
        with Image.open(source) as image:
            image.load()
            square = _square(to_rgb(image), image_size)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(
            f"Could not read {name} as an image ({type(err).__name__}: {err}). "
            "Use a jpg, png, bmp or webp photo."
        ) from err
    return square.unsqueeze(0).float() / 255.0

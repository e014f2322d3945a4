"""Colour photographs for colorization: grayscale input, colour target, split by photo.

Two sources stand behind :func:`load_photos`:

* ``"shipped"`` (offline default): the colour photographs that scikit-image, scikit-learn and
  matplotlib ship, cut into many random crops. Train, val and test are split by *source
  photo*, so no test crop comes from a training photo.
* a folder path: every jpg/jpeg/png/bmp/webp file under it (your own photos, the seed's 7,129
  landscapes, Flowers-102), turned upright (EXIF), converted to RGB, split 80/10/10 with a
  fixed seed. A large folder gives one resized, centre-cropped image per photo, split by image
  as in the seed; a small one is split by photo and cut into random crops like the shipped
  photos. Unreadable, tiny and gray photos are skipped with a warning that names them.
  Decoded photos are cached as a tensor file in ``data/cache/`` so a second run does not
  decode them again (and repeats the warnings).

Images are kept as uint8 while decoding and become float tensors in [0, 1] on the device.
"""

from __future__ import annotations

import hashlib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from aecourse.data import DATA_DIR

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
FOLDER_FRACTIONS = (0.8, 0.1, 0.1)
SPLITS = ("train", "val", "test")
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
    photos_per_split: dict[str, list[str]] | None = None  # which photos went where
    warnings: list[str] = field(default_factory=list)  # what the loader warned about

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def split_summary(self) -> dict[str, dict[str, int]]:
        """Images and source photos per split, for the record."""
        photos = self.photos_per_split or {}
        return {k: {"images": n, "photos": len(photos.get(k, []))} for k, n in self.sizes().items()}


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

MIN_PHOTOS = 3  # one each to train, validate and test on
FEW_TEST_PHOTOS = 5  # fewer test photos than this, and a verdict rests on too little
MIN_SIDE = 32  # pixels on the shorter side: smaller images (icons, strips) are skipped
GRAY_CHROMA = 4.0  # mean Lab chroma below this: a gray or near-gray photo, no colour to learn
CROP_SCALE = 2.5  # crops are cut after the shorter side is resized to 2.5 crop sizes
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


def open_photo(source, draft: int | None = None) -> Image.Image:
    """Decode an image file (path or file object) to RGB, turned upright as its EXIF
    orientation says (phones store photos sideways and tag them). ``draft``: a JPEG may be
    decoded at a reduced scale that still leaves this many pixels on the shorter side."""
    with Image.open(source) as image:
        if draft and image.format == "JPEG":
            image.draft("RGB", (draft, draft))
        image.load()  # decode now, so a truncated file fails here
        return to_rgb(ImageOps.exif_transpose(image))


def _decode_error(err: Exception) -> str:
    """PIL's error in words, without the file object it names (``<_io.BytesIO at 0x..>``)."""
    if isinstance(err, UnidentifiedImageError):
        return "not an image format PIL can decode"
    return f"{type(err).__name__}: {err}"


def photo_chroma(image: Image.Image) -> float:
    """Mean colourfulness of a photo: Lab chroma sqrt(a*^2 + b*^2), averaged over a 64x64
    thumbnail (0 for gray; everyday photos score 10 to 40)."""
    from aecourse.colour import rgb_to_lab  # colour imports this module

    small = np.asarray(image.resize((64, 64), Image.BILINEAR), dtype=np.float32) / 255.0
    lab = rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1)[None])
    return torch.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2).mean().item()


def _shorter_side(image: Image.Image, side: int) -> torch.Tensor:
    """Resize so that the shorter side is ``side`` pixels: a (3, H, W) uint8 tensor."""
    factor = side / min(image.size)
    size = (max(side, round(image.width * factor)), max(side, round(image.height * factor)))
    resized = image.resize(size, Image.BICUBIC)
    return torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy()).permute(2, 0, 1)


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
    from tqdm.auto import tqdm

    from aecourse.train import progress_enabled

    images, names = [], []
    skipped: dict[str, list[str]] = {"unreadable": [], "tiny": [], "gray": []}
    show = progress_enabled(progress) and len(files) >= 100
    for path in tqdm(files, desc="decoding photos", unit="photo", disable=not show):
        name = str(path.relative_to(folder))
        try:
            image = open_photo(path, draft=side)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            skipped["unreadable"].append(f"{name} ({_decode_error(err)})")
            continue
        if min(image.size) < MIN_SIDE:
            skipped["tiny"].append(f"{name} ({image.width}x{image.height})")
        elif photo_chroma(image) < GRAY_CHROMA:
            skipped["gray"].append(name)
        else:
            images.append(_square(image, side) if square else _shorter_side(image, side))
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
        generator = torch.Generator().manual_seed(seed)
        parts, sources = [], []
        for split, total in zip(SPLITS, crops, strict=True):
            split_crops, split_sources = crops_of(groups, names[split], total, image_size,
                                                  generator)  # fmt: skip
            parts.append(split_crops)
            sources.append(split_sources)
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
    photos = _finish(parts, "folder", desc, image_size, device, verbose, names, sources)
    photos.warnings = notes
    return photos


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
        random_crops(p, k, image_size, int(image_size * CROP_SCALE), generator)
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


def download_flowers102(root: Path | None = None) -> Path:
    """Oxford Flowers-102 through torchvision (8,189 colour photos, about 330 MB, needs a
    network once): returns its folder of jpg files, which :func:`load_photo_folder` reads.
    A complete earlier download (torchvision's layout: ``flowers-102/jpg/`` and the two
    ``.mat`` files it fetches last) is used as it is, without the network."""
    root = Path(root) if root else DATA_DIR
    base = root / "flowers-102"
    done = [base / "imagelabels.mat", base / "setid.mat"]
    if all(p.is_file() for p in done) and any((base / "jpg").glob("*.jpg")):
        return base / "jpg"
    from torchvision.datasets import Flowers102

    try:
        Flowers102(str(root), split="test", download=True)
    except Exception as err:  # a network error, a full disk, a broken archive ...
        raise RuntimeError(
            f"Could not download Flowers-102 into {root} ({type(err).__name__}: {err}). "
            "Without a network use the offline photos: photo_source='shipped'."
        ) from err
    return base / "jpg"


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
    folder_kwargs = {k: v for k, v in kwargs.items() if k != "test_photos" and k != "val_photos"}
    return load_photo_folder(source, image_size, **folder_kwargs)


def _array_image(photo: np.ndarray) -> Image.Image:
    """An (H, W), (H, W, 3) or (H, W, 4) array of uint8, or of floats in [0, 1], as a PIL
    image; anything else gets an error that says what is expected."""
    expected = "an (H, W, 3) array of uint8 0-255 or of floats 0-1"
    if photo.ndim == 3 and photo.shape[0] in (1, 3, 4) and photo.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"The array has shape {photo.shape}, channels first; expected {expected}. "
            "Use array.transpose(1, 2, 0)."
        )
    if photo.ndim == 3 and photo.shape[-1] == 1:
        photo = photo[..., 0]
    if not (photo.ndim == 2 or (photo.ndim == 3 and photo.shape[-1] in (3, 4))):
        raise ValueError(f"The array has shape {photo.shape}; expected {expected}.")
    if photo.dtype == np.uint8:
        return Image.fromarray(photo)
    if np.issubdtype(photo.dtype, np.floating):
        if not np.isfinite(photo).all():
            raise ValueError(f"The float array holds values that are not finite (NaN or inf); "
                             f"expected {expected}.")  # fmt: skip
        if photo.min() < 0 or photo.max() > 1:
            raise ValueError(
                f"The float array's values run from {photo.min():g} to {photo.max():g}; "
                f"expected {expected}."
            )
        return Image.fromarray(np.round(photo * 255).astype(np.uint8))
    raise ValueError(
        f"The array's type is {photo.dtype}; expected {expected}. For 16-bit images use "
        "(array / 65535).astype('float32')."
    )


def read_photo(
    photo: str | Path | bytes | np.ndarray, image_size: int, name: str | None = None
) -> torch.Tensor:
    """One photo (a file path, the bytes of an uploaded file, or an (H, W, 3) array) as a
    (1, 3, S, S) float tensor in [0, 1], upright, resized and centre-cropped: "colorize your
    own". ``name`` names uploaded bytes in error messages (e.g. the upload's file name)."""
    if not isinstance(image_size, int) or image_size <= 0:
        raise ValueError(
            f"image_size must be a positive whole number of pixels, not {image_size!r}."
        )
    if isinstance(photo, np.ndarray):
        image, name = _array_image(photo), name or "the array"
    else:
        if isinstance(photo, bytes | bytearray | memoryview):
            name, source = name or "the uploaded file", io.BytesIO(bytes(photo))
        else:
            source = Path(photo)
            name = name or source.name
            if source.is_dir():
                raise IsADirectoryError(
                    f"{source} is a folder: give the path of one photo file in it (for a folder"
                    " of photos to train on, use photo_source instead)."
                )
            if not source.is_file():
                raise FileNotFoundError(
                    f"No file at {source}: check the path (relative paths start in {Path.cwd()})."
                )
        try:
            image = open_photo(source)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            raise ValueError(
                f"Could not read {name} as an image ({_decode_error(err)}). "
                "Use a jpg, png, bmp or webp photo."
            ) from err
    image = to_rgb(image)
    if min(image.size) < MIN_SIDE:
        raise ValueError(
            f"{name} is {image.width}x{image.height} pixels; a photo needs at least {MIN_SIDE} "
            "on its shorter side."
        )
    return _square(image, image_size).unsqueeze(0).float() / 255.0

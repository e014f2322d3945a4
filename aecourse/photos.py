"""Where the colorization lessons' photos come from, behind one function: :func:`load_photos`.

* ``"shipped"`` (offline default): the colour photographs that scikit-image, scikit-learn and
  matplotlib ship, cut into many random crops, split by *source photo* so that no test crop
  comes from a training photo (:mod:`aecourse.photo_splits`).
* a folder path: your own photos, the seed's 7,129 landscapes (:mod:`aecourse.photo_folder`).
* ``"flowers102"``: Oxford Flowers-102, downloaded once by torchvision, read as a folder.
* ``"auto"``: ``data/photos/`` when it holds photos, else the shipped ones.

Whatever the source, the result is a :class:`~aecourse.photo_splits.Photos`: gray inputs and
colour targets as float tensors in [0, 1] on the device.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aecourse.data import DATA_DIR
from aecourse.photo_files import EXTENSIONS, to_rgb
from aecourse.photo_folder import load_photo_folder
from aecourse.photo_splits import Photos, make_photos, split_crops, split_photo_names

# The shipped photographs, as files inside the packages that ship them: (package, path).
# Read straight from their files, as those packages' own loaders read them, without importing
# scikit-learn and scikit-image (a second of imports, paid by every colour lesson and every
# notebook the grader runs).
SHIPPED_FILES: dict[str, list[tuple[str, str]]] = {
    "astronaut": [("skimage", "data/astronaut.png")],
    "chelsea": [("skimage", "data/chelsea.png")],
    "coffee": [("skimage", "data/coffee.png")],
    "motorcycle": [("skimage", "data/motorcycle_left.png"),
                   ("skimage", "data/motorcycle_right.png")],
    "rocket": [("skimage", "data/rocket.jpg")],
    "china": [("sklearn", "datasets/images/china.jpg")],
    "flower": [("sklearn", "datasets/images/flower.jpg")],
    "grace_hopper": [("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")],
}  # fmt: skip


def package_file(package: str, path: str) -> Path:
    """The file ``path`` inside the installed ``package``, found without importing it."""
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    file = Path(folders[0], path) if folders else None
    if file is None or not file.is_file():
        raise FileNotFoundError(
            f"The shipped photo {path} of {package} is not there: install the course's packages "
            "again (`make install`), or use a folder of your own photos (photo_source=FOLDER)."
        )
    return file


def shipped_photos() -> dict[str, list[np.ndarray]]:
    """Real colour photographs of everyday scenes from scikit-image, scikit-learn and
    matplotlib, by source (:data:`SHIPPED_FILES`).

    Views of one scene (scikit-image's stereo motorcycle pair) form one group, so they land
    in the same split. Left out: synthetic images (logos, charts, phantoms) and the scientific
    images (``retina``, ``immunohistochemistry``, ``hubble_deep_field``), whose colours come
    from stains, filters and false-colour composites rather than from the scene: a colorizer
    of photos should not learn them, and the seed's own data set is landscape photos.
    """
    photos = {}
    for name, files in SHIPPED_FILES.items():
        photos[name] = []
        for package, path in files:
            with Image.open(package_file(package, path)) as image:
                photos[name].append(np.asarray(to_rgb(image)))
    return photos


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
    parts, sources = split_crops(groups, names, crops, image_size, seed)
    desc = (
        f"offline: crops of {len(groups)} photos shipped with scikit-image, scikit-learn "
        f"and matplotlib (test photos: {', '.join(names['test'])}; "
        f"val: {', '.join(names['val'])})"
    )
    return make_photos(parts, "shipped", desc, image_size, device, verbose, names, sources)


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

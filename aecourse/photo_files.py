"""Reading one photo as the course needs it: 8-bit RGB, turned upright, as a uint8 tensor.

A photo comes as a file path, the bytes of an uploaded file, or an array. Each is decoded
(PIL), turned upright as its EXIF orientation says (phones store photos sideways and tag
them), converted to RGB whatever its mode (gray, palette, RGBA, 16-bit) and resized; what
cannot be read gets an error that says what was wrong and what to use instead.
:func:`image_tensor` is the one place where a decoded image becomes a tensor.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
MIN_SIDE = 32  # pixels on the shorter side: smaller images (icons, strips) are not photos
DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError)


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


def image_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as a (3, H, W) uint8 tensor (a copy: PIL's buffer is read-only)."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)


def fit_square(image: Image.Image, size: int) -> torch.Tensor:
    """Resize the shorter side to ``size`` and centre-crop: a (3, size, size) uint8 tensor."""
    return image_tensor(ImageOps.fit(image, (size, size), method=Image.BICUBIC))


def shorter_side(image: Image.Image, side: int) -> torch.Tensor:
    """Resize so that the shorter side is ``side`` pixels: a (3, H, W) uint8 tensor."""
    factor = side / min(image.size)
    size = (max(side, round(image.width * factor)), max(side, round(image.height * factor)))
    return image_tensor(image.resize(size, Image.BICUBIC))


def open_photo(source, draft: int | None = None) -> Image.Image:
    """Decode an image file (path or file object) to RGB, upright as its EXIF orientation
    says. ``draft``: a JPEG may be decoded at a reduced scale that still leaves this many
    pixels on the shorter side (much faster for large photos)."""
    with Image.open(source) as image:
        if draft and image.format == "JPEG":
            image.draft("RGB", (draft, draft))
        image.load()  # decode now, so a truncated file fails here
        return to_rgb(ImageOps.exif_transpose(image))


def decode_error(err: Exception) -> str:
    """PIL's error in words, without the file object it names (``<_io.BytesIO at 0x..>``)."""
    if isinstance(err, UnidentifiedImageError):
        return "not an image format PIL can decode"
    return f"{type(err).__name__}: {err}"


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
        except DECODE_ERRORS as err:
            raise ValueError(
                f"Could not read {name} as an image ({decode_error(err)}). "
                "Use a jpg, png, bmp or webp photo."
            ) from err
    image = to_rgb(image)
    if min(image.size) < MIN_SIDE:
        raise ValueError(
            f"{name} is {image.width}x{image.height} pixels; a photo needs at least {MIN_SIDE} "
            "on its shorter side."
        )
    return fit_square(image, image_size).unsqueeze(0).float() / 255.0

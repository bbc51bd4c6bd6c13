"""Still images (product photos): probe and load JPEG, PNG, WebP and HEIC/HEIF, upright.

Pillow reads them (pillow-heif adds HEIC/HEIF, the format phones take photos in); EXIF
orientation is applied, so sizes and pixels are what a viewer shows, not what the sensor
wrote. A file that does not decode whole (truncated, corrupt) is an :class:`InputError`
naming it: the decoder runs to the last pixel at probe time, not first at render time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm.errors import InputError

# what Pillow can tell apart by content; the suffix is only a hint for routing
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".hif")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# a decompression bomb guard: 100 megapixels is above any phone's photo (a 200 MP sensor
# bins to 50 MP) and keeps one decoded RGBA image under 400 MB
MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class ImageInfo:
    """An image as shown: ``width`` x ``height`` after its EXIF orientation."""

    path: str
    format: str
    width: int
    height: int
    orientation: int  # the EXIF orientation tag (1 = upright), as found in the file
    has_alpha: bool


@functools.lru_cache(maxsize=1)
def _pillow():
    from PIL import Image, ImageOps

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - a dependency; without it HEIC is refused by name
        pass
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image, ImageOps


def _open_upright(path: Path, label: str):
    Image, ImageOps = _pillow()
    if not path.exists():
        raise InputError(f"{label}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{label}: empty file")
    try:
        img = Image.open(path)
        fmt = img.format or "?"
        if fmt not in IMAGE_FORMATS:
            img.close()
            raise InputError(f"{label}: a {fmt} image; supported: JPEG, PNG, WebP, HEIC")
        orientation = int(img.getexif().get(0x0112, 1) or 1)
        img.load()  # decode every pixel now: a truncated file fails here
        upright = ImageOps.exif_transpose(img)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{label}: over {MAX_PIXELS // 1_000_000} megapixels, too large for a product photo") from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{label}: not an image (JPEG, PNG, WebP or HEIC)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{label}: corrupt or truncated image ({err})") from None
    return upright, fmt, orientation


def probe_image(path: str | Path, *, label: str | None = None) -> ImageInfo:
    """Format, upright size and orientation of a still image; decodes it whole to prove it."""
    p = Path(path)
    img, fmt, orientation = _open_upright(p, label or str(p))
    info = ImageInfo(str(p), fmt, img.width, img.height, orientation, "A" in img.getbands())
    img.close()
    return info


def load_image_rgb(path: str | Path, *, label: str | None = None, background: tuple[int, int, int] = (0, 0, 0)
                   ) -> np.ndarray:
    """The image upright as an ``(H, W, 3)`` uint8 sRGB array; transparency is flattened over
    ``background``."""
    p = Path(path)
    img, _, _ = _open_upright(p, label or str(p))
    Image, _ = _pillow()
    if "A" in img.getbands() or img.mode == "P":
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*background, 255))
        flat.alpha_composite(rgba)
        img = flat
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES

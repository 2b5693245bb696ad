"""Images the project draws itself: garments, their silhouettes and shop photos.

Everything here is deterministic (seeded) and returns plain numpy arrays or file bytes,
so a test or a benchmark can say exactly what it fed to the photo path. It lives in the
library because tests, benchmarks and the app's examples all use it (tests and
benchmarks never import each other's images).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def shirt_mask(height: int = 300, width: int = 400) -> np.ndarray:
    """(H, W) bool: a T-shirt (body and two short sleeves), centred, ~60 % of the height."""
    im = Image.new("L", (width, height), 0)
    cx, cy, s = width / 2, height / 2, height * 0.3
    # Outline clockwise from the left neck: sleeve, body, other sleeve.
    pts = [(-0.3, -1.0), (-0.9, -0.8), (-1.3, -0.3), (-1.0, -0.1), (-0.7, -0.4),
           (-0.7, 1.0), (0.7, 1.0), (0.7, -0.4), (1.0, -0.1), (1.3, -0.3), (0.9, -0.8),
           (0.3, -1.0), (0.0, -0.8)]  # fmt: skip
    ImageDraw.Draw(im).polygon([(cx + x * s, cy + y * s) for x, y in pts], fill=255)
    return np.asarray(im) > 0


def boot_mask(height: int = 300, width: int = 400) -> np.ndarray:
    """(H, W) bool: an ankle boot seen from the side, wider than tall (like the dataset's)."""
    im = Image.new("L", (width, height), 0)
    d = ImageDraw.Draw(im)
    # Shaft (left, tall) + foot (wide, low): bounding box 0.7 W x 0.6 H.
    x0, y0 = width * 0.15, height * 0.2
    d.rectangle([x0, y0, x0 + width * 0.25, y0 + height * 0.6], fill=255)
    d.rectangle([x0, y0 + height * 0.35, x0 + width * 0.7, y0 + height * 0.6], fill=255)
    return np.asarray(im) > 0


def trouser_mask(height: int = 300, width: int = 200) -> np.ndarray:
    """(H, W) bool: trousers (two legs joined at the top), much taller than wide."""
    im = Image.new("L", (width, height), 0)
    d = ImageDraw.Draw(im)
    x0, x1, y0, y1 = width * 0.3, width * 0.7, height * 0.1, height * 0.9
    d.rectangle([x0, y0, x1, y0 + height * 0.2], fill=255)
    d.rectangle([x0, y0, x0 + (x1 - x0) * 0.45, y1], fill=255)
    d.rectangle([x1 - (x1 - x0) * 0.45, y0, x1, y1], fill=255)
    return np.asarray(im) > 0


def paint(mask: np.ndarray, garment, background) -> np.ndarray:
    """(H, W, 3) uint8: `garment` colour where `mask`, `background` elsewhere."""
    out = np.empty((*mask.shape, 3), np.uint8)
    out[:] = np.asarray(background, np.uint8)
    out[mask] = np.asarray(garment, np.uint8)
    return out


def silhouette_canvas(image28: np.ndarray, scale: int = 10) -> np.ndarray:
    """A dataset garment's silhouette as someone fills it in on the sketch canvas: solid
    black on white, (28 * scale, 28 * scale, 4) RGBA uint8, like the drawable canvas."""
    mask = np.asarray(image28) > 25  # the garment; Fashion-MNIST backgrounds are ~0
    big = np.kron(mask, np.ones((scale, scale), bool))
    gray = np.where(big, 0, 255).astype(np.uint8)
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def encode(im: Image.Image | np.ndarray, fmt: str = "PNG", **params) -> bytes:
    """An image (PIL or array) as the bytes of a file in `fmt`."""
    if isinstance(im, np.ndarray):
        im = Image.fromarray(im)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def jpeg_with_orientation(upright: np.ndarray, orientation: int = 6) -> bytes:
    """A JPEG whose pixels are stored rotated, with the EXIF tag that turns them upright.

    Orientation 6 means "rotate 90 degrees clockwise to display", so the pixels are stored
    turned 90 degrees counter-clockwise; a viewer (and our photo path) must undo that.
    """
    assert orientation == 6, "only orientation 6 is needed by the tests"
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def shop_photo(
    img28: np.ndarray,
    scale: int = 12,
    background: tuple[int, int, int] = (246, 244, 240),
    margin: tuple[int, int] = (90, 160),
    quality: int = 90,
    colour: tuple[int, int, int] = (40, 45, 70),
) -> bytes:
    """An official 28x28 image dressed as a shop photo: a JPEG of a dark garment (navy
    unless told otherwise), upscaled, on an off-white canvas with a margin (more at the
    sides: a landscape photo)."""
    size = 28 * scale
    a = np.asarray(Image.fromarray(img28).resize((size, size), Image.Resampling.BICUBIC))
    alpha = a.astype(np.float32)[..., None] / 255.0  # (S, S, 1) garment opacity
    garment = np.asarray(colour, np.float32)
    bg = np.asarray(background, np.float32)
    tile = bg * (1 - alpha) + garment * alpha
    my, mx = margin
    canvas = np.empty((size + 2 * my, size + 2 * mx, 3), np.float32)
    canvas[:] = bg
    canvas[my : my + size, mx : mx + size] = tile
    return encode(np.round(canvas).astype(np.uint8), "JPEG", quality=quality)

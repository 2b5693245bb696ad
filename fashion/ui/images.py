"""Pure helpers that turn 28x28 images into something pleasant to look at.

Browsers smooth small images when they scale them up, which turns a 28x28 sample into
a blur; enlarging with `np.repeat` first keeps the pixels crisp and costs microseconds.

Small pictures go to the page inline, as `data:` URLs (`st.image` passes those through):
an image handed to `st.image` as an array becomes a media file that belongs to the
script run, and the next run that replaces it deletes it. A browser that asks for it a
moment too late gets a 404 and shows a blank box until some later run sends a new file.
Inline, the picture travels inside the element and cannot go missing.
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image

# An inline preview of a photo: big enough for its column, a few tens of KB as JPEG.
PREVIEW_SIDE = 480


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (or uint8 already) -> uint8, any leading shape."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """(H, W) -> (H * factor, W * factor) by pixel repetition (nearest neighbour)."""
    image = to_uint8(np.squeeze(image))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def montage(images: np.ndarray, ncols: int, factor: int = 2, pad: int = 2) -> np.ndarray:
    """Tile (N, H, W) images into one grid image, row by row.

    Args:
        images: (N, H, W) uint8 or float in [0, 1].
        ncols: images per row.
        factor: enlargement of each image.
        pad: background pixels between images (in output pixels).

    Returns:
        (rows * (H * factor + pad) + pad, ncols * (W * factor + pad) + pad) uint8.
    """
    images = to_uint8(np.asarray(images))
    if images.ndim == 4:
        images = images[..., 0]
    n, h, w = images.shape
    nrows = max(1, -(-n // ncols))
    big_h, big_w = h * factor, w * factor
    # A mid-grey gutter separates black-background samples better than black would.
    out = np.full((nrows * (big_h + pad) + pad, ncols * (big_w + pad) + pad), 70, dtype=np.uint8)
    if n == 0:
        return out
    big = np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)  # (N, big_h, big_w)
    for k in range(n):
        r, c = divmod(k, ncols)
        top, left = pad + r * (big_h + pad), pad + c * (big_w + pad)
        out[top : top + big_h, left : left + big_w] = big[k]
    if n % ncols:  # empty slots of a short last row: page white, not a grey block
        top, left = (nrows - 1) * (big_h + pad) + pad, (n % ncols) * (big_w + pad) + pad
        out[top:, left:] = 255
    return out


def png_data_url(image: np.ndarray) -> str:
    """A small (H, W) or (H, W, 3|4) image (uint8, or float in [0, 1]) as a PNG data: URL."""
    buf = io.BytesIO()
    # zlib's default level, not optimize=True: measured on a photo's preprocessing steps,
    # 3-4x less CPU for files ~5% larger, and a server encodes these on every new input.
    Image.fromarray(to_uint8(np.asarray(image))).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def preview_data_url(im: Image.Image, side: int = PREVIEW_SIDE) -> str:
    """A photo shrunk to at most `side` pixels, as a JPEG data: URL (transparency on white)."""
    im = im.copy()
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    if im.mode in ("RGBA", "LA", "P", "PA"):
        rgba = im.convert("RGBA")
        im = Image.new("RGB", rgba.size, (255, 255, 255))
        im.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@functools.cache
def favicon() -> str:
    """The browser-tab icon: the project's own T-shirt outline, as a PNG data: URL.

    Drawn here because a `:material/...:` page icon makes the browser fetch an SVG from
    fonts.gstatic.com (the demo must work offline), and an emoji depends on the
    visitor's emoji font.
    """
    from fashion.data.renders import shirt_mask

    mask = shirt_mask(200, 200)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    mask = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # the shirt fills the icon
    side = max(mask.shape)
    mask = np.pad(mask, [((side - n) // 2, side - n - (side - n) // 2) for n in mask.shape])
    mask = np.asarray(Image.fromarray(mask).resize((64, 64), Image.Resampling.NEAREST))
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[mask] = (76, 110, 245, 255)  # the app's primary blue: readable on light and dark tabs
    return png_data_url(rgba)


def with_box(im: Image.Image, box: tuple[float, float, float, float], side: int) -> Image.Image:
    """The photo shrunk to `side` px wide, outside `box` (shares of width and height)
    dimmed and the box outlined: what the box sliders will cut out from."""
    from PIL import ImageDraw

    small = im.convert("RGB")
    small = small.resize((side, max(1, round(side * small.height / small.width))))
    w, h = small.size
    x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    shade = Image.new("L", small.size, 90)
    ImageDraw.Draw(shade).rectangle([x0, y0, x1, y1], fill=255)
    out = Image.composite(small, Image.new("RGB", small.size, (12, 12, 12)), shade)
    ImageDraw.Draw(out).rectangle([x0, y0, x1, y1], outline=(255, 170, 0), width=3)
    return out

"""Pure numpy helpers that turn 28x28 images into something pleasant to look at.

Browsers smooth small images when they scale them up, which turns a 28x28 sample into
a blur; enlarging with `np.repeat` first keeps the pixels crisp and costs microseconds.
"""

from __future__ import annotations

import numpy as np


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

"""Training-time augmentation on batches of images, in numpy.

Pure functions of (images, rng) so a batch's augmentation depends only on the seed it
is given, never on thread scheduling: training stays reproducible.
"""

from __future__ import annotations

import numpy as np

ERASING_FILLS = ("noise", "background")


def random_flip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror half of the images left-right. Garments are (nearly) symmetric, and the
    dataset mixes left- and right-facing shoes, so a flip is a label-preserving change."""
    flip = rng.random(len(images)) < 0.5
    out = images.copy()
    out[flip] = out[flip, :, ::-1]
    return out


def random_crop(images: np.ndarray, rng: np.random.Generator, pad: int = 2) -> np.ndarray:
    """Zero-pad by `pad` pixels and cut a random 28x28 window: shifts of up to +-pad px.

    The dataset's garments are centred, so only small shifts are realistic.
    """
    n, h, w = images.shape[:3]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)) + ((0, 0),) * (images.ndim - 3))
    dy = rng.integers(0, 2 * pad + 1, n)
    dx = rng.integers(0, 2 * pad + 1, n)
    rows = dy[:, None] + np.arange(h)[None, :]  # (N, h)
    cols = dx[:, None] + np.arange(w)[None, :]  # (N, w)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_erasing(
    images: np.ndarray,
    rng: np.random.Generator,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.25),
    aspect: tuple[float, float] = (0.3, 3.3),
    fill: str = "noise",
) -> np.ndarray:
    """Random erasing (Zhong et al. 2017): blank a random rectangle, so the net cannot
    rely on any one part of a garment.

    `fill` is "noise" (uniform in [0, 1]) or "background" (0, the black of every
    Fashion-MNIST background: the erased part looks missing rather than patterned).
    """
    if fill not in ERASING_FILLS:
        raise ValueError(f"unknown erasing fill {fill!r}; expected one of {ERASING_FILLS}")
    n, h, w = images.shape[:3]
    out = images.copy()
    chosen = np.flatnonzero(rng.random(n) < p)
    for i in chosen:
        target = rng.uniform(*area) * h * w
        ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
        eh = int(round(np.sqrt(target * ratio)))
        ew = int(round(np.sqrt(target / ratio)))
        if not (0 < eh < h and 0 < ew < w):
            continue
        y = rng.integers(0, h - eh + 1)
        x = rng.integers(0, w - ew + 1)
        patch = out[i, y : y + eh, x : x + ew]
        out[i, y : y + eh, x : x + ew] = rng.random(patch.shape) if fill == "noise" else 0.0
    return out


def augment_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    erasing: float = 0.5,
    erasing_area: float = 0.25,
    erasing_fill: str = "noise",
) -> np.ndarray:
    """Flip, shift and (with probability `erasing` per image) erase a batch of
    (N, 28, 28, 1) float32 images in [0, 1]; an erased rectangle covers 2 % to
    `erasing_area` of the image."""
    out = random_flip(images, rng)
    out = random_crop(out, rng)
    if erasing > 0:
        out = random_erasing(out, rng, p=erasing, area=(0.02, erasing_area), fill=erasing_fill)
    return out.astype(np.float32, copy=False)

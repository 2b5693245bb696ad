"""Why did the model say that? Occlusion-sensitivity saliency maps and an RGB overlay.

We use occlusion sensitivity rather than Grad-CAM because:
- it works for every shipped model: the tutorial nets (flatten-128, dense-sgd, ...) have
  no conv layer at all, so Grad-CAM could only explain some of them;
- it measures exactly what a user asks ("what part of the picture made it say Coat?"):
  the drop in the predicted class' probability when a patch is hidden, with no
  gradient approximations;
- at 28x28 it is cheap: the 144 occluded copies plus the original are one batched call
  on the Classifier's compiled fast path (timed per model in benchmarks/RESULTS.md,
  section trust), and Grad-CAM's map on the last conv layer would be only 7x7 anyway.

Hidden patches are filled with 0 because Fashion-MNIST backgrounds are black: an
occluded patch looks like "no garment here", not like a new grey object.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from fashion.classes import IMAGE_SIZE

PATCH = 6  # px; about a sleeve or a collar at 28x28
STRIDE = 2  # px; every pixel is covered by (PATCH / STRIDE)^2 = 9 patches


class _ProbaModel(Protocol):
    def predict_proba(self, images: np.ndarray) -> np.ndarray: ...


def _as_image(image: np.ndarray) -> np.ndarray:
    """(28, 28) or (28, 28, 1) float -> (28, 28) float32."""
    img = np.asarray(image, dtype=np.float32)
    if img.shape == (IMAGE_SIZE, IMAGE_SIZE, 1):
        img = img[..., 0]
    if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected a 28x28 image, got shape {np.shape(image)}")
    return img


def patch_origins(patch: int = PATCH, stride: int = STRIDE) -> list[tuple[int, int]]:
    """Top-left corners of the patches that tile the image, including the last row/column."""
    last = IMAGE_SIZE - patch
    steps = sorted(set(range(0, last + 1, stride)) | {last})
    return [(r, c) for r in steps for c in steps]


def occlude(
    image: np.ndarray, row: int, col: int, patch: int = PATCH, fill: float = 0.0
) -> np.ndarray:
    """A copy of a (28, 28) image with the patch at (row, col) set to `fill`."""
    out = _as_image(image).copy()
    out[row : row + patch, col : col + patch] = fill
    return out


def occlusion_saliency(
    clf: _ProbaModel,
    image: np.ndarray,
    target: int | None = None,
    patch: int = PATCH,
    stride: int = STRIDE,
) -> np.ndarray:
    """Occlusion-sensitivity map of one image.

    Args:
        clf: anything with `predict_proba((N, 28, 28) float) -> (N, 10)`, e.g. a Classifier.
        image: (28, 28) or (28, 28, 1) float in [0, 1], garment bright on black.
        target: class to explain; default the predicted class.
        patch, stride: side and step of the square occluder, in pixels.

    Returns:
        (28, 28) float32 in [0, 1]: for each pixel, the mean drop in the target class'
        probability over the patches covering it, scaled so the largest drop is 1. Pixels
        whose hiding never lowers the probability are 0; an all-zero map means no patch
        mattered.
    """
    img = _as_image(image)
    origins = patch_origins(patch, stride)
    # (P + 1, 28, 28): [0] unoccluded, then one image per hidden patch.
    batch = np.stack([img] + [occlude(img, r, c, patch) for r, c in origins])
    probs = clf.predict_proba(batch)
    if target is None:
        target = int(np.argmax(probs[0]))
    drops = probs[0, target] - probs[1:, target]  # (P,)
    total = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float64)
    count = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float64)
    for d, (r, c) in zip(drops, origins):
        total[r : r + patch, c : c + patch] += d
        count[r : r + patch, c : c + patch] += 1
    sal = np.clip(total / count, 0.0, None)
    peak = sal.max()
    return (sal / peak if peak > 0 else sal).astype(np.float32)


def _heat_colors(values: np.ndarray) -> np.ndarray:
    """Map [0, 1] to a black-red-yellow-white ramp (like matplotlib's "hot"): (..., 3) in [0, 1].

    Hand-written so the library needs no matplotlib for one colormap.
    """
    v = np.clip(values, 0.0, 1.0)[..., None]
    return np.clip(np.concatenate([3 * v, 3 * v - 1, 3 * v - 2], axis=-1), 0.0, 1.0)


def overlay(
    image: np.ndarray, saliency: np.ndarray, alpha: float = 0.6, scale: int = 8
) -> np.ndarray:
    """An RGB picture of the saliency map blended over the grayscale input.

    Args:
        image: (28, 28) or (28, 28, 1) float in [0, 1].
        saliency: (28, 28) float in [0, 1], e.g. from `occlusion_saliency`.
        alpha: weight of the heat map where saliency is 1 (0 shows the image only);
            the blend weight is alpha * saliency, so unimportant pixels stay as they are.
        scale: integer upscaling, nearest neighbour, so pixels stay visible (8 -> 224 px).

    Returns:
        (28 * scale, 28 * scale, 3) uint8, ready for `st.image` or PIL.
    """
    img = _as_image(image)
    sal = np.clip(np.asarray(saliency, dtype=np.float32), 0.0, 1.0)
    if sal.shape != img.shape:
        raise ValueError(f"saliency shape {sal.shape} does not match the image {img.shape}")
    gray = np.repeat(img[..., None], 3, axis=-1)
    w = alpha * sal[..., None]
    rgb = (1 - w) * gray + w * _heat_colors(sal)
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    return np.round(rgb * 255).astype(np.uint8)

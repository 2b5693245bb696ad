"""Photo views of training images: what the app's photo path makes of them.

A model trained on the dataset's 28x28 images alone meets a different picture when a
visitor uploads a photo: the cut-out's edge, the garment's shading against its surface,
a residual tilt, JPEG. Rendering a training image as a photo (on a home surface, or as a
shop photo) and sending it through `fashion.data.preprocess.photo` gives the 28x28 the
app would hand the model; training on those beside the originals closes the gap.

Rendering and cutting out cost ~0.2 s of CPU per image, so the views of a run are made
once (in worker processes) and kept in a cache file named by the images, the seed and
VERSION.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

# Two in three views are home photos: the harder, more common upload.
HOME_SHARE = 2 / 3
CACHE_DIR = Path(os.environ.get("FASHION_CACHE", Path.home() / ".cache" / "fashion"))
# Part of the cache's name: raise it when the renderers or the photo path change what
# a view looks like enough to matter (a finer cut-out need not: training on a slightly
# older cut-out still teaches the photo look).
VERSION = 1


def render_view(img28: np.ndarray, seed: int, index: int) -> np.ndarray | None:
    """One training image as a photo, through the app's photo path: (28, 28) uint8, or
    None when the photo path refuses it (a view the app would never classify)."""
    from fashion.data import preprocess, renders

    rng = np.random.default_rng([seed, index])
    if rng.random() < HOME_SHARE:
        data, _ = renders.home_photo(img28, rng)
    else:
        # Mostly a dark garment on a light backdrop, now and then the reverse.
        if rng.random() < 0.8:
            background = tuple(int(v) for v in rng.integers(215, 256, 3))
            colour = tuple(int(v) for v in rng.integers(0, 150, 3))
        else:
            background = tuple(int(v) for v in rng.integers(10, 60, 3))
            colour = tuple(int(v) for v in rng.integers(190, 256, 3))
        data = renders.shop_photo(
            img28,
            scale=int(rng.integers(6, 17)),
            background=background,
            margin=(int(rng.integers(20, 120)), int(rng.integers(20, 160))),
            quality=int(rng.integers(70, 96)),
            colour=colour,
        )
    try:
        prepared = preprocess.photo(data)
    except preprocess.InputError:
        return None
    return np.round(prepared.image * 255).astype(np.uint8)


def _render_chunk(args: tuple[np.ndarray, int, int]) -> list[np.ndarray | None]:
    images, seed, start = args
    return [render_view(img, seed, start + k) for k, img in enumerate(images)]


def _fingerprint(images: np.ndarray, seed: int) -> str:
    """Names the views: the images, the seed and VERSION."""
    h = hashlib.sha256(images.tobytes())
    h.update(f"{seed}/{VERSION}".encode())
    return h.hexdigest()[:16]


def photo_views(
    images: np.ndarray, seed: int, workers: int | None = None, cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Photo views of `images` ((N, 28, 28) uint8), made once and cached.

    Returns:
        (views, made): views (N, 28, 28) uint8; made (N,) bool, False where the photo
        path refused the rendered photo (that image has no view).
    """
    cache = (cache_dir or CACHE_DIR) / f"photo-views-{_fingerprint(images, seed)}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return saved["views"], saved["made"]
    chunk = 200
    jobs = [(images[i : i + chunk], seed, i) for i in range(0, len(images), chunk)]
    views = np.zeros(images.shape, np.uint8)
    made = np.zeros(len(images), bool)
    # Spawned workers import only the image code, not the parent's TensorFlow.
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=context) as pool:
        for k, results in enumerate(pool.map(_render_chunk, jobs)):
            for j, view in enumerate(results):
                if view is not None:
                    views[k * chunk + j], made[k * chunk + j] = view, True
            print(f"photo views: {min((k + 1) * chunk, len(images))}/{len(images)}", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, views=views, made=made)
    os.replace(tmp, cache)
    return views, made


def swap_in(
    x: np.ndarray, views: np.ndarray, made: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    """`x` (N, 28, 28, 1) float with each image that has a view replaced by it with
    probability `share`: an epoch sees a fresh mix of originals and photos."""
    swap = made & (rng.random(len(x)) < share)
    out = x.copy()
    out[swap] = (views[swap].astype(np.float32) / 255.0)[..., None]
    return out

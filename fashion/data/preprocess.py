"""Photo / sketch / test sample -> the 28x28 image Fashion-MNIST would have made.

The dataset was made from product photos on a light background by: trimming the
background, resizing the longest edge to 28 px, sharpening, padding to 28x28 (centred),
negating (garment bright on black) and converting to grayscale (Xiao et al. 2017, the
Fashion-MNIST paper, "conversion pipeline"). A photo simply resized to 28x28 is
dark-on-light, off-centre and squashed, and the model sees nonsense; so the photo path
redoes that recipe on the user's photo, and the sketch path does the same to a drawing.

Everything here is pure (bytes or arrays in, arrays out, no Streamlit) and every
intermediate image is returned so the app can show what the model actually saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from fashion.classes import IMAGE_SIZE
from fashion.data import cutout
from fashion.data.uploads import MAX_UPLOAD_BYTES, WORK_SIZE, InputError, check_size, decode

__all__ = [
    "MAX_UPLOAD_BYTES",
    "InputError",
    "Prepared",
    "dataset_image",
    "photo",
    "sketch",
]

# Smallest photo side that can still show a garment (the dataset's own is 28).
MIN_SIDE = 8
# ITU-R 601-2 luma, the weights Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# A photo whose border varies less than this (robust standard deviation of its gray
# level) lies on a plain background, where the border's colour tells garment from
# background; any other goes to the cut-out (fashion.data.cutout). Measured on 300
# rendered photos of each kind: shop photos' borders 0.000-0.011 (5th-95th percentile),
# home photos' 0.030-0.170; at 0.02 every shop photo and 1 % of home photos take the
# plain path (benchmarks/photo_robustness.py).
PLAIN_BORDER = 0.02
METHODS = ("auto", "plain", "cut-out")
# Less ink than this fraction of the canvas is a stray click, not a drawing.
MIN_INK_FRACTION = 0.002
# Less spread than this (1.5 grey levels in 255) is one flat colour.
FLAT = 1.5 / 255
CUT_OUT_STEP = "the garment found (the rest is background)"
# How every "there is no garment here" refusal begins (not an unreadable file).
NO_GARMENT = "No garment found"


@dataclass(frozen=True)
class Prepared:
    """The model's input and how it was made.

    image: (28, 28) float32 in [0, 1], garment bright on black: what the model sees.
    steps: (caption, image) in pipeline order: 2-D uint8 or float in [0, 1], or the
        cut-out drawn over the photo as (H, W, 3) uint8.
    inverted: True if the input was dark-on-light and was negated.
    unsure: True if the garment was hard to tell from its background (the app then
        offers to redo the cut-out inside a box the user puts round the garment).
    """

    image: np.ndarray
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)
    inverted: bool = False
    unsure: bool = False


# ---------------------------------------------------------------------------- modes


def to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) float32 in [0, 1], transparency flattened onto white.

    Product photos are shot on white, so white is what a transparent background
    stands for. Every mode Pillow can produce is handled explicitly.
    """
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit PNGs open as I;16 (or I): scale by the 16-bit range unless the values
        # are clearly 8-bit ones stored wide.
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max(initial=0) > 255 else 255.0
        g = np.clip(a / hi, 0, 1).astype(np.float32)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(a.min(initial=0)), float(a.max(initial=0))
        if lo < 0 or hi > 1:  # not already in [0, 1]: stretch the range it has
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        g = a.astype(np.float32)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA", "LA", "La", "RGBa", "RGBX"):
        im = im.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV
        im = im.convert("RGB")
    a = np.asarray(im, dtype=np.float32) / 255.0
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[..., 3:4]
        return a[..., :3] * alpha + (1.0 - alpha)  # composite onto white
    return a[..., :3]


def _gray(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ _LUMA).astype(np.float32)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


# ------------------------------------------------------------------------ the recipe


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels of a frame ~2 % wide around `a` (at least 1 px), flattened."""
    h, w = a.shape[:2]
    k = max(1, round(0.02 * min(h, w)))
    parts = [a[:k].reshape(-1, *a.shape[2:]), a[-k:].reshape(-1, *a.shape[2:])]
    parts += [a[k:-k, :k].reshape(-1, *a.shape[2:]), a[k:-k, -k:].reshape(-1, *a.shape[2:])]
    return np.concatenate(parts)


def _box_blur3(a: np.ndarray) -> np.ndarray:
    """3x3 mean filter (edge-replicated): enough to stop single noisy pixels counting."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    return sum(p[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by a (2r+1)^2 square, as separable running maxima."""
    out = mask
    for axis in (0, 1):
        p = np.pad(out, [(r, r) if ax == axis else (0, 0) for ax in (0, 1)])
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for s in range(2 * r + 1):
            acc |= np.take(p, range(s, s + n), axis=axis)
        out = acc
    return out


@dataclass(frozen=True)
class _Garment:
    signal: np.ndarray  # (H, W) float32 in [0, 1], garment bright, background 0
    mask: np.ndarray  # (H, W) bool, where the garment is
    inverted: bool


def _border_level(gray: np.ndarray) -> tuple[float, float]:
    """(median, robust noise) of the gray level on the image's border: the background's
    level, and its spread as a standard deviation (MAD -> sigma for Gaussian noise)."""
    border = _border(gray)
    level = float(np.median(border))
    return level, 1.4826 * float(np.median(np.abs(border - level)))


def _extract(rgb: np.ndarray, gray: np.ndarray) -> _Garment | None:
    """Background -> 0, garment -> bright, from the colour of the image's border.

    Returns None if nothing stands out from the background.
    """
    bg_rgb = np.median(_border(rgb), axis=0)
    bg_gray, sigma = _border_level(gray)

    signed = gray - bg_gray  # > 0: lighter than the background
    colour = np.abs(rgb - bg_rgb).max(axis=2)  # catches a hue change at equal brightness
    strength = _box_blur3(np.maximum(np.abs(signed), colour))
    peak = float(np.percentile(strength, 99.5))
    # Above the noise, above faint shadows, and a fraction of the garment's own contrast.
    # The noise term is capped: a garment touching the border inflates the estimate.
    threshold = max(0.06, min(4.0 * sigma, 0.25), 0.15 * peak)
    mask = strength > threshold
    if mask.sum() < 4 or peak <= threshold:
        return None

    # Dark garment on a light background (the usual product photo): negate, as the
    # dataset did. Decided by the garment's own pixels, not by a fixed grey level.
    inverted = float(signed[mask].mean()) < 0
    signal = -signed if inverted else signed
    signal = np.maximum(signal, 0.5 * colour)
    signal = np.where(_dilate(mask, 1), signal, 0.0)  # background noise and specks -> 0
    if float(signal[mask].max()) <= 0:  # the box is weighted by these pixels: none lit
        return None
    signal = np.clip(signal, 0, 1).astype(np.float32)
    return _Garment(signal=signal, mask=mask, inverted=inverted)


def _bounding_box(mask: np.ndarray, signal: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), exclusive ends, of the garment.

    Starts from the box holding the garment's bulk (0.2 % of its mass trimmed from each
    side, so a stray speck cannot stretch it), then grows each side while the next
    row or column still touches the garment. Growing stops at the first empty line, so
    a speck that is separated from the garment stays out, while the garment's faint
    edges come back in: the dataset's own crop keeps them, and a box a few percent too
    small makes the garment a few percent too big in the 28x28 image.
    """
    weight = np.where(mask, signal, 0.0)

    def span(profile: np.ndarray) -> tuple[int, int]:
        c = np.cumsum(profile)
        total = c[-1]
        lo = int(np.searchsorted(c, 0.002 * total, side="right"))
        hi = int(np.searchsorted(c, 0.998 * total, side="left")) + 1
        return lo, max(hi, lo + 1)

    top, bottom = span(weight.sum(axis=1))
    left, right = span(weight.sum(axis=0))
    h, w = mask.shape
    grown = True
    while grown:
        grown = False
        if top > 0 and mask[top - 1, left:right].any():
            top, grown = top - 1, True
        if bottom < h and mask[bottom, left:right].any():
            bottom, grown = bottom + 1, True
        if left > 0 and mask[top:bottom, left - 1].any():
            left, grown = left - 1, True
        if right < w and mask[top:bottom, right].any():
            right, grown = right + 1, True
    return top, bottom, left, right


def _stretch(crop: np.ndarray) -> np.ndarray:
    """Contrast-stretch the garment so it peaks at 1, as the dataset's images do (every
    one of them peaks at 254-255): a low-contrast photo must not look faint to the model.

    Done on the crop, so a speck outside the garment cannot set the peak, and on a 3x3
    mean, so neither can one hot noise pixel. Stretching after the resize to 28x28
    instead would brighten every garment whose brightest detail the resize smoothed.
    """
    peak = float(_box_blur3(crop).max())
    return np.clip(crop / peak, 0, 1).astype(np.float32) if peak > 0 else crop


def _already_28(gray: np.ndarray) -> Prepared:
    """A 28x28 input is already at the dataset's scale: fix the polarity, nothing else.

    Cropping and resizing it again would resample an image that is already the
    recipe's output (and a dataset image fills its frame, which fools the background
    estimate), so only a light background is negated.
    """
    inverted = float(np.median(_border(gray))) > 0.5
    image = np.clip(1.0 - gray if inverted else gray, 0, 1).astype(np.float32)
    steps: list[tuple[str, np.ndarray]] = [("original", _to_uint8(gray)), ("grayscale", gray)]
    if inverted:
        steps.append(("inverted (light background)", image))
    steps.append(("28x28: what the model sees", image))
    return Prepared(image=image, steps=steps, inverted=inverted)


def _prepare(
    rgb: np.ndarray, original: np.ndarray, empty_message: str, show_mask: bool = False
) -> Prepared:
    """The shared recipe on an (H, W, 3) float image; `original` is shown as step 1."""
    gray = _gray(rgb)
    if gray.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return _already_28(gray)
    steps: list[tuple[str, np.ndarray]] = [("original", original), ("grayscale", gray)]
    garment = _extract(rgb, gray)
    if garment is None:
        raise InputError(empty_message)
    if show_mask:
        steps.append((CUT_OUT_STEP, cutout.mask_overlay(rgb, garment.mask)))
    if garment.inverted:
        steps.append(("inverted (light background)", garment.signal))
    top, bottom, left, right = _bounding_box(garment.mask, garment.signal)
    crop = _stretch(garment.signal[top:bottom, left:right])
    steps.append(("cropped to the garment", crop))
    image = cutout.fit_28(crop)
    steps.append(("28x28: what the model sees", image))
    return Prepared(image=image, steps=steps, inverted=garment.inverted)


# ---------------------------------------------------------------------------- public


def photo(
    source: bytes | Image.Image,
    box: tuple[float, float, float, float] | None = None,
    method: str = "auto",
) -> Prepared:
    """A user's photo (file bytes or a PIL image) -> the model's 28x28 input.

    A photo on a plain background is cut out by its border's colour, as the dataset's
    product photos were; any other (a garment on a bedsheet, a floor, a carpet) by
    fashion.data.cutout, which also turns a tilted garment upright.

    Args:
        source: the bytes of an uploaded file (decoded safely, see fashion.data.uploads) or
            an already opened PIL image (its size is checked against the pixel cap; its
            format is not, so open untrusted files with fashion.data.uploads.decode).
        box: (left, top, right, bottom) as shares of the photo's width and height: the
            user's box round the garment. Everything outside it is background.
        method: one of METHODS: "auto" chooses by the border; "plain" and "cut-out"
            force one path (for benchmarks that compare them).

    Returns:
        Prepared with the 28x28 image and the intermediate steps.

    Raises:
        InputError: not a usable image (with a message for the user).
    """
    if isinstance(source, Image.Image):
        im = source
        check_size(*im.size)  # an image opened elsewhere may still be a bomb in waiting
        if max(im.size) > WORK_SIZE:
            im = im.copy()
            im.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.LANCZOS)
    else:
        im = decode(source)
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        raise InputError(
            f"The image is only {w}x{h} pixels: too small to show a garment. "
            f"Please upload a photo at least {MIN_SIDE} pixels on each side."
        )
    rgb = to_rgb(im)
    gray = _gray(rgb)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if box is not None:
        return _cut_out(rgb, gray, box, f"{NO_GARMENT} inside your box.")
    advice = "Please upload a photo of one garment, or put a box round it."
    plain = _plain_border(gray) if method == "auto" else method == "plain"
    if gray.shape == (IMAGE_SIZE, IMAGE_SIZE) or plain:
        message = f"{NO_GARMENT}: {_what_was_found(gray)}. {advice}"
        return _prepare(rgb, _to_uint8(gray), message, show_mask=True)
    reason = (
        _what_was_found(gray)
        if _spread(gray) < FLAT
        else "nothing in the photo stands apart from its surroundings as one garment "
        "(it is noise, an even texture, or a scene with no garment in front)"
    )
    return _cut_out(rgb, gray, None, f"{NO_GARMENT}: {reason}. {advice}")


def _plain_border(gray: np.ndarray) -> bool:
    return _border_level(gray)[1] < PLAIN_BORDER


def _cut_out(
    rgb: np.ndarray,
    gray: np.ndarray,
    box: tuple[float, float, float, float] | None,
    empty_message: str,
) -> Prepared:
    """The photo path for a garment on a textured or unevenly lit surface."""
    h, w = gray.shape
    pixels = None if box is None else (box[0] * w, box[1] * h, box[2] * w, box[3] * h)
    found = cutout.cut_out(rgb, pixels)
    if found is None:
        raise InputError(empty_message)
    steps: list[tuple[str, np.ndarray]] = [
        ("original", _to_uint8(gray)),
        (CUT_OUT_STEP, cutout.mask_overlay(rgb, found.mask)),
    ]
    if found.angle:
        steps.append((f"turned upright ({found.angle:+.0f}°)", found.image))
    steps.append(("28x28: what the model sees", found.image))
    # Darker than the surface it lies on: the recipe negates it, as the dataset did.
    inverted = float(gray[found.mask].mean()) < float(gray[~found.mask].mean())
    return Prepared(image=found.image, steps=steps, inverted=inverted, unsure=found.unsure)


def _spread(gray: np.ndarray) -> float:
    """The image's range of brightness, its darkest and brightest 0.5 % left out."""
    lo, hi = np.percentile(gray, [0.5, 99.5])
    return float(hi - lo)


def _what_was_found(gray: np.ndarray) -> str:
    """Why nothing stood out, in words a user can act on: what the image is instead."""
    spread = _spread(gray)
    if spread < FLAT:
        return "the image is a single flat colour"
    h, w = gray.shape
    middle = gray[h // 4 : h - h // 4, w // 4 : w - w // 4]
    edges, centre = float(np.std(_border(gray))), float(np.std(middle))
    if edges >= 0.5 * centre:
        return (
            f"the image is noise or an even texture all over (its brightness varies by "
            f"{spread:.0%}, as much at its edges as in its middle), so no shape stands out "
            "from a background"
        )
    return f"nothing stands out enough from the background (the strongest contrast is {spread:.0%})"


def sketch(rgba: np.ndarray) -> Prepared:
    """A drawing-canvas image -> the model's 28x28 input.

    Args:
        rgba: (H, W, 4) uint8 from the canvas: strokes on a dark or light background,
            or on a transparent one (then the alpha channel is the drawing).

    Returns:
        Prepared with the 28x28 image and the intermediate steps.

    Raises:
        InputError: the canvas is empty or nearly so, or not an RGBA image.
    """
    a = np.asarray(rgba)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or min(a.shape[:2]) < MIN_SIDE:
        raise InputError(f"Expected an (H, W, 4) canvas image, got shape {a.shape}.")
    if not np.issubdtype(a.dtype, np.number):
        raise InputError(f"Expected a numeric canvas image, got dtype {a.dtype}.")
    a = np.nan_to_num(a.astype(np.float32)) / 255.0
    a = np.clip(a, 0, 1)
    empty = "Draw something first: the canvas is empty. Draw one garment, filling the canvas."
    # Transparent background: the alpha channel *is* the drawing, whatever colour the
    # strokes are, so it stands in as white strokes on black.
    transparent = a.shape[2] == 4 and float(a[..., 3].min()) < 1.0
    rgb = np.repeat(a[..., 3:4], 3, axis=2) if transparent else a[..., :3]
    gray = _gray(rgb)
    fraction = float((np.abs(gray - np.median(_border(gray))) > 0.1).mean())
    if fraction < MIN_INK_FRACTION:
        raise InputError(empty)
    return _prepare(rgb, original=_to_uint8(gray), empty_message=empty)


def dataset_image(img: np.ndarray) -> Prepared:
    """An official 28x28 sample (uint8, or float in [0, 1]), passed on unchanged.

    Raises:
        InputError: not a 28x28 image.
    """
    a = np.asarray(img)
    if a.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise InputError(f"Expected a 28x28 dataset image, got shape {a.shape}.")
    if a.dtype == np.uint8:
        image = a.astype(np.float32) / 255.0
    else:
        image = np.clip(np.nan_to_num(a.astype(np.float32)), 0, 1)
    return Prepared(image=image, steps=[("28x28 test image: what the model sees", image)])

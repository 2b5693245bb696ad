"""Images the project draws itself: garments, their silhouettes, shop photos and photos
taken at home (a garment on a bedsheet, a wooden floor, a carpet, tiles or a rug).

Everything here is deterministic (seeded) and returns plain numpy arrays or file bytes,
so a test or a benchmark can say exactly what it fed to the photo path. It lives in the
library because tests, benchmarks and the app's examples all use it (tests and
benchmarks never import each other's images).
"""

from __future__ import annotations

import io
import math

import cv2
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


# ------------------------------------------------------------------ photos at home
# Official 28x28 test images rendered as photos taken at home: lit from one side (a
# brightness gradient and a vignette), with a soft drop shadow, the phone held askew
# (rotation up to 20 degrees, a slight shear), camera noise and JPEG compression. The
# 28x28 intensity becomes the garment's opacity (as in `shop_photo`), so the dataset's
# own texture survives; `home_photo_with_mask` also returns the exact garment mask.

SURFACES = ("wood", "sheet", "carpet", "tiles", "rug")
# Luma weights (ITU-R 601-2), the same as Pillow's convert("L").
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# Opacity above which a pixel counts as garment in the returned mask.
MASK_OPACITY = 0.1


# ------------------------------------------------------------------------ helpers


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """(h, w) float32 value noise in ~[-1, 1] with features about `cell` pixels wide."""
    gh, gw = max(2, math.ceil(h / cell) + 2), max(2, math.ceil(w / cell) + 2)
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return big[:h, :w]


def _colour(rng: np.random.Generator, lo: float, hi: float, sat: float = 0.25) -> np.ndarray:
    """A random (3,) RGB colour in [0, 1] whose luma lies in [lo, hi] (before clipping)."""
    target = rng.uniform(lo, hi)
    tint = rng.uniform(-sat, sat, 3).astype(np.float32)
    c = np.clip(target + tint - float(tint @ _LUMA), 0, 1)
    return c.astype(np.float32)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] (clipped) -> uint8 pixels, rounded."""
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _LUMA


def _rotated_coords(h: int, w: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u along the pattern, v across it) for a pattern at `angle`."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = math.cos(angle), math.sin(angle)
    return x * c + y * s, -x * s + y * c


# ------------------------------------------------------------------------ surfaces


def _wood(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Planks with grain along them, a colour per plank and dark seams between."""
    u, v = _rotated_coords(h, w, rng.choice([0.0, math.pi / 2]) + rng.uniform(-0.1, 0.1))
    plank = float(rng.uniform(0.12, 0.3)) * max(h, w)
    idx = np.floor(v / plank).astype(np.int64)
    idx -= idx.min()
    # Wood is brown: a warm hue from pale oak to dark walnut.
    base = float(rng.uniform(0.25, 0.7)) * np.array([1.3, 1.0, 0.65], np.float32)
    shades = rng.uniform(0.85, 1.15, idx.max() + 1).astype(np.float32)
    wobble = _smooth_noise(rng, h, w, plank * 0.7) * float(rng.uniform(3, 12))
    grain_f = float(rng.uniform(0.15, 0.5))
    grain = np.sin((v + wobble) * grain_f + u * 0.002) * 0.5 + 0.5
    grain = grain * float(rng.uniform(0.06, 0.2))
    seam = np.abs((v / plank) - np.round(v / plank)) * plank < rng.uniform(1.0, 2.5)
    tone = shades[idx] * (1 - grain) * np.where(seam, 0.55, 1.0)
    return np.clip(base * tone[..., None], 0, 1)


def _sheet(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A bedsheet: plain, striped or checked, with soft folds shading it."""
    u, v = _rotated_coords(h, w, float(rng.uniform(0, math.pi)))
    a, b = _colour(rng, 0.35, 0.95, 0.15), _colour(rng, 0.2, 0.95, 0.15)
    kind = rng.choice(["plain", "stripes", "checks"])
    period = float(rng.uniform(12, 60))
    if kind == "plain":
        weight = np.zeros((h, w), np.float32)
    elif kind == "stripes":
        weight = (np.mod(v, period) < period * rng.uniform(0.3, 0.6)).astype(np.float32)
    else:  # gingham: the two directions add, the crossings are darkest
        weight = (
            (np.mod(u, period) < period / 2).astype(np.float32) + (np.mod(v, period) < period / 2)
        ) / 2
    weight = cv2.GaussianBlur(weight, (0, 0), 0.8)
    rgb = a * (1 - weight[..., None]) + b * weight[..., None]
    fold_angle = float(rng.uniform(0, math.pi))
    fu, _ = _rotated_coords(h, w, fold_angle)
    # Folds: long soft ridges across the sheet, their phase wandering a little.
    wander = _smooth_noise(rng, h, w, float(rng.uniform(80, 200)))
    ridges = np.sin(fu * float(rng.uniform(0.015, 0.05)) + 1.5 * wander)
    shading = 1 + float(rng.uniform(0.04, 0.15)) * ridges
    return np.clip(rgb * shading[..., None], 0, 1)


def _carpet(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fibrous, noisy pile: fine streaky noise on a mottled base colour."""
    base = _colour(rng, 0.15, 0.8, 0.12)
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    k = int(rng.integers(3, 8))
    kernel = np.zeros((k, k), np.float32)
    np.fill_diagonal(kernel, 1.0 / k)  # fibres: noise smeared along one direction
    if rng.random() < 0.5:
        kernel = kernel[::-1].copy()
    fibres = cv2.filter2D(fine, -1, kernel)
    fibres /= float(fibres.std()) + 1e-6
    mottle = _smooth_noise(rng, h, w, float(rng.uniform(10, 40)))
    tone = 1 + float(rng.uniform(0.08, 0.2)) * fibres + float(rng.uniform(0.03, 0.1)) * mottle
    return np.clip(base * tone[..., None], 0, 1)


def _tiles(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Square floor tiles, each a little different, with grout lines between them."""
    u, v = _rotated_coords(h, w, float(rng.uniform(-0.3, 0.3)))
    size = float(rng.uniform(0.15, 0.45)) * max(h, w)
    iu, iv = np.floor(u / size).astype(np.int64), np.floor(v / size).astype(np.int64)
    tile = _colour(rng, 0.3, 0.9, 0.1)
    grout = _colour(rng, 0.2, 0.9, 0.05)
    jitter = rng.uniform(0.92, 1.08, 64).astype(np.float32)
    tone = jitter[(iu * 7 + iv * 13) % 64]
    marble = _smooth_noise(rng, h, w, float(rng.uniform(8, 30))) * float(rng.uniform(0, 0.08))
    rgb = tile * (tone + marble)[..., None]
    width = float(rng.uniform(1.5, 4.0))
    du = np.abs(u / size - np.round(u / size)) * size
    dv = np.abs(v / size - np.round(v / size)) * size
    is_grout = (np.minimum(du, dv) < width / 2).astype(np.float32)
    is_grout = cv2.GaussianBlur(is_grout, (0, 0), 0.7)[..., None]
    return np.clip(rgb * (1 - is_grout) + grout * is_grout, 0, 1)


def _rug(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A plain rug: one colour, gently mottled, with fine noise."""
    base = _colour(rng, 0.15, 0.85, 0.15)
    mottle = _smooth_noise(rng, h, w, float(rng.uniform(20, 80))) * float(rng.uniform(0.02, 0.08))
    fine = rng.normal(0, float(rng.uniform(0.01, 0.04)), (h, w)).astype(np.float32)
    return np.clip(base * (1 + mottle + fine)[..., None], 0, 1)


_SURFACE_FN = {"wood": _wood, "sheet": _sheet, "carpet": _carpet, "tiles": _tiles, "rug": _rug}


def surface(kind: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 RGB in [0, 1]: a textured surface of `kind` (one of SURFACES)."""
    return _SURFACE_FN[kind](rng, h, w).astype(np.float32)


# ------------------------------------------------------------------------ geometry


def _garment_layer(
    img28: np.ndarray, rng: np.random.Generator, info: dict
) -> tuple[np.ndarray, tuple[int, int]]:
    """The garment's opacity warped (scale, rotation, shear) onto a canvas, and its size."""
    scale = int(rng.integers(6, 17))
    angle = float(rng.uniform(-20, 20))
    shear = float(rng.uniform(-0.12, 0.12))
    info.update(scale=scale, angle=angle, shear=shear)
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    lin = rot @ np.array([[1.0, shear], [0.0, 1.0]]) * scale
    corners = lin @ (np.array([[0, 0], [28, 0], [0, 28], [28, 28]], float).T - 14)
    ext_w, ext_h = np.ptp(corners[0]), np.ptp(corners[1])
    canvas_w = int(ext_w * rng.uniform(1.25, 2.1))
    canvas_h = int(ext_h * rng.uniform(1.2, 1.9))
    cx = rng.uniform(ext_w / 2, canvas_w - ext_w / 2)
    cy = rng.uniform(ext_h / 2, canvas_h - ext_h / 2)
    # cv2 puts pixel centres on integers: the 28x28 centre (13.5, 13.5) goes to (cx, cy).
    offset = np.array([cx, cy]) - lin @ np.array([13.5, 13.5])
    m = np.hstack([lin, offset[:, None]]).astype(np.float32)
    alpha = cv2.warpAffine(
        img28.astype(np.float32) / 255.0,
        m,
        (canvas_w, canvas_h),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.clip(alpha, 0, 1), (canvas_h, canvas_w)


def _lighting(rng: np.random.Generator, h: int, w: int, info: dict) -> np.ndarray:
    """(h, w) multiplicative light: a linear gradient from one side and a vignette."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    d = float(rng.uniform(0, 2 * math.pi))
    t = ((x - w / 2) * math.cos(d) + (y - h / 2) * math.sin(d)) / max(h, w)  # ~[-0.7, 0.7]
    strength = float(rng.uniform(0.1, 0.5))
    r2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    vignette = float(rng.uniform(0.0, 0.25))
    info.update(light_gradient=strength, vignette=vignette)
    return (1 + strength * t) * (1 - vignette * r2 / 2)


def _garment_colour(rng: np.random.Generator, bg: np.ndarray, info: dict) -> np.ndarray:
    """A garment colour a person can tell from the surface: lighter or darker by >= 0.22."""
    lum = float(np.median(_luma(bg)))
    can_light, can_dark = lum < 0.72, lum > 0.3
    lighter = can_light and (not can_dark or rng.random() < 0.5)
    if lighter:
        colour = _colour(rng, min(lum + 0.22, 0.97), 1.0)
    else:
        colour = _colour(rng, 0.0, max(lum - 0.22, 0.03))
    info["garment_lighter"] = bool(lighter)
    return colour


# ------------------------------------------------------------------------ public


def home_photo_with_mask(
    img28: np.ndarray, rng: np.random.Generator
) -> tuple[bytes, dict, np.ndarray]:
    """Like `home_photo`, plus the (H, W) bool garment mask of the decoded image."""
    info: dict = {}
    alpha, (h, w) = _garment_layer(np.asarray(img28, np.uint8), rng, info)
    kind = str(rng.choice(SURFACES))
    info["surface"] = kind
    bg = surface(kind, rng, h, w)

    # Drop shadow: the garment's opacity moved away from the light and blurred.
    size = max(h, w)
    d = float(rng.uniform(0, 2 * math.pi))
    dist = float(rng.uniform(0.01, 0.04)) * size
    shift = np.float32([[1, 0, dist * math.cos(d)], [0, 1, dist * math.sin(d)]])
    shadow = cv2.warpAffine(alpha, shift, (w, h))
    shadow = cv2.GaussianBlur(shadow, (0, 0), float(rng.uniform(0.01, 0.03)) * size)
    darkness = float(rng.uniform(0.1, 0.4))
    info["shadow"] = darkness
    bg = bg * (1 - darkness * shadow)[..., None]

    garment = _garment_colour(rng, bg, info)
    rgb = bg * (1 - alpha[..., None]) + garment * alpha[..., None]
    rgb *= _lighting(rng, h, w, info)[..., None]
    noise = float(rng.uniform(0.005, 0.03))
    info["noise"] = noise
    rgb += rng.normal(0, noise, rgb.shape).astype(np.float32)
    pixels = _to_uint8(rgb)
    if rng.random() < 0.9:
        quality = int(rng.integers(70, 96))
        data = encode(pixels, "JPEG", quality=quality)
        info["format"] = f"JPEG q{quality}"
    else:
        data = encode(pixels, "PNG")
        info["format"] = "PNG"
    return data, info, alpha >= MASK_OPACITY


def home_photo(img28: np.ndarray, rng: np.random.Generator) -> tuple[bytes, dict]:
    """One official 28x28 image -> the bytes of a home-style photo (JPEG mostly).

    Args:
        img28: (28, 28) uint8, garment bright on black (as in the dataset).
        rng: the source of every random choice (seeded by the caller).

    Returns:
        (file bytes, a dict describing the choices: surface, angle, shear, scale, ...).
    """
    file_bytes, info, _ = home_photo_with_mask(img28, rng)
    return file_bytes, info


def empty_surface(rng: np.random.Generator, size: tuple[int, int] = (480, 640)) -> bytes:
    """A home surface with no garment on it (lit, noisy, JPEG): must be refused."""
    h, w = size
    info: dict = {}
    rgb = surface(str(rng.choice(SURFACES)), rng, h, w) * _lighting(rng, h, w, info)[..., None]
    rgb += rng.normal(0, float(rng.uniform(0.005, 0.03)), rgb.shape).astype(np.float32)
    return encode(_to_uint8(rgb), "JPEG", quality=int(rng.integers(70, 96)))


def two_garments_at_home(
    first28: np.ndarray, second28: np.ndarray, seed: int
) -> tuple[bytes, tuple[float, float, float, float]]:
    """A home photo of `first28` with `second28` lying beside it, to its right: the
    photo a user fixes by drawing a box round the garment they mean.

    Returns:
        (PNG bytes, the second garment's box as (left, top, right, bottom) shares of the
        photo's width and height, a few pixels larger than the garment).
    """
    data, _, _ = home_photo_with_mask(first28, np.random.default_rng(seed))
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0
    h, w = rgb.shape[:2]
    side = min(w // 4, h // 2)
    alpha = np.asarray(Image.fromarray(second28).resize((side, side), Image.BICUBIC))
    alpha = alpha.astype(np.float32)[..., None] / 255.0
    top, left = (h - side) // 2, w - side - 4
    region = rgb[top : top + side, left : left + side]
    light = np.full(3, 0.95, np.float32)  # a pale garment: it stands out on any floor
    rgb[top : top + side, left : left + side] = region * (1 - alpha) + light * alpha
    pad = 4
    box = (
        (left - pad) / w,
        (top - pad) / h,
        min(w, left + side + pad) / w,
        min(h, top + side + pad) / h,
    )
    return encode(_to_uint8(rgb)), box

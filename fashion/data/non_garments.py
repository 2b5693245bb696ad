"""Generated non-garments: blank pages, noise, text, digits, faces and shapes, drawn the
way Fashion-MNIST's images look (bright on black, 28x28, antialiased).

The "not a garment?" check (fashion/trust/not_garment.py) chooses its thresholds on one
seed of these and reports its flag rates on another.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fashion.classes import IMAGE_SIZE

KINDS = ("blank", "noise", "text", "digit", "face", "shape")
CANVAS = 112  # draw at 4x and downsample, as the dataset's own images were (antialiased)
FIT_SEED, EVAL_SEED = 0, 1
N_PER_KIND = 100


def _finish(img: Image.Image) -> np.ndarray:
    """A CANVAS-sized drawing -> (28, 28) float32 in [0, 1]."""
    small = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float32) / 255.0


def _blank(rng: np.random.Generator) -> np.ndarray:
    # An untouched canvas (black), a white page, or any flat grey.
    level = rng.choice([0.0, 1.0, rng.uniform(0.05, 0.95)])
    return np.full((IMAGE_SIZE, IMAGE_SIZE), level, dtype=np.float32)


def _noise(rng: np.random.Generator) -> np.ndarray:
    shape = (IMAGE_SIZE, IMAGE_SIZE)
    kind = rng.integers(4)
    if kind == 0:
        x = rng.uniform(0, 1, shape)
    elif kind == 1:
        x = rng.normal(rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3), shape)
    elif kind == 2:  # salt and pepper
        x = (rng.uniform(0, 1, shape) < rng.uniform(0.05, 0.5)).astype(np.float64)
    else:  # smooth blobs: coarse noise upsampled
        coarse = Image.fromarray((rng.uniform(0, 1, (7, 7)) * 255).astype(np.uint8))
        x = np.asarray(coarse.resize(shape, Image.Resampling.BICUBIC), np.float64) / 255
    return np.clip(x, 0, 1).astype(np.float32)


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("L", (CANVAS, CANVAS), 0)
    return img, ImageDraw.Draw(img)


def _text(rng: np.random.Generator) -> np.ndarray:
    img, draw = _canvas()
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    size = int(rng.integers(22, 42))
    font = ImageFont.load_default(size=size)
    n_lines = int(rng.integers(1, 4))
    y = int(rng.integers(0, 20))
    for _ in range(n_lines):
        word = "".join(rng.choice(list(letters), int(rng.integers(3, 7))))
        draw.text((int(rng.integers(0, 20)), y), word, fill=255, font=font)
        y += size + 4
    return _finish(img)


def _digit(rng: np.random.Generator) -> np.ndarray:
    img, draw = _canvas()
    font = ImageFont.load_default(size=int(rng.integers(70, 100)))
    text = str(rng.integers(10))
    stroke = int(rng.integers(0, 6))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    xy = ((CANVAS - (right - left)) / 2 - left, (CANVAS - (bottom - top)) / 2 - top)
    draw.text(xy, text, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    return _finish(img)


def _face(rng: np.random.Generator) -> np.ndarray:
    img, draw = _canvas()
    r = int(rng.integers(30, 52))
    cx, cy = CANVAS // 2 + int(rng.integers(-6, 7)), CANVAS // 2 + int(rng.integers(-6, 7))
    filled = rng.uniform() < 0.5
    skin, feature = (int(rng.integers(150, 256)), 0) if filled else (0, 255)
    width = int(rng.integers(3, 8))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=skin or None, outline=255, width=width)
    eye_r, eye_dx, eye_y = max(3, r // 6), r // 3, cy - r // 4
    for ex in (cx - eye_dx, cx + eye_dx):
        draw.ellipse((ex - eye_r, eye_y - eye_r, ex + eye_r, eye_y + eye_r), fill=feature)
    mouth = (cx - r // 2, cy, cx + r // 2, cy + r // 2)
    draw.arc(mouth, 20, 160, fill=feature, width=width)
    return _finish(img)


def _shape(rng: np.random.Generator) -> np.ndarray:
    img, draw = _canvas()
    kind = rng.integers(5)
    filled = rng.uniform() < 0.5
    width = int(rng.integers(3, 10))
    cx, cy = (int(v) for v in rng.integers(35, 78, 2))
    r = int(rng.integers(15, 40))
    fill, outline = (255, None) if filled else (None, 255)
    if kind == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)
    elif kind == 1:  # triangle
        pts = [(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)]
        draw.polygon(pts, fill=fill, outline=outline, width=width)
    elif kind == 2:  # five-pointed star
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.4)
        pts = [(cx + q * np.cos(a), cy - q * np.sin(a)) for q, a in zip(radii, angles)]
        draw.polygon(pts, fill=fill, outline=outline, width=width)
    elif kind == 3:  # cross / plus sign
        draw.line((cx - r, cy, cx + r, cy), fill=255, width=width * 2)
        draw.line((cx, cy - r, cx, cy + r), fill=255, width=width * 2)
    else:  # grid of lines
        step = int(rng.integers(12, 30))
        for p in range(step // 2, CANVAS, step):
            draw.line((p, 0, p, CANVAS), fill=255, width=width // 2 + 1)
            draw.line((0, p, CANVAS, p), fill=255, width=width // 2 + 1)
    return _finish(img)


_GENERATORS = {
    "blank": _blank,
    "noise": _noise,
    "text": _text,
    "digit": _digit,
    "face": _face,
    "shape": _shape,
}


def generate_non_garments(
    n_per_kind: int = N_PER_KIND, seed: int = FIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Images that are not garments, drawn like Fashion-MNIST (bright on black, 28x28).

    Args:
        n_per_kind: how many of each kind in KINDS.
        seed: different seeds give different images (fit on one, report on another).

    Returns:
        images (N, 28, 28) float32 in [0, 1] and kinds (N,) str, N = n_per_kind * 6.
    """
    rng = np.random.default_rng(seed)
    images, kinds = [], []
    for kind in KINDS:
        for _ in range(n_per_kind):
            images.append(_GENERATORS[kind](rng))
            kinds.append(kind)
    return np.stack(images).astype(np.float32), np.array(kinds)

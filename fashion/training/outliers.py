"""Outlier exposure (Hendrycks et al., 2019, "Deep Anomaly Detection with Outlier
Exposure"): non-garments trained towards the uniform answer, so the model learns to be
unsure off its domain and the not-a-garment check's energy and feature scores rise on
things it has never seen.

The images are drawn as the photo path would hand them to the model (trimmed, longest
side to 28, centred, bright on black): the generated kinds of fashion.data.non_garments
(with seeds of their own: the seeds that choose and report the check's thresholds stay
unseen), plus what visitors photograph that is not a garment: a page of text, household
objects (a cup, a clock, a bottle, a lamp) and fabric-free textures. Real photos stay out:
the benchmark's real non-garments must remain a set the model never saw.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fashion.data import cutout, non_garments

# Seeds far from non_garments.FIT_SEED / EVAL_SEED and from the tests' seeds.
SEED_OFFSET = 1000
# The generated kinds kept for training; digits are left out so the benchmark's real
# handwritten digits stay a kind the model was never shown.
GENERATED = ("blank", "noise", "text", "face", "shape")
CANVAS = 168


def _fitted(img: Image.Image) -> np.ndarray:
    """A drawing -> the photo path's 28x28: trimmed to its ink, longest side to 28."""
    a = np.asarray(img, np.float32) / 255.0
    ys, xs = np.nonzero(a > 0.02)
    if len(ys) == 0:
        return np.zeros((28, 28), np.float32)
    return cutout.fit_28(a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def _page(rng: np.random.Generator) -> np.ndarray:
    """A photographed page or a crop of one: lines of small text, ragged right."""
    img = Image.new("L", (CANVAS, int(CANVAS * rng.uniform(0.6, 1.4))), 0)
    draw = ImageDraw.Draw(img)
    size = int(rng.integers(7, 24))
    font = ImageFont.load_default(size=size)
    ink = int(rng.integers(150, 256))
    letters = "abcdefghijklmnopqrstuvwxyz      ETAOINSHRDLU.,"
    y = 0
    while y < img.height - size:
        n = int(rng.integers(8, 40))
        line = "".join(rng.choice(list(letters), n))
        draw.text((int(rng.integers(0, 6)), y), line, fill=ink, font=font)
        y += int(size * rng.uniform(1.1, 1.8))
    return _fitted(img)


def _object(rng: np.random.Generator) -> np.ndarray:
    """A household object as a silhouette with some detail: cup, clock, bottle or lamp."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    tone = int(rng.integers(120, 256))
    c, r = CANVAS // 2, int(CANVAS * rng.uniform(0.25, 0.45))
    kind = rng.integers(4)
    if kind == 0:  # a cup: a body, a handle, perhaps a saucer
        draw.rectangle((c - r, c - r, c + r // 2, c + r), fill=tone)
        draw.ellipse((c + r // 3, c - r // 2, c + r, c + r // 2), outline=tone, width=r // 5)
        if rng.random() < 0.5:
            draw.ellipse((c - 3 * r // 2, c + r - r // 6, c + r, c + r + r // 4), fill=tone)
    elif kind == 1:  # a clock: a ring, ticks and hands
        draw.ellipse((c - r, c - r, c + r, c + r), outline=tone, width=max(2, r // 8))
        for k in range(12):
            a = k * np.pi / 6
            p = (c + 0.8 * r * np.cos(a), c + 0.8 * r * np.sin(a))
            q = (c + 0.95 * r * np.cos(a), c + 0.95 * r * np.sin(a))
            draw.line((*p, *q), fill=tone, width=3)
        for length, a in ((0.5, rng.uniform(0, 6.3)), (0.75, rng.uniform(0, 6.3))):
            draw.line((c, c, c + length * r * np.cos(a), c + length * r * np.sin(a)), tone, 4)
    elif kind == 2:  # a bottle: a body, shoulders and a neck
        w = r // 2
        draw.rectangle((c - w, c - r // 3, c + w, c + r), fill=tone)
        draw.polygon([(c - w, c - r // 3), (c + w, c - r // 3), (c + w // 3, c - 2 * r // 3),
                      (c - w // 3, c - 2 * r // 3)], fill=tone)  # fmt: skip
        draw.rectangle((c - w // 3, c - r, c + w // 3, c - 2 * r // 3), fill=tone)
    else:  # a lamp: a shade on a stem on a foot
        draw.polygon([(c - r // 3, c - r), (c + r // 3, c - r), (c + r // 1.5, c - r // 4),
                      (c - r // 1.5, c - r // 4)], fill=tone)  # fmt: skip
        draw.rectangle((c - 3, c - r // 4, c + 3, c + r), fill=tone)
        draw.ellipse((c - r // 2, c + r - r // 8, c + r // 2, c + r + r // 8), fill=tone)
    a = np.asarray(img, np.float32) / 255.0
    # Shading and a little texture, as a photographed object has.
    a *= rng.uniform(0.6, 1.0) + rng.uniform(0, 0.4) * np.linspace(0, 1, CANVAS)[None, :]
    a = np.clip(a + (a > 0) * rng.normal(0, 0.05, a.shape), 0, 1)
    return _fitted(Image.fromarray((a * 255).astype(np.uint8)))


def _texture(rng: np.random.Generator) -> np.ndarray:
    """A patch of pattern filling the frame: stripes, checks, dots or smooth blobs."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    kind = rng.integers(4)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(2.5, 8)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    if kind == 0:
        t = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
    elif kind == 1:
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif kind == 2:
        t = ((np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period)) > 0.5) * 1.0
    else:
        coarse = rng.uniform(0, 1, (int(rng.integers(3, 9)),) * 2).astype(np.float32)
        t = np.asarray(Image.fromarray(coarse, "F").resize((28, 28), Image.BICUBIC))
    lo, hi = sorted(rng.uniform(0, 1, 2))
    return np.clip(lo + (hi - lo) * t, 0, 1).astype(np.float32)


_DRAWN = {"page": _page, "object": _object, "texture": _texture}
KINDS = GENERATED + tuple(_DRAWN)


def outlier_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` non-garments for training, (n, 28, 28) float32 in [0, 1], and their kinds;
    every kind in KINDS equally often."""
    per_kind = -(-n // len(KINDS))
    generated, gen_kinds = non_garments.generate_non_garments(per_kind, seed + SEED_OFFSET)
    keep = np.isin(gen_kinds, GENERATED)
    images, kinds = [generated[keep]], [gen_kinds[keep]]
    rng = np.random.default_rng([seed, SEED_OFFSET])
    for kind, draw in _DRAWN.items():
        images.append(np.stack([draw(rng) for _ in range(per_kind)]))
        kinds.append(np.full(per_kind, kind))
    order = np.random.default_rng(seed).permutation(per_kind * len(KINDS))[:n]
    return np.concatenate(images)[order], np.concatenate(kinds)[order]

"""Not a garment? Score how unlike the training data an input is, and flag it.

A classifier always names one of its ten classes, even for a blank canvas or a digit.
We score each input from its logits alone, so the check costs nothing beyond the
prediction the app makes anyway and works for every shipped model:

- "energy": -T * logsumexp(logits / T) (Liu et al., 2020, "Energy-based
  Out-of-distribution Detection"); it keeps the logits' magnitude, which softmax throws
  away, so it usually separates far-away inputs better than the top probability;
- "msp": 1 - max softmax(logits / T), the classic baseline (Hendrycks & Gimpel, 2017).

Both are "higher = less like a garment". Which score and which threshold a model uses
are chosen by `fit_detector` without looking at the test set: the threshold keeps false
flags on the model's validation split at or below `MAX_VAL_FLAG_RATE` and, within
that, best separates validation images from non-garments generated here (seed 0).
Flag rates are then reported on the official test set and on a fresh batch of
generated non-garments (seed 1) that played no part in the choice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fashion.classes import IMAGE_SIZE

KINDS = ("blank", "noise", "text", "digit", "face", "shape")
MAX_VAL_FLAG_RATE = 0.05  # flag at most 1 in 20 real garments: a warning, not a wall
CANVAS = 112  # draw at 4x and downsample, as the dataset's own images were (antialiased)
FIT_SEED, EVAL_SEED = 0, 1
N_PER_KIND = 100


def _logsumexp(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N,) -T * logsumexp(logits / T); higher means less like the training data."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    return -temperature * _logsumexp(z)


def msp_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N,) 1 - top softmax probability; higher means less like the training data."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    return 1.0 - np.exp(z.max(axis=1) - _logsumexp(z))


SCORES: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "energy": energy_score,
    "msp": msp_score,
}


def not_garment_score(logits: np.ndarray, card: dict) -> np.ndarray:
    """(N,) the score the card's calibration chose (energy if the card has none yet)."""
    score = SCORES[card.get("ood_score", "energy")]
    return score(logits, float(card.get("temperature", 1.0)))


def is_not_garment(logits: np.ndarray, card: dict) -> np.ndarray:
    """(N,) bool: True where the input should be shown as "not a garment?".

    Args:
        logits: (N, 10) raw logits, e.g. `Classifier.logits(images)`.
        card: the model card (`Classifier.card`) after `python -m fashion calibrate`.

    Returns:
        All False when the card has no fitted threshold (uncalibrated model).
    """
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if "ood_threshold" not in card:
        return np.zeros(len(logits), dtype=bool)
    return not_garment_score(logits, card) > float(card["ood_threshold"])


def choose_threshold(
    in_scores: np.ndarray, out_scores: np.ndarray, max_in_flag_rate: float = MAX_VAL_FLAG_RATE
) -> float:
    """The threshold (flag when score > threshold) that best separates the two sets.

    Among thresholds that flag at most `max_in_flag_rate` of the in-distribution scores,
    take the one maximising (flag rate on out) - (flag rate on in); ties go to the higher
    threshold, i.e. fewer false alarms.

    Args:
        in_scores: (N,) scores of real garments (validation split).
        out_scores: (M,) scores of non-garments.

    Returns:
        The threshold.
    """
    ins = np.sort(np.asarray(in_scores, dtype=np.float64))
    outs = np.sort(np.asarray(out_scores, dtype=np.float64))
    candidates = np.unique(np.concatenate([ins, outs]))[::-1]  # high to low
    in_rate = 1 - np.searchsorted(ins, candidates, side="right") / len(ins)
    out_rate = 1 - np.searchsorted(outs, candidates, side="right") / len(outs)
    allowed = in_rate <= max_in_flag_rate
    if not allowed.any():  # cannot happen with the top candidate, kept for safety
        return float(candidates[0])
    gain = np.where(allowed, out_rate - in_rate, -np.inf)
    return float(candidates[int(np.argmax(gain))])  # argmax: first max = highest threshold


# --- generated non-garments ------------------------------------------------------------


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


def fit_detector(
    logits_fn: Callable[[np.ndarray], np.ndarray],
    val_logits: np.ndarray,
    test_logits: np.ndarray,
    temperature: float,
    n_per_kind: int = N_PER_KIND,
) -> dict:
    """Choose the score and threshold for one model and measure its flag rates.

    Args:
        logits_fn: images (N, 28, 28) -> (N, 10) raw logits (`Classifier.logits`).
        val_logits: raw logits of the model's validation split (real garments).
        test_logits: raw logits of the official test set (reported, never used to choose).
        temperature: the model's fitted temperature.

    Returns:
        Card fields: "ood_score", "ood_threshold", "ood_flag_rate_val",
        "ood_flag_rate_test", "ood_flag_rate_generated" (held-out generated set),
        "ood_flag_rate_by_kind" (same set, per kind), "ood_generated" (how it was made).
    """
    fit_images, _ = generate_non_garments(n_per_kind, FIT_SEED)
    eval_images, eval_kinds = generate_non_garments(n_per_kind, EVAL_SEED)
    fit_logits, eval_logits = logits_fn(fit_images), logits_fn(eval_images)

    best = None
    for name, score in SCORES.items():
        val_s = score(val_logits, temperature)
        thr = choose_threshold(val_s, score(fit_logits, temperature))
        gain = np.mean(score(fit_logits, temperature) > thr) - np.mean(val_s > thr)
        if best is None or gain > best[0]:
            best = (gain, name, thr)
    _, name, thr = best
    score = SCORES[name]
    eval_flags = score(eval_logits, temperature) > thr
    return {
        "ood_score": name,
        "ood_threshold": float(thr),  # unrounded: flags must match the rates below
        "ood_flag_rate_val": round(float(np.mean(score(val_logits, temperature) > thr)), 6),
        "ood_flag_rate_test": round(float(np.mean(score(test_logits, temperature) > thr)), 6),
        "ood_flag_rate_generated": round(float(np.mean(eval_flags)), 6),
        "ood_flag_rate_by_kind": {
            k: round(float(np.mean(eval_flags[eval_kinds == k])), 6) for k in KINDS
        },
        "ood_generated": f"{n_per_kind} each of {', '.join(KINDS)}; threshold chosen on "
        f"seed {FIT_SEED}, rates measured on seed {EVAL_SEED}",
    }

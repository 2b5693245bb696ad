"""Not a garment? Score how unlike the training data an input is, and flag it.

A classifier always names one of its ten classes, even for a blank canvas or a digit.
No single cheap score catches every kind of non-garment, so we use two that fail in
different places and flag an input when either one fires:

- "energy" of the logits, -T * logsumexp(logits / T) (Liu et al., 2020, "Energy-based
  Out-of-distribution Detection"): it keeps the logits' magnitude, which softmax throws
  away. It sees what the model thinks, so it catches inputs that excite no class
  strongly (blank pages, many digits and texts), but an MLP can be very sure of itself
  on noise.
- "pixel": the distance of the image to the garment subspace, i.e. the squared residual
  after projecting onto the top `N_COMPONENTS` principal components of the model's own
  training images. Noise, faces and scattered strokes are far from every garment even
  when the model's logits are large.

At the same false-alarm budget energy alone misses many more generated non-garments
than the pair (the "energy alone" column of benchmarks/RESULTS.md, section trust).

Both thresholds are chosen by `fit_detector` without the test set: false flags on the
model's validation split stay at or below `MAX_VAL_FLAG_RATE`, and within that budget
the pair that flags most non-garments generated here (seed 0) wins. Flag rates are then
reported on the official test set and on a fresh batch of generated non-garments
(seed 1) that played no part in the choice.

The principal components live next to the card in `NAME.ood.npz` (60 kB; too big for
the JSON card); the thresholds and rates live in the card.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fashion.calibration import logsumexp
from fashion.card import MODELS_DIR, ModelCard, card_path
from fashion.classes import IMAGE_SIZE
from fashion.synthetic import EVAL_SEED, FIT_SEED, KINDS, N_PER_KIND, generate_non_garments

MAX_VAL_FLAG_RATE = 0.05  # flag at most 1 in 20 real garments: a warning, not a wall
N_COMPONENTS = 20  # enough for the garment shapes, too few to also describe digits or text
N_PCA_IMAGES = 5000  # training images the components are fitted on; more changes nothing
SCORE_NAME = "energy+pixel"
# Thresholds are tried at these quantiles of the validation scores (0.9 .. 1.0).
_QUANTILES = np.linspace(0.9, 1.0, 41)


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N,) -T * logsumexp(logits / T); higher means less like the training data."""
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64)) / temperature
    return -temperature * logsumexp(z)


def _flat(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28[, 1]) or one (28, 28[, 1]) image -> (N, 784) float64."""
    x = np.asarray(images, dtype=np.float64)
    return x.reshape(-1, IMAGE_SIZE * IMAGE_SIZE)


def fit_pixel_model(images: np.ndarray, n_components: int = N_COMPONENTS) -> dict:
    """Mean and top principal components of garment images.

    Args:
        images: (N, 28, 28[, 1]) float in [0, 1], real garments (never validation or test).

    Returns:
        {"mean": (784,) float32, "components": (n_components, 784) float32, orthonormal rows}.
    """
    x = _flat(images)
    mean = x.mean(axis=0)
    z = x - mean
    # eigh of the 784x784 scatter matrix is much cheaper than an SVD of the N x 784 data.
    eigvals, eigvecs = np.linalg.eigh(z.T @ z)
    top = eigvecs[:, np.argsort(eigvals)[::-1][:n_components]].T
    return {"mean": mean.astype(np.float32), "components": top.astype(np.float32)}


def pixel_score(images: np.ndarray, pixel_model: dict) -> np.ndarray:
    """(N,) squared distance of each image to the garment subspace; higher = less garment-like."""
    z = _flat(images) - pixel_model["mean"].astype(np.float64)
    comps = pixel_model["components"].astype(np.float64)
    residual = z - (z @ comps.T) @ comps
    return np.sum(residual**2, axis=1)


def pixel_model_path(card_path: Path) -> Path:
    """Where the principal components of the model whose card is `card_path` are stored."""
    return card_path.with_suffix(".ood.npz")


def save_pixel_model(path: Path, pixel_model: dict) -> None:
    with open(path, "wb") as fh:  # a file handle: np.savez would append ".npz" to a name
        np.savez(fh, **pixel_model)


@functools.lru_cache(maxsize=16)
def _load_pixel_model(path: str, mtime_ns: int) -> dict:
    # mtime in the key: a re-run of `calibrate` is picked up without restarting the app.
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def load_pixel_model(path: Path) -> dict:
    return _load_pixel_model(str(path), path.stat().st_mtime_ns)


def flags(
    energy: np.ndarray, pixel: np.ndarray | None, energy_threshold: float, pixel_threshold: float
) -> np.ndarray:
    """(N,) bool: either score above its threshold (pixel ignored when None)."""
    out = np.asarray(energy) > energy_threshold
    if pixel is not None:
        out |= np.asarray(pixel) > pixel_threshold
    return out


def is_not_garment(
    logits: np.ndarray,
    card: ModelCard,
    images: np.ndarray | None = None,
    models_dir: Path | None = None,
) -> np.ndarray:
    """(N,) bool: True where the input should be shown as "not a garment?".

    Args:
        logits: (N, 10) raw logits of `images`, e.g. `Classifier.logits(images)`.
        card: the model card after `python -m fashion calibrate`.
        images: (N, 28, 28[, 1]) the inputs themselves. Without them only the energy
            half of the check runs, which misses most noise and faces: pass them.
        models_dir: the folder holding the card (default assets/models).

    Returns:
        All False when the card has no fitted threshold (uncalibrated model).
    """
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if not card.has_ood_check:
        return np.zeros(len(logits), dtype=bool)
    energy = energy_score(logits, card.temperature)
    pixel = None
    if images is not None and card.ood_threshold_pixel is not None:
        path = pixel_model_path(card_path(card.name, models_dir or MODELS_DIR))
        pixel = pixel_score(images, load_pixel_model(path))
    return flags(energy, pixel, card.ood_threshold, card.ood_threshold_pixel or 0.0)


def choose_thresholds(
    val_scores: tuple[np.ndarray, np.ndarray],
    out_scores: tuple[np.ndarray, np.ndarray],
    max_val_flag_rate: float = MAX_VAL_FLAG_RATE,
) -> tuple[float, float]:
    """The (energy, pixel) thresholds that best separate garments from non-garments.

    Each threshold is tried at the validation quantiles in `_QUANTILES`; among pairs whose
    union flags at most `max_val_flag_rate` of the validation images, take the one
    maximising (flag rate on non-garments) - (flag rate on validation). Ties go to the
    first pair found, i.e. the highest thresholds (fewest false alarms).

    Args:
        val_scores: (energy, pixel) scores of real garments, each (N,).
        out_scores: (energy, pixel) scores of generated non-garments, each (M,).

    Returns:
        (energy threshold, pixel threshold); flag when a score is strictly above.
    """
    (ve, vp), (oe, op) = val_scores, out_scores
    cand_e = np.unique(np.quantile(ve, _QUANTILES))[::-1]  # high to low
    cand_p = np.unique(np.quantile(vp, _QUANTILES))[::-1]
    # (Ce, N) x (Cp, N) -> (Ce, Cp) rates by broadcasting; sizes ~41 x 41 x 6000: cheap.
    ve_f, vp_f = ve[None] > cand_e[:, None], vp[None] > cand_p[:, None]
    oe_f, op_f = oe[None] > cand_e[:, None], op[None] > cand_p[:, None]
    val_rate = (ve_f[:, None] | vp_f[None]).mean(axis=-1)
    out_rate = (oe_f[:, None] | op_f[None]).mean(axis=-1)
    gain = np.where(val_rate <= max_val_flag_rate, out_rate - val_rate, -np.inf)
    i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
    return float(cand_e[i]), float(cand_p[j])


def fit_detector(
    logits_fn: Callable[[np.ndarray], np.ndarray],
    val_images: np.ndarray,
    val_logits: np.ndarray,
    test_images: np.ndarray,
    test_logits: np.ndarray,
    temperature: float,
    pixel_model: dict,
    n_per_kind: int = N_PER_KIND,
) -> dict:
    """Choose the thresholds for one model and measure its flag rates.

    Args:
        logits_fn: images (N, 28, 28) -> (N, 10) raw logits (`Classifier.logits`).
        val_images, val_logits: the model's validation split (real garments) and its logits.
        test_images, test_logits: the official test set (reported, never used to choose).
        temperature: the model's fitted temperature.
        pixel_model: from `fit_pixel_model` on the model's training images.

    Returns:
        Card fields: "ood_score", "ood_threshold" (energy), "ood_threshold_pixel",
        "ood_flag_rate_val", "ood_flag_rate_test", "ood_flag_rate_generated" (held-out
        generated set), "ood_flag_rate_by_kind" (same set, per kind), "ood_generated".
    """
    fit_images, _ = generate_non_garments(n_per_kind, FIT_SEED)
    eval_images, eval_kinds = generate_non_garments(n_per_kind, EVAL_SEED)

    def both(images: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return energy_score(logits, temperature), pixel_score(images, pixel_model)

    val = both(val_images, val_logits)
    t_energy, t_pixel = choose_thresholds(val, both(fit_images, logits_fn(fit_images)))

    def rate(images: np.ndarray, logits: np.ndarray) -> np.ndarray:
        return flags(*both(images, logits), t_energy, t_pixel)

    eval_flags = rate(eval_images, logits_fn(eval_images))
    return {
        "ood_score": SCORE_NAME,
        # Unrounded: flags recomputed from the card must match the rates below.
        "ood_threshold": t_energy,
        "ood_threshold_pixel": t_pixel,
        "ood_flag_rate_val": round(float(np.mean(flags(*val, t_energy, t_pixel))), 6),
        "ood_flag_rate_test": round(float(np.mean(rate(test_images, test_logits))), 6),
        "ood_flag_rate_generated": round(float(np.mean(eval_flags)), 6),
        "ood_flag_rate_by_kind": {
            k: round(float(np.mean(eval_flags[eval_kinds == k])), 6) for k in KINDS
        },
        "ood_generated": f"flagged when energy > {t_energy:.3f} or distance to the garment "
        f"subspace > {t_pixel:.2f}; {n_per_kind} each of {', '.join(KINDS)}; thresholds chosen "
        f"on the validation split and seed {FIT_SEED}, rates measured on seed {EVAL_SEED}",
    }

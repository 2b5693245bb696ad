"""Garment cut-out for photos on a textured or unevenly lit surface, with OpenCV.

The plain-background path of `preprocess.photo` tells garment from background by the
colour of the image's border; on a bedsheet, a wooden floor or a carpet the border has
many colours and the light changes across the photo. Here the border only *seeds* a
colour model:

1. work on a small copy (longest side WORK_SIDE); divide out the light's gradient and
   vignette, fitted on the border (the border is background);
2. the border's colours (k-means clusters) are the background; each pixel's Lab distance
   to the nearest cluster, in units of that cluster's spread, at a fine and a coarse
   scale (stripes, checks and grain average out), marks probable and sure garment;
3. GrabCut refines that (border, or outside a user's box = sure background); morphology
   cleans it, the largest central blob is kept, holes filled;
4. the garment's intensity is its contrast to the surface estimated *under* it (a
   normalised blur of the surface around it), projected on the garment's own colour
   direction: the dataset's "contrast to the background", bright on black, whether the
   garment is lighter or darker than the surface, then scaled to peak at 1;
5. turn upright (the outline's dominant edge direction), crop to the garment, longest
   side to 28 (PIL LANCZOS), centred on black.

`cut_out` refuses (returns None) when nothing stands out: a blank page, noise, or an even
texture, where the "garment" found is no different from the rest of the surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from fashion.classes import IMAGE_SIZE

WORK_SIDE = 256  # GrabCut's cost grows with the pixels; 256 px keeps a garment's shape
BORDER = 0.04  # the frame, as a fraction of the short side, taken as sure background
BG_CLUSTERS = 5  # enough for stripes, checks, planks, tiles and grout
MIN_SHARE = 0.05  # of the border's pixels, for a colour to count as background
COARSE_SIGMA = 0.012  # of the longest side: ~3 px at 256, wider than most stripes
# The second try's extra scale (x COARSE_SIGMA): a gingham check or a broad stripe of
# ~12 px at 256 survives the coarse blur. Measured on 200 home photos: refusals 3 -> 1,
# the same 59 of 60 bare surfaces still refused.
WIDE_SCALE = 3.0
MAYBE_GARMENT = 2.0  # colour distance (in background spreads): probable garment
SURE_GARMENT = 4.0  # ... and beyond this, garment GrabCut may not argue with
GRABCUT_ITERS = 4
MIN_AREA, MAX_AREA = 0.01, 0.85  # plausible garment fractions of the photo
# Garment-vs-background separation (`_score`): bare surfaces, blank pages and noise
# reach at most ~1.1 on the lab's sets, garments on home surfaces are >= 1.2 but for ~1 %.
MIN_SCORE = 1.2
UNSURE_SCORE = 2.0  # below this, answered but worth a warning (~5 % of home photos)
MAX_TURN = 25.0  # degrees: a phone held askew, not a garment photographed sideways


@dataclass(frozen=True)
class Cutout:
    """A garment cut out of a photo.

    mask: (H, W) bool at the input's resolution.
    score: how clearly the garment stands out (>= MIN_SCORE to be answered; ~1 = no).
    image: (28, 28) float32 in [0, 1], garment bright on black: the model's input.
    angle: degrees the garment was turned by to stand upright (0 if not turned).
    """

    mask: np.ndarray
    score: float
    image: np.ndarray
    angle: float = 0.0

    @property
    def unsure(self) -> bool:
        """The garment barely stands out: the mask may be wrong (ask for a box?)."""
        return self.score < UNSURE_SCORE


# ------------------------------------------------------------------------ colour model


def _small_rgb(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """The photo shrunk so its longest side is at most `side`, and the scale used."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    rgb = np.ascontiguousarray(rgb, np.float32)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb, scale


def _even_light(rgb: np.ndarray, border: np.ndarray) -> np.ndarray:
    """Divide out light that varies smoothly across the photo (a lamp to one side, a
    vignette): log-brightness of the background, fitted on the border as a plane plus a
    radial term, is what the surface would look like evenly lit."""
    h, w = border.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = (x - w / 2) / max(h, w), (y - h / 2) / max(h, w)
    basis = np.stack([np.ones_like(x), x, y, x * x + y * y], axis=-1)
    logy = np.log(np.maximum(rgb.mean(axis=2), 1e-3))
    coef, *_ = np.linalg.lstsq(basis[border], logy[border], rcond=None)
    light = basis[..., 1:] @ coef[1:]
    light -= float(np.median(light[border]))
    return np.clip(rgb * np.exp(-light)[..., None], 0, 1).astype(np.float32)


def _lab(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.cvtColor(cv2.GaussianBlur(rgb, (0, 0), sigma), cv2.COLOR_RGB2Lab)


def _border_mask(shape: tuple[int, int], frac: float = BORDER) -> np.ndarray:
    h, w = shape
    k = max(2, round(frac * min(h, w)))
    m = np.zeros((h, w), bool)
    m[:k], m[-k:], m[:, :k], m[:, -k:] = True, True, True, True
    return m


def _distance_to_border(lab: np.ndarray, border: np.ndarray) -> np.ndarray:
    """(H, W) float32: each pixel's colour distance to the nearest border colour cluster,
    in units of that cluster's spread (a noisy carpet tolerates more than a flat sheet)."""
    samples = lab[border].astype(np.float32)
    k = min(BG_CLUSTERS, len(samples))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(samples, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    best = np.full(lab.shape[:2], np.inf, np.float32)
    for c in range(k):
        members = samples[labels == c]
        # A garment that touches the frame puts its own colour on the border: a colour
        # on less than MIN_SHARE of the border is not taken as background.
        if len(members) < max(5, MIN_SHARE * len(samples)):
            continue
        spread = float(np.sqrt(((members - centres[c]) ** 2).sum(1).mean()))
        d = np.sqrt(((lab - centres[c]) ** 2).sum(2)) / (spread + 3.0)
        best = np.minimum(best, d)
    return best


def _distance(rgb: np.ndarray, border: np.ndarray, wide: bool = False) -> np.ndarray:
    """Distance to the border's colours at a fine and a coarse scale, the larger of the
    two: the coarse one averages stripes, checks and grain into one colour (a garment the
    colour of one stripe still differs from the stripes' mix), the fine one keeps thin
    parts (straps, soles) that averaging washes out. Measured: max beats min, mean and
    either scale alone on mask IoU (the smaller of the two lost garments on stripes).

    `wide` adds a third, WIDE_SCALE times coarser: it averages broad checks and stripes
    too, at the cost of a blurrier edge, so it is the second try only (see `cut_out`)."""
    side = max(rgb.shape[:2])
    fine = _distance_to_border(_lab(rgb, 1.0), border)
    coarse = _distance_to_border(_lab(rgb, COARSE_SIGMA * side), border)
    dist = np.maximum(fine, coarse)
    if wide:
        dist = np.maximum(
            dist, _distance_to_border(_lab(rgb, WIDE_SCALE * COARSE_SIGMA * side), border)
        )
    return dist


# ------------------------------------------------------------------------ the mask


def _grabcut(rgb: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """GrabCut from a GC_* label image; returns the garment (bool)."""
    # Blurred: GrabCut's colour models then see a striped or grainy surface as fewer,
    # tighter colours (measured: sigma ~1 % of the side beats 0.4 % on mask IoU).
    sigma = COARSE_SIGMA * max(rgb.shape[:2])
    img = np.round(cv2.GaussianBlur(rgb, (0, 0), sigma) * 255).astype(np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    labels = seed.astype(np.uint8).copy()
    if not (labels == cv2.GC_PR_FGD).any() and not (labels == cv2.GC_FGD).any():
        return np.zeros(seed.shape, bool)
    cv2.grabCut(img, labels, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def _clean(mask: np.ndarray) -> np.ndarray:
    """Open/close away specks and notches, keep the biggest central blob, fill its holes."""
    r = max(1, round(0.01 * max(mask.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    h, w = mask.shape
    # Area, discounted by distance from the centre: a garment is what the photo is of.
    off = np.hypot((cents[1:, 0] - w / 2) / w, (cents[1:, 1] - h / 2) / h)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA] * (1 - off)))
    blob = (labels == best).astype(np.uint8)
    # Holes: background pixels the outside cannot reach.
    outside = np.pad(1 - blob, 1, constant_values=1)
    ff = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(outside, ff, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2) | (blob > 0)


def _seed(dist: np.ndarray, border: np.ndarray, boxed: bool) -> np.ndarray:
    """GrabCut's starting labels: the border (or outside a user's box) sure background;
    colours far from it probable garment, very far sure garment; the rest probable
    background. Sure garment stops GrabCut from giving a garment up to a background
    stripe of a similar colour (it did, on striped sheets)."""
    seed = np.full(dist.shape, cv2.GC_PR_BGD, np.uint8)
    seed[dist > MAYBE_GARMENT] = cv2.GC_PR_FGD
    sure = cv2.erode((dist > SURE_GARMENT).astype(np.uint8), np.ones((3, 3), np.uint8))
    seed[sure > 0] = cv2.GC_FGD
    if boxed and not (seed != cv2.GC_PR_BGD)[~border].any():
        # Nothing in the box differs from outside it: the user says there is a
        # garment, so let GrabCut find it from the box alone.
        seed[~border] = cv2.GC_PR_FGD
    seed[border] = cv2.GC_BGD
    return seed


def _score(dist: np.ndarray, mask: np.ndarray) -> float:
    """Separation: the garment's typical distance to the border colours over the
    background's high one. About 1 when the "garment" is just more of the surface."""
    if mask.all() or not mask.any():
        return 0.0
    inside = float(np.median(dist[mask]))
    outside = float(np.percentile(dist[~mask], 90))
    return inside / (outside + 0.5)


# ------------------------------------------------------------------------ intensity


def _background_under(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The surface's colour under the garment, from around it: a normalised blur of the
    background pixels (so a light gradient across the photo is followed, texture is not)."""
    keep = ~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    weight = keep.astype(np.float32)
    sigma = 0.08 * max(mask.shape)
    num = cv2.GaussianBlur(lab * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    wide = cv2.GaussianBlur(lab * weight[..., None], (0, 0), 4 * sigma)
    wide_den = cv2.GaussianBlur(weight, (0, 0), 4 * sigma)[..., None]
    # Deep inside a big garment the narrow blur has no support: fall back to the wide one.
    near = num / np.maximum(den, 1e-6)
    far = wide / np.maximum(wide_den, 1e-6)
    t = np.clip(den / 0.05, 0, 1)
    return near * t + far * (1 - t)


def _opacity(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how much garment each pixel is, as the dataset's
    "contrast to the background" (its 28x28 images are opacity-like: bright = garment)."""
    bg = _background_under(lab, mask)
    diff = lab - bg
    mag = np.sqrt((diff**2).sum(2))
    strong = mask & (mag >= np.percentile(mag[mask], 60))
    g = np.median(diff[strong], axis=0)  # the garment's colour, relative to the surface
    g /= max(float(np.linalg.norm(g)), 1e-6)
    alpha = np.where(mask, np.maximum(diff @ g, 0), 0).astype(np.float32)
    # Scaled so the brightest detail (3x3 mean: not one noisy pixel) is 1, as every
    # dataset image peaks at ~255; scaling by the typical garment pixel instead washed
    # dark garments out to white (measured: -5 points on shop photos).
    peak = float(cv2.blur(alpha, (3, 3)).max())
    return np.clip(alpha / peak, 0, 1) if peak > 0 else alpha


# ------------------------------------------------------------------------ geometry


def upright_angle(mask: np.ndarray, max_deg: float = MAX_TURN) -> float:
    """How far (degrees, counter-clockwise as cv2 counts) the garment is turned from upright.

    Garments are full of straight edges that run along or across them (a shirt's sides,
    trouser legs, a sole, a bag's edges); the outline's tangent directions, folded modulo
    90 degrees (angle x4 on the unit circle) and weighted by length, point at the turn.
    Measured against the bounding-box-area minimum: closer to the true angle, and 3 points
    more accuracy on home photos.
    """
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    k = 3  # tangent over +-3 boundary pixels: steadier than the pixel staircase
    z = 0j
    for c in cs:
        p = c.reshape(-1, 2).astype(np.float64)
        if len(p) > 2 * k:
            d = np.roll(p, -k, axis=0) - np.roll(p, k, axis=0)
            z += np.sum(np.hypot(d[:, 0], d[:, 1]) * np.exp(4j * np.arctan2(d[:, 1], d[:, 0])))
    angle = -float(np.degrees(np.angle(z) / 4))
    return angle if abs(angle) <= max_deg else 0.0


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c + 1), int(h * c + w * s + 1)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)


def fit_28(crop: np.ndarray) -> np.ndarray:
    """A garment's crop -> the dataset's 28x28: longest side to 28 keeping the aspect
    ratio, centred on black. PIL's LANCZOS (measured: as good as cv2's cubic and 1-3
    points better than cv2's area averaging on both photo sets)."""
    h, w = crop.shape
    scale = IMAGE_SIZE / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        small = Image.fromarray(crop.astype(np.float32), mode="F")
        crop = np.asarray(small.resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float32)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    top, left = (IMAGE_SIZE - nh) // 2, (IMAGE_SIZE - nw) // 2
    out[top : top + nh, left : left + nw] = crop
    return np.clip(out, 0, 1)


def to_28(alpha: np.ndarray, mask: np.ndarray, angle: float = 0.0) -> np.ndarray:
    """Opacity + mask -> the dataset's 28x28: turned by `angle`, cropped to the garment,
    longest side to 28, centred on black."""
    img = np.where(mask, alpha, 0).astype(np.float32)
    if angle:
        img = _rotate(img, -angle)
    ys, xs = np.nonzero(img > 0.02)
    if len(ys) == 0:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    return fit_28(img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


# ------------------------------------------------------------------------ public


def cut_out(
    rgb: np.ndarray,
    box: tuple[int, int, int, int] | None = None,
    upright: bool = True,
    work_side: int = WORK_SIDE,
) -> Cutout | None:
    """The garment in a photo, or None if nothing stands out (blank, noise, texture).

    Args:
        rgb: (H, W, 3) float32 in [0, 1] (as `preprocess.to_rgb` returns it).
        box: optional (x0, y0, x1, y1) in input pixels around the garment (a user's
            drag): everything outside it is background, GrabCut starts inside it.
        upright: turn the garment upright (undo a tilted phone; measured +8-13 points
            on home photos, within noise on shop photos).
        work_side: longest side of the copy the cut-out works on.
    """
    cv2.setRNGSeed(0)  # k-means and GrabCut draw random numbers: same photo, same answer
    small, scale = _small_rgb(np.asarray(rgb, np.float32), work_side)
    border = _border_mask(small.shape[:2]) if box is None else _outside(small.shape[:2], box, scale)
    small = _even_light(small, border)
    for wide in (False, True):
        # A garment lost in a broad check or stripe gets a second try at a wider scale.
        dist = _distance(small, border, wide)
        mask = _clean(_grabcut(small, _seed(dist, border, box is not None)))
        if mask.mean() < MIN_AREA:
            # GrabCut gave up (a faint garment on a busy surface): the colour distance alone.
            mask = _clean((dist > MAYBE_GARMENT) & ~border)
        score = _score(dist, mask)
        if MIN_AREA <= float(mask.mean()) <= MAX_AREA and score >= MIN_SCORE:
            break
    else:
        return None
    alpha = _opacity(_lab(small, 1.0), mask)
    angle = upright_angle(mask) if upright else 0.0
    h, w = rgb.shape[:2]
    full = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return Cutout(mask=full, score=score, image=to_28(alpha, mask, angle), angle=angle)


def _outside(shape: tuple[int, int], box: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """(H, W) bool: the pixels outside a user's box (given in input pixels)."""
    h, w = shape
    x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
    x0, x1 = sorted((min(max(x0, 0), w), min(max(x1, 0), w)))
    y0, y1 = sorted((min(max(y0, 0), h), min(max(y1, 0), h)))
    out = np.ones(shape, bool)
    out[y0:y1, x0:x1] = False
    if out.all() or not out.any():  # an empty box, or one that is the whole photo
        return _border_mask(shape)
    return out


def mask_overlay(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the photo with what is not garment dimmed and the garment's
    outline drawn, so a wrong answer can be traced to a wrong cut-out at a glance."""
    shown = np.asarray(rgb, np.float32)
    m = np.asarray(mask, bool)
    out = np.where(m[..., None], shown, 0.25 * shown + 0.05)
    out = np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(0.006 * max(m.shape)))
    cv2.drawContours(out, contours, -1, (255, 170, 0), thickness)
    return out

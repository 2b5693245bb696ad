"""Photos taken at home: the renderer, the cut-out (fashion.data.cutout) on every kind of
surface, the box a user draws, and what is still refused. Real test images, real model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fashion.data import cutout, preprocess, renders
from fashion.data.uploads import decode

# Of each class, one test image per surface kind (seeded): 10 garments on every surface.
PER_SURFACE = 10
# Right answers of the 10 at least. Striped and checked sheets are the hardest surface
# (a garment the colour of one stripe; benchmarks/RESULTS.md, home-photos, by surface).
MIN_RIGHT = {"sheet": 5}


def _iou(found: np.ndarray, truth: np.ndarray) -> float:
    """Overlap of two masks; the true one (the photo's full size) shrunk to the found one
    (the upload's decoded size)."""
    shrunk = Image.fromarray(truth).resize(found.shape[::-1], Image.Resampling.NEAREST)
    truth = np.asarray(shrunk, bool)
    return float((found & truth).sum() / max(1, (found | truth).sum()))


def _home(img28: np.ndarray, surface: str, seed: int) -> tuple[bytes, dict, np.ndarray]:
    """A home photo of `img28` on `surface` (re-drawn until the renderer picks it)."""
    rng = np.random.default_rng(seed)
    while True:
        data, info, mask = renders.home_photo_with_mask(img28, rng)
        if info["surface"] == surface:
            return data, info, mask


@pytest.fixture(scope="module")
def one_per_class(test_split) -> list[int]:
    return [int(np.flatnonzero(test_split.labels == c)[3]) for c in range(10)]


def test_the_renderer_is_seeded_and_its_mask_is_the_garment(test_split):
    img = test_split.images[0]
    a = renders.home_photo(img, np.random.default_rng(5))
    b = renders.home_photo(img, np.random.default_rng(5))
    assert a == b
    data, info, mask = renders.home_photo_with_mask(img, np.random.default_rng(5))
    assert data == a[0] and info["surface"] in renders.SURFACES
    with Image.open(io.BytesIO(data)) as im:
        assert mask.shape == im.size[::-1] and 0.02 < mask.mean() < 0.8
    assert abs(info["angle"]) <= 20 and abs(info["shear"]) <= 0.12


@pytest.mark.parametrize("surface", renders.SURFACES)
def test_a_garment_on_each_surface_is_cut_out_and_answered(
    surface, test_split, one_per_class, classifier
):
    """On every surface: the cut-out covers the garment (mask overlap), the photo path
    answers (not refused), and the model gets most of the ten classes right."""
    ious, right, refused = [], 0, []
    for k, i in enumerate(one_per_class):
        data, _, truth = _home(test_split.images[i], surface, seed=100 * k + 7)
        try:
            prepared = preprocess.photo(data)
        except preprocess.InputError:
            refused.append(k)  # a faint sandal on a striped sheet, say: counted wrong
            continue
        assert prepared.steps[1][0] == preprocess.CUT_OUT_STEP
        assert prepared.steps[1][1].ndim == 3  # the mask drawn over the photo
        ious.append(_iou(cutout.cut_out(preprocess.to_rgb(decode(data))).mask, truth))
        right += classifier.predict(prepared.image).label == test_split.labels[i]
    assert len(refused) <= 1, f"{surface}: classes {refused} refused"
    assert np.mean(ious) >= 0.75, (surface, np.round(ious, 2))
    assert right >= MIN_RIGHT.get(surface, 7), f"{surface}: {right} of {PER_SURFACE} right"


def test_a_plain_background_keeps_the_border_colour_path(test_split):
    """Shop photos (a plain background) take the path that has always served them."""
    data = renders.shop_photo(test_split.images[0])
    steps = [c for c, _ in preprocess.photo(data).steps]
    assert steps[:2] == ["original", "grayscale"] and "cropped to the garment" in steps
    assert preprocess.CUT_OUT_STEP in steps


@pytest.mark.parametrize("kind", ["blank", "noise", "bare surface"])
def test_what_has_no_garment_is_still_refused(kind):
    rng = np.random.default_rng(3)
    if kind == "blank":
        data = renders.encode(np.full((300, 400, 3), 200, np.uint8))
    elif kind == "noise":
        data = renders.encode(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    else:
        data = renders.empty_surface(rng)
    for method in ("auto", "cut-out"):
        with pytest.raises(preprocess.InputError, match="No garment found"):
            preprocess.photo(data, method=method)


def test_a_drawn_box_redoes_the_cut_out_inside_it(test_split, classifier):
    """Trousers on a floor with a bag beside them: the automatic cut-out takes the
    trousers; a box round the bag cuts out the bag, and nothing outside the box."""
    assert (test_split.labels[2], test_split.labels[18]) == (1, 8)  # trousers, bag
    photo, box = renders.two_garments_at_home(test_split.images[2], test_split.images[18], 3)
    assert classifier.predict(preprocess.photo(photo).image).class_name == "Trouser"
    boxed = preprocess.photo(photo, box=box)
    assert classifier.predict(boxed.image).class_name == "Bag"
    shown = dict(boxed.steps)[preprocess.CUT_OUT_STEP]
    h, w = shown.shape[:2]
    ys, xs = np.nonzero(shown.max(axis=2) > 120)  # the garment, at full brightness
    assert xs.min() >= box[0] * w - 2 and ys.min() >= box[1] * h - 2, "cut-out outside the box"
    with pytest.raises(preprocess.InputError, match="inside your box"):
        preprocess.photo(photo, box=(0.0, 0.0, 0.12, 0.12))  # bare floor in a corner


def test_the_mask_overlay_dims_the_background_and_keeps_the_garment():
    rgb = np.full((60, 80, 3), 0.8, np.float32)
    mask = np.zeros((60, 80), bool)
    mask[20:40, 30:50] = True
    out = cutout.mask_overlay(rgb, mask)
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    assert out[30, 40].tolist() == [204, 204, 204]  # inside: the photo as it is
    assert out[5, 5].max() < 80  # outside: dimmed


def test_an_unknown_method_is_a_programming_error():
    with pytest.raises(ValueError, match="method"):
        preprocess.photo(renders.encode(np.zeros((40, 40, 3), np.uint8)), method="magic")

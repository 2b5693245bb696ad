"""The photo and sketch paths (issue 3), step by step, on images the tests draw themselves,
plus the round trip of real test images through PNG files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fashion.data import preprocess
from fashion.data.preprocess import InputError, Prepared
from fashion.data.renders import (
    boot_mask,
    encode,
    jpeg_with_orientation,
    paint,
    shirt_mask,
    trouser_mask,
)

GREY, WHITE, OFF_WHITE = (128, 128, 128), (255, 255, 255), (246, 244, 240)


def _box(image: np.ndarray, level: float = 0.1) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) exclusive, of pixels brighter than `level`."""
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _check_output(p: Prepared) -> None:
    assert p.image.shape == (28, 28) and p.image.dtype == np.float32
    assert 0.0 <= float(p.image.min()) and float(p.image.max()) <= 1.0
    assert p.steps[-1][0].startswith("28x28") and p.steps[-1][1] is p.image
    for caption, step in p.steps:
        # Grayscale steps, and the cut-out drawn over the photo in colour.
        assert isinstance(caption, str)
        assert step.ndim == 2 or (step.ndim == 3 and step.shape[2] == 3 and step.dtype == np.uint8)


def _reference(mask: np.ndarray) -> np.ndarray:
    """What the recipe should give for a garment mask: its bounding box, longest side 28,
    centred, bright on black."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    h, w = crop.shape
    s = 28 / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.Resampling.BOX))
    out = np.zeros((28, 28), np.float32)
    out[(28 - nh) // 2 : (28 - nh) // 2 + nh, (28 - nw) // 2 : (28 - nw) // 2 + nw] = small
    return out


# ------------------------------------------------------------------ one step at a time


def test_to_rgb_flattens_transparency_onto_white():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255  # red, but fully transparent except one pixel
    rgba[5, 5, 3] = 255
    rgb = preprocess.to_rgb(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_allclose(rgb[0, 0], [1, 1, 1])
    np.testing.assert_allclose(rgb[5, 5], [1, 0, 0])


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("L", lambda g: Image.fromarray(g)),
        ("1", lambda g: Image.fromarray(g).convert("1", dither=Image.Dither.NONE)),
        ("P", lambda g: Image.fromarray(g).convert("P")),
        ("LA", lambda g: Image.fromarray(g).convert("LA")),
        ("CMYK", lambda g: Image.fromarray(g).convert("CMYK")),
        ("I;16", lambda g: Image.fromarray(g.astype(np.uint16) * 257)),
        ("I", lambda g: Image.fromarray(g.astype(np.int32) * 257)),
        ("F", lambda g: Image.fromarray(g.astype(np.float32) / 255.0)),
        ("YCbCr", lambda g: Image.fromarray(g).convert("YCbCr")),
    ],
)
def test_to_rgb_handles_every_mode(mode, make):
    g = np.zeros((8, 8), np.uint8)
    g[:, 4:] = 255  # left black, right white: survives every mode, even 1-bit
    im = make(g)
    assert im.mode == mode
    rgb = preprocess.to_rgb(im)
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb[:, :4], 0, atol=0.02)
    np.testing.assert_allclose(rgb[:, 4:], 1, atol=0.02)


def test_white_shirt_on_grey_is_kept_bright_not_inverted():
    mask = shirt_mask()
    p = preprocess.photo(encode(paint(mask, WHITE, GREY)))
    _check_output(p)
    assert not p.inverted
    assert [c for c, _ in p.steps][:2] == ["original", "grayscale"]
    assert "cropped to the garment" in dict(p.steps)
    # The shirt is wider than tall: it spans the full width and is centred vertically.
    top, bottom, left, right = _box(p.image)
    assert (left, right) == (0, 28)
    assert abs((top + bottom) / 2 - 14) <= 1
    assert np.abs(p.image - _reference(mask)).mean() < 0.03


def test_dark_boot_on_white_is_inverted_cropped_and_centred():
    mask = boot_mask()
    p = preprocess.photo(encode(paint(mask, (25, 20, 15), WHITE), "JPEG", quality=90))
    _check_output(p)
    assert p.inverted
    assert any(c.startswith("inverted") for c, _ in p.steps)
    # The boot is bright on black and keeps its aspect ratio: 280 x 180 px -> 28 x 18.
    top, bottom, left, right = _box(p.image, 0.5)
    assert (left, right) == (0, 28)
    assert 17 <= bottom - top <= 19
    assert float(p.image[0].max()) < 0.05 and float(p.image[-1].max()) < 0.05
    assert np.abs(p.image - _reference(mask)).mean() < 0.03


def test_tall_garment_keeps_its_aspect_ratio_and_is_centred():
    p = preprocess.photo(encode(paint(trouser_mask(), 20, OFF_WHITE)))
    top, bottom, left, right = _box(p.image, 0.5)
    assert (top, bottom) == (0, 28)
    assert 9 <= right - left <= 11  # 80 x 240 px -> 9.3 x 28
    assert abs((left + right) / 2 - 14) <= 1


def test_position_in_the_photo_does_not_matter():
    mask = shirt_mask(300, 400)
    big = np.zeros((700, 900), bool)
    big[350:650, 20:420] = mask  # bottom-left corner of a large canvas
    a = preprocess.photo(encode(paint(mask, 30, OFF_WHITE))).image
    b = preprocess.photo(encode(paint(big, 30, OFF_WHITE))).image
    assert np.abs(a - b).mean() < 0.03  # sub-pixel phase of the resize differs, no more


def test_transparent_png_is_flattened_onto_white_then_inverted():
    mask = shirt_mask()
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask] = (40, 60, 120, 255)  # a blue shirt cut out on a transparent background
    p = preprocess.photo(encode(rgba))
    assert p.inverted
    same_on_white = preprocess.photo(encode(paint(mask, (40, 60, 120), WHITE))).image
    assert np.abs(p.image - same_on_white).mean() < 0.01


def test_exif_rotated_jpeg_is_turned_upright():
    upright = paint(trouser_mask(), 20, WHITE)  # 300 tall x 200 wide
    data = jpeg_with_orientation(upright, 6)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (300, 200)  # stored lying down
    p = preprocess.photo(data)
    top, bottom, left, right = _box(p.image, 0.5)
    assert (top, bottom) == (0, 28) and right - left < 18  # standing up again
    direct = preprocess.photo(encode(upright)).image
    assert np.abs(p.image - direct).mean() < 0.03


def test_cmyk_jpeg():
    rgb = paint(boot_mask(), (30, 40, 90), OFF_WHITE)
    data = encode(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "CMYK"
    p = preprocess.photo(data)
    assert p.inverted
    assert np.abs(p.image - preprocess.photo(encode(rgb)).image).mean() < 0.03


def test_16_bit_png():
    g8 = np.where(shirt_mask(), 30, 225).astype(np.uint8)
    data = encode(Image.fromarray(g8.astype(np.uint16) * 257))
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode.startswith("I")
    p = preprocess.photo(data)
    assert p.inverted
    assert np.abs(p.image - preprocess.photo(encode(g8)).image).mean() < 0.01


def test_palette_gif():
    rgb = paint(boot_mask(), (120, 30, 30), (235, 235, 235))
    data = encode(Image.fromarray(rgb).convert("P"), "GIF")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
    p = preprocess.photo(data)
    assert p.inverted
    assert np.abs(p.image - preprocess.photo(encode(rgb)).image).mean() < 0.03


def test_noise_specks_and_a_faint_shadow_do_not_move_the_crop():
    mask = shirt_mask()
    clean = preprocess.photo(encode(paint(mask, 30, OFF_WHITE))).image
    rng = np.random.default_rng(0)
    rgb = paint(mask, 30, OFF_WHITE).astype(np.float32)
    shadow = np.roll(mask, (8, 8), axis=(0, 1)) & ~mask
    rgb[shadow] *= 0.93  # a soft shadow, 7 % darker than the background
    rgb[5:8, 5:8] = 0  # a speck of dust in a corner, far from the garment
    rgb += rng.normal(0, 4, rgb.shape)  # sensor noise
    p = preprocess.photo(encode(np.clip(rgb, 0, 255).astype(np.uint8), "JPEG", quality=85))
    assert np.abs(p.image - clean).mean() < 0.02
    assert _box(p.image, 0.3) == _box(clean, 0.3)


def test_low_contrast_photo_is_stretched_like_the_dataset():
    # A mid-grey shirt on a light-grey background: the dataset's images all peak at ~255.
    p = preprocess.photo(encode(paint(shirt_mask(), 150, 200)))
    assert float(p.image.max()) > 0.95


def test_colour_garment_on_same_brightness_background_is_found():
    # Red and green of (nearly) equal luma: found by colour, not by brightness.
    p = preprocess.photo(encode(paint(shirt_mask(), (200, 60, 60), (90, 140, 90))))
    assert _box(p.image, 0.3)[2:] == (0, 28)


def test_dataset_like_28x28_passes_through_unchanged(test_split):
    img = test_split.images[0]
    p = preprocess.photo(encode(img))
    np.testing.assert_allclose(p.image, img.astype(np.float32) / 255.0, atol=1e-6)
    assert not p.inverted
    # The same image dark-on-light (a negated 28x28) is turned back.
    q = preprocess.photo(encode(255 - img))
    assert q.inverted
    np.testing.assert_allclose(q.image, img.astype(np.float32) / 255.0, atol=1e-6)


def test_dataset_image():
    img = np.arange(28 * 28, dtype=np.uint32).reshape(28, 28).astype(np.uint8)
    p = preprocess.dataset_image(img)
    np.testing.assert_allclose(p.image, img / 255.0, atol=1e-7)
    assert p.image.dtype == np.float32 and len(p.steps) == 1
    with pytest.raises(InputError):
        preprocess.dataset_image(np.zeros((28, 27), np.uint8))


# ------------------------------------------------------------------------ round trip


@pytest.mark.slow
def test_round_trip_of_official_test_images_keeps_the_prediction(test_split, classifier):
    # 600 random official test images -> PNG files -> photo() -> the same prediction as
    # the raw 28x28 for at least 99 % of them.
    rng = np.random.default_rng(3)
    idx = rng.choice(len(test_split), size=600, replace=False)
    raw = test_split.images[idx]
    through = np.stack([preprocess.photo(encode(img)).image for img in raw])
    before = classifier.predict_proba(raw.astype(np.float32) / 255.0).argmax(axis=1)
    after = classifier.predict_proba(through).argmax(axis=1)
    agreement = float((before == after).mean())
    assert agreement >= 0.99, f"only {agreement:.1%} of predictions survived the round trip"


# ---------------------------------------------------------------------------- sketch


def _canvas(strokes: np.ndarray, ink, background, alpha_bg: int = 255) -> np.ndarray:
    """(H, W, 4) uint8 canvas like streamlit-drawable-canvas returns."""
    out = np.zeros((*strokes.shape, 4), np.uint8)
    out[..., :3] = np.asarray(background, np.uint8)
    out[..., 3] = alpha_bg
    out[strokes] = (*ink, 255)
    return out


def _outline(mask: np.ndarray, width: int = 6) -> np.ndarray:
    """A drawn outline of a mask: the ring of pixels within `width` of its edge."""
    inner = mask.copy()
    for axis in (0, 1):
        for shift in range(1, width + 1):
            inner &= np.roll(mask, shift, axis=axis) & np.roll(mask, -shift, axis=axis)
    return mask & ~inner


@pytest.mark.parametrize(
    ("ink", "background", "alpha_bg"),
    [
        ((255, 255, 255), (0, 0, 0), 255),  # white strokes on black (the app's default)
        ((0, 0, 0), (255, 255, 255), 255),  # black strokes on white
        ((20, 20, 200), (250, 250, 240), 255),  # blue pen on paper
        ((0, 0, 0), (0, 0, 0), 0),  # black strokes on a transparent canvas
    ],
)
def test_sketch_on_dark_or_light_background(ink, background, alpha_bg):
    strokes = _outline(shirt_mask(280, 280)) | _outline(shirt_mask(280, 280), 2)
    p = preprocess.sketch(_canvas(strokes, ink, background, alpha_bg))
    _check_output(p)
    reference = preprocess.sketch(_canvas(strokes, (255, 255, 255), (0, 0, 0))).image
    assert np.abs(p.image - reference).mean() < 0.03
    assert float(p.image[0, 0]) == 0.0  # background black, strokes bright
    assert _box(p.image, 0.3)[2:] == (0, 28)


@pytest.mark.parametrize("background", [(0, 0, 0), (255, 255, 255)])
def test_empty_sketch_asks_to_draw_something(background):
    empty = _canvas(np.zeros((280, 280), bool), (255, 255, 255), background)
    with pytest.raises(InputError, match="[Dd]raw something"):
        preprocess.sketch(empty)
    transparent = np.zeros((280, 280, 4), np.uint8)
    with pytest.raises(InputError, match="[Dd]raw something"):
        preprocess.sketch(transparent)


def test_near_empty_sketch_asks_to_draw_something():
    dot = np.zeros((280, 280), bool)
    dot[140:143, 140:143] = True  # a stray click: 9 pixels of 78,400
    with pytest.raises(InputError, match="[Dd]raw something"):
        preprocess.sketch(_canvas(dot, (255, 255, 255), (0, 0, 0)))


@pytest.mark.parametrize(
    "bad", [np.zeros((280, 280)), np.zeros((280, 280, 2)), np.zeros((4, 4, 4))]
)
def test_sketch_refuses_what_is_not_a_canvas(bad):
    with pytest.raises(InputError):
        preprocess.sketch(bad)


@pytest.mark.parametrize(
    ("image", "said", "not_said"),
    [
        (np.full((200, 200), 128, np.uint8), "single flat colour", "noise"),
        # Faint noise everywhere: not a flat colour, and the message says what it is.
        (
            (128 + np.random.default_rng(0).integers(0, 4, (200, 200))).astype(np.uint8),
            "noise or an even texture",
            "flat colour",
        ),
    ],
)
def test_no_garment_says_what_was_found_instead(image, said, not_said):
    with pytest.raises(preprocess.InputError) as err:
        preprocess.photo(encode(image))
    assert said in str(err.value) and not_said not in str(err.value)

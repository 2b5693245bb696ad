"""The example inputs the app offers before anyone uploads anything.

A newcomer should see an answer before the first click and have something to click
next, as the best image-classifier demos do. Every example is made here, by the project
itself: product-style photos (a test image dressed as a shop photo by
`fashion.data.renders.shop_photo`, or a garment outline painted by `fashion.data.renders`), a
drawing as the sketch canvas would send it, and official test images. Each goes through
the same path as the user's own input of that kind (`preprocess.photo`, `.sketch`,
`.dataset_image`), so an example shows exactly what an upload or a drawing would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from fashion.data import preprocess, renders
from fashion.data.official import Split
from fashion.data.preprocess import Prepared
from fashion.data.uploads import decode

PHOTO, SKETCH, TEST = "photo", "sketch", "test"
# Test images behind the shop photos: the first test image of each class (by label
# order), chosen once so a link to an example always shows the same picture.
PHOTO_OF_TEST = {"sneaker": 9, "ankle-boot": 0, "bag": 18, "dress": 13}
# A photo taken at home: test image 2 (trousers) rendered on a wooden floor, turned 11
# degrees, lit from one side (`renders.home_photo`, this seed).
HOME_OF_TEST, HOME_SEED = 2, 3
# Two plain test images: a shirt (the class every model finds hardest) and a pullover.
TEST_INDICES = (4, 1)
SKETCH_SIZE = 280  # the app's canvas, in pixels
# A pair of trousers as five wide strokes (canvas fractions): a waistband and two
# strokes per leg, as a person draws them on the Sketch tab.
TROUSER_STROKES = (
    ((0.30, 0.10), (0.70, 0.10)),
    ((0.34, 0.12), (0.26, 0.90)),
    ((0.44, 0.16), (0.36, 0.90)),
    ((0.66, 0.12), (0.74, 0.90)),
    ((0.56, 0.16), (0.64, 0.90)),
)


@dataclass(frozen=True)
class Example:
    """One clickable example.

    key: stable id, used in links (`?example=sneaker-photo`).
    title: what it is, in words ("Sneaker photo").
    label: the few words its button has room for ("Sneaker").
    kind: PHOTO (file bytes in `data`), SKETCH (an RGBA canvas in `data`) or TEST
        (`test_index` into the official test split).
    """

    key: str
    title: str
    label: str
    kind: str
    data: bytes | np.ndarray | None = None
    test_index: int | None = None


def trouser_sketch(size: int = SKETCH_SIZE, width: int = 32) -> np.ndarray:
    """(size, size, 4) uint8: black strokes on white, opaque, as the canvas sends them."""
    im = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    d = ImageDraw.Draw(im)
    for (x0, y0), (x1, y1) in TROUSER_STROKES:
        d.line([(x0 * size, y0 * size), (x1 * size, y1 * size)], fill=(0, 0, 0, 255), width=width)
        for x, y in ((x0, y0), (x1, y1)):  # round caps, like a brush
            r = width / 2
            d.ellipse([x * size - r, y * size - r, x * size + r, y * size + r], fill=(0, 0, 0, 255))
    return np.asarray(im)


def examples(test: Split | None) -> list[Example]:
    """Every example, the one to show first at the front.

    Args:
        test: the official test split, or None when the dataset is not available (then
            only the examples the project draws from scratch are offered).
    """
    out: list[Example] = []
    if test is not None:
        for name, index in PHOTO_OF_TEST.items():
            label = name.replace("-", " ").capitalize()
            photo = renders.shop_photo(test.images[index])
            out.append(Example(f"{name}-photo", f"{label} photo", label, PHOTO, photo))
        floor, _ = renders.home_photo(test.images[HOME_OF_TEST], np.random.default_rng(HOME_SEED))
        out.append(
            Example("trousers-floor", "Trousers on a wooden floor", "On a floor", PHOTO, floor)
        )
    tshirt = renders.encode(
        renders.paint(renders.shirt_mask(), (40, 45, 70), (246, 244, 240)), "JPEG", quality=90
    )
    out.append(Example("tshirt-photo", "T-shirt photo", "T-shirt", PHOTO, tshirt))
    out.append(Example("trousers-sketch", "Trousers sketch", "Sketch", SKETCH, trouser_sketch()))
    if test is not None:
        out += [
            Example(f"test-{i}", f"Test image #{i}", f"Test #{i}", TEST, test_index=i)
            for i in TEST_INDICES
        ]
    return out


def prepare(example: Example, test: Split | None) -> Prepared:
    """The model's input for an example, through the path its kind of input takes."""
    if example.kind == PHOTO:
        return preprocess.photo(example.data)
    if example.kind == SKETCH:
        return preprocess.sketch(example.data)
    if test is None:
        raise preprocess.InputError("The test images are not available.")
    return preprocess.dataset_image(test.images[example.test_index])


def thumbnail(example: Example, test: Split | None, side: int = 96) -> np.ndarray:
    """(side, side) or (side, side, 3) uint8: what the example's button shows."""
    if example.kind == TEST:
        img = Image.fromarray(test.images[example.test_index]).resize((side, side), Image.NEAREST)
        return np.asarray(img)
    if example.kind == SKETCH:
        im = Image.fromarray(example.data).convert("RGB")
    else:
        im = decode(example.data).convert("RGB")
    # Centre-crop to a square, then shrink: a landscape photo fills the tile.
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
    return np.asarray(im.resize((side, side), Image.Resampling.LANCZOS))

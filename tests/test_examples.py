"""The app's example inputs: made by the project, each through its own kind of input path."""

from __future__ import annotations

import numpy as np

from fashion.classes import CLASS_NAMES
from fashion.data import examples, preprocess


def test_every_example_prepares_to_a_28x28_image(test_split):
    offered = examples.examples(test_split)
    assert len({ex.key for ex in offered}) == len(offered)  # keys are link-safe ids
    assert {ex.kind for ex in offered} == {examples.PHOTO, examples.SKETCH, examples.TEST}
    for ex in offered:
        prepared = examples.prepare(ex, test_split)
        assert prepared.image.shape == (28, 28) and prepared.image.dtype == np.float32
        thumb = examples.thumbnail(ex, test_split)
        assert thumb.shape[:2] == (96, 96) and thumb.dtype == np.uint8


def test_shop_photos_give_back_their_test_image(test_split):
    """The photo path undoes the shop-photo dressing: what the model sees is close to the
    official image the photo was made from."""
    for ex in examples.examples(test_split):
        if ex.kind != examples.PHOTO or ex.key not in {
            f"{k}-photo" for k in examples.PHOTO_OF_TEST
        }:
            continue
        index = examples.PHOTO_OF_TEST[ex.key.removesuffix("-photo")]
        seen = examples.prepare(ex, test_split).image
        original = test_split.images[index] / 255.0
        assert np.abs(seen - original).mean() < 0.08, ex.key
        assert (
            CLASS_NAMES[test_split.labels[index]]
            .lower()
            .startswith(ex.title.split()[0][:3].lower())
        )


def test_without_the_dataset_the_drawn_examples_remain():
    offered = examples.examples(None)
    assert offered and all(ex.kind != examples.TEST for ex in offered)
    for ex in offered:
        assert examples.prepare(ex, None).image.shape == (28, 28)


def test_the_sketch_example_is_what_the_canvas_would_send():
    rgba = examples.trouser_sketch()
    assert rgba.shape == (examples.SKETCH_SIZE, examples.SKETCH_SIZE, 4)
    assert rgba[..., 3].min() == 255  # opaque, like the canvas with a white background
    prepared = preprocess.sketch(rgba)
    assert prepared.image.max() == 1.0

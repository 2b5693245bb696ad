"""Occlusion saliency on the real test set with every shipped model: the map is informative
(hiding its hottest patch hurts the prediction more than hiding a random patch), one
batched call per image, and fast enough for the app."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fashion.card import shipped
from fashion.serving.classifier import Classifier
from fashion.trust import explain

MODELS = [c.name for c in shipped()]
N_IMAGES = 12
N_RANDOM = 8  # random patches per image


class _CountingClassifier:
    """Wraps a Classifier and counts predict_proba calls and images."""

    def __init__(self, clf: Classifier):
        self.clf, self.calls, self.images = clf, 0, 0

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.images += len(images)
        return self.clf.predict_proba(images)


def test_patches_cover_every_pixel():
    cover = np.zeros((28, 28), int)
    for r, c in explain.patch_origins():
        cover[r : r + explain.PATCH, c : c + explain.PATCH] += 1
    assert cover.min() >= 1


def most_salient_patch(saliency: np.ndarray, patch: int = explain.PATCH) -> tuple[int, int]:
    """Top-left corner (row, col) of the patch-sized window with the largest saliency sum."""
    s = np.asarray(saliency, dtype=np.float64)
    # Summed-area table: every window sum in O(1).
    sat = np.pad(s.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    n = s.shape[0] - patch + 1
    sums = sat[patch:, patch:] - sat[:n, patch:] - sat[patch:, :n] + sat[:n, :n]
    r, c = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(r), int(c)


def test_most_salient_patch_finds_a_planted_hot_spot():
    sal = np.zeros((28, 28))
    sal[10:16, 17:23] = 1.0
    sal[0, 0] = 0.9  # a single hot pixel loses to a whole hot patch
    assert most_salient_patch(sal) == (10, 17)


def test_overlay_is_an_rgb_picture():
    img = np.random.default_rng(0).uniform(size=(28, 28)).astype(np.float32)
    out = explain.overlay(img, np.zeros((28, 28)), scale=4)
    assert out.shape == (112, 112, 3) and out.dtype == np.uint8
    # Zero saliency leaves the grayscale image unchanged.
    np.testing.assert_array_equal(out[::4, ::4, 0], np.round(img * 255).astype(np.uint8))


@pytest.mark.parametrize("name", MODELS)
def test_hiding_the_salient_patch_hurts_more_than_a_random_patch(name, test_split):
    clf = Classifier.load(name)
    rng = np.random.default_rng(0)
    images = test_split.as_float()[rng.choice(len(test_split), N_IMAGES, replace=False)]
    salient_drops, random_drops = [], []
    for image in images:
        counting = _CountingClassifier(clf)
        sal = explain.occlusion_saliency(counting, image)
        assert counting.calls == 1  # one batch per image, never a loop of predictions
        assert sal.shape == (28, 28) and sal.max() == 1.0 and sal.min() >= 0
        assert np.std(sal) > 0.05  # not constant

        p = clf.predict_proba(image)[0]
        target = int(np.argmax(p))
        r, c = most_salient_patch(sal)
        origins = rng.integers(0, 28 - explain.PATCH + 1, (N_RANDOM, 2))
        batch = np.stack(
            [explain.occlude(image, r, c)] + [explain.occlude(image, *o) for o in origins]
        )
        q = clf.predict_proba(batch)[:, target]
        salient_drops.append(p[target] - q[0])
        random_drops.append(np.mean(p[target] - q[1:]))
    salient, random_ = np.mean(salient_drops), np.mean(random_drops)
    # Several times the harm, and by a visible amount: a model trained on photos and
    # outliers is sure enough that no one patch costs it much in absolute terms
    # (wrn-16-2: 0.025 against 0.001), so the margin is relative.
    assert salient > max(3 * random_, random_ + 0.01), (salient, random_)
    # It is not one lucky image: the salient patch wins on most of them.
    assert np.mean(np.array(salient_drops) > np.array(random_drops)) >= 0.75


def test_saliency_is_fast_enough_for_the_app(classifier, test_split):
    image = test_split.as_float()[0]
    explain.occlusion_saliency(classifier, image)  # warm up
    times = []
    for i in range(1, 6):
        start = time.perf_counter()
        explain.occlusion_saliency(classifier, test_split.as_float()[i])
        times.append(time.perf_counter() - start)
    # Median of 5; the budget is generous because the tests may share the CPU with training.
    assert np.median(times) < 0.6, times

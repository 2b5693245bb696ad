"""Augmentation keeps shapes, ranges and labels' meaning, and is reproducible by seed."""

from __future__ import annotations

import numpy as np

from fashion.training import augment
from fashion.training.pipeline import epoch_data


def _batch(n=64):
    rng = np.random.default_rng(1)
    return rng.random((n, 28, 28, 1)).astype(np.float32)


def test_flip_mirrors_about_half():
    x = _batch(400)
    out = augment.random_flip(x, np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert (flipped | kept).all()
    assert 150 < flipped.sum() < 250


def test_crop_is_a_small_shift():
    x = np.zeros((50, 28, 28, 1), np.float32)
    x[:, 10:18, 10:18] = 1.0
    out = augment.random_crop(x, np.random.default_rng(0), pad=2)
    assert out.shape == x.shape
    # The 8x8 square moved by at most 2 px and lost nothing (it is far from the edges).
    assert np.allclose(out.sum(axis=(1, 2, 3)), 64)
    ys, xs = np.nonzero(out[..., 0].max(axis=0))
    assert ys.min() >= 8 and ys.max() <= 19 and xs.min() >= 8 and xs.max() <= 19


def test_erasing_changes_a_rectangle_only():
    x = np.zeros((200, 28, 28, 1), np.float32)
    out = augment.random_erasing(x, np.random.default_rng(0), p=1.0)
    changed = (out != x).reshape(200, -1).mean(axis=1)
    assert (changed <= 0.3).all() and (changed > 0).mean() > 0.9


def test_augment_batch_range_and_reproducibility():
    x = _batch()
    a = augment.augment_batch(x, np.random.default_rng(5))
    b = augment.augment_batch(x, np.random.default_rng(5))
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, augment.augment_batch(x, np.random.default_rng(6)))


def test_epoch_data_depends_only_on_seed_and_epoch():
    x, y = _batch(32), np.arange(32)
    xa, ya = epoch_data(x, y, seed=1, epoch=2, augment=True)
    xb, yb = epoch_data(x, y, seed=1, epoch=2, augment=True)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    assert sorted(ya.tolist()) == list(range(32))  # a permutation: no sample lost
    xc, _ = epoch_data(x, y, seed=1, epoch=3, augment=True)
    assert not np.array_equal(xa, xc)


def test_erasing_probability_zero_only_flips_and_shifts():
    # Constant images: a flip or shift can only keep the value or bring in zero padding;
    # any other value would come from the noise random erasing writes.
    x = np.full((200, 28, 28, 1), 0.5, np.float32)
    kept = augment.augment_batch(x, np.random.default_rng(0), erasing=0.0)
    assert set(np.unique(kept)) <= {0.0, 0.5}
    erased = augment.augment_batch(x, np.random.default_rng(0), erasing=1.0)
    assert not set(np.unique(erased)) <= {0.0, 0.5}

"""The fused batch-norm layer used for training computes what Keras' own layer does, and a
model trained with it saves as plain Keras layers (what the app and the TFLite twin load)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashion.training import registry
from fashion.training.fused_bn import FusedBatchNorm


def _pair(seed: int = 0) -> tuple[keras.layers.Layer, keras.layers.Layer, np.ndarray]:
    x = np.random.default_rng(seed).normal(1.5, 2.0, (16, 7, 7, 32)).astype(np.float32)
    plain, fused = keras.layers.BatchNormalization(), FusedBatchNorm()
    plain.build(x.shape)
    fused.build(x.shape)
    rng = np.random.default_rng(seed + 1)
    weights = [rng.uniform(0.5, 1.5, 32), rng.normal(0, 0.3, 32), rng.normal(0, 1, 32)]
    weights.append(rng.uniform(0.5, 2.0, 32))
    for layer in (plain, fused):
        layer.set_weights([w.astype(np.float32) for w in weights])
    return plain, fused, x


def test_inference_matches_keras():
    plain, fused, x = _pair()
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), atol=1e-5)


def test_training_step_matches_keras_output_and_statistics():
    plain, fused, x = _pair(1)
    before = np.asarray(fused.moving_variance).copy()
    np.testing.assert_allclose(fused(x, training=True), plain(x, training=True), atol=1e-4)
    np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, atol=1e-5)
    # The fused op tracks the unbiased batch variance: n / (n - 1) = 784 / 783 apart.
    n = x.shape[0] * x.shape[1] * x.shape[2]
    batch_var = x.reshape(-1, 32).var(axis=0)
    expected = 0.99 * before + 0.01 * batch_var * n / (n - 1)
    assert not np.allclose(before, fused.moving_variance)
    np.testing.assert_allclose(fused.moving_variance, expected, rtol=1e-4)


def test_bfloat16_activations_keep_float32_statistics():
    layer = FusedBatchNorm(dtype="mixed_bfloat16")
    x = np.random.default_rng(2).normal(size=(8, 14, 14, 64)).astype(np.float32)
    y = layer(keras.ops.cast(x, "bfloat16"), training=True)
    assert y.dtype == "bfloat16"
    assert layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(layer.moving_mean, 0.01 * x.reshape(-1, 64).mean(0), atol=1e-3)


@pytest.mark.parametrize("name", ["wrn-16-2"])
def test_fused_and_plain_builds_share_weights(name):
    entry = registry.get(name)
    fused, plain = entry.build(fused=True), entry.build()
    assert any(isinstance(layer, FusedBatchNorm) for layer in fused.layers)
    assert not any(isinstance(layer, FusedBatchNorm) for layer in plain.layers)
    plain.set_weights(fused.get_weights())
    x = np.random.default_rng(3).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), atol=1e-4)

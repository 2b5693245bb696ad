"""A BatchNormalization that runs TensorFlow's fused kernel while training.

Keras 3's `BatchNormalization` never calls TF's fused batch-norm op: it runs a chain of
float32 element-wise ops and, under `mixed_bfloat16`, casts around them. The fused op
(NHWC, float32 gamma/beta/statistics, bf16 or fp32 activations) does the same maths in
one kernel; measured here it makes a bf16 training step ~1.5x faster (RESULTS.md,
training throughput).

Only training uses it: the same weights, in the same order (gamma, beta, moving mean,
moving variance), load into a plain `keras.layers.BatchNormalization`, which is what
every saved `.keras` and `.tflite` file contains.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class FusedBatchNorm(keras.layers.BatchNormalization):
    """`BatchNormalization(axis=-1)` on 4-D inputs through `tf.raw_ops.FusedBatchNormV3`."""

    def call(self, inputs, training=None, mask=None):
        if len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return super().call(inputs, training=training, mask=mask)
        # Statistics and affine parameters stay float32 even when activations are bf16.
        gamma = self.gamma if self.scale else tf.ones(inputs.shape[-1], tf.float32)
        beta = self.beta if self.center else tf.zeros(inputs.shape[-1], tf.float32)
        gamma = tf.cast(gamma, tf.float32)
        beta = tf.cast(beta, tf.float32)
        if training and self.trainable:
            y, mean, var, *_ = tf.raw_ops.FusedBatchNormV3(
                x=inputs,
                scale=gamma,
                offset=beta,
                mean=tf.constant([], tf.float32),
                variance=tf.constant([], tf.float32),
                epsilon=self.epsilon,
                data_format="NHWC",
                is_training=True,
            )
            # The fused op returns the Bessel-corrected variance, the estimate the
            # moving statistic should track; Keras tracks the biased one. With batches of
            # 128 x 14 x 14 values per channel the two differ by < 1e-4 relative.
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1 - m))
            self.moving_variance.assign(self.moving_variance * m + var * (1 - m))
            return y
        y, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=gamma,
            offset=beta,
            mean=tf.cast(self.moving_mean, tf.float32),
            variance=tf.cast(self.moving_variance, tf.float32),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=False,
        )
        return y

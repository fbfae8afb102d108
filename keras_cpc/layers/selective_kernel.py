"""Selective-kernel convolution of SimCLR v2 (``sk_conv2d`` of google-research/simclr)."""

import keras
from keras import ops

from keras_cpc.layers import native_layout
from keras_cpc.layers.arguments import as_int


@keras.saving.register_keras_serializable(package="keras_cpc")
class SelectiveKernelConv2D(keras.layers.Layer):
    """Selective-kernel 3x3 convolution (Li et al. 2019) as in the official SimCLR v2 ResNets.

    One 3x3 conv (no bias) with ``2 * filters`` outputs -> BN -> ReLU is split into two streams
    of ``filters`` channels. Their sum is averaged over space, reduced by a 1x1 conv to
    ``max(int(filters * sk_ratio), min_dim)`` channels -> BN -> ReLU, and a 1x1 mixing conv
    (no BN) gives two logits per channel; a softmax over the two streams weighs them and the
    output is the weighted sum, ``filters`` channels. A strided conv pads symmetrically (1, 1)
    and runs a VALID conv (the official "fixed padding"); stride 1 uses SAME.

    Sub-layers, in the order the official code creates them: ``conv``, ``batch_norm``,
    ``reduce_conv``, ``reduce_batch_norm``, ``mix_conv``.

    Args:
        filters: output channels (each stream's width).
        strides: stride of the 3x3 conv.
        sk_ratio: reduction ratio of the mixing branch (0.0625 in SimCLR v2).
        min_dim: smallest width of the mixing branch (32 in the official code).
        momentum: batch-norm momentum (SimCLR: 0.9).
        epsilon: batch-norm epsilon (SimCLR: 1e-5).
        **kwargs: passed to `keras.layers.Layer`.

    Example:
        >>> import numpy as np
        >>> layer = SelectiveKernelConv2D(16, strides=2)
        >>> layer(np.zeros((2, 8, 8, 4), "float32")).shape
        (2, 4, 4, 16)
    """

    def __init__(
        self, filters, strides=1, sk_ratio=0.0625, min_dim=32, momentum=0.9, epsilon=1e-5, **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = as_int(filters, "filters", 1)
        self.strides = as_int(strides, "strides", 1)
        if not sk_ratio > 0:
            raise ValueError(f"`sk_ratio` must be > 0; received sk_ratio={sk_ratio!r}.")
        self.sk_ratio = float(sk_ratio)
        self.min_dim = as_int(min_dim, "min_dim", 1)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.mid_dim = max(int(self.filters * self.sk_ratio), self.min_dim)

    def _conv(self, filters, kernel_size, strides, name):
        return native_layout.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="valid" if strides > 1 else "same",
            use_bias=False,
            kernel_initializer=keras.initializers.VarianceScaling(),
            dtype=self.dtype_policy,
            name=name,
        )

    def _norm(self, name):
        return native_layout.BatchNormalization(
            momentum=self.momentum, epsilon=self.epsilon, dtype=self.dtype_policy, name=name
        )

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                "SelectiveKernelConv2D needs a known channel count; received input shape "
                f"{input_shape}."
            )
        channels = int(input_shape[-1])
        self.conv = self._conv(2 * self.filters, 3, self.strides, "conv")
        self.conv.build((None, None, None, channels))
        self.batch_norm = self._norm("batch_norm")
        self.batch_norm.build((None, None, None, 2 * self.filters))
        self.reduce_conv = self._conv(self.mid_dim, 1, 1, "reduce_conv")
        self.reduce_conv.build((None, 1, 1, self.filters))
        self.reduce_batch_norm = self._norm("reduce_batch_norm")
        self.reduce_batch_norm.build((None, 1, 1, self.mid_dim))
        self.mix_conv = self._conv(2 * self.filters, 1, 1, "mix_conv")
        self.mix_conv.build((None, 1, 1, self.mid_dim))

    def call(self, inputs, training=None):
        x = inputs
        if self.strides > 1:
            x = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        x = ops.relu(self.batch_norm(self.conv(x), training=training))
        stream_a, stream_b = ops.split(x, 2, axis=-1)
        # Mixing weights from the spatial mean of the summed streams (official order).
        pooled = ops.mean(stream_a + stream_b, axis=(1, 2), keepdims=True)
        pooled = ops.relu(self.reduce_batch_norm(self.reduce_conv(pooled), training=training))
        logits_a, logits_b = ops.split(self.mix_conv(pooled), 2, axis=-1)
        weights = ops.softmax(ops.stack([logits_a, logits_b], axis=0), axis=0)
        return stream_a * weights[0] + stream_b * weights[1]

    def compute_output_shape(self, input_shape):
        def size(length):
            if length is None:
                return None
            return length if self.strides == 1 else (length - 1) // self.strides + 1

        return (input_shape[0], size(input_shape[1]), size(input_shape[2]), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "sk_ratio": self.sk_ratio,
                "min_dim": self.min_dim,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
            }
        )
        return config

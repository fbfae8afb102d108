"""CPC_audio's per-frame channel normalisation."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cpc")
class ChannelNorm(keras.layers.Layer):
    """Normalises each frame over its channels, as `ChannelNorm` in facebookresearch/CPC_audio.

    ``(x - mean_c(x)) / sqrt(var_c(x) + epsilon) * gamma + beta`` with the **unbiased**
    variance (divides by C - 1, PyTorch's default) and epsilon 1e-5, so converted CPC_audio
    weights reproduce its outputs. Keras' `LayerNormalization` uses the biased variance and
    differs by a factor sqrt((C - 1) / C). Statistics never mix time steps or batch items, so
    the layer is causal and independent of padding.

    Args:
        epsilon: added to the variance.
        affine: learn a per-channel scale ``gamma`` and offset ``beta``.

    Example:
        >>> y = ChannelNorm()(np.random.normal(size=(2, 50, 8)).astype("float32"))
    """

    def __init__(self, epsilon=1e-5, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.affine = bool(affine)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels < 2:
            raise ValueError(
                "ChannelNorm needs a known channel axis of size >= 2 (the unbiased variance "
                f"divides by C - 1); received input shape {input_shape}."
            )
        if self.affine:
            self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        channels = ops.shape(x)[-1]
        mean = ops.mean(x, axis=-1, keepdims=True)
        centered = x - mean
        var = ops.sum(ops.square(centered), axis=-1, keepdims=True) / (channels - 1)
        y = centered * ops.rsqrt(var + self.epsilon)
        if self.affine:
            y = y * self.gamma + self.beta
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "affine": self.affine})
        return config

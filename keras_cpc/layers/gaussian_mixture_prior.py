"""`GaussianMixturePrior`: a learned density P(z) whose cross-entropy bounds H(z) from above."""

import math

import keras
from keras import ops

from keras_cpc.layers.arguments import as_int


@keras.saving.register_keras_serializable(package="keras_cpc")
class GaussianMixturePrior(keras.layers.Layer):
    """A learned mixture of diagonal Gaussians over the last axis; ``call(z)`` gives ln P(z).

    For codes z drawn from any distribution q, the cross-entropy ``E_q[-ln P(z)]`` is at least
    the differential entropy H(z) (Gibbs' inequality), with equality when P = q; minimising it
    over P therefore gives an ever tighter upper bound ``H^(z)`` on H(z).

    Always computes in float32 (its own dtype policy), so densities of half-precision codes do
    not overflow.

    Args:
        num_components: number of mixture components K.
        initial_spread: standard deviation of the random initial component means.
        min_log_scale, max_log_scale: clamp of each component's log standard deviation, which
            keeps ln P finite.
        seed: seed of the initial means.
        **kwargs: Layer arguments (name, ...); the dtype is forced to float32.

    Example:
        >>> import numpy as np
        >>> prior = GaussianMixturePrior(num_components=4)
        >>> log_p = prior(np.zeros((8, 3), "float32"))  # shape (8,)
    """

    def __init__(
        self,
        num_components=16,
        initial_spread=1.0,
        min_log_scale=-7.0,
        max_log_scale=7.0,
        seed=None,
        **kwargs,
    ):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        num_components = as_int(num_components, "num_components")
        if num_components < 1:
            raise ValueError(
                f"Expected `num_components` >= 1. Received num_components={num_components}."
            )
        self.num_components = num_components
        self.initial_spread = float(initial_spread)
        self.min_log_scale = float(min_log_scale)
        self.max_log_scale = float(max_log_scale)
        self.seed = seed

    def build(self, input_shape):
        units = input_shape[-1]
        if units is None:
            raise ValueError(
                f"Expected a known last axis (code size). Received input shape {input_shape}."
            )
        k = self.num_components
        self.mixture_logits = self.add_weight(
            shape=(k,), initializer="zeros", name="mixture_logits"
        )
        self.means = self.add_weight(
            shape=(k, units),
            initializer=keras.initializers.RandomNormal(stddev=self.initial_spread, seed=self.seed),
            name="means",
        )
        self.log_scales = self.add_weight(shape=(k, units), initializer="zeros", name="log_scales")

    def call(self, z):
        z = ops.cast(z, "float32")
        log_scales = ops.clip(self.log_scales, self.min_log_scale, self.max_log_scale)
        # (..., 1, U) against (K, U): the per-component, per-dimension standardised distance.
        standardized = (ops.expand_dims(z, -2) - self.means) * ops.exp(-log_scales)
        log_normal = -0.5 * ops.square(standardized) - log_scales - 0.5 * math.log(2.0 * math.pi)
        log_weights = ops.log_softmax(self.mixture_logits)
        return ops.logsumexp(ops.sum(log_normal, axis=-1) + log_weights, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(
            {
                "num_components": self.num_components,
                "initial_spread": self.initial_spread,
                "min_log_scale": self.min_log_scale,
                "max_log_scale": self.max_log_scale,
                "seed": self.seed,
            }
        )
        return config

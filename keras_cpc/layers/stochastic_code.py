"""`StochasticCode`: a reparameterised Gaussian code with a learned prior (entropy term)."""

import math

import keras
from keras import ops

from keras_cpc.layers.arguments import as_int
from keras_cpc.layers.gaussian_mixture_prior import GaussianMixturePrior


@keras.saving.register_keras_serializable(package="keras_cpc")
class StochasticCode(keras.layers.Layer):
    """Stochastic code ``z = mu(x) + sigma(x) * eps`` and its entropy upper bound ``H^(z)``.

    The entropy-regularised objective ``I(z_x, z_y) - beta (H^(z_x) + H^(z_y))`` needs codes
    whose differential entropy is bounded below, or the penalty would shrink a deterministic
    code to a point (H -> -inf) without losing information; the floor ``sigma >= min_std``
    gives ``H(z) >= units * ln(min_std * sqrt(2 pi e))``. ``H^(z) = E[-ln P(z)]`` under a learned
    mixture-of-diagonal-Gaussians prior P (`GaussianMixturePrior`) is an upper bound on H(z);
    minimising it trains both the prior (tightening the bound) and the code (compressing it).

    Call: ``z, cross_entropy = layer(x, training=...)``.
    - training: z is the reparameterised sample (gradients flow to mu and sigma).
    - otherwise: z = mu(x), deterministic.
    - ``cross_entropy``: float32 scalar, the mean over all leading positions of -ln P(z), in
      nats (``H^`` for the codes of this batch).

    Args:
        units: code size.
        num_components: mixture components of the prior.
        min_std: floor on sigma (> 0).
        initial_std: sigma at initialisation (>= min_std; the scale layer starts constant).
        kernel_initializer: initializer of the mean layer's kernel.
        seed: seed of the noise (a `SeedGenerator` owned by the layer), of the prior's means
            and of the default kernel initializer.
        **kwargs: Layer arguments (name, dtype, ...).

    Example:
        >>> import numpy as np
        >>> code = StochasticCode(8, num_components=4)
        >>> z, h = code(np.ones((16, 32), "float32"), training=True)  # (16, 8), scalar
    """

    def __init__(
        self,
        units,
        num_components=16,
        min_std=0.1,
        initial_std=0.5,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        units, num_components = as_int(units, "units"), as_int(num_components, "num_components")
        if units < 1:
            raise ValueError(f"Expected `units` >= 1. Received units={units}.")
        if not min_std > 0:
            raise ValueError(f"Expected `min_std` > 0. Received min_std={min_std}.")
        if not initial_std > min_std:
            raise ValueError(
                f"Expected `initial_std` > `min_std` ({min_std}). Received initial_std="
                f"{initial_std}."
            )
        self.units = units
        self.num_components = num_components
        self.min_std = float(min_std)
        self.initial_std = float(initial_std)
        if kernel_initializer == "glorot_uniform" and seed is not None:
            kernel_initializer = keras.initializers.GlorotUniform(seed=seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # softplus(b) = initial_std - min_std  <=>  b = ln(exp(initial_std - min_std) - 1).
        scale_bias = math.log(math.expm1(self.initial_std - self.min_std))
        self.mean_dense = keras.layers.Dense(
            self.units,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="mean",
        )
        self.scale_dense = keras.layers.Dense(
            self.units,
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(scale_bias),
            dtype=self.dtype_policy,
            name="scale",
        )
        self.prior = GaussianMixturePrior(self.num_components, seed=seed, name="prior")

    def build(self, input_shape):
        self.mean_dense.build(input_shape)
        self.scale_dense.build(input_shape)
        self.prior.build(tuple(input_shape[:-1]) + (self.units,))

    def call(self, x, training=None):
        mean = self.mean_dense(x)
        if training:
            std = self.min_std + ops.softplus(self.scale_dense(x))
            noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
            z = mean + std * noise
        else:
            z = mean
        cross_entropy = -ops.mean(self.prior(z))
        return z, cross_entropy

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,), ()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_components": self.num_components,
                "min_std": self.min_std,
                "initial_std": self.initial_std,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "seed": self.seed,
            }
        )
        return config

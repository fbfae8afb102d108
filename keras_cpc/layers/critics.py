"""Critics s(x, y) that score every x against every y: separable and concatenation critics."""

import numbers

import keras
from keras import ops

from keras_cpc.layers.arguments import as_int


def _mlp(hidden_dim, num_layers, output_dim, activation, seed, offset, dtype, name):
    layers = []
    for i in range(num_layers):
        layers.append(
            keras.layers.Dense(
                hidden_dim,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(
                    seed=None if seed is None else seed + offset + i
                ),
                dtype=dtype,
                name=f"{name}_hidden_{i}",
            )
        )
    layers.append(
        keras.layers.Dense(
            output_dim,
            kernel_initializer=keras.initializers.GlorotUniform(
                seed=None if seed is None else seed + offset + num_layers
            ),
            dtype=dtype,
            name=f"{name}_output",
        )
    )
    return layers


def _apply(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def _check_pair(inputs):
    """Validate a pair (x, y), of tensors or of shapes; returns it as a 2-tuple."""

    def is_tensor_or_shape(a):
        if hasattr(a, "shape"):
            return True
        return isinstance(a, (list, tuple)) and all(
            d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool)) for d in a
        )

    is_pair = (
        isinstance(inputs, (list, tuple))
        and len(inputs) == 2
        and all(is_tensor_or_shape(a) for a in inputs)
    )
    if not is_pair:
        received = getattr(inputs, "shape", None)
        received = f"shape {tuple(received)}" if received is not None else type(inputs).__name__
        raise ValueError(
            "Expected the critic's input to be a pair (x, y) of (..., N, Dx) and (..., N, Dy) "
            f"tensors. Received {received}."
        )
    x_shape, y_shape = (tuple(getattr(a, "shape", a)) for a in inputs)
    if len(x_shape) < 2 or len(x_shape) != len(y_shape):
        raise ValueError(
            "Expected x and y of equal rank >= 2, (..., N, Dx) and (..., N, Dy). "
            f"Received shapes {x_shape} and {y_shape}."
        )
    return tuple(inputs)


@keras.saving.register_keras_serializable(package="keras_cpc")
class SeparableCritic(keras.layers.Layer):
    """Separable critic ``s(x, y) = g(x)^T h(y) / temperature`` scored on all pairs.

    g and h are MLPs (``num_layers`` hidden layers of ``hidden_dim``, then a linear map to
    ``embedding_dim``); with ``normalize=True`` the embeddings are L2-normalised (cosine
    similarity). Only 2N network evaluations for N^2 scores. Scores are float32.

    Call: ``scores = critic((x, y))`` with x (..., N, Dx), y (..., N, Dy); returns (..., N, N)
    with ``scores[i, j] = s(x_j, y_i)``: row i scores y_i against every x, the positive pair
    (x_i, y_i) on the diagonal, the layout `info_nce` expects.

    Args:
        embedding_dim: size of g(x) and h(y).
        hidden_dim: width of the hidden layers.
        num_layers: hidden layers per MLP (0: linear maps).
        activation: hidden activation.
        normalize: cosine similarity instead of a dot product.
        temperature: positive divisor of the scores.
        seed: seed of the initial weights (None: the global Keras seed).
        **kwargs: Layer arguments.

    Example:
        >>> import numpy as np
        >>> critic = SeparableCritic(embedding_dim=8, hidden_dim=16)
        >>> x = np.random.normal(size=(5, 3)).astype("float32")
        >>> scores = critic((x, x))  # (5, 5)
    """

    def __init__(
        self,
        embedding_dim=32,
        hidden_dim=256,
        num_layers=2,
        activation="relu",
        normalize=False,
        temperature=1.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"Expected `temperature` > 0. Received temperature={temperature}.")
        self.embedding_dim = as_int(embedding_dim, "embedding_dim", 1)
        self.hidden_dim = as_int(hidden_dim, "hidden_dim", 1)
        self.num_layers = as_int(num_layers, "num_layers", 0)
        self.activation = activation
        self.normalize = bool(normalize)
        self.temperature = float(temperature)
        self.seed = seed
        args = (self.hidden_dim, self.num_layers, self.embedding_dim, activation, seed)
        self.x_layers = _mlp(*args, 0, self.dtype_policy, "x")
        self.y_layers = _mlp(*args, 1000, self.dtype_policy, "y")

    def build(self, input_shape):
        input_shape = _check_pair(input_shape)
        for layers, shape in zip((self.x_layers, self.y_layers), input_shape):
            for layer in layers:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def embed(self, x, y):
        """The float32 embeddings ``(g(x), h(y))``, normalised if ``normalize``."""
        g = ops.cast(_apply(self.x_layers, x), "float32")
        h = ops.cast(_apply(self.y_layers, y), "float32")
        if self.normalize:
            g = g * ops.rsqrt(ops.maximum(ops.sum(ops.square(g), -1, keepdims=True), 1e-24))
            h = h * ops.rsqrt(ops.maximum(ops.sum(ops.square(h), -1, keepdims=True), 1e-24))
        return g, h

    def call(self, inputs):
        x, y = _check_pair(inputs)
        g, h = self.embed(x, y)
        return ops.matmul(h, ops.swapaxes(g, -1, -2)) / self.temperature

    def compute_output_shape(self, input_shape):
        x_shape, y_shape = input_shape
        return tuple(y_shape[:-1]) + (x_shape[-2],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "activation": self.activation,
                "normalize": self.normalize,
                "temperature": self.temperature,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_cpc")
class ConcatCritic(keras.layers.Layer):
    """Concatenation critic ``s(x, y) = f([x, y])``, an MLP evaluated on all N^2 pairs.

    More expressive than `SeparableCritic` (any function of the pair) at N^2 network
    evaluations. Scores are float32.

    Call: ``scores = critic((x, y))`` with x (..., N, Dx), y (..., N, Dy); returns (..., N, N)
    with ``scores[i, j] = f([x_j, y_i])``, the positives on the diagonal.

    Args:
        hidden_dim: width of the hidden layers.
        num_layers: hidden layers of f (0: linear).
        activation: hidden activation.
        seed: seed of the initial weights (None: the global Keras seed).
        **kwargs: Layer arguments.

    Example:
        >>> import numpy as np
        >>> critic = ConcatCritic(hidden_dim=16)
        >>> x = np.random.normal(size=(5, 3)).astype("float32")
        >>> scores = critic((x, x))  # (5, 5)
    """

    def __init__(self, hidden_dim=256, num_layers=2, activation="relu", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = as_int(hidden_dim, "hidden_dim", 1)
        self.num_layers = as_int(num_layers, "num_layers", 0)
        self.activation = activation
        self.seed = seed
        self.pair_layers = _mlp(
            self.hidden_dim, self.num_layers, 1, activation, seed, 0, self.dtype_policy, "pair"
        )

    def build(self, input_shape):
        x_shape, y_shape = _check_pair(input_shape)
        shape = tuple(y_shape[:-1]) + (x_shape[-2], x_shape[-1] + y_shape[-1])
        for layer in self.pair_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs):
        x, y = _check_pair(inputs)
        # Broadcast by addition (works with unknown batch sizes): [..., i, j] = x_j and y_i.
        x_pairs = ops.expand_dims(x, -3) + ops.zeros_like(ops.expand_dims(y[..., :1], -2))
        y_pairs = ops.expand_dims(y, -2) + ops.zeros_like(ops.expand_dims(x[..., :1], -3))
        pairs = ops.concatenate([x_pairs, ops.cast(y_pairs, x_pairs.dtype)], axis=-1)
        return ops.cast(ops.squeeze(_apply(self.pair_layers, pairs), -1), "float32")

    def compute_output_shape(self, input_shape):
        x_shape, y_shape = input_shape
        return tuple(y_shape[:-1]) + (x_shape[-2],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "activation": self.activation,
                "seed": self.seed,
            }
        )
        return config

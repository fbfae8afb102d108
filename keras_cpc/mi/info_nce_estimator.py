"""`InfoNCEEstimator`: a critic trained by `fit` to maximise the InfoNCE bound on I(x; y)."""

import keras
from keras import ops

from keras_cpc.layers.stochastic_code import StochasticCode
from keras_cpc.losses.contrastive import info_nce
from keras_cpc.metrics.mi_lower_bound_metric import MILowerBound


class _LatestValue(keras.metrics.Metric):
    """Reports the value of the latest batch (fit's logs are running means over the epoch)."""

    def __init__(self, name):
        super().__init__(name=name, dtype="float32")
        self.value = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="v")

    def update_state(self, value):
        self.value.assign(ops.cast(value, "float32"))

    def reset_state(self):
        self.value.assign(0.0)

    def result(self):
        # A tensor, not the variable itself (JAX cannot trace a variable as an output).
        return ops.convert_to_tensor(self.value)


@keras.saving.register_keras_serializable(package="keras_cpc")
class InfoNCEEstimator(keras.Model):
    """Trains a critic on paired samples (x_i, y_i) by minimising InfoNCE.

    Inputs are dicts ``{"x": (N, Dx), "y": (N, Dy)}``; each batch scores every y_i against
    every x_j and the loss is the mean `info_nce`, so ``ln N - loss`` lower-bounds I(x; y).
    The objective lives in `compute_loss`, so `fit` runs on every backend.

    With ``entropy_weight = beta > 0`` the critic sees stochastic codes
    ``z_x = StochasticCode(x)``, ``z_y = StochasticCode(y)`` instead, and the loss becomes
    ``InfoNCE + beta (H^(z_x) + H^(z_y))``: the entropy-regularised objective
    ``I(z_x, z_y) - beta (H(z_x) + H(z_y))``. With beta = 0 no code layer exists and the model
    is plain InfoNCE, exactly.

    Metrics (history keys): ``mi_lower_bound`` (running mean, nats), ``batch_mi_lower_bound``
    (latest batch), and with beta > 0 ``code_entropy`` (H^(z_x) + H^(z_y), nats) and
    ``batch_code_entropy``.

    Args:
        critic: a layer mapping ``(x, y)`` to (N, N) scores, e.g. `SeparableCritic`.
        entropy_weight: beta >= 0.
        code_units: size of each stochastic code (beta > 0 only); default: the input size, and
            then the code's mean starts as the identity map.
        code_kwargs: extra `StochasticCode` arguments (num_components, min_std, ...).
        seed: seed of the codes (beta > 0 only).
        **kwargs: Model arguments.

    Example:
        >>> import numpy as np
        >>> from keras_cpc.layers import SeparableCritic
        >>> model = InfoNCEEstimator(SeparableCritic(embedding_dim=8, hidden_dim=16))
        >>> model.compile(optimizer="adam")
        >>> x = np.random.normal(size=(64, 2)).astype("float32")
        >>> _ = model.fit({"x": x, "y": x}, batch_size=32, epochs=1, verbose=0)
    """

    def __init__(
        self, critic, entropy_weight=0.0, code_units=None, code_kwargs=None, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not entropy_weight >= 0:
            raise ValueError(
                f"Expected `entropy_weight` >= 0. Received entropy_weight={entropy_weight}."
            )
        self.critic = critic
        self.entropy_weight = float(entropy_weight)
        self.code_units = code_units
        self.code_kwargs = dict(code_kwargs or {})
        self.seed = seed
        self.x_code = self.y_code = None
        self.bound_tracker = MILowerBound()
        self.batch_bound_tracker = _LatestValue("batch_mi_lower_bound")
        if self.entropy_weight > 0:
            self.entropy_tracker = keras.metrics.Mean(name="code_entropy")
            self.batch_entropy_tracker = _LatestValue("batch_code_entropy")

    def build(self, input_shape):
        if self.entropy_weight > 0 and self.x_code is None:
            x_units = self.code_units or input_shape["x"][-1]
            y_units = self.code_units or input_shape["y"][-1]
            y_seed = None if self.seed is None else self.seed + 1
            self.x_code = StochasticCode(
                x_units, seed=self.seed, name="x_code", **self._code_args(x_units, input_shape["x"])
            )
            self.y_code = StochasticCode(
                y_units, seed=y_seed, name="y_code", **self._code_args(y_units, input_shape["y"])
            )
            self.x_code.build(input_shape["x"])
            self.y_code.build(input_shape["y"])
            code_shapes = (
                self.x_code.compute_output_shape(input_shape["x"])[0],
                self.y_code.compute_output_shape(input_shape["y"])[0],
            )
        else:
            code_shapes = (input_shape["x"], input_shape["y"])
        if not self.critic.built:
            self.critic.build(code_shapes)

    def _code_args(self, units, input_shape):
        args = dict(self.code_kwargs)
        if units == input_shape[-1]:
            # Start from z = x + small noise, i.e. from the plain InfoNCE problem: small betas
            # then cost little, and the penalty alone decides how much the code compresses.
            args.setdefault("kernel_initializer", "identity")
        return args

    def call(self, inputs, training=None):
        x, y = inputs["x"], inputs["y"]
        if self.entropy_weight > 0:
            x, x_entropy = self.x_code(x, training=training)
            y, y_entropy = self.y_code(y, training=training)
            return {"scores": self.critic((x, y)), "code_entropy": x_entropy + y_entropy}
        return {"scores": self.critic((x, y))}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        scores = y_pred["scores"]
        per_anchor = info_nce(scores)
        loss = ops.mean(per_anchor)
        num_candidates = ops.shape(scores)[-1]
        self.bound_tracker.update_state(per_anchor, num_candidates)
        self.batch_bound_tracker.update_state(ops.log(ops.cast(num_candidates, "float32")) - loss)
        if self.entropy_weight > 0:
            entropy = y_pred["code_entropy"]
            self.entropy_tracker.update_state(entropy)
            self.batch_entropy_tracker.update_state(entropy)
            loss = loss + self.entropy_weight * entropy
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "critic": keras.saving.serialize_keras_object(self.critic),
                "entropy_weight": self.entropy_weight,
                "code_units": self.code_units,
                "code_kwargs": self.code_kwargs,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["critic"] = keras.saving.deserialize_keras_object(config["critic"])
        return cls(**config)

"""LARS (You et al. 2017) as used by SimCLR (google-research/simclr `lars_optimizer.py`)."""

import re

import keras
from keras import ops

DEFAULT_EXCLUDE = ("batch_norm", "bias")


@keras.saving.register_keras_serializable(package="keras_cpc")
class LARS(keras.optimizers.Optimizer):
    """Layer-wise Adaptive Rate Scaling with SimCLR's semantics.

    For every variable w with gradient g::

        g = g + weight_decay * w                      (unless excluded from weight decay)
        trust = trust_coefficient * |w| / |g|          (1 if either norm is 0, or excluded)
        v = momentum * v + learning_rate * trust * g
        w = w - v                                      (Nesterov: w - (momentum * v + lr*trust*g))

    Weight decay is added to the gradient before the trust ratio, as in the official code
    (not decoupled). A variable is excluded from decay and adaptation when its ``path`` matches
    one of ``exclude_from_weight_decay`` / ``exclude_from_layer_adaptation`` (regular
    expressions), or, with ``exclude_vectors=True``, when it has rank <= 1: that covers biases
    and batch-norm gamma/beta whatever the layers are named.

    Args:
        learning_rate: float or a `keras.optimizers.schedules.LearningRateSchedule` (e.g.
            `WarmupCosineDecay`).
        momentum: momentum coefficient (0.9 in SimCLR).
        weight_decay: L2 coefficient added to the gradient (1e-6 in the paper, 1e-4 in v2).
        trust_coefficient: the "eeta" of the official code (0.001).
        nesterov: whether to use Nesterov momentum.
        exclude_from_weight_decay: regular expressions matched against variable paths.
        exclude_from_layer_adaptation: same for the trust ratio; None uses
            ``exclude_from_weight_decay``.
        exclude_vectors: also exclude every variable of rank <= 1.
        **kwargs: passed to `keras.optimizers.Optimizer` (``name``, ``clipnorm``, ...).

    Example:
        >>> schedule = WarmupCosineDecay(scale_learning_rate(1.0, 512), 500, 50_000)
        >>> optimizer = LARS(schedule, momentum=0.9, weight_decay=1e-6)
    """

    def __init__(
        self,
        learning_rate=0.1,
        momentum=0.9,
        weight_decay=0.0,
        trust_coefficient=0.001,
        nesterov=False,
        exclude_from_weight_decay=DEFAULT_EXCLUDE,
        exclude_from_layer_adaptation=None,
        exclude_vectors=True,
        name="lars",
        **kwargs,
    ):
        # Weight decay is ours (added to the gradient), never the base class's decoupled one.
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1); received momentum={momentum!r}.")
        if weight_decay < 0:
            raise ValueError(f"`weight_decay` must be >= 0; received {weight_decay!r}.")
        if trust_coefficient <= 0:
            raise ValueError(f"`trust_coefficient` must be > 0; received {trust_coefficient!r}.")
        self.momentum = float(momentum)
        self.lars_weight_decay = float(weight_decay)
        self.trust_coefficient = float(trust_coefficient)
        self.nesterov = nesterov
        self.exclude_from_weight_decay_patterns = tuple(exclude_from_weight_decay or ())
        self.exclude_from_layer_adaptation_patterns = (
            None if exclude_from_layer_adaptation is None else tuple(exclude_from_layer_adaptation)
        )
        self.exclude_vectors = exclude_vectors

    def _matches(self, variable, patterns):
        if self.exclude_vectors and len(variable.shape) <= 1:
            return True
        return any(re.search(pattern, variable.path) for pattern in patterns)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")
        adaptation_patterns = self.exclude_from_layer_adaptation_patterns
        if adaptation_patterns is None:
            adaptation_patterns = self.exclude_from_weight_decay_patterns
        # Python-level flags per variable index, fixed at build time (no graph branching).
        self._decay_flags = [
            not self._matches(v, self.exclude_from_weight_decay_patterns) for v in variables
        ]
        self._adapt_flags = [not self._matches(v, adaptation_patterns) for v in variables]

    def uses_weight_decay(self, variable):
        """Whether ``variable`` gets weight decay (after `build`)."""
        return self._decay_flags[self._get_variable_index(variable)]

    def uses_layer_adaptation(self, variable):
        """Whether ``variable`` gets the trust-ratio scaling (after `build`)."""
        return self._adapt_flags[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self._decay_flags[index] and self.lars_weight_decay > 0:
            gradient = gradient + self.lars_weight_decay * variable
        if self._adapt_flags[index]:
            weight_norm = ops.sqrt(ops.sum(ops.square(variable)))
            grad_norm = ops.sqrt(ops.sum(ops.square(gradient)))
            trust = ops.where(
                (weight_norm > 0) & (grad_norm > 0),
                self.trust_coefficient * weight_norm / ops.maximum(grad_norm, 1e-30),
                1.0,
            )
            scaled_lr = learning_rate * ops.cast(trust, variable.dtype)
        else:
            scaled_lr = learning_rate
        velocity = self.velocities[index]
        next_velocity = self.momentum * velocity + scaled_lr * gradient
        self.assign(velocity, next_velocity)
        if self.nesterov:
            self.assign_sub(variable, self.momentum * next_velocity + scaled_lr * gradient)
        else:
            self.assign_sub(variable, next_velocity)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.lars_weight_decay,
                "trust_coefficient": self.trust_coefficient,
                "nesterov": self.nesterov,
                "exclude_from_weight_decay": list(self.exclude_from_weight_decay_patterns),
                "exclude_from_layer_adaptation": (
                    None
                    if self.exclude_from_layer_adaptation_patterns is None
                    else list(self.exclude_from_layer_adaptation_patterns)
                ),
                "exclude_vectors": self.exclude_vectors,
            }
        )
        return config

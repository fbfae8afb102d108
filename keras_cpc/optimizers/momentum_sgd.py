"""`MomentumSGD`: SGD with momentum and L2 weight decay in the gradient, as ``torch.optim.SGD``."""

import re

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cpc")
class MomentumSGD(keras.optimizers.Optimizer):
    """Momentum SGD with the update of ``torch.optim.SGD``, the optimizer of the SGD recipes.

    For every variable w with gradient g::

        g = g + weight_decay * w          (L2 in the gradient, unless excluded)
        v = momentum * v + g
        w = w - learning_rate * v         (Nesterov: w - learning_rate * (g + momentum * v))

    This is what published SimCLR-on-CIFAR recipes with "SGD, momentum 0.9, weight decay
    5e-4" mean (e.g. dkobak/simclr-cifar10, PyTorch). It differs from
    ``keras.optimizers.SGD(weight_decay=...)`` in two ways that matter for those numbers: the
    decay goes through the momentum (in steady state it acts about ``1 / (1 - momentum)`` =
    10x as strongly as Keras' decoupled ``w -= lr * decay * w``), and the learning rate
    multiplies the velocity (torch's form), not the gradient inside it. Every variable is
    decayed, batch-norm scales and biases included, as ``torch.optim.SGD`` on
    ``model.parameters()`` does, unless ``exclude_from_weight_decay`` names it.

    Args:
        learning_rate: float or a `keras.optimizers.schedules.LearningRateSchedule` (e.g.
            `WarmupCosineDecay`).
        momentum: momentum coefficient in [0, 1) (0.9).
        weight_decay: L2 coefficient added to the gradient (5e-4 in the SGD recipe).
        nesterov: whether to use Nesterov momentum.
        exclude_from_weight_decay: regular expressions matched against variable paths;
            matching variables get no decay (e.g. ``("batch_norm", "bias")``).
        **kwargs: passed to `keras.optimizers.Optimizer` (``name``, ``clipnorm``, ...).

    Example:
        >>> schedule = WarmupCosineDecay(0.06 * 512 / 256, 880, 8800)
        >>> optimizer = MomentumSGD(schedule, momentum=0.9, weight_decay=5e-4)
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        weight_decay=0.0,
        nesterov=False,
        exclude_from_weight_decay=(),
        name="momentum_sgd",
        **kwargs,
    ):
        # The decay is ours (in the gradient), never the base class's decoupled one.
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1); received momentum={momentum!r}.")
        if weight_decay < 0:
            raise ValueError(f"`weight_decay` must be >= 0; received {weight_decay!r}.")
        self.momentum = float(momentum)
        self.l2_weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)
        self.exclude_from_weight_decay_patterns = tuple(exclude_from_weight_decay or ())

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")
        # Python-level flags per variable index, fixed at build time (no graph branching).
        self._decay_flags = [
            not any(re.search(p, v.path) for p in self.exclude_from_weight_decay_patterns)
            for v in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self._decay_flags[index] and self.l2_weight_decay > 0:
            gradient = gradient + self.l2_weight_decay * variable
        velocity = self.velocities[index]
        next_velocity = self.momentum * velocity + gradient
        self.assign(velocity, next_velocity)
        step = gradient + self.momentum * next_velocity if self.nesterov else next_velocity
        self.assign_sub(variable, learning_rate * step)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.l2_weight_decay,
                "nesterov": self.nesterov,
                "exclude_from_weight_decay": list(self.exclude_from_weight_decay_patterns),
            }
        )
        return config

"""Optimizers by name, as the example scripts' ``--optimizer`` flag names them.

Each name builds what it says: ``"adamw"`` is AdamW (decoupled weight decay), ``"adam"`` plain
Adam (no weight decay), ``"lars"`` SimCLR's LARS, ``"sgd"`` SGD with momentum 0.9 and L2 decay in
the gradient (`MomentumSGD`, ``torch.optim.SGD``'s update: the SGD recipes' optimizer).
"""

import keras

from keras_cpc.optimizers.lars import LARS
from keras_cpc.optimizers.momentum_sgd import MomentumSGD
from keras_cpc.optimizers.warmup_cosine import scale_learning_rate

OPTIMIZERS = ("adamw", "adam", "lars", "sgd")

# Weight decay when none is given: the shipped recipes' 1e-6 (AdamW on the CPU preset, LARS in
# the SimCLR paper), the SGD recipe's 5e-4 (dkobak/simclr-cifar10); plain Adam has none.
_DEFAULT_WEIGHT_DECAY = {"adamw": 1e-6, "adam": 0.0, "lars": 1e-6, "sgd": 5e-4}
# Peak rate for a batch size when none is given: (base rate, scaling rule of
# `scale_learning_rate`). Adam(W) 1e-3 per 256 images, LARS SimCLR's 0.075 * sqrt(batch)
# (paper appendix B.1), SGD the SGD recipe's 0.06 per 256 images (dkobak/simclr-cifar10: 0.03,
# and 0.06 better at 100 epochs).
_DEFAULT_LEARNING_RATE = {
    "adamw": (1e-3, "linear"),
    "adam": (1e-3, "linear"),
    "lars": (0.075, "sqrt"),
    "sgd": (0.06, "linear"),
}


def _check_name(name):
    if name not in OPTIMIZERS:
        raise ValueError(f"Expected an optimizer name in {OPTIMIZERS}; received {name!r}.")
    return name


def default_weight_decay(name):
    """The weight decay `make_optimizer` uses for ``name`` when given None.

    Example:
        >>> default_weight_decay("adam")
        0.0
    """
    return _DEFAULT_WEIGHT_DECAY[_check_name(name)]


def default_learning_rate(name, batch_size):
    """The usual peak learning rate of optimizer ``name`` at ``batch_size`` images per step.

    Args:
        name: one of `OPTIMIZERS`.
        batch_size: images per step (not views).

    Returns:
        float: ``1e-3 * batch / 256`` for Adam(W), ``0.075 * sqrt(batch)`` for LARS,
        ``0.06 * batch / 256`` for SGD.

    Example:
        >>> default_learning_rate("adamw", 128)
        0.0005
    """
    base, scaling = _DEFAULT_LEARNING_RATE[_check_name(name)]
    return scale_learning_rate(base, batch_size, scaling)


def make_optimizer(name, learning_rate, weight_decay=None):
    """Build the optimizer ``name`` with a learning rate (or schedule) and weight decay.

    Args:
        name: ``"adamw"`` (AdamW, decoupled decay), ``"adam"`` (plain Adam), ``"lars"``
            (`keras_cpc.optimizers.LARS`, decay added to the gradient, momentum 0.9) or
            ``"sgd"`` (`keras_cpc.optimizers.MomentumSGD`, momentum 0.9, L2 decay added to the
            gradient of every variable, as ``torch.optim.SGD``).
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule` such as
            `WarmupCosineDecay`.
        weight_decay: decay coefficient >= 0; None takes `default_weight_decay` (1e-6; 5e-4
            for SGD; 0 for plain Adam). Plain Adam refuses a non-zero decay: that would be
            AdamW.

    Returns:
        A `keras.optimizers.Optimizer`.

    Example:
        >>> schedule = WarmupCosineDecay(2e-3, warmup_steps=390, total_steps=8580)
        >>> optimizer = make_optimizer("adamw", schedule, weight_decay=1e-6)
    """
    _check_name(name)
    decay = default_weight_decay(name) if weight_decay is None else float(weight_decay)
    if decay < 0:
        raise ValueError(f"Expected a weight decay >= 0; received {weight_decay!r}.")
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=decay)
    if name == "adam":
        if decay:
            raise ValueError(
                f"Expected no weight decay for plain Adam; received weight_decay={decay!r}. "
                "Use 'adamw' for Adam with decoupled weight decay."
            )
        return keras.optimizers.Adam(learning_rate)
    if name == "lars":
        return LARS(learning_rate, momentum=0.9, weight_decay=decay)
    return MomentumSGD(learning_rate, momentum=0.9, weight_decay=decay)

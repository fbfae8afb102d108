"""Optimizers for contrastive pretraining: LARS, warmup-cosine schedule, factory by name."""

from keras_cpc.optimizers.factory import (
    OPTIMIZERS,
    default_learning_rate,
    default_weight_decay,
    make_optimizer,
)
from keras_cpc.optimizers.lars import LARS
from keras_cpc.optimizers.momentum_sgd import MomentumSGD
from keras_cpc.optimizers.warmup_cosine import WarmupCosineDecay, scale_learning_rate

__all__ = [
    "LARS",
    "MomentumSGD",
    "OPTIMIZERS",
    "WarmupCosineDecay",
    "default_learning_rate",
    "default_weight_decay",
    "make_optimizer",
    "scale_learning_rate",
]

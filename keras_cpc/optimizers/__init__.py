"""Optimizers for contrastive pretraining: LARS and the warmup-cosine schedule."""

from keras_cpc.optimizers.lars import LARS
from keras_cpc.optimizers.warmup_cosine import WarmupCosineDecay, scale_learning_rate

__all__ = ["LARS", "WarmupCosineDecay", "scale_learning_rate"]

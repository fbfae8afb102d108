"""Contrastive metrics fed from the logits / per-anchor losses a model already computed."""

from keras_cpc.metrics.contrastive_accuracy import ContrastiveAccuracy
from keras_cpc.metrics.mi_lower_bound_metric import MILowerBound

__all__ = ["ContrastiveAccuracy", "MILowerBound"]

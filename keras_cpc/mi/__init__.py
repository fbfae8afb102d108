"""Mutual-information estimation with contrastive critics."""

from keras_cpc.mi.estimate_mutual_information import estimate_mutual_information
from keras_cpc.mi.info_nce_estimator import InfoNCEEstimator

__all__ = ["InfoNCEEstimator", "estimate_mutual_information"]

"""Contrastive losses (keras.ops only): the objectives both pretrainers compute with."""

from keras_cpc.losses.contrastive import (
    info_nce,
    mi_lower_bound,
    nt_xent,
    nt_xent_logits,
    nt_xent_per_anchor,
)
from keras_cpc.losses.cpc import (
    LinearPredictions,
    cpc_info_nce,
    cpc_scores,
    sample_negative_bank,
    sample_negatives,
)
from keras_cpc.losses.info_nce_loss import InfoNCE
from keras_cpc.losses.nt_xent_loss import NTXent

__all__ = [
    "InfoNCE",
    "NTXent",
    "cpc_info_nce",
    "cpc_scores",
    "info_nce",
    "mi_lower_bound",
    "nt_xent",
    "nt_xent_logits",
    "nt_xent_per_anchor",
    "LinearPredictions",
    "sample_negative_bank",
    "sample_negatives",
]

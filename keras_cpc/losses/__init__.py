"""Contrastive losses (keras.ops only)."""

from keras_cpc.losses.contrastive import (
    info_nce,
    mi_lower_bound,
    nt_xent,
    nt_xent_logits,
    nt_xent_per_anchor,
)
from keras_cpc.losses.info_nce_loss import InfoNCE
from keras_cpc.losses.nt_xent_loss import NTXent

__all__ = [
    "InfoNCE",
    "NTXent",
    "info_nce",
    "mi_lower_bound",
    "nt_xent",
    "nt_xent_logits",
    "nt_xent_per_anchor",
]

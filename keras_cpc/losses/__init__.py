"""Contrastive losses (keras.ops only)."""

from keras_cpc.losses.contrastive import info_nce, mi_lower_bound, nt_xent, nt_xent_logits

__all__ = ["info_nce", "mi_lower_bound", "nt_xent", "nt_xent_logits"]

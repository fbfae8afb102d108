"""CPC for raw audio: backbone and pretrainer."""

from keras_cpc.models.cpc.cpc_backbone import CPCBackbone
from keras_cpc.models.cpc.cpc_pretrainer import CPCPretrainer

__all__ = ["CPCBackbone", "CPCPretrainer"]

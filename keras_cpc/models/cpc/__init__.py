"""CPC for raw audio: backbone and pretrainer."""

from keras_cpc.models.cpc.cpc_backbone import CPCBackbone

__all__ = ["CPCBackbone"]

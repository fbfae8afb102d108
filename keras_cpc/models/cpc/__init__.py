"""CPC for raw audio: backbone and pretrainer; importing the family registers its presets."""

from keras_cpc.models.cpc import cpc_presets  # noqa: F401  (registers the presets)
from keras_cpc.models.cpc.cpc_backbone import CPCBackbone
from keras_cpc.models.cpc.cpc_pretrainer import CPCPretrainer

__all__ = ["CPCBackbone", "CPCPretrainer"]

"""ResNet backbones; importing the family registers its shipped presets."""

from keras_cpc.models.resnet import resnet_presets  # noqa: F401  (registers the presets)
from keras_cpc.models.resnet.resnet_backbone import ResNetBackbone

__all__ = ["ResNetBackbone"]

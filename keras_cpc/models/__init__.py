"""Backbones, pretrainers and task models."""

from keras_cpc.models.backbone import Backbone
from keras_cpc.models.cpc.cpc_backbone import CPCBackbone
from keras_cpc.models.cpc.cpc_pretrainer import CPCPretrainer
from keras_cpc.models.resnet.resnet_backbone import ResNetBackbone
from keras_cpc.models.simclr.simclr_pretrainer import SimCLRPretrainer

__all__ = ["Backbone", "CPCBackbone", "CPCPretrainer", "ResNetBackbone", "SimCLRPretrainer"]
